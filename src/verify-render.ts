import type { Paint } from './doctor-render.js'
import type { CommandOutcome } from './outcome.js'
import { safeMessage } from './untrusted.js'
import { differenceLines, verdictLine } from './verify.js'

const PLAIN: Paint = { green: (s) => s, red: (s) => s, bold: (s) => s }

/**
 * command: verify, for people: per host the release checked and the verdict ("verified: N files
 * match sha256:…", or what differs, capped), shared paths and kept assets said apart. Server text
 * (paths) was escaped by verify.ts; safeMessage once more for the whole.
 */
export function verifyText(outcome: CommandOutcome, paint: Paint = PLAIN): string {
  const out: string[] = []
  const reports = new Map((outcome.verify ?? []).map((v) => [v.host, v.report]))
  for (const h of outcome.hosts) {
    const r = reports.get(h.host)
    if (!r) {
      out.push(`${paint.red('✗')} ${h.host}: could not verify (see the error)`)
      continue
    }
    const mark = r.verified ? paint.green('✓') : paint.red('✗')
    out.push(
      `${mark} ${h.host}: ${paint.bold(r.release)}${r.release === h.releaseId ? ' (live)' : ''}: ${verdictLine(r)}`,
    )
    for (const l of differenceLines(r.differences)) out.push(`    ${l}`)
    if (r.shared.length) out.push(`    ${r.shared.length} shared path(s) not compared (links into shared/)`)
    if (r.kept.length)
      out.push(`    ${r.kept.length} asset(s) kept from older releases (keep-assets), not compared`)
  }
  return `${safeMessage(out.join('\n'))}\n`
}
