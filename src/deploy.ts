import { specialFiles, specialFilesWarning } from './build-scan.js'
import { DeployError } from './errors.js'
import { healthcheck } from './healthcheck.js'
import { explainRsyncExit, startupFileHint } from './hints.js'
import {
  type LogEntry,
  type LogEvent,
  logLine,
  logProblemsWarning,
  parseNumberedLog,
  releasesToPrune,
} from './history.js'
import { all, first, type ScriptReply } from './remote.js'
import { itemizedFiles, parseStats, runRsync } from './rsync.js'
import { type Core, HostSession, pool } from './session.js'
import type { Settings } from './settings.js'
import { LineSplitter, shownLine } from './untrusted.js'
import { ACTION_WORDS, type Words } from './words.js'

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
  /** The release the link serves when the step ends, as the server said ('' = nothing live). */
  releaseId: string
  releasePath: string
  /** False when we could not learn what the link serves (no connection, a switch cut off). */
  liveKnown: boolean
  /** The release this run tried to make live (deploy, activate, upload, rollback), named as such. */
  attemptedReleaseId: string
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

/** `warn` is told about log lines that were skipped (by line number). */
export function readServerState(reply: ScriptReply, warn?: (message: string) => void): ServerState {
  const live = first(reply, 'live')
  const log = parseNumberedLog(all(reply, 'log'), all(reply, 'log-long'))
  const problems = logProblemsWarning(log.problems)
  if (problems) warn?.(problems)
  return {
    live: SAFE_NAME_RE.test(live) ? live : '',
    releases: all(reply, 'release').filter((r) => SAFE_NAME_RE.test(r)),
    log: log.entries,
    freeKb: Number(first(reply, 'free-kb')) || 0,
  }
}

function words(core: Core): Words {
  return core.words ?? ACTION_WORDS
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

/** A host before we heard from it: what it serves is not known yet. */
export function blankResult(host: string, attempted: string): HostResult {
  return {
    host,
    releaseId: '',
    releasePath: '',
    liveKnown: false,
    attemptedReleaseId: attempted,
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

/** Records what the server said its link serves now ('' = nothing is live). */
export function setLive(result: HostResult, target: string, id: string): void {
  result.releaseId = id
  result.releasePath = id ? `${target}/releases/${id}` : ''
  result.liveKnown = true
}

/** We cannot tell what the link serves (a switch was cut off): say so, never guess. */
export function liveUnknown(result: HostResult): void {
  result.releaseId = ''
  result.releasePath = ''
  result.liveKnown = false
}

/**
 * Error codes of remote steps that stop before the link is renamed: after one of them the link
 * still serves what it served before. Any other failure of a switching step (a dropped
 * connection, a cancel, a link that reads back wrong) leaves it unknown.
 */
const REFUSED_BEFORE_SWITCH = new Set([
  'lock-lost',
  'upload-missing',
  'release-exists',
  'release-missing',
  'publish-failed',
  'shared-failed',
  'hook-failed',
  'locked',
])

/** After a switching step failed: the old live release if the server said it stopped before the switch. */
export function settleFailedSwitch(
  result: HostResult,
  target: string,
  before: string,
  err: DeployError,
): void {
  if (REFUSED_BEFORE_SWITCH.has(err.code)) setLive(result, target, before)
  else liveUnknown(result)
}

async function connect(core: Core, run: HostRun): Promise<void> {
  await core.ssh.connect(run.session.index, run.session.label, core.signal)
  if (core.settings.acceptUnknownHostKey && core.settings.trusted.lines.length === 0) {
    const learned = await core.ssh.learnedHostKeys()
    if (learned.trim()) {
      core.reporter.warning(
        `Trusted ${run.session.label} on first use (${words(core).input('accept-unknown-host-key')}). Pin its key: set ${words(core).input('known-hosts')} to\n${learned.trim()}`,
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
  run.state = readServerState(reply, (m) => core.reporter.warning(`${run.session.label}: ${m}`))
  run.leftovers = all(reply, 'leftover').filter((l) => SAFE_NAME_RE.test(l) && l !== run.incoming)
  run.result.previousReleaseId = run.state.live
  setLive(run.result, core.settings.target, run.state.live)
  run.result.freeKb = run.state.freeKb
  if (other.length > 0) {
    // Text printed by a shell startup file corrupts rsync's protocol stream (exit 12): say so now.
    await dropUpload(core, run)
    throw new DeployError(
      `${run.session.label}: the login shell prints text for non-interactive sessions, which breaks rsync: ${other.slice(0, 3).join(' | ')}`,
      startupFileHint(first(reply, 'shell'), 'prints'),
      'shell-not-clean',
    )
  }
  core.reporter.info(
    `${run.session.label}: live release ${run.state.live || '(none yet)'}; ${run.state.releases.length} release(s) on disk; ${Math.round(run.state.freeKb / 1024)} MiB free`,
  )
  warnFsSplit(core, run.session.label, all(reply, 'fs-split'), run.state.live)
}

/** Says, before the upload, why no file can be hard-linked on this server (fs-split replies). */
export function fsSplitWarnings(target: string, split: string[], live: string): string[] {
  const out: string[] = []
  if (split.includes('incoming')) {
    out.push(
      `${target}/releases and ${target}/.deploy/incoming are on different filesystems (is a disk mounted on ${target}/releases?): hard links are impossible there, every file is copied in full, and the publish is a copy instead of a rename. Mount the disk on ${target} itself, so releases/ and .deploy/ share one filesystem.`,
    )
  }
  if (split.includes('live')) {
    out.push(
      `the live release ${live} is on another filesystem than the upload area (restored onto a mount?): no file can be hard-linked to it, so this upload copies every file. Copy it back onto ${target}'s filesystem (cp -a) to share files again, or accept this one full copy.`,
    )
  }
  return out
}

function warnFsSplit(core: Core, label: string, split: string[], live: string): void {
  for (const w of fsSplitWarnings(core.settings.target, split, live)) core.reporter.warning(`${label}: ${w}`)
}

/** files-linked as the server counted it (a `linked` reply), and a word when it differs from rsync's. */
function recordLinked(core: Core, run: HostRun, reply: ScriptReply): void {
  const counted = first(reply, 'linked')
  if (counted === '') return
  const linked = Number(counted) || 0
  const unchanged = run.result.filesLinked
  run.result.filesLinked = linked
  if (linked < unchanged) {
    core.reporter.warning(
      `${run.session.label}: rsync found ${unchanged} files unchanged, but only ${linked} share an inode with the live release (counted on the server); the rest were copied.`,
    )
  }
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

/** Where rsync keeps partly sent files for the next attempt (hidden from the leftover listing). */
export const PARTIAL_DIR = '.rsync-partial'

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
      // Basename-keyed (an absolute --partial-dir): a re-run resumes a big file whatever its id.
      partialDir: `${s.target}/.deploy/incoming/${PARTIAL_DIR}`,
    },
    {
      signal: core.signal,
      env: core.ssh.childEnv(),
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
      `${run.session.label}: upload failed. ${explainRsyncExit(result.code, result.stderr, core.words)}${full ? '\nThe partial upload was deleted to give the space back.' : ''}`,
      '',
      'rsync',
    )
  }
  const stats = parseStats(result.stdout)
  if (stats.files + stats.links === 0 && !s.allowEmpty) {
    // Refused before the publish: the empty upload goes, the lock is given back, nothing changed.
    await dropUpload(core, run)
    throw emptyReleaseError(s, run.session.label, run.sharedExisting.length > 0)
  }
  Object.assign(run.result, {
    bytesSent: stats.bytesSent,
    filesTransferred: stats.filesTransferred,
    filesLinked: stats.filesLinked,
  })
  // rsync's "not sent" is not "hard-linked" (a split filesystem copies them): the server counts
  // the links at publish, and files-linked is that count.
  core.reporter.info(
    `${run.session.label}: uploaded ${stats.files} files: ${stats.filesTransferred} sent, ${stats.files - stats.filesTransferred} unchanged; ${stats.bytesSent} bytes on the wire`,
  )
}

/** The build has files, but what the inputs leave of it is nothing: name those inputs. */
export function emptyReleaseError(s: Settings, label: string, sharedExcluded: boolean): DeployError {
  const inputs = [
    s.exclude.length > 0 ? 'exclude' : '',
    s.filter.length > 0 ? 'filter' : '',
    sharedExcluded ? 'shared (paths already in TARGET/shared are not uploaded)' : '',
  ].filter(Boolean)
  return new DeployError(
    `${label}: the release would be empty: ${inputs.length ? inputs.join(' and ') : 'the rsync rules'} leave no file of ${s.source}. Nothing was changed; ${s.linkName} serves what it served.`,
    `Check the ${inputs.length ? inputs.join(', ') : 'exclude and filter'} lines (a pattern such as * or /** excludes everything). To deploy an empty release on purpose, set allow-empty: true.`,
    'empty-release',
  )
}

/** Dry run: the same checks without the lock or any write, and what would be sent. */
async function dryRun(core: Core, run: HostRun): Promise<void> {
  const s = core.settings
  const reply = await run.session.call('inspect', { TAKE_LOCK: 0, CHECK_DEPLOY: 1, ID: s.releaseId })
  run.state = readServerState(reply, (m) => core.reporter.warning(`${run.session.label}: ${m}`))
  run.result.previousReleaseId = run.state.live
  // A dry run changes nothing: what is live is what was live.
  setLive(run.result, s.target, run.state.live)
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
    { signal: core.signal, env: core.ssh.childEnv() },
  )
  if (result.code !== 0) {
    throw new DeployError(
      `${run.session.label}: dry run failed. ${explainRsyncExit(result.code, result.stderr, core.words)}`,
    )
  }
  const items = itemizedFiles(result.stdout).filter((l) => l[1] === 'f')
  const stats = parseStats(result.stdout)
  if (stats.files + stats.links === 0 && !s.allowEmpty) {
    throw emptyReleaseError(s, run.session.label, s.shared.length > 0)
  }
  run.result.filesTransferred = items.length
  const split = all(reply, 'fs-split')
  warnFsSplit(core, run.session.label, split, live)
  // Unchanged files become links only where one filesystem holds them all.
  run.result.filesLinked = split.length > 0 ? 0 : Math.max(0, stats.files - items.length)
  run.result.status = 'dry-run'
  core.reporter.info(
    `${run.session.label}: dry run: would send ${items.length} of ${stats.files} files, hard-link ${run.result.filesLinked}, and switch ${s.linkName} from ${live || '(nothing)'} to releases/${s.releaseId}\n${items.slice(0, 200).join('\n')}${items.length > 200 ? `\n… and ${items.length - 200} more` : ''}`,
  )
}

/**
 * Streams what a hook prints on the server into the log, line by line, prefixed with the host and
 * escaped (it is the server's text); linear in its length however long a line is. Each chunk's
 * lines go out together, so the action can fence them from the runner's command parser.
 */
export function hookOutput(core: Core, label: string): (chunk: string) => void {
  let batch: string[] = []
  const splitter = new LineSplitter((line, dropped) => batch.push(`${label} | ${shownLine(line, dropped)}`))
  return (chunk) => {
    splitter.push(chunk)
    if (batch.length === 0) return
    const lines = batch
    batch = []
    if (core.reporter.output) core.reporter.output(lines)
    else for (const l of lines) core.reporter.info(l)
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
  recordLinked(core, run, reply)
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
  // What the link serves, as the server says now: the outputs name it.
  setLive(run.result, s.target, live)
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
  const s = core.settings
  if (err.code !== 'connection-lost' || core.signal.aborted) {
    settleFailedSwitch(run.result, s.target, run.state?.live ?? '', err)
    throw err
  }
  const label = run.session.label
  core.reporter.warning(
    `${label}: the connection dropped during the switch; reconnecting to see what the server did`,
  )
  let found: Recovered
  try {
    found = await recover(core, run, keepLock)
  } catch (e2) {
    run.unconfirmed = true
    liveUnknown(run.result)
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
  if (run.switched) setLive(run.result, s.target, s.releaseId)
  else liveUnknown(run.result)
  run.result.pruned = all(reply, 'pruned')
  run.result.diskKb = Number(first(reply, 'disk-kb')) || 0
  run.result.status = 'deployed'
  core.reporter.info(
    `${run.session.label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); ${run.result.filesLinked} files hard-linked to the previous release (counted on the server); the new release added ${run.result.diskKb} KiB on disk${run.result.pruned.length ? `; pruned ${run.result.pruned.join(', ')}` : ''}`,
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

/** Puts the link back on the release that was live before, marking ours bad. */
async function revert(core: Core, run: HostRun, why: string): Promise<void> {
  const s = core.settings
  const previous = run.state?.live ?? ''
  if (!previous) {
    core.reporter.warning(`${run.session.label}: nothing was live before ${s.releaseId}; it stays live`)
    return
  }
  const entry = newEntry(core, run.session.label, previous, 'revert', s.releaseId)
  const reply = await run.session.call(
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
  if (first(reply, 'switched') === previous) setLive(run.result, s.target, previous)
  else liveUnknown(run.result)
  run.result.status = 'reverted'
  core.reporter.warning(`${run.session.label}: switched back to ${previous} (${why})`)
}

/** command: upload: leave the finished upload waiting under a name activate knows. */
async function stage(core: Core, run: HostRun): Promise<void> {
  const reply = await run.session.call('stage', {
    ID: core.settings.releaseId,
    INCOMING: run.incoming,
    STAGED: stagedName(core.settings.releaseId),
    PREV: run.state?.live ?? '',
  })
  recordLinked(core, run, reply)
  run.locked = false
  core.onLock?.(run.session.index, false)
  core.reporter.info(
    `${run.session.label}: release ${core.settings.releaseId} uploaded; run ${words(core).command('activate')} to make it live`,
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
    result: blankResult(spec.label, s.releaseId),
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

  if (s.command === 'deploy' || s.command === 'upload') {
    const warning = specialFilesWarning(specialFiles(s.source))
    if (warning) core.reporter.warning(warning)
  }
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
        `The new release stays live (${words(core).input('rollback-on-failure', 'false')}) although: ${failures[0]?.message}`,
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
        // Refused before its switch, the revert left our release live; anything else: unknown.
        settleFailedSwitch(r.result, s.target, s.releaseId, toDeployError(e))
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
