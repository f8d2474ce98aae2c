/**
 * The server side of the fast path (src/remote-manifest.ts) run by a real sh on local directories,
 * with the system's userland (GNU find -printf, mawk or gawk) and with busybox only (its sh, awk,
 * find without -printf, stat -c): the trust record, and which entries fast_start links or sends.
 */
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { describe, expect, it } from 'vitest'
import { planFast, readOffer } from '../../src/fast-path.js'
import { buildManifest, formatManifest, manifestDigest } from '../../src/manifest.js'
import { shAssignments } from '../../src/quote.js'
import type { BuildManifest } from '../../src/release-manifest.js'
import { parseReply, SCRIPTS } from '../../src/remote.js'
import { LIB } from '../../src/remote-lib.js'
import { MANIFEST_LIB } from '../../src/remote-manifest.js'
import { BUSYBOX, busyboxPath, tempDir } from './helpers.js'

const hasBusybox = BUSYBOX !== ''

function run(
  userland: 'system' | 'busybox',
  T: string,
  body: string,
  vars: Record<string, string> = {},
  /** A directory put first on PATH (programs that stand in for the system's). */
  first = '',
) {
  const script = `${shAssignments({ T, LINK: 'current', TOKEN: 'tok', LEFT: 600, ...vars })}\n${LIB}\n${MANIFEST_LIB}\n${body}\n`
  const base = userland === 'busybox' ? busyboxPath() : process.env.PATH
  const env = { PATH: first ? `${first}:${base}` : base }
  const r = spawnSync(
    userland === 'busybox' ? BUSYBOX : 'sh',
    userland === 'busybox' ? ['sh', '-s'] : ['-s'],
    {
      input: script,
      encoding: 'utf8',
      env,
    },
  )
  return { ...r, reply: parseReply(r.stdout) }
}

/** A target with release r1 live, published with its manifest and trust record. */
async function target(userland: 'system' | 'busybox', more: Record<string, string> = {}) {
  const T = tempDir('radfast-')
  const r1 = `${T}/releases/r1`
  mkdirSync(`${r1}/d`, { recursive: true })
  mkdirSync(`${T}/.deploy/manifests`, { recursive: true })
  mkdirSync(`${T}/.deploy/incoming`, { recursive: true })
  mkdirSync(`${T}/.deploy/lock`)
  writeFileSync(`${T}/.deploy/lock/holder`, 'tok host 0 99999999999 x\n')
  for (const [p, c] of Object.entries({
    a: 'aaa\n',
    b: 'bbb\n',
    'd/c': 'ccc\n',
    '-rf x\\y': 'odd\n',
    ...more,
  }))
    writeFileSync(`${r1}/${p}`, c)
  symlinkSync('a', `${r1}/l`)
  symlinkSync('releases/r1', `${T}/current`)
  writeFileSync(`${T}/.deploy/manifests/.in.r1.tok`, formatManifest(await buildManifest(r1, { chmod: '' })))
  const pub = run(userland, T, 'manifest_publish r1.tok r1')
  expect(pub.stderr).toBe('')
  return { T, r1 }
}

/** The next build: b changed, n new, the rest as in r1: its manifest as the client makes it. */
async function nextBuild(): Promise<{ src: string; m: BuildManifest }> {
  const src = tempDir('radnext-')
  chmodSync(src, 0o755)
  mkdirSync(`${src}/d`)
  for (const [p, c] of Object.entries({
    a: 'aaa\n',
    b: 'BBB!\n',
    'd/c': 'ccc\n',
    n: 'new\n',
    '-rf x\\y': 'odd\n',
  }))
    writeFileSync(`${src}/${p}`, c)
  symlinkSync('a', `${src}/l`)
  const entries = await buildManifest(src, { chmod: '' })
  const text = formatManifest(entries)
  const rootMode = (lstatSync(src).mode & 0o7777).toString(8).padStart(4, '0')
  return { src, m: { entries, text, digest: manifestDigest(text), rootMode } }
}

/** What rsync does with the plan: each listed file written anew (a new inode) into the copy. */
function sendInto(up: string, src: string, send: string[]): void {
  for (const p of send) {
    if (p === '.') continue
    rmSync(`${up}/${p}`, { force: true, recursive: true })
    writeFileSync(`${up}/${p}`, readFileSync(`${src}/${p}`))
  }
}

const workFiles = (T: string) =>
  spawnSync('ls', ['-A', `${T}/.deploy/manifests`], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .sort()

/** Enough entries, with long names, for an offer over the 32 kB that goes as plain lines. */
const BIG_SITE = Object.fromEntries(
  Array.from({ length: 400 }, (_, i) => [`page-${'p'.repeat(60)}-${i}.html`, `${i}\n`]),
)

/** A big live release r1, offered by prepare (upload r2.tok), and the plan of a build equal to it. */
async function offeredAsIs(userland: 'system' | 'busybox') {
  const { T, r1 } = await target(userland, BIG_SITE)
  const entries = await buildManifest(r1, { chmod: '' })
  const text = formatManifest(entries)
  const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
  const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r2.tok' })
  const plan = planFast({ entries, text, digest: manifestDigest(text), rootMode }, readOffer(offer.reply))
  return { T, text, rootMode, plan }
}

/** Names a line-based reader may get wrong: spaces where fields split, a tab, bytes beyond ASCII. */
const ODD_NAMES = {
  ' lead': '1\n',
  'trail ': '2\n',
  'two  spaces': '3\n',
  'tab\there': '4\n',
  'caf\u00e9': '5\n',
}

/**
 * Two PATH directories whose awk logs every program it runs (so a test sees which check ran): the
 * first for the short ways, the second with a cmp that always says "differ", which forces the
 * long ones (AWK_DESCRIBE at prepare, the check entry by entry at publish).
 */
function ways(userland: 'system' | 'busybox'): { dir: string; log: () => string }[] {
  const realAwk =
    userland === 'busybox'
      ? `${BUSYBOX} awk`
      : spawnSync('sh', ['-c', 'command -v awk'], { encoding: 'utf8' }).stdout.trim()
  return ['short', 'long'].map((way) => {
    const dir = tempDir(`radway-${way}-`)
    writeFileSync(`${dir}/awk`, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${dir}/log\nexec ${realAwk} "$@"\n`, {
      mode: 0o755,
    })
    if (way === 'long') writeFileSync(`${dir}/cmp`, '#!/bin/sh\nexit 1\n', { mode: 0o755 })
    return {
      dir,
      log: () => {
        const text = existsSync(`${dir}/log`) ? readFileSync(`${dir}/log`, 'utf8') : ''
        rmSync(`${dir}/log`, { force: true })
        return text
      },
    }
  })
}

describe.each(['system', 'busybox'] as const)('fast path on the server (%s userland)', (userland) => {
  const skip = userland === 'busybox' && !hasBusybox
  it.skipIf(skip)('records every entry at publish', async () => {
    const { T } = await target(userland)
    const rec = readFileSync(`${T}/.deploy/manifests/r1.stat`, 'utf8').split('\n')
    expect(rec[0]).toBe('rad-stat 1')
    const paths = rec
      .slice(1, -1)
      .map((l) => l.split(' ').slice(5).join(' '))
      .sort()
    expect(paths).toEqual(['.', './-rf x\\y', './a', './b', './d', './d/c', './l'])
    expect(existsSync(`${T}/.deploy/manifests/r1`)).toBe(true)
    expect(existsSync(`${T}/.deploy/manifests/.in.r1.tok`)).toBe(false)
  })

  it.skipIf(skip)(
    'offers what it can trust, copies the live release, then finishes what the client sent',
    async () => {
      const { T, r1 } = await target(userland)
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r2.tok' })
      expect(offer.stderr).toBe('')
      expect(offer.reply.values.get('fast')).toEqual(['ok'])
      const up = `${T}/.deploy/incoming/r2.tok`
      for (const p of ['a', 'b', 'd/c', '-rf x\\y'])
        expect(lstatSync(`${up}/${p}`).ino).toBe(lstatSync(`${r1}/${p}`).ino)
      const { src, m } = await nextBuild()
      const plan = planFast(m, readOffer(offer.reply))
      expect(plan.send).toEqual(['b', 'n'])
      sendInto(up, src, plan.send)
      // What the new release does not have goes, and never through a symlink the upload holds.
      const outside = tempDir('radout-')
      writeFileSync(`${outside}/keep`, 'keep\n')
      mkdirSync(`${up}/extra/sub`, { recursive: true })
      writeFileSync(`${up}/extra/sub/f`, 'x')
      symlinkSync(outside, `${up}/away`)
      const [watch] = ways(userland)
      const fin = run(
        userland,
        T,
        'fast_finish r2.tok r1',
        { MANIFEST: plan.delta, DIGEST: m.digest, ROOT_MODE: m.rootMode },
        watch?.dir,
      )
      expect(fin.stderr).toBe('')
      expect(fin.reply.error).toBeUndefined()
      // A small offer (plain lines): publish keeps none, nor runs the awk that would describe one.
      expect(watch?.log()).not.toMatch(/plain=32768/)
      expect(workFiles(T).filter((f) => f.endsWith('.ofc'))).toEqual([])
      // Files sharing the live inode, counted on the server from its walk.
      expect(fin.reply.values.get('linked')).toEqual(['3'])
      expect(Number(fin.reply.values.get('disk-kb')?.[0])).toBeGreaterThan(0)
      // The manifest rebuilt on the server is the build's, byte for byte; the walk is its record.
      expect(readFileSync(`${T}/.deploy/manifests/.in.r2.tok`, 'utf8')).toBe(m.text)
      const rec = readFileSync(`${T}/.deploy/manifests/.fstat.r2.tok`, 'utf8').split('\n')
      expect(rec[0]).toBe('rad-stat 1')
      expect(
        rec
          .slice(1, -1)
          .map((l) => l.split(' ').slice(5).join(' '))
          .sort(),
      ).toEqual(['.', './-rf x\\y', './a', './b', './d', './d/c', './l', './n'])
      expect(readFileSync(`${r1}/b`, 'utf8')).toBe('bbb\n')
      expect(existsSync(`${up}/extra`) || existsSync(`${up}/away`)).toBe(false)
      expect(readFileSync(`${outside}/keep`, 'utf8')).toBe('keep\n')
      expect(workFiles(T)).toEqual(['.fstat.r2.tok', '.in.r2.tok', 'r1', 'r1.stat'])
    },
  )

  it.skipIf(skip)(
    'finishes a build that changed nothing: every file kept, whichever the listing names first',
    async () => {
      const { T, r1 } = await target(userland)
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r5.tok' })
      const entries = await buildManifest(r1, { chmod: '' })
      const text = formatManifest(entries)
      const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
      const plan = planFast({ entries, text, digest: manifestDigest(text), rootMode }, readOffer(offer.reply))
      expect(plan.send).toEqual([])
      const fin = run(userland, T, 'fast_finish r5.tok r1', {
        MANIFEST: plan.delta,
        DIGEST: manifestDigest(text),
        ROOT_MODE: rootMode,
      })
      expect(fin.reply.error).toBeUndefined()
      expect(fin.reply.values.get('linked')).toEqual(['4'])
    },
  )

  it.skipIf(skip)(
    'sends a small offer as plain reply lines; a big one, or one with a name beyond printable ASCII, zipped: the same offer',
    async () => {
      const plainOf = async (more: Record<string, string>, inc: string) => {
        const { T } = await target(userland, more)
        const r = run(userland, T, 'fast_offer r1', { INCOMING: inc })
        expect(r.reply.values.get('fast')).toEqual(['ok'])
        const offer = readOffer(r.reply)
        // Every entry of the live manifest, each trusted, whichever way it came.
        expect(offer.entries.length).toBe(
          readFileSync(`${T}/.deploy/manifests/r1`, 'utf8').split('\n').length - 2,
        )
        expect(offer.entries.every((e) => e !== undefined)).toBe(true)
        expect(workFiles(T).filter((f) => f.endsWith('.offer'))).toEqual([])
        return { fp: r.reply.values.get('fp')?.length ?? 0, fz: r.reply.values.get('fz')?.length ?? 0 }
      }
      const small = await plainOf({}, 'r7.tok')
      expect(small.fp).toBeGreaterThan(0)
      expect(small.fz).toBe(0)
      const big = await plainOf(BIG_SITE, 'r8.tok')
      expect([big.fp, big.fz > 0]).toEqual([0, true])
      const odd = await plainOf({ 'caf\u00e9.html': 'x\n' }, 'r9.tok')
      expect([odd.fp, odd.fz > 0]).toEqual([0, true])
    },
  )

  it.skipIf(skip)(
    'does not offer a live file whose mtime changed since publish, and leaves it out of the copy',
    async () => {
      const { T, r1 } = await target(userland)
      writeFileSync(`${r1}/a`, 'AAA\n')
      utimesSync(`${r1}/a`, new Date(), new Date(Date.now() + 5000))
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r3.tok' })
      expect(offer.reply.values.get('fast')).toEqual(['ok'])
      const { m } = await nextBuild()
      expect(planFast(m, readOffer(offer.reply)).send).toEqual(['a', 'b', 'n'])
      expect(existsSync(`${T}/.deploy/incoming/r3.tok/a`)).toBe(false)
    },
  )

  it.skipIf(skip)(
    'refuses to finish a copy that is not what the manifest says, and publishes nothing',
    async () => {
      const { T, r1 } = await target(userland)
      const { src, m } = await nextBuild()
      const cases: [string, (up: string) => void, Partial<Record<string, string>>, RegExp][] = [
        [
          'a kept file replaced',
          (up) => {
            rmSync(`${up}/a`)
            writeFileSync(`${up}/a`, 'aaa\n')
          },
          {},
          /changed on the server while this deploy ran: a/,
        ],
        ['a sent file left as the old one', (up) => rmSync(`${up}/n`), {}, /missing: n/],
        // What was sent must be as the manifest says, and new: whichever check runs.
        [
          'a sent file of another size',
          (up) => writeFileSync(`${up}/b`, 'B\n'),
          {},
          /another type, mode or size: b/,
        ],
        [
          'a sent file of another mode',
          (up) => chmodSync(`${up}/n`, 0o600),
          {},
          /another type, mode or size: n/,
        ],
        [
          'a file in place of a directory',
          (up) => {
            rmSync(`${up}/d`, { recursive: true })
            writeFileSync(`${up}/d`, 'x')
          },
          {},
          /another type, mode or size: d/,
        ],
        ['another digest', () => {}, { DIGEST: `sha256:${'0'.repeat(64)}` }, /digest differs/],
        [
          "prepare's listing of the live release cut short (busybox awk writes on when the disk is full)",
          (up) => {
            const now = `${up.replace('/incoming/', '/manifests/.w.')}.now`
            const lines = readFileSync(now, 'utf8').split('\n')
            expect(lines.at(-2)).toBe('@@end')
            writeFileSync(now, `${lines.slice(0, -3).join('\n')}\n`)
          },
          {},
          /not whole/,
        ],
        [
          'a name with a newline put in the upload, whose second line would read as an entry',
          (up) => writeFileSync(`${up}/x\nf 1 2 3 644 8 .`, 'x'),
          {},
          /unreadable line/,
        ],
        [
          'a delta naming a line the live manifest lacks',
          () => {},
          { MANIFEST: 'rad-manifest 1\n=1-99\n' },
          /could not be rebuilt/,
        ],
      ]
      for (const [i, [, spoil, over, why]] of cases.entries()) {
        const inc = `r${10 + i}.tok`
        const offer = run(userland, T, 'fast_offer r1', { INCOMING: inc })
        const plan = planFast(m, readOffer(offer.reply))
        const up = `${T}/.deploy/incoming/${inc}`
        sendInto(up, src, plan.send)
        spoil(up)
        const fin = run(userland, T, `fast_finish ${inc} r1`, {
          MANIFEST: plan.delta,
          DIGEST: m.digest,
          ROOT_MODE: m.rootMode,
          ...over,
        })
        expect(fin.reply.error?.code).toBe('fast-mismatch')
        expect(fin.reply.error?.message).toMatch(why)
        expect(existsSync(`${T}/.deploy/manifests/.fstat.${inc}`)).toBe(false)
        // The live release is as it was.
        expect(readFileSync(`${r1}/a`, 'utf8')).toBe('aaa\n')
      }
    },
  )

  it.skipIf(skip)(
    'offers the same whether the live release walks as recorded (the short way) or is checked entry by entry',
    async () => {
      const way = ways(userland)
      const many = Object.fromEntries(
        Array.from({ length: 400 }, (_, i) => [`p-${'q'.repeat(60)}-${i}`, `${i}\n`]),
      )
      // Each case edits the live manifest (the record still matches the tree): entries the join
      // must leave untrusted, drop from the copy, or keep.
      const cases: [string, Record<string, string>, (lines: string[]) => string[]][] = [
        ['the manifest as published', {}, (l) => l],
        ['a zipped offer', many, (l) => l],
        ['names with spaces, a tab, beyond ASCII', ODD_NAMES, (l) => l],
        ['one of them untrusted', ODD_NAMES, (l) => l.filter((x) => !x.endsWith(' two  spaces'))],
        ['an entry the manifest lacks', {}, (l) => l.filter((x) => !x.endsWith(' b'))],
        [
          'a file of another mode',
          {},
          (l) => l.map((x) => (x.endsWith(' a') ? x.replace(/^f \S+/, 'f 600') : x)),
        ],
        ['a path the tree lacks', {}, (l) => [...l, `f 644 4 ${'0'.repeat(64)} zz`]],
        [
          'a directory of another mode',
          {},
          (l) => l.map((x) => (x.endsWith(' d') ? x.replace(/^d \S+/, 'd 700') : x)),
        ],
        [
          'a file where the tree has a directory',
          {},
          (l) => l.map((x) => (x.endsWith(' d') ? x.replace(/^d \S+ \S+/, 'f 644 3') : x)),
        ],
      ]
      for (const [name, more, edit] of cases) {
        const got = []
        for (const [k, { dir: first, log }] of way.entries()) {
          const { T } = await target(userland, more)
          const mf = `${T}/.deploy/manifests/r1`
          const lines = readFileSync(mf, 'utf8').split('\n').slice(0, -1)
          writeFileSync(mf, `${[lines[0], ...edit(lines.slice(1))].join('\n')}\n`)
          const inc = `r${20 + k}.tok`
          const r = run(userland, T, 'fast_offer r1', { INCOMING: inc }, first)
          expect(r.stderr, name).toBe('')
          expect(r.reply.values.get('fast'), name).toEqual(['ok'])
          // Which way ran: AWK_JOIN is the one given allt.
          const ran = log()
          expect([name, ran.includes('allt='), ran.includes('LD[p] = 1')]).toEqual([name, k === 0, k === 1])
          const w = `${T}/.deploy/manifests/.w.${inc}`
          if (k === 0) {
            // The short way was open: the walk prepare kept is the trust record, line for line.
            const rec = readFileSync(`${T}/.deploy/manifests/r1.stat`, 'utf8').split('\n').slice(1)
            expect(readFileSync(`${w}.now`, 'utf8'), name).toBe(`${rec.join('\n')}@@end\n`)
          }
          const copy = spawnSync('find', ['.'], { cwd: `${T}/.deploy/incoming/${inc}`, encoding: 'utf8' })
          got.push({
            fp: r.reply.values.get('fp') ?? [],
            offer: readOffer(r.reply),
            rm: readFileSync(`${w}.rm`, 'utf8').split('\n').sort(),
            copy: copy.stdout.split('\n').sort(),
          })
        }
        expect(got[0], name).toEqual(got[1])
      }
    },
  )

  it.skipIf(skip)(
    'checks in step only what prepare trusted whole, and catches there what the check entry by entry catches',
    async () => {
      // A live file deleted by hand is not trusted (the client sends it): never the check in step
      // then, so an upload that still lacks it is refused ("missing"), not published.
      {
        const [short] = ways(userland)
        const { T, r1 } = await target(userland)
        const entries = await buildManifest(r1, { chmod: '' })
        rmSync(`${r1}/b`)
        const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r34.tok' })
        const text = formatManifest(entries)
        const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
        const plan = planFast(
          { entries, text, digest: manifestDigest(text), rootMode },
          readOffer(offer.reply),
        )
        expect(plan.send).toEqual(['b'])
        expect(existsSync(`${T}/.deploy/manifests/.w.r34.tok.all`)).toBe(false)
        const fin = run(
          userland,
          T,
          'fast_finish r34.tok r1',
          { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: rootMode },
          short?.dir,
        )
        expect(fin.reply.error?.message).toMatch(/missing: b/)
        expect(short?.log().includes('spf=')).toBe(false)
      }

      // And it catches what the check entry by entry catches: a kept file replaced after prepare.
      const { T, r1 } = await target(userland)
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r33.tok' })
      const entries = await buildManifest(r1, { chmod: '' })
      const text = formatManifest(entries)
      const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
      const plan = planFast({ entries, text, digest: manifestDigest(text), rootMode }, readOffer(offer.reply))
      const up = `${T}/.deploy/incoming/r33.tok`
      rmSync(`${up}/b`)
      writeFileSync(`${up}/b`, 'bbb\n')
      const fin = run(userland, T, 'fast_finish r33.tok r1', {
        MANIFEST: plan.delta,
        DIGEST: manifestDigest(text),
        ROOT_MODE: rootMode,
      })
      expect(fin.reply.error?.message).toMatch(/changed on the server while this deploy ran: b/)
      expect(existsSync(`${T}/.deploy/manifests/.fstat.r33.tok`)).toBe(false)
    },
  )

  it.skipIf(skip)(
    'checks an upload in step with the live walk, with the result of the check entry by entry, whatever the build changed',
    async () => {
      const many = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`d/p-${i}`, `${i}\n`]))
      // Each case turns a copy of the live release into the next build.
      const cases: [string, Record<string, string>, (src: string) => void][] = [
        ['nothing', {}, () => {}],
        [
          'a file changed, one new',
          {},
          (s) => {
            writeFileSync(`${s}/b`, 'BBB!\n')
            writeFileSync(`${s}/n`, 'new\n')
          },
        ],
        [
          '1% of many changed',
          many,
          (s) => {
            for (const i of [3, 60, 119]) writeFileSync(`${s}/d/p-${i}`, 'changed\n')
          },
        ],
        ['a file deleted', {}, (s) => rmSync(`${s}/d/c`)],
        ['a directory deleted', many, (s) => rmSync(`${s}/d`, { recursive: true })],
        [
          'a new directory',
          {},
          (s) => {
            mkdirSync(`${s}/e/f`, { recursive: true })
            writeFileSync(`${s}/e/f/g`, 'g\n')
          },
        ],
        ['a mode changed', {}, (s) => chmodSync(`${s}/a`, 0o600)],
        ['a directory mode changed', {}, (s) => chmodSync(`${s}/d`, 0o700)],
        [
          'a file became a directory',
          {},
          (s) => {
            rmSync(`${s}/b`)
            mkdirSync(`${s}/b`)
            writeFileSync(`${s}/b/x`, 'x\n')
          },
        ],
        [
          'a directory became a file',
          {},
          (s) => {
            rmSync(`${s}/d`, { recursive: true })
            writeFileSync(`${s}/d`, 'd\n')
          },
        ],
        [
          'a symlink retargeted',
          {},
          (s) => {
            rmSync(`${s}/l`)
            symlinkSync('b', `${s}/l`)
          },
        ],
        [
          'a file renamed',
          {},
          (s) => {
            writeFileSync(`${s}/a2`, 'aaa\n')
            rmSync(`${s}/a`)
          },
        ],
        [
          'odd names changed',
          ODD_NAMES,
          (s) => {
            writeFileSync(`${s}/two  spaces`, 'x\n')
            rmSync(`${s}/tab\there`)
            writeFileSync(`${s}/ new lead`, 'y\n')
          },
        ],
      ]
      for (const [name, more, edit] of cases) {
        const results = []
        for (const [k, { dir: first, log }] of ways(userland).entries()) {
          const { T, r1 } = await target(userland, more)
          const inc = `r${40 + k}.tok`
          const offer = run(userland, T, 'fast_offer r1', { INCOMING: inc }, first)
          expect(offer.reply.values.get('fast'), name).toEqual(['ok'])
          const src = tempDir('radstep-')
          spawnSync('cp', ['-a', `${r1}/.`, src])
          edit(src)
          const entries = await buildManifest(src, { chmod: '' })
          const text = formatManifest(entries)
          const rootMode = (lstatSync(src).mode & 0o7777).toString(8).padStart(4, '0')
          const plan = planFast(
            { entries, text, digest: manifestDigest(text), rootMode },
            readOffer(offer.reply),
          )
          const up = `${T}/.deploy/incoming/${inc}`
          // What the action's rsync does with the plan (rsync.ts: the same flags, locally).
          const list = `${src}.list`
          writeFileSync(list, plan.send.map((p) => `${p}\0`).join(''))
          const rs = spawnSync(
            'rsync',
            [
              `--files-from=${list}`,
              '--from0',
              '--links',
              '--perms',
              '--chmod=ug-s',
              '--ignore-times',
              '--force',
              `${src}/`,
              `${up}/`,
            ],
            { encoding: 'utf8' },
          )
          expect(rs.stderr, name).toBe('')
          log()
          const fin = run(
            userland,
            T,
            `fast_finish ${inc} r1`,
            { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: rootMode },
            first,
          )
          expect([name, fin.stderr, fin.reply.error]).toEqual([name, '', undefined])
          const ran = log()
          expect([name, ran.includes('spf='), ran.includes('keptf=')], 'which check ran').toEqual([
            name,
            k === 0,
            k === 1,
          ])
          const rec = readFileSync(`${T}/.deploy/manifests/.fstat.${inc}`, 'utf8').split('\n')
          const tree = spawnSync('find', ['.', '-printf', '%y %m %s %p\n'], { cwd: up, encoding: 'utf8' })
          results.push({
            linked: fin.reply.values.get('linked'),
            kb: fin.reply.values.get('disk-kb'),
            // The record, its entries sorted (a directory's own inode differs between the two runs).
            rec: rec
              .map((l) => {
                const [t, , size, , mode, ...p] = l.split(' ')
                return [t, t === 'd' ? '' : size, mode, p.join(' ')].join(' ')
              })
              .sort(),
            // Each recorded inode is the upload's, and the upload is the build.
            inodes: rec.slice(1, -1).every((l) => {
              const [, ino, , , , ...p] = l.split(' ')
              return Number(ino) === lstatSync(`${up}/${p.join(' ')}`).ino
            }),
            tree: tree.stdout
              .split('\n')
              .map((l) => (l.startsWith('d ') ? l.replace(/^d (\S+) \S+/, 'd $1 -') : l))
              .sort(),
          })
          const want = spawnSync('find', ['.', '-printf', '%y %m %s %p\n'], { cwd: src, encoding: 'utf8' })
          expect(results[k]?.tree, name).toEqual(
            want.stdout
              .split('\n')
              .map((l) => (l.startsWith('d ') ? l.replace(/^d (\S+) \S+/, 'd $1 -') : l))
              .sort(),
          )
          expect(results[k]?.inodes, name).toBe(true)
        }
        expect(results[0], name).toEqual(results[1])
      }
    },
  )

  it.skipIf(skip)(
    'refuses a sent file that is a live one, of the right size and mode, whichever check runs',
    async () => {
      const [short] = ways(userland)
      // A live file of the new b's size: only its inode tells that b was not sent.
      const { T } = await target(userland, { e: 'eeee\n' })
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r50.tok' })
      const { src, m } = await nextBuild()
      writeFileSync(`${src}/e`, 'eeee\n')
      const entries = await buildManifest(src, { chmod: '' })
      const text = formatManifest(entries)
      const plan = planFast({ ...m, entries, text, digest: manifestDigest(text) }, readOffer(offer.reply))
      expect(plan.send).toEqual(['b', 'n'])
      const up = `${T}/.deploy/incoming/r50.tok`
      sendInto(up, src, plan.send)
      rmSync(`${up}/b`)
      linkSync(`${T}/releases/r1/e`, `${up}/b`)
      short?.log()
      const fin = run(
        userland,
        T,
        'fast_finish r50.tok r1',
        { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: m.rootMode },
        short?.dir,
      )
      expect(fin.reply.error?.message).toMatch(/not sent again: b/)
      const ran = short?.log() ?? ''
      expect([ran.includes('spf='), ran.includes('keptf=')]).toEqual([true, true])
      expect(existsSync(`${T}/.deploy/manifests/.fstat.r50.tok`)).toBe(false)
    },
  )

  it.skipIf(skip)(
    'never takes a list of the changed entries that was cut short (a failed write) for a whole one',
    async () => {
      const realAwk =
        userland === 'busybox'
          ? `${BUSYBOX} awk`
          : spawnSync('sh', ['-c', 'command -v awk'], { encoding: 'utf8' }).stdout.trim()
      // Each cut: what a write error (busybox awk exits 0 on one) leaves of $w.sp or $w.xp.
      const cuts: [string, string][] = [
        ['sp', "sed -i '1d'"],
        ['sp', "sed -i '$d'"],
        ['xp', "sed -i '1d'"],
        ['xp', "sed -i '$d'"],
      ]
      for (const [file, cut] of cuts) {
        const dir = tempDir('radcut-')
        // The rebuild awk (given sp=) runs, then the list loses a line, as a failed write would.
        writeFileSync(
          `${dir}/awk`,
          `#!/bin/sh\nprintf '%s\\n' "$*" >> ${dir}/log\n${realAwk} "$@"; rc=$?\ncase "$*" in *"sp="*) f=$(printf '%s\\n' "$@" | sed -n 's/^${file}=//p'); ${cut} "$f" ;; esac\nexit $rc\n`,
          { mode: 0o755 },
        )
        const { T } = await target(userland, { e: 'eeee\n' })
        const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r60.tok' })
        const { src, m } = await nextBuild()
        // b changed, n new, e deleted: each list has an entry to lose.
        const entries = (await buildManifest(src, { chmod: '' })).filter((x) => x.path !== 'e')
        const text = formatManifest(entries)
        const plan = planFast({ ...m, entries, text, digest: manifestDigest(text) }, readOffer(offer.reply))
        const up = `${T}/.deploy/incoming/r60.tok`
        sendInto(up, src, plan.send)
        const fin = run(
          userland,
          T,
          'fast_finish r60.tok r1',
          { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: m.rootMode },
          dir,
        )
        const what = `${file}: ${cut}`
        expect([what, fin.stderr, fin.reply.error]).toEqual([what, '', undefined])
        const ran = readFileSync(`${dir}/log`, 'utf8')
        // The check in step refused the list; the check entry by entry made the release.
        expect([what, ran.includes('spf='), ran.includes('keptf=')]).toEqual([what, true, true])
        expect(readFileSync(`${up}/b`, 'utf8')).toBe('BBB!\n')
        expect(existsSync(`${up}/e`)).toBe(false)
        expect(readFileSync(`${up}/n`, 'utf8')).toBe('new\n')
      }
    },
  )

  it.skipIf(skip)(
    'publishes nothing when the list of what the release loses was cut short (a failed write)',
    async () => {
      const realAwk =
        userland === 'busybox'
          ? `${BUSYBOX} awk`
          : spawnSync('sh', ['-c', 'command -v awk'], { encoding: 'utf8' }).stdout.trim()
      for (const way of ['step', 'entry by entry']) {
        const dir = tempDir('radcutdel-')
        // The check (given del=) runs, then its list of what goes loses its last line.
        writeFileSync(
          `${dir}/awk`,
          `#!/bin/sh\n${realAwk} "$@"; rc=$?\ncase "$*" in *"del="*) f=$(printf '%s\\n' "$@" | sed -n 's/^del=//p'); sed -i '$d' "$f" ;; esac\nexit $rc\n`,
          { mode: 0o755 },
        )
        const { T } = await target(userland, { e: 'eeee\n' })
        const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r61.tok' })
        if (way !== 'step') rmSync(`${T}/.deploy/manifests/.w.r61.tok.all`)
        const { src, m } = await nextBuild()
        const entries = (await buildManifest(src, { chmod: '' })).filter((x) => x.path !== 'e')
        const text = formatManifest(entries)
        const plan = planFast({ ...m, entries, text, digest: manifestDigest(text) }, readOffer(offer.reply))
        const up = `${T}/.deploy/incoming/r61.tok`
        sendInto(up, src, plan.send)
        const fin = run(
          userland,
          T,
          'fast_finish r61.tok r1',
          { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: m.rootMode },
          dir,
        )
        expect([way, fin.reply.error?.code]).toEqual([way, 'fast-mismatch'])
        expect(fin.reply.error?.message).toMatch(/cut short/)
        // e is still in the upload: nothing was deleted from it, nothing was published.
        expect(existsSync(`${up}/e`)).toBe(true)
        expect(existsSync(`${T}/releases/r61.tok`)).toBe(false)
      }
    },
  )

  it.skipIf(skip)(
    'prepare: the copy begins only on the fast path, and goes whole when the offer cannot be made',
    async () => {
      // A cp that logs what it is asked (to see whether the copy began), and an rsync for busybox's PATH.
      const dir = tempDir('radearly-')
      const realCp =
        userland === 'busybox'
          ? `${BUSYBOX} cp`
          : spawnSync('sh', ['-c', 'command -v cp'], { encoding: 'utf8' }).stdout.trim()
      writeFileSync(`${dir}/cp`, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${dir}/log\nexec ${realCp} "$@"\n`, {
        mode: 0o755,
      })
      writeFileSync(`${dir}/rsync`, '#!/bin/sh\nexit 0\n', { mode: 0o755 })
      const copied = () => {
        const log = existsSync(`${dir}/log`) ? readFileSync(`${dir}/log`, 'utf8') : ''
        rmSync(`${dir}/log`, { force: true })
        return /^-al -- .*\/releases\/r1 .*\/incoming\/r2\.tok$/m.test(log)
      }
      const vars = {
        ID: 'r2',
        INCOMING: 'r2.tok',
        STAGED: '',
        SHARED: '',
        FAST: '1',
        LOCK_WAIT: '4',
        LOCK_TTL: '720',
        LOCK_OWNER: '{}',
      }
      // 1. A shared path not yet in shared/: only the checksum path seeds it, decided before any copy.
      // 2. A live manifest of another format: the copy began, and the offer fails.
      const cases: [string, Record<string, string>, (T: string) => void, boolean, string | undefined][] = [
        ['a shared path to seed', { SHARED: 'data' }, () => {}, false, undefined],
        [
          'an offer that cannot be made',
          {},
          (T) => {
            const mf = `${T}/.deploy/manifests/r1`
            writeFileSync(mf, readFileSync(mf, 'utf8').replace(/^rad-manifest 1\n/, 'rad-manifest 9\n'))
          },
          true,
          'untrusted',
        ],
      ]
      for (const [name, over, spoil, began, fast] of cases) {
        const { T } = await target(userland)
        rmSync(`${T}/.deploy/lock`, { recursive: true })
        spoil(T)
        const r = run(userland, T, SCRIPTS.prepare, { ...vars, ...over }, dir)
        expect([name, r.reply.error, r.reply.ok]).toEqual([name, undefined, true])
        expect([name, copied()]).toEqual([name, began])
        expect([name, r.reply.values.get('fast')?.[0]]).toEqual([name, fast])
        // The upload dir is the checksum path's: empty; nothing of a copy or its walk is left.
        expect([name, readdirSync(`${T}/.deploy/incoming/r2.tok`)]).toEqual([name, []])
        expect([name, workFiles(T).filter((f) => f.startsWith('.w.r2.tok'))]).toEqual([name, []])
        // And our own upload dir is no leftover.
        expect([name, r.reply.values.get('leftover')]).toEqual([name, undefined])
      }
    },
  )

  it.skipIf(skip)('still takes the short way after a deploy that deleted files', async () => {
    const { T, r1 } = await target(userland)
    const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r2.tok' })
    const entries = (await buildManifest(r1, { chmod: '' })).filter((e) => e.path !== 'd/c')
    const text = formatManifest(entries)
    const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
    const plan = planFast({ entries, text, digest: manifestDigest(text), rootMode }, readOffer(offer.reply))
    const fin = run(userland, T, 'fast_finish r2.tok r1 && manifest_publish r2.tok r2', {
      MANIFEST: plan.delta,
      DIGEST: manifestDigest(text),
      ROOT_MODE: rootMode,
    })
    expect(fin.reply.error).toBeUndefined()
    run(userland, T, 'mv -- "$D/incoming/r2.tok" "$T/releases/r2"')
    expect(existsSync(`${T}/releases/r2/d/c`)).toBe(false)
    // d lost a file after its record was taken: its mtime changed, and the next walk still matches.
    run(userland, T, 'fast_offer r2', { INCOMING: 'r3.tok' })
    const rec = readFileSync(`${T}/.deploy/manifests/r2.stat`, 'utf8').split('\n').slice(1)
    expect(readFileSync(`${T}/.deploy/manifests/.w.r3.tok.now`, 'utf8')).toBe(`${rec.join('\n')}@@end\n`)
  })

  it.skipIf(skip)(
    "keeps a big release's offer at publish, and the next prepare sends it: AWK_JOIN's offer, without AWK_JOIN",
    async () => {
      const { T, r1 } = await target(userland, { ...BIG_SITE, ...ODD_NAMES })
      const mdir = `${T}/.deploy/manifests`
      // r2: b changed, n new, the rest kept; published the fast way (fast_finish, then manifest_publish).
      const src = tempDir('radkeep-')
      expect(spawnSync('cp', ['-a', `${r1}/.`, src]).status).toBe(0)
      writeFileSync(`${src}/b`, 'BBB!\n')
      writeFileSync(`${src}/n`, 'new\n')
      const entries = await buildManifest(src, { chmod: '' })
      const text = formatManifest(entries)
      const rootMode = (lstatSync(src).mode & 0o7777).toString(8).padStart(4, '0')
      const m = { entries, text, digest: manifestDigest(text), rootMode }
      const first = run(userland, T, 'fast_offer r1', { INCOMING: 'r2.tok' })
      const plan = planFast(m, readOffer(first.reply))
      expect(plan.send).toEqual(['b', 'n'])
      sendInto(`${T}/.deploy/incoming/r2.tok`, src, plan.send)
      const vars = { MANIFEST: plan.delta, DIGEST: m.digest, ROOT_MODE: rootMode }
      const [watch] = ways(userland)
      const fin = run(userland, T, 'fast_finish r2.tok r1', vars, watch?.dir)
      expect([fin.stderr, fin.reply.error]).toEqual(['', undefined])
      expect(watch?.log()).toMatch(/plain=32768/)
      expect(workFiles(T)).toContain('.w.r2.tok.ofc')
      run(userland, T, 'mv -- "$D/incoming/r2.tok" "$T/releases/r2" && manifest_publish r2.tok r2')
      expect(workFiles(T)).toEqual(['r1', 'r1.stat', 'r2', 'r2.offer', 'r2.stat'])
      expect(readFileSync(`${mdir}/r2.offer`, 'utf8').split('\n')[0]).toBe(`rad-offer 1 ${m.digest}`)

      // The next prepare, with and without the kept offer: the same offer, rm list, copy and marks.
      const [short] = ways(userland)
      const next = (inc: string) => {
        const r = run(userland, T, 'fast_offer r2', { INCOMING: inc }, short?.dir)
        expect([r.stderr, r.reply.values.get('fast')]).toEqual(['', ['ok']])
        const w = `${mdir}/.w.${inc}`
        const copy = spawnSync('find', ['.'], { cwd: `${T}/.deploy/incoming/${inc}`, encoding: 'utf8' })
        return {
          ran: short?.log() ?? '',
          got: {
            offer: readOffer(r.reply),
            fz: (r.reply.values.get('fz') ?? []).length > 0,
            rm: readFileSync(`${w}.rm`, 'utf8'),
            all: existsSync(`${w}.all`),
            now: readFileSync(`${w}.now`, 'utf8'),
            copy: copy.stdout.split('\n').sort(),
          },
        }
      }
      const kept = next('r3.tok')
      expect(kept.ran).not.toContain('allt=')
      expect(kept.got.offer.entries.every((e) => e !== undefined)).toBe(true)
      const saved = readFileSync(`${mdir}/r2.offer`, 'utf8')
      rmSync(`${mdir}/r2.offer`)
      const joined = next('r4.tok')
      expect(joined.ran).toContain('allt=')
      expect(kept.got).toEqual(joined.got)
      // And the client plans the same from it: a build that changed nothing sends nothing.
      expect(planFast(m, kept.got.offer).send).toEqual([])

      // A kept offer of another manifest (the manifest edited since) is not sent: AWK_JOIN is.
      writeFileSync(`${mdir}/r2.offer`, saved)
      const mf = `${mdir}/r2`
      writeFileSync(
        mf,
        readFileSync(mf, 'utf8').replace(/^(f \S+ 5 )[0-9a-f]{64} b$/m, `$1${'e'.repeat(64)} b`),
      )
      const stale = next('r5.tok')
      expect(stale.ran).toContain('allt=')
      expect(stale.got.offer.entries.find((e) => e?.path === 'b')?.hash).toBe('e'.repeat(16))

      // A kept offer whose lines are not all base64 is not sent, nor any line of it: AWK_JOIN is.
      writeFileSync(mf, text)
      const lines = saved.split('\n')
      writeFileSync(
        `${mdir}/r2.offer`,
        [lines[0], '@@rad-warning key expired: run curl x | sh', ...lines.slice(1)].join('\n'),
      )
      const forged = run(userland, T, 'fast_offer r2', { INCOMING: 'r7.tok' }, short?.dir)
      expect(short?.log()).toContain('allt=')
      expect(forged.stdout).not.toContain('key expired')
      expect(forged.reply.values.get('fast')).toEqual(['ok'])
      expect(readOffer(forged.reply)).toEqual(kept.got.offer)

      // A release published with a walked record (the checksum path) has no kept offer.
      writeFileSync(`${mdir}/.in.r6.tok`, text)
      run(
        userland,
        T,
        'mkdir -p "$T/releases/r6" && : > "$D/manifests/r6.offer" && manifest_publish r6.tok r6',
      )
      expect(existsSync(`${mdir}/r6.offer`)).toBe(false)
      // A release pruned or rolled back out (manifest_drop) takes its kept offer with it.
      run(userland, T, 'manifest_drop r2')
      expect(workFiles(T).filter((f) => f.startsWith('r2'))).toEqual([])
    },
  )

  it.skipIf(skip)('keeps no offer cut short (a failed write that awk does not report)', async () => {
    const realAwk =
      userland === 'busybox'
        ? `${BUSYBOX} awk`
        : spawnSync('sh', ['-c', 'command -v awk'], { encoding: 'utf8' }).stdout.trim()
    const dir = tempDir('radcutoffer-')
    // offer_keep's awk (root= and plain=, no cut=) loses its last line and exits 0, as busybox awk does on a full disk.
    writeFileSync(
      `${dir}/awk`,
      `#!/bin/sh\ncase "$*" in *cut=*) ;; *root=*plain=*) ${realAwk} "$@" | sed '$d'; exit 0 ;; esac\nexec ${realAwk} "$@"\n`,
      { mode: 0o755 },
    )
    const { T, text, rootMode, plan } = await offeredAsIs(userland)
    const vars = { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: rootMode }
    const fin = run(userland, T, 'fast_finish r2.tok r1', vars, dir)
    expect([fin.stderr, fin.reply.error]).toEqual(['', undefined])
    expect(workFiles(T).filter((f) => f.includes('.ofc'))).toEqual([])
  })

  it.skipIf(skip)(
    "prepare's way: the kept offer goes before the walk (fk), then offer-sent alone when the release is as recorded, or the walk's own offer when it is not",
    async () => {
      const { T, r1 } = await target(userland, BIG_SITE)
      const live = readFileSync(`${T}/.deploy/manifests/r1`, 'utf8')
      const rootMode = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
      const kept = run(
        userland,
        T,
        `offer_keep "$D/manifests/r1" "$D/manifests/r1.offer" "${manifestDigest(live)}"`,
        {
          ROOT_MODE: rootMode,
        },
      )
      expect(kept.status).toBe(0)
      const entries = await buildManifest(r1, { chmod: '' })
      const text = formatManifest(entries)
      const m = { entries, text, digest: manifestDigest(text), rootMode }
      // As PREPARE runs them: the copy and the walk, the early offer, then the offer and the link;
      // with the reply, the kinds of its lines in order.
      const prepare = (inc: string) => {
        const r = run(userland, T, 'fast_start r1 && fast_early r1; fast_send r1 && fast_link', {
          INCOMING: inc,
        })
        expect(r.stderr).toBe('')
        const kinds = r.stdout.split('\n').map((l) => l.split(' ').slice(1, 2).join(' '))
        return { reply: r.reply, kinds: kinds.filter((k, i) => k !== kinds[i - 1]) }
      }
      const held = prepare('r2.tok')
      expect(held.kinds).toEqual(['fk', 'offer-early', 'offer-kept', 'offer-sent', 'fast', ''])
      expect(planFast(m, readOffer(held.reply)).send).toEqual([])
      // The same plan as from the offer fast_offer sends after the walk (fz lines).
      run(userland, T, 'fast_stop; rm -rf "$D/incoming/r2.tok"', { INCOMING: 'r2.tok' })
      const after = run(userland, T, 'fast_offer r1', { INCOMING: 'r3.tok' })
      expect(after.reply.values.get('fz')).toEqual(held.reply.values.get('fk'))
      run(userland, T, 'fast_stop; rm -rf "$D/incoming/r3.tok"', { INCOMING: 'r3.tok' })
      // A page edited by hand: the kept offer goes first, then the walk's, which the client takes.
      const page = Object.keys(BIG_SITE)[7] as string
      writeFileSync(`${r1}/${page}`, 'edited by hand\n')
      const edited = prepare('r4.tok')
      expect(edited.kinds).toEqual(['fk', 'offer-early', 'fz', 'offer-sent', 'fast', ''])
      expect(edited.reply.values.get('fast')).toEqual(['ok'])
      // The build is r1 as published: the page the server no longer holds as recorded is sent.
      expect(planFast(m, readOffer(edited.reply)).send).toEqual([page])
      // Edited again, and the offer the walk describes cannot be written (a full disk; busybox awk
      // still exits 0): no offer-kept, so the client has no offer, never the kept one.
      run(userland, T, 'fast_stop; rm -rf "$D/incoming/r4.tok"', { INCOMING: 'r4.tok' })
      writeFileSync(`${r1}/${page}`, 'edited by hand again\n')
      symlinkSync('/dev/full', `${T}/.deploy/manifests/.w.r5.tok.offer`)
      const full = prepare('r5.tok')
      expect(full.kinds).not.toContain('offer-kept')
      expect(full.kinds).not.toContain('fz')
      if (full.reply.values.get('fast')?.[0] === 'ok')
        expect(() => readOffer(full.reply)).toThrow(/root mode/)
    },
  )

  it.skipIf(skip)(
    'a kept offer that publish finds wrong goes, so the next deploy describes the live release afresh',
    async () => {
      const { T, r1 } = await target(userland, BIG_SITE)
      const mdir = `${T}/.deploy/manifests`
      const src = tempDir('radforge-')
      expect(spawnSync('cp', ['-a', `${r1}/.`, src]).status).toBe(0)
      writeFileSync(`${src}/b`, 'BBB!\n')
      const entries = await buildManifest(src, { chmod: '' })
      const text = formatManifest(entries)
      const rootMode = (lstatSync(src).mode & 0o7777).toString(8).padStart(4, '0')
      const m = { entries, text, digest: manifestDigest(text), rootMode }
      // r1's kept offer, readable and named by r1's digest, but with b as the new build has it:
      // the client, told b is there already, does not send it.
      const live = readFileSync(`${mdir}/r1`, 'utf8')
      const newB = entries.find((e) => e.path === 'b')?.hash ?? ''
      writeFileSync(`${T}/forged`, live.replace(/^f (\S+) \d+ [0-9a-f]{64} b$/m, `f $1 5 ${newB} b`))
      const kept = run(
        userland,
        T,
        `offer_keep "$T/forged" "$D/manifests/r1.offer" "${manifestDigest(live)}"`,
        {
          ROOT_MODE: rootMode,
        },
      )
      expect(kept.status).toBe(0)
      const offer = run(userland, T, 'fast_offer r1', { INCOMING: 'r2.tok' })
      const plan = planFast(m, readOffer(offer.reply))
      expect(plan.send).toEqual([])
      const vars = { MANIFEST: plan.delta, DIGEST: m.digest, ROOT_MODE: rootMode }
      const fin = run(userland, T, 'fast_finish r2.tok r1', vars)
      expect(fin.reply.error?.message).toMatch(/digest differs/)
      expect(workFiles(T).filter((f) => f.endsWith('.offer') || f.endsWith('.ofc'))).toEqual([])
      // The next prepare describes r1 afresh: b is sent; with shared paths, publish keeps no offer
      // (they change the release after its record is taken: the next walk is never the record).
      run(userland, T, 'rm -rf "$D/incoming/r2.tok" && manifest_discard r2.tok')
      const again = run(userland, T, 'fast_offer r1', { INCOMING: 'r3.tok' })
      const plan3 = planFast(m, readOffer(again.reply))
      expect(plan3.send).toEqual(['b'])
      sendInto(`${T}/.deploy/incoming/r3.tok`, src, plan3.send)
      const [watch] = ways(userland)
      const fin3 = run(
        userland,
        T,
        'fast_finish r3.tok r1',
        { ...vars, MANIFEST: plan3.delta, SHARED: 'uploads' },
        watch?.dir,
      )
      expect([fin3.stderr, fin3.reply.error]).toEqual(['', undefined])
      expect(watch?.log()).not.toMatch(/plain=32768/)
      expect(workFiles(T).filter((f) => f.endsWith('.ofc'))).toEqual([])
    },
  )

  it.skipIf(skip)('keeps no offer of a release it refused to finish', async () => {
    const { T, text, rootMode, plan } = await offeredAsIs(userland)
    // A kept file replaced on the server while the deploy ran: refused after the offer began.
    rmSync(`${T}/.deploy/incoming/r2.tok/a`)
    writeFileSync(`${T}/.deploy/incoming/r2.tok/a`, 'aaa\n')
    const [watch] = ways(userland)
    const fin = run(
      userland,
      T,
      'fast_finish r2.tok r1',
      { MANIFEST: plan.delta, DIGEST: manifestDigest(text), ROOT_MODE: rootMode },
      watch?.dir,
    )
    expect(fin.reply.error?.message).toMatch(/changed on the server while this deploy ran: a/)
    // The offer was being kept beside the check (it ran), and went with the refusal.
    expect(watch?.log()).toMatch(/plain=32768/)
    expect(workFiles(T).filter((f) => f.includes('.ofc'))).toEqual([])
  })

  it.skipIf(skip)('trusts no record of another format, even one whose lines match the tree', async () => {
    const { T } = await target(userland)
    const rec = `${T}/.deploy/manifests/r1.stat`
    writeFileSync(rec, readFileSync(rec, 'utf8').replace(/^rad-stat 1\n/, 'rad-stat 2\n'))
    const r = run(userland, T, 'fast_offer r1', { INCOMING: 'r6.tok' })
    expect(r.reply.values.get('fast')).toEqual(['untrusted'])
    expect(existsSync(`${T}/.deploy/incoming/r6.tok`)).toBe(false)
  })

  it.skipIf(skip)('steps aside without a trust record', async () => {
    const { T } = await target(userland)
    run(userland, T, 'rm -f "$D/manifests/r1.stat"')
    const r = run(userland, T, 'fast_offer r1 || say fell-back', { INCOMING: 'r4.tok' })
    expect(r.reply.values.get('fast')).toEqual(['no-manifest'])
    expect(r.reply.values.has('fell-back')).toBe(true)
    expect(existsSync(`${T}/.deploy/incoming/r4.tok`)).toBe(false)
  })
})
