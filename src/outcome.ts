import type { HostChecks } from './doctor.js'
import { DeployError } from './errors.js'
import type { ReleaseInfo } from './history.js'
import type { VerifyReport } from './verify.js'

/**
 * The result model every command shares: what each host ended on (as the server said), the run's
 * outcome, and the one way a fleet's failures become one error.
 */

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
  /** keep-assets: old files hard-linked into the new release, counted on the server. */
  assetsKept: number
  pruned: string[]
}

export interface DeployOutcome {
  releaseId: string
  hosts: HostResult[]
  rolledBack: boolean
  error: DeployError | undefined
  /** Hosts whose state could not be read back after a call was cut short: what they serve is unknown. */
  unconfirmed?: string[]
  /** release-digest of the release this run made live (on the first host), '' otherwise. */
  releaseDigest?: string
}

/** What every command returns; `releases` is filled by list (the releases of the first host read). */
export interface CommandOutcome extends DeployOutcome {
  releases: ReleaseInfo[]
  /** command: doctor: each host's checks (doctor.ts). */
  doctor?: HostChecks[]
  /** command: verify: each host's release as found against its record (verify.ts), hosts' order. */
  verify?: { host: string; report: VerifyReport }[]
}

export function toDeployError(err: unknown): DeployError {
  if (err instanceof DeployError) return err
  return new DeployError(err instanceof Error ? err.message : String(err))
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
    assetsKept: 0,
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
  // The fence refused the change: the run's time was up.
  'gave-up',
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

/**
 * The one "N of M hosts failed" error: a single host's own error as it is, else one message that
 * starts with `headline` (given the count and the total) and lists every host's error.
 */
export function failedOn(
  failures: DeployError[],
  total: number,
  headline: (failed: number, total: number) => string,
): DeployError | undefined {
  if (failures.length === 0) return undefined
  if (total === 1) return failures[0]
  return new DeployError(
    `${headline(failures.length, total)}\n${failures.map((f) => f.message).join('\n')}`,
    failures[0]?.hint ?? '',
    failures[0]?.code ?? 'failed',
  )
}

/** `What failed on N of M hosts.` */
export function fleetFailure(failures: DeployError[], total: number, what: string): DeployError | undefined {
  return failedOn(failures, total, (n, m) => `${what} failed on ${n} of ${m} hosts.`)
}

/** A fleet stopped before any switch: `N of M hosts failed before the switch; no host was switched.` */
export function noHostSwitched(failures: DeployError[], total: number): DeployError | undefined {
  return failedOn(
    failures,
    total,
    (n, m) => `${n} of ${m} hosts failed before the switch; no host was switched.`,
  )
}
