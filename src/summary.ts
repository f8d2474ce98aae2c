/**
 * The action's job summary (the outputs are outputs.ts's). It must read on a 1000 px wide page:
 * a short table per host (what happened, what is live now, one figure), the rest of each host's
 * facts folded into a <details> section, and for `list` the releases with who deployed them.
 * summaryHtml is pure (a unit test reads its text); writeSummary only hands it to the runner.
 */
import * as core from './actions-core.js'
import { attemptNote, bytes, plural, runLabel, runLink, seconds, shortRef, when } from './format.js'
import { RELEASE_ID_RE, type ReleaseInfo } from './history.js'
import { keptNote } from './keep-assets.js'
import type { CommandOutcome, HostResult } from './outcome.js'
import type { Command, Settings } from './settings.js'
import { commandSpec } from './spec.js'
import { safeMessage } from './untrusted.js'
import { verifyText } from './verify-render.js'

/** The "live now" cell: the release the link serves, or why we cannot say. */
export function liveNow(h: HostResult): string {
  if (!h.liveKnown) return '(unknown: see the error)'
  return h.releaseId || '(nothing)'
}

// HTML (the toolkit writes cell text into the HTML as it is, and ours holds server text) and the
// characters markdown acts on, so no value becomes a link, markup or a table cell boundary.
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '[': '&#91;',
  ']': '&#93;',
  '\\': '&#92;',
  '`': '&#96;',
  '*': '&#42;',
  _: '&#95;',
  '|': '&#124;',
  '~': '&#126;',
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"'[\]\\`*_|~]/g, (c) => ENTITIES[c] ?? c)
}

/** Text for the page: control characters escaped, HTML and markdown inert, lines kept as <br>. */
export function cell(text: string): string {
  return escapeHtml(safeMessage(text)).split('\n').join('<br>')
}

/** A table of cells that are HTML already (escaped by `cell`). One line: no blank line ends the HTML block. */
export function htmlTable(header: string[], rows: string[][]): string {
  const tr = (tag: string, cells: string[]) =>
    `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`
  return `<table>${tr('th', header)}${rows.map((r) => tr('td', r)).join('')}</table>`
}

/** A host's result in words, with ✓/✗ (its error, if any, is said once, under the tables). */
export function resultWord(command: Command, h: HostResult): string {
  // A reverted host has an error too (the check that failed): its result is the switch back.
  if (h.status === 'reverted') return '✗ switched back'
  if (h.error || h.status === 'failed') return '✗ failed'
  switch (h.status) {
    case 'deployed':
      return '✓ deployed'
    case 'uploaded':
      return '✓ uploaded'
    case 'dry-run':
      return '✓ dry run'
    case 'rolled-back':
      return '✓ rolled back'
    default:
      // not-switched: a command that reads or changes no link (list, prune, unlock), a rollback
      // already there, or a deploy stopped because another host failed.
      if (commandSpec(command).switches) return '✗ not switched'
      return command === 'rollback' ? '✓ already live' : '✓ done'
  }
}

/** Commands whose hosts sent files: only they show transfer figures (a rollback sends nothing). */
function transfers(settings: Settings): boolean {
  return commandSpec(settings.command).uploads === true
}

/** The top table's one figure: files sent and linked where files were sent, else the time taken. */
function figure(settings: Settings): { header: string; value: (h: HostResult) => string } {
  if (!transfers(settings)) return { header: 'time', value: (h) => seconds(h.durationMs) }
  // A host that failed before its upload finished measured nothing: an empty cell, not "0 files".
  const measured = (h: HostResult) => !(h.status === 'failed' && h.bytesSent === 0)
  if (settings.dryRun) {
    return {
      header: 'files',
      value: (h) =>
        measured(h)
          ? `${plural(h.filesTransferred, 'file')} to send, ${h.filesLinked} to link${keptNote(settings, h.assetsKept)}`
          : '',
    }
  }
  return {
    header: 'files',
    value: (h) =>
      measured(h)
        ? `${plural(h.filesTransferred, 'file')} sent, ${h.filesLinked} hard-linked${keptNote(settings, h.assetsKept)}`
        : '',
  }
}

/**
 * One fact of a host's details: a row when `value` is not '' (and `only` allows it). A new
 * per-host fact is one entry here.
 */
export interface DetailRow {
  label: string
  only?: (settings: Settings) => boolean
  value: (h: HostResult, settings: Settings) => string
}

export const HOST_DETAILS: DetailRow[] = [
  { label: 'live now', value: (h) => liveNow(h) },
  { label: 'attempted', value: (h) => (h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : '') },
  { label: 'live before', value: (h) => h.previousReleaseId },
  { label: 'files sent', only: transfers, value: (h) => String(h.filesTransferred) },
  { label: 'files hard-linked', only: transfers, value: (h) => String(h.filesLinked) },
  { label: 'bytes sent', only: transfers, value: (h) => bytes(h.bytesSent) },
  { label: 'disk added', only: transfers, value: (h) => (h.diskKb ? bytes(h.diskKb * 1024) : '') },
  {
    label: 'old assets kept',
    only: (s) => transfers(s) && s.keepAssets.length > 0,
    value: (h) => String(h.assetsKept),
  },
  { label: 'pruned', value: (h) => h.pruned.join(', ') },
  { label: 'time', value: (h) => seconds(h.durationMs) },
]

/** The rows of one host's details (label, value), as the page shows them. */
export function hostDetails(settings: Settings, h: HostResult, rows = HOST_DETAILS): [string, string][] {
  return rows
    .filter((r) => !r.only || r.only(settings))
    .map((r): [string, string] => [r.label, r.value(h, settings)])
    .filter(([, v]) => v !== '')
}

/** The short table: host, result, live now (with what was attempted when that differs), one figure. */
function hostTable(settings: Settings, outcome: CommandOutcome): string {
  const fig = figure(settings)
  return htmlTable(
    ['host', 'result', 'live now', fig.header],
    outcome.hosts.map((h) => {
      const note = attemptNote(h)
      return [
        cell(h.host),
        cell(resultWord(settings.command, h)),
        cell(`${liveNow(h)}${note ? ` (${note})` : ''}`),
        cell(fig.value(h)),
      ]
    }),
  )
}

function detailsSection(settings: Settings, outcome: CommandOutcome): string {
  const tables = outcome.hosts.map((h) =>
    htmlTable(
      [cell(h.host), ''],
      hostDetails(settings, h).map(([k, v]) => [cell(k), cell(v)]),
    ),
  )
  return `<details><summary>Details per host</summary>${tables.join('')}</details>`
}

/** A release's run as a link, only when the log's URL is a plain https URL ('' otherwise). */
function runCell(r: ReleaseInfo): string {
  const url = runLink(r.run)
  return url ? `<a href="${escapeHtml(url)}">${cell(runLabel(url))}</a>` : ''
}

/** `list`: five columns, newest first; times and refs as people read them, the run linked. */
export function releasesHtml(releases: ReleaseInfo[]): string {
  return htmlTable(
    ['release', 'deployed', 'by', 'ref', 'run'],
    releases.map((r) => [
      cell(`${r.id}${r.current ? ' (live)' : ''}${r.bad ? ' (bad)' : ''}`),
      cell(when(r.deployedAt)),
      cell(r.actor),
      cell([shortRef(r.ref), r.sha.slice(0, 7)].filter(Boolean).join(' @ ')),
      runCell(r),
    ]),
  )
}

/** After a deploy that went live: the release to roll back to ('' when there is none to offer). */
export function wayBack(settings: Settings, outcome: CommandOutcome): string {
  const back = outcome.hosts[0]?.previousReleaseId ?? ''
  // Only a release id (a plain name) goes into the code block as it is.
  const offer = settings.command === 'deploy' && !settings.dryRun && !outcome.error
  return offer && RELEASE_ID_RE.test(back) ? back : ''
}

/**
 * The way back after a deploy, as the action says it: there is no command to type on a runner, so
 * it names the manual run (workflow_dispatch) of a rollback and the inputs to give it.
 */
export function actionRollbackText(back: string): string {
  return `To roll back to ${back}, the release that was live before: run your rollback workflow by hand (workflow_dispatch; the README's "Roll back from a manual run") with command: rollback and rollback-to: ${back}`
}

/** actionRollbackText for the page, with the inputs as a block to copy. */
export function actionRollbackHint(back: string): string {
  return `<p>${cell(actionRollbackText(back))}</p>\n\n\`\`\`yaml\ncommand: rollback\nrollback-to: ${back}\n\`\`\`\n`
}

/** The whole summary, as it goes into GITHUB_STEP_SUMMARY. */
export function summaryHtml(settings: Settings, outcome: CommandOutcome): string {
  const title = settings.dryRun ? `Dry run: ${settings.command}` : `rsync-atomic-deploy: ${settings.command}`
  const out = [`<h3>${cell(title)}</h3>`]
  // The releases are those of the first host read (as the CLI says): name it, a fleet's hosts may differ.
  const from = outcome.hosts.find((h) => !h.error)
  if (settings.command === 'list' && from && outcome.releases.length > 0) {
    const of = outcome.hosts.length > 1 ? ` (1 of ${outcome.hosts.length} hosts)` : ''
    out.push(`<p>${cell(`Releases in ${settings.target} on ${from.host}${of}, newest first:`)}</p>`)
    out.push(releasesHtml(outcome.releases))
  }
  out.push(hostTable(settings, outcome), detailsSection(settings, outcome))
  // The content digest of the build (manifest.ts): what a user compares with `verify` later.
  if (outcome.releaseDigest) out.push(`<p>Release digest: <code>${cell(outcome.releaseDigest)}</code></p>`)
  // command: verify: per host what was found (the paths are the server's: escaped, preformatted).
  if (outcome.verify) out.push(`<pre>${escapeHtml(verifyText(outcome).trimEnd())}</pre>`)
  const back = wayBack(settings, outcome)
  if (back) out.push(actionRollbackHint(back))
  // The one place the page says why the run failed (the host rows say only ✗).
  if (outcome.error) out.push(`<p><b>Failed:</b> ${cell(outcome.error.message)}</p>`)
  return `${out.join('\n')}\n`
}

export async function writeSummary(settings: Settings, outcome: CommandOutcome): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await core.summary.addRaw(summaryHtml(settings, outcome)).write()
}
