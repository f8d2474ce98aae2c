/**
 * The command line, the last step: what a person reads. Log lines and a live progress line on
 * stderr (CliReporter), the result on stdout (resultText). Colour only on a terminal, never with
 * NO_COLOR. Figures and tables come from src/format.ts, as the action's job summary's do.
 */

import { doctorText } from '../doctor-render.js'
import {
  attemptNote,
  bytes,
  plural,
  progressText,
  runLink,
  seconds,
  shortRef,
  textTable,
  when,
} from '../format.js'
import type { ReleaseInfo } from '../history.js'
import { keptNote } from '../keep-assets.js'
import type { CommandOutcome, HostResult } from '../outcome.js'
import { hostsJson, releasesJson, totals } from '../outputs.js'
import type { Reporter, Settings } from '../settings.js'
import { commandSpec } from '../spec.js'
import { safeMessage } from '../untrusted.js'
import { verifyText } from '../verify-render.js'
import { BIN } from './parse.js'

export interface Style {
  bold(s: string): string
  dim(s: string): string
  red(s: string): string
  yellow(s: string): string
  green(s: string): string
  cyan(s: string): string
}

export function style(enabled: boolean): Style {
  const sgr = (open: number, close: number) => (s: string) =>
    enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    green: sgr(32, 39),
    cyan: sgr(36, 39),
  }
}

/** https://no-color.org: NO_COLOR set and not empty turns colour off; FORCE_COLOR turns it on. */
export function colorWanted(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  noColorFlag: boolean,
): boolean {
  if (noColorFlag || (env.NO_COLOR ?? '') !== '') return false
  if ((env.FORCE_COLOR ?? '') !== '' && env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true && env.TERM !== 'dumb'
}

export { progressText }

export interface Stream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

/** Log lines on stderr; a progress line redrawn in place when stderr is a terminal. */
export class CliReporter implements Reporter {
  private shown = false
  private lastDraw = 0

  constructor(
    private readonly err: Stream,
    private readonly s: Style,
    private readonly opts: { verbose: boolean; info: boolean },
  ) {}

  private clear(): void {
    if (this.shown) this.err.write('\r\u001b[K')
    this.shown = false
  }

  private line(text: string): void {
    this.clear()
    this.err.write(`${text}\n`)
  }

  // Messages carry server text: safeMessage escapes any control character (colour comes only from us).
  info(message: string): void {
    if (this.opts.info || this.opts.verbose) this.line(safeMessage(message))
  }

  output(lines: string[]): void {
    for (const l of lines) this.info(l)
  }

  warning(message: string): void {
    this.line(`${this.s.yellow('warning:')} ${safeMessage(message)}`)
  }

  debug(message: string): void {
    if (this.opts.verbose) this.line(this.s.dim(safeMessage(message)))
  }

  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.opts.info || this.opts.verbose) this.line(this.s.dim(`» ${name}`))
    return fn()
  }

  progress(host: string, line: string): void {
    if (this.err.isTTY !== true) return
    const now = Date.now()
    if (now - this.lastDraw < 100) return
    this.lastDraw = now
    const text = `${host}: ${progressText(line)}`.slice(0, Math.max(20, (this.err.columns || 80) - 1))
    this.err.write(`\r\u001b[K${this.s.cyan(text)}`)
    this.shown = true
  }

  /** Removes a progress line still on screen. */
  done(): void {
    this.clear()
  }
}

/** The `list` table: newest first, the live release marked, bad ones flagged, the run's link last. */
export function releasesTable(releases: ReleaseInfo[], s: Style): string {
  const runs = releases.map((r) => runLink(r.run))
  const withRuns = runs.some(Boolean)
  const rows = releases.map((r, n) => ({
    cells: [
      `${r.current ? '*' : ' '} ${r.id}`,
      when(r.deployedAt),
      r.actor,
      shortRef(r.ref),
      r.sha.slice(0, 7),
      [r.current ? 'live' : '', r.bad ? 'bad (rolled back from)' : ''].filter(Boolean).join(', '),
      ...(withRuns ? [runs[n] ?? ''] : []),
    ],
    paint: (i: number, c: string) =>
      r.current && (i === 0 || i === 5) ? s.green(c) : r.bad && (i === 0 || i === 5) ? s.red(c) : c,
  }))
  return textTable([
    {
      cells: ['  RELEASE', 'DEPLOYED', 'BY', 'REF', 'COMMIT', '', ...(withRuns ? ['RUN'] : [])],
      paint: (_i, c) => s.bold(c),
    },
    ...rows,
  ])
}

/** What a host's link serves after a run that did not (or not only) go live, and what was attempted. */
export function liveLine(settings: Settings, h: HostResult, s: Style): string {
  const live = !h.liveKnown
    ? `could not tell what ${settings.linkName} serves now (see the error)`
    : h.releaseId
      ? `${settings.linkName} -> ${s.bold(h.releaseId)}`
      : `nothing is live (${settings.linkName} does not exist)`
  const note = attemptNote(h)
  return `${live}${note ? ` (${note})` : ''}`
}

/** `N files sent, M hard-linked, 1.2 MB on the wire` (`in all` for a fleet's sum). */
function sentText(files: number, linked: number, sent: number, where: string): string {
  return `${plural(files, 'file')} sent, ${linked} hard-linked, ${bytes(sent)} ${where}`
}

/** What a person reads on stdout after a command (the log lines went to stderr). */
export function humanResult(settings: Settings, outcome: CommandOutcome, s: Style, bin = BIN): string {
  const hosts = outcome.hosts
  const out: string[] = []
  const t = totals(outcome)
  switch (settings.command) {
    case 'list': {
      const from = hosts.find((h) => !h.error)
      if (!from) break
      if (outcome.releases.length === 0) {
        out.push(`No releases in ${settings.target} on ${from.host} yet.`)
        break
      }
      out.push(
        `Releases in ${settings.target} on ${from.host}${hosts.length > 1 ? ` (1 of ${hosts.length} hosts)` : ''}, newest first:`,
        '',
        releasesTable(outcome.releases, s),
      )
      break
    }
    case 'deploy':
    case 'activate': {
      if (settings.dryRun) {
        out.push(`Dry run: nothing was changed (${plural(hosts.length, 'host')}).`)
        for (const h of hosts)
          out.push(`  ${h.host}: ${liveLine(settings, h, s)}${keptNote(settings, h.assetsKept)}`)
        break
      }
      for (const h of hosts) {
        if (h.status !== 'deployed') {
          out.push(`${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`)
          continue
        }
        out.push(
          `${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)}${h.previousReleaseId ? ` (was ${h.previousReleaseId})` : ''}${commandSpec(settings.command).uploads ? `; ${sentText(h.filesTransferred, h.filesLinked, h.bytesSent, 'on the wire')}` : ''}${keptNote(settings, h.assetsKept)}; ${seconds(h.durationMs)}`,
        )
      }
      if (outcome.releaseDigest) out.push(`Release digest: ${outcome.releaseDigest}`)
      if (outcome.error) break
      if (hosts.length > 1 && commandSpec(settings.command).uploads) {
        out.push(`${sentText(t.filesTransferred, t.filesLinked, t.bytesSent, 'in all')}.`)
      }
      const back = hosts[0]?.previousReleaseId
      if (back)
        out.push(s.dim(`To roll back: ${bin} rollback --to ${back} (with the same --host and --target)`))
      break
    }
    case 'upload':
      if (settings.dryRun) {
        out.push('Dry run: nothing was changed.')
        break
      }
      out.push(
        `Uploaded ${settings.releaseId} to ${plural(hosts.length, 'host')}; make it live with: ${bin} activate --release-id ${settings.releaseId}`,
      )
      break
    case 'rollback':
      for (const h of hosts) {
        out.push(
          h.status === 'rolled-back'
            ? `${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)} (rolled back from ${h.previousReleaseId}, now marked bad)`
            : outcome.error
              ? `${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`
              : `${s.green('✓')} ${h.host}: already on ${h.releaseId}`,
        )
      }
      break
    case 'prune':
      for (const h of hosts) {
        out.push(
          `${s.green('✓')} ${h.host}: ${h.pruned.length ? `pruned ${h.pruned.join(', ')}` : 'nothing to prune'} (keeping ${settings.keepReleases ? plural(settings.keepReleases, 'good release') : 'all good releases'})`,
        )
      }
      break
    case 'doctor':
      out.push(doctorText(outcome.doctor ?? [], s).trimEnd())
      break
    case 'verify':
      out.push(verifyText(outcome, s).trimEnd())
      break
    case 'unlock':
      out.push(
        `${s.green('✓')} No deploy lock is held in ${settings.target} now (${hosts.map((h) => h.host).join(', ')}).`,
      )
      break
  }
  return out.length ? `${out.join('\n')}\n` : ''
}

/** humanResult with our own colours kept and any other control character escaped (values are the server's). */
export function safeResult(text: string): string {
  return text
    .split(/(\u001b\[[0-9;]*m)/)
    .map((part, i) => (i % 2 === 1 ? part : safeMessage(part)))
    .join('')
}

/**
 * stdout after a run: with --json the action's output (list: `releases`, else `hosts`), else the
 * lines for people — after a failure too when the command changes what is live, since which
 * release each host serves now is a result.
 */
export function resultText(settings: Settings, outcome: CommandOutcome, opts: ResultOptions): string {
  if (opts.json && settings.command === 'list') {
    // `[]` would say "no releases": a list that could not read any host prints nothing.
    return outcome.hosts.some((h) => !h.error) ? `${releasesJson(outcome)}\n` : ''
  }
  if (opts.json) return `${hostsJson(outcome)}\n`
  const c = commandSpec(settings.command)
  // doctor: the checks that failed are its result.
  // verify: what differs is its result.
  if (opts.failed && !c.switches && !c.picksRelease && !c.verifies && settings.command !== 'doctor') return ''
  return safeResult(humanResult(settings, outcome, opts.style, opts.bin))
}

export interface ResultOptions {
  json: boolean
  /** The run failed (its error is printed after the result). */
  failed: boolean
  style: Style
  /** How the hints name this command line (invocation.ts); default: the bare binary name. */
  bin?: string
}

/** An error on stderr: what went wrong, then what to do. */
export function errorText(s: Style, message: string, hint = ''): string {
  return `${s.red('error:')} ${safeMessage(message)}\n${hint ? `${safeMessage(hint)}\n` : ''}`
}
