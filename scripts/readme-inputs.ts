/**
 * The README's inputs table, written from src/spec.ts: `npm run docs` puts it between the markers
 * (scripts/gen-readme.ts), and a unit test fails when the README holds another one.
 */
import { markdownTable } from '../src/format.js'
import { INPUTS } from '../src/spec.js'

export const START = '<!-- inputs: written by `npm run docs` from src/spec.ts -->'
export const END = '<!-- end of inputs -->'

export function inputsTable(): string {
  return markdownTable(
    ['input', 'default', 'meaning'],
    INPUTS.map((i) => [`\`${i.name}\``, i.docDefault, i.meaning]),
  )
}

/** The README with the table between the markers replaced by the spec's. */
export function withInputsTable(readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`README.md: the markers ${START} … ${END} are missing`)
  return `${readme.slice(0, start + START.length)}\n${inputsTable()}\n${readme.slice(end)}`
}
