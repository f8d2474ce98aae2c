/**
 * command: doctor. Connects to every host and checks what a deploy needs, changing nothing there:
 * the remote script (remote.ts DOCTOR) only reads and reports facts, and `doctorChecks` (pure)
 * turns the server's reply into one check per line, each ✓ or ✗ with its fix. The core returns
 * them as data (CommandOutcome.doctor); the CLI and the action render them.
 */
import { DeployError } from './errors.js'
import { bytes, plural } from './format.js'
import type { GateInfo } from './gate.js'
import { remoteErrorHint, startupFileHint } from './hints.js'
import { blankResult, type HostResult, setLive, toDeployError } from './outcome.js'
import { run } from './proc.js'
import { all, first, type ScriptReply } from './remote.js'
import { findRsync, onPath, parseRsyncVersion } from './runner-platform.js'
import { HostSession, pool, type RunContext } from './session.js'
import { ACTION_WORDS, type Words } from './words.js'

export interface DoctorCheck {
  name: string
  ok: boolean
  /** What was found, measured on the server (or here). */
  detail: string
  /** What to do about a ✗ ('' for a ✓). */
  fix: string
}

export interface HostChecks {
  host: string
  checks: DoctorCheck[]
}

/** Below these a deploy is likely to fail half-way (a release needs room for what changed). */
export const MIN_FREE_KB = 100 * 1024
export const MIN_FREE_INODES = 1000

/** Codes of a connection that failed at the host key, and at the login (hints.ts explainSshFailure). */
const HOST_KEY_CODES = new Set(['host-key-changed', 'host-key-unknown'])
const LOGIN_CODES = new Set(['auth', 'passphrase', 'key-format'])

/** This machine's rsync: its path and version line, or why it cannot be used. */
export type LocalRsync = { path: string; version: string } | { problem: DeployError }

export interface DoctorContext {
  target: string
  linkName: string
  /** The deploy user as configured ('' when ssh chooses it). */
  user: string
  /** Whose known hosts decided the host key: the action's input or the person's own files. */
  trustedBy: string
  local: LocalRsync
  words?: Words
}

const ok = (name: string, detail: string): DoctorCheck => ({ name, ok: true, detail, fix: '' })
const bad = (name: string, detail: string, fix: string): DoctorCheck => ({ name, ok: false, detail, fix })

interface Part {
  kind: 'missing' | 'dir' | 'symlink' | 'file'
  owner: string
  writable: boolean
  dev: string
}

/** `part NAME KIND OWNER W DEV` lines → their facts, by name. */
export function readParts(reply: ScriptReply): Map<string, Part> {
  const parts = new Map<string, Part>()
  for (const v of all(reply, 'part')) {
    const [name = '', kind = 'missing', owner = '', w = '0', dev = ''] = v.split(' ')
    const k = (['missing', 'dir', 'symlink', 'file'] as const).find((x) => x === kind) ?? 'missing'
    parts.set(name, { kind: k, owner, writable: w === '1', dev })
  }
  return parts
}

function localRsyncCheck(local: LocalRsync): DoctorCheck {
  if ('problem' in local) return bad('rsync here', local.problem.message, local.problem.hint)
  return ok('rsync here', `${local.version} (${local.path})`)
}

function serverRsyncCheck(reply: ScriptReply): DoctorCheck {
  const name = 'rsync on the server'
  if (reply.values.has('rsync-missing')) {
    return bad(
      name,
      'rsync is not installed on the server (or not in PATH for this user)',
      remoteErrorHint('rsync-missing', { target: '', linkName: '', user: '' }),
    )
  }
  const line = first(reply, 'rsync-version')
  const v = parseRsyncVersion(line)
  if (v.kind === 'rsync' && v.version[0] >= 3) return ok(name, line.replace(/\s+/g, ' ').trim())
  return bad(
    name,
    `${line || '(no version)'}: rsync 3.0 or later is needed on the server`,
    'Install a current rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).',
  )
}

function shellCheck(reply: ScriptReply): DoctorCheck {
  const name = 'login shell'
  const shell = first(reply, 'shell')
  if (reply.other.length === 0) return ok(name, `${shell || '(unknown)'} prints nothing before our reply`)
  return bad(
    name,
    `${shell || 'the login shell'} printed ${plural(reply.other.length, 'line')} before our reply (first: "${reply.other[0]?.slice(0, 120)}"); rsync's data stream breaks on that`,
    startupFileHint(shell, 'prints'),
  )
}

function targetCheck(
  parts: Map<string, Part>,
  reply: ScriptReply,
  ctx: DoctorContext,
  me: string,
): DoctorCheck {
  const name = 'target'
  const t = parts.get('target')
  const fix = remoteErrorHint('target-unwritable', { target: ctx.target, linkName: ctx.linkName, user: me })
  if (!t || t.kind === 'missing') {
    const near = parts.get('nearest')
    const where = first(reply, 'nearest-path') || '/'
    if (near?.writable) return ok(name, `${ctx.target} does not exist yet; ${me} can create it in ${where}`)
    return bad(
      name,
      `${ctx.target} does not exist, and ${me} cannot create it in ${where} (owned by ${near?.owner ?? '?'})`,
      fix,
    )
  }
  if (t.kind !== 'dir') return bad(name, `${ctx.target} is a ${t.kind}, not a directory`, fix)
  if (!t.writable) return bad(name, `${ctx.target} is owned by ${t.owner} and not writable by ${me}`, fix)
  const chown = `On the server, as root: chown -R ${me}:${first(reply, 'user').split(' ')[1] || me} ${ctx.target}`
  for (const [p, label] of [
    ['releases', 'releases/'],
    ['deploy', '.deploy/'],
    ['incoming', '.deploy/incoming/'],
    ['lock', '.deploy/lock'],
  ] as const) {
    const part = parts.get(p)
    if (!part || part.kind === 'missing') continue
    if (part.kind === 'symlink') {
      return bad(
        name,
        `${ctx.target}/${label} is a symlink: a deploy refuses to work through it`,
        remoteErrorHint('unsafe-path', { target: ctx.target, linkName: ctx.linkName, user: me }),
      )
    }
    if (p !== 'lock' && (part.kind !== 'dir' || !part.writable)) {
      return bad(name, `${ctx.target}/${label} is owned by ${part.owner} and not writable by ${me}`, chown)
    }
  }
  return ok(
    name,
    `${ctx.target} is writable by ${me}${t.owner === me ? ' and owned by it' : ` (owned by ${t.owner})`}`,
  )
}

function filesystemCheck(parts: Map<string, Part>, ctx: DoctorContext): DoctorCheck {
  const name = 'one filesystem'
  const dev = (...names: string[]) => {
    for (const n of names) {
      const p = parts.get(n)
      if (p && p.kind !== 'missing' && p.dev) return p.dev
    }
    return ''
  }
  const releases = dev('releases', 'target', 'nearest')
  const incoming = dev('incoming', 'deploy', 'target', 'nearest')
  if (releases && incoming && releases !== incoming) {
    return bad(
      name,
      `releases/ (device ${releases}) and .deploy/incoming/ (device ${incoming}) are on different filesystems: nothing can be hard-linked, every upload is sent and stored in full`,
      `Keep ${ctx.target}/releases and ${ctx.target}/.deploy on one filesystem (do not mount either of them separately).`,
    )
  }
  return ok(name, 'releases/ and the upload directory .deploy/incoming/ are on one filesystem')
}

/** Free space (KiB, as df -k says it) in format.ts's units. */
function kib(n: number): string {
  return bytes(n * 1024)
}

function spaceCheck(reply: ScriptReply, ctx: DoctorContext): DoctorCheck {
  const name = 'free space'
  const [kb = '', total = '', free = ''] = first(reply, 'df').split(' ')
  const freeKb = Number(kb)
  if (kb === '' || !Number.isFinite(freeKb))
    return bad(name, `df could not measure ${ctx.target}`, 'Check that df works on the server.')
  const noTable = Number(total) === 0
  const inodes = Number(free)
  const detail = `${kib(freeKb)} and ${noTable ? 'no inode limit' : `${inodes} inodes`} free`
  const fix = `Free space on the server: prune old releases (${(ctx.words ?? ACTION_WORDS).command('prune')}) or grow the disk.`
  if (freeKb < MIN_FREE_KB) return bad(name, `only ${detail} (at least ${kib(MIN_FREE_KB)} needed)`, fix)
  if (!noTable && Number.isFinite(inodes) && inodes < MIN_FREE_INODES) {
    return bad(name, `only ${detail} (at least ${MIN_FREE_INODES} inodes needed)`, fix)
  }
  return ok(name, detail)
}

const RENAME_TOOLS: Record<string, string> = {
  gnu: 'mv -T',
  bsd: 'mv -h',
  perl: 'perl rename()',
  python: 'python3 os.rename()',
}

function renameCheck(reply: ScriptReply): DoctorCheck {
  const name = 'atomic switch'
  const tool = RENAME_TOOLS[first(reply, 'mv-kind')]
  if (tool) return ok(name, `renames the link with ${tool}`)
  return bad(
    name,
    'the server cannot rename a link over another atomically: its mv has no -T or -h, and there is neither perl nor python3',
    `${remoteErrorHint('no-rename', { target: '', linkName: '', user: '' })} Install one of them on the server (e.g. apt-get install coreutils, apk add coreutils, or perl).`,
  )
}

function linkCheck(parts: Map<string, Part>, reply: ScriptReply, ctx: DoctorContext): DoctorCheck {
  const name = ctx.linkName
  const link = parts.get('link')
  const path = `${ctx.target}/${ctx.linkName}`
  if (!link || link.kind === 'missing')
    return ok(name, `${path} does not exist yet: the first deploy creates it`)
  if (link.kind === 'symlink') {
    const to = first(reply, 'link-to')
    const inReleases = /^releases\/[^/]+$/.test(to) || to.startsWith(`${ctx.target}/releases/`)
    return ok(
      name,
      `${path} -> ${to}${inReleases ? '' : ' (outside releases/: the next deploy replaces it)'}`,
    )
  }
  return bad(
    name,
    `${path} is a real ${link.kind === 'dir' ? 'directory' : 'file'}, not a symlink: a deploy cannot switch it`,
    remoteErrorHint('link-not-symlink', { target: ctx.target, linkName: ctx.linkName, user: ctx.user }),
  )
}

function lockCheck(reply: ScriptReply, ctx: DoctorContext): DoctorCheck {
  const name = 'lock'
  const owner = first(reply, 'lock-owner').trim()
  if (reply.values.has('lock-held')) {
    return bad(
      name,
      `held by another run: ${owner}`,
      remoteErrorHint('locked', {
        target: ctx.target,
        linkName: ctx.linkName,
        user: ctx.user,
        words: ctx.words,
      }),
    )
  }
  if (reply.values.has('lock-stale')) {
    return ok(name, `a stale lock (${first(reply, 'lock-stale')}): the next deploy takes it over (${owner})`)
  }
  return ok(name, 'free')
}

/** The server's reply to the DOCTOR script → its checks, in the order a deploy meets them. Pure. */
export function doctorChecks(reply: ScriptReply, ctx: DoctorContext): DoctorCheck[] {
  const parts = readParts(reply)
  const me = first(reply, 'user').split(' ')[0] || ctx.user || 'the deploy user'
  return [
    shellCheck(reply),
    localRsyncCheck(ctx.local),
    serverRsyncCheck(reply),
    targetCheck(parts, reply, ctx, me),
    filesystemCheck(parts, ctx),
    spaceCheck(reply, ctx),
    renameCheck(reply),
    linkCheck(parts, reply, ctx),
    lockCheck(reply, ctx),
  ]
}

/** A connection (or a call) that failed → the checks it answers: host key, login, login shell. */
export function connectionChecks(err: DeployError, trustedBy: string): DoctorCheck[] {
  const say = (e: DeployError) => e.message.replace(/\n[\s\S]*$/, '')
  if (HOST_KEY_CODES.has(err.code)) return [bad('host key', say(err), err.hint)]
  const hostKey = ok('host key', `matches ${trustedBy}`)
  if (LOGIN_CODES.has(err.code)) return [hostKey, bad('login', say(err), err.hint)]
  if (err.code === 'login-shell')
    return [hostKey, ok('login', 'the key was accepted'), bad('login shell', say(err), err.hint)]
  return [bad('connection', say(err), err.hint)]
}

async function localRsync(): Promise<LocalRsync> {
  try {
    const p = await findRsync(onPath('rsync'))
    const r = await run(p, ['--version'], { signal: AbortSignal.timeout(10_000) })
    return { path: p, version: (r.stdout.split('\n')[0] ?? '').replace(/\s+/g, ' ').trim() }
  } catch (e) {
    return { problem: toDeployError(e) }
  }
}

/** How many checks failed, over all hosts; and the error a front end reports (its code sets the exit code). */
export function doctorFailure(
  report: HostChecks[],
  connectionErrors: DeployError[],
): DeployError | undefined {
  const failed = report.flatMap((h) => h.checks.filter((c) => !c.ok).map((c) => `${h.host}: ${c.name}`))
  if (failed.length === 0) return undefined
  const message = `doctor: ${failed.length} check${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')}).`
  const hint = 'Fix what each ✗ line says, then run doctor again.'
  // A host we could not reach or log in to is the worst: its code (a connection error) decides.
  return new DeployError(message, hint, connectionErrors[0]?.code ?? 'doctor-failed')
}

/**
 * Whether the key is gated (a forced command, gate.ts): a fact, not a fault, so ✓ either way; the
 * detail says what a stolen key could do.
 */
export function accessCheck(gate: GateInfo | undefined, target: string): DoctorCheck {
  return gate
    ? ok('access', `key is gated: rsync-atomic-deploy-gate ${gate.version} lets it only deploy to ${target}`)
    : ok(
        'access',
        'key is not gated: it can run any command as the deploy user (README "Least privilege": init --gate)',
      )
}

/** command: doctor on every host; never throws for a host's problem (it becomes a ✗). */
export async function runDoctor(core: RunContext): Promise<{
  releaseId: string
  hosts: HostResult[]
  rolledBack: boolean
  error: DeployError | undefined
  releases: []
  doctor: HostChecks[]
}> {
  const s = core.settings
  const local = await localRsync()
  const ownSetup = s.key === '' || (s.trusted.lines.length === 0 && s.trusted.fingerprints.length === 0)
  const trustedBy = s.acceptUnknownHostKey
    ? 'the key learned on first use (accept-unknown-host-key)'
    : ownSetup
      ? 'your known_hosts'
      : (core.words ?? ACTION_WORDS).input('known-hosts')
  const connectionErrors: DeployError[] = []
  const results = await pool(s.hosts, s.maxParallel, async (spec, i) => {
    const start = Date.now()
    const session = new HostSession(core, i, spec)
    const result = blankResult(spec.label, '')
    let checks: DoctorCheck[]
    try {
      await core.ssh.connect(i, spec.label, core.signal)
      const reply = await session.call('doctor', { ID: '' })
      checks = [
        ok('host key', `matches ${trustedBy}`),
        ok('login', `as ${first(reply, 'user').split(' ')[0] || spec.user}`),
        accessCheck(session.gate, s.target),
        ...doctorChecks(reply, {
          target: s.target,
          linkName: s.linkName,
          user: spec.user,
          trustedBy,
          local,
          words: core.words,
        }),
      ]
      const to = first(reply, 'link-to')
      const id = /^releases\/([^/]+)$/.exec(to)?.[1] ?? ''
      setLive(result, s.target, id)
      result.status = 'not-switched'
    } catch (e) {
      const err = toDeployError(e)
      if (err.code === 'cancelled') throw err
      if (err.code !== 'login-shell') connectionErrors.push(err)
      checks = [...connectionChecks(err, trustedBy), localRsyncCheck(local)]
      result.error = err.message
    }
    result.durationMs = Date.now() - start
    return { result, checks: { host: spec.label, checks } }
  })
  const doctor = results.map((r) => r.checks)
  return {
    releaseId: results[0]?.result.releaseId ?? '',
    hosts: results.map((r) => r.result),
    rolledBack: false,
    error: doctorFailure(doctor, connectionErrors),
    releases: [],
    doctor,
  }
}
