/**
 * `npm run bench`: this action against the alternatives, through a simulated WAN on loopback.
 * Not part of the test suite. Needs root (it starts sshds, some in their own mount namespace, and
 * uses the throwaway user of the integration tests). Prints the tables to stdout, progress to stderr,
 * and writes bench/report.md and docs/disk-over-releases.svg. npm run bench bundles this file with
 * ncc into .cache/bench/ (two levels down, so the harness still finds the repository) and runs it.
 *
 * A site of BENCH_FILES files is deployed (release 1), then rebuilt (every file gets a new mtime,
 * BENCH_CHANGED of them new content) and deployed again, BENCH_RELEASES times in all, by:
 *   a. this action, end to end: dist/index.js run as the runner runs it (INPUT_* variables);
 *   b. the floor: one raw `rsync` with our flags (rsyncArgs) and --link-dest, into a fresh directory;
 *   c. a full copy into a fresh directory (rsync, no --link-dest);
 *   d. the by-hand recipe: `cp -al` of the live release, `rsync -a --delete` into it, `ln -s`,
 *      `mv -T`: four ssh calls, four connections.
 * Release 1 and the rebuilds measured (2 for c and d; 2 to BENCH_SAMPLES + 1 for a and b, which
 * take turns at going first) go through the WAN simulator (test/support/throttle.ts:
 * BENCH_MBIT each way, BENCH_RTT_MS round trip); later releases only feed the disk chart and go
 * straight to the sshd. Each rebuild of b is also taken apart (handshake, an empty remote call,
 * its rsync over a master with and without the action's options and layout), to find where the
 * action's extra time goes. Then the same site goes to 1 host and to BENCH_HOSTS hosts (sshds in
 * their own mount namespaces, each behind its own WAN link), with the CPU time of the servers'
 * side and the runner's side measured apart (cgroups), since here they share one machine.
 *
 * Knobs (environment): BENCH_FILES=10000 BENCH_MBIT=50 BENCH_RTT_MS=20 BENCH_HOSTS=8
 * BENCH_RELEASES=10 BENCH_SAMPLES=5 BENCH_FLEET_SAMPLES=3 BENCH_CHANGED=0.01
 * BENCH_REPORT=bench/report.md BENCH_SVG=docs/disk-over-releases.svg
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_CHMOD } from '../src/inputs.js'
import { parseStats, rsyncArgs } from '../src/rsync.js'
import { DIST, ROOT, runAction, type Sshd, startSshd, TEST_USER } from '../test/support/harness.js'
import { startThrottle, type Throttle } from '../test/support/throttle.js'

// ---------------------------------------------------------------------------------------------
// Settings

function envNumber(name: string, dflt: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return dflt
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: expected a number ≥ ${min}`)
  return n
}

const samples = Math.round(envNumber('BENCH_SAMPLES', 5, 1))
const CFG = {
  files: Math.round(envNumber('BENCH_FILES', 10_000, 100)),
  mbit: envNumber('BENCH_MBIT', 50, 0.1),
  rttMs: envNumber('BENCH_RTT_MS', 20, 0),
  hosts: Math.round(envNumber('BENCH_HOSTS', 8, 2)),
  releases: Math.max(Math.round(envNumber('BENCH_RELEASES', 10, 2)), samples + 1),
  samples,
  fleetSamples: Math.round(envNumber('BENCH_FLEET_SAMPLES', 3, 1)),
  changed: envNumber('BENCH_CHANGED', 0.01, 0),
  report: path.resolve(process.env.BENCH_REPORT || path.join(ROOT, 'bench/report.md')),
  svg: path.resolve(process.env.BENCH_SVG || path.join(ROOT, 'docs/disk-over-releases.svg')),
}
const BYTES_PER_SECOND = (CFG.mbit * 1e6) / 8

const log = (msg: string) => process.stderr.write(`${msg}\n`)

// ---------------------------------------------------------------------------------------------
// Processes: everything we start is tracked, so an interrupted run still cleans up.

const children = new Set<ChildProcess>()
const cleanups: (() => Promise<void> | void)[] = []

interface Timed {
  ms: number
  code: number
  stdout: string
  stderr: string
}

function exec(cmd: string, args: string[], opts: { quiet?: boolean } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    // quiet: no pipes at all, for a process that leaves a daemon behind (ssh -f) holding them.
    const child = spawn(cmd, args, { stdio: opts.quiet ? 'ignore' : ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => {
      stdout += d
    })
    child.stderr?.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      children.delete(child)
      resolve({ ms: performance.now() - started, code: code ?? -1, stdout, stderr })
    })
  })
}

async function must(cmd: string, args: string[], opts: { quiet?: boolean } = {}): Promise<Timed> {
  const r = await exec(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}\n${r.stdout.slice(-2000)}`)
  }
  return r
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? ''
}

// ---------------------------------------------------------------------------------------------
// The site: deterministic, realistic sizes; each rebuild rewrites every file (new mtime) and gives
// CFG.changed of them new content.

type Kind = 'text' | 'thumb' | 'image'
interface SiteFile {
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

class Site {
  readonly files: SiteFile[] = []
  /** versions[k - 1][i]: content version of file i in release k. */
  private readonly versions: Uint16Array[] = []
  private readonly cache = new Map<string, Buffer>()
  private readonly corpus = Buffer.from(makeCorpus())
  readonly dirs: string[]
  readonly totalBytes: number
  readonly changedPerRebuild: number

  constructor(n: number, releases: number, changed: number) {
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
    this.dirs = [...new Set(this.files.map((f) => path.dirname(f.rel)))].sort()
    this.totalBytes = this.files.reduce((a, f) => a + f.size, 0)
    this.changedPerRebuild = Math.round(n * changed)
    let v = new Uint16Array(n)
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

  private content(i: number, version: number): Buffer {
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
    this.cache.set(key, buf)
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

// ---------------------------------------------------------------------------------------------
// Measurements on the "server" (the same machine: its directories are local to us, we are root).

/** KiB of disk the last dir adds when the others are counted first (du counts an inode once). */
async function duKb(...dirs: string[]): Promise<{ kb: number; ms: number }> {
  const r = await must('du', ['-sk', ...dirs])
  const last = r.stdout.trim().split('\n').pop() ?? ''
  return { kb: Number(last.split('\t')[0]), ms: r.ms }
}

/** Time spent on housekeeping between measurements (for the log). */
const housekeeping = { settle: 0, build: 0 }

async function settle(): Promise<void> {
  // Dirty pages of the previous run must not be written back during the next one.
  housekeeping.settle += (await must('sync', [])).ms
}

const CLK_TCK = Number(firstLine('getconf', ['CLK_TCK'])) || 100

/** CPU time of the whole machine: busy and total, in ms summed over cores (from /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return { busy: ((total - idle) * 1000) / CLK_TCK, total: (total * 1000) / CLK_TCK }
}

/**
 * CPU accounting groups (cgroup v1 cpuacct, or v2 with the cpu controller), so the fleet's CPU time
 * can be split into the servers' side (every process under the fleet's sshds) and the runner's
 * side (the action, its ssh and rsync processes, and this process). Processes started by a member
 * stay members, daemonised ssh masters included. Undefined when the machine offers no writable one.
 */
class CpuGroups {
  private constructor(
    private readonly parent: string,
    private readonly root: string,
    private readonly v2: boolean,
    private readonly names: string[],
  ) {}

  static create(names: string[]): CpuGroups | undefined {
    const candidates: [string, boolean][] = [['/sys/fs/cgroup/cpuacct', false]]
    try {
      if (readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('cpu')) {
        candidates.unshift(['/sys/fs/cgroup', true])
      }
    } catch {}
    for (const [parent, v2] of candidates) {
      const root = path.join(parent, `radbench-${process.pid}`)
      try {
        mkdirSync(root)
        if (v2) writeFileSync(path.join(root, 'cgroup.subtree_control'), '+cpu')
        for (const n of names) mkdirSync(path.join(root, n))
        const g = new CpuGroups(parent, root, v2, names)
        g.usageMs(names[0] as string)
        return g
      } catch {
        for (const n of names) {
          try {
            rmdirSync(path.join(root, n))
          } catch {}
        }
        try {
          rmdirSync(root)
        } catch {}
      }
    }
    return undefined
  }

  /** Moves a process (all its threads) into a group; its future children follow. */
  move(pid: number, name: string): void {
    writeFileSync(path.join(this.root, name, 'cgroup.procs'), `${pid}\n`)
  }

  usageMs(name: string): number {
    const dir = path.join(this.root, name)
    if (!this.v2) return Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6
    const m = /^usage_usec (\d+)/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))
    return Number(m?.[1] ?? 0) / 1000
  }

  /**
   * Moves this process back where it was and removes the groups. What is still in them is ours
   * (sessions of our sshds, an ssh master of an interrupted deploy): given a moment, then stopped.
   */
  async dispose(): Promise<void> {
    try {
      writeFileSync(path.join(this.parent, 'cgroup.procs'), `${process.pid}\n`)
    } catch {}
    const members = (n: string) => {
      try {
        return readFileSync(path.join(this.root, n, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number)
      } catch {
        return []
      }
    }
    for (let i = 0; i < 50 && this.names.some((n) => members(n).length > 0); i++) {
      if (i === 20) {
        for (const pid of this.names.flatMap(members)) {
          try {
            process.kill(pid, 'SIGTERM')
          } catch {}
        }
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    for (const n of this.names) {
      try {
        rmdirSync(path.join(this.root, n))
      } catch (e) {
        log(`could not remove the cgroup ${path.join(this.root, n)}: ${e instanceof Error ? e.message : e}`)
      }
    }
    try {
      rmdirSync(this.root)
    } catch {}
  }
}

interface Wire {
  up: number
  down: number
  connections: number
}

function wire(links: Throttle[]): Wire {
  const w = { up: 0, down: 0, connections: 0 }
  for (const l of links) {
    const b = l.bytes()
    w.up += b.up
    w.down += b.down
    w.connections += l.connections()
  }
  return w
}

function wireSince(links: Throttle[], before: Wire): Wire {
  const now = wire(links)
  return {
    up: now.up - before.up,
    down: now.down - before.down,
    connections: now.connections - before.connections,
  }
}

/** One deploy's figures. */
interface Sample {
  release: number
  via: 'wan' | 'lan'
  ms: number
  wire: Wire
  /** Connections sshd logged (a cross-check of the proxy's count). */
  sshdConnections: number
  /** KiB the new release adds on disk. */
  diskKb: number
  filesSent: number
  phases?: Phases
}

interface Phases {
  start: number
  connect: number
  prepare: number
  upload: number
  switch: number
  finish: number
}

/** Phase times of one host's run of the action, from the times its ::group:: lines arrived. */
function phasesOf(marks: { t: number; line: string }[], t0: number, end: number): Phases | undefined {
  const index = (re: RegExp) => marks.findIndex((m) => re.test(m.line))
  const at = (i: number) => (i < 0 ? undefined : marks[i]?.t)
  const swIndex = index(/^::group::.*: publish and switch$/)
  const connect = at(index(/^::group::.*: connect and check$/))
  const prepare = at(index(/^::group::.*: prepare$/))
  const upload = at(index(/^::group::.*: upload$/))
  const sw = at(swIndex)
  if (connect === undefined || prepare === undefined || upload === undefined || sw === undefined)
    return undefined
  const swEnd = marks.find((m, i) => i > swIndex && m.line === '::endgroup::')?.t ?? end
  return {
    start: connect - t0,
    connect: prepare - connect,
    prepare: upload - prepare,
    upload: sw - upload,
    switch: swEnd - sw,
    finish: end - swEnd,
  }
}

// ---------------------------------------------------------------------------------------------
// Report helpers

const sec = (ms: number) => (Number.isNaN(ms) ? '—' : (ms / 1000).toFixed(2))
const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)
const mbKb = (kb: number) => ((kb * 1024) / 1e6).toFixed(kb * 1024 < 1e7 ? 2 : 1)
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** A markdown table, padded the way the formatter (biome) writes it; the first column left-aligned. */
function mdTable(head: string[], rows: string[][]): string {
  const cells = [head, ...rows].map((r) => head.map((_, i) => (r[i] ?? '').replace(/\|/g, '\\|')))
  const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] as string).length)))
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w - 1)}` : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`
  const [first, ...rest] = cells
  return [line(first as string[]), rule, ...rest.map(line)].join('\n')
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c)
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p
  return 10 * p
}

/** A hand-written line chart: cumulative MB on the server per release, one line per method. */
function diskChart(
  series: { name: string; color: string; dash?: string; mb: number[] }[],
  subtitle: string,
): string {
  const W = 760
  const H = 440
  const L = 78
  const R = 200
  const T = 62
  const B = 58
  const pw = W - L - R
  const ph = H - T - B
  const n = Math.max(...series.map((s) => s.mb.length))
  const max = Math.max(1, ...series.flatMap((s) => s.mb))
  const step = niceStep(max / 6)
  const ymax = Math.ceil(max / step) * step
  const x = (i: number) => L + (n === 1 ? pw / 2 : (i * pw) / (n - 1))
  const y = (v: number) => T + ph - (v / ymax) * ph
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="13" role="img" aria-labelledby="title desc">`,
    '<title id="title">Disk used on the server over releases</title>',
    `<desc id="desc">${xmlEscape(series.map((s) => `${s.name}: ${s.mb.map((v) => v.toFixed(1)).join(', ')} MB`).join('; '))}</desc>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="26" font-size="17" font-weight="600" fill="#1f2328">Disk used on the server, cumulative, after each release</text>`,
    `<text x="${L}" y="46" fill="#59636e">${xmlEscape(subtitle)}</text>`,
  )
  for (let v = 0; v <= ymax + 1e-9; v += step) {
    const yy = y(v).toFixed(1)
    out.push(
      `<line x1="${L}" y1="${yy}" x2="${L + pw}" y2="${yy}" stroke="${v === 0 ? '#59636e' : '#d1d9e0'}" stroke-width="1"/>`,
      `<text x="${L - 8}" y="${yy}" dy="4" text-anchor="end" fill="#59636e">${Number(v.toFixed(1))}</text>`,
    )
  }
  for (let i = 0; i < n; i++) {
    out.push(
      `<line x1="${x(i).toFixed(1)}" y1="${T + ph}" x2="${x(i).toFixed(1)}" y2="${T + ph + 5}" stroke="#59636e"/>`,
      `<text x="${x(i).toFixed(1)}" y="${T + ph + 20}" text-anchor="middle" fill="#59636e">${i + 1}</text>`,
    )
  }
  out.push(
    `<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#1f2328">release</text>`,
    `<text transform="translate(20 ${T + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">MB on disk (all releases kept)</text>`,
  )
  // Labels at the right end, pushed apart when two lines end close together.
  const ends = series.map((s) => ({ s, y: y(s.mb[s.mb.length - 1] ?? 0) })).sort((a, b) => a.y - b.y)
  for (let i = 1; i < ends.length; i++) {
    const prev = ends[i - 1] as { y: number }
    const cur = ends[i] as { y: number }
    if (cur.y - prev.y < 34) cur.y = prev.y + 34
  }
  // Lines in the given order (a dashed one drawn later stays visible over an equal solid one).
  for (const s of series) {
    const pts = s.mb.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    out.push(
      `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="${s.dash ? 2.5 : 4}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    )
    for (let i = 0; i < s.mb.length; i++) {
      out.push(
        `<circle cx="${x(i).toFixed(1)}" cy="${y(s.mb[i] as number).toFixed(1)}" r="${s.dash ? 3 : 4.5}" fill="${s.color}"/>`,
      )
    }
  }
  for (const { s, y: ly } of ends) {
    const last = s.mb[s.mb.length - 1] ?? 0
    out.push(
      `<text x="${L + pw + 12}" y="${ly.toFixed(1)}" dy="-2" fill="${s.color}" font-weight="600">${xmlEscape(s.name)}</text>`,
      `<text x="${L + pw + 12}" y="${ly.toFixed(1)}" dy="14" fill="#59636e">${last.toFixed(1)} MB</text>`,
    )
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'npm run bench needs root: it starts sshds (some in their own mount namespace) and a test user',
    )
  }
  for (const bin of ['rsync', 'ssh', 'du', 'unshare']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed`)
  }
  if (!existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd is not installed (openssh-server)')
  // The harness finds the repository from its own location: bundled, from .cache/bench/ (two levels down).
  if (!existsSync(path.join(ROOT, 'action.yml'))) {
    throw new Error(`${ROOT} is not the repository: build the benchmark into .cache/bench/ (npm run bench)`)
  }
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`)
  const distAge = statSync(DIST).mtimeMs
  const newerSrc = readdirSync(path.join(ROOT, 'src')).filter(
    (f) => statSync(path.join(ROOT, 'src', f)).mtimeMs > distAge,
  )
  if (newerSrc.length > 0) {
    log(`note: dist/index.js is older than src/${newerSrc.join(', src/')}: run npm run build to measure them`)
  }
  // The runtime GitHub runs the action with (runs.using: node24), when the test setup installed it.
  const node24 = path.join(ROOT, '.cache/node24/node_modules/.bin/node')
  const actionNode = process.env.RAD_NODE24 || (existsSync(node24) ? node24 : process.execPath)
  const actionNodeVersion = firstLine(actionNode, ['--version'])

  const started = Date.now()
  const loadStart = os.loadavg()
  const base = mkdtempSync('/tmp/radbench-')
  // rm(1): much faster than fs.rmSync on the hundreds of thousands of links a run leaves.
  cleanups.push(async () => {
    await exec('rm', ['-rf', '--one-file-system', base])
  })
  chmodSync(base, 0o755)

  log(`site: ${CFG.files} files; WAN ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms RTT; work dir ${base}`)
  const site = new Site(CFG.files, Math.max(CFG.releases, 1 + CFG.samples, 1 + CFG.fleetSamples), CFG.changed)
  log(
    `site: ${mb(site.totalBytes)} MB in ${site.dirs.length} directories; ${site.changedPerRebuild} files change per rebuild`,
  )

  // Each release's build is written once and kept until its last use (the fleet reuses the first ones).
  const buildDir = (k: number) => path.join(base, `build-${k}`)
  const lastUse = (k: number) => (k <= 1 + CFG.fleetSamples ? 'fleet' : 'releases')
  const build = (k: number) => {
    const dir = buildDir(k)
    if (!existsSync(dir)) {
      const t = performance.now()
      site.write(dir, k)
      housekeeping.build += performance.now() - t
    }
    return dir
  }

  // ---- one server behind one WAN link: the four methods, release after release
  const sshd = await startSshd()
  cleanups.push(() => stopSshd(sshd))
  const link = await startThrottle({
    targetPort: sshd.port,
    bytesPerSecond: BYTES_PER_SECOND,
    latencyMs: CFG.rttMs / 2,
  })
  cleanups.push(() => link.stop())
  const hostPub = (s: Sshd) => s.knownHostsPlain.trim().split(' ').slice(1).join(' ')
  const khFor = (port: number, s: Sshd) => `[127.0.0.1]:${port} ${hostPub(s)}\n`

  // The raw tools' ssh setup: the same kind of config the action writes (key, pinned host key, batch).
  const sshDir = path.join(base, 'ssh')
  mkdirSync(sshDir, { mode: 0o700 })
  writeFileSync(path.join(sshDir, 'key'), sshd.client.privateKey, { mode: 0o600 })
  writeFileSync(path.join(sshDir, 'known_hosts'), khFor(link.port, sshd) + khFor(sshd.port, sshd))
  const sshConfig = path.join(sshDir, 'config')
  writeFileSync(
    sshConfig,
    [
      'Host wan',
      '  HostName 127.0.0.1',
      `  Port ${link.port}`,
      'Host lan',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      // The WAN again, through a master connection opened beforehand (to take the handshake apart).
      'Host wanmux',
      '  HostName 127.0.0.1',
      `  Port ${link.port}`,
      `  ControlPath ${sshDir}/cm`,
      'Host *',
      `  User ${TEST_USER}`,
      `  IdentityFile ${sshDir}/key`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${sshDir}/known_hosts`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  UpdateHostKeys no',
      '  BatchMode yes',
      '  ControlMaster no',
      '  ControlPath none',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  )
  const rsh = `ssh -F ${sshConfig}`
  // The master the floor is taken apart over daemonises (-f): close it should a run stop half-way.
  cleanups.push(async () => {
    await exec('ssh', ['-F', sshConfig, '-O', 'exit', 'wanmux'], { quiet: true })
  })
  const ssh = (via: string, command: string) => must('ssh', ['-F', sshConfig, via, command])
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

  const serverDir = (name: string) => {
    const d = path.join(base, name)
    mkdirSync(d)
    chownSync(d, sshd.user.uid, sshd.user.gid)
    return d
  }

  interface Method {
    key: 'ours' | 'floor' | 'full' | 'recipe'
    label: string
    root: string
    release(k: number): string
    deploy(
      k: number,
      via: 'wan' | 'lan',
      src: string,
    ): Promise<{ ms: number; filesSent: number; phases?: Phases }>
  }

  const ours: Method = {
    key: 'ours',
    label: 'a. this action (end to end)',
    root: serverDir('srv-ours'),
    release(k) {
      return path.join(this.root, 'releases', `r${k}`)
    },
    async deploy(k, via, src) {
      const port = via === 'wan' ? link.port : sshd.port
      const marks: { t: number; line: string }[] = []
      let partial = ''
      const t0 = Date.now()
      const run = await runAction(
        {
          host: `${TEST_USER}@127.0.0.1:${port}`,
          key: sshd.client.privateKey,
          'known-hosts': khFor(port, sshd),
          source: src,
          target: this.root,
          'release-id': `r${k}`,
          'keep-releases': '0',
        },
        {
          node: actionNode,
          onStdout: (chunk) => {
            const t = Date.now()
            const lines = (partial + chunk).split('\n')
            partial = lines.pop() ?? ''
            for (const line of lines) marks.push({ t, line })
          },
        },
      )
      if (run.code !== 0 || run.post?.code !== 0) {
        throw new Error(
          `the action failed (${run.code}, post ${run.post?.code}):\n${run.stdout}\n${run.stderr}`,
        )
      }
      return {
        ms: run.durationMs,
        filesSent: Number(run.outputs['files-transferred']),
        phases: phasesOf(marks, t0, t0 + run.durationMs),
      }
    },
  }

  const floorArgs = (
    k: number,
    via: string,
    src: string,
    dest: string,
    progress: boolean,
    linkDest?: string,
  ) =>
    rsyncArgs({
      source: src,
      destination: `${via}:${dest}/`,
      linkDest: linkDest ? [linkDest] : k > 1 ? [`../r${k - 1}`] : [],
      chmod: DEFAULT_CHMOD,
      exclude: [],
      filter: [],
      rsh,
      dryRun: false,
      ioTimeout: 120,
      progress,
    })

  const floor: Method = {
    key: 'floor',
    label: 'b. floor: one rsync --link-dest',
    root: serverDir('srv-floor'),
    release(k) {
      return path.join(this.root, `r${k}`)
    },
    async deploy(k, via, src) {
      const r = await must('rsync', floorArgs(k, via, src, this.release(k), false))
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }

  const full: Method = {
    key: 'full',
    label: 'c. full copy (rsync, no --link-dest)',
    root: serverDir('srv-full'),
    release(k) {
      return path.join(this.root, `r${k}`)
    },
    async deploy(k, via, src) {
      const r = await must('rsync', [
        '--recursive',
        '--links',
        '--perms',
        `--chmod=${DEFAULT_CHMOD}`,
        '--stats',
        '--no-human-readable',
        '-e',
        rsh,
        `${src}/`,
        `${via}:${this.release(k)}/`,
      ])
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }

  const recipe: Method = {
    key: 'recipe',
    label: 'd. by hand: cp -al + rsync -a + ln + mv',
    root: serverDir('srv-recipe'),
    release(k) {
      return path.join(this.root, 'releases', `r${k}`)
    },
    async deploy(k, via, src) {
      const t = performance.now()
      const rel = this.release(k)
      if (k === 1) await ssh(via, `mkdir -p ${q(rel)}`)
      else await ssh(via, `cp -al ${q(this.release(k - 1))} ${q(rel)}`)
      const r = await must('rsync', [
        '-a',
        '--delete',
        '--stats',
        '--no-human-readable',
        '-e',
        rsh,
        `${src}/`,
        `${via}:${rel}/`,
      ])
      await ssh(via, `ln -s ${q(`releases/r${k}`)} ${q(`${this.root}/current.tmp`)}`)
      await ssh(via, `mv -T ${q(`${this.root}/current.tmp`)} ${q(`${this.root}/current`)}`)
      return { ms: performance.now() - t, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }

  const methods = [ours, floor, full, recipe]
  const results = new Map<Method['key'], Sample[]>(methods.map((m) => [m.key, []]))
  const cumulative = new Map<Method['key'], number[]>(methods.map((m) => [m.key, []]))
  /**
   * The floor taken apart, for each rebuild sample: the handshake alone (opening a master, as the
   * action does), one empty remote call over it, then over it the floor's rsync and three variants:
   * with the two options the action's upload adds (--info=progress2 --no-inc-recursive); that, laid
   * out as the action lays it out (into .deploy/incoming/<name>, --link-dest=../../../<live>); and
   * that with an absolute --link-dest.
   */
  const parts = {
    handshake: [] as number[],
    call: [] as number[],
    rsync: [] as number[],
    progress: [] as number[],
    actionLayout: [] as number[],
    absolute: [] as number[],
  }
  const floorIncoming = path.join(floor.root, '.deploy', 'incoming')
  mkdirSync(floorIncoming, { recursive: true })
  for (const d of [path.dirname(floorIncoming), floorIncoming]) chownSync(d, sshd.user.uid, sshd.user.gid)
  const duMs: number[] = []

  for (let k = 1; k <= CFG.releases; k++) {
    const src = build(k)
    // a and b take turns going first, so neither always meets the caches the other warmed.
    const order = k % 2 ? [floor, ours, full, recipe] : methods
    for (const m of order) {
      // Over the WAN: release 1, and the rebuilds we take samples of; the rest only feed the chart,
      // which does not show the floor (its disk is ours).
      const sampled = m.key === 'ours' || m.key === 'floor' ? k <= 1 + CFG.samples : k <= 2
      if (m.key === 'floor' && !sampled) continue
      const via = sampled ? 'wan' : 'lan'
      await settle()
      const before = wire([link])
      const sshdBefore = sshd.connections()
      const r = await m.deploy(k, via, src)
      const w = wireSince([link], before)
      const du = k > 1 ? await duKb(m.release(k - 1), m.release(k)) : await duKb(m.release(k))
      if (k > 1) duMs.push(du.ms)
      cumulative.get(m.key)?.push((await duKb(m.root)).kb)
      results.get(m.key)?.push({
        release: k,
        via,
        ms: r.ms,
        wire: w,
        sshdConnections: sshd.connections() - sshdBefore,
        diskKb: du.kb,
        filesSent: r.filesSent,
        phases: r.phases,
      })
      if (m.key === 'floor' && k > 1 && sampled) {
        await settle()
        const master = await must(
          'ssh',
          [
            '-F',
            sshConfig,
            '-M',
            '-N',
            '-f',
            '-o',
            'ControlMaster=yes',
            '-o',
            'ControlPersist=120',
            'wanmux',
          ],
          { quiet: true },
        )
        parts.handshake.push(master.ms)
        try {
          parts.call.push((await ssh('wanmux', 'true')).ms)
          const variants: [number[], string, boolean, string | undefined][] = [
            [parts.rsync, path.join(floor.root, `x${k}`), false, undefined],
            [parts.progress, path.join(floor.root, `x${k}`), true, undefined],
            [parts.actionLayout, path.join(floorIncoming, `x${k}`), true, `../../../r${k - 1}`],
            [parts.absolute, path.join(floor.root, `x${k}`), true, path.join(floor.root, `r${k - 1}`)],
          ]
          // Taking turns at going first, so none always finds the caches warmer.
          for (let i = 0; i < variants.length; i++) {
            const [into, dest, progress, linkDest] = variants[
              (i + k) % variants.length
            ] as (typeof variants)[0]
            await settle()
            into.push((await must('rsync', floorArgs(k, 'wanmux', src, dest, progress, linkDest))).ms)
            await must('rm', ['-rf', dest])
          }
        } finally {
          await exec('ssh', ['-F', sshConfig, '-O', 'exit', 'wanmux'], { quiet: true })
        }
      }
      log(
        `release ${k}, ${m.label}: ${sec(r.ms)} s${via === 'wan' ? ` (WAN, ${mb(w.up + w.down)} MB on the wire, ${w.connections} connection(s))` : ' (direct)'}, ${r.filesSent} files sent, +${mbKb(du.kb)} MB on disk`,
      )
    }
    if (lastUse(k) === 'releases') rmSync(src, { recursive: true, force: true })
  }

  // One connection and one command, straight to the sshd and through the WAN: what a connection costs.
  const direct: number[] = []
  const overWan: number[] = []
  for (let i = 0; i < 3; i++) {
    direct.push((await ssh('lan', 'true')).ms)
    overWan.push((await ssh('wan', 'true')).ms)
  }

  // ---- fleets: 1 host vs N hosts, each an sshd in its own mount namespace behind its own link
  log(`fleet: starting ${CFG.hosts} sshds, each with its own disk at the same target path`)
  const fleetBase = path.join(base, 'fleet')
  const fleetTarget = path.join(fleetBase, 'srv')
  mkdirSync(fleetTarget, { recursive: true })
  const hostDirs = Array.from({ length: CFG.hosts }, (_, i) => path.join(fleetBase, `host${i}`))
  for (const d of hostDirs) {
    mkdirSync(d)
    chownSync(d, sshd.user.uid, sshd.user.gid)
  }
  const servers: Sshd[] = []
  const links: Throttle[] = []
  let groups: CpuGroups | undefined
  // Cleaned up after the servers have stopped (cleanups run last-in first-out).
  cleanups.push(() => groups?.dispose())
  // Stopped last-in first-out: the links before their sshds.
  cleanups.push(async () => {
    await Promise.all(servers.map(stopSshd))
  })
  cleanups.push(async () => {
    await Promise.all(links.map((l) => l.stop()))
  })
  for (const d of hostDirs) servers.push(await startSshd({ bind: { source: d, target: fleetTarget } }))
  // Server side: every process under the fleet's sshds. Runner side: this process and its children.
  groups = CpuGroups.create(['servers', 'runner'])
  if (groups) {
    for (const s of servers)
      groups.move(Number(readFileSync(path.join(s.dir, 'sshd.pid'), 'utf8')), 'servers')
    groups.move(process.pid, 'runner')
  } else {
    log('note: no writable cgroup for CPU accounting: the fleet table shows the machine total only')
  }
  for (const s of servers) {
    s.authorize(sshd.client.publicKey)
    links.push(
      await startThrottle({ targetPort: s.port, bytesPerSecond: BYTES_PER_SECOND, latencyMs: CFG.rttMs / 2 }),
    )
  }
  interface FleetRun {
    hosts: number
    release: number
    ms: number
    fastestHostMs: number
    slowestHostMs: number
    wire: Wire
    /** CPU ms over the run: the whole machine, the servers (sshd trees), this process (the WAN simulator). */
    cpu: { busy: number; total: number; servers: number; runner: number; simulator: number }
  }
  const fleetRuns: FleetRun[] = []
  const fleetDeploy = async (count: number, k: number, src: string) => {
    const idx = Array.from({ length: count }, (_, i) => i)
    const used = idx.map((i) => links[i] as Throttle)
    await settle()
    const before = wire(used)
    const cpu0 = {
      m: machineCpu(),
      s: groups?.usageMs('servers') ?? 0,
      r: groups?.usageMs('runner') ?? 0,
      p: process.cpuUsage(),
    }
    const run = await runAction(
      {
        host: idx.map((i) => `${TEST_USER}@127.0.0.1:${(links[i] as Throttle).port}`).join('\n'),
        key: sshd.client.privateKey,
        'known-hosts': idx.map((i) => khFor((links[i] as Throttle).port, servers[i] as Sshd)).join(''),
        source: src,
        target: fleetTarget,
        'release-id': `f${k}`,
        'keep-releases': '0',
      },
      { node: actionNode, post: false },
    )
    // The servers' sessions end as the master closes: give them a moment to finish.
    await new Promise((r) => setTimeout(r, 300))
    const m1 = machineCpu()
    const p1 = process.cpuUsage(cpu0.p)
    if (run.code !== 0) throw new Error(`the fleet deploy failed:\n${run.stdout}\n${run.stderr}`)
    const hosts = JSON.parse(run.outputs.hosts ?? '[]') as { 'duration-ms': number; status: string }[]
    if (hosts.length !== count || hosts.some((h) => h.status !== 'deployed')) {
      throw new Error(`the fleet deploy did not deploy everywhere: ${run.outputs.hosts}`)
    }
    const r: FleetRun = {
      hosts: count,
      release: k,
      ms: run.durationMs,
      fastestHostMs: Math.min(...hosts.map((h) => Number(h['duration-ms']))),
      slowestHostMs: Math.max(...hosts.map((h) => Number(h['duration-ms']))),
      wire: wireSince(used, before),
      // The machine's figures include the 300 ms wait; busy time during it is next to nothing.
      cpu: {
        busy: m1.busy - cpu0.m.busy,
        total: m1.total - cpu0.m.total,
        servers: groups ? groups.usageMs('servers') - cpu0.s : Number.NaN,
        // The runner group holds this process too: its own time is the WAN simulator's.
        runner: groups ? groups.usageMs('runner') - cpu0.r - (p1.user + p1.system) / 1000 : Number.NaN,
        simulator: (p1.user + p1.system) / 1000,
      },
    }
    fleetRuns.push(r)
    log(
      `fleet: ${count} host(s), release ${k}: ${sec(r.ms)} s (hosts ${sec(r.fastestHostMs)}–${sec(r.slowestHostMs)} s), ${mb(r.wire.up + r.wire.down)} MB on the wire, ${r.wire.connections} connection(s); CPU: machine ${Math.round((100 * r.cpu.busy) / r.cpu.total)}% busy, servers ${sec(r.cpu.servers)} s, runner ${sec(r.cpu.runner)} s, WAN simulator ${sec(r.cpu.simulator)} s`,
    )
  }
  for (const count of [1, CFG.hosts]) {
    for (const d of hostDirs) {
      const entries = readdirSync(d).map((e) => path.join(d, e))
      if (entries.length > 0) await must('rm', ['-rf', '--one-file-system', ...entries])
    }
    for (let k = 1; k <= 1 + CFG.fleetSamples; k++) {
      await fleetDeploy(count, k, build(k))
    }
  }
  for (let k = 1; k <= 1 + CFG.fleetSamples; k++) rmSync(buildDir(k), { recursive: true, force: true })
  log(`housekeeping: ${sec(housekeeping.build)} s writing builds, ${sec(housekeeping.settle)} s in sync`)

  // ---------------------------------------------------------------------------------------------
  // Figures

  const get = (key: Method['key']) => results.get(key) ?? []
  const first = (key: Method['key']) => get(key).find((s) => s.release === 1) as Sample
  const rebuilds = (key: Method['key']) => get(key).filter((s) => s.release > 1 && s.via === 'wan')
  const rebuildMs = (key: Method['key']) => median(rebuilds(key).map((s) => s.ms))
  const rebuild2 = (key: Method['key']) => get(key).find((s) => s.release === 2) as Sample
  const ratio = rebuildMs('ours') / rebuildMs('floor')
  const firstRatio = first('ours').ms / first('floor').ms
  const sshdAgrees = methods.every((m) =>
    get(m.key).every((s) => s.via !== 'wan' || s.sshdConnections === s.wire.connections),
  )

  const head = [
    'method',
    'first deploy s',
    'rebuild s',
    'rebuild wire MB',
    'SSH conns',
    'files sent',
    'new release disk MB',
  ]
  const rows = methods.map((m) => {
    const r2 = rebuild2(m.key)
    const n = rebuilds(m.key).length
    return [
      m.label,
      sec(first(m.key).ms),
      `${sec(rebuildMs(m.key))}${n > 1 ? ` (median of ${n})` : ''}`,
      mb(r2.wire.up + r2.wire.down),
      String(r2.wire.connections),
      String(r2.filesSent),
      mbKb(r2.diskKb),
    ]
  })

  // Where our time goes: each rebuild sample's phases, next to the floor's time for the same release.
  const ph = rebuilds('ours')
    .map((s) => s.phases)
    .filter((p): p is Phases => p !== undefined)
  const phase = (k: keyof Phases) => median(ph.map((p) => p[k]))
  const floorMs = rebuildMs('floor')
  const handshake = median(parts.handshake)
  const emptyCall = median(parts.call)
  const muxRsync = median(parts.rsync)
  const muxRsyncProgress = median(parts.progress)
  const muxActionLayout = median(parts.actionLayout)
  const muxAbsolute = median(parts.absolute)
  const progressCost = muxRsyncProgress - muxRsync
  const layoutCost = muxActionLayout - muxRsyncProgress
  const du = median(duMs)
  const overhead = rebuildMs('ours') - floorMs
  const fixed = phase('start') + phase('prepare') + phase('switch') + phase('finish')
  const sampleHead = [
    'release',
    'a s',
    'b s',
    'a / b',
    'start',
    'connect',
    'prepare',
    'upload',
    'switch',
    'finish',
  ]
  const sampleRows = rebuilds('ours').map((s) => {
    const f = rebuilds('floor').find((x) => x.release === s.release)
    const p = s.phases
    return [
      String(s.release),
      sec(s.ms),
      f ? sec(f.ms) : '—',
      f ? (s.ms / f.ms).toFixed(2) : '—',
      ...(p
        ? [p.start, p.connect, p.prepare, p.upload, p.switch, p.finish].map(sec)
        : ['', '', '', '', '', '']),
    ]
  })
  const phaseRows: string[][] = ph.length
    ? [
        ['Node start, read inputs, write key files', sec(phase('start')), '—'],
        [
          'connect: ssh master (TCP + SSH handshake)',
          sec(phase('connect')),
          `${sec(handshake)} (ssh -M -N -f)`,
        ],
        ['prepare: one remote call', sec(phase('prepare')), `— (an empty call: ${sec(emptyCall)})`],
        [
          'upload: rsync over the master',
          sec(phase('upload')),
          `${sec(muxRsync)} (its rsync, over a master)`,
        ],
        ['… plus --info=progress2 --no-inc-recursive', '', sec(muxRsyncProgress)],
        ['… and laid out as the action does †', '', sec(muxActionLayout)],
        ['… but with an absolute --link-dest', '', sec(muxAbsolute)],
        ['publish and switch: one remote call', sec(phase('switch')), '—'],
        ['outputs, summary, close the master', sec(phase('finish')), '—'],
        ['total', sec(rebuildMs('ours')), `${sec(floorMs)} (one rsync, its own connection)`],
      ]
    : []

  // Fleets.
  const fleetOf = (hosts: number) => fleetRuns.filter((f) => f.hosts === hosts)
  const fleetFirst = (hosts: number) => fleetOf(hosts).find((f) => f.release === 1) as FleetRun
  const fleetRebuild = (hosts: number) =>
    median(
      fleetOf(hosts)
        .filter((f) => f.release > 1)
        .map((f) => f.ms),
    )
  /** Mean CPU figures (ms) of the rebuild runs of a fleet size. */
  const fleetCpu = (hosts: number, rebuild = true) => {
    const runs = fleetOf(hosts).filter((f) => (rebuild ? f.release > 1 : f.release === 1))
    const mean = (f: (r: FleetRun) => number) =>
      runs.reduce((acc, r) => acc + f(r), 0) / Math.max(1, runs.length)
    const busy = mean((r) => r.cpu.busy)
    return {
      busy,
      servers: mean((r) => r.cpu.servers),
      runner: mean((r) => r.cpu.runner),
      simulator: mean((r) => r.cpu.simulator),
      share: busy / mean((r) => r.cpu.total),
    }
  }
  const fleetHead = [
    'hosts',
    'first deploy s',
    'rebuild s',
    'rebuild wire MB',
    'SSH conns',
    'CPU s: servers',
    'runner',
    'WAN sim',
    'machine busy',
  ]
  const fleetRows = [1, CFG.hosts].map((h) => {
    const r2 = fleetOf(h).find((f) => f.release === 2) as FleetRun
    const c = fleetCpu(h)
    return [
      String(h),
      sec(fleetFirst(h).ms),
      `${sec(fleetRebuild(h))}${CFG.fleetSamples > 1 ? ` (median of ${CFG.fleetSamples})` : ''}`,
      mb(r2.wire.up + r2.wire.down),
      String(r2.wire.connections),
      sec(c.servers),
      sec(c.runner),
      sec(c.simulator),
      `${Math.round(100 * c.share)}%`,
    ]
  })
  const fleetRatioFirst = fleetFirst(CFG.hosts).ms / fleetFirst(1).ms
  const fleetRatioRebuild = fleetRebuild(CFG.hosts) / fleetRebuild(1)
  const cpus = os.cpus()
  const cpu1 = fleetCpu(1)
  const cpuN = fleetCpu(CFG.hosts)
  // A model, not a measurement: with every server on its own machine, the runner's extra CPU work
  // (one rsync sender and one ssh per host) is what would add to the one-host time.
  const fleetEstimate = fleetRebuild(1) + Math.max(0, cpuN.runner - cpu1.runner) / cpus.length
  const hostSpread = median(fleetOf(CFG.hosts).map((f) => f.slowestHostMs - f.fastestHostMs))

  // ---------------------------------------------------------------------------------------------
  // stdout: the tables

  const wanLine = `${CFG.files} files, ${mb(site.totalBytes)} MB; WAN ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms RTT; rebuild = new mtimes on every file, ${site.changedPerRebuild} files (${(CFG.changed * 100).toFixed(1)}%) changed`
  const chartSeries = [
    { key: 'full' as const, name: 'full copies', color: '#cf222e' },
    { key: 'recipe' as const, name: 'cp -al + rsync -a', color: '#bf8700', dash: '7 5' },
    { key: 'ours' as const, name: 'this action', color: '#0969da' },
  ].map((c) => ({ ...c, mb: (cumulative.get(c.key) ?? []).map((kb) => (kb * 1024) / 1e6) }))
  const diskHead = ['release', ...chartSeries.map((c) => `${c.name} MB`)]
  const diskRows = Array.from({ length: CFG.releases }, (_, i) => [
    String(i + 1),
    ...chartSeries.map((c) => (c.mb[i] ?? 0).toFixed(1)),
  ])
  process.stdout.write(
    [
      '',
      wanLine,
      '',
      textTable(head, rows),
      '',
      `our time over the floor (a / b, rebuild): ${ratio.toFixed(2)}  (first deploy: ${firstRatio.toFixed(2)}; goal ≤ 1.10)`,
      '',
      textTable(['phase of a (rebuild, median)', 'a s', 'b, taken apart, s'], phaseRows),
      '',
      textTable(sampleHead, sampleRows),
      '',
      textTable(fleetHead, fleetRows),
      '',
      `${CFG.hosts} hosts / 1 host: first deploy ${fleetRatioFirst.toFixed(2)}×, rebuild ${fleetRatioRebuild.toFixed(2)}× (goal: well under 2×); rebuild with the servers on their own CPUs, estimated: ${sec(fleetEstimate)} s, ${(fleetEstimate / fleetRebuild(1)).toFixed(2)}×`,
      '',
      textTable(diskHead, diskRows),
      '',
    ].join('\n'),
  )

  // ---------------------------------------------------------------------------------------------
  // The chart and the report

  mkdirSync(path.dirname(CFG.svg), { recursive: true })
  writeFileSync(
    CFG.svg,
    diskChart(
      chartSeries,
      `${CFG.files} files (${mb(site.totalBytes)} MB); each release a rebuild with ${(CFG.changed * 100).toFixed(0)}% of files changed`,
    ),
  )

  const osName = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type()
    } catch {
      return os.type()
    }
  })()
  const fsType = firstLine('findmnt', ['-n', '-o', 'FSTYPE', '--target', '/tmp']) || 'unknown'
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ')
  const machine = [
    `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}; memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- ${osName}, Linux ${os.release()}; /tmp (client and servers) on ${fsType}`,
    `- ${firstLine('rsync', ['--version']).replace(/\s+/g, ' ')}`,
    `- ${firstLine('ssh', ['-V'])}, client and server`,
    `- the action: dist/index.js of commit ${firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown'}${firstLine('git', ['-C', ROOT, 'status', '--porcelain', '--', 'dist/index.js']) ? ' (modified since)' : ''}, run with Node ${actionNodeVersion.replace(/^v/, '')} as the runner runs it; the benchmark itself with Node ${process.versions.node}`,
    `- load average ${load(loadStart)} at the start, ${load(os.loadavg())} at the end: the machine was shared with other work, which shows as noise (the median of several rebuilds is given)`,
  ].join('\n')
  const relSvg = path.relative(path.dirname(CFG.report), CFG.svg)
  const seconds = Math.round((Date.now() - started) / 1000)
  const pct = (x: number) => `${(CFG.changed * 100 * x).toFixed(x === 1 ? 1 : 0)}%`

  const phaseText = ph.length
    ? [
        `Our rebuild took ${sec(rebuildMs('ours'))} s, the bare rsync ${sec(floorMs)} s: **${ratio.toFixed(2)}×**, ${sec(Math.abs(overhead))} s ${overhead >= 0 ? 'more' : 'less'}. The action's phases come from the times its log groups reached stdout; the floor is taken apart the same way (a master opened first, then the same rsync over it). Medians over ${ph.length} rebuilds:`,
        '',
        mdTable(['phase', 'this action s', 'the floor, taken apart, s'], phaseRows),
        '',
        'Each rebuild:',
        '',
        mdTable(sampleHead, sampleRows),
        '',
        `- **connect** is the handshake the floor pays too, inside its rsync: ${sec(phase('connect'))} s against ${sec(handshake)} s. A connection and one command take ${sec(median(direct))} s straight to the sshd and ${sec(median(overWan))} s through the WAN, so sshd's own start-up per connection is a large part of it. The action pays it once per deploy, whatever the number of steps; the by-hand recipe pays it four times.`,
        `- **upload** runs the floor's rsync with two more options, \`--info=progress2 --no-inc-recursive\` (progress lines for the log), and lays it out differently: into \`.deploy/incoming/<name>\`, with \`--link-dest=../../../releases/<live>\`. Over an open master the floor's rsync took ${sec(muxRsync)} s, with the two options ${sec(muxRsyncProgress)} s, laid out as the action does (†: into \`.deploy/incoming/x\`, \`--link-dest=../../../r<n>\`) ${sec(muxActionLayout)} s, and so with an absolute \`--link-dest\` ${sec(muxAbsolute)} s; the action's own upload took ${sec(phase('upload'))} s.${layoutCost > 50 && muxActionLayout - muxAbsolute > 50 ? ' The layout is what costs: rsync 3.4 and later (the CVE-2024-12086 hardening) open every directory from `/` down to each basis file, one `openat` per component, twice per unchanged file (seen with strace), and `x/../../../releases/<live>` adds six components to every one of those walks.' : ''}`,
        `- **prepare** and **publish and switch** are one remote \`sh -s\` each over the open master. An empty remote call costs ${sec(emptyCall)} s here (a new session on the master: a few round trips of ${CFG.rttMs} ms, starting ssh, the login shell), so the scripts themselves take about ${sec(Math.max(0, phase('prepare') - emptyCall))} s and ${sec(Math.max(0, phase('switch') - emptyCall))} s. The switch also measures the disk the release added (\`du -sk previous new\`: ${sec(du)} s for two releases of this site, run locally).`,
        `- **start** (Node loading the ${(statSync(DIST).size / 1e6).toFixed(1)} MB bundle, reading inputs, writing the key files) and **finish** (outputs, job summary, \`ssh -O exit\`) are costs the floor does not have: ${sec(phase('start') + phase('finish'))} s together.`,
        '',
        `So on top of the transfer the action pays a fixed ${sec(fixed)} s (start, prepare, switch, finish)${layoutCost > 50 ? `, and its upload ${sec(layoutCost)} s for where it puts the release` : ''}. Against a floor of ${sec(floorMs)} s the fixed part alone is ${((floorMs + fixed) / floorMs).toFixed(2)}×; 1.10 needs a floor of ${sec(fixed * 10)} s or more${firstRatio <= 1.1 ? `, as the first deploy shows (${firstRatio.toFixed(2)}×)` : ` (the first deploy: ${firstRatio.toFixed(2)}×)`}. The fixed part is the price of the lock, the checks, the atomic switch and the log: two remote calls, and Node's start.${fixed > 0.1 * floorMs ? ' A rebuild this small cannot reach 1.10 while they are separate steps; the changes below would bring it closer.' : ''}`,
      ].join('\n')
    : '(phase times were not found in the action log)'

  const improvements = [
    `- **Prepare in the master's own session.** Start the master with the prepare script as its command (\`ssh -M -o ControlPersist=… host sh -s\`) instead of \`-N\` and a second session: saves about one empty call (${sec(emptyCall)} s here, more on a longer link).`,
    du > 20
      ? `- **Measure the disk only when asked**, or more cheaply: the switch's \`du\` walks two releases (${sec(du)} s here, growing with the number of files); \`find new -type f -links 1\` counts only the new files, or the figure could come from rsync's own stats (bytes of the files it sent).`
      : `- The switch's \`du\` over two releases is cheap here (${sec(du)} s, warm caches); it grows with the number of files, so it could be made optional.`,
    layoutCost > 50 || muxActionLayout - muxAbsolute > 50
      ? `- **An absolute \`--link-dest\`** (\`TARGET/releases/<live>\`, the target is already absolute and normalised) instead of \`../../../releases/<live>\`: ${sec(muxActionLayout - muxAbsolute)} s less for this site over an open master (${sec(muxActionLayout)} → ${sec(muxAbsolute)} s), because rsync walks every component of that path for each file. The leftover of an earlier attempt could be named the same way.`
      : `- The \`--link-dest\` layout (\`../../../releases/<live>\` from \`.deploy/incoming/<name>\`) made no clear difference here (${sec(muxActionLayout)} s against ${sec(muxAbsolute)} s with an absolute path).`,
    progressCost > 50
      ? `- **Keep incremental recursion.** \`--no-inc-recursive\`, only there so \`--info=progress2\` can show a total, cost ${sec(progressCost)} s here: the sender checksums the whole tree before the receiver starts. Ask for the total only when the upload is long (no live release yet, or many files to send).`
      : `- \`--no-inc-recursive\` (for a progress total) made no measurable difference here (${progressCost >= 0 ? '+' : '−'}${sec(Math.abs(progressCost))} s, within the noise): no change needed.`,
    `- **A smaller start.** Node start-up and loading the bundle take most of the ${sec(phase('start'))} s before the first connection; trimming the bundle (only the parts of @actions/* in use) would save a little; the rest is Node itself.`,
    `- One fewer \`ssh -O exit\`: the master is closed twice at the end (once by the deploy, once while deleting the private directory); the second finds no master (a few ms).`,
  ].join('\n')

  const perSample = rebuilds('ours')
    .map((x) => {
      const f = rebuilds('floor').find((y) => y.release === x.release)
      return f ? (x.ms / f.ms).toFixed(2) : ''
    })
    .filter(Boolean)
    .join(', ')

  const fleetText = `${CFG.hosts} hosts took **${fleetRatioFirst.toFixed(2)}×** the time of 1 for the first deploy and **${fleetRatioRebuild.toFixed(2)}×** for a rebuild (goal: well under 2×). The action works on the hosts in parallel: all ${CFG.hosts} connect, upload and switch together, and the slowest host finished ${sec(hostSpread)} s after the fastest (median). What limits the rebuild here is this machine's ${cpus.length} cores: the ${CFG.hosts} "servers" are not separate machines, so their side of the work (sshd, and rsync receivers that each checksum the previous release and make ${CFG.files - site.changedPerRebuild} hard links) runs on the same cores as the runner's side. CPU time per rebuild, measured by cgroup: the servers ${sec(cpuN.servers)} s (${sec(cpu1.servers)} s for 1 host), the runner's side (Node, ssh, rsync senders) ${sec(cpuN.runner)} s (${sec(cpu1.runner)} s), the WAN simulator ${sec(cpuN.simulator)} s: ${sec(cpuN.servers + cpuN.runner + cpuN.simulator)} CPU-seconds in a ${sec(fleetRebuild(CFG.hosts))} s rebuild, of the ${sec(cpus.length * fleetRebuild(CFG.hosts))} the ${cpus.length} cores had (the machine was ${Math.round(100 * cpuN.share)}% busy, other work included).

With each server on its own machine, only the runner's extra CPU work (one rsync sender and one ssh per host: ${sec(Math.max(0, cpuN.runner - cpu1.runner))} s more for ${CFG.hosts} hosts than for 1, over ${cpus.length} cores) would add to the one-host time: about **${sec(fleetEstimate)} s, ${(fleetEstimate / fleetRebuild(1)).toFixed(2)}×** (an estimate from the measured CPU times, not a measurement). The first deploy is limited by each host's own link and comes out at ${fleetRatioFirst.toFixed(2)}× even on this machine; on one shared uplink it would move ${CFG.hosts}× the bytes through it.`

  const report = `# Benchmark: this action against the alternatives

An example run of \`npm run bench\` (bench/bench.ts), committed so the figures can be read without running it.
It took ${seconds} s on the machine below.

## The machine

${machine}

## What was measured

- **The site**: ${CFG.files} files, ${mb(site.totalBytes)} MB in ${site.dirs.length} directories: ${site.files.filter((f) => f.kind === 'text').length} text files (HTML, JS, CSS, JSON, XML; median about 2 KB), ${site.files.filter((f) => f.kind === 'thumb').length} small images (3–20 KB) and ${site.files.filter((f) => f.kind === 'image').length} photos (20–200 KB). Deployed once (**first deploy**), then **rebuilt** as CI does, every file written again with a new mtime and ${site.changedPerRebuild} files (${pct(1)}) with entirely new content, and deployed again.
- **The link**: a WAN simulator on loopback (test/support/throttle.ts), a TCP proxy in front of a real sshd on 127.0.0.1: ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms round trip. Bytes and SSH connections are counted at the proxy${sshdAgrees ? ' (sshd’s own log counted the same connections)' : ''}.
- **a. this action**: dist/index.js run as the GitHub runner runs it (inputs as \`INPUT_*\` variables), timed from the process start to its exit (the post step, which only cleans up, is not counted).
- **b. the floor**: one \`rsync\` with the action's own flags (\`rsyncArgs\` from src/rsync.ts: \`-r -l -p -c --chmod --link-dest\`, without the progress options) over one ssh connection, into a fresh directory. No lock, no checks, no switch: the least this approach can cost.
- **c. full copy**: \`rsync -r -l -p\` into a fresh directory, no \`--link-dest\` (\`scp -r\` would send the same bytes).
- **d. by hand**, as the tools that keep releases do it: \`ssh host cp -al live new\`, \`rsync -a --delete build/ host:new/\`, \`ssh host ln -s new current.tmp\`, \`ssh host mv -T current.tmp current\`: four ssh calls, four connections.
- **new release disk**: \`du -sk previous new\` on the server, the second figure: du counts a hard-linked file once, at its first path, so this is what the new release really added (directories included: they cannot be hard-linked).
- Rebuild times: the median of releases 2–${1 + CFG.samples} for a and b, release 2 for c and d; wire, connections, files and disk: release 2. Later releases${CFG.samples + 2 <= CFG.releases ? '' : ' of c and d'} only feed the disk chart and went straight to the sshd, without the WAN.

## Results

${wanLine}.

${mdTable(head, rows)}

**Our time over the floor (a / b), rebuild: ${ratio.toFixed(2)}** (goal: at most 1.10; each rebuild: ${perSample}). **First deploy: ${firstRatio.toFixed(2)}.**

- The rebuild sends ${rebuild2('ours').filesSent} files and hard-links the other ${CFG.files - rebuild2('ours').filesSent}: the new release costs ${mbKb(rebuild2('ours').diskKb)} MB of disk (${site.dirs.length} directories, which cannot be hard-linked, take about ${mb(site.dirs.length * 4096)} MB of it), a full copy ${mbKb(rebuild2('full').diskKb)} MB, and the \`cp -al\` recipe ${mbKb(rebuild2('recipe').diskKb)} MB: \`rsync -a\` sees a new mtime on every file, writes each one to a temporary file and renames it over the hard link, so every link is broken and every file is stored again, although only deltas cross the wire.
- One SSH connection per deploy for this action (its master), ${rebuild2('recipe').wire.connections} for the recipe.

## Where the time goes

${phaseText}

What could be improved:

${improvements}

## 1 host against ${CFG.hosts}

Each host an sshd in its own mount namespace (its own disk at the same target path) behind its own link of ${CFG.mbit} Mbit/s and ${CFG.rttMs} ms; the action's default \`max-parallel\` (8). CPU seconds are per rebuild (mean over the rebuilds).

${mdTable(fleetHead, fleetRows)}

${fleetText}

## Disk over ${CFG.releases} releases

![Disk used on the server over ${CFG.releases} releases](${relSvg})

All releases kept (\`keep-releases: 0\`). Cumulative \`du -sk\` of the deploy root after each release, MB:

${mdTable(diskHead, diskRows)}

## Running it

\`\`\`sh
sudo npm run bench        # about ${Math.ceil((seconds + 30) / 60)} minutes here, cleaning up included; needs rsync, openssh-server, util-linux (unshare)
sudo env BENCH_FILES=2000 BENCH_RELEASES=4 npm run bench   # smaller and faster
\`\`\`

Knobs: \`BENCH_FILES\` (${CFG.files}), \`BENCH_MBIT\` (${CFG.mbit}), \`BENCH_RTT_MS\` (${CFG.rttMs}), \`BENCH_HOSTS\` (${CFG.hosts}), \`BENCH_RELEASES\` (${CFG.releases}), \`BENCH_SAMPLES\` (${CFG.samples}), \`BENCH_FLEET_SAMPLES\` (${CFG.fleetSamples}), \`BENCH_CHANGED\` (${CFG.changed}), \`BENCH_REPORT\`, \`BENCH_SVG\`. It measures dist/index.js: run \`npm run build\` first after changing src/.
`
  mkdirSync(path.dirname(CFG.report), { recursive: true })
  writeFileSync(CFG.report, report)
  log(
    `wrote ${path.relative(process.cwd(), CFG.report)} and ${path.relative(process.cwd(), CFG.svg)} (${seconds} s)`,
  )
}

/**
 * Waits for `p`, at most `ms`. The timer keeps the process alive meanwhile (a promise alone does
 * not: a stop() waiting for an exit that will never come would end the process mid-cleanup).
 */
async function bounded(p: Promise<unknown> | unknown, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Sshd.stop(), bounded: after a Ctrl-C (sent to the whole process group) sshd may be gone already
 * and stop() would wait for an exit that was reported before. Then its pid and directory go here.
 */
async function stopSshd(s: Sshd): Promise<void> {
  await bounded(s.stop(), 5_000)
  try {
    process.kill(Number(readFileSync(path.join(s.dir, 'sshd.pid'), 'utf8')), 'SIGTERM')
  } catch {}
  rmSync(s.dir, { recursive: true, force: true })
}

let cleaning: Promise<void> | undefined
/** Stops everything this run started and deletes its files; once, however often it is called. */
function cleanup(): Promise<void> {
  cleaning ??= runCleanups()
  return cleaning
}

async function runCleanups(): Promise<void> {
  const t = performance.now()
  for (const c of children) c.kill('SIGTERM')
  while (cleanups.length > 0) {
    const fn = cleanups.pop()
    try {
      // Bounded: a stop() may wait for an exit that already happened (Ctrl-C reaches the whole group).
      await bounded(fn?.(), 120_000)
    } catch (e) {
      log(`cleanup: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  log(`cleaned up in ${sec(performance.now() - t)} s`)
}

let interrupted = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true
    log(`${sig}: cleaning up…`)
    cleanup().finally(() => process.exit(130))
  })
}

main()
  .then(cleanup, async (e) => {
    if (!interrupted) log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    await cleanup()
    process.exitCode = 1
  })
  .catch((e) => {
    log(String(e))
    process.exitCode = 1
  })
