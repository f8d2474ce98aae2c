import * as core from '@actions/core'
import type { CommandOutcome, HostResult } from './outcome.js'
import { hostsJson, releasesJson, totals } from './outputs.js'
import type { Settings } from './settings.js'
import { safeMessage } from './untrusted.js'

export { hostsJson, totals }

export function setOutputs(_settings: Settings, outcome: CommandOutcome): void {
  const t = totals(outcome)
  const firstHost = outcome.hosts[0]
  // What the link serves now, as the server said (DESIGN §1): never the release we only attempted.
  core.setOutput('release-id', firstHost?.releaseId ?? '')
  core.setOutput('release-path', firstHost?.releasePath ?? '')
  core.setOutput('previous-release-id', firstHost?.previousReleaseId ?? '')
  core.setOutput('bytes-sent', String(t.bytesSent))
  core.setOutput('files-transferred', String(t.filesTransferred))
  core.setOutput('files-linked', String(t.filesLinked))
  core.setOutput('releases', releasesJson(outcome))
  core.setOutput('hosts', hostsJson(outcome))
  core.setOutput('rolled-back', String(outcome.rolledBack))
}

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

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
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
        `${(h.durationMs / 1000).toFixed(1)} s`,
      ].map(cell),
    ),
  ])
  const back = outcome.hosts[0]?.previousReleaseId
  if (settings.command === 'deploy' && !settings.dryRun && !outcome.error && back) {
    s.addRaw('<p>To roll back to the release that was live before, run this action with:</p>', true)
    s.addCodeBlock(`command: rollback\nrollback-to: ${back}`, 'yaml')
  }
  if (outcome.error) s.addRaw(`<p><b>Failed:</b> ${cell(outcome.error.message)}</p>`, true)
  await s.write()
}
