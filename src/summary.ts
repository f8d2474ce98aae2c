/** The action's job summary (the outputs are outputs.ts's). */
import * as core from '@actions/core'
import { bytes, seconds } from './format.js'
import type { CommandOutcome, HostResult } from './outcome.js'
import type { Settings } from './settings.js'
import { safeMessage } from './untrusted.js'
import { verifyText } from './verify-render.js'

/** The "live now" cell: the release the link serves, or why we cannot say. */
export function liveNow(h: HostResult): string {
  if (!h.liveKnown) return '(unknown: see the error)'
  return h.releaseId || '(nothing)'
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"'[\]]/g,
    (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '[': '&#91;', ']': '&#93;' })[
        c
      ] ?? c,
  )
}

/** A table cell: the toolkit puts cell text into the HTML as it is, and ours holds server text. */
function cell(text: string): string {
  return escapeHtml(safeMessage(text))
}

export async function writeSummary(settings: Settings, outcome: CommandOutcome): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const s = core.summary
  const title = settings.dryRun ? `Dry run: ${settings.command}` : `rsync-atomic-deploy: ${settings.command}`
  s.addHeading(title, 3)
  if (settings.command === 'list' && outcome.releases.length > 0) {
    s.addTable([
      [
        { data: 'release', header: true },
        { data: 'live', header: true },
        { data: 'deployed', header: true },
        { data: 'ref', header: true },
        { data: 'sha', header: true },
      ],
      ...outcome.releases.map((r) =>
        [r.bad ? `${r.id} (bad)` : r.id, r.current ? 'yes' : '', r.deployedAt, r.ref, r.sha.slice(0, 7)].map(
          cell,
        ),
      ),
    ])
  }
  s.addTable([
    [
      { data: 'host', header: true },
      { data: 'status', header: true },
      { data: 'live now', header: true },
      { data: 'attempted', header: true },
      { data: 'before', header: true },
      { data: 'files sent', header: true },
      { data: 'files linked', header: true },
      { data: 'bytes sent', header: true },
      { data: 'disk added', header: true },
      { data: 'time', header: true },
    ],
    ...outcome.hosts.map((h) =>
      [
        h.host,
        h.error ? `${h.status}: ${h.error.split('\n')[0]}` : h.status,
        liveNow(h),
        h.attemptedReleaseId,
        h.previousReleaseId,
        String(h.filesTransferred),
        String(h.filesLinked),
        bytes(h.bytesSent),
        h.diskKb ? bytes(h.diskKb * 1024) : '',
        seconds(h.durationMs),
      ].map(cell),
    ),
  ])
  // command: verify: per host what was found (text in a code block: paths are the server's).
  if (outcome.verify) s.addCodeBlock(verifyText(outcome))
  if (outcome.releaseDigest)
    s.addRaw(`<p>Release digest: <code>${cell(outcome.releaseDigest)}</code></p>`, true)
  const back = outcome.hosts[0]?.previousReleaseId
  if (settings.command === 'deploy' && !settings.dryRun && !outcome.error && back) {
    s.addRaw('<p>To roll back to the release that was live before, run this action with:</p>', true)
    s.addCodeBlock(`command: rollback\nrollback-to: ${back}`, 'yaml')
  }
  if (outcome.error) s.addRaw(`<p><b>Failed:</b> ${cell(outcome.error.message)}</p>`, true)
  await s.write()
}
