import type { ReleaseInfo } from './history.js'

/**
 * How both front ends write figures and tables: the action's log and job summary, the CLI's
 * result lines and its `list` table, and the README's inputs table (scripts/gen-readme.ts).
 * Pure text: no colour (the CLI paints cells itself), no escaping (each sink escapes its own way).
 */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

/** A duration as the results say it: `2.3 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** A deploy log time for people: `2026-11-21 10:00:00 UTC`. */
export function when(iso: string): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '(not in the log)'
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
  return releases.map(
    (r) =>
      `${r.current ? '*' : ' '} ${r.id}${r.bad ? '  (bad)' : ''}  ${r.deployedAt} ${r.ref} ${r.sha.slice(0, 7)}`,
  )
}
