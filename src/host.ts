import { type LogEntry, type LogEvent, logProblemsWarning, parseNumberedLog } from './history.js'
import { blankResult, type HostResult } from './outcome.js'
import { all, first, type ScriptReply } from './remote.js'
import { HostSession, type RunContext } from './session.js'

/** What a server told us about its deploy root. */
export interface ServerState {
  live: string
  releases: string[]
  log: LogEntry[]
  freeKb: number
}

/** A release or upload name from the server that may be used in a path: plain, bounded. */
export const SAFE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/

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

/**
 * One host in any command: its session (which also knows whether the lock is ours), what its
 * server said, and its result. The deploy adds its own fields (see DeployHost).
 */
export interface HostRun {
  session: HostSession
  start: number
  state: ServerState | undefined
  result: HostResult
}

/** A run for every host of the settings; `attempted` is the release the command tries to make live. */
export function hostRuns(ctx: RunContext, attempted: string): HostRun[] {
  return ctx.settings.hosts.map((spec, i) => ({
    session: new HostSession(ctx, i, spec),
    start: Date.now(),
    state: undefined,
    result: blankResult(spec.label, attempted),
  }))
}

/** The deploy log line of an event on one host, with who and what caused it. */
export function newEntry(
  ctx: RunContext,
  host: string,
  release: string,
  event: LogEvent,
  from: string,
): LogEntry {
  const m = ctx.settings.meta
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
