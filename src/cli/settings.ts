/**
 * The command line, step 2: flags and RAD_* variables → the action's inputs (one `get(name)` for
 * parseSettings, so the same validation and messages) → Settings. Secrets never come from argv:
 * SECRET_SOURCES says where each one may come from, and drives reading, messages and help.
 */
import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { InputError } from '../errors.js'
import { parseSettings } from '../inputs.js'
import { run } from '../proc.js'
import { COMMANDS, type Command, type Settings } from '../settings.js'
import { commandSpec, INPUTS, inScope } from '../spec.js'
import type { Words } from '../words.js'
import { BIN, envName, OPTIONS, type ParsedCli, UsageError } from './parse.js'

/** Where a secret input comes from: a flag naming a file or a variable, or RAD_<INPUT>(_FILE). */
interface SecretSource {
  input: 'key' | 'key-passphrase' | 'known-hosts'
  /** `--key FILE`: read the file. */
  fileFlag?: string
  /** `--key-env NAME`: read the variable NAME. */
  envFlag?: string
  /** RAD_<INPUT> holds the text itself (the help says what it holds)… */
  textIs?: string
  /** …and RAD_<INPUT>_FILE, when there is one, a path. */
  varFile?: boolean
  /** What a file given by the flag, and by the variable, must be (the fix of "cannot read"). */
  fileIs?: string
  varFileIs?: string
  /** A source given that holds nothing is refused with this fix (none: a passphrase may be empty). */
  fix?: string
  /** Added to the fix for RAD_<INPUT>: the way back to the person's own ssh setup. */
  unset?: string
}

export const SECRET_SOURCES: readonly SecretSource[] = [
  {
    input: 'key',
    fileFlag: 'key',
    envFlag: 'key-env',
    textIs: 'the key text',
    varFile: true,
    fileIs: 'the private key file, e.g. ~/.ssh/id_deploy',
    varFileIs: 'the private key file (RAD_KEY_FILE)',
    fix: 'Put the private deploy key there. In CI: check that this job may read the secret (protected variables reach only protected branches and tags).',
    unset: 'Or unset RAD_KEY to use your own ssh setup.',
  },
  { input: 'key-passphrase', envFlag: 'key-passphrase-env' },
  {
    input: 'known-hosts',
    fileFlag: 'known-hosts',
    textIs: 'the lines',
    varFile: true,
    fileIs: 'a known_hosts file',
    varFileIs: 'a known_hosts file',
    fix: 'Put known_hosts lines there (from `ssh-keyscan -p PORT HOST`, checked against the server) or SHA256: fingerprints. In CI: check that this job may read the variable (protected variables reach only protected branches and tags).',
    unset: 'Or unset RAD_KNOWN_HOSTS to use your own known_hosts.',
  },
]

/** The variables of a secret: RAD_KEY, and RAD_KEY_FILE when it has one. */
function secretVars(s: SecretSource): { text: string; file: string } {
  return { text: envName(s.input), file: s.varFile ? `${envName(s.input)}_FILE` : '' }
}

/** The help's `[…]` note for a flag of a secret: its variables, once, at the secret's first flag. */
export function secretEnvNote(flag: string): string | undefined {
  const s = SECRET_SOURCES.find((x) => x.fileFlag === flag || x.envFlag === flag)
  if (!s) return undefined
  if (flag !== (s.fileFlag ?? s.envFlag)) return ''
  const v = secretVars(s)
  return `${v.text}${s.textIs ? ` (${s.textIs})` : ''}${v.file ? ` or ${v.file}` : ''}`
}

function readInputFile(input: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? String(e)
    throw new InputError(input, `cannot read ${file} (${why})`, `Give the path of ${what}.`)
  }
}

/** A secret source that was given must hold something: a line that is neither blank nor a # comment. */
export function mustHold(input: string, text: string, what: string, fix: string): void {
  if (text.split(/\r?\n/).some((l) => l.trim() !== '' && !l.trim().startsWith('#'))) return
  throw new InputError(input, `${what} is empty (nothing but blank or # lines)`, fix)
}

/**
 * A secret from the first source given: the file flag, the variable flag, RAD_<INPUT> (unless it
 * is empty and RAD_<INPUT>_FILE is set), RAD_<INPUT>_FILE. A source that is given but holds
 * nothing (a CI secret withheld from an unprotected tag comes out as '') is an error, never a
 * silent fall back to the person's own ssh setup.
 */
function readSecret(s: SecretSource, cli: ParsedCli, env: NodeJS.ProcessEnv, command: Command): string {
  const file = s.fileFlag ? (cli.values[s.fileFlag] as string | undefined) : undefined
  const named = s.envFlag ? (cli.values[s.envFlag] as string | undefined) : undefined
  if (file !== undefined && named !== undefined) {
    throw new UsageError(`give --${s.fileFlag} or --${s.envFlag}, not both`, seeHelp(command))
  }
  const held = (text: string, what: string, fix = s.fix) => {
    if (fix !== undefined) mustHold(s.input, text, what, fix)
    return text
  }
  if (file !== undefined) {
    return held(readInputFile(s.input, file, s.fileIs ?? ''), `the file ${file} (--${s.fileFlag})`)
  }
  if (named !== undefined) return held(env[named] ?? '', `the variable ${named} (--${s.envFlag})`)
  const v = secretVars(s)
  const text = env[v.text]
  const path = v.file ? env[v.file] : undefined
  if (text !== undefined && (text !== '' || path === undefined)) {
    return held(text, v.text, s.fix && `${s.fix} ${s.unset}`)
  }
  if (path !== undefined) {
    held(path, v.file)
    return held(readInputFile(s.input, path, s.varFileIs ?? ''), `the file ${path} (${v.file})`)
  }
  return ''
}

function seeHelp(command: Command): string {
  return `See: ${BIN} ${command} --help`
}

/**
 * The action's inputs from flags, then RAD_* variables: what `get(name)` answers for parseSettings.
 * Throws UsageError for a flag that does not apply to the command, InputError for unreadable files.
 */
export function cliInputs(cli: ParsedCli, command: Command, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { command }
  const given = (flag: string) => cli.values[flag] !== undefined || cli.boolValues[flag] !== undefined
  for (const o of OPTIONS) {
    if (!given(o.flag) || inScope(o.scope, command)) continue
    throw new UsageError(`--${o.flag} does not apply to ${command}`, seeHelp(command))
  }
  for (const o of OPTIONS) {
    if (!o.input || o.input.kind === 'secret' || o.sets !== undefined || !given(o.flag)) continue
    const v = cli.boolValues[o.flag] ?? cli.values[o.flag]
    out[o.input.name] = Array.isArray(v) ? v.join('\n') : v === true ? 'true' : String(v)
  }
  // --no-rollback-on-failure: a value of its own, so not together with the flag that gives one.
  for (const o of OPTIONS) {
    if (!o.input || o.sets === undefined || !cli.values[o.flag]) continue
    if (out[o.input.name] !== undefined) {
      throw new UsageError(`give --${o.input.flags?.[0]?.flag} or --${o.flag}, not both`, seeHelp(command))
    }
    out[o.input.name] = o.sets
  }
  // Everything not given as a flag may come from its variable.
  for (const i of INPUTS) {
    if (!i.flags || i.kind === 'secret' || out[i.name] !== undefined) continue
    out[i.name] = env[envName(i.name)] ?? ''
  }
  for (const s of SECRET_SOURCES) out[s.input] = readSecret(s, cli, env, command)
  return out
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
  if (!commandSpec(command).uploads) return out
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

/** `A, B or C`. */
function either(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

/** The flags that name an input in messages: not aliases, not `--no-…`. */
function namingFlags(input: string) {
  return OPTIONS.filter((o) => o.input?.name === input && !o.hidden && o.sets === undefined)
}

/** How a message names where an input comes from on the command line: `--target or RAD_TARGET`. */
export function flagsFor(input: string): string {
  if (input === 'command') return `the command: ${COMMANDS.join(', ')}`
  const secret = SECRET_SOURCES.find((s) => s.input === input)
  if (secret) {
    const v = secretVars(secret)
    return either(
      [...namingFlags(input).map((o) => `--${o.flag} ${o.value}`), v.text, v.file].filter(Boolean),
    )
  }
  return [...namingFlags(input).map((o) => `--${o.flag}`), envName(input)].join(' or ')
}

/** The CLI's words for messages of the shared core: flags and RAD_* variables, `rsync-atomic-deploy unlock`. */
export const CLI_WORDS: Words = {
  input(name, value) {
    if (value === undefined) return flagsFor(name)
    const o = namingFlags(name)[0]
    if (!o) return `${envName(name)}=${value}`
    // A secret's value is never repeated: the flag and its placeholder.
    if (o.input?.kind === 'secret') return `--${o.flag} ${o.value}`
    if (o.type === 'boolean') {
      const no = OPTIONS.find((x) => x.input === o.input && x.sets === 'false')
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
