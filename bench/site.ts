/**
 * The site: deterministic, realistic sizes; each rebuild rewrites every file (new mtime) and gives
 * CFG.changed of them new content.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CFG } from './config.js'
import { housekeeping } from './measure.js'

export type Kind = 'text' | 'thumb' | 'image' | 'big'
export interface SiteFile {
  rel: string
  kind: Kind
  size: number
}

function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS =
  'the of and to in is for on with as by at from release deploy server static page article guide section index content build asset image style script data table list item link header footer navigation search archive category tag author update version change note example install configure documentation reference tutorial overview'.split(
    ' ',
  )

/** About 256 KB of HTML-like text that text files take slices of. */
function makeCorpus(): string {
  const r = prng(7)
  const parts: string[] = []
  let n = 0
  while (n < 256 * 1024) {
    const words: string[] = []
    const len = 8 + Math.floor(r() * 30)
    for (let i = 0; i < len; i++) words.push(WORDS[Math.floor(r() * WORDS.length)] as string)
    const p = `<p class="c${Math.floor(r() * 20)}">${words.join(' ')}.</p>\n`
    parts.push(p)
    n += p.length
  }
  return parts.join('')
}

export class Site {
  readonly files: SiteFile[] = []
  /** versions[k - 1][i]: content version of file i in release k. */
  private readonly versions: Uint16Array[] = []
  private readonly cache = new Map<string, Buffer>()
  private readonly corpus = Buffer.from(makeCorpus())
  readonly dirs: string[]
  readonly totalBytes: number
  readonly changedPerRebuild: number

  private readonly hashes = new Map<string, string>()

  /** n files of the usual mix; with `big`, also `big.count` files of `big.bytes` in all (media, archives). */
  constructor(n: number, releases: number, changed: number, big?: { count: number; bytes: number }) {
    const r = prng(1)
    const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
    const logUniform = (lo: number, hi: number) =>
      Math.round(Math.exp(Math.log(lo) + r() * Math.log(hi / lo)))
    const images = Math.round(n * 0.03)
    const thumbs = Math.round(n * 0.12)
    const pad = (x: number, w: number) => String(x).padStart(w, '0')
    for (let i = 0; i < n; i++) {
      if (i < images) {
        this.files.push({
          rel: `assets/img/${2016 + (i % 10)}/photo-${pad(i, 5)}.jpg`,
          kind: 'image',
          size: logUniform(20_000, 200_000),
        })
      } else if (i < images + thumbs) {
        this.files.push({
          rel: `assets/thumbs/${pad(i % 40, 2)}/t-${pad(i, 5)}.webp`,
          kind: 'thumb',
          size: logUniform(3_000, 20_000),
        })
      } else {
        const j = i - images - thumbs
        const size = Math.min(80_000, Math.max(200, Math.round(Math.exp(Math.log(2000) + 0.8 * normal()))))
        const x = r()
        const rel =
          x < 0.7
            ? `docs/s${pad(Math.floor(j / 50), 3)}/page-${pad(j, 5)}.html`
            : x < 0.8
              ? `assets/js/${pad(j % 20, 2)}/chunk-${pad(j, 5)}.js`
              : x < 0.85
                ? `assets/css/style-${pad(j, 5)}.css`
                : x < 0.95
                  ? `docs/s${pad(Math.floor(j / 50), 3)}/data-${pad(j, 5)}.json`
                  : `feeds/${pad(j % 10, 2)}/feed-${pad(j, 5)}.xml`
        this.files.push({ rel, kind: 'text', size })
      }
    }
    for (let b = 0; big && b < big.count; b++) {
      this.files.push({
        rel: `media/v${b % 2}/video-${pad(b, 3)}.bin`,
        kind: 'big',
        size: Math.floor(big.bytes / big.count),
      })
    }
    this.dirs = [...new Set(this.files.map((f) => path.dirname(f.rel)))].sort()
    this.totalBytes = this.files.reduce((a, f) => a + f.size, 0)
    this.changedPerRebuild = Math.round(n * changed)
    let v = new Uint16Array(this.files.length)
    this.versions.push(v)
    for (let k = 2; k <= releases + 1; k++) {
      v = v.slice()
      const pick = prng(1000 + k)
      // The first changedPerRebuild of a partial Fisher–Yates shuffle: distinct files.
      const idx = Array.from({ length: n }, (_, i) => i)
      for (let c = 0; c < this.changedPerRebuild; c++) {
        const s = c + Math.floor(pick() * (n - c))
        const t = idx[s] as number
        idx[s] = idx[c] as number
        idx[c] = t
        v[t] = (v[t] as number) + 1
      }
      this.versions.push(v)
    }
  }

  /** The content's sha1 (hex), to check a release against. */
  hash(i: number, version: number): string {
    const key = `${i}:${version}`
    let h = this.hashes.get(key)
    if (h === undefined) {
      h = createHash('sha1').update(this.content(i, version)).digest('hex')
      this.hashes.set(key, h)
    }
    return h
  }

  /** Content versions of release k's files. */
  version(k: number): Uint16Array {
    const v = this.versions[k - 1]
    if (!v) throw new Error(`no release ${k}`)
    return v
  }

  content(i: number, version: number): Buffer {
    const key = `${i}:${version}`
    const hit = this.cache.get(key)
    if (hit) return hit
    const f = this.files[i] as SiteFile
    const seed = createHash('sha256').update(key).digest()
    let buf: Buffer
    if (f.kind === 'text') {
      const head = Buffer.from(`<!-- ${f.rel} v${version} -->\n`)
      const bodyLen = Math.max(0, f.size - head.length)
      const off = seed.readUInt32BE(0) % (this.corpus.length - bodyLen)
      buf = Buffer.concat([head, this.corpus.subarray(off, off + bodyLen)])
    } else {
      // Images: incompressible bytes (an AES-CTR key stream), new bytes for a new version.
      const c = createCipheriv('aes-128-ctr', seed.subarray(0, 16), Buffer.alloc(16))
      buf = c.update(Buffer.alloc(f.size))
    }
    // Big files are made again when needed (they would fill memory); hashes are kept.
    if (f.kind !== 'big') this.cache.set(key, buf)
    return buf
  }

  /** Writes release k's build to dir, as a fresh CI build: every file with the build's mtime. */
  write(dir: string, k: number): void {
    const v = this.versions[k - 1]
    if (!v) throw new Error(`no release ${k}`)
    for (const d of this.dirs) mkdirSync(path.join(dir, d), { recursive: true })
    // mtime: the build's own; atime: now, as for a fresh build. An old atime would make the first
    // reader (whichever method runs first) pay an atime update on every file (relatime).
    const mtime = new Date(Date.now() - 86_400_000 + k * 60_000)
    const atime = new Date()
    this.files.forEach((f, i) => {
      const p = path.join(dir, f.rel)
      writeFileSync(p, this.content(i, v[i] as number))
      utimesSync(p, atime, mtime)
    })
  }
}

/** Each release's build, written once and kept until its last use (the fleet reuses the first ones). */
export class Builds {
  constructor(
    private readonly site: Site,
    private readonly base: string,
  ) {}

  dir(k: number): string {
    return path.join(this.base, `build-${k}`)
  }

  lastUse(k: number): 'fleet' | 'releases' {
    return k <= 1 + CFG.fleetSamples ? 'fleet' : 'releases'
  }

  /** Release k's build directory, written now if it is not there yet. */
  get(k: number): string {
    const dir = this.dir(k)
    if (!existsSync(dir)) {
      const t = performance.now()
      this.site.write(dir, k)
      housekeeping.build += performance.now() - t
    }
    return dir
  }
}

/**
 * One build directory rebuilt in place, for the scales: only files whose content changes are
 * written again; every file then gets the new build's mtime (utimes), as a fresh CI build has.
 */
export class MutableBuild {
  private written: Uint16Array | undefined

  constructor(
    readonly site: Site,
    readonly dir: string,
  ) {}

  /** Makes the directory release k's build, every file with the given mtime. */
  apply(k: number, mtime: Date): void {
    const t = performance.now()
    const v = this.site.version(k)
    if (!this.written) for (const d of this.site.dirs) mkdirSync(path.join(this.dir, d), { recursive: true })
    this.site.files.forEach((f, i) => {
      const p = path.join(this.dir, f.rel)
      if (this.written?.[i] !== v[i]) writeFileSync(p, this.site.content(i, v[i] as number))
      utimesSync(p, new Date(), mtime)
    })
    this.written = v.slice()
    housekeeping.build += performance.now() - t
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}
