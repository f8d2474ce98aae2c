/**
 * The command line: the same deploys as the action, from a terminal or another CI system. Flags
 * and RAD_* variables become the action's inputs (one `get(name)` for parseSettings, so the same
 * validation and messages), then the shared core runs (run-command.ts). No @actions/core here.
 */
import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { doctorText } from './doctor-render.js'
import { type DeployError, InputError } from './errors.js'
import type { ReleaseInfo } from './history.js'
import { DOCTOR_ABOUT, INIT_SUMMARY, initMain } from './init-cli.js'
import { parseSettings } from './inputs.js'
import type { CommandOutcome } from './outcome.js'
import { type HostResult, toDeployError } from './outcome.js'
import { hostsJson, releasesJson, totals } from './outputs.js'
import { run } from './proc.js'
import { runCommand } from './run-command.js'
import { COMMANDS, type Command, type Reporter, type Settings } from './settings.js'
import { safeMessage } from './untrusted.js'
import type { Words } from './words.js'

export const BIN = 'rsync-atomic-deploy'
/** Kept equal to package.json's version (a test checks). */
export const VERSION = '0.1.0'

/** Exit codes: scripts can tell bad input from an unreachable server from a failed deploy. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, connection: 3, interrupted: 130 } as const

/** DeployError codes of a connection that could not be made (hints.ts explainSshFailure). */
const CONNECTION_CODES = new Set([
  'key-format',
  'passphrase',
  'host-key-changed',
  'host-key-unknown',
  'auth',
  'refused',
  'dns',
  'unreachable',
  'closed',
  'ssh',
  'ssh-config',
])

export function exitCodeFor(failure: DeployError | undefined, cancelled = false): number {
  if (!failure) return EXIT.ok
  if (cancelled || failure.code === 'cancelled') return EXIT.interrupted
  if (failure.code === 'bad-input') return EXIT.badInput
  if (CONNECTION_CODES.has(failure.code)) return EXIT.connection
  return EXIT.failed
}

// ---------------------------------------------------------------------------------------------
// Options: one table drives parsing, the inputs they feed, the scope check and the help text.

type Scope = 'all' | readonly Command[]

interface OptSpec {
  flag: string
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  /** Placeholder in the help. */
  value?: string
  /** The action input it feeds (its variable: RAD_<INPUT>, see envName). */
  input?: string
  /** The variables, when not simply envName(input) (shown in the help). */
  env?: string
  help: string
  scope: Scope
  section: 'connection' | 'command' | 'output'
  /** Not listed in the help (aliases). */
  hidden?: boolean
}

const UPLOADING = ['deploy', 'upload'] as const
const SWITCHING = ['deploy', 'activate'] as const
const RELEASING = ['deploy', 'upload', 'activate'] as const

export const OPTIONS: readonly OptSpec[] = [
  {
    flag: 'host',
    type: 'string',
    multiple: true,
    value: '[USER@]HOST[:PORT]',
    input: 'host',
    help: 'Server to work on; repeat it or give a comma list for a fleet. Without --key, a Host alias of your ~/.ssh/config works.',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'user',
    type: 'string',
    value: 'USER',
    input: 'user',
    help: 'SSH user for hosts that name none (default: what ssh chooses).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'port',
    type: 'string',
    value: 'PORT',
    input: 'port',
    help: 'SSH port for hosts that name none (default: 22, or your ~/.ssh/config).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'key',
    type: 'string',
    value: 'FILE',
    input: 'key',
    env: 'RAD_KEY (the key text) or RAD_KEY_FILE',
    help: 'Private key file. Without it: your ssh-agent and the IdentityFile of your ~/.ssh/config.',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'key-env',
    type: 'string',
    value: 'NAME',
    env: '',
    help: 'Read the private key text from the environment variable NAME (a CI secret).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'key-passphrase-env',
    type: 'string',
    value: 'NAME',
    env: 'RAD_KEY_PASSPHRASE',
    help: "Read the key's passphrase from the environment variable NAME (never from the command line).",
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'known-hosts',
    type: 'string',
    value: 'FILE',
    input: 'known-hosts',
    env: 'RAD_KNOWN_HOSTS (the lines) or RAD_KNOWN_HOSTS_FILE',
    help: 'known_hosts lines and/or SHA256: fingerprints to trust. Without it: your own known_hosts. Host keys are checked either way.',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'accept-unknown-host-key',
    type: 'boolean',
    input: 'accept-unknown-host-key',
    help: "Trust a server's key on first use and print it to pin (not recommended).",
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'jump-host',
    type: 'string',
    value: '[USER@]HOST[:PORT]',
    input: 'jump-host',
    help: 'Go through this host (ssh ProxyJump); its key is checked too.',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'target',
    type: 'string',
    value: 'PATH',
    input: 'target',
    help: 'Absolute deploy root on the server, e.g. /var/www/example.com (required).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'link-name',
    type: 'string',
    value: 'NAME',
    input: 'link-name',
    help: 'The symlink in the target the web server serves from (default: current).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'max-parallel',
    type: 'string',
    value: 'N',
    input: 'max-parallel',
    help: 'Hosts worked on at once (default: 8).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'timeout',
    type: 'string',
    value: 'SECONDS',
    input: 'timeout',
    help: 'For the whole command, then it stops cleanly (default: 600).',
    scope: 'all',
    section: 'connection',
  },
  {
    flag: 'source',
    type: 'string',
    value: 'DIR',
    input: 'source',
    help: 'Local directory to upload, relative to the current directory (required).',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'release-id',
    type: 'string',
    value: 'ID',
    input: 'release-id',
    help: 'Name of the new release (default: UTC time + tag or short commit). Required for upload and activate.',
    scope: RELEASING,
    section: 'command',
  },
  {
    flag: 'to',
    type: 'string',
    value: 'ID',
    input: 'rollback-to',
    help: 'Release to roll back to (default: the good one that was live before). Also --rollback-to.',
    scope: ['rollback'],
    section: 'command',
  },
  {
    flag: 'rollback-to',
    type: 'string',
    value: 'ID',
    input: 'rollback-to',
    help: 'Same as --to.',
    scope: ['rollback'],
    section: 'command',
    hidden: true,
  },
  {
    flag: 'keep-releases',
    type: 'string',
    value: 'N',
    input: 'keep-releases',
    help: 'Good releases kept (default: 5; 0 keeps all). The live one and its rollback target always stay.',
    scope: ['deploy', 'activate', 'prune'],
    section: 'command',
  },
  {
    flag: 'exclude',
    type: 'string',
    multiple: true,
    value: 'PATTERN',
    input: 'exclude',
    help: 'rsync exclude pattern (repeatable).',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'filter',
    type: 'string',
    multiple: true,
    value: 'RULE',
    input: 'filter',
    help: 'rsync filter rule (repeatable).',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'chmod',
    type: 'string',
    value: 'SPEC',
    input: 'chmod',
    help: 'rsync --chmod spec applied during the transfer (default: u+rwX,go+rX,go-w).',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'shared',
    type: 'string',
    multiple: true,
    value: 'PATH',
    input: 'shared',
    help: 'Path kept in TARGET/shared and linked into every release, e.g. storage (repeatable).',
    scope: RELEASING,
    section: 'command',
  },
  {
    flag: 'before-switch',
    type: 'string',
    value: 'SCRIPT',
    input: 'before-switch',
    help: 'Shell script run on the server in the new release before it goes live; failure = no switch.',
    scope: SWITCHING,
    section: 'command',
  },
  {
    flag: 'after-switch',
    type: 'string',
    value: 'SCRIPT',
    input: 'after-switch',
    help: 'Shell script run on the server after the switch (reload a service).',
    scope: SWITCHING,
    section: 'command',
  },
  {
    flag: 'healthcheck-url',
    type: 'string',
    value: 'URL',
    input: 'healthcheck-url',
    help: 'URL that must answer 2xx after the switch, else the switch is reverted.',
    scope: SWITCHING,
    section: 'command',
  },
  {
    flag: 'rollback-on-failure',
    type: 'boolean',
    input: 'rollback-on-failure',
    help: 'Revert the switch when after-switch or the health check fails (the default).',
    scope: SWITCHING,
    section: 'command',
  },
  {
    flag: 'no-rollback-on-failure',
    type: 'boolean',
    env: '',
    help: 'Keep the new release live even then.',
    scope: SWITCHING,
    section: 'command',
  },
  {
    flag: 'dry-run',
    type: 'boolean',
    input: 'dry-run',
    help: 'Show what would be sent and what would switch; change nothing.',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'allow-empty',
    type: 'boolean',
    input: 'allow-empty',
    help: 'Deploy a release with no files on purpose (else an empty one is refused).',
    scope: UPLOADING,
    section: 'command',
  },
  {
    flag: 'json',
    type: 'boolean',
    env: '',
    help: "Print JSON on stdout: list prints the action's `releases` output, other commands its `hosts` output.",
    scope: 'all',
    section: 'output',
  },
  {
    flag: 'verbose',
    short: 'v',
    type: 'boolean',
    env: '',
    help: 'Say more (every step, debug lines).',
    scope: 'all',
    section: 'output',
  },
  {
    flag: 'no-color',
    type: 'boolean',
    env: '',
    help: 'No colour (also: NO_COLOR=1). Colour is only used on a terminal anyway.',
    scope: 'all',
    section: 'output',
  },
  {
    flag: 'help',
    short: 'h',
    type: 'boolean',
    env: '',
    help: 'Show this help.',
    scope: 'all',
    section: 'output',
  },
  { flag: 'version', type: 'boolean', env: '', help: 'Print the version.', scope: 'all', section: 'output' },
]

const BOOLEAN_INPUTS = new Set(['dry-run', 'allow-empty', 'accept-unknown-host-key', 'rollback-on-failure'])

/** The naming rule: input `known-hosts` ↔ variable `RAD_KNOWN_HOSTS`. */
export function envName(input: string): string {
  return `RAD_${input.toUpperCase().replace(/-/g, '_')}`
}

/** How a message names where an input comes from on the command line: `--target or RAD_TARGET`. */
export function flagsFor(input: string): string {
  if (input === 'key') return '--key FILE, --key-env NAME, RAD_KEY or RAD_KEY_FILE'
  if (input === 'known-hosts') return '--known-hosts FILE, RAD_KNOWN_HOSTS or RAD_KNOWN_HOSTS_FILE'
  if (input === 'key-passphrase') return '--key-passphrase-env NAME or RAD_KEY_PASSPHRASE'
  if (input === 'command') return `the command: ${COMMANDS.join(', ')}`
  const flags = OPTIONS.filter((o) => o.input === input && !o.hidden).map((o) => `--${o.flag}`)
  return [...flags, envName(input)].join(' or ')
}

/** The CLI's words for messages of the shared core: flags and RAD_* variables, `rsync-atomic-deploy unlock`. */
export const CLI_WORDS: Words = {
  input(name, value) {
    if (value === undefined) return flagsFor(name)
    if (name === 'key-passphrase') return '--key-passphrase-env NAME'
    const o = OPTIONS.find((x) => x.input === name && !x.hidden)
    if (!o) return `${envName(name)}=${value}`
    if (o.type === 'boolean') {
      const no = OPTIONS.find((x) => x.flag === `no-${o.flag}`)
      return value === 'false' ? (no ? `--${no.flag}` : `--${o.flag}=false`) : `--${o.flag}`
    }
    return `--${o.flag} ${value}`
  },
  command: (name) => `\`${BIN} ${name}\``,
}

/** An InputError as the CLI says it: the action's message, naming the flag and the variable too. */
export function cliInputMessage(e: InputError): string {
  return e.message.replace(`Input '${e.input}'`, `Input '${e.input}' (${flagsFor(e.input)})`)
}

/** A mistake on the command line itself (unknown flag, missing value): exit 2. */
export class UsageError extends Error {}

export interface ParsedCli {
  command: string
  /** `help deploy`: the command to explain. */
  helpFor: string
  values: Record<string, string | boolean | string[] | undefined>
  /** `--dry-run=false` style values of boolean flags. */
  boolValues: Record<string, string>
}

/** Parses argv (after node and the script). Throws UsageError. */
export function parseCli(argv: string[]): ParsedCli {
  // Booleans also take =true/=false, like the action's inputs: `--rollback-on-failure=false`.
  const boolValues: Record<string, string> = {}
  const rest: string[] = []
  let ended = false
  for (const a of argv) {
    const m = ended ? null : /^--([a-z-]+)=(.*)$/s.exec(a)
    const spec = m
      ? OPTIONS.find((o) => o.flag === m[1] && o.input && BOOLEAN_INPUTS.has(o.input))
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
    throw new UsageError((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '')
  }
  const [command = '', ...more] = parsed.positionals
  let helpFor = ''
  if (command === 'help') {
    helpFor = more.shift() ?? ''
  }
  if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`)
  return {
    command,
    helpFor,
    values: parsed.values as ParsedCli['values'],
    boolValues,
  }
}

function readInputFile(input: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? String(e)
    throw new InputError(input, `cannot read ${file} (${why})`, `Give the path of ${what}.`)
  }
}

/**
 * The action's inputs from flags, then RAD_* variables: what `get(name)` answers for parseSettings.
 * Throws UsageError for a flag that does not apply to the command, InputError for unreadable files.
 */
export function cliInputs(cli: ParsedCli, command: Command, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { command }
  const given = (flag: string) => cli.values[flag] !== undefined || cli.boolValues[flag] !== undefined
  for (const o of OPTIONS) {
    if (!given(o.flag) || o.scope === 'all' || o.scope.includes(command)) continue
    throw new UsageError(`--${o.flag} does not apply to ${command}`)
  }
  for (const o of OPTIONS) {
    if (!o.input || o.input === 'key' || o.input === 'known-hosts' || !given(o.flag)) continue
    const v = cli.boolValues[o.flag] ?? cli.values[o.flag]
    out[o.input] = Array.isArray(v) ? v.join('\n') : v === true ? 'true' : String(v)
  }
  if (cli.values['no-rollback-on-failure']) {
    if (out['rollback-on-failure'] !== undefined) {
      throw new UsageError('give --rollback-on-failure or --no-rollback-on-failure, not both')
    }
    out['rollback-on-failure'] = 'false'
  }
  // Everything not given as a flag may come from its variable.
  for (const o of OPTIONS) {
    if (!o.input || out[o.input] !== undefined || o.input === 'key' || o.input === 'known-hosts') continue
    out[o.input] = env[envName(o.input)] ?? ''
  }
  // The key: a file on the command line, text in a variable (a CI secret). A source that is given
  // but holds nothing (a CI secret withheld from an unprotected tag comes out as '') is an error,
  // never a silent fall back to the person's own ssh setup.
  const keyFile = cli.values.key as string | undefined
  const keyEnv = cli.values['key-env'] as string | undefined
  if (keyFile !== undefined && keyEnv !== undefined) throw new UsageError('give --key or --key-env, not both')
  const keyFix =
    'Put the private deploy key there. In CI: check that this job may read the secret (protected variables reach only protected branches and tags).'
  if (keyFile !== undefined) {
    out.key = readInputFile('key', keyFile, 'the private key file, e.g. ~/.ssh/id_deploy')
    mustHold('key', out.key, `the file ${keyFile} (--key)`, keyFix)
  } else if (keyEnv !== undefined) {
    out.key = env[keyEnv] ?? ''
    mustHold('key', out.key, `the variable ${keyEnv} (--key-env)`, keyFix)
  } else if (env.RAD_KEY !== undefined && (env.RAD_KEY !== '' || env.RAD_KEY_FILE === undefined)) {
    out.key = env.RAD_KEY
    mustHold('key', out.key, 'RAD_KEY', `${keyFix} Or unset RAD_KEY to use your own ssh setup.`)
  } else if (env.RAD_KEY_FILE !== undefined) {
    mustHold('key', env.RAD_KEY_FILE, 'RAD_KEY_FILE', keyFix)
    out.key = readInputFile('key', env.RAD_KEY_FILE, 'the private key file (RAD_KEY_FILE)')
    mustHold('key', out.key, `the file ${env.RAD_KEY_FILE} (RAD_KEY_FILE)`, keyFix)
  } else out.key = ''
  const passEnv = cli.values['key-passphrase-env'] as string | undefined
  out['key-passphrase'] = passEnv !== undefined ? (env[passEnv] ?? '') : (env.RAD_KEY_PASSPHRASE ?? '')
  const khFile = cli.values['known-hosts'] as string | undefined
  const khFix =
    'Put known_hosts lines there (from `ssh-keyscan -p PORT HOST`, checked against the server) or SHA256: fingerprints. In CI: check that this job may read the variable (protected variables reach only protected branches and tags).'
  const kh = 'known-hosts'
  if (khFile !== undefined) {
    out[kh] = readInputFile(kh, khFile, 'a known_hosts file')
    mustHold(kh, out[kh], `the file ${khFile} (--known-hosts)`, khFix)
  } else if (
    env.RAD_KNOWN_HOSTS !== undefined &&
    (env.RAD_KNOWN_HOSTS !== '' || env.RAD_KNOWN_HOSTS_FILE === undefined)
  ) {
    out[kh] = env.RAD_KNOWN_HOSTS
    mustHold(kh, out[kh], 'RAD_KNOWN_HOSTS', `${khFix} Or unset RAD_KNOWN_HOSTS to use your own known_hosts.`)
  } else if (env.RAD_KNOWN_HOSTS_FILE !== undefined) {
    mustHold(kh, env.RAD_KNOWN_HOSTS_FILE, 'RAD_KNOWN_HOSTS_FILE', khFix)
    out[kh] = readInputFile(kh, env.RAD_KNOWN_HOSTS_FILE, 'a known_hosts file')
    mustHold(kh, out[kh], `the file ${env.RAD_KNOWN_HOSTS_FILE} (RAD_KNOWN_HOSTS_FILE)`, khFix)
  } else out[kh] = ''
  return out
}

/** A secret source that was given must hold something: a line that is neither blank nor a # comment. */
export function mustHold(input: string, text: string, what: string, fix: string): void {
  if (text.split(/\r?\n/).some((l) => l.trim() !== '' && !l.trim().startsWith('#'))) return
  throw new InputError(input, `${what} is empty (nothing but blank or # lines)`, fix)
}

async function git(args: string[]): Promise<string> {
  try {
    const r = await run('git', args, { signal: AbortSignal.timeout(5000) })
    return r.code === 0 ? r.stdout.trim() : ''
  } catch {
    return ''
  }
}

/**
 * What the deploy log records (sha, ref, actor, run URL) and the default release id read: the
 * GITHUB_* variables. GitHub Actions sets them; GitLab CI's are translated; on a laptop a deploy
 * takes the commit of the current git checkout, if any.
 */
export async function runEnv(env: NodeJS.ProcessEnv, command: Command): Promise<NodeJS.ProcessEnv> {
  const out: NodeJS.ProcessEnv = { ...env }
  // A relative --source is relative to the current directory, wherever this runs.
  delete out.GITHUB_WORKSPACE
  if (out.GITHUB_SHA) return out
  const ref = (type: 'tag' | 'branch', name: string) => {
    out.GITHUB_REF = `refs/${type === 'tag' ? 'tags' : 'heads'}/${name}`
    out.GITHUB_REF_TYPE = type
    out.GITHUB_REF_NAME = name
  }
  if (env.CI_COMMIT_SHA) {
    out.GITHUB_SHA = env.CI_COMMIT_SHA
    if (env.CI_COMMIT_TAG) ref('tag', env.CI_COMMIT_TAG)
    else if (env.CI_COMMIT_REF_NAME) ref('branch', env.CI_COMMIT_REF_NAME)
    out.GITHUB_ACTOR = env.GITLAB_USER_LOGIN ?? env.USER
    return out
  }
  if (command !== 'deploy' && command !== 'upload') return out
  const sha = await git(['rev-parse', '--verify', '-q', 'HEAD'])
  if (!/^[0-9a-f]{40,64}$/.test(sha)) return out
  out.GITHUB_SHA = sha
  const tag = await git(['describe', '--tags', '--exact-match', 'HEAD'])
  const branch = tag ? '' : await git(['symbolic-ref', '--short', '-q', 'HEAD'])
  if (tag) ref('tag', tag)
  else if (branch) ref('branch', branch)
  return out
}

/** Flags and variables → validated Settings, exactly as the action validates its inputs. */
export async function cliSettings(
  cli: ParsedCli,
  env: NodeJS.ProcessEnv,
  now = new Date(),
): Promise<Settings> {
  const command = cli.command as Command
  const inputs = cliInputs(cli, command, env)
  const e = await runEnv(env, command)
  const settings = parseSettings((name) => inputs[name] ?? '', e, now, {
    allowOwnSsh: true,
    words: CLI_WORDS,
  })
  if (!settings.meta.runUrl && env.CI_JOB_URL) settings.meta.runUrl = env.CI_JOB_URL
  if (!settings.meta.actor) {
    try {
      settings.meta.actor = userInfo().username
    } catch {}
  }
  return settings
}

// ---------------------------------------------------------------------------------------------
// Output: colour only on a terminal (and never with NO_COLOR), a live progress line, a table.

export interface Style {
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  yellow(s: string): string
  green(s: string): string
  cyan(s: string): string
}

export function style(enabled: boolean): Style {
  const sgr = (open: number, close: number) => (s: string) =>
    enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    green: sgr(32, 39),
    cyan: sgr(36, 39),
  }
}

/** https://no-color.org: NO_COLOR set and not empty turns colour off; FORCE_COLOR turns it on. */
export function colorWanted(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  noColorFlag: boolean,
): boolean {
  if (noColorFlag || (env.NO_COLOR ?? '') !== '') return false
  if ((env.FORCE_COLOR ?? '') !== '' && env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true && env.TERM !== 'dumb'
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

/** rsync --info=progress2 (--no-human-readable): `1234567  45%  12.34MB/s  0:00:03 (xfr#3, to-chk=10/20)`. */
export function progressText(line: string): string {
  const m = /^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:.*to-chk=(\d+)\/(\d+))?/.exec(line)
  if (!m) return line.trim()
  const [, done = '0', pct, rate, time, left, total] = m
  const files =
    left !== undefined && total !== undefined ? ` · ${Number(total) - Number(left)}/${total} files` : ''
  return `uploading ${pct}% · ${bytes(Number(done.replace(/[,.]/g, '')))} · ${rate} · ${time}${files}`
}

interface Stream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

/** Log lines on stderr; a progress line redrawn in place when stderr is a terminal. */
export class CliReporter implements Reporter {
  private shown = false
  private lastDraw = 0

  constructor(
    private readonly err: Stream,
    private readonly s: Style,
    private readonly opts: { verbose: boolean; info: boolean },
  ) {}

  private clear(): void {
    if (this.shown) this.err.write('\r\u001b[K')
    this.shown = false
  }

  private line(text: string): void {
    this.clear()
    this.err.write(`${text}\n`)
  }

  // Messages carry server text: safeMessage escapes any control character (colour comes only from us).
  info(message: string): void {
    if (this.opts.info || this.opts.verbose) this.line(safeMessage(message))
  }

  output(lines: string[]): void {
    for (const l of lines) this.info(l)
  }

  warning(message: string): void {
    this.line(`${this.s.yellow('warning:')} ${safeMessage(message)}`)
  }

  debug(message: string): void {
    if (this.opts.verbose) this.line(this.s.dim(safeMessage(message)))
  }

  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.opts.info || this.opts.verbose) this.line(this.s.dim(`» ${name}`))
    return fn()
  }

  progress(host: string, line: string): void {
    if (this.err.isTTY !== true) return
    const now = Date.now()
    if (now - this.lastDraw < 100) return
    this.lastDraw = now
    const text = `${host}: ${progressText(line)}`.slice(0, Math.max(20, (this.err.columns || 80) - 1))
    this.err.write(`\r\u001b[K${this.s.cyan(text)}`)
    this.shown = true
  }

  /** Removes a progress line still on screen. */
  done(): void {
    this.clear()
  }
}

/** Columns padded to their widest cell (measured without colour). */
function table(rows: { cells: string[]; paint?: (i: number, s: string) => string }[]): string {
  const widths: number[] = []
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length)
    })
  }
  return rows
    .map((r) =>
      r.cells
        .map((c, i) => {
          const padded = i === r.cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)
          return r.paint ? r.paint(i, padded) : padded
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function when(iso: string): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '(not in the log)'
}

/** The `list` table: newest first, the live release marked, bad ones flagged. */
export function releasesTable(releases: ReleaseInfo[], s: Style): string {
  const rows = releases.map((r) => ({
    cells: [
      `${r.current ? '*' : ' '} ${r.id}`,
      when(r.deployedAt),
      r.actor,
      r.ref.replace(/^refs\/(heads|tags)\//, ''),
      r.sha.slice(0, 7),
      [r.current ? 'live' : '', r.bad ? 'bad (rolled back from)' : ''].filter(Boolean).join(', '),
    ],
    paint: (i: number, c: string) =>
      r.current && (i === 0 || i === 5) ? s.green(c) : r.bad && (i === 0 || i === 5) ? s.red(c) : c,
  }))
  return table([
    { cells: ['  RELEASE', 'DEPLOYED', 'BY', 'REF', 'COMMIT', ''], paint: (_i, c) => s.bold(c) },
    ...rows,
  ])
}

/** What a host's link serves after a run that did not (or not only) go live, and what was attempted. */
export function liveLine(settings: Settings, h: HostResult, s: Style): string {
  const live = !h.liveKnown
    ? `could not tell what ${settings.linkName} serves now (see the error)`
    : h.releaseId
      ? `${settings.linkName} -> ${s.bold(h.releaseId)}`
      : `nothing is live (${settings.linkName} does not exist)`
  const tried = h.attemptedReleaseId && h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : ''
  const what: Partial<Record<HostResult['status'], string>> = {
    'dry-run': `would switch to ${tried}`,
    reverted: `switched back from ${tried}`,
    failed: `${tried} is not live`,
    'not-switched': `${tried} is not live`,
    uploaded: `${tried} was uploaded, not made live`,
  }
  const note = tried ? what[h.status] : ''
  return `${live}${note ? ` (${note})` : ''}`
}

/** What a person reads on stdout after a command (the log lines went to stderr). */
export function humanResult(settings: Settings, outcome: CommandOutcome, s: Style): string {
  const hosts = outcome.hosts
  const out: string[] = []
  const t = totals(outcome)
  switch (settings.command) {
    case 'list': {
      const from = hosts.find((h) => !h.error)
      if (!from) break
      if (outcome.releases.length === 0) {
        out.push(`No releases in ${settings.target} on ${from.host} yet.`)
        break
      }
      out.push(
        `Releases in ${settings.target} on ${from.host}${hosts.length > 1 ? ` (1 of ${hosts.length} hosts)` : ''}, newest first:`,
        '',
        releasesTable(outcome.releases, s),
      )
      break
    }
    case 'deploy':
    case 'activate': {
      if (settings.dryRun) {
        out.push(`Dry run: nothing was changed (${hosts.length} host${hosts.length > 1 ? 's' : ''}).`)
        for (const h of hosts) out.push(`  ${h.host}: ${liveLine(settings, h, s)}`)
        break
      }
      for (const h of hosts) {
        if (h.status !== 'deployed') {
          out.push(`${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`)
          continue
        }
        out.push(
          `${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)}${h.previousReleaseId ? ` (was ${h.previousReleaseId})` : ''}${settings.command === 'deploy' ? `; ${h.filesTransferred} files sent, ${h.filesLinked} hard-linked, ${bytes(h.bytesSent)} on the wire` : ''}; ${(h.durationMs / 1000).toFixed(1)} s`,
        )
      }
      if (outcome.error) break
      if (hosts.length > 1 && settings.command === 'deploy') {
        out.push(
          `${t.filesTransferred} files sent, ${t.filesLinked} hard-linked, ${bytes(t.bytesSent)} in all.`,
        )
      }
      const back = hosts[0]?.previousReleaseId
      if (back)
        out.push(s.dim(`To roll back: ${BIN} rollback --to ${back} (with the same --host and --target)`))
      break
    }
    case 'upload':
      if (settings.dryRun) {
        out.push('Dry run: nothing was changed.')
        break
      }
      out.push(
        `Uploaded ${settings.releaseId} to ${hosts.length} host${hosts.length > 1 ? 's' : ''}; make it live with: ${BIN} activate --release-id ${settings.releaseId}`,
      )
      break
    case 'rollback':
      for (const h of hosts) {
        out.push(
          h.status === 'rolled-back'
            ? `${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)} (rolled back from ${h.previousReleaseId}, now marked bad)`
            : outcome.error
              ? `${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`
              : `${s.green('✓')} ${h.host}: already on ${h.releaseId}`,
        )
      }
      break
    case 'prune':
      for (const h of hosts) {
        out.push(
          `${s.green('✓')} ${h.host}: ${h.pruned.length ? `pruned ${h.pruned.join(', ')}` : 'nothing to prune'} (keeping ${settings.keepReleases || 'all'} good releases)`,
        )
      }
      break
    case 'doctor':
      out.push(doctorText(outcome.doctor ?? [], s).trimEnd())
      break
    case 'unlock':
      out.push(
        `${s.green('✓')} No deploy lock is held in ${settings.target} now (${hosts.map((h) => h.host).join(', ')}).`,
      )
      break
  }
  return out.length ? `${out.join('\n')}\n` : ''
}

/** humanResult with our own colours kept and any other control character escaped (values are the server's). */
function safeResult(text: string): string {
  return text
    .split(/(\u001b\[[0-9;]*m)/)
    .map((part, i) => (i % 2 === 1 ? part : safeMessage(part)))
    .join('')
}

// ---------------------------------------------------------------------------------------------
// Help

const ABOUT: Record<Command, { summary: string; usage: string; text: string; examples: string[] }> = {
  deploy: {
    summary: 'upload --source and make it live with one atomic switch',
    usage: '--host HOST --target PATH --source DIR [options]',
    text: 'Uploads DIR next to the live release (unchanged files become hard links to it, so a release costs only what changed), then makes it live by renaming one symlink. Nothing that is served changes before that rename.',
    examples: [
      `${BIN} deploy --host www1 --target /var/www/site --source dist`,
      `${BIN} deploy --host deploy@www1:2222,deploy@www2:2222 --target /var/www/site --source public --dry-run`,
    ],
  },
  rollback: {
    summary: 'make the release that was live before live again (or --to ID)',
    usage: '--host HOST --target PATH [--to ID]',
    text: 'Points the link back at the good release that was live before the current one (from the deploy log, whoever deployed it: the action or this command) and marks the current one bad, so a later rollback skips it. Nothing is deleted.',
    examples: [
      `${BIN} rollback --host www1 --target /var/www/site`,
      `${BIN} rollback --host www1 --target /var/www/site --to 20261121T235501Z-v1.2.3`,
    ],
  },
  list: {
    summary: 'show the releases on the server, the live one marked',
    usage: '--host HOST --target PATH [--json]',
    text: 'Lists the releases on disk, newest first by the deploy log: when and by whom each was deployed, which one is live and which are marked bad.',
    examples: [
      `${BIN} list --host www1 --target /var/www/site`,
      `${BIN} list --host www1 --target /var/www/site --json | jq -r '.[] | select(.current) | .id'`,
    ],
  },
  prune: {
    summary: 'delete old releases, keeping --keep-releases good ones',
    usage: '--host HOST --target PATH [--keep-releases N]',
    text: 'Deletes releases beyond the newest N good ones. The live release and its rollback target are never deleted.',
    examples: [`${BIN} prune --host www1 --target /var/www/site --keep-releases 3`],
  },
  unlock: {
    summary: 'remove a deploy lock left behind by a run that died',
    usage: '--host HOST --target PATH',
    text: 'Removes TARGET/.deploy/lock whoever holds it, and says who that was. Only for a lock whose run is dead: a running deploy would lose it.',
    examples: [`${BIN} unlock --host www1 --target /var/www/site`],
  },
  upload: {
    summary: 'fleets split in jobs, step 1: upload a release without switching',
    usage: '--host HOST --target PATH --source DIR --release-id ID [options]',
    text: 'Uploads the release and leaves it waiting on the server; run activate with the same --release-id (on every host at once) to make it live.',
    examples: [
      `${BIN} upload --host www3 --target /var/www/site --source dist --release-id "$CI_PIPELINE_ID"`,
    ],
  },
  activate: {
    summary: 'fleets split in jobs, step 2: make an uploaded release live everywhere',
    usage: '--host HOST[,HOST…] --target PATH --release-id ID [options]',
    text: 'Publishes and switches the release that upload left on every host: all hosts go live on it, or none does.',
    examples: [`${BIN} activate --host www1,www2,www3 --target /var/www/site --release-id "$CI_PIPELINE_ID"`],
  },
  doctor: DOCTOR_ABOUT,
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(' ')
  const lines: string[] = []
  let cur = ''
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur)
      cur = w
    } else cur = cur ? `${cur} ${w}` : w
  }
  if (cur) lines.push(cur)
  return lines.join(`\n${indent}`)
}

function optionHelp(o: OptSpec): string {
  const name = `  ${o.short ? `-${o.short}, ` : ''}--${o.flag}${o.value ? ` ${o.value}` : ''}`
  const env = o.env === '' ? '' : ` [${o.env ?? (o.input ? envName(o.input) : '')}]`
  const indent = ' '.repeat(34)
  return `${name.padEnd(33)} ${wrap(`${o.help}${env}`, 66, indent)}`
}

const ENV_RULE = `Environment: every option can come from a variable instead (for CI systems): RAD_ + the option's name in capitals with - as _ (--target: RAD_TARGET, --keep-releases: RAD_KEEP_RELEASES, --dry-run: RAD_DRY_RUN=true). A flag wins over its variable. Lists (RAD_HOST, RAD_EXCLUDE, RAD_FILTER, RAD_SHARED) take one item a line. Secrets come as text: RAD_KEY (the private key itself), RAD_KNOWN_HOSTS (known_hosts lines), RAD_KEY_PASSPHRASE; RAD_KEY_FILE and RAD_KNOWN_HOSTS_FILE take paths. --to is RAD_ROLLBACK_TO.`

const SSH_NOTE =
  'Without --key and --known-hosts it connects the way `ssh HOST` does for you: your ssh-agent, your ~/.ssh/config (Host aliases, User, Port, IdentityFile, ProxyJump) and your known_hosts. Host keys are always checked (StrictHostKeyChecking yes, whatever your config says), and nothing prompts (BatchMode): a key with a passphrase must be in your agent. With --key and --known-hosts (or RAD_KEY and RAD_KNOWN_HOSTS) it uses only those, as the GitHub Action does.'

const EXITS =
  'Exit codes: 0 done, 1 the command failed, 2 bad input, 3 could not connect (or log in), 130 interrupted.'

export function helpText(command?: Command): string {
  const sections = (cmd: Command | undefined) => {
    const fits = (o: OptSpec) =>
      !o.hidden && (cmd === undefined ? o.scope === 'all' : o.scope === 'all' || o.scope.includes(cmd))
    const pick = (section: OptSpec['section']) =>
      OPTIONS.filter((o) => o.section === section && fits(o)).map(optionHelp)
    const out = ['Connection (every command):', ...pick('connection')]
    const own = pick('command')
    if (own.length) out.push('', `For ${cmd}:`, ...own)
    out.push('', 'Output:', ...pick('output'))
    return out.join('\n')
  }
  if (command) {
    const a = ABOUT[command]
    return `Usage: ${BIN} ${command} ${a.usage}

${wrap(a.text, 100, '')}

${sections(command)}

Examples:
${a.examples.map((e) => `  ${e}`).join('\n')}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`
  }
  return `${BIN} ${VERSION}: atomic, hard-linked, rollback-able deploys over SSH with rsync --link-dest.
The same deploys as the GitHub Action (one shared history on the server), from a terminal or any CI system.

Usage: ${BIN} <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(10)} ${ABOUT[c].summary}`).join('\n')}
  ${'init'.padEnd(10)} ${INIT_SUMMARY}

Run \`${BIN} <command> --help\` for the options of a command.

${sections(undefined)}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`
}

// ---------------------------------------------------------------------------------------------

export interface CliIo {
  stdout: Stream
  stderr: Stream
}

/** The whole command line; resolves with the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (argv[0] === 'init') return initMain(argv.slice(1), env, io, CLI_WORDS) // init.ts
  const noColor = argv.includes('--no-color')
  const es = style(colorWanted(io.stderr, env, noColor))
  const error = (message: string, hint = '') => {
    io.stderr.write(`${es.red('error:')} ${safeMessage(message)}\n${hint ? `${safeMessage(hint)}\n` : ''}`)
  }
  let cli: ParsedCli
  try {
    cli = parseCli(argv)
  } catch (e) {
    error(e instanceof Error ? e.message : String(e), `See: ${BIN} --help`)
    return EXIT.badInput
  }
  if (cli.values.version) {
    io.stdout.write(`${VERSION}\n`)
    return EXIT.ok
  }
  const isCommand = (c: string): c is Command => (COMMANDS as readonly string[]).includes(c)
  if (cli.command === 'help' || cli.values.help) {
    const about = cli.command === 'help' ? cli.helpFor : cli.command
    if (about && !isCommand(about)) {
      error(`'${about}' is not a command`, `Use one of: ${COMMANDS.join(', ')}.`)
      return EXIT.badInput
    }
    io.stdout.write(helpText(about && isCommand(about) ? about : undefined))
    return EXIT.ok
  }
  if (!cli.command) {
    io.stderr.write(helpText())
    error('no command given', `Use one of: ${COMMANDS.join(', ')}.`)
    return EXIT.badInput
  }
  if (!isCommand(cli.command)) {
    error(`'${cli.command}' is not a command`, `Use one of: ${COMMANDS.join(', ')}. See: ${BIN} --help`)
    return EXIT.badInput
  }
  let settings: Settings
  try {
    settings = await cliSettings(cli, env)
  } catch (e) {
    if (e instanceof UsageError) error(e.message, `See: ${BIN} ${cli.command} --help`)
    else if (e instanceof InputError) error(cliInputMessage(e), e.hint)
    else error(toDeployError(e).message)
    return EXIT.badInput
  }
  const json = cli.values.json === true
  const verbose = cli.values.verbose === true
  // The log lines of list, rollback and prune say what their result on stdout says: --verbose only.
  const quiet = ['list', 'rollback', 'prune'].includes(settings.command)
  const reporter = new CliReporter(io.stderr, es, { verbose, info: !quiet })
  const result = await runCommand(settings, {
    reporter,
    allowOwnSsh: true,
    timeoutFlag: '--timeout',
    words: CLI_WORDS,
  })
  reporter.done()
  const { outcome, failure } = result
  if (outcome) {
    if (json && settings.command === 'list') {
      // `[]` would say "no releases": a list that could not read any host prints nothing.
      if (outcome.hosts.some((h) => !h.error)) io.stdout.write(`${releasesJson(outcome)}\n`)
    } else if (json) {
      io.stdout.write(`${hostsJson(outcome)}\n`)
    } else if (!failure || ['deploy', 'activate', 'rollback', 'doctor'].includes(settings.command)) {
      // After a failure too: which release each host serves now is a result.
      io.stdout.write(safeResult(humanResult(settings, outcome, style(colorWanted(io.stdout, env, noColor)))))
    }
  }
  if (failure) error(failure.message, failure.hint)
  return exitCodeFor(failure, result.cancelled)
}
