/**
 * The server side of the fast path (src/remote-manifest.ts) run by a real sh on local directories,
 * with the system's userland (GNU find -printf, mawk or gawk) and with busybox only (its sh, awk,
 * find without -printf, stat -c): the trust record, and which entries fast_start links or sends.
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildManifest, formatManifest } from '../../src/manifest.js'
import { shAssignments } from '../../src/quote.js'
import { parseReply } from '../../src/remote.js'
import { LIB } from '../../src/remote-lib.js'
import { MANIFEST_LIB } from '../../src/remote-manifest.js'
import { tempDir } from './helpers.js'

const BUSYBOX = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim()
const hasBusybox = BUSYBOX !== ''

/** A PATH of busybox applets only: no GNU tool can stand in for a missing busybox feature. */
function busyboxPath(): string {
  const dir = tempDir('radbb-')
  const list = spawnSync('busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
  for (const a of list) symlinkSync(BUSYBOX, path.join(dir, a))
  return dir
}

function run(userland: 'system' | 'busybox', T: string, body: string, vars: Record<string, string> = {}) {
  const script = `${shAssignments({ T, LINK: 'current', TOKEN: 'tok', LEFT: 600, ...vars })}\n${LIB}\n${MANIFEST_LIB}\n${body}\n`
  const env = userland === 'busybox' ? { PATH: busyboxPath() } : { PATH: process.env.PATH }
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
async function target(userland: 'system' | 'busybox') {
  const T = tempDir('radfast-')
  const r1 = `${T}/releases/r1`
  mkdirSync(`${r1}/d`, { recursive: true })
  mkdirSync(`${T}/.deploy/manifests`, { recursive: true })
  mkdirSync(`${T}/.deploy/incoming`, { recursive: true })
  mkdirSync(`${T}/.deploy/lock`)
  writeFileSync(`${T}/.deploy/lock/holder`, 'tok host 0 99999999999 x\n')
  for (const [p, c] of Object.entries({ a: 'aaa\n', b: 'bbb\n', 'd/c': 'ccc\n', '-rf x\\y': 'odd\n' }))
    writeFileSync(`${r1}/${p}`, c)
  symlinkSync('a', `${r1}/l`)
  symlinkSync('releases/r1', `${T}/current`)
  writeFileSync(`${T}/.deploy/manifests/.in.r1.tok`, formatManifest(await buildManifest(r1, { chmod: '' })))
  const pub = run(userland, T, 'manifest_publish r1.tok r1')
  expect(pub.stderr).toBe('')
  return { T, r1 }
}

/** The next build: b changed, n new, the rest as in r1; returns its entries' paths by index. */
async function nextBuild(T: string, name: string): Promise<string[]> {
  const src = tempDir('radnext-')
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
  writeFileSync(`${T}/.deploy/manifests/.in.${name}`, formatManifest(entries))
  return entries.map((e) => e.path)
}

const sent = (reply: ReturnType<typeof parseReply>, paths: string[]) =>
  (reply.values.get('send') ?? [])
    .join(' ')
    .split(' ')
    .filter(Boolean)
    .map((i) => paths[Number(i)])
    .sort()

describe.each(['system', 'busybox'] as const)('fast path on the server (%s userland)', (userland) => {
  it.skipIf(userland === 'busybox' && !hasBusybox)('records every entry at publish', async () => {
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

  it.skipIf(userland === 'busybox' && !hasBusybox)(
    'links what is unchanged and trusted, sends the rest, removes what changed',
    async () => {
      const { T, r1 } = await target(userland)
      const paths = await nextBuild(T, 'r2.tok')
      const root = (lstatSync(r1).mode & 0o7777).toString(8).padStart(4, '0')
      const r = run(userland, T, 'fast_start r1', { INCOMING: 'r2.tok', ROOT_MODE: root })
      expect(r.stderr).toBe('')
      expect(r.reply.values.get('fast')).toEqual(['ok'])
      expect(sent(r.reply, paths)).toEqual(['b', 'n'])
      expect(r.reply.values.get('fast-linked')).toEqual(['3'])
      expect(r.reply.values.get('send-root')).toBeUndefined()
      const r2 = `${T}/.deploy/incoming/r2.tok`
      for (const p of ['a', 'd/c', '-rf x\\y', 'l'])
        expect(lstatSync(`${r2}/${p}`).ino).toBe(lstatSync(`${r1}/${p}`).ino)
      expect(existsSync(`${r2}/b`)).toBe(false)
      expect(readFileSync(`${r1}/b`, 'utf8')).toBe('bbb\n')
      // No work file is left behind.
      expect(
        spawnSync('ls', ['-A', `${T}/.deploy/manifests`], { encoding: 'utf8' })
          .stdout.split('\n')
          .sort(),
      ).toEqual(['', '.in.r2.tok', 'r1', 'r1.stat'])
    },
  )

  it.skipIf(userland === 'busybox' && !hasBusybox)(
    'sends a live file whose mtime changed since publish',
    async () => {
      const { T, r1 } = await target(userland)
      const paths = await nextBuild(T, 'r3.tok')
      writeFileSync(`${r1}/a`, 'AAA\n')
      utimesSync(`${r1}/a`, new Date(), new Date(Date.now() + 5000))
      const r = run(userland, T, 'fast_start r1', { INCOMING: 'r3.tok', ROOT_MODE: '0000' })
      expect(sent(r.reply, paths)).toEqual(['a', 'b', 'n'])
      expect(r.reply.values.get('send-root')).toEqual([''])
      expect(existsSync(`${T}/.deploy/incoming/r3.tok/a`)).toBe(false)
    },
  )

  it.skipIf(userland === 'busybox' && !hasBusybox)('steps aside without a trust record', async () => {
    const { T } = await target(userland)
    await nextBuild(T, 'r4.tok')
    run(userland, T, 'rm -f "$D/manifests/r1.stat"')
    const r = run(userland, T, 'fast_start r1 || say fell-back', { INCOMING: 'r4.tok', ROOT_MODE: '0755' })
    expect(r.reply.values.get('fast')).toEqual(['no-manifest'])
    expect(r.reply.values.has('fell-back')).toBe(true)
    expect(existsSync(`${T}/.deploy/incoming/r4.tok`)).toBe(false)
  })
})
