/**
 * Every deploy's result checked on the server, so a fast wrong method cannot win: the release
 * holds exactly the build's paths (no file missing, none extra), each file byte-identical to the
 * build (sha1), and, for the methods that claim it, every unchanged file a hard link to the
 * previous release's. Reading a whole release after every deploy would cost more than most deploys
 * here; a file whose inode, size and mtime are those of a file already read and found right is not
 * read again (a hard link to it, or the in-place method leaving it alone): rsync never writes into
 * an existing inode without --inplace, and a write there would change the mtime.
 */

import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import type { Site } from './site.js'

export interface Check {
  /** Regular files in the release. */
  files: number
  /** Files whose content did not change since the previous release (0 for a first deploy). */
  unchanged: number
  /** Of those, hard links to the previous release's file (same inode). */
  linked: number
  /** Bytes read to check (the rest was known right). */
  readBytes: number
  problems: string[]
}

/** What is known right: dev:ino → size, mtime and content hash when it was read. */
export type Known = Map<string, { size: number; mtimeMs: number; hash: string }>

function walk(dir: string, rel: string, out: Map<string, 'f' | 'd' | 'l' | 'other'>): void {
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name
    const kind = e.isFile() ? 'f' : e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : 'other'
    out.set(r, kind)
    if (kind === 'd') walk(dir, r, out)
  }
}

export function checkRelease(opts: {
  site: Site
  /** The content versions the release must hold, and those of the previous release (if any). */
  version: Uint16Array
  previous?: { dir: string; version: Uint16Array }
  dir: string
  claimsLinks: boolean
  known: Known
  /** A release id the method keeps inside its release root, not part of the site (e.g. nothing). */
  ignore?: (rel: string) => boolean
}): Check {
  const { site, version, previous, dir, known } = opts
  const problems: string[] = []
  const found = new Map<string, 'f' | 'd' | 'l' | 'other'>()
  try {
    walk(dir, '', found)
  } catch (e) {
    return { files: 0, unchanged: 0, linked: 0, readBytes: 0, problems: [`cannot read ${dir}: ${String(e)}`] }
  }
  const expected = new Map<string, 'f' | 'd'>()
  for (const d of site.dirs) {
    for (let p = d; p !== '.' && p !== ''; p = path.dirname(p)) expected.set(p, 'd')
  }
  for (const f of site.files) expected.set(f.rel, 'f')
  for (const [rel, kind] of found) {
    if (opts.ignore?.(rel)) continue
    const want = expected.get(rel)
    if (want === undefined) problems.push(`extra ${kind === 'd' ? 'directory' : 'file'} ${rel}`)
    else if (want !== kind) problems.push(`${rel}: a ${kind}, not a ${want}`)
  }
  for (const [rel, kind] of expected)
    if (!found.has(rel)) problems.push(`missing ${kind === 'd' ? 'directory' : 'file'} ${rel}`)

  let unchanged = 0
  let linked = 0
  let readBytes = 0
  site.files.forEach((f, i) => {
    if (found.get(f.rel) !== 'f') return
    const p = path.join(dir, f.rel)
    const st = lstatSync(p)
    const want = site.hash(i, version[i] as number)
    const id = `${st.dev}:${st.ino}`
    const k = known.get(id)
    let hash: string
    if (k && k.size === st.size && k.mtimeMs === st.mtimeMs) hash = k.hash
    else {
      const buf = readFileSync(p)
      readBytes += buf.length
      hash = createHash('sha1').update(buf).digest('hex')
      known.set(id, { size: st.size, mtimeMs: st.mtimeMs, hash })
    }
    if (hash !== want) problems.push(`${f.rel}: not the build's content`)
    if (previous && previous.version[i] === version[i]) {
      unchanged++
      try {
        if (lstatSync(path.join(previous.dir, f.rel)).ino === st.ino) linked++
      } catch {}
    }
  })
  if (opts.claimsLinks && linked < unchanged) {
    problems.push(
      `${unchanged - linked} of ${unchanged} unchanged files are not hard links to the previous release`,
    )
  }
  return { files: site.files.length, unchanged, linked, readBytes, problems }
}

/** The release `current` points to, resolved against the root, or a problem. */
export function currentTarget(root: string): string {
  try {
    return path.resolve(root, readlinkSync(path.join(root, 'current')))
  } catch (e) {
    return `(no current: ${String(e)})`
  }
}
