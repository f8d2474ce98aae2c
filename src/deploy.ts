import { DeployError } from './errors.js'
import { explainRsyncExit } from './hints.js'
import { type LogEntry, type LogEvent, logLine, parseLog, releasesToPrune } from './history.js'
import { all, first, type ScriptReply } from './remote.js'
import { itemizedFiles, parseStats, runRsync } from './rsync.js'
import { type Core, HostSession, pool } from './session.js'

export type HostStatus =
  | 'deployed'
  | 'uploaded'
  | 'dry-run'
  | 'failed'
  | 'not-switched'
  | 'reverted'
  | 'rolled-back'

/** One host's outcome: the fields of the `hosts` output. */
export interface HostResult {
  host: string
  releaseId: string
  releasePath: string
  previousReleaseId: string
  bytesSent: number
  filesTransferred: number
  filesLinked: number
  durationMs: number
  status: HostStatus
  error: string
  freeKb: number
  /** Disk the new release added (hard links to the previous one cost nothing), in KiB. */
  diskKb: number
  pruned: string[]
}

export interface DeployOutcome {
  releaseId: string
  hosts: HostResult[]
  rolledBack: boolean
  error: DeployError | undefined
  /** Hosts whose state could not be read back after a call was cut short: what they serve is unknown. */
  unconfirmed?: string[]
}

/** What a server told us about its deploy root. */
export interface ServerState {
  live: string
  releases: string[]
  log: LogEntry[]
  freeKb: number
}

/** The upload dir of this attempt in .deploy/incoming (activate: what command: upload left). */
export function incomingName(s: { command: string; releaseId: string }, token: string): string {
  return s.command === 'activate' ? stagedName(s.releaseId) : `${s.releaseId}.${token.slice(0, 8)}`
}

/** Where command: upload leaves a finished upload for command: activate. */
export function stagedName(releaseId: string): string {
  return `${releaseId}.staged`
}

const SAFE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/

export function readServerState(reply: ScriptReply): ServerState {
  const live = first(reply, 'live')
  return {
    live: SAFE_NAME_RE.test(live) ? live : '',
    releases: all(reply, 'release').filter((r) => SAFE_NAME_RE.test(r)),
    log: parseLog(all(reply, 'log')),
    freeKb: Number(first(reply, 'free-kb')) || 0,
  }
}

export function toDeployError(err: unknown): DeployError {
  if (err instanceof DeployError) return err
  return new DeployError(err instanceof Error ? err.message : String(err))
}

/** A short-lived signal for clean-up after the main one was aborted (timeout, cancel). */
export function cleanupSignal(): AbortSignal {
  return AbortSignal.timeout(30_000)
}

/** The bound of the clean-up after giving up (stop, read back, unlock): the step ends within timeout + 10 s. */
export function giveUpSignal(): AbortSignal {
  return AbortSignal.timeout(6_000)
}

export function newEntry(core: Core, host: string, release: string, event: LogEvent, from: string): LogEntry {
  const m = core.settings.meta
  return {
    release,
    event,
    time: new Date().toISOString(),
    from: from || undefined,
    sha: m.sha,
    ref: m.ref,
    actor: m.actor,
    run: m.runUrl,
    host,
  }
}

interface HostRun {
  session: HostSession
  start: number
  /** Name of our upload in .deploy/incoming: unique per attempt. */
  incoming: string
  state: ServerState | undefined
  leftovers: string[]
  /** Shared paths that already live in TARGET/shared (not uploaded again). */
  sharedExisting: string[]
  locked: boolean
  /** prepare was started: the lock may be ours even without its reply (cut short). */
  touched: boolean
  /** The log line sent with the switch, so recover can tell whether it was written. */
  logLine: string
  /** What this host serves could not be read back after a call was cut short. */
  unconfirmed: boolean
  /** Our release was renamed into releases/ (not yet live, for a fleet waiting to switch). */
  published: boolean
  switched: boolean
  result: HostResult
}

export function blankResult(host: string, releaseId: string, target: string): HostResult {
  return {
    host,
    releaseId,
    releasePath: releaseId ? `${target}/releases/${releaseId}` : '',
    previousReleaseId: '',
    bytesSent: 0,
    filesTransferred: 0,
    filesLinked: 0,
    durationMs: 0,
    status: 'failed',
    error: '',
    freeKb: 0,
    diskKb: 0,
    pruned: [],
  }
}

async function connect(core: Core, run: HostRun): Promise<void> {
  await core.ssh.connect(run.session.index, run.session.label, core.signal)
  if (core.settings.acceptUnknownHostKey && core.settings.trusted.lines.length === 0) {
    const learned = await core.ssh.learnedHostKeys()
    if (learned.trim()) {
      core.reporter.warning(
        `Trusted ${run.session.label} on first use (accept-unknown-host-key). Pin its key: set known-hosts to\n${learned.trim()}`,
      )
    }
  }
}

/** Step 1: one remote call: layout, checks, lock, live release, free space, a fresh upload dir. */
async function prepare(core: Core, run: HostRun): Promise<void> {
  const other: string[] = []
  // Said before the call: if we are killed before its reply, the post step still looks.
  run.touched = true
  core.onLock?.(run.session.index, true)
  const reply = await run.session
    .call(
      'prepare',
      {
        ID: core.settings.releaseId,
        // activate uploads nothing: it checks that command: upload left the release waiting.
        INCOMING: core.settings.command === 'activate' ? '' : run.incoming,
        STAGED: core.settings.command === 'activate' ? stagedName(core.settings.releaseId) : '',
        SHARED: core.settings.shared.join('\n'),
      },
      { onOther: (l) => other.push(l) },
    )
    .catch((e) => {
      // A reply that says it failed: the script gave the lock back itself.
      const code = toDeployError(e).code
      if (!core.signal.aborted && code !== 'connection-lost') core.onLock?.(run.session.index, false)
      throw e
    })
  run.sharedExisting = all(reply, 'shared-exists')
  run.locked = true
  core.onLock?.(run.session.index, true)
  run.state = readServerState(reply)
  run.leftovers = all(reply, 'leftover').filter((l) => SAFE_NAME_RE.test(l) && l !== run.incoming)
  run.result.previousReleaseId = run.state.live
  run.result.freeKb = run.state.freeKb
  if (other.length > 0) {
    // Text printed by a shell startup file corrupts rsync's protocol stream (exit 12): say so now.
    await dropUpload(core, run)
    throw new DeployError(
      `${run.session.label}: the login shell prints text for non-interactive sessions, which breaks rsync: ${other.slice(0, 3).join(' | ')}`,
      'Make ~/.bashrc (or .profile, .cshrc…) print nothing when not interactive, e.g. start it with: [ -z "$PS1" ] && return',
      'shell-not-clean',
    )
  }
  core.reporter.info(
    `${run.session.label}: live release ${run.state.live || '(none yet)'}; ${run.state.releases.length} release(s) on disk; ${Math.round(run.state.freeKb / 1024)} MiB free`,
  )
}

/** Gives the lock back and deletes this attempt's upload dir, when nothing in it is worth resuming. */
async function dropUpload(core: Core, run: HostRun): Promise<void> {
  try {
    await run.session.call(
      'releaseLock',
      { FORCE: 0, DISCARD: run.incoming, UNPUBLISH: '' },
      { signal: cleanupSignal() },
    )
    run.locked = false
    core.onLock?.(run.session.index, false)
  } catch {
    // releaseLocks tries the lock again at the end.
  }
}

/** Step 2: rsync into .deploy/incoming/<id>.<token>, hard-linking what the live release already has. */
async function upload(core: Core, run: HostRun): Promise<void> {
  const s = core.settings
  const live = run.state?.live ?? ''
  // Absolute paths (prepare checked that they exist): rsync 3.4+ walks a relative --link-dest from
  // the destination for every file, which cost ~0.2 s per 10,000 files in the benchmark.
  const linkDest: string[] = []
  // A --link-dest that does not exist only makes rsync warn and send everything: say so ourselves.
  if (live && !run.state?.releases.includes(live)) {
    core.reporter.warning(
      `${run.session.label}: the live release ${live} is missing from releases/; uploading everything`,
    )
  } else if (live) linkDest.push(`${s.target}/releases/${live}`)
  // A leftover from an attempt that failed half-way (a re-run): what it already holds is not sent again.
  for (const l of run.leftovers) linkDest.push(`${s.target}/.deploy/incoming/${l}`)
  let lastProgress = 0
  const started = Date.now()
  const remote = core.ssh.rsyncRemote(run.session.index, `${s.target}/.deploy/incoming/${run.incoming}/`)
  const result = await runRsync(
    core.rsyncPath,
    {
      source: s.source,
      destination: remote.destination,
      linkDest,
      chmod: s.chmod,
      exclude: [...s.exclude, ...run.sharedExisting.map((p) => `/${p}`)],
      filter: s.filter,
      rsh: remote.rsh,
      dryRun: false,
      ioTimeout: 120,
      progress: true,
    },
    {
      signal: core.signal,
      onStdout: (chunk) => {
        const line = chunk
          .split(/[\r\n]/)
          .filter((l) => /%/.test(l))
          .pop()
        // A live progress line where the caller can draw one (the CLI on a terminal).
        if (line) core.reporter.progress?.(run.session.label, line.trim())
        const now = Date.now()
        if (now - lastProgress < 10_000 || now - started < 10_000) return
        if (line) {
          lastProgress = now
          core.reporter.info(`${run.session.label}: ${line.trim()}`)
        }
      },
    },
  )
  if (result.aborted) throw new DeployError(`${run.session.label}: upload cancelled.`, '', 'cancelled')
  if (result.code !== 0) {
    // A partial upload on a full disk would keep it full (and the live site with it): delete it.
    const full = /No space left on device|Disk quota exceeded/i.test(result.stderr)
    if (full) await dropUpload(core, run)
    throw new DeployError(
      `${run.session.label}: upload failed. ${explainRsyncExit(result.code, result.stderr)}${full ? '\nThe partial upload was deleted to give the space back.' : ''}`,
      '',
      'rsync',
    )
  }
  const stats = parseStats(result.stdout)
  Object.assign(run.result, {
    bytesSent: stats.bytesSent,
    filesTransferred: stats.filesTransferred,
    filesLinked: stats.filesLinked,
  })
  core.reporter.info(
    `${run.session.label}: uploaded ${stats.files} files: ${stats.filesTransferred} sent, ${stats.filesLinked} hard-linked to the live release; ${stats.bytesSent} bytes on the wire`,
  )
}

/** Dry run: the same checks without the lock or any write, and what would be sent. */
async function dryRun(core: Core, run: HostRun): Promise<void> {
  const s = core.settings
  const reply = await run.session.call('inspect', { TAKE_LOCK: 0, CHECK_DEPLOY: 1, ID: s.releaseId })
  run.state = readServerState(reply)
  run.result.previousReleaseId = run.state.live
  run.result.freeKb = run.state.freeKb
  const lock = first(reply, 'locked-by')
  if (lock)
    core.reporter.warning(`${run.session.label}: the target is locked by ${lock}; a deploy would wait for it`)
  const live = run.state.live
  // Compared by checksum against the live release: exactly what a deploy would send.
  const dest = live ? `${s.target}/releases/${live}/` : `${s.target}/.deploy/incoming/dry-run.${core.token}/`
  const remote = core.ssh.rsyncRemote(run.session.index, dest)
  const result = await runRsync(
    core.rsyncPath,
    {
      source: s.source,
      destination: remote.destination,
      linkDest: [],
      chmod: s.chmod,
      exclude: [...s.exclude, ...s.shared.map((p) => `/${p}`)],
      filter: s.filter,
      rsh: remote.rsh,
      dryRun: true,
      ioTimeout: 120,
      progress: false,
    },
    { signal: core.signal },
  )
  if (result.code !== 0) {
    throw new DeployError(
      `${run.session.label}: dry run failed. ${explainRsyncExit(result.code, result.stderr)}`,
    )
  }
  const items = itemizedFiles(result.stdout).filter((l) => l[1] === 'f')
  const stats = parseStats(result.stdout)
  run.result.filesTransferred = items.length
  run.result.filesLinked = Math.max(0, stats.files - items.length)
  run.result.status = 'dry-run'
  core.reporter.info(
    `${run.session.label}: dry run: would send ${items.length} of ${stats.files} files, hard-link the rest, and switch ${s.linkName} from ${live || '(nothing)'} to releases/${s.releaseId}\n${items.slice(0, 200).join('\n')}${items.length > 200 ? `\n… and ${items.length - 200} more` : ''}`,
  )
}

/** Streams what a hook prints on the server into the log, line by line, prefixed with the host. */
function hookOutput(core: Core, label: string): (chunk: string) => void {
  let rest = ''
  return (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop() ?? ''
    for (const l of lines) core.reporter.info(`${label} | ${l}`)
  }
}

/**
 * Step 3: one remote call: publish (rename), link shared paths, before-switch, switch (rename a
 * fresh link over the old one), log, prune; the lock is kept when more steps follow.
 */
async function publishAndSwitch(
  core: Core,
  run: HostRun,
  keepLock: boolean,
  doSwitch: boolean,
): Promise<void> {
  const s = core.settings
  let reply: ScriptReply
  try {
    reply = await run.session.call(
      'publishAndSwitch',
      {
        ...goLiveVars(core, run),
        INCOMING: run.incoming,
        SHARED: s.shared.join('\n'),
        BEFORE_SWITCH: s.beforeSwitch,
        SWITCH: doSwitch ? 1 : 0,
        KEEP_LOCK: keepLock ? 1 : 0,
      },
      { onStderr: hookOutput(core, run.session.label) },
    )
  } catch (e) {
    await afterLostConnection(core, run, keepLock && doSwitch, e)
    return
  }
  run.published = true
  if (!keepLock) {
    run.locked = false
    core.onLock?.(run.session.index, false)
  }
  if (doSwitch) wentLive(core, run, reply)
  else
    core.reporter.info(
      `${run.session.label}: release ${s.releaseId} published; waiting for every host before the switch`,
    )
}

/** The values go_live needs on the server: what to log, what to prune, what to measure against. */
function goLiveVars(core: Core, run: HostRun): Record<string, string | number> {
  const s = core.settings
  const state = run.state as ServerState
  const entry = newEntry(core, run.session.label, s.releaseId, 'deploy', '')
  const prune = releasesToPrune(
    [...state.log, entry],
    [...state.releases, s.releaseId],
    s.releaseId,
    s.keepReleases,
  )
  run.logLine = logLine(entry)
  return { ID: s.releaseId, PREV: state.live, LOGLINE: run.logLine, PRUNE: prune.join(' '), MEASURE: 1 }
}

/** What recover read back on a host. */
interface Recovered {
  live: string
  switched: boolean
  lock: 'kept' | 'released' | 'not-ours'
}

/**
 * After a call we gave up on or lost: over a new connection, stop what of ours still runs there,
 * then read what the server serves and whether the lock is ours (see RECOVER in remote.ts).
 */
async function recover(core: Core, run: HostRun, keepLock: boolean): Promise<Recovered> {
  const s = core.settings
  run.session.fresh = true
  const reply = await run.session.call(
    'recover',
    {
      ID: s.command === 'deploy' || s.command === 'activate' ? s.releaseId : '',
      INCOMING: run.incoming,
      LOGLINE: run.logLine,
      KEEP_LOCK: keepLock ? 1 : 0,
    },
    { signal: giveUpSignal() },
  )
  const live = readServerState(reply).live
  const word = first(reply, 'lock').split(' ')[0]
  const lock = word === 'kept' || word === 'released' ? word : 'not-ours'
  run.locked = lock === 'kept'
  core.onLock?.(run.session.index, run.locked)
  const switched = s.releaseId !== '' && live === s.releaseId
  if (switched) {
    run.published = true
    run.switched = true
  }
  run.unconfirmed = false
  return { live, switched, lock }
}

/** A sentence on what the server serves after recover. */
function serving(core: Core, found: Recovered): string {
  const s = core.settings
  const lock =
    found.lock === 'not-ours'
      ? 'the deploy lock is no longer ours'
      : found.lock === 'kept'
        ? 'the lock is still ours'
        : 'the lock was released'
  return `${s.target}/${s.linkName} serves ${found.live ? `releases/${found.live}` : 'nothing'}${found.switched ? ` (the new release ${s.releaseId})` : ''}; ${lock}`
}

/**
 * The connection dropped during publish/switch: the reply is lost, not what the server did. Find
 * out over a new connection, then go on as if the reply had come (switched: after-switch and the
 * health check follow) or fail saying exactly what is served.
 */
async function afterLostConnection(core: Core, run: HostRun, keepLock: boolean, e: unknown): Promise<void> {
  const err = toDeployError(e)
  if (err.code !== 'connection-lost' || core.signal.aborted) throw err
  const s = core.settings
  const label = run.session.label
  core.reporter.warning(
    `${label}: the connection dropped during the switch; reconnecting to see what the server did`,
  )
  let found: Recovered
  try {
    found = await recover(core, run, keepLock)
  } catch (e2) {
    run.unconfirmed = true
    throw new DeployError(
      `${label}: the connection dropped during the switch and reconnecting failed (${toDeployError(e2).message}): ${s.target}/${s.linkName} may serve ${s.releaseId} or ${run.state?.live || 'nothing'}.`,
      'Run command: list (and command: unlock if needed) to see what is live before deploying again.',
      'connection-lost',
    )
  }
  core.reporter.info(`${label}: after reconnecting: ${serving(core, found)}`)
  if (found.switched) {
    run.result.status = 'deployed'
    core.reporter.info(
      `${label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); the switch completed before the connection dropped`,
    )
    return
  }
  throw new DeployError(
    `${label}: the connection dropped before the switch; nothing was switched: ${serving(core, found)}.`,
    'Check the network to the server, then deploy again (the upload is kept and resumes).',
    'connection-lost',
  )
}

function wentLive(core: Core, run: HostRun, reply: ScriptReply): void {
  const s = core.settings
  run.switched = first(reply, 'switched') === s.releaseId
  run.result.pruned = all(reply, 'pruned')
  run.result.diskKb = Number(first(reply, 'disk-kb')) || 0
  run.result.status = 'deployed'
  core.reporter.info(
    `${run.session.label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); the new release added ${run.result.diskKb} KiB on disk${run.result.pruned.length ? `; pruned ${run.result.pruned.join(', ')}` : ''}`,
  )
}

/** Fleets, phase 2b: every host published; now each switches (the lock is still ours). */
async function switchHost(core: Core, run: HostRun): Promise<void> {
  let reply: ScriptReply
  try {
    reply = await run.session.call('switchTo', { ...goLiveVars(core, run), TAKE: 0, KEEP_LOCK: 1 })
  } catch (e) {
    await afterLostConnection(core, run, true, e)
    return
  }
  wentLive(core, run, reply)
}

/** Step 4 on one host: the after-switch hook, in the live release. */
async function afterSwitch(core: Core, run: HostRun): Promise<void> {
  const s = core.settings
  await run.session.call(
    'afterSwitch',
    { ID: s.releaseId, PREV: run.state?.live ?? '', AFTER_SWITCH: s.afterSwitch },
    { onStderr: hookOutput(core, run.session.label) },
  )
}

/** GETs the URL from the runner until it answers 2xx, backing off, within a bound. */
export async function healthcheck(
  url: string,
  opts: { signal: AbortSignal; boundMs?: number; reporter: Core['reporter'] },
): Promise<void> {
  const deadline = Date.now() + (opts.boundMs ?? 60_000)
  let wait = 1000
  let last = ''
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(10_000)]),
        redirect: 'follow',
        headers: { 'user-agent': 'rsync-atomic-deploy healthcheck' },
      })
      await res.arrayBuffer().catch(() => undefined)
      if (res.status >= 200 && res.status < 300) {
        opts.reporter.info(`Health check ${url}: ${res.status} (attempt ${attempt})`)
        return
      }
      last = `HTTP ${res.status}`
    } catch (e) {
      // Stopped by the step's timeout: keep the server's last answer, not the abort.
      if (opts.signal.aborted && last) break
      last = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)
    }
    if (opts.signal.aborted || Date.now() + wait > deadline) break
    opts.reporter.info(`Health check ${url}: ${last}; trying again in ${wait / 1000} s`)
    // The wait ends early when the step times out or is cancelled.
    await new Promise<void>((r) => {
      const t = setTimeout(r, wait)
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t)
          r()
        },
        { once: true },
      )
    })
    wait = Math.min(wait * 2, 10_000)
  }
  throw new DeployError(
    `Health check failed: ${url} did not answer 2xx (last answer: ${last}).`,
    'Check the URL and what the new release serves; the job log above shows the after-switch output.',
    'healthcheck',
  )
}

/** Puts the link back on the release that was live before, marking ours bad. */
async function revert(core: Core, run: HostRun, why: string): Promise<void> {
  const s = core.settings
  const previous = run.state?.live ?? ''
  if (!previous) {
    core.reporter.warning(`${run.session.label}: nothing was live before ${s.releaseId}; it stays live`)
    return
  }
  const entry = newEntry(core, run.session.label, previous, 'revert', s.releaseId)
  await run.session.call(
    'switchTo',
    // A failed check after the switch leaves the lock ours: take it only when we no longer hold it.
    {
      ID: previous,
      PREV: '',
      LOGLINE: logLine(entry),
      PRUNE: '',
      MEASURE: 0,
      TAKE: run.locked ? 0 : 1,
      KEEP_LOCK: 0,
    },
    // After a timeout or cancel, within the bound the step promises (timeout + 10 s).
    { signal: core.signal.aborted ? giveUpSignal() : cleanupSignal() },
  )
  run.locked = false
  core.onLock?.(run.session.index, false)
  run.result.status = 'reverted'
  core.reporter.warning(`${run.session.label}: switched back to ${previous} (${why})`)
}

/** command: upload: leave the finished upload waiting under a name activate knows. */
async function stage(core: Core, run: HostRun): Promise<void> {
  await run.session.call('stage', {
    ID: core.settings.releaseId,
    INCOMING: run.incoming,
    STAGED: stagedName(core.settings.releaseId),
  })
  run.locked = false
  core.onLock?.(run.session.index, false)
  core.reporter.info(
    `${run.session.label}: release ${core.settings.releaseId} uploaded; run command: activate to make it live`,
  )
}

export function fleetFailure(failures: DeployError[], total: number, what: string): DeployError | undefined {
  if (failures.length === 0) return undefined
  if (total === 1) return failures[0]
  return new DeployError(
    `${what} failed on ${failures.length} of ${total} hosts.\n${failures.map((f) => f.message).join('\n')}`,
    failures[0]?.hint ?? '',
    failures[0]?.code ?? 'failed',
  )
}

/** Releases our lock where we still hold it; a fleet also drops its uploads (all or nothing). */
async function releaseLocks(core: Core, runs: HostRun[], discardUploads: boolean): Promise<void> {
  if (core.signal.aborted) {
    await giveUp(core, runs)
    return
  }
  await Promise.all(
    runs
      .filter((r) => r.locked)
      .map(async (r) => {
        try {
          await r.session.call(
            'releaseLock',
            {
              FORCE: 0,
              DISCARD: discardUploads ? r.incoming : '',
              UNPUBLISH: discardUploads && r.published && !r.switched ? core.settings.releaseId : '',
            },
            { signal: cleanupSignal() },
          )
          r.locked = false
          core.onLock?.(r.session.index, false)
        } catch (e) {
          core.reporter.warning(
            `${r.session.label}: could not release the deploy lock: ${toDeployError(e).message}`,
          )
        }
      }),
  )
}

/**
 * Timeout or cancel: on every host where the lock may be ours, stop what still runs, read back
 * what is served and release the lock, within a short bound. What is reported is what was found.
 */
async function giveUp(core: Core, runs: HostRun[]): Promise<void> {
  const s = core.settings
  await Promise.all(
    runs
      // prepare cut short may have taken the lock; after it, `locked` is known.
      .filter((r) => r.locked || (r.touched && r.state === undefined))
      .map(async (r) => {
        const label = r.session.label
        try {
          const found = await recover(core, r, false)
          if (found.switched) {
            r.result.status = 'deployed'
            core.reporter.warning(
              `${label}: ${s.releaseId} had gone live before the step was stopped (after-switch and the health check did not run): ${serving(core, found)}`,
            )
          } else {
            if (r.result.status === 'deployed') r.result.status = 'failed'
            r.switched = false
            core.reporter.info(`${label}: stopped on the server: ${serving(core, found)}`)
          }
        } catch (e) {
          r.unconfirmed = true
          core.reporter.warning(
            `${label}: could not reach the server to stop the deploy and release the lock (${toDeployError(e).message}); the post step (or command: unlock) tries again`,
          )
        }
      }),
  )
}

/**
 * The deploy of DESIGN §3 over every host: connect, prepare and upload everywhere (bounded
 * parallelism); only if all of that succeeded, publish and switch everywhere; if any switch fails,
 * the hosts already switched go back. All hosts end on the same release, or on the one they had.
 */
export async function runDeploy(core: Core): Promise<DeployOutcome> {
  const s = core.settings
  const runs: HostRun[] = s.hosts.map((spec, i) => ({
    session: new HostSession(core, i, spec),
    start: Date.now(),
    incoming: `${s.releaseId}.${core.token.slice(0, 8)}`,
    state: undefined,
    leftovers: [],
    sharedExisting: [],
    locked: false,
    touched: false,
    logLine: '',
    unconfirmed: false,
    published: false,
    switched: false,
    result: blankResult(spec.label, s.releaseId, s.target),
  }))
  const outcome: DeployOutcome = {
    releaseId: s.releaseId,
    hosts: runs.map((r) => r.result),
    rolledBack: false,
    error: undefined,
    get unconfirmed() {
      return runs.filter((r) => r.unconfirmed).map((r) => r.session.label)
    },
  }
  const failures: DeployError[] = []
  const stamp = (r: HostRun) => {
    r.result.durationMs = Date.now() - r.start
  }
  // Log groups do not nest: with hosts in parallel, lines carry the host name instead.
  const group = <T>(name: string, fn: () => Promise<T>): Promise<T> =>
    runs.length === 1 ? core.reporter.group(name, fn) : fn()

  // Runs one step on one host; a failure is recorded on the host and collected, never thrown.
  const step = async (r: HostRun, name: string, fn: () => Promise<void>): Promise<boolean> => {
    let ok = true
    try {
      await group(`${r.session.label}: ${name}`, fn)
    } catch (e) {
      const err = toDeployError(e)
      r.result.status = 'failed'
      r.result.error = err.message
      failures.push(err)
      ok = false
    }
    stamp(r)
    return ok
  }
  const noHostSwitched = () =>
    s.hosts.length === 1
      ? failures[0]
      : new DeployError(
          `${failures.length} of ${s.hosts.length} hosts failed before the switch; no host was switched.\n${failures.map((f) => f.message).join('\n')}`,
          failures[0]?.hint ?? '',
          failures[0]?.code ?? 'failed',
        )

  await pool(runs, s.maxParallel, async (r) => {
    r.start = Date.now()
    if (!(await step(r, 'connect and check', () => connect(core, r)))) return
    if (s.dryRun) {
      await step(r, 'dry run', () => dryRun(core, r))
      return
    }
    if (!(await step(r, 'prepare', () => prepare(core, r)))) return
    if (s.command === 'activate') r.incoming = stagedName(s.releaseId)
    else if (!(await step(r, 'upload', () => upload(core, r)))) return
    r.result.status = 'uploaded'
  })

  if (s.dryRun || failures.length > 0) {
    await releaseLocks(core, runs, s.hosts.length > 1 && s.command === 'deploy')
    for (const r of runs) if (r.result.status === 'uploaded') r.result.status = 'not-switched'
    outcome.error = failures.length > 0 ? noHostSwitched() : undefined
    return outcome
  }

  if (s.command === 'upload') {
    await Promise.all(runs.map((r) => stage(core, r).catch((e) => failures.push(toDeployError(e)))))
    await releaseLocks(core, runs, false)
    outcome.error = fleetFailure(failures, s.hosts.length, 'Upload')
    return outcome
  }

  // Hold the lock past the switch when more steps follow, so nothing else deploys in between.
  const after = s.afterSwitch !== '' || s.healthcheckUrl !== ''
  const fleet = runs.length > 1
  if (!fleet) {
    const r = runs[0] as HostRun
    await step(r, 'publish and switch', () => publishAndSwitch(core, r, after, true))
  } else {
    // A fleet publishes (and runs before-switch) everywhere first: one failure and no host switches.
    await Promise.all(runs.map((r) => step(r, 'publish', () => publishAndSwitch(core, r, true, false))))
    if (failures.length > 0) {
      await releaseLocks(core, runs, s.command === 'deploy')
      for (const r of runs) if (r.result.status !== 'failed') r.result.status = 'not-switched'
      outcome.error = noHostSwitched()
      return outcome
    }
    await Promise.all(runs.map((r) => step(r, 'switch', () => switchHost(core, r))))
  }
  if (failures.length === 0 && after) {
    await Promise.all(
      runs.map(async (r) => {
        if (!s.afterSwitch) return
        try {
          await group(`${r.session.label}: after-switch`, () => afterSwitch(core, r))
        } catch (e) {
          const err = toDeployError(e)
          r.result.error = err.message
          failures.push(err)
        }
      }),
    )
    if (failures.length === 0 && s.healthcheckUrl) {
      try {
        await healthcheck(s.healthcheckUrl, { signal: core.signal, reporter: core.reporter })
      } catch (e) {
        failures.push(toDeployError(e))
      }
    }
    if (failures.length > 0 && !s.rollbackOnFailure) {
      core.reporter.warning(
        `The new release stays live (rollback-on-failure: false) although: ${failures[0]?.message}`,
      )
    }
  }
  const switchFailed = runs.some((r) => r.result.status === 'failed')
  if (failures.length > 0 && (switchFailed || s.rollbackOnFailure)) {
    // All or nothing: hosts that did switch go back to what they served before.
    for (const r of runs.filter((x) => x.switched)) {
      try {
        await revert(
          core,
          r,
          switchFailed ? 'another host failed to switch' : (failures[0]?.message ?? 'a check failed'),
        )
        outcome.rolledBack = true
      } catch (e) {
        core.reporter.warning(`${r.session.label}: could not switch back: ${toDeployError(e).message}`)
      }
    }
  }
  await releaseLocks(core, runs, false)
  for (const r of runs) stamp(r)
  if (failures.length > 0) {
    outcome.error = failures[0]
    if (s.hosts.length > 1) {
      outcome.error = new DeployError(
        `${switchFailed ? 'The switch' : 'A check after the switch'} failed on ${failures.length} of ${s.hosts.length} hosts${outcome.rolledBack ? '; the hosts were switched back' : ''}.\n${failures.map((f) => f.message).join('\n')}`,
        failures[0]?.hint ?? '',
        failures[0]?.code ?? 'failed',
      )
    } else if (outcome.rolledBack && outcome.error) {
      outcome.error = new DeployError(
        `${outcome.error.message}\nThe previous release ${runs[0]?.state?.live} is live again.`,
        outcome.error.hint,
        outcome.error.code,
      )
    }
  }
  return outcome
}
