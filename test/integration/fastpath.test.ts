/**
 * The fast path (a manifest per release, unchanged files hard-linked on the server in prepare,
 * rsync for the rest) against the checksum path (RAD_FAST_PATH=0: rsync -c --link-dest of the
 * whole build): the same series of builds deployed by both to two targets must give the same
 * releases — the same manifest of the tree on the server, and the same files hard links to the
 * live release — and release-digest must be the digest of what is live.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildManifest, digestOf, type Entry, formatManifest } from '../../src/manifest.js'
import { expectOk } from '../support/expect.js'
import { type ActionRun, linkTarget, writeSite } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { tmp, newTarget, deploy } = useSshd()

/** The manifest of a tree on the server as it is (modes as they are: no --chmod to apply). */
const treeManifest = (dir: string) => buildManifest(dir, { chmod: '' })

/** Paths of regular files of release `id` that share their inode with the same path in `prev`. */
function linkedTo(target: string, id: string, prev: string, entries: Entry[]): string[] {
  return entries
    .filter((e) => e.type === 'f')
    .filter((e) => {
      try {
        return (
          lstatSync(path.join(target, 'releases', prev, e.path)).ino ===
          lstatSync(path.join(target, 'releases', id, e.path)).ino
        )
      } catch {
        return false
      }
    })
    .map((e) => e.path)
}

/** Every mtime in the build new, as after a CI rebuild. */
function touchAll(dir: string): void {
  execFileSync('find', [dir, '-exec', 'touch', '-h', '{}', '+'])
}

interface Pair {
  fast: string
  slow: string
  src: string
  n: number
}

function pair(): Pair {
  return { fast: newTarget('fast'), slow: newTarget('slow'), src: tmp('radsrc-'), n: 0 }
}

/**
 * Deploys the build to both targets and checks they got the same release: same tree, same links
 * to the previous release. Returns the fast target's run.
 */
async function both(
  p: Pair,
  inputs: Record<string, string> = {},
): Promise<{ fast: ActionRun; slow: ActionRun }> {
  p.n++
  const id = `r${p.n}`
  touchAll(p.src)
  const fast = await deploy(p.fast, p.src, { 'release-id': id, ...inputs })
  expectOk(fast)
  const slow = await deploy(p.slow, p.src, { 'release-id': id, ...inputs }, { env: { RAD_FAST_PATH: '0' } })
  expectOk(slow)
  expect(slow.stdout).not.toContain('linked on the server from the manifest')
  const want = await treeManifest(path.join(p.slow, 'releases', id))
  const got = await treeManifest(path.join(p.fast, 'releases', id))
  expect(formatManifest(got)).toBe(formatManifest(want))
  // The digest is of what went live, recomputed from the tree on the server (shared links aside).
  expect(fast.outputs['release-digest']).toBe(slow.outputs['release-digest'])
  if (!inputs.shared) expect(fast.outputs['release-digest']).toBe(digestOf(got))
  if (p.n > 1) {
    const prev = `r${p.n - 1}`
    expect(linkedTo(p.fast, id, prev, got)).toEqual(linkedTo(p.slow, id, prev, want))
    expect(fast.outputs['files-linked']).toBe(slow.outputs['files-linked'])
  }
  expect(linkTarget(`${p.fast}/current`)).toBe(`releases/${id}`)
  return { fast, slow }
}

const fastUsed = (r: ActionRun) => r.stdout.includes('linked on the server from the manifest')

describe('fast path and checksum path give the same releases', () => {
  it('over a series of builds: changes, renames, modes, deletions, symlinks, empty dirs, type changes', async () => {
    const p = pair()
    writeSite(p.src, {
      'index.html': '<h1>one</h1>\n',
      'a/b.txt': 'bee\n',
      'a/c.txt': 'sea\n',
      'd2/x': 'x\n',
      fd: 'a file that becomes a directory\n',
      'df/inner': 'a directory that becomes a file\n',
      'bin.sh': '#!/bin/sh\necho hi\n',
      same1: 'same content\n',
      same2: 'same content\n',
    })
    chmodSync(path.join(p.src, 'bin.sh'), 0o755)
    mkdirSync(path.join(p.src, 'empty'))
    symlinkSync('index.html', path.join(p.src, 'l'))
    const first = await both(p)
    expect(first.fast.outputs['release-digest']).toMatch(/^sha256:[0-9a-f]{64}$/)
    // The log line of the release carries it.
    expect(readFileSync(`${p.fast}/.deploy/log`, 'utf8')).toContain(
      `"digest":"${first.fast.outputs['release-digest']}"`,
    )

    // No change but every mtime: everything linked, nothing to send.
    const same = await both(p)
    expect(fastUsed(same.fast)).toBe(true)
    expect(same.fast.outputs['files-transferred']).toBe('0')
    expect(same.fast.outputs['files-linked']).toBe('9')
    expect(same.fast.outputs['release-digest']).toBe(first.fast.outputs['release-digest'])

    writeFileSync(path.join(p.src, 'a/b.txt'), 'bee, changed\n')
    renameSync(path.join(p.src, 'a/c.txt'), path.join(p.src, 'a/c-renamed.txt'))
    chmodSync(path.join(p.src, 'bin.sh'), 0o644)
    rmSync(path.join(p.src, 'd2/x'))
    rmSync(path.join(p.src, 'l'))
    symlinkSync('a/b.txt', path.join(p.src, 'l'))
    mkdirSync(path.join(p.src, 'empty2/deeper'), { recursive: true })
    rmSync(path.join(p.src, 'fd'))
    writeSite(p.src, { 'fd/now-inside': 'inside\n' })
    rmSync(path.join(p.src, 'df'), { recursive: true })
    writeFileSync(path.join(p.src, 'df'), 'now a file\n')
    chmodSync(path.join(p.src, 'empty'), 0o700)
    const changed = await both(p)
    expect(fastUsed(changed.fast)).toBe(true)
    expect(changed.fast.outputs['release-digest']).not.toBe(first.fast.outputs['release-digest'])
  })

  it('a live file changed by hand on the server is sent again, not linked', async () => {
    const p = pair()
    writeSite(p.src, { 'index.html': 'original\n', 'other.html': 'other one\n', 'keep.html': 'keep\n' })
    await both(p)
    for (const t of [p.fast, p.slow]) {
      const live = `${t}/releases/r1`
      // Same size, new mtime.
      writeFileSync(`${live}/index.html`, 'ORIGINAL\n')
      // Same size, a new inode, the mtime put back: the inode tells.
      const before = statSync(`${live}/other.html`)
      writeFileSync(`${live}/other.tmp`, 'OTHER ONE\n')
      renameSync(`${live}/other.tmp`, `${live}/other.html`)
      utimesSync(`${live}/other.html`, before.atime, before.mtime)
      // By the deploy user, as a person fixing the site would (root's files cannot be hard-linked
      // by another user where fs.protected_hardlinks is on, and the fast path would just step aside).
      chownSync(`${live}/other.html`, before.uid, before.gid)
      // (Written in place with the same size and the mtime put back, a file keeps every field the
      // trust record holds: that edit is not seen. See src/remote-manifest.ts.)
    }
    const r = await both(p)
    expect(fastUsed(r.fast)).toBe(true)
    expect(readFileSync(`${p.fast}/current/index.html`, 'utf8')).toBe('original\n')
    expect(readFileSync(`${p.fast}/current/other.html`, 'utf8')).toBe('other one\n')
    expect(r.fast.outputs['files-linked']).toBe('1')
  })

  it('hostile names (a name with a newline: the checksum path, no trust record)', async () => {
    const p = pair()
    const names = [
      ' leading space',
      'trailing space ',
      '-rf',
      '--delete',
      'back\\slash\\n.txt',
      'tab\there.txt',
      'ünïcödé ☃.txt',
      '#hash',
      '@@rad send 0',
      'dir with space/-e x',
    ]
    const files: Record<string, string> = { 'index.html': 'hi\n' }
    for (const [i, n] of names.entries()) files[n] = `file ${i}\n`
    writeSite(p.src, files)
    await both(p)
    writeFileSync(path.join(p.src, '-rf'), 'changed\n')
    const r = await both(p)
    expect(fastUsed(r.fast)).toBe(true)
    expect(r.fast.outputs['files-transferred']).toBe('1')
    writeFileSync(path.join(p.src, 'new\nline.txt'), 'newline\n')
    await both(p)
    writeFileSync(path.join(p.src, '#hash'), 'changed\n')
    const after = await both(p)
    expect(fastUsed(after.fast)).toBe(false)
  })

  it('exclude and filter rules, and shared paths, select the same files', async () => {
    const p = pair()
    writeSite(p.src, {
      'index.html': 'hi\n',
      'app.js': 'js\n',
      'app.js.map': 'map\n',
      'deep/x.map': 'map\n',
      'deep/keep.txt': 'keep\n',
      'secret/.env': 'no\n',
      'uploads/seed.txt': 'seed\n',
    })
    const inputs = { exclude: '*.map', filter: '- /secret/', shared: 'uploads' }
    await both(p, inputs)
    writeFileSync(path.join(p.src, 'app.js'), 'js changed\n')
    writeFileSync(path.join(p.src, 'deep/y.map'), 'map\n')
    const r = await both(p, inputs)
    expect(fastUsed(r.fast)).toBe(true)
    expect(r.fast.outputs['files-transferred']).toBe('1')
  })

  it('a site big enough for a kept offer: the next deploys send it, or check entry by entry after a hand edit', async () => {
    const p = pair()
    // Long names, so the offer is over the 32 kB that goes as plain lines (then publish keeps it).
    const files: Record<string, string> = {}
    for (let i = 0; i < 600; i++)
      files[`pages/section-${i % 7}/page-${'x'.repeat(40)}-${i}.html`] = `page ${i}\n`
    writeSite(p.src, files)
    const offerOf = (id: string) => `${p.fast}/.deploy/manifests/${id}.offer`
    await both(p)
    // r2: described by AWK_JOIN; its publish keeps its offer, named by its digest.
    const r2 = await both(p)
    expect(fastUsed(r2.fast)).toBe(true)
    expect(r2.fast.outputs['files-transferred']).toBe('0')
    expect(readFileSync(offerOf('r2'), 'utf8').split('\n')[0]).toBe(
      `rad-offer 1 ${r2.fast.outputs['release-digest']}`,
    )
    // r3: the kept offer goes as it is; a change, a new file and a deletion arrive as the checksum path has them.
    writeFileSync(path.join(p.src, `pages/section-1/page-${'x'.repeat(40)}-1.html`), 'page one, changed\n')
    writeFileSync(path.join(p.src, 'pages/new.html'), 'new\n')
    rmSync(path.join(p.src, `pages/section-2/page-${'x'.repeat(40)}-2.html`))
    const r3 = await both(p)
    expect(fastUsed(r3.fast)).toBe(true)
    expect(r3.fast.outputs['files-transferred']).toBe('2')
    expect(r3.fast.outputs['files-linked']).toBe('598')
    expect(readFileSync(offerOf('r3'), 'utf8').split('\n')[0]).toBe(
      `rad-offer 1 ${r3.fast.outputs['release-digest']}`,
    )
    // r4: a live file edited by hand (so the walk is not its record): checked entry by entry, sent again.
    const edited = `pages/section-3/page-${'x'.repeat(40)}-3.html`
    for (const t of [p.fast, p.slow]) writeFileSync(`${t}/releases/r3/${edited}`, 'PAGE 3\n')
    const r4 = await both(p)
    expect(fastUsed(r4.fast)).toBe(true)
    expect(r4.fast.outputs['files-transferred']).toBe('1')
    expect(readFileSync(`${p.fast}/current/${edited}`, 'utf8')).toBe('page 3\n')
  })
})
