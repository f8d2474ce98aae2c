import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import type { DeployHost } from '../../src/deploy-host.js'
import { planFast, readOffer } from '../../src/fast-path.js'
import { checkLogLine, logLine } from '../../src/history.js'
import { type Entry, formatLine, formatManifest, manifestDigest, sortEntries } from '../../src/manifest.js'
import { EarlyPlan, fastWhy } from '../../src/prepare.js'
import type { BuildManifest } from '../../src/release-manifest.js'
import { unescapeRsyncName, uploadExcludes } from '../../src/release-manifest.js'
import { parseReply } from '../../src/remote.js'
import { rsyncArgs } from '../../src/rsync.js'
import { fastList } from '../../src/upload-rsync.js'

/** A build manifest of these entries (sorted as the builder sorts them). */
function built(entries: Entry[], rootMode = '0755'): BuildManifest {
  const text = formatManifest(entries)
  return { entries: sortEntries(entries), text, digest: manifestDigest(text), rootMode }
}

/** prepare's reply offering `entries` (undefined: not trusted), cut to `cut` hex digits. */
function offerReply(
  entries: (Entry | undefined)[],
  opts: { cut?: number; zip?: boolean; root?: string } = {},
) {
  const lines = [
    `r ${opts.root ?? '755'}`,
    ...entries.map((x) => (x ? `t ${formatLine({ ...x, hash: x.hash.slice(0, opts.cut ?? 16) })}` : 'u')),
  ]
  const body =
    opts.zip === false
      ? lines.map((l) => `@@rad fp ${l}`)
      : (
          gzipSync(`${lines.join('\n')}\n`)
            .toString('base64')
            .match(/.{1,76}/g) ?? []
        ).map((l) => `@@rad fz ${l}`)
  return parseReply([...body, '@@rad fast ok', ''].join('\n'))
}

/** The delta applied to the live manifest's lines, as fast_finish does on the server. */
function applyDelta(delta: string, live: Entry[]): string {
  const lines = sortEntries(live).map(formatLine)
  const out: string[] = []
  for (const l of delta.slice(0, -1).split('\n')) {
    const m = /^=(\d+)(?:-(\d+))?$/.exec(l)
    if (!m) out.push(l)
    else for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(lines[i - 1] as string)
  }
  return `${out.join('\n')}\n`
}

const h = (c: string) => c.repeat(64)
const f = (p: string, hash = h('a'), size = 1, mode = 0o644): Entry => ({
  type: 'f',
  mode,
  size,
  hash,
  path: p,
})
const d = (p: string, mode = 0o755): Entry => ({ type: 'd', mode, size: -1, hash: '', path: p })

describe('the fast-path plan', () => {
  const live = [
    d('a'),
    f('a/1'),
    f('a/2'),
    f('a/3', h('b')),
    f('gone'),
    { type: 'l', mode: -1, size: -1, hash: h('c'), path: 'l' } as Entry,
  ]

  it('keeps what is the same, sends the rest, and says the new manifest as runs of live lines', () => {
    const next = [d('a'), f('a/1'), f('a/2'), f('a/3', h('9')), f('a/new'), live[5] as Entry]
    for (const zip of [true, false]) {
      const plan = planFast(built(next), readOffer(offerReply(live, { zip })))
      expect(plan.send).toEqual(['a/3', 'a/new'])
      expect(plan.keptFiles).toBe(2)
      expect(plan.delta.split('\n')[1]).toBe('=1-3')
      // The server rebuilds exactly the build's manifest from it (what its digest is checked against).
      expect(applyDelta(plan.delta, live)).toBe(built(next).text)
    }
  })

  it('sends an entry the server does not trust, a changed mode or size, a new type, and the root when its mode changed', () => {
    const next = [
      d('a', 0o700),
      f('a/1', h('a'), 2),
      f('a/2', h('a'), 1, 0o600),
      f('a/3', h('b')),
      d('gone'),
      live[5] as Entry,
    ]
    const plan = planFast(
      built(next, '0711'),
      readOffer(offerReply([live[0], live[1], live[2], undefined, live[4], live[5]])),
    )
    expect(plan.send).toEqual(['.', 'a', 'a/1', 'a/2', 'a/3', 'gone'])
    expect(plan.keptFiles).toBe(0)
    expect(applyDelta(plan.delta, live)).toBe(built(next, '0711').text)
  })

  it('plans the same from an offer out of path order (a server that reordered it), by path not by place', () => {
    const big = [d('a'), ...Array.from({ length: 300 }, (_, i) => f(`a/${i}`, h(i % 7 ? 'a' : 'b')))]
    const next = big.map((e, i) => (i % 50 === 3 ? { ...e, hash: h('e') } : e))
    const sorted = planFast(built(next), readOffer(offerReply(sortEntries(big))))
    expect(sorted.send).toHaveLength(6)
    // The same live manifest offered with two lines swapped: each line still names its own entry.
    const live2 = sortEntries(big)
    ;[live2[10], live2[200]] = [live2[200] as Entry, live2[10] as Entry]
    const swapped = planFast(built(next), readOffer(offerReply(live2)))
    expect(swapped.send).toEqual(sorted.send)
    expect(swapped.keptFiles).toBe(sorted.keptFiles)
    const lines = live2.map(formatLine)
    const rebuilt = swapped.delta
      .slice(0, -1)
      .split('\n')
      .flatMap((l) => {
        const m = /^=(\d+)(?:-(\d+))?$/.exec(l)
        if (!m) return [l]
        return lines.slice(Number(m[1]) - 1, Number(m[2] ?? m[1]))
      })
    expect(`${rebuilt.join('\n')}\n`).toBe(built(next).text)
  })

  it('plans as the offer ends (before the reply does), from the same offer, in chunks cut anywhere', async () => {
    const next = [d('a'), f('a/1'), f('a/2'), f('a/3', h('9')), f('a/new'), live[5] as Entry]
    const body = offerReply(live, { zip: false })
    const lines = [...(body.values.get('fp') ?? []).map((l) => `@@rad fp ${l}`), '@@rad offer-sent']
    const whole = `${lines.join('\n')}\n@@rad fast ok\n@@rad ok\n`
    const run = { manifest: Promise.resolve(built(next)) } as unknown as DeployHost
    for (const size of [1, 7, 64, whole.length]) {
      const early = new EarlyPlan(run)
      for (let i = 0; i < whole.length; i += size) early.push(whole.slice(i, i + size))
      const got = await early.plan(parseReply(whole))
      expect(got && 'plan' in got ? got.plan : got).toEqual(
        planFast(built(next), readOffer(parseReply(whole))),
      )
    }
    // More offer after the mark (not ours: the server says offer-sent once it is whole): not used.
    const more = `${lines.join('\n')}\n@@rad fp u\n@@rad ok\n`
    const early = new EarlyPlan(run)
    early.push(more)
    expect(await early.plan(parseReply(more))).toBeUndefined()
  })

  it('plans from the kept offer sent before the walk, unless the server sends another after it', async () => {
    const next = [d('a'), f('a/1'), f('a/2'), f('a/3', h('9')), f('a/new'), live[5] as Entry]
    const lines = (r: ReturnType<typeof offerReply>, key: string) =>
      (r.values.get('fz') ?? []).map((l) => `@@rad ${key} ${l}`)
    const kept = lines(offerReply(live), 'fk')
    // What the walk found instead: a/2 no longer as recorded ("u").
    const walked = lines(offerReply(live.map((e) => (e?.path === 'a/2' ? undefined : e))), 'fz')
    const run = { manifest: Promise.resolve(built(next)) } as unknown as DeployHost
    const cases = [
      {
        whole: [
          ...kept,
          '@@rad offer-early',
          '@@rad offer-kept',
          '@@rad offer-sent',
          '@@rad fast ok',
          '@@rad ok',
          '',
        ],
        sent: 2,
      },
      {
        whole: [...kept, '@@rad offer-early', ...walked, '@@rad offer-sent', '@@rad fast ok', '@@rad ok', ''],
        sent: 3,
      },
    ]
    for (const { whole: w, sent } of cases) {
      const whole = w.join('\n')
      const want = planFast(built(next), readOffer(parseReply(whole)))
      expect(want.send).toHaveLength(sent)
      for (const size of [1, 5, 64, whole.length]) {
        const told: number[] = []
        const early = new EarlyPlan(run, (p) => told.push(p.send.length))
        for (let i = 0; i < whole.length; i += size) early.push(whole.slice(i, i + size))
        const got = await early.plan(parseReply(whole))
        expect(got && 'plan' in got ? got.plan : got).toEqual(want)
        expect(told).toEqual([sent])
      }
    }
    // The kept offer and then silence (no offer-kept, nothing in its place): no offer at all.
    const silent = [...kept, '@@rad offer-early', '@@rad offer-sent', '@@rad fast ok', '@@rad ok', ''].join(
      '\n',
    )
    expect(() => readOffer(parseReply(silent))).toThrow(/root mode/)
    const told: number[] = []
    const early = new EarlyPlan(run, (p) => told.push(p.send.length))
    early.push(silent)
    const got = await early.plan(parseReply(silent))
    expect(got && 'error' in got ? got.error.message : got).toMatch(/root mode/)
    expect(told).toEqual([])
  })

  it('matches on the whole hash when the server sends it whole, and never on a short one', () => {
    const offer = readOffer(offerReply(live, { cut: 64 }))
    expect(planFast(built(live), offer).send).toEqual([])
    const short = parseReply(`@@rad fp r 755\n@@rad fp t f 0644 1 aaaa a/1\n`)
    expect(() => readOffer(short)).toThrow(/line 1/)
  })

  it('refuses an offer it cannot read: bad lines, a broken stream, too much once inflated, no root mode', () => {
    expect(() => readOffer(parseReply('@@rad fp r 755\n@@rad fp t f 0644 - abc x\n'))).toThrow(/line 1/)
    expect(() => readOffer(parseReply('@@rad fp r 755\n@@rad fp t d 0755 - - a\\q\n'))).toThrow(/escape/)
    expect(() => readOffer(parseReply('@@rad fz H4sIAAAA\n'))).toThrow(/decompress/)
    expect(() => readOffer(parseReply('@@rad fp u\n'))).toThrow(/root mode/)
    const bomb = gzipSync(Buffer.alloc(3 * 1024 * 1024, 0x75)).toString('base64')
    expect(() => readOffer(parseReply(`@@rad fz ${bomb}\n`), 1024 * 1024)).toThrow(/decompress/)
  })

  it('steps aside for a build with a newline in a name (the server lists its trees a line a name)', () => {
    expect(() => planFast(built([f('a\nb')]), readOffer(offerReply(live)))).toThrow(/newline/)
  })

  it('names every reason for the checksum path, and an unknown one as such', () => {
    for (const c of ['no-live', 'no-manifest', 'untrusted', 'no-link', 'no-remove', 'resume'])
      expect(fastWhy(c)).not.toMatch(/did not say/)
    expect(fastWhy('$(evil)')).toBe('the server did not say why')
  })
})

describe('fastList', () => {
  it('lists the paths NUL-separated, hostile names as they are', () => {
    expect(fastList({ send: ['.', 'new\nline', '-rf'], delta: '', keptFiles: 0 }).toString()).toBe(
      '.\0new\nline\0-rf\0',
    )
    expect(fastList({ send: [], delta: '', keptFiles: 4 }).length).toBe(0)
  })
})

describe('the fast path rsync', () => {
  it('reads the list with --from0 and does not recurse', () => {
    const args = rsyncArgs({
      source: '/b',
      destination: 'h:/t/',
      linkDest: ['/t/releases/r1'],
      chmod: 'u+rwX',
      exclude: [],
      filter: [],
      rsh: 'ssh',
      dryRun: false,
      ioTimeout: 60,
      progress: false,
      filesFrom: '/tmp/list',
    })
    expect(args.slice(0, 3)).toEqual(['--files-from=/tmp/list', '--from0', '--links'])
    expect(args).not.toContain('--recursive')
    // Every listed file is written anew (never through the link to the live release).
    expect(args).toContain('--ignore-times')
    expect(args).toContain('--compress')
    expect(args).not.toContain('--checksum')
    expect(args).toContain('--protect-args')
  })
})

describe('the build listing', () => {
  it("decodes rsync's \\#ooo escapes to bytes, and leaves other backslashes", () => {
    expect(unescapeRsyncName('a\\#012b')).toBe('a\nb')
    expect(unescapeRsyncName('c\\#134#012d')).toBe('c\\#012d')
    expect(unescapeRsyncName('\\#303\\#251t\\#303\\#251')).toBe('été')
    expect(unescapeRsyncName('back\\slash')).toBe('back\\slash')
  })
  it('excludes the shared paths, anchored, after the user’s excludes', () => {
    expect(uploadExcludes({ exclude: ['*.map'], shared: ['uploads', 'var/log'] })).toEqual([
      '*.map',
      '/uploads',
      '/var/log',
    ])
  })
})

describe('the log line', () => {
  it('carries the digest, and lines without one still read', () => {
    const d = `sha256:${'0'.repeat(64)}`
    const line = logLine({ release: 'r1', event: 'deploy', time: 't', digest: d })
    expect(JSON.parse(line).digest).toBe(d)
    expect(checkLogLine(line)).toMatchObject({ release: 'r1', digest: d })
    expect(checkLogLine('{"release":"r0","event":"deploy","time":"t"}')).toEqual({
      release: 'r0',
      event: 'deploy',
      time: 't',
    })
  })
})
