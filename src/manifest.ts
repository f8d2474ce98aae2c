/**
 * The release manifest (see MANIFEST-SPEC): one line per file, symlink and directory of a
 * release, with the modes the server will have, and its digest (`release-digest`).
 * The pure part (escape, format, parse, digest, diff, rsync's --chmod) comes first; the builder
 * that reads a build tree is at the end.
 */

import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs'
import { noteSpecial, type SpecialFiles } from './build-scan.js'

export type EntryType = 'f' | 'l' | 'd'

export interface Entry {
  type: EntryType
  /** Permission bits (0o7777 at most); -1 for symlinks (their mode means nothing). */
  mode: number
  /** Bytes for files; -1 for directories and symlinks. */
  size: number
  /** Lowercase hex sha256 of the content (file) or the target (symlink); '' for directories. */
  hash: string
  /** Relative, '/'-separated, never '.', '..', empty components, a leading or trailing '/'. */
  path: string
}

export const HEADER = 'rad-manifest 1'

export class ManifestError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ManifestError'
  }
}

/** Backslash → `\\`, newline → `\n`: the only two escapes (as GNU sha256sum). */
export function escapePath(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** The inverse of escapePath; any other backslash sequence is an error (untrusted text). */
export function unescapePath(s: string): string {
  // Most names have no backslash: the text itself (not a copy built a character at a time).
  if (!s.includes('\\')) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c !== '\\') {
      out += c
      continue
    }
    const n = s[i + 1]
    if (n === '\\') out += '\\'
    else if (n === 'n') out += '\n'
    else throw new ManifestError(`bad escape in path ${JSON.stringify(s)}`)
    i++
  }
  return out
}

/** The byte order of the spec (Buffer.compare of the UTF-8 bytes), not JS's UTF-16 order. */
export function comparePaths(a: string, b: string): number {
  // UTF-16 code units order as code points (so as UTF-8 bytes), except that a surrogate (half of
  // a code point above U+FFFF) sorts below U+E000-U+FFFF: lifted above them where two differ. No
  // Buffer per call: a tenth of the time, and a plan of 50,000 entries compares a path or two each.
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

export function sortEntries(entries: Entry[]): Entry[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path))
}

function modeText(e: Entry): string {
  return e.type === 'l' ? '-' : e.mode.toString(8).padStart(4, '0')
}

export function formatLine(e: Entry): string {
  const size = e.type === 'f' ? String(e.size) : '-'
  const hash = e.type === 'd' ? '-' : e.hash
  return `${e.type} ${modeText(e)} ${size} ${hash} ${escapePath(e.path)}`
}

/** The manifest text: header, entries sorted by path bytes, every line ending in a newline. */
export function formatManifest(entries: Entry[]): string {
  const lines = [HEADER, ...sortEntries(entries).map(formatLine)]
  return `${lines.join('\n')}\n`
}

/** `sha256:<hex>` of the manifest text: the release-digest. */
export function manifestDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`
}

export function digestOf(entries: Entry[]): string {
  return manifestDigest(formatManifest(entries))
}

/** A relative path as the spec allows it, or why not. */
export function pathProblem(p: string): string {
  if (p === '') return 'empty path'
  if (p.includes('\0')) return 'NUL in path'
  if (p.startsWith('/')) return 'absolute path'
  for (const part of p.split('/')) {
    if (part === '') return 'empty component (// or a trailing /)'
    if (part === '.' || part === '..') return `'${part}' component`
  }
  return ''
}

const HEX64 = /^[0-9a-f]{64}$/
const MODE4 = /^[0-7]{4}$/
const SIZE = /^(0|[1-9][0-9]{0,15})$/

function parseLine(line: string, n: number): Entry {
  const fail = (why: string) => new ManifestError(`manifest line ${n}: ${why}`)
  const m = /^([fld]) (\S+) (\S+) (\S+) (.*)$/s.exec(line)
  if (!m) throw fail('not "<type> <mode> <size> <hash> <path>"')
  const [, type, mode, size, hash, raw] = m as unknown as [string, EntryType, string, string, string, string]
  if (type === 'l' ? mode !== '-' : !MODE4.test(mode)) throw fail(`bad mode ${JSON.stringify(mode)}`)
  if (type === 'f' ? !SIZE.test(size) || !Number.isSafeInteger(Number(size)) : size !== '-')
    throw fail(`bad size ${JSON.stringify(size)}`)
  if (type === 'd' ? hash !== '-' : !HEX64.test(hash)) throw fail(`bad hash ${JSON.stringify(hash)}`)
  let p: string
  try {
    p = unescapePath(raw)
  } catch (e) {
    throw fail((e as Error).message)
  }
  const problem = pathProblem(p)
  if (problem) throw fail(`${problem}: ${JSON.stringify(p)}`)
  return {
    type,
    mode: type === 'l' ? -1 : Number.parseInt(mode, 8),
    size: type === 'f' ? Number(size) : -1,
    hash: type === 'd' ? '' : hash,
    path: p,
  }
}

/**
 * Strict: a manifest from the server is untrusted. Header, one well-formed line each, a final
 * newline, sorted without duplicates, and every parent of an entry listed as a directory.
 */
export function parseManifest(text: string): Entry[] {
  if (!text.endsWith('\n')) throw new ManifestError('manifest does not end with a newline')
  const lines = text.slice(0, -1).split('\n')
  if (lines[0] !== HEADER) throw new ManifestError(`not a manifest (first line is not "${HEADER}")`)
  const entries: Entry[] = []
  const dirs = new Set<string>()
  for (let i = 1; i < lines.length; i++) {
    const e = parseLine(lines[i] as string, i + 1)
    const prev = entries[entries.length - 1]
    if (prev && comparePaths(prev.path, e.path) >= 0)
      throw new ManifestError(`manifest line ${i + 1}: not sorted or a duplicate: ${JSON.stringify(e.path)}`)
    const slash = e.path.lastIndexOf('/')
    if (slash > 0 && !dirs.has(e.path.slice(0, slash)))
      throw new ManifestError(
        `manifest line ${i + 1}: parent of ${JSON.stringify(e.path)} is not a listed directory`,
      )
    if (e.type === 'd') dirs.add(e.path)
    entries.push(e)
  }
  return entries
}

/** Same type, mode, size and content. */
export function sameEntry(a: Entry, b: Entry): boolean {
  return a.type === b.type && a.mode === b.mode && a.size === b.size && a.hash === b.hash
}

export interface ManifestDiff {
  /** In next only. */
  added: Entry[]
  /** In old only. */
  removed: Entry[]
  /** In both, different (type, mode, size or content); `next`'s entry. */
  changed: Entry[]
  /** Identical in both. */
  same: Entry[]
}

export function diffManifests(old: Entry[], next: Entry[]): ManifestDiff {
  const byPath = new Map(old.map((e) => [e.path, e]))
  const d: ManifestDiff = { added: [], removed: [], changed: [], same: [] }
  for (const e of next) {
    const o = byPath.get(e.path)
    if (!o) d.added.push(e)
    else {
      byPath.delete(e.path)
      ;(sameEntry(o, e) ? d.same : d.changed).push(e)
    }
  }
  d.removed = sortEntries([...byPath.values()])
  return d
}

// ---- rsync's --chmod (chmod.c: parse_chmod, tweak_mode), so the manifest has the server's modes

export interface ChmodClause {
  /** 'D' directories only, 'F' files only, '' both. */
  only: '' | 'D' | 'F'
  and: number
  or: number
  /** X: the x bits only for directories and files that already have one. */
  keepX: boolean
}

/**
 * Parses a --chmod value as rsync 3.1–3.4 does; null where rsync would refuse it.
 * `umask` matters for clauses without u/g/o/a ("+x" means "a+x minus the umask", as chmod(1)).
 */
export function parseChmod(spec: string, umask: number): ChmodClause[] | null {
  if (spec === '') return []
  const out: ChmodClause[] = []
  for (const item of spec.split(',')) {
    const m = /^([DF]?)(?:([0-7]+)|([ugoa]*)([-+=])([rwxXst]*))$/.exec(item)
    if (!m) return null
    const only = (m[1] ?? '') as '' | 'D' | 'F'
    if (m[2] !== undefined) {
      const v = Number.parseInt(m[2], 8)
      if (v > 0o7777) return null
      out.push({ only, and: 0, or: v, keepX: false })
      continue
    }
    let where = 0
    let topbits = 0
    for (const c of m[3] ?? '') {
      if (c === 'u') {
        where |= 0o100
        topbits |= 0o4000
      } else if (c === 'g') {
        where |= 0o010
        topbits |= 0o2000
      } else if (c === 'o') where |= 0o001
      else where |= 0o111
    }
    let what = 0
    let topoct = 0
    let keepX = false
    for (const c of m[5] ?? '') {
      if (c === 'r') what |= 4
      else if (c === 'w') what |= 2
      else if (c === 'x') what |= 1
      else if (c === 'X') {
        what |= 1
        keepX = true
      } else if (c === 's') topoct = topbits ? topoct | topbits : 0o4000
      else topoct |= 0o1000
    }
    let bits: number
    if (where) bits = where * what
    else {
      where = 0o111
      bits = (where * what) & ~umask
    }
    const op = m[4]
    if (op === '+') out.push({ only, and: 0o7777, or: bits + topoct, keepX })
    else if (op === '-') out.push({ only, and: 0o7777 - bits - topoct, or: 0, keepX })
    else out.push({ only, and: 0o7777 - where * 7 - (topoct ? topbits : 0), or: bits + topoct, keepX })
  }
  return out
}

/** tweak_mode(): the permission bits rsync sends for a file or directory. */
export function applyChmod(mode: number, isDir: boolean, clauses: ChmodClause[]): number {
  const isX = mode & 0o111
  let m = mode & 0o7777
  for (const c of clauses) {
    if ((c.only === 'D' && !isDir) || (c.only === 'F' && isDir)) continue
    m &= c.and
    // rsync's `& ~0111` of the OR is a bitwise and of the (positive) OR value.
    m |= c.keepX && !isX && !isDir ? c.or & ~0o111 : c.or
  }
  return m & 0o7777
}

// ---- the builder: the manifest of a local tree

export interface BuildOptions {
  /** The --chmod the upload applies (chmodSpec() of src/rsync.ts). */
  chmod: string
  umask?: number
  /**
   * Keep only these paths (what rsync would send with the exclude/filter rules, e.g. from a local
   * dry run); every path is taken when absent.
   */
  keep?: (relPath: string, isDir: boolean) => boolean
  /** Stops the hashing (a cancel or the step's timeout). */
  signal?: AbortSignal
  /** Told the FIFOs, sockets and devices the walk meets (not in the manifest: rsync skips them). */
  special?: SpecialFiles
}

/** Throws for the first name in `dir` that is not UTF-8 (the manifest is text: the caller falls back). */
function notUtf8(dir: string, rel: string): void {
  for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
    const name = raw.toString('utf8')
    if (!Buffer.from(name, 'utf8').equals(raw))
      throw new ManifestError(`file name is not UTF-8: ${JSON.stringify(name)} in ${rel || '.'}`)
  }
}

/** The umask of this process, which rsync (started by it) inherits. */
export function currentUmask(): number {
  const old = process.umask(0o022)
  process.umask(old)
  return old
}

/** crypto.hash (Node 20.12 and later; the CLI runs on any Node 20): one call, no Hash object. */
const hashOnce: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined

/** Files hashed between two turns of the event loop (a cancel or a timeout is heard in between). */
const BATCH = 64
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))
/** Read at most this much at once (a bigger file is hashed in pieces). */
const CHUNK = 1 << 20

type Hashed = { mode: number; size: number; hash: string }

/**
 * Hashes the regular file `full` through one descriptor (O_NOFOLLOW: a name that became a symlink
 * since the directory was read is not followed): its mode and size from that descriptor, its
 * bytes read into `buf`, reused from file to file. Undefined when it is not a regular file now.
 */
function hashFile(full: string, buf: Buffer): Hashed | undefined {
  let fd: number
  try {
    fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') return undefined
    throw e
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return undefined
    // Most files of a site fit the buffer: read whole (as many bytes as fstat said, and short of
    // the buffer) in one read, hashed in one call (a third less CPU than a Hash object, here at
    // 50,000 files). Else (bigger, growing, or a filesystem that reads short) read on to the end.
    const n0 = readSync(fd, buf, 0, buf.length, null)
    if (n0 === st.size && n0 < buf.length && hashOnce)
      return { mode: st.mode, size: n0, hash: hashOnce('sha256', buf.subarray(0, n0), 'hex') }
    const h = createHash('sha256').update(buf.subarray(0, n0))
    let size = n0
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      h.update(buf.subarray(0, n))
      size += n
    }
    return { mode: st.mode, size, hash: h.digest('hex') }
  } finally {
    closeSync(fd)
  }
}

/**
 * The manifest of the tree under `root` as rsync -r -l -p --chmod would create it: a symlink is a
 * link, never followed; devices, fifos and sockets are skipped as rsync skips them without -D. A
 * name that is not UTF-8 throws (the manifest is text): the caller falls back. Synchronous reads
 * in small batches: on a busy 2-core runner they took a fifth of the time of the same reads
 * through libuv's thread pool, for 10,000 small files; one descriptor a file and one buffer for
 * all took 10,000 files from 0.27 to 0.17 s here.
 */
export async function buildManifest(root: string, opts: BuildOptions): Promise<Entry[]> {
  const clauses = parseChmod(opts.chmod, opts.umask ?? currentUmask())
  if (!clauses) throw new ManifestError(`rsync would refuse --chmod=${opts.chmod}`)
  const entries: Entry[] = []
  const files: Entry[] = []
  // Each file's full path, beside files[] (built once: no path.join per file, which normalises).
  const fulls: string[] = []
  const link = (full: string, p: string) => {
    const hash = createHash('sha256')
      .update(readlinkSync(full, { encoding: 'buffer' }))
      .digest('hex')
    entries.push({ type: 'l', mode: -1, size: -1, hash, path: p })
  }
  const walk = (dir: string, rel: string): void => {
    // The entry types from the directory itself (d_type): no lstat of each file; its mode and
    // size come from the descriptor it is hashed through. Names as strings: a byte that is not
    // UTF-8 decodes to U+FFFD, so only a directory with one is read again as bytes to tell a
    // real U+FFFD from a name the manifest cannot hold (no Buffer a name otherwise).
    const list = readdirSync(dir, { withFileTypes: true })
    for (const d of list) if (d.name.includes('\uFFFD')) notUtf8(dir, rel)
    for (const d of list) {
      const name = d.name
      const p = rel ? `${rel}/${name}` : name
      const full = `${dir}/${name}`
      const kind = d.isFile() || d.isDirectory() || d.isSymbolicLink() ? d : lstatSync(full)
      if (kind.isDirectory()) {
        if (opts.keep && !opts.keep(p, true)) continue
        const st = lstatSync(full)
        entries.push({ type: 'd', mode: applyChmod(st.mode, true, clauses), size: -1, hash: '', path: p })
        walk(full, p)
      } else if (kind.isFile()) {
        if (opts.keep && !opts.keep(p, false)) continue
        const e: Entry = { type: 'f', mode: 0, size: 0, hash: '', path: p }
        entries.push(e)
        files.push(e)
        fulls.push(full)
      } else if (kind.isSymbolicLink()) {
        if (opts.keep && !opts.keep(p, false)) continue
        link(full, p)
      } else if (opts.special) {
        // Neither file, directory nor link: rsync skips it (no --specials or --devices).
        noteSpecial(opts.special, kind, p)
      }
    }
  }
  // (A root named with a trailing slash would give "a//b" paths: the same files, other text.)
  walk(root.replace(/\/+$/, '') || '/', '')
  // One thread: a second one took as long on 2 cores (10,000 and 50,000 files) and half as much
  // CPU again, which the server's side of a deploy to the same machine then lacks.
  const results: (Hashed | undefined)[] = []
  const buf = Buffer.allocUnsafe(CHUNK)
  for (let i = 0; i < files.length; i++) {
    results.push(hashFile(fulls[i] as string, buf))
    if (i % BATCH === BATCH - 1) await yieldToLoop()
    if (opts.signal?.aborted) throw new ManifestError('cancelled')
  }
  for (let i = 0; i < files.length; i++) {
    const e = files[i] as Entry
    const full = fulls[i] as string
    const got = results[i]
    if (got) Object.assign(e, { mode: applyChmod(got.mode, false, clauses), size: got.size, hash: got.hash })
    else {
      // Not a regular file any more (replaced while we read): what it is now, as rsync will see it.
      const at = entries.indexOf(e)
      entries.splice(at, 1)
      const st = lstatSync(full, { throwIfNoEntry: false })
      if (st?.isSymbolicLink()) link(full, e.path)
    }
  }
  return sortEntries(entries)
}
