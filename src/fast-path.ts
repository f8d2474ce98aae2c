/**
 * The fast path's client side, pure. prepare's reply offers the live release (fast_offer in
 * remote-manifest.ts): every entry of its manifest that the server still has as recorded, with its
 * type, mode, size and hash (cut to 16 hex digits where the server can check the digest at
 * publish). The plan compares the build's manifest with it: an entry the same in both is kept (the
 * server's hard-linked copy already holds it), everything else is sent by rsync; and it says the
 * new manifest in terms of the live one (the delta), so only the changed lines travel.
 */
import { createRequire } from 'node:module'
import {
  comparePaths,
  type Entry,
  type EntryType,
  formatLine,
  HEADER,
  ManifestError,
  unescapePath,
} from './manifest.js'
import type { BuildManifest } from './release-manifest.js'
import { all, type ScriptReply } from './remote.js'

/** node:zlib, loaded when an offer comes zipped: most runs never need it (a few ms of every start). */
const zlib = () => createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib')

/** An entry of the live manifest the server trusts (hash: a prefix of 16 hex digits, or whole). */
export interface OfferEntry {
  type: EntryType
  mode: number
  size: number
  hash: string
  path: string
}

export interface Offer {
  /** The live manifest's entries in its order (index + 1 is the line the delta names); undefined: not trusted. */
  entries: (OfferEntry | undefined)[]
  /** The live release root's mode on the server (octal text). */
  rootMode: string
}

export interface FastPlan {
  /** Paths rsync sends ("." first when the root's mode changes), in the build's order. */
  send: string[]
  /** The new manifest in terms of the live one (header, `=A-B` runs of live lines, own lines). */
  delta: string
  /** Files kept from the live release (hard links made on the server). */
  keptFiles: number
}

/** The offer's decompressed size at most: a reply that inflates beyond it is refused (a zip bomb). */
const MAX_OFFER_BYTES = 256 * 1024 * 1024

const OFFER_LINE = /^t ([fld]) (-|[0-7]{4}) (-|0|[1-9][0-9]{0,15}) (-|[0-9a-f]{16}|[0-9a-f]{64}) (.*)$/s

function parseOfferLine(line: string, n: number): OfferEntry | undefined {
  if (line === 'u') return undefined
  const m = OFFER_LINE.exec(line)
  const fail = () => new ManifestError(`the server's fast-path offer, line ${n}: not an entry`)
  if (!m) throw fail()
  const [, type, mode, size, hash, raw] = m as unknown as [string, EntryType, string, string, string, string]
  if (
    (type === 'l') !== (mode === '-') ||
    (type === 'f') === (size === '-') ||
    (type === 'd') !== (hash === '-')
  )
    throw fail()
  return {
    type,
    mode: type === 'l' ? -1 : Number.parseInt(mode, 8),
    size: type === 'f' ? Number(size) : -1,
    hash: type === 'd' ? '' : hash,
    path: unescapePath(raw),
  }
}

/**
 * An offer (prepare's, or a dry run's), from its `fz` (gzip, base64) or `fp` (plain) lines: "r
 * MODE" (the live root's mode), then a line per live manifest entry. Throws when unreadable.
 */
export function readOffer(
  reply: ScriptReply,
  maxBytes = MAX_OFFER_BYTES,
  /** Whether the kept offer (fk) holds: the server said offer-kept (EarlyPlan asks before it does). */
  keptHolds = reply.values.has('offer-kept'),
): Offer {
  // The offer the walk found (fz or fp) wins over the kept one sent before the walk (fk), which
  // counts only where the server then said it holds (offer-kept): silence is no offer.
  const found = all(reply, 'fz')
  const plain = all(reply, 'fp')
  const kept = found.length === 0 && plain.length === 0 && keptHolds
  const z = kept ? all(reply, 'fk') : found
  // The server's text: bounded before anything is decoded (a 1M-entry manifest is ~100 MB).
  let given = 0
  for (const l of z.length > 0 ? z : plain) given += l.length + 1
  if (given > maxBytes) throw new ManifestError(`the server's fast-path offer is over ${maxBytes} bytes`)
  let text: string
  if (z.length > 0) {
    const packed = Buffer.from(z.join(''), 'base64')
    try {
      text = zlib().gunzipSync(packed, { maxOutputLength: maxBytes }).toString('utf8')
    } catch (e) {
      throw new ManifestError(`the server's fast-path offer does not decompress: ${(e as Error).message}`)
    }
    if (text.endsWith('\n')) text = text.slice(0, -1)
  } else text = plain.join('\n')
  const lines = text === '' ? [] : text.split('\n')
  const root = /^r ([0-7]{1,4})$/.exec(lines[0] ?? '')
  if (!root) throw new ManifestError(`the server's fast-path offer has no root mode`)
  return { entries: lines.slice(1).map((l, i) => parseOfferLine(l, i + 1)), rootMode: root[1] as string }
}

function same(e: Entry, o: OfferEntry | undefined): boolean {
  if (!o || o.type !== e.type || o.mode !== e.mode || o.size !== e.size) return false
  return e.type === 'd' || (o.hash.length >= 16 && e.hash.startsWith(o.hash))
}

/** Whether the defined entries' paths strictly ascend (the manifests' order: path bytes). */
function ascending(list: readonly ({ path: string } | undefined)[]): boolean {
  let prev: string | undefined
  for (const e of list) {
    if (!e) continue
    if (prev !== undefined && comparePaths(prev, e.path) >= 0) return false
    prev = e.path
  }
  return true
}

/**
 * The offer's index of each build path, asked in the build's order: one pass over both when both
 * are in path order (every manifest is: a fifth of the time of a Map of 50,000 paths), else a Map
 * (an offer from a server that reordered it is still read right).
 */
function matcher(
  build: readonly Entry[],
  offer: readonly (OfferEntry | undefined)[],
): (p: string) => number | undefined {
  if (!ascending(build) || !ascending(offer)) {
    const live = new Map<string, number>()
    offer.forEach((o, i) => {
      if (o) live.set(o.path, i)
    })
    return (p) => live.get(p)
  }
  let j = 0
  return (p) => {
    for (; j < offer.length; j++) {
      const o = offer[j]
      if (!o) continue
      const c = comparePaths(o.path, p)
      if (c === 0) return j++
      if (c > 0) return undefined
    }
    return undefined
  }
}

/**
 * What to send and how to say the new manifest. Entries are matched by path; a kept entry names
 * its live line, consecutive ones as one run. A directory is sent when it is new or its mode
 * changed (rsync makes it or sets its mode; what it holds is decided entry by entry).
 */
export function planFast(build: BuildManifest, offer: Offer): FastPlan {
  // The server reads its trees with find, a line a name: such a name would break its check.
  const nl = build.entries.find((e) => e.path.includes('\n'))
  if (nl) throw new ManifestError(`a name in the build has a newline (${JSON.stringify(nl.path)})`)
  const liveLine = matcher(build.entries, offer.entries)
  const lines = [HEADER]
  const send: string[] = []
  if (Number.parseInt(offer.rootMode, 8) !== Number.parseInt(build.rootMode, 8)) send.push('.')
  let keptFiles = 0
  let runStart = -1
  let runEnd = -1
  const flush = () => {
    if (runStart < 0) return
    lines.push(runStart === runEnd ? `=${runStart + 1}` : `=${runStart + 1}-${runEnd + 1}`)
    runStart = -1
  }
  for (const e of build.entries) {
    const i = liveLine(e.path)
    if (i !== undefined && same(e, offer.entries[i])) {
      if (runStart >= 0 && i === runEnd + 1) runEnd = i
      else {
        flush()
        runStart = i
        runEnd = i
      }
      if (e.type === 'f') keptFiles++
      continue
    }
    flush()
    lines.push(formatLine(e))
    send.push(e.path)
  }
  flush()
  return { send, delta: `${lines.join('\n')}\n`, keptFiles }
}
