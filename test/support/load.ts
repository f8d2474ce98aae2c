/**
 * Visitors for the zero-downtime tests: a site whose every release can be told apart, and a load
 * generator in a child process that plays visitors against nginx while the test deploys.
 *
 * Each release is a small, realistic site:
 *   index.html            names the release's own asset: <script src="/static/app.<tag>.js">
 *   static/app.<tag>.js   exists only in that release (like a content-hashed bundle)
 *   static/big.bin        ~2 MB, starts with "release <tag>", different bytes in every release
 * Both later files sort after index.html, so an in-place `rsync -r` writes the new page before the
 * files it names.
 *
 * A visit is what a browser does: GET /, read the asset name, GET the asset, GET big.bin. A visit is
 *   - complete: every answer 200, whole (length and SHA-256 of the release the page named);
 *   - straddled: a switch fell between the page and a later request of the same visit. The later
 *     answer is a whole file of the *new* release (or a 404 for the old release's own asset, which
 *     the new release does not have), and fetching / again at once shows that new release. Every
 *     single answer was whole; the visit merely spans two releases. An atomic switch can do this to
 *     the visits in flight at the moment of the switch, and to nothing else.
 *   - failed: anything else — an error or a non-200 for / or big.bin, a truncated or mixed body, a
 *     page naming an asset that is missing, a big.bin of another release while / still serves the
 *     page's release. That is what a half-updated site serves (and what nginx's open_file_cache
 *     serves for a moment after a switch: see nginx.ts).
 *
 * The child is bounded (visits and time) and stops by itself; closing its stdin stops it early. It
 * prints one `result <json>` line. It runs `visitorProgram`'s source text under plain node, so that
 * function uses only globals (fetch, crypto.subtle, process), no imports.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'

export interface ReleaseFiles {
  page: { sha: string; length: number }
  asset: { path: string; sha: string; length: number }
  big: { path: string; sha: string; length: number }
}

/** tag → what each of its files must be, byte for byte. */
export type Manifest = Record<string, ReleaseFiles>

export const BIG_PATH = '/static/big.bin'

/** The files of release `tag` (paths relative to the site root). */
export function releaseSite(tag: string, bigBytes = 2 * 1024 * 1024): Record<string, Buffer> {
  const page = [
    '<!doctype html>',
    `<title>Release ${tag}</title>`,
    `<script src="/static/app.${tag}.js"></script>`,
    `<p>This is release ${tag}.</p>`,
    '',
  ].join('\n')
  const asset = `console.log(${JSON.stringify(`release ${tag}`)})\n// ${'x'.repeat(4000)}\n`
  const header = Buffer.from(`release ${tag}\n`)
  return {
    'index.html': Buffer.from(page),
    [`static/app.${tag}.js`]: Buffer.from(asset),
    [BIG_PATH.slice(1)]: Buffer.concat([header, randomBytes(bigBytes - header.length)]),
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

export function manifestEntry(tag: string, files: Record<string, Buffer>): ReleaseFiles {
  const get = (p: string) => {
    const b = files[p]
    if (!b) throw new Error(`release ${tag} has no ${p}`)
    return { sha: sha256(b), length: b.length }
  }
  const assetPath = `static/app.${tag}.js`
  return {
    page: get('index.html'),
    asset: { path: `/${assetPath}`, ...get(assetPath) },
    big: { path: BIG_PATH, ...get(BIG_PATH.slice(1)) },
  }
}

export interface LoadTarget {
  /** Shown in reports, e.g. "action, open_file_cache on". */
  name: string
  port: number
}

export interface TargetReport {
  name: string
  visits: number
  requests: number
  complete: number
  straddled: number
  failed: number
  /** Releases whose page was served at least once. */
  releasesSeen: string[]
  /** A few of each, with the time since the load started. */
  failures: string[]
  straddles: string[]
  /** When each failed or straddled visit ended (Date.now() of its last answer), up to 5000 each. */
  failedAt: number[]
  straddledAt: number[]
}

interface VisitorConfig {
  targets: LoadTarget[]
  manifest: Manifest
  visitorsPerTarget: number
  maxVisitsPerTarget: number
  maxMs: number
  pauseMs: number
}

/**
 * The child's whole program. Runs as `(source)(config)` under plain node: only globals here.
 */
async function visitorProgram(cfg: VisitorConfig): Promise<void> {
  const started = Date.now()
  let stopping = false
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => {
    stopping = true
  })
  process.stdin.on('error', () => {
    stopping = true
  })
  const deadline = setTimeout(() => {
    stopping = true
  }, cfg.maxMs)

  const bySha = new Map<string, { tag: string; path: string }>()
  for (const [tag, r] of Object.entries(cfg.manifest)) {
    bySha.set(r.page.sha, { tag, path: '/' })
    bySha.set(r.asset.sha, { tag, path: r.asset.path })
    bySha.set(r.big.sha, { tag, path: r.big.path })
  }
  const hex = (buf: ArrayBuffer) =>
    Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('')
  const when = () => `+${((Date.now() - started) / 1000).toFixed(3)}s`

  interface Answer {
    status: number
    sha: string
    length: number
    text: string
    /** How to name this answer in a report. */
    what: string
  }
  const get = async (url: string, report: { requests: number }): Promise<Answer> => {
    report.requests++
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000) })
      const body = await res.arrayBuffer()
      const declared = res.headers.get('content-length')
      const sha = hex(await crypto.subtle.digest('SHA-256', body))
      const known = bySha.get(sha)
      let what = `HTTP ${res.status}, ${body.byteLength} bytes`
      if (res.status === 200) what += known ? ` = ${known.path} of ${known.tag}` : ', matching no release'
      if (declared !== null && Number(declared) !== body.byteLength) {
        return { status: -1, sha, length: body.byteLength, text: '', what: `${what}, declared ${declared}` }
      }
      const text = body.byteLength < 65536 ? new TextDecoder().decode(body) : ''
      return { status: res.status, sha, length: body.byteLength, text, what }
    } catch (e) {
      const err = e as Error & { cause?: Error }
      return { status: -1, sha: '', length: 0, text: '', what: `error ${err.cause?.message ?? err.message}` }
    }
  }
  const pageTag = (a: Answer): string | undefined => {
    if (a.status !== 200) return undefined
    const tag = /\/static\/app\.([A-Za-z0-9._-]+)\.js/.exec(a.text)?.[1]
    return tag && cfg.manifest[tag]?.page.sha === a.sha ? tag : undefined
  }

  const reports = cfg.targets.map((t) => ({
    name: t.name,
    visits: 0,
    requests: 0,
    complete: 0,
    straddled: 0,
    failed: 0,
    seen: new Set<string>(),
    failures: [] as string[],
    straddles: [] as string[],
    failedAt: [] as number[],
    straddledAt: [] as number[],
  }))
  let readySaid = false
  const sayReadyOnce = () => {
    if (!readySaid && reports.every((r) => r.complete > 0)) {
      readySaid = true
      process.stdout.write('ready\n')
    }
  }

  const visit = async (base: string, rep: (typeof reports)[number]) => {
    rep.visits++
    const fail = (why: string) => {
      rep.failed++
      if (rep.failedAt.length < 5000) rep.failedAt.push(Date.now())
      if (rep.failures.length < 12) rep.failures.push(`${when()} ${why}`)
    }
    const page = await get(`${base}/`, rep)
    const tag = pageTag(page)
    const release = tag ? cfg.manifest[tag] : undefined
    if (!tag || !release) return fail(`GET / -> ${page.what}`)
    rep.seen.add(tag)
    for (const want of [release.asset, release.big]) {
      const got = await get(`${base}${want.path}`, rep)
      if (got.status === 200 && got.sha === want.sha && got.length === want.length) continue
      const known = got.status === 200 ? bySha.get(got.sha) : undefined
      const newerWhole = known !== undefined && known.path === want.path && known.tag !== tag
      const ownAssetGone = got.status === 404 && want.path === release.asset.path
      if (newerWhole || ownAssetGone) {
        const again = pageTag(await get(`${base}/`, rep))
        const arrived = known?.tag ?? again
        if (again !== undefined && again !== tag && again === arrived) {
          rep.straddled++
          if (rep.straddledAt.length < 5000) rep.straddledAt.push(Date.now())
          if (rep.straddles.length < 12) {
            rep.straddles.push(
              `${when()} page ${tag}, then ${want.path} -> ${got.what}; / now serves ${again}`,
            )
          }
          return
        }
        return fail(`page ${tag}, then ${want.path} -> ${got.what}; / now serves ${again ?? '(no release)'}`)
      }
      return fail(`page ${tag}, then ${want.path} -> ${got.what}`)
    }
    rep.complete++
    sayReadyOnce()
  }

  const visitor = async (base: string, rep: (typeof reports)[number]) => {
    while (!stopping && rep.visits < cfg.maxVisitsPerTarget) {
      await visit(base, rep)
      await new Promise((r) => setTimeout(r, cfg.pauseMs))
    }
  }
  await Promise.all(
    cfg.targets.flatMap((t, i) =>
      Array.from({ length: cfg.visitorsPerTarget }, () =>
        visitor(`http://127.0.0.1:${t.port}`, reports[i] as (typeof reports)[number]),
      ),
    ),
  )
  clearTimeout(deadline)
  const result = reports.map(({ seen, ...r }) => ({ ...r, releasesSeen: [...seen].sort() }))
  process.stdout.write(`result ${JSON.stringify(result)}\n`, () => process.exit(0))
}

export interface LoadRun {
  /** Resolves once every target has answered one complete visit. */
  ready: Promise<void>
  /** Stops the visitors (or waits for them to stop by themselves) and returns their counts. */
  stop(): Promise<TargetReport[]>
}

export function startLoad(opts: {
  targets: LoadTarget[]
  manifest: Manifest
  visitorsPerTarget?: number
  maxVisitsPerTarget?: number
  maxMs: number
  pauseMs?: number
}): LoadRun {
  const cfg: VisitorConfig = {
    targets: opts.targets,
    manifest: opts.manifest,
    visitorsPerTarget: opts.visitorsPerTarget ?? 2,
    maxVisitsPerTarget: opts.maxVisitsPerTarget ?? 100_000,
    maxMs: opts.maxMs,
    pauseMs: opts.pauseMs ?? 10,
  }
  const child = spawn(
    process.execPath,
    ['-e', `(${visitorProgram.toString()})(JSON.parse(process.env.RAD_LOAD))`],
    {
      env: { PATH: process.env.PATH, RAD_LOAD: JSON.stringify(cfg) },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  let onGone: (e: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve
    onGone = reject
  })
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    stdout += d
    if (/^ready$/m.test(stdout)) onReady()
  })
  child.stderr.on('data', (d) => {
    stderr += d
  })
  child.stdin.on('error', () => {})
  const closed = new Promise<void>((resolve) => {
    child.on('close', () => {
      onGone(new Error(`the load generator stopped before it was ready:\n${stdout}\n${stderr}`))
      resolve()
    })
  })
  return {
    ready,
    stop: async () => {
      child.stdin.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await closed
      clearTimeout(timer)
      const line = stdout.split('\n').find((l) => l.startsWith('result '))
      if (!line) throw new Error(`the load generator gave no result:\n${stdout}\n${stderr}`)
      return JSON.parse(line.slice('result '.length)) as TargetReport[]
    },
  }
}

/** One line per target, for the test log. */
export function formatReport(r: TargetReport): string {
  return `${r.name}: ${r.visits} visits, ${r.requests} requests, ${r.complete} complete, ${r.failed} failed, ${r.straddled} straddled a switch; releases seen: ${r.releasesSeen.join(' ')}`
}
