import { mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { SpecialFiles } from './build-scan.js'
import {
  applyChmod,
  buildManifest,
  currentUmask,
  type Entry,
  formatManifest,
  ManifestError,
  manifestDigest,
  parseChmod,
} from './manifest.js'
import { run } from './proc.js'
import { chmodSpec } from './rsync.js'
import type { Settings } from './settings.js'

/** The manifest of what this deploy uploads, as the client computed it from the build. */
export interface BuildManifest {
  entries: Entry[]
  text: string
  /** `sha256:<hex>`: release-digest. */
  digest: string
  /** The release root's mode after --chmod (not an entry of the manifest), 4 octal digits. */
  rootMode: string
}

/** rsync's `\#ooo` escapes of --out-format names, back to the bytes (a `\` alone stays). */
export function unescapeRsyncName(line: string): string {
  if (!line.includes('\\#')) return line
  const parts: Buffer[] = []
  let last = 0
  for (const m of line.matchAll(/\\#([0-7]{3})/g)) {
    parts.push(
      Buffer.from(line.slice(last, m.index), 'utf8'),
      Buffer.from([Number.parseInt(m[1] as string, 8)]),
    )
    last = (m.index as number) + m[0].length
  }
  parts.push(Buffer.from(line.slice(last), 'utf8'))
  return Buffer.concat(parts).toString('utf8')
}

/** The excludes of the upload as rsync gets them: the user's, and the shared paths. */
export function uploadExcludes(s: Pick<Settings, 'exclude' | 'shared'>): string[] {
  return [...s.exclude, ...s.shared.map((p) => `/${p}`)]
}

/**
 * The set of paths rsync sends under the exclude/filter rules, from a local dry run with the same
 * rules: the rules are rsync's own (anchoring, `**`, merge files, per-directory rules), so only
 * rsync applies them exactly. Directories end in '/' in its listing.
 */
async function rsyncSelection(s: Settings, rsyncPath: string, signal?: AbortSignal): Promise<Set<string>> {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'rad-list-'))
  try {
    const args = ['--recursive', '--links', '--dry-run', '--out-format=%n']
    for (const f of s.filter) args.push(`--filter=${f}`)
    for (const e of uploadExcludes(s)) args.push(`--exclude=${e}`)
    args.push(`${path.resolve(s.source).replace(/\/+$/, '')}/`, `${empty}/`)
    const r = await run(rsyncPath, args, { signal })
    if (r.code !== 0)
      throw new ManifestError(`rsync could not list the build (exit ${r.code}): ${r.stderr.trim()}`)
    const out = new Set<string>()
    for (const l of r.stdout.split('\n')) if (l) out.add(unescapeRsyncName(l).replace(/\/$/, ''))
    return out
  } finally {
    await rm(empty, { recursive: true, force: true })
  }
}

/** The manifest of the build; the error says why there is none (the deploy goes on without). */
export async function buildReleaseManifest(
  s: Settings,
  rsyncPath: string,
  signal?: AbortSignal,
  /** Told the FIFOs, sockets and devices of the build that the walk meets. */
  special?: SpecialFiles,
): Promise<BuildManifest> {
  const chmod = chmodSpec(s.chmod)
  const umask = currentUmask()
  const rules = s.exclude.length + s.filter.length + s.shared.length > 0
  const selected = rules ? await rsyncSelection(s, rsyncPath, signal) : undefined
  const entries = await buildManifest(s.source, {
    chmod,
    umask,
    keep: selected ? (p) => selected.has(p) : undefined,
    signal,
    special,
  })
  const clauses = parseChmod(chmod, umask) ?? []
  const root = applyChmod((await stat(s.source)).mode, true, clauses)
  const text = formatManifest(entries)
  return { entries, text, digest: manifestDigest(text), rootMode: root.toString(8).padStart(4, '0') }
}
