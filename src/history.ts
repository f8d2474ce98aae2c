/**
 * The release history, read from `.deploy/log` (one JSON object a line). What was live before,
 * what is bad and what may be pruned are decided here, from the log's order, never from release
 * names or mtimes (rsync copies mtimes, and names need not sort by time).
 */

import { plural } from './format.js'
import { untrusted } from './untrusted.js'

export type LogEvent = 'deploy' | 'rollback' | 'revert'

export interface LogEntry {
  release: string
  event: LogEvent
  time: string
  /** For rollback and revert: the release that was live before (it is now bad). */
  from?: string
  sha?: string
  ref?: string
  actor?: string
  run?: string
  host?: string
  /** release-digest of a deployed release (absent in lines written before it existed). */
  digest?: string
}

export function parseLog(lines: string[]): LogEntry[] {
  const out: LogEntry[] = []
  for (const line of lines) {
    try {
      const o = JSON.parse(line) as Partial<LogEntry>
      if (typeof o.release === 'string' && typeof o.event === 'string') out.push(o as LogEntry)
    } catch {
      // a torn or foreign line: the log is advisory for what it cannot parse
    }
  }
  return out
}

/** A release id as the tool makes and accepts them: a plain name, never a path or shell syntax. */
export const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/

const EVENTS: readonly string[] = ['deploy', 'rollback', 'revert']
const TEXT_FIELDS = ['time', 'sha', 'ref', 'actor', 'run', 'host', 'digest'] as const

/**
 * One log line as an entry, or why it is not one. The log is the server's file: ids must be
 * release names (no `../`, no shell syntax), every field a string; text fields come back escaped
 * (a JSON `\n` or `\u001b` is a real control character once parsed).
 */
export function checkLogLine(line: string): LogEntry | string {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    return 'not valid JSON'
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object'
  const r = o as Record<string, unknown>
  if (typeof r.release !== 'string' || !RELEASE_ID_RE.test(r.release)) return 'no valid release id'
  if (typeof r.event !== 'string' || !EVENTS.includes(r.event)) return 'an unknown event'
  if (r.from !== undefined && (typeof r.from !== 'string' || !RELEASE_ID_RE.test(r.from))) {
    return 'an invalid "from" release id'
  }
  const entry: LogEntry = { release: r.release, event: r.event as LogEvent, time: '' }
  if (typeof r.from === 'string') entry.from = r.from
  for (const f of TEXT_FIELDS) {
    const v = r[f]
    if (v === undefined) continue
    if (typeof v !== 'string') return `a "${f}" that is not a string`
    entry[f] = untrusted(v, 1024)
  }
  return entry
}

export interface LogProblem {
  /** Line number in .deploy/log, from 1. */
  line: number
  why: string
}

/**
 * The log as the server sends it (remote.ts send_log): `N LINE` for each line, and the numbers of
 * lines too long to send. Bad lines are skipped and named; blank ones are skipped in silence.
 */
export function parseNumberedLog(
  lines: string[],
  tooLong: string[] = [],
): { entries: LogEntry[]; problems: LogProblem[] } {
  const entries: LogEntry[] = []
  const problems: LogProblem[] = tooLong.map((n) => ({
    line: Number(n) || 0,
    why: 'longer than 16384 bytes',
  }))
  for (const l of lines) {
    const sp = l.indexOf(' ')
    const n = Number(sp < 0 ? l : l.slice(0, sp))
    const text = sp < 0 ? '' : l.slice(sp + 1)
    if (text.trim() === '') continue
    const e = checkLogLine(text)
    if (typeof e === 'string') problems.push({ line: n, why: e })
    else entries.push(e)
  }
  problems.sort((a, b) => a.line - b.line)
  return { entries, problems }
}

/** One warning for all skipped lines (a crafted log may have thousands): the first few named. */
export function logProblemsWarning(problems: LogProblem[]): string {
  if (problems.length === 0) return ''
  const named = problems.slice(0, 5).map((p) => `line ${p.line} (${p.why})`)
  const more = problems.length > 5 ? ` and ${problems.length - 5} more` : ''
  return `skipped ${plural(problems.length, 'bad line')} of .deploy/log: ${named.join(', ')}${more}. The history is read without them.`
}

/** Fixed key order, one line, no newlines inside (JSON escapes them). */
export function logLine(entry: LogEntry): string {
  return JSON.stringify({
    release: entry.release,
    event: entry.event,
    time: entry.time,
    from: entry.from,
    sha: entry.sha,
    ref: entry.ref,
    actor: entry.actor,
    run: entry.run,
    host: entry.host,
    digest: entry.digest,
  })
}

/**
 * Releases that were rolled back from or reverted: later rollbacks skip them. One a rollback made
 * live again (rollback-to names it on purpose) is good again, or the next rollback would skip it.
 */
export function badReleases(log: LogEntry[]): Set<string> {
  const bad = new Set<string>()
  for (const e of log) {
    if ((e.event === 'rollback' || e.event === 'revert') && e.from) bad.add(e.from)
    if (e.event === 'rollback' && e.release !== e.from) bad.delete(e.release)
  }
  return bad
}

/** The release each entry made live, oldest first. */
function wentLive(log: LogEntry[]): string[] {
  return log.map((e) => e.release)
}

/**
 * Where a rollback goes: the newest release that went live before, other than the live one,
 * not bad, still on disk.
 */
export function rollbackTarget(log: LogEntry[], live: string, existing: Set<string>): string | undefined {
  const bad = badReleases(log)
  const seq = wentLive(log)
  for (let i = seq.length - 1; i >= 0; i--) {
    const id = seq[i] as string
    if (id !== live && !bad.has(id) && existing.has(id)) return id
  }
  return undefined
}

export interface ReleaseInfo {
  id: string
  current: boolean
  bad: boolean
  /** When it was first deployed (from the log), '' if the log does not know it. */
  deployedAt: string
  sha: string
  ref: string
  actor: string
  run: string
}

/** Releases on disk, newest first by the log (ones the log does not know come last). */
export function listReleases(log: LogEntry[], existing: string[], live: string): ReleaseInfo[] {
  const bad = badReleases(log)
  const firstDeploy = new Map<string, LogEntry>()
  const deployIndex = new Map<string, number>()
  log.forEach((e, i) => {
    if (e.event === 'deploy' && !firstDeploy.has(e.release)) firstDeploy.set(e.release, e)
    if (e.event === 'deploy' && !deployIndex.has(e.release)) deployIndex.set(e.release, i)
  })
  return existing
    .map((id) => {
      const d = firstDeploy.get(id)
      return {
        id,
        current: id === live,
        bad: bad.has(id),
        deployedAt: d?.time ?? '',
        sha: d?.sha ?? '',
        ref: d?.ref ?? '',
        actor: d?.actor ?? '',
        run: d?.run ?? '',
      }
    })
    .sort((a, b) => (deployIndex.get(b.id) ?? -1) - (deployIndex.get(a.id) ?? -1) || a.id.localeCompare(b.id))
}

/**
 * Which releases to delete so that `keep` good releases remain. Never the live one, never its
 * rollback target, never one the log does not know (we cannot tell how old it is).
 * Bad releases do not count; they go once they are older than the oldest good release kept.
 */
export function releasesToPrune(log: LogEntry[], existing: string[], live: string, keep: number): string[] {
  if (keep <= 0) return []
  const protectedIds = new Set([live])
  const back = rollbackTarget(log, live, new Set(existing))
  if (back) protectedIds.add(back)
  const ordered = listReleases(log, existing, live).filter((r) => r.deployedAt !== '' || r.current)
  const prune: string[] = []
  let good = 0
  for (const r of ordered) {
    if (good >= keep && !protectedIds.has(r.id)) {
      prune.push(r.id)
      continue
    }
    if (!r.bad) good++
  }
  return prune
}
