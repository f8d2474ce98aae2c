import type { FastPlan } from './fast-path.js'
import { type HostRun, hostRuns } from './host.js'
import type { BuildManifest } from './release-manifest.js'
import { first, type ManifestVars, type ScriptReply } from './remote.js'
import { cleanupSignal, type RunContext } from './session.js'
import type { EarlyUpload } from './upload-rsync.js'

export { incomingName, stagedName } from './incoming.js'

/** Where rsync keeps partly sent files for the next attempt (hidden from the leftover listing). */
export const PARTIAL_DIR = '.rsync-partial'

/** One host in a deploy, upload or activate: the shared record plus what the deploy needs. */
export interface DeployHost extends HostRun {
  /** Name of our upload in .deploy/incoming: unique per attempt. */
  incoming: string
  leftovers: string[]
  /** Shared paths that already live in TARGET/shared (not uploaded again). */
  sharedExisting: string[]
  /** prepare was started: the lock may be ours even without its reply (cut short). */
  touched: boolean
  /** Our upload dir is there (prepare made it, dropUpload deleted it): a fleet that fails drops it. */
  ownsUpload: boolean
  /** The log line sent with the switch, so recover can tell whether it was written. */
  logLine: string
  /** What this host serves could not be read back after a call was cut short. */
  unconfirmed: boolean
  /** Our release was renamed into releases/ (not yet live, for a fleet waiting to switch). */
  published: boolean
  switched: boolean
  /** Files rsync did not send (unchanged): what the server's count of hard links is checked against. */
  unchanged: number
  /** The build's manifest, made while the connection opens (an Error: none, the checksum path). */
  manifest?: Promise<BuildManifest | Error>
  /** prepare took the fast path: the server's copy of the live release, and what is still to send. */
  fast?: FastPlan
  /** The fast path's rsync, started during prepare and waiting for its list (upload-rsync.ts). */
  early?: EarlyUpload
  /** release-digest of the build (set by prepare; '' without a manifest). */
  digest?: string
}

/** A deploy's record for every host. */
export function deployHosts(ctx: RunContext): DeployHost[] {
  const s = ctx.settings
  return hostRuns(ctx, s.releaseId).map((h) => ({
    ...h,
    incoming: `${s.releaseId}.${ctx.token.slice(0, 8)}`,
    leftovers: [],
    sharedExisting: [],
    touched: false,
    ownsUpload: false,
    logLine: '',
    unconfirmed: false,
    published: false,
    switched: false,
    unchanged: 0,
  }))
}

/** files-linked as the server counted it (a `linked` reply), and a word when it differs from rsync's. */
export function recordLinked(ctx: RunContext, run: DeployHost, reply: ScriptReply): void {
  const counted = first(reply, 'linked')
  if (counted === '') return
  const linked = Number(counted) || 0
  const unchanged = run.unchanged
  run.result.filesLinked = linked
  if (linked < unchanged) {
    ctx.reporter.warning(
      `${run.session.label}: rsync found ${unchanged} files unchanged, but only ${linked} share an inode with the live release (counted on the server); the rest were copied.`,
    )
  }
}

/** Gives the lock back and deletes this attempt's upload dir, when nothing in it is worth resuming. */
export async function dropUpload(run: DeployHost): Promise<void> {
  // Nothing of ours may still write into it: an rsync started early ends first.
  await run.early?.cancel()
  try {
    await run.session.call(
      'releaseLock',
      { FORCE: 0, DISCARD: run.incoming, UNPUBLISH: '' },
      { signal: cleanupSignal() },
    )
    run.ownsUpload = false
  } catch {
    // releaseLocks tries the lock again at the end.
  }
}

/** What publish (or stage) sends of the build's manifest: the fast path's delta, or all of it. */
export async function manifestVars(run: DeployHost): Promise<ManifestVars> {
  const m = await run.manifest
  const built = m instanceof Error ? undefined : m
  if (run.fast)
    return { FAST: 1, MANIFEST: run.fast.delta, DIGEST: run.digest ?? '', ROOT_MODE: built?.rootMode ?? '' }
  return { FAST: 0, MANIFEST: built?.text ?? '', DIGEST: '', ROOT_MODE: '' }
}
