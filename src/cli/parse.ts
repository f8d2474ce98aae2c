/**
 * The command line, step 1: argv → a command and flag values (node:util parseArgs). The flags
 * that feed inputs come from src/spec.ts; the CLI's own (--json, --verbose…) are listed here.
 */
import { parseArgs } from 'node:util'
import { INPUTS, type InputSpec, type Scopes } from '../spec.js'

export const BIN = 'rsync-atomic-deploy'
/** Kept equal to package.json's version (a test checks). */
export const VERSION = '0.1.0'

/** A mistake on the command line itself (unknown flag, missing value): exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** What to do, printed under the error (e.g. `See: rsync-atomic-deploy --help`). */
    readonly hint = '',
  ) {
    super(message)
  }
}

export interface OptSpec {
  flag: string
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  /** Placeholder in the help ('' for a boolean). */
  value: string
  /** The input it feeds (absent: the CLI's own flags). */
  input?: InputSpec
  /** A boolean flag that sets its input to this value (`--no-rollback-on-failure`). */
  sets?: string
  help: string
  scope: Scopes
  section: 'connection' | 'command' | 'output'
  /** Accepted, not listed in the help (aliases). */
  hidden?: boolean
}

/** The CLI's own flags: how it prints, not what it does. */
const OUTPUT_FLAGS: readonly OptSpec[] = [
  {
    flag: 'json',
    help: "Print JSON on stdout: list prints the action's `releases` output, other commands its `hosts` output.",
  },
  { flag: 'verbose', short: 'v', help: 'Say more (every step, debug lines).' },
  { flag: 'no-color', help: 'No colour (also: NO_COLOR=1). Colour is only used on a terminal anyway.' },
  { flag: 'help', short: 'h', help: 'Show this help.' },
  { flag: 'version', help: 'Print the version.' },
].map((o) => ({ ...o, type: 'boolean', value: '', scope: 'all', section: 'output' }))

/** Every flag: the spec's inputs in their order (the help's order), then the output flags. */
export const OPTIONS: readonly OptSpec[] = [
  ...INPUTS.flatMap((input) =>
    (input.flags ?? []).map(
      (f): OptSpec => ({
        ...f,
        type: input.kind === 'boolean' ? 'boolean' : 'string',
        multiple: input.kind === 'list' || input.kind === 'lines' ? true : undefined,
        input,
        scope: input.scope ?? 'all',
        // Inputs of every command describe the connection; the others are the command's own.
        section: (input.scope ?? 'all') === 'all' ? 'connection' : 'command',
      }),
    ),
  ),
  ...OUTPUT_FLAGS,
]

/** Inputs that take true/false (their flags also take `=value`). */
export const BOOLEAN_INPUTS = new Set<string>(INPUTS.filter((i) => i.kind === 'boolean').map((i) => i.name))

/** The naming rule: input `known-hosts` ↔ variable `RAD_KNOWN_HOSTS`. */
export function envName(input: string): string {
  return `RAD_${input.toUpperCase().replace(/-/g, '_')}`
}

export interface ParsedCli {
  command: string
  /** `help deploy`: the command to explain. */
  helpFor: string
  values: Record<string, string | boolean | string[] | undefined>
  /** `--dry-run=false` style values of boolean flags. */
  boolValues: Record<string, string>
}

const SEE_HELP = `See: ${BIN} --help`

/** Parses argv (after node and the script). Throws UsageError. */
export function parseCli(argv: string[]): ParsedCli {
  // Booleans also take =true/=false, like the action's inputs: `--rollback-on-failure=false`.
  const boolValues: Record<string, string> = {}
  const rest: string[] = []
  let ended = false
  for (const a of argv) {
    const m = ended ? null : /^--([a-z-]+)=(.*)$/s.exec(a)
    const spec = m
      ? OPTIONS.find((o) => o.flag === m[1] && o.input && !o.sets && BOOLEAN_INPUTS.has(o.input.name))
      : undefined
    if (m && spec) boolValues[spec.flag] = m[2] ?? ''
    else rest.push(a)
    if (a === '--') ended = true
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {}
  for (const o of OPTIONS) {
    options[o.flag] = {
      type: o.type,
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '', SEE_HELP)
  }
  const [command = '', ...more] = parsed.positionals
  let helpFor = ''
  if (command === 'help') {
    helpFor = more.shift() ?? ''
  }
  if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`, SEE_HELP)
  return {
    command,
    helpFor,
    values: parsed.values as ParsedCli['values'],
    boolValues,
  }
}
