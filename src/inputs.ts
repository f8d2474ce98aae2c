import { randomBytes } from 'node:crypto'
import { type Dirent, readdirSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { InputError } from './errors.js'
import { maskUrl } from './healthcheck.js'
import { type HostSpec, parseHost, parsePort, parseUser, splitList } from './hosts.js'
import { parseKeepAssets } from './keep-assets.js'
import { normalizeKey } from './key.js'
import { parseKnownHosts, type TrustedKeys } from './knownhosts.js'
import { COMMANDS, type Command, type RunMeta, type Settings } from './settings.js'
import { commandSpec, defaultOf, INPUTS, type InputName } from './spec.js'
import { ACTION_WORDS, type Words } from './words.js'

export type InputGetter = (name: string) => string

export const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/
const LINK_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/
const RESERVED_NAMES = new Set(['releases', 'shared', '.deploy'])
// chmod(1) symbolic clauses with rsync's D/F prefixes, or D/F + octal: "D755,F644", "u+rwX,go+rX,go-w".
const CHMOD_CLAUSE_RE = /^([DF]?[ugoa]*[-+=][rwxXst]*|[DF]?[0-7]{3,4})$/
const CONTROL_RE = /[\u0000-\u001f\u007f]/

/** Inputs that can never hold a private key (hooks might write one on the server, on purpose). */
const NEVER_A_KEY = INPUTS.filter((i) => !i.mayHoldKey).map((i) => i.name)

/** Owner may write; everyone may read (and enter directories / run what was executable). */
export const DEFAULT_CHMOD = 'u+rwX,go+rX,go-w'

// Empty means the default action.yml gives (spec.ts): the CLI passes '' for what it was not given.
function bool(get: InputGetter, name: InputName): boolean {
  const dflt = defaultOf(name) === 'true'
  const v = get(name).trim().toLowerCase()
  if (v === '') return dflt
  if (['true', 'yes', '1', 'on'].includes(v)) return true
  if (['false', 'no', '0', 'off'].includes(v)) return false
  throw new InputError(name, `'${v}' is not a boolean`, 'Use true or false.')
}

function wholeNumber(get: InputGetter, name: InputName, min: number, max: number): number {
  const dflt = Number(defaultOf(name))
  const v = get(name).trim()
  if (v === '') return dflt
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new InputError(name, `'${v}' is not a whole number from ${min} to ${max}`, `e.g. ${dflt}.`)
  }
  return Number(v)
}

function noControl(name: string, value: string, what = 'value'): string {
  if (CONTROL_RE.test(value)) {
    throw new InputError(
      name,
      `the ${what} contains control characters (newline, tab, escape…)`,
      'Remove them.',
    )
  }
  return value
}

// Every non-empty line counts, '#' ones too: `#*#` (editor autosaves) is a common exclude pattern,
// and a line dropped as a "comment" would change what is uploaded without a word.
function lines(get: InputGetter, name: string): string[] {
  return get(name)
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => noControl(name, l, 'line'))
}

// How an rsync filter rule starts: a rule name, then its modifiers or the separator before the
// pattern. rsync checks the rest itself (before it sends anything); this only keeps out what is
// no rule at all — it accepts every rule rsync 3.x accepts.
const FILTER_RULE_RE =
  /^(?:[-+.:HSPR!]|exclude|include|merge|dir-merge|hide|show|protect|risk|clear)(?:[,/!Csrpxenw+\- _].*)?$/s

function filterRule(rule: string): string {
  if (!FILTER_RULE_RE.test(rule)) {
    throw new InputError(
      'filter',
      `'${rule}' is not an rsync filter rule`,
      'Start each line with a rule and a space, e.g. "- *.log", "+ /keep/***" or "P /uploads/" (FILTER RULES in man rsync). Every line is a rule: there are no comment lines.',
    )
  }
  return rule
}

/** True at the first entry that is not a directory (a file, a symlink…): stops early on real builds. */
export function hasAnyFile(dir: string): boolean {
  let entries: Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return true // unreadable: let rsync say why
  }
  for (const e of entries) if (!e.isDirectory()) return true
  return entries.some((e) => hasAnyFile(path.join(dir, e.name)))
}

export function parseTarget(name: string, value: string): string {
  const v = value.trim()
  const good = 'Give an absolute path like /var/www/example.com, without "." or ".." parts or a trailing "/".'
  if (v === '') throw new InputError(name, 'is required', good)
  noControl(name, v, 'path')
  if (v.length > 1024) throw new InputError(name, 'is longer than 1024 characters', good)
  if (!v.startsWith('/')) throw new InputError(name, `'${v}' is not an absolute path`, good)
  const parts = v.slice(1).split('/')
  if (v === '/') {
    throw new InputError(name, "'/' is the root of the server's file system", `${good} ${OWN_DIR}`)
  }
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new InputError(name, `'${v}' is not a normalised path`, good)
  }
  const system = systemDirectory(v)
  if (system) throw new InputError(name, `'${v}' is ${system}`, OWN_DIR)
  return v
}

const OWN_DIR =
  'Deploy into a directory of its own, e.g. /var/www/example.com or /srv/example.com: the tool creates releases/, shared/, .deploy/ and the link in it.'

// The system's own directories: a deploy root there would mix releases/, .deploy/ and the link
// into what the OS owns (and a mistyped variable, e.g. target: /${{ vars.SITE }}, lands here).
const SYSTEM_DIRS = new Set([
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/local',
  '/usr/sbin',
  '/usr/share',
  '/usr/src',
  '/var/backups',
  '/var/cache',
  '/var/lib',
  '/var/local',
  '/var/lock',
  '/var/log',
  '/var/mail',
  '/var/opt',
  '/var/run',
  '/var/spool',
  '/var/tmp',
])
/** Trees that hold no files of anyone's: the kernel's and the boot loader's, and programs' own. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/run', '/boot', '/bin', '/sbin', '/lib', '/lib64', '/etc']

/** What a system directory is, in words, or '' for a path that may be a deploy root. */
export function systemDirectory(p: string): string {
  if (SYSTEM_DIRS.has(p)) return 'a system directory'
  const tree = SYSTEM_TREES.find((t) => p.startsWith(`${t}/`))
  return tree ? `inside ${tree}, a system directory` : ''
}

export function parseReleaseId(name: string, value: string): string {
  if (!RELEASE_ID_RE.test(value)) {
    throw new InputError(
      name,
      `'${value}' is not a valid release id`,
      'Use 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. 20261121T235501Z-v1.2.3.',
    )
  }
  return value
}

function parseSharedPath(value: string): string {
  const good = 'Give paths relative to the release, e.g. storage or public/uploads.'
  const p = value.replace(/\/+$/, '')
  if (p.startsWith('/')) throw new InputError('shared', `'${value}' is absolute`, good)
  const parts = p.split('/')
  if (parts.some((s) => s === '' || s === '.' || s === '..')) {
    throw new InputError('shared', `'${value}' is not a normalised relative path`, good)
  }
  return p
}

/** `storage` with `storage/logs` would replace the inner one, through the outer one's link, by a link to itself. */
function sharedPaths(list: string[]): string[] {
  const unique = [...new Set(list)]
  for (const p of unique) {
    const outer = unique.find((o) => p.startsWith(`${o}/`))
    if (outer) {
      throw new InputError(
        'shared',
        `'${p}' is inside '${outer}'`,
        `List only ${outer}: what is inside it is shared with it.`,
      )
    }
  }
  return unique
}

/** Where ssh.ts makes its private directory (the key, known_hosts): /tmp/rad-XXXXXX. */
export const PRIVATE_DIR_PARENT = '/tmp'

/**
 * The private directory's parent when `dir` contains it ('/' and /tmp do), else ''. Compared
 * after resolving symlinks, so a link to /tmp (or macOS's /tmp → /private/tmp) counts too.
 */
export function holdsPrivateDir(dir: string, parent = PRIVATE_DIR_PARENT): string {
  let real = dir
  let tmp = parent
  try {
    real = realpathSync(dir)
    tmp = realpathSync(parent)
  } catch {}
  const inside = (a: string, b: string) => a === b || b.startsWith(a === '/' ? '/' : `${a}/`)
  return inside(real, tmp) || inside(dir, parent) ? parent : ''
}

/**
 * `YYYYMMDDTHHMMSSZ-<tag or short sha>-<6 hex>`: sorts by time and says what was deployed; the
 * random end keeps two runs started in the same second (a re-run, two tags pushed at once) apart.
 */
export function defaultReleaseId(
  now: Date,
  env: Record<string, string | undefined>,
  unique = randomBytes(3).toString('hex'),
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const tag = env.GITHUB_REF_TYPE === 'tag' ? (env.GITHUB_REF_NAME ?? '') : ''
  // 16 + 1 + 76 + 1 + 6: within the 100 characters of a release id.
  const label = (tag || (env.GITHUB_SHA ?? '').slice(0, 7)).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 76)
  return [stamp, label, unique].filter((p) => p !== '').join('-')
}

export function runMeta(env: Record<string, string | undefined>): RunMeta {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
  return {
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    actor: env.GITHUB_ACTOR ?? env.USER ?? '',
    runUrl:
      env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
        ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
        : '',
  }
}

function parseHosts(get: InputGetter): { hosts: HostSpec[]; jumpHost: HostSpec | undefined } {
  const user = get('user').trim() === '' ? '' : parseUser('user', get('user').trim())
  const port = parsePort('port', get('port').trim() || defaultOf('port'))
  const raw = splitList(get('host'))
  if (raw.length === 0) {
    throw new InputError(
      'host',
      'is required',
      'Give the server as [user@]host[:port], e.g. deploy@example.com.',
    )
  }
  const hosts = raw.map((h) => parseHost('host', h, user, port))
  const seen = new Set<string>()
  for (const h of hosts) {
    if (seen.has(h.label)) throw new InputError('host', `${h.label} is listed twice`, 'List each host once.')
    seen.add(h.label)
  }
  const jump = get('jump-host').trim()
  return { hosts, jumpHost: jump === '' ? undefined : parseHost('jump-host', jump, user, 22) }
}

function parseTrust(get: InputGetter, accept: boolean): TrustedKeys {
  const trusted = parseKnownHosts('known-hosts', get('known-hosts'))
  if (!accept && trusted.lines.length === 0 && trusted.fingerprints.length === 0) {
    throw new InputError(
      'known-hosts',
      'is required: without it we cannot tell your server from an impostor',
      'Run `ssh-keyscan -p PORT HOST` on a machine you trust, check the fingerprint against the server (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), and store the lines in a secret or variable. Or set accept-unknown-host-key: true to trust on first use (not recommended).',
    )
  }
  return trusted
}

export interface ParseOptions {
  /**
   * The command line on a person's machine: key and known-hosts may be left out, and ssh then uses
   * the person's own setup (agent, ~/.ssh/config, ~/.ssh/known_hosts). Never set by the action.
   */
  allowOwnSsh?: boolean
  /** How hints name inputs (default: the action's words). */
  words?: Words
}

/** Reads and validates every input. Pure apart from checking that `source` is a directory. */
export function parseSettings(
  get: InputGetter,
  env: Record<string, string | undefined> = process.env,
  now = new Date(),
  options: ParseOptions = {},
): Settings {
  // A private key pasted into another input would be echoed by that input's error (before it is
  // masked) or even used (a shared path, an exclude pattern): refuse it, without repeating it.
  for (const name of NEVER_A_KEY) {
    if (/PRIVATE KEY-----/.test(get(name))) {
      throw new InputError(
        name,
        'holds a private key',
        'Only key takes the private key. Check which secret this input is given.',
      )
    }
  }
  const w = options.words ?? ACTION_WORDS
  const command = (get('command').trim() || defaultOf('command')) as Command
  if (!COMMANDS.includes(command)) {
    throw new InputError('command', `'${command}' is not a command`, `Use one of: ${COMMANDS.join(', ')}.`)
  }
  const { hosts, jumpHost } = parseHosts(get)
  const keyText = get('key')
  const key = keyText.trim() === '' ? '' : normalizeKey(keyText)
  if (key === '' && !options.allowOwnSsh) {
    throw new InputError(
      'key',
      'is required',
      'Pass the private deploy key from a secret: key: ${{ secrets.DEPLOY_KEY }}.',
    )
  }
  const keyPassphrase = get('key-passphrase')
  if (/[\r\n]/.test(keyPassphrase)) {
    throw new InputError(
      'key-passphrase',
      'contains a newline',
      'Store the passphrase alone, without a trailing newline.',
    )
  }
  const acceptUnknownHostKey = bool(get, 'accept-unknown-host-key')
  const trusted = parseTrust(get, acceptUnknownHostKey || options.allowOwnSsh === true)
  const target = parseTarget('target', get('target'))
  const linkName = get('link-name').trim() || defaultOf('link-name')
  if (!LINK_NAME_RE.test(linkName) || RESERVED_NAMES.has(linkName)) {
    throw new InputError(
      'link-name',
      `'${linkName}' is not a usable link name`,
      'Use a plain name without "/", other than releases, shared or .deploy, e.g. current.',
    )
  }
  const needsSource = commandSpec(command).uploads === true
  let source = ''
  if (needsSource) {
    const s = get('source').trim()
    if (s === '')
      throw new InputError(
        'source',
        'is required',
        `Give the build directory, e.g. ${w.input('source', 'public')}.`,
      )
    noControl('source', s, 'path')
    source = path.resolve(env.GITHUB_WORKSPACE ?? process.cwd(), s)
    let isDir = false
    try {
      isDir = statSync(source).isDirectory()
    } catch {}
    if (!isDir) {
      throw new InputError(
        'source',
        `'${s}' is not a directory (looked at ${source})`,
        'Build first, then give the output directory relative to the workspace, e.g. dist or public.',
      )
    }
    const holds = holdsPrivateDir(source)
    if (holds) {
      throw new InputError(
        'source',
        `'${s}' (${source}) contains ${holds}, where this tool keeps the deploy key while it runs: it would be uploaded`,
        'Give the build directory itself, e.g. dist or public, not a parent of /tmp.',
      )
    }
  }
  const allowEmpty = bool(get, 'allow-empty')
  // An empty build going live is a broken build step far more often than a wish: refuse it here,
  // before any connection (exclude/filter that leave nothing are caught after the upload).
  if (needsSource && !allowEmpty && !hasAnyFile(source)) {
    throw new InputError(
      'source',
      `'${get('source').trim()}' holds no files (looked at ${source})`,
      'Check that the build ran and wrote there. To deploy an empty release on purpose, set allow-empty: true.',
    )
  }
  const givenId = get('release-id').trim()
  if (commandSpec(command).releaseId === 'required' && givenId === '') {
    throw new InputError(
      'release-id',
      `is required for command ${command}`,
      `Give the same release id to upload and activate, e.g. ${w.input('release-id', w === ACTION_WORDS ? '${{ github.run_id }}' : '"$CI_PIPELINE_ID"')}.`,
    )
  }
  const releaseId = givenId === '' ? defaultReleaseId(now, env) : parseReleaseId('release-id', givenId)
  const rollbackTo = get('rollback-to').trim()
  if (rollbackTo !== '') parseReleaseId('rollback-to', rollbackTo)
  const expectedDigest = parseExpectedDigest(get('expected-digest'))
  const chmod = get('chmod').trim() || DEFAULT_CHMOD
  if (!chmod.split(',').every((c) => CHMOD_CLAUSE_RE.test(c))) {
    throw new InputError(
      'chmod',
      `'${chmod}' is not an rsync --chmod spec`,
      `e.g. ${DEFAULT_CHMOD} or D755,F644.`,
    )
  }
  const healthcheckUrl = get('healthcheck-url').trim()
  if (healthcheckUrl !== '') {
    // new URL() silently drops newlines and tabs; the raw text is still logged, so refuse them
    noControl('healthcheck-url', healthcheckUrl, 'URL')
    let ok = false
    try {
      ok = ['http:', 'https:'].includes(new URL(healthcheckUrl).protocol)
    } catch {}
    if (!ok) {
      throw new InputError(
        'healthcheck-url',
        `'${maskUrl(healthcheckUrl)}' is not an http(s) URL`,
        'e.g. https://example.com/health.',
      )
    }
  }
  const hook = (name: string) => {
    const v = get(name).replace(/\r\n?/g, '\n')
    if (v.length > 65536)
      throw new InputError(name, 'is longer than 64 KiB', 'Put a long script in your release and call it.')
    if (v.includes('\u0000')) throw new InputError(name, 'contains a NUL byte', 'Remove it.')
    return v.trim() === '' ? '' : v
  }
  return {
    command,
    hosts,
    jumpHost,
    key,
    keyPassphrase,
    trusted,
    acceptUnknownHostKey,
    source,
    target,
    linkName,
    releaseId,
    releaseIdGiven: givenId !== '',
    rollbackTo,
    keepReleases: wholeNumber(get, 'keep-releases', 0, 10000),
    exclude: lines(get, 'exclude'),
    filter: lines(get, 'filter').map(filterRule),
    chmod,
    shared: sharedPaths(lines(get, 'shared').map(parseSharedPath)),
    keepAssets: parseKeepAssets(get('keep-assets')),
    keepAssetsReleases: wholeNumber(get, 'keep-assets-releases', 1, 100),
    beforeSwitch: hook('before-switch'),
    afterSwitch: hook('after-switch'),
    healthcheckUrl,
    rollbackOnFailure: bool(get, 'rollback-on-failure'),
    dryRun: bool(get, 'dry-run'),
    allowEmpty,
    maxParallel: wholeNumber(get, 'max-parallel', 1, 256),
    timeoutSeconds: wholeNumber(get, 'timeout', 10, 6 * 3600),
    expectedDigest,
    meta: runMeta(env),
  }
}

/** expected-digest: '' or a release-digest as the tool prints it (`sha256:` + 64 lowercase hex). */
export function parseExpectedDigest(value: string): string {
  const v = value.trim()
  if (v === '') return ''
  if (/^sha256:[0-9a-fA-F]{64}$/.test(v)) return v.toLowerCase()
  throw new InputError(
    'expected-digest',
    `'${noControl('expected-digest', v.length > 80 ? `${v.slice(0, 80)}…` : v)}' is not a release digest`,
    'Give the release-digest the deploy of that build output: sha256: followed by 64 hex digits, e.g. sha256:3f2a…(64 digits).',
  )
}
