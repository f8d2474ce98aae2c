/**
 * src/spec.ts is the one place that names each input: action.yml (read by GitHub's own parser)
 * and the README's inputs table must say what it says, and the CLI's flags, scopes and the
 * parser's key guard are derived from it.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { NoOperationTraceWriter } from '@actions/workflow-parser'
import { convertActionTemplate, parseAction } from '@actions/workflow-parser/actions/index'
import { describe, expect, it } from 'vitest'
import { inputsTable, withInputsTable } from '../../scripts/readme-inputs.js'
import { BOOLEAN_INPUTS, OPTIONS } from '../../src/cli/parse.js'
import { SECRET_SOURCES } from '../../src/cli/settings.js'
import { parseSettings } from '../../src/inputs.js'
import { COMMANDS } from '../../src/settings.js'
import { COMMAND_SPECS, commandSpec, INPUTS, inScope, type Scope } from '../../src/spec.js'
import { generateKey, inputError, tempDir } from './helpers.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8')

interface Declared {
  name: string
  default: string
  required: boolean
  description: string
}

/** The inputs of an action.yml text, as the runner reads them. */
function declared(content: string): Declared[] {
  const parsed = parseAction({ name: 'action.yml', content }, new NoOperationTraceWriter())
  expect(parsed.context.errors.getErrors()).toEqual([])
  const action = convertActionTemplate(parsed.context, parsed.value as NonNullable<typeof parsed.value>)
  return (action.inputs ?? []).map((i) => ({
    name: i.id,
    default: i.default?.toString() ?? '',
    required: i.required === true,
    description: i.description ?? '',
  }))
}

const fromSpec = (): Declared[] =>
  INPUTS.map((i) => ({
    name: i.name,
    default: i.default ?? '',
    required: i.required === true,
    description: i.description,
  }))

describe('src/spec.ts and action.yml', () => {
  it('declare the same inputs, in the same order, with the same defaults, required and descriptions', () => {
    expect(declared(read('action.yml'))).toEqual(fromSpec())
  })

  it.each<[string, (yml: string) => string]>([
    ['a default', (y) => y.replace('default: "22"', 'default: "2222"')],
    ['required', (y) => y.replace(/(target:\n {4}description: [^\n]*\n {4}required: )true/, '$1false')],
    ['a description', (y) => y.replace('Hosts worked on at once.', 'Hosts at once.')],
    ['an input more', (y) => y.replace('\n  timeout:', '\n  retries:\n    description: x\n  timeout:')],
  ])('a disagreement on %s fails the check', (_what, edit) => {
    const yml = edit(read('action.yml'))
    expect(yml).not.toBe(read('action.yml'))
    expect(declared(yml)).not.toEqual(fromSpec())
  })
})

describe('the README inputs table', () => {
  it('is the one the spec gives (run `npm run docs` after editing src/spec.ts)', () => {
    const readme = read('README.md')
    expect(withInputsTable(readme)).toBe(readme)
    expect(inputsTable().split('\n')).toHaveLength(INPUTS.length + 2)
  })

  it('a changed meaning in the spec would rewrite it', () => {
    const readme = read('README.md')
    const stale = readme.replace('| hosts worked on at once |', '| hosts at once |')
    expect(stale).not.toBe(readme)
    expect(withInputsTable(stale)).toBe(readme)
  })
})

describe('what is derived from the spec', () => {
  it('each command’s traits: the commands each input applies to', () => {
    const commandsOf = (scope: Scope) => COMMANDS.filter((c) => inScope(scope, c))
    expect(COMMANDS).toEqual(Object.keys(COMMAND_SPECS))
    expect(commandsOf('all')).toEqual(COMMANDS)
    expect(COMMANDS).toEqual([
      'deploy',
      'rollback',
      'list',
      'prune',
      'unlock',
      'upload',
      'activate',
      'doctor',
      'verify',
    ])
    expect(commandsOf('uploads')).toEqual(['deploy', 'upload'])
    expect(commandsOf('switches')).toEqual(['deploy', 'activate'])
    expect(commandsOf('releaseId')).toEqual(['deploy', 'upload', 'activate'])
    expect(commandsOf('prunes')).toEqual(['deploy', 'prune', 'activate'])
    expect(commandsOf('picksRelease')).toEqual(['rollback'])
    expect(commandsOf('verifies')).toEqual(['verify'])
    // release-id names the new release, and for verify the one to check
    expect(COMMANDS.filter((c) => inScope(['releaseId', 'verifies'], c))).toEqual([
      'deploy',
      'upload',
      'activate',
      'verify',
    ])
    expect(COMMANDS.filter((c) => commandSpec(c).releaseId === 'required')).toEqual(['upload', 'activate'])
    expect(COMMANDS.filter((c) => 'locks' in COMMAND_SPECS[c])).toEqual([
      'deploy',
      'rollback',
      'prune',
      'upload',
      'activate',
    ])
  })

  it('every flag of the spec is a CLI option of its input, scope and kind', () => {
    for (const i of INPUTS) {
      for (const f of i.flags ?? []) {
        const o = OPTIONS.find((x) => x.flag === f.flag)
        expect(o?.input?.name, f.flag).toBe(i.name)
        expect(o?.scope, f.flag).toBe(i.scope)
        expect(o?.type, f.flag).toBe(i.kind === 'boolean' ? 'boolean' : 'string')
        expect(o?.multiple === true, f.flag).toBe(i.kind === 'list' || i.kind === 'lines')
      }
    }
    // The command is the first word; everything else has a flag.
    expect(INPUTS.filter((i) => !i.flags).map((i) => i.name)).toEqual(['command'])
  })

  it('booleans are the inputs whose action.yml default is true or false', () => {
    const bools = declared(read('action.yml')).filter((d) => ['true', 'false'].includes(d.default))
    expect([...BOOLEAN_INPUTS]).toEqual(bools.map((d) => d.name))
  })

  it('secrets are read by the CLI’s secret sources, from exactly their spec flags', () => {
    const secrets = INPUTS.filter((i) => i.kind === 'secret')
    expect(SECRET_SOURCES.map((s) => s.input)).toEqual(secrets.map((i) => i.name))
    for (const s of SECRET_SOURCES) {
      const flags = [s.fileFlag, s.envFlag].filter(Boolean)
      expect(flags, s.input).toEqual(INPUTS.find((i) => i.name === s.input)?.flags?.map((f) => f.flag))
    }
  })

  it('only key and the hooks may hold a private key: every other input refuses one', () => {
    const dir = tempDir('radunit-spec-')
    const key = generateKey(dir, 'id_spec')
    expect(INPUTS.filter((i) => i.mayHoldKey).map((i) => i.name)).toEqual([
      'key',
      'before-switch',
      'after-switch',
    ])
    for (const i of INPUTS.filter((x) => !x.mayHoldKey)) {
      const values: Record<string, string> = { [i.name]: key.privateText }
      const e = inputError(() => parseSettings((n) => values[n] ?? ''))
      expect(e.message, i.name).toBe(`Input '${i.name}': holds a private key`)
    }
  })
})
