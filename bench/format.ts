/** Numbers and tables, for stdout and the report. */

export const sec = (ms: number) => (Number.isNaN(ms) ? '—' : (ms / 1000).toFixed(2))
export const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)
export const mbKb = (kb: number) => ((kb * 1024) / 1e6).toFixed(kb * 1024 < 1e7 ? 2 : 1)
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** A markdown table, padded the way the formatter (biome) writes it; the first column left-aligned. */
export function mdTable(head: string[], rows: string[][]): string {
  const cells = [head, ...rows].map((r) => head.map((_, i) => (r[i] ?? '').replace(/\|/g, '\\|')))
  const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] as string).length)))
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w - 1)}` : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`
  const [first, ...rest] = cells
  return [line(first as string[]), rule, ...rest.map(line)].join('\n')
}
