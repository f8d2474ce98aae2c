/**
 * command: verify, the pure part: what the server sent (remote.ts VERIFY: the release's tree, the
 * sha256 of its files, its recorded manifest and kept-assets record, each as hex) read strictly,
 * turned into manifest entries (src/manifest.ts, the one format), and compared with the recorded
 * manifest, the digest in the deploy log and expected-digest. Everything here is untrusted input
 * from the server: a malformed record is an error, never a guess.
 */
import { createHash } from 'node:crypto'
import {
  diffManifests,
  digestOf,
  type Entry,
  ManifestError,
  manifestDigest,
  parseManifest,
} from './manifest.js'
import { all, type ScriptReply } from './remote.js'
import { untrusted } from './untrusted.js'

/** `sha256:` and 64 lowercase hex digits: a release digest as the tool writes it. */
export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/

/** Bounds the server is told (and the client holds it to): the manifest's bytes, the tree's entries. */
export const VERIFY_MAX_BYTES = 256 * 1024 * 1024
export const VERIFY_MAX_ENTRIES = 2_000_000

export class VerifyReplyError extends Error {
  constructor(message: string) {
    super(`the server's verify reply is malformed: ${message}`)
    this.name = 'VerifyReplyError'
  }
}

/**
 * The bytes sent under `key` (`@@rad KEY HEX` lines, then `@@rad KEY-end`), or undefined when the
 * server said `no-KEY` (no such record). A reply cut short (no end line) or not hex is an error.
 */
export function hexSection(reply: ScriptReply, key: string): Buffer | undefined {
  if (reply.values.has(`no-${key}`)) return undefined
  if (!reply.values.has(`${key}-end`)) throw new VerifyReplyError(`the ${key} section is incomplete`)
  const chunks = all(reply, key)
  let total = 0
  for (const c of chunks) {
    if (c.length % 2 !== 0 || !/^[0-9a-f]*$/.test(c))
      throw new VerifyReplyError(`the ${key} section is not hex`)
    total += c.length / 2
    if (total > VERIFY_MAX_BYTES * 2) throw new VerifyReplyError(`the ${key} section is too large`)
  }
  return Buffer.from(chunks.join(''), 'hex')
}

/** Splits NUL-terminated fields; the last one must be terminated too. */
function nulFields(buf: Buffer, what: string): Buffer[] {
  const out: Buffer[] = []
  let start = 0
  for (;;) {
    const z = buf.indexOf(0, start)
    if (z < 0) break
    out.push(buf.subarray(start, z))
    start = z + 1
  }
  if (start !== buf.length) throw new VerifyReplyError(`the ${what} section does not end with a NUL`)
  return out
}

/** One entry of the release as the server listed it. `raw`: its path's bytes (latin1: byte-exact key). */
export interface TreeEntry {
  /** f, d, l, or o (anything else: a fifo, socket or device, which no build has). */
  type: 'f' | 'd' | 'l' | 'o'
  /** Permission bits. */
  perm: number
  size: number
  raw: string
  /** The link target's bytes (symlinks). */
  target: Buffer
}

const IFMT = 0o170000
function typeOfMode(raw: number): TreeEntry['type'] {
  const t = raw & IFMT
  return t === 0o100000 ? 'f' : t === 0o040000 ? 'd' : t === 0o120000 ? 'l' : 'o'
}
const SIZE_RE = /^(0|[1-9][0-9]{0,15})$/

/** The type, permissions and `<size> <path>` of one record, by its kind (g, x, o). */
function treeRecord(text: string): { type: TreeEntry['type']; perm: number; rest: string } | undefined {
  const g = /^g([a-zA-Z]) ([0-7]{1,5}) (.+)$/s.exec(text)
  if (g) {
    const y = g[1] as string
    const type = y === 'f' || y === 'd' || y === 'l' ? y : 'o'
    return { type, perm: Number.parseInt(g[2] as string, 8) & 0o7777, rest: g[3] as string }
  }
  const r = /^x([0-9a-f]{1,8}) (.+)$/s.exec(text) ?? /^o([0-7]{1,11}) (.+)$/s.exec(text)
  if (!r) return undefined
  const raw = Number.parseInt(r[1] as string, text.startsWith('x') ? 16 : 8)
  return { type: typeOfMode(raw), perm: raw & 0o7777, rest: r[2] as string }
}

/** A path as the server's find gives it: `./a/b`; its bytes after `./` (latin1), or undefined. */
function relativePath(p: string): string | undefined {
  if (!p.startsWith('./')) return undefined
  const raw = p.slice(2)
  return raw === '' || raw.split('/').some((c) => c === '' || c === '.' || c === '..') ? undefined : raw
}

/**
 * The links section: pairs of fields, a symlink's `./path` and its target's bytes.
 */
export function parseLinks(buf: Buffer): Map<string, Buffer> {
  const fields = nulFields(buf, 'links')
  if (fields.length % 2 !== 0) throw new VerifyReplyError('the links section has an odd number of fields')
  const out = new Map<string, Buffer>()
  for (let i = 0; i < fields.length; i += 2) {
    const p = (fields[i] as Buffer).toString('latin1')
    const raw = relativePath(p)
    if (raw === undefined) throw new VerifyReplyError(`bad link record ${JSON.stringify(untrusted(p, 200))}`)
    out.set(raw, fields[i + 1] as Buffer)
  }
  return out
}

/**
 * The tree section: one record a field, `<how><mode> <size> ./<path>`. `how` is g (GNU find: type
 * letter, space, octal permissions), x (stat -c %f: raw mode in hex) or o (BSD stat -f %p: raw
 * mode in octal). `links` gives each symlink's target (parseLinks).
 */
export function parseTree(buf: Buffer, links: Map<string, Buffer> = new Map()): TreeEntry[] {
  const fields = nulFields(buf, 'tree')
  if (fields.length > VERIFY_MAX_ENTRIES) throw new VerifyReplyError('the tree has too many entries')
  const out: TreeEntry[] = []
  const seen = new Set<string>()
  for (const field of fields) {
    const text = field.toString('latin1')
    const bad = () => new VerifyReplyError(`bad tree record ${JSON.stringify(untrusted(text, 200))}`)
    const rec = treeRecord(text)
    if (!rec) throw bad()
    const { type, perm, rest } = rec
    const sp = rest.indexOf(' ')
    if (sp < 0) throw bad()
    const size = rest.slice(0, sp)
    const raw = relativePath(rest.slice(sp + 1))
    if (!SIZE_RE.test(size) || raw === undefined) throw bad()
    if (seen.has(raw)) throw new VerifyReplyError('the tree lists a path twice')
    seen.add(raw)
    const target = links.get(raw)
    if (type === 'l' && target === undefined) throw new VerifyReplyError('a symlink without its target')
    out.push({ type, perm, size: Number(size), raw, target: target ?? Buffer.alloc(0) })
  }
  return out
}

/** GNU sha256sum's and shasum's escapes (a line that starts with `\`): `\\`, `\n`, `\r`. */
function unescapeSum(s: string): string | undefined {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c !== '\\') {
      out += c
      continue
    }
    const n = s[++i]
    if (n === '\\') out += '\\'
    else if (n === 'n') out += '\n'
    else if (n === 'r') out += '\r'
    else return undefined
  }
  return out
}

/**
 * The sums section: `<sha256>  ./<path>` (or ` *./` in binary mode) a record, NUL-terminated;
 * a record that starts with `\` has GNU's escapes in its path (busybox has none). Returns path
 * bytes (latin1) → hash.
 */
export function parseSums(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>()
  for (const f of nulFields(buf, 'sums')) {
    let text = f.toString('latin1')
    const escaped = text.startsWith('\\')
    if (escaped) text = text.slice(1)
    const m = /^([0-9a-f]{64}) [ *]\.\/(.+)$/s.exec(text)
    const p = m && (escaped ? unescapeSum(m[2] as string) : m[2])
    if (!m || p === undefined || p === null) {
      throw new VerifyReplyError(`bad checksum record ${JSON.stringify(untrusted(text, 200))}`)
    }
    out.set(p, m[1] as string)
  }
  return out
}

/** The kept-assets record (.deploy/kept/<id>, keep-assets): `./path` a line. Path bytes (latin1). */
export function parseKept(buf: Buffer): Set<string> {
  const out = new Set<string>()
  for (const line of buf.toString('latin1').split('\n')) {
    if (line.startsWith('./') && line.length > 2) out.add(line.slice(2))
  }
  return out
}

/** A path's bytes as the manifest's text, or undefined when they are not UTF-8 (no manifest has it). */
function utf8Path(raw: string): string | undefined {
  const bytes = Buffer.from(raw, 'latin1')
  const s = bytes.toString('utf8')
  return Buffer.from(s, 'utf8').equals(bytes) ? s : undefined
}

/** How a path is shown: UTF-8 when it is, else its bytes escaped. */
export function shownPath(raw: string): string {
  return untrusted(utf8Path(raw) ?? raw, 300)
}

/** Where link_shared (remote-lib.ts) points a shared path p: `../../` + one `../` per `/` + `shared/p`. */
export function sharedLinkTarget(p: string): string {
  return `../../${'../'.repeat(p.split('/').length - 1)}shared/${p}`
}

export type DifferenceKind = 'content' | 'mode' | 'type' | 'added' | 'removed' | 'unreadable'

export interface Difference {
  path: string
  kind: DifferenceKind
  /** e.g. `0644 -> 0600`, `file -> symlink` ('' when the kind says it all). */
  detail: string
}

const TYPE_WORD: Record<string, string> = { f: 'file', d: 'directory', l: 'symlink', o: 'special file' }

function modeWord(m: number): string {
  return m.toString(8).padStart(4, '0')
}

/** What differs between the recorded entry and the one on the server (same path). */
export function differenceOf(recorded: Entry, actual: Entry): Difference {
  const path = actual.path
  if (recorded.type !== actual.type) {
    return { path, kind: 'type', detail: `${TYPE_WORD[recorded.type]} -> ${TYPE_WORD[actual.type]}` }
  }
  if (actual.type === 'f' && actual.hash === '') return { path, kind: 'unreadable', detail: '' }
  const mode =
    recorded.mode !== actual.mode ? `mode ${modeWord(recorded.mode)} -> ${modeWord(actual.mode)}` : ''
  if (recorded.hash !== actual.hash || recorded.size !== actual.size) {
    const size = recorded.size !== actual.size ? `size ${recorded.size} -> ${actual.size}` : 'same size'
    return { path, kind: 'content', detail: [size, mode].filter(Boolean).join(', ') }
  }
  return { path, kind: 'mode', detail: mode.replace(/^mode /, '') }
}

/** The server's tree as manifest entries, and what of it is no part of the build. */
export interface ActualTree {
  /** The entries the manifest covers (shared paths and kept assets left out). */
  entries: Entry[]
  /** Regular files found without a checksum (unreadable for the deploy user). */
  unreadable: Set<string>
  /** Shared paths: links into TARGET/shared (and directories that only lead to them). */
  shared: string[]
  /** Assets kept from older releases (keep-assets), as the kept record names them. */
  kept: string[]
  /** Entries no manifest can hold (a name that is not UTF-8, a fifo or device): always a difference. */
  foreign: Difference[]
}

/**
 * Builds the release's entries from the tree and the checksums. Shared links and kept files are
 * set apart; a directory not in the manifest that holds nothing but those (made by mkdir -p for
 * them) goes with them. `recorded`: the manifest's paths, when there is one.
 */
export function actualTree(
  tree: TreeEntry[],
  sums: Map<string, string>,
  kept: Set<string>,
  recorded?: Set<string>,
): ActualTree {
  const out: ActualTree = { entries: [], unreadable: new Set(), shared: [], kept: [], foreign: [] }
  const own = new Map<string, Entry>()
  const covered = new Set<string>()
  for (const t of tree) {
    const p = utf8Path(t.raw)
    if (p === undefined || t.type === 'o') {
      out.foreign.push({
        path: shownPath(t.raw),
        kind: 'added',
        detail: p === undefined ? 'name is not UTF-8' : 'not a file, directory or symlink',
      })
      continue
    }
    const inManifest = recorded?.has(p) ?? false
    if (!inManifest && t.type === 'l' && t.target.toString('latin1') === sharedLinkTarget(t.raw)) {
      out.shared.push(p)
      covered.add(p)
      continue
    }
    if (!inManifest && t.type === 'f' && kept.has(t.raw)) {
      out.kept.push(p)
      covered.add(p)
      continue
    }
    const hash =
      t.type === 'f'
        ? (sums.get(t.raw) ?? '')
        : t.type === 'l'
          ? createHash('sha256').update(t.target).digest('hex')
          : ''
    if (t.type === 'f' && hash === '') out.unreadable.add(p)
    own.set(p, {
      type: t.type,
      mode: t.type === 'l' ? -1 : t.perm,
      size: t.type === 'f' ? t.size : -1,
      hash,
      path: p,
    })
  }
  // Directories deepest first: one that holds only covered entries (and is not the build's) is covered.
  const ancestors = (p: string) => {
    const parts = p.split('/')
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'))
  }
  const holdsOwn = new Set<string>()
  const holdsCovered = new Set<string>()
  const holdsShared = new Set<string>()
  for (const p of covered) for (const a of ancestors(p)) holdsCovered.add(a)
  for (const p of out.shared) for (const a of ancestors(p)) holdsShared.add(a)
  for (const e of own.values()) if (e.type !== 'd') for (const a of ancestors(e.path)) holdsOwn.add(a)
  const dirs = [...own.values()]
    .filter((e) => e.type === 'd')
    .sort((a, b) => b.path.split('/').length - a.path.split('/').length)
  for (const d of dirs) {
    if (!(recorded?.has(d.path) ?? false) && !holdsOwn.has(d.path) && holdsCovered.has(d.path)) {
      own.delete(d.path)
      ;(holdsShared.has(d.path) ? out.shared : out.kept).push(d.path)
    } else for (const a of ancestors(d.path)) holdsOwn.add(a)
  }
  // Unsorted: digestOf sorts, diffManifests needs no order.
  out.entries = [...own.values()]
  out.shared.sort()
  out.kept.sort()
  return out
}

/** The digest in the deploy log for this release: of its last line that has one. */
export function loggedDigest(logLines: string[], release: string): string {
  let found = ''
  for (const l of logLines) {
    const sp = l.indexOf(' ')
    try {
      const o = JSON.parse(l.slice(sp + 1)) as Record<string, unknown>
      if (o && o.release === release && typeof o.digest === 'string' && DIGEST_RE.test(o.digest)) {
        found = o.digest
      }
    } catch {
      // not JSON: the log's other readers name such lines
    }
  }
  return found
}

export interface VerifyReport {
  release: string
  /** 'missing': deployed by a version that wrote none; 'corrupt': not a manifest. */
  manifest: 'ok' | 'missing' | 'corrupt'
  /** Why the manifest is corrupt. */
  manifestProblem: string
  /** The recorded manifest's digest, recomputed here ('' without one). */
  recordedDigest: string
  /** The digest of the tree as the server has it now (shared paths and kept assets left out). */
  actualDigest: string
  /** From the deploy log ('' when its line has none). */
  loggedDigest: string
  expectedDigest: string
  /** Entries of the release compared (files, directories, links). */
  entries: number
  differences: Difference[]
  /** The digests that disagree, in words (the log's, expected-digest's). */
  digestProblems: string[]
  shared: string[]
  kept: string[]
  /** Proven: what is there is what was recorded (and expected, when given). */
  verified: boolean
}

export interface VerifyInput {
  release: string
  manifest: Buffer | undefined
  kept: Buffer | undefined
  tree: Buffer
  links: Buffer
  sums: Buffer
  logLines: string[]
  expectedDigest: string
  /** How messages name expected-digest (the input or the CLI's flag). */
  expectedName: string
}

/** Compares a release as the server has it with its record, the log and expected-digest. */
export function compareRelease(input: VerifyInput): VerifyReport {
  const tree = parseTree(input.tree, parseLinks(input.links))
  const sums = parseSums(input.sums)
  const kept = input.kept ? parseKept(input.kept) : new Set<string>()
  const report: VerifyReport = {
    release: input.release,
    manifest: 'missing',
    manifestProblem: '',
    recordedDigest: '',
    actualDigest: '',
    loggedDigest: loggedDigest(input.logLines, input.release),
    expectedDigest: input.expectedDigest,
    entries: 0,
    differences: [],
    digestProblems: [],
    shared: [],
    kept: [],
    verified: false,
  }
  let recorded: Entry[] | undefined
  if (input.manifest) {
    const text = input.manifest.toString('utf8')
    try {
      if (!Buffer.from(text, 'utf8').equals(input.manifest)) throw new ManifestError('it is not UTF-8 text')
      recorded = parseManifest(text)
      report.manifest = 'ok'
      report.recordedDigest = manifestDigest(text)
    } catch (e) {
      report.manifest = 'corrupt'
      report.manifestProblem = untrusted(e instanceof Error ? e.message : String(e), 500)
    }
  }
  const actual = actualTree(tree, sums, kept, recorded ? new Set(recorded.map((e) => e.path)) : undefined)
  report.actualDigest = digestOf(actual.entries)
  report.shared = actual.shared
  report.kept = actual.kept
  report.entries = actual.entries.length
  if (recorded) {
    const byPath = new Map(recorded.map((e) => [e.path, e]))
    const d = diffManifests(recorded, actual.entries)
    report.differences = [
      ...d.changed.map((e) => differenceOf(byPath.get(e.path) as Entry, e)),
      ...d.added.map((e) => ({ path: e.path, kind: 'added' as const, detail: TYPE_WORD[e.type] ?? '' })),
      ...d.removed.map((e) => ({ path: e.path, kind: 'removed' as const, detail: TYPE_WORD[e.type] ?? '' })),
    ]
    report.entries = recorded.length
  }
  report.differences.push(...actual.foreign)
  report.differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const { recordedDigest: rec, loggedDigest: logged, expectedDigest: exp } = report
  if (rec && logged && rec !== logged) {
    report.digestProblems.push(
      `the recorded manifest's digest is ${rec}, not the ${logged} the deploy log says it was published with: the manifest itself was changed`,
    )
  }
  if (exp) {
    // The digest of what was built: the recorded one, else (no manifest) the tree's own.
    const against = rec || report.actualDigest
    if (against !== exp) {
      report.digestProblems.push(
        `${rec ? 'its recorded digest' : 'the digest of its files'} is ${against}, not the expected ${exp} (${input.expectedName})`,
      )
    }
  }
  report.verified =
    report.digestProblems.length === 0 &&
    report.differences.length === 0 &&
    (report.manifest === 'ok' || (report.manifest === 'missing' && exp !== ''))
  return report
}

/** How many differing paths a message names before it says "and N more". */
export const SHOWN_DIFFERENCES = 20

export function differenceLine(d: Difference): string {
  const what: Record<DifferenceKind, string> = {
    content: 'content changed',
    mode: 'mode changed',
    type: 'type changed',
    added: 'added',
    removed: 'removed',
    unreadable: 'cannot be read on the server',
  }
  return `${what[d.kind]}: ${untrusted(d.path, 300)}${d.detail ? ` (${d.detail})` : ''}`
}

/** The differences as lines, at most `max`, then how many more. */
export function differenceLines(ds: Difference[], max = SHOWN_DIFFERENCES): string[] {
  const lines = ds.slice(0, max).map(differenceLine)
  if (ds.length > max) lines.push(`… and ${ds.length - max} more`)
  return lines
}

/** One line for a host's result: verified, or what stops it being so. */
export function verdictLine(r: VerifyReport): string {
  if (r.verified) {
    return r.manifest === 'ok'
      ? `verified: ${r.entries} files match ${r.recordedDigest}`
      : `verified: ${r.entries} files match the expected ${r.expectedDigest} (no manifest was recorded for this release)`
  }
  const parts: string[] = []
  if (r.manifest === 'missing' && !r.expectedDigest && r.differences.length === 0) {
    return `not verified: release ${r.release} has no manifest (deployed by a version before manifests); its files' digest is ${r.actualDigest}`
  }
  if (r.manifest === 'corrupt') parts.push(`its manifest cannot be read (${r.manifestProblem})`)
  if (r.differences.length) parts.push(`${r.differences.length} path(s) differ from its manifest`)
  parts.push(...r.digestProblems)
  return `NOT verified: ${parts.join('; ')}`
}
