import { type LogEntry, type LogEvent, logLine } from './history.js'
import { type HostRun, newEntry } from './host.js'
import type { Flag, GoLiveVars, ScriptReply } from './remote.js'
import type { RunContext } from './session.js'

/**
 * What a switch of one host's link does (deploy's go-live, a fleet's switch, revert, rollback):
 * which release goes live, the log entry that says why, what to prune and measure afterwards.
 */
export interface SwitchPlan {
  /** The release to serve. */
  id: string
  event: LogEvent
  /** The release this one replaces, as the log entry names it ('' for a deploy). */
  from: string
  /** The release measured against for the disk figure (a deploy's previous live one). */
  prev?: string
  /** What to prune once it is live, chosen with the new log entry in the log. */
  prune?: (entry: LogEntry) => string[]
  measure?: boolean
  /** The releases keep-assets links old files from (a deploy's go-live). */
  keepFrom?: string[]
  /** release-digest of the release, for its log entry (a deploy's). */
  digest?: string
}

/** go_live's variables for a plan, and the log line they carry (recover looks for it). */
export function goLiveVars(ctx: RunContext, host: HostRun, plan: SwitchPlan): GoLiveVars {
  const entry = newEntry(ctx, host.session.label, plan.id, plan.event, plan.from)
  if (plan.digest) entry.digest = plan.digest
  return {
    ID: plan.id,
    PREV: plan.prev ?? '',
    LOGLINE: logLine(entry),
    PRUNE: plan.prune ? plan.prune(entry).join(' ') : '',
    MEASURE: plan.measure ? 1 : 0,
    KEEP_FROM: (plan.keepFrom ?? []).join(' '),
  }
}

const flag = (b: boolean): Flag => (b ? 1 : 0)

/**
 * Switches one host's link (the switchTo script) to what `vars` say (see goLiveVars). `take`: take
 * the lock first (we no longer hold it); `keepLock`: keep it past the switch (more steps follow).
 * The session learns the lock's state from the reply.
 */
export function switchTo(
  host: HostRun,
  vars: GoLiveVars,
  lock: { take: boolean; keepLock: boolean },
  signal?: AbortSignal,
): Promise<ScriptReply> {
  return host.session.call(
    'switchTo',
    { ...vars, TAKE: flag(lock.take), KEEP_LOCK: flag(lock.keepLock) },
    { signal },
  )
}
