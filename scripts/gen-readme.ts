// `npm run docs`: writes the README's inputs table from src/spec.ts (scripts/readme-inputs.ts).
import { readFileSync, writeFileSync } from 'node:fs'
import { withInputsTable } from './readme-inputs.js'

const file = 'README.md'
const before = readFileSync(file, 'utf8')
const after = withInputsTable(before)
if (after !== before) writeFileSync(file, after)
console.log(after === before ? `${file}: the inputs table is up to date` : `${file}: inputs table written`)
