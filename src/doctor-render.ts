import type { HostChecks } from './doctor.js'
import { safeMessage } from './untrusted.js'

/** What the text rendering needs of a style (the CLI's Style has it; plain text: identity). */
export interface Paint {
  green(s: string): string
  red(s: string): string
  bold(s: string): string
}

const PLAIN: Paint = { green: (s) => s, red: (s) => s, bold: (s) => s }

/** One line per check, ✓ or ✗, the fix indented under a ✗. Server text is escaped. */
export function doctorText(report: HostChecks[], paint: Paint = PLAIN): string {
  const out: string[] = []
  for (const h of report) {
    out.push(paint.bold(`checks on ${safeMessage(h.host)}:`))
    for (const c of h.checks) {
      const mark = c.ok ? paint.green('✓') : paint.red('✗')
      out.push(`  ${mark} ${c.name}: ${safeMessage(c.detail)}`)
      if (!c.ok && c.fix) out.push(`      fix: ${safeMessage(c.fix).replace(/\n/g, '\n           ')}`)
    }
  }
  const failed = report.reduce((n, h) => n + h.checks.filter((c) => !c.ok).length, 0)
  out.push(
    failed === 0 ? 'All checks passed: a deploy can run.' : `${failed} check${failed > 1 ? 's' : ''} failed.`,
  )
  return `${out.join('\n')}\n`
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"'[\]`|*_\\]/g,
    (c) =>
      ({
        '&': '&amp;',
        '<': '&lt;',
        '>': '&gt;',
        '"': '&quot;',
        "'": '&#39;',
        '[': '&#91;',
        ']': '&#93;',
        '`': '&#96;',
        '|': '&#124;',
        '*': '&#42;',
        _: '&#95;',
        '\\': '&#92;',
      })[c] ?? c,
  )
}

/** The job summary: a table per host (check, result, fix). Every cell is escaped server text. */
export function doctorMarkdown(report: HostChecks[]): string {
  const cell = (s: string) => escapeHtml(safeMessage(s))
  const out: string[] = ['### rsync-atomic-deploy: doctor', '']
  for (const h of report) {
    const failed = h.checks.filter((c) => !c.ok).length
    out.push(`**${cell(h.host)}**: ${failed === 0 ? 'all checks passed' : `${failed} failed`}`, '')
    out.push('| | check | found | fix |', '|---|---|---|---|')
    for (const c of h.checks) {
      out.push(`| ${c.ok ? '✓' : '✗'} | ${cell(c.name)} | ${cell(c.detail)} | ${c.ok ? '' : cell(c.fix)} |`)
    }
    out.push('')
  }
  return `${out.join('\n')}\n`
}
