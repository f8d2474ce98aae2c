/**
 * The report is the truth (issue 10, §2, §3, §6, §10): outputs name the release `current` serves
 * after a failure, a dry run, a revert and a rollback; files-linked is the number of files that
 * really share an inode with the live release (also on a split filesystem); setuid/setgid bits
 * never reach the server unless chmod asks; special files are named; an empty release is refused.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOk } from '../support/expect.js'
import {
  type ActionRun,
  baseInputs,
  errorText,
  linkTarget,
  listDir,
  runAction,
  type Sshd,
  startSshd,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, newTarget, sourceDir, command } = useSshd()

function site(version: string, files = 20): string {
  const content: Record<string, string> = { 'index.html': `<h1>${version}</h1>\n` }
  for (let i = 0; i < files; i++) content[`assets/f${i}.txt`] = `same in every version ${i}\n`
  return sourceDir(content)
}

/** The bundle (main step only) deploying src to target on `s` (the file's sshd unless given). */
function run(target: string, src: string, extra: Record<string, string> = {}, s = sshd): Promise<ActionRun> {
  return runAction({ ...baseInputs(s, target, src), ...extra }, { post: false })
}

async function deployOk(target: string, id: string, src = site(id), s = sshd): Promise<ActionRun> {
  const r = await run(target, src, { 'release-id': id }, s)
  expectOk(r)
  return r
}

function hosts(r: ActionRun): Record<string, unknown>[] {
  return JSON.parse(r.outputs.hosts ?? '[]')
}

/** What a user checks: release-id is what current serves, release-path exists and is it. */
function expectOutputsNameLive(r: ActionRun, target: string, live: string): void {
  expect(linkTarget(`${target}/current`)).toBe(`releases/${live}`)
  expect(r.outputs['release-id']).toBe(live)
  expect(r.outputs['release-path']).toBe(`${target}/releases/${live}`)
  expect(statSync(r.outputs['release-path'] as string).isDirectory()).toBe(true)
  expect(statSync(r.outputs['release-path'] as string).ino).toBe(statSync(`${target}/current`).ino)
  expect(hosts(r)[0]).toMatchObject({ 'release-id': live, 'live-known': true })
  // The summary's "live now" column (third cell of the host row), with what was attempted after it.
  expect(r.summary).toMatch(
    new RegExp(`<tr><td>radtest@[^<]*</td><td>[^<]*</td><td>${live}( \\([^<]*\\))?</td>`),
  )
  expect(r.summary).toMatch(new RegExp(`<tr><td>live now</td><td>${live}</td></tr>`))
}

/** Regular files under `dir` (relative path → dev:ino), symlinks not followed. */
function inodes(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const name of readdirSync(path.join(dir, rel))) {
    const p = rel ? `${rel}/${name}` : name
    const st = lstatSync(path.join(dir, p))
    if (st.isDirectory()) for (const [k, v] of inodes(dir, p)) out.set(k, v)
    else if (st.isFile()) out.set(p, `${st.dev}:${st.ino}`)
  }
  return out
}

/** Files of `release` that share an inode with a file of `live`: computed here, not by the tool. */
function sharedInodes(release: string, live: string): number {
  const liveSet = new Set(inodes(live).values())
  return [...inodes(release).values()].filter((i) => liveSet.has(i)).length
}

describe('outputs name the release current serves', () => {
  it('after a failed deploy (before-switch fails): the live one, an existing release-path; attempted named', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const r = await run(target, site('r2'), { 'release-id': 'r2', 'before-switch': 'exit 4' })
    expect(r.code).not.toBe(0)
    expectOutputsNameLive(r, target, 'r1')
    expect(hosts(r)[0]).toMatchObject({ attempted: 'r2', status: 'failed' })
    expect(r.summary).toMatch(/<td>r1 \(r2 is not live\)<\/td>/) // live now, attempted
    expect(r.summary).toMatch(/<tr><td>attempted<\/td><td>r2<\/td><\/tr>/)
    expect(existsSync(`${target}/releases/r2`)).toBe(false)
  })

  it('after a dry run: the live one (the dry run changes nothing)', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const r = await run(target, site('r2'), { 'release-id': 'r2', 'dry-run': 'true' })
    expect(errorText(r)).toBe('')
    expectOutputsNameLive(r, target, 'r1')
    expect(hosts(r)[0]).toMatchObject({ attempted: 'r2', status: 'dry-run' })
  })

  it('after a revert (after-switch fails): the release switched back to', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const r = await run(target, site('r2'), { 'release-id': 'r2', 'after-switch': 'exit 3' })
    expect(r.code).not.toBe(0)
    expect(r.outputs['rolled-back']).toBe('true')
    expectOutputsNameLive(r, target, 'r1')
    expect(hosts(r)[0]).toMatchObject({ attempted: 'r2', status: 'reverted' })
  })

  it('after a rollback, and after a refused one', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    await deployOk(target, 'r2')
    const back = await command(target, 'rollback', {}, { post: false })
    expect(back.code).toBe(0)
    expectOutputsNameLive(back, target, 'r1')
    const refused = await command(target, 'rollback', { 'rollback-to': 'nope' }, { post: false })
    expect(refused.code).not.toBe(0)
    expectOutputsNameLive(refused, target, 'r1')
  })
})

describe('files-linked is counted on the server', () => {
  it('equals the files that share an inode with the live release', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    // r2: index.html differs, 20 assets unchanged, 3 new files.
    const src = site('r2')
    writeSite(src, { 'new/a.txt': 'a\n', 'new/b.txt': 'b\n', 'new/c.txt': 'c\n' })
    const r = await deployOk(target, 'r2', src)
    const real = sharedInodes(`${target}/releases/r2`, `${target}/releases/r1`)
    expect(real).toBe(20)
    expect(r.outputs['files-linked']).toBe(String(real))
    expect(hosts(r)[0]?.['files-linked']).toBe(real)
    expect(r.stdout).toMatch(/20 files hard-linked to the previous release \(counted on the server\)/)
  })

  describe('with releases/ on another filesystem than .deploy/incoming', () => {
    let split: Sshd
    let shm: string
    let target: string
    beforeAll(async () => {
      // The sshd (and every session) sees a tmpfs directory mounted on TARGET/releases.
      target = newTarget()
      const root = path.dirname(target)
      mkdirSync(`${target}/releases`, { recursive: true })
      execFileSync('chown', ['-R', `${sshd.user.uid}:${sshd.user.gid}`, target])
      shm = mkdtempSync('/dev/shm/radsplit-')
      chmodSync(shm, 0o755)
      execFileSync('chown', [`${sshd.user.uid}:${sshd.user.gid}`, shm])
      expect(statSync(shm).dev).not.toBe(statSync(root).dev)
      split = await startSshd({ bind: { source: shm, target: `${target}/releases` } })
    })
    afterAll(async () => {
      await split?.stop()
      rmSync(shm, { recursive: true, force: true })
    })

    it('reports 0 files linked (the truth: 0 share an inode) and says why', async () => {
      const src = site('s1')
      await deployOk(target, 's1', src, split)
      const r = await deployOk(target, 's2', src, split)
      // releases/ as the server sees it is the tmpfs directory.
      const real = sharedInodes(`${shm}/s2`, `${shm}/s1`)
      expect(real).toBe(0)
      expect(r.outputs['files-linked']).toBe('0')
      expect(hosts(r)[0]?.['files-linked']).toBe(0)
      expect(r.stdout).toMatch(
        /::warning::.*releases and .*\.deploy\/incoming are on different filesystems.*hard links are impossible/,
      )
      // A dry run predicts the same, with the same explanation.
      const dry = await run(target, src, { 'release-id': 's3', 'dry-run': 'true' }, split)
      expect(dry.outputs['files-linked']).toBe('0')
      expect(dry.stdout).toMatch(/::warning::.*different filesystems/)
    })
  })
})

describe('permissions and special files', () => {
  it('setuid and setgid bits of the build never reach the server unless chmod asks', async () => {
    const target = newTarget()
    const src = site('p1', 1)
    writeSite(src, { 'bin/tool': '#!/bin/sh\n', 'sgid/x': 'x\n' })
    chmodSync(`${src}/bin/tool`, 0o6755)
    chmodSync(`${src}/sgid`, 0o2755)
    await deployOk(target, 'p1', src)
    const mode = (p: string) => lstatSync(`${target}/releases/p1/${p}`).mode & 0o7777
    expect(mode('bin/tool').toString(8)).toBe('755')
    expect(mode('sgid').toString(8)).toBe('755')
    const asked = await run(target, src, { 'release-id': 'p2', chmod: 'D755,F4755' })
    expect(asked.code).toBe(0)
    expect((lstatSync(`${target}/releases/p2/bin/tool`).mode & 0o7777).toString(8)).toBe('4755')
  })

  it('a FIFO in the build is named in a warning', async () => {
    const target = newTarget()
    const src = site('f1', 1)
    mkdirSync(`${src}/run`)
    execFileSync('mkfifo', [`${src}/run/app.fifo`])
    const r = await deployOk(target, 'f1', src)
    expect(r.stdout).toMatch(/::warning::.*1 special file.*FIFO "run\/app.fifo"/)
    expect(listDir(`${target}/releases/f1/run`)).toEqual([])
  })
})

describe('an empty release is refused unless allow-empty', () => {
  it('an empty build: refused before connecting, naming source; allowed with allow-empty', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const empty = tmp('radsrc-')
    mkdirSync(`${empty}/dist/css`, { recursive: true })
    const c0 = sshd.connections()
    const r = await run(target, empty, { 'release-id': 'e1' })
    expect(r.code).not.toBe(0)
    expect(errorText(r)).toMatch(/Input 'source'.*holds no files/s)
    expect(errorText(r)).toMatch(/allow-empty: true/)
    expect(sshd.connections() - c0).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    const ok = await run(target, empty, { 'release-id': 'e2', 'allow-empty': 'true' })
    expect(errorText(ok)).toBe('')
    expect(linkTarget(`${target}/current`)).toBe('releases/e2')
  })

  it('exclude that leaves nothing: refused naming exclude, nothing changes; allowed with allow-empty', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const src = site('x1')
    for (const dry of ['true', 'false']) {
      const r = await run(target, src, { 'release-id': 'x1', exclude: '*.txt\n*.html', 'dry-run': dry })
      expect(r.code).not.toBe(0)
      expect(errorText(r)).toMatch(/the release would be empty: exclude leave/)
      expect(errorText(r)).toMatch(/allow-empty: true/)
      expect(linkTarget(`${target}/current`)).toBe('releases/r1')
      expect(listDir(`${target}/releases`)).toEqual(['r1'])
      expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
      expect(r.outputs['release-id']).toBe('r1')
    }
    const filtered = await run(target, src, { 'release-id': 'x2', filter: '- *' })
    expect(errorText(filtered)).toMatch(/the release would be empty: filter leave/)
    const ok = await run(target, src, { 'release-id': 'x3', exclude: '*.txt\n*.html', 'allow-empty': 'true' })
    expect(errorText(ok)).toBe('')
    expect(linkTarget(`${target}/current`)).toBe('releases/x3')
  })
})
