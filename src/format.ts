import type { ReleaseInfo } from './history.js'
import type { HostResult } from './outcome.js'

/**
 * How both front ends write figures and tables: the action's log and job summary, the CLI's
 * result lines and its `list` table, and the README's inputs table (scripts/gen-readme.ts).
 * Pure text: no colour (the CLI paints cells itself), no escaping (each sink escapes its own way).
 */

/**
 * A size as every front end says it: decimal units, as rsync and `df -H` do (`812 B`, `4.1 kB`,
 * `1.2 MB`, `3.40 GB`). One style everywhere: the CLI, the summary, the log and the progress line.
 */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`
  if (n < 1000 ** 2) return `${(n / 1000).toFixed(1)} kB`
  if (n < 1000 ** 3) return `${(n / 1000 ** 2).toFixed(1)} MB`
  return `${(n / 1000 ** 3).toFixed(2)} GB`
}

/** `1 file`, `2 files`, `0 files` (`many` for words that do not just take an s). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** A duration as the results say it: `2.3 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

// An ISO 8601 UTC time as the tool writes it (`new Date().toISOString()`), or with an offset.
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)$/

/**
 * A deploy log time for people: `2026-11-21 10:00 UTC`. The log is the server's file: a time that
 * is not an ISO time is shown as the log has it (the caller escapes it), never guessed at.
 */
export function when(iso: string): string {
  if (!iso) return '(not in the log)'
  const t = ISO_TIME.test(iso) ? new Date(iso) : undefined
  if (!t || Number.isNaN(t.getTime())) return iso
  return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** A git ref as people name it: `v1.2.3` for refs/tags/v1.2.3, `main` for refs/heads/main. */
export function shortRef(ref: string): string {
  return ref.replace(/^refs\/(?:tags|heads)\/(?=.)/, '')
}

// https, a host name, an optional port, a path of plain characters; no user info, query or
// fragment: nothing a crafted log line could turn into another link, a script or markup.
const RUN_URL =
  /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?(?:\/[A-Za-z0-9._~-]+)*\/?$/

/** The run URL of a log line when it is safe to render as a link (https, a sane shape), else ''. */
export function runLink(url: string): string {
  return url.length <= 512 && RUN_URL.test(url) ? url : ''
}

/** A link's text: `run 1234` for a GitHub run or a GitLab job, `run` for any other URL. */
export function runLabel(url: string): string {
  const id = /\/(?:runs|jobs)\/(\d{1,20})(?:\/|$)/.exec(url)?.[1]
  return id ? `run ${id}` : 'run'
}

/**
 * What this run tried, when it is not what is live now: said next to what is live, so nobody reads
 * the attempted release as the served one.
 */
export function attemptNote(h: HostResult): string {
  const tried = h.attemptedReleaseId && h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : ''
  if (!tried) return ''
  const what: Partial<Record<HostResult['status'], string>> = {
    'dry-run': `would switch to ${tried}`,
    reverted: `switched back from ${tried}`,
    failed: `${tried} is not live`,
    'not-switched': `${tried} is not live`,
    uploaded: `${tried} was uploaded, not made live`,
  }
  return what[h.status] ?? ''
}

// rsync's rate units (progress.c): powers of 1024, whatever the label says.
const RATE_UNIT: Record<string, number> = {
  B: 1,
  kB: 1024,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
}

/**
 * rsync --info=progress2 (--no-human-readable): `1234567  45%  12.34MB/s  0:00:03 (xfr#3, to-chk=10/20)`.
 * Files are counted by `xfr#`, the regular files sent so far: the figure the result line's
 * "N files sent" gives at the end. (`to-chk` counts directories and links too.) Sizes and rates in
 * format.ts's units, as every other figure.
 */
export function progressText(line: string): string {
  const m = /^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:.*?xfr#(\d+))?/.exec(line)
  if (!m) return line.trim()
  const [, done = '0', pct, rate = '', time, sent] = m
  const r = /^([\d.]+)([kKMGT]?B)\/s$/.exec(rate)
  const speed = r ? `${bytes(Math.round(Number(r[1]) * (RATE_UNIT[r[2] as string] ?? 1)))}/s` : rate
  const files = sent !== undefined ? ` · ${plural(Number(sent), 'file')} sent` : ''
  return `uploading ${pct}% · ${bytes(Number(done.replace(/[,.]/g, '')))} · ${speed} · ${time}${files}`
}

export interface TextRow {
  cells: string[]
  /** Colours a cell after padding (widths are measured without colour). */
  paint?: (i: number, s: string) => string
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function textTable(rows: TextRow[]): string {
  const widths: number[] = []
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length)
    })
  }
  return rows
    .map((r) =>
      r.cells
        .map((c, i) => {
          const padded = i === r.cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)
          return r.paint ? r.paint(i, padded) : padded
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** A markdown table (cells are markdown already; an empty cell is `| |`). */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `|${cells.map((c) => (c ? ` ${c} ` : ' ')).join('|')}|`
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n')
}

/** The releases as the action's log shows them, a line each: newest first, the live one marked `*`. */
export function releaseLines(releases: ReleaseInfo[]): string[] {
  return releases.map((r) =>
    [
      `${r.current ? '*' : ' '} ${r.id}${r.bad ? '  (bad)' : ''} `,
      when(r.deployedAt),
      r.actor ? `by ${r.actor}` : '',
      shortRef(r.ref),
      r.sha.slice(0, 7),
      runLink(r.run),
    ]
      .filter(Boolean)
      .join(' '),
  )
}
