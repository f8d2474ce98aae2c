/**
 * keep-assets: files of the last releases that match the patterns and that the new build lacks are
 * hard-linked into the new release before it goes live, so a page loaded just before a switch still
 * finds its hashed scripts (no ChunkLoadError). The pure parts live here: the patterns' validation
 * and translation, and which releases are the sources. The server side is keep_assets in
 * remote-lib.ts.
 */
import { lstatSync, type Stats } from 'node:fs'
import path from 'node:path'
import { InputError } from './errors.js'
import { plural } from './format.js'
import { type LogEntry, listReleases } from './history.js'
import type { HostRun } from './host.js'
import { all } from './reply.js'
import type { RunContext } from './session.js'

/** A pattern's characters: plain file-name characters and the globs * and ?; nothing a shell or find reads otherwise. */
const SEGMENT_RE = /^[A-Za-z0-9._~@+*?-]+$/

const FIX =
  'Give patterns relative to the release, e.g. assets/**, _next/static/** or *.js (letters, digits, . _ - ~ @ + and the globs * and ?).'

/** At most this many patterns, each this long: a list is a handful of asset directories. */
export const MAX_PATTERNS = 100
const MAX_LENGTH = 200

/**
 * The keep-assets input as patterns: newline or comma separated, each relative (no leading /, no
 * `.` or `..` part), of a safe charset. `name` is the input named in errors.
 */
export function parseKeepAssets(value: string, name = 'keep-assets'): string[] {
  const items = value
    .replace(/\r\n?/g, '\n')
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
  if (items.length > MAX_PATTERNS) {
    throw new InputError(
      name,
      `has ${items.length} patterns, more than ${MAX_PATTERNS}`,
      'List the asset directories, e.g. assets/**.',
    )
  }
  for (const p of items) checkPattern(name, p)
  return [...new Set(items)]
}

function checkPattern(name: string, p: string): void {
  const shown = JSON.stringify(p)
  if (p.length > MAX_LENGTH)
    throw new InputError(
      name,
      `the pattern ${shown.slice(0, 60)}… is longer than ${MAX_LENGTH} characters`,
      FIX,
    )
  if (p.startsWith('/')) throw new InputError(name, `the pattern ${shown} is absolute`, FIX)
  const parts = p.replace(/\/$/, '').split('/')
  if (parts.some((s) => s === '.' || s === '..')) {
    throw new InputError(name, `the pattern ${shown} has a . or .. part`, FIX)
  }
  if (parts.some((s) => s === ''))
    throw new InputError(name, `the pattern ${shown} has an empty part (//)`, FIX)
  const bad = parts.find((s) => !SEGMENT_RE.test(s))
  if (bad !== undefined) {
    throw new InputError(name, `the pattern ${shown} has a character that is not allowed`, FIX)
  }
}

/**
 * A pattern as a `find -path` pattern below the release (find prints `./path`). find's `*` matches
 * `/` too, so `**` becomes `*` and a `*` of the pattern matches across directories as well:
 * `assets/**` and `assets/*` are every file under assets/, `*.js` every .js file at any depth. A
 * pattern ending in `/` means everything under that directory.
 */
export function findPathPattern(pattern: string): string {
  let p = pattern.replace(/\*{2,}/g, '*')
  if (p.endsWith('/')) p += '*'
  return `./${p}`
}

/** The find -path patterns, one a line, as the keep_assets script reads them (KEEP_PATHS). */
export function keepPathsValue(patterns: string[]): string {
  return patterns.map(findPathPattern).join('\n')
}

/**
 * The releases old assets are kept from, newest first: the live one, then the others in the log's
 * order (list's order), at most `n`, never the new release itself. Only releases on disk.
 */
export function keepSources(
  log: LogEntry[],
  existing: string[],
  live: string,
  newId: string,
  n: number,
): string[] {
  if (n <= 0) return []
  const ordered = listReleases(log, existing, live).map((r) => r.id)
  const list = existing.includes(live) ? [live, ...ordered.filter((id) => id !== live)] : ordered
  return list.filter((id) => id !== newId).slice(0, n)
}

/** The server's count of kept files (a `kept` reply): a whole number, else 0. */
export function keptCount(value: string | undefined): number {
  return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : 0
}

/** "; kept N old assets" for a host's line (the CLI's, the summary's), when keep-assets is on. */
export function keptNote(settings: { keepAssets: string[]; dryRun: boolean }, kept: number): string {
  if (settings.keepAssets.length === 0) return ''
  return settings.dryRun ? `; would keep ${plural(kept, 'old asset')}` : `; kept ${plural(kept, 'old asset')}`
}

/**
 * How many of the server's candidates (`./path`, from keepPlan) the build lacks: the ones a deploy
 * would keep. A path the build has, or one under a file or a symlink of the build, is not kept.
 * (The build as it lies here: exclude and filter rules are not applied.)
 */
export function countMissing(source: string, candidates: string[]): number {
  let n = 0
  for (const c of candidates) {
    const rel = c.startsWith('./') ? c.slice(2) : ''
    const parts = rel.split('/')
    if (rel === '' || parts.some((p) => p === '' || p === '.' || p === '..')) continue
    if (placeFree(source, parts)) n++
  }
  return n
}

/** Nothing at the path in `root`, and every part above it that exists is a real directory. */
function placeFree(root: string, parts: string[]): boolean {
  let p = root
  for (let i = 0; i < parts.length; i++) {
    p = path.join(p, parts[i] as string)
    let st: Stats
    try {
      st = lstatSync(p)
    } catch {
      return true
    }
    if (i === parts.length - 1 || !st.isDirectory()) return false
  }
  return false
}

/** A dry run: what keep-assets would link on this host, from the server's plan and the local build. */
export async function dryRunKept(ctx: RunContext, run: HostRun): Promise<number> {
  const s = ctx.settings
  if (s.keepAssets.length === 0 || !run.state) return 0
  const reply = await run.session.call('keepPlan', {
    KEEP_PATHS: keepPathsValue(s.keepAssets),
    KEEP_FROM: keepSources(
      run.state.log,
      run.state.releases,
      run.state.live,
      s.releaseId,
      s.keepAssetsReleases,
    ).join(' '),
  })
  return countMissing(s.source, all(reply, 'keep-candidate'))
}
