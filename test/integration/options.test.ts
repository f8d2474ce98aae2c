/**
 * shared paths, permissions, exclude/filter, dry run, the job summary and the error hints for a
 * chatty shell startup file and a full disk, against a real sshd.
 */
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { bytes } from '../../src/format.js'
import { expectFailed, expectOk } from '../support/expect.js'
import {
  type ActionRun,
  baseInputs,
  inode,
  linkTarget,
  listDir,
  pathWithout,
  readTree,
  runAction,
  sh,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, removeAfter, newTarget, sourceDir: source, deploy } = useSshd()

function mode(p: string): number {
  return lstatSync(p).mode & 0o7777
}

/** Every path under dir (relative), with lstat, for "nothing changed" and mode checks. */
function walk(dir: string, prefix = ''): { rel: string; abs: string }[] {
  const out: { rel: string; abs: string }[] = []
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name)
    const rel = prefix ? `${prefix}/${name}` : name
    out.push({ rel, abs })
    if (lstatSync(abs).isDirectory()) out.push(...walk(abs, rel))
  }
  return out
}

/** Type, mode, inode, size, link count, mtime and ctime of everything under dir (and dir itself). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const { rel, abs } of [{ rel: '.', abs: dir }, ...walk(dir)]) {
    const st = lstatSync(abs)
    const link = st.isSymbolicLink() ? ` -> ${linkTarget(abs)}` : ''
    out[rel] =
      `${st.mode.toString(8)} ino=${st.ino} n=${st.nlink} ${st.size}B m=${st.mtimeMs} c=${st.ctimeMs}${link}`
  }
  return out
}

function chownTree(p: string): void {
  sh('chown', ['-R', `${sshd.user.uid}:${sshd.user.gid}`, p])
}

describe('shared paths', () => {
  it('seeded from the first build, relative links in every release, user files survive deploys and a rollback', async () => {
    const target = newTarget()
    const inputs = { shared: 'storage\npublic/uploads/' }
    const r1 = await deploy(
      target,
      source({
        'index.html': '<h1>v1</h1>\n',
        'public/app.css': 'body {}\n',
        'storage/seed.txt': 'seed from the build\n',
        'storage/cache/empty.txt': '',
      }),
      { ...inputs, 'release-id': 'r1' },
    )
    expectOk(r1)
    // The first build that brings a shared path seeds it; a path it lacks starts empty.
    expect(readTree(`${target}/shared`)).toEqual({
      'storage/seed.txt': 'seed from the build\n',
      'storage/cache/empty.txt': '',
    })
    expect(statSync(`${target}/shared/public/uploads`).isDirectory()).toBe(true)
    expect(linkTarget(`${target}/releases/r1/storage`)).toBe('../../shared/storage')
    expect(linkTarget(`${target}/releases/r1/public/uploads`)).toBe('../../../shared/public/uploads')
    expect(readFileSync(`${target}/current/storage/seed.txt`, 'utf8')).toBe('seed from the build\n')

    // The application writes: an upload, and a change to the seeded file.
    writeFileSync(`${target}/shared/public/uploads/avatar.png`, 'a user upload\n')
    writeFileSync(`${target}/shared/storage/seed.txt`, 'changed by the app\n')
    chownTree(`${target}/shared`)

    const big = randomBytes(100_000)
    const r2 = await deploy(
      target,
      source({
        'index.html': '<h1>v2</h1>\n',
        'public/app.css': 'body {}\n',
        'storage/seed.txt': 'seed from a later build\n',
        'storage/big.bin': big,
        'public/uploads/from-build.txt': 'not wanted\n',
      }),
      { ...inputs, 'release-id': 'r2' },
    )
    expectOk(r2)
    // Nothing under a shared path was uploaded again: the server's data wins.
    expect(Number(r2.outputs['files-transferred'])).toBe(1)
    expect(Number(r2.outputs['bytes-sent'])).toBeLessThan(10_000)
    expect(readTree(`${target}/shared`)).toEqual({
      'public/uploads/avatar.png': 'a user upload\n',
      'storage/seed.txt': 'changed by the app\n',
      'storage/cache/empty.txt': '',
    })
    expect(linkTarget(`${target}/releases/r2/storage`)).toBe('../../shared/storage')
    expect(linkTarget(`${target}/releases/r2/public/uploads`)).toBe('../../../shared/public/uploads')
    expect(readFileSync(`${target}/current/public/uploads/avatar.png`, 'utf8')).toBe('a user upload\n')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v2</h1>\n')

    const back = await runAction({ ...baseInputs(sshd, target, ''), command: 'rollback' })
    expectOk(back)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v1</h1>\n')
    expect(readFileSync(`${target}/current/public/uploads/avatar.png`, 'utf8')).toBe('a user upload\n')
    expect(readFileSync(`${target}/current/storage/seed.txt`, 'utf8')).toBe('changed by the app\n')
  })
})

describe('permissions and filters', () => {
  it('default modes are readable by all and writable by the owner only; a custom chmod applies; old releases keep their modes', async () => {
    const target = newTarget()
    const src = source({
      'index.html': '<h1>v1</h1>\n',
      'run.sh': '#!/bin/sh\necho hi\n',
      'open.sh': '#!/bin/sh\necho open\n',
      'secret.txt': 'owner only in the build\n',
      'wide/file.txt': 'world-writable in the build\n',
      'private/file.txt': 'private dir in the build\n',
    })
    chmodSync(`${src}/index.html`, 0o666)
    chmodSync(`${src}/run.sh`, 0o755)
    chmodSync(`${src}/open.sh`, 0o777)
    chmodSync(`${src}/secret.txt`, 0o600)
    chmodSync(`${src}/wide`, 0o777)
    chmodSync(`${src}/wide/file.txt`, 0o777)
    chmodSync(`${src}/private`, 0o700)
    chmodSync(`${src}/private/file.txt`, 0o600)

    expectOk(await deploy(target, src, { 'release-id': 'r1' }))
    const r1 = `${target}/releases/r1`
    expect(mode(r1)).toBe(0o755)
    expect(mode(`${r1}/index.html`)).toBe(0o644)
    expect(mode(`${r1}/run.sh`)).toBe(0o755)
    expect(mode(`${r1}/open.sh`)).toBe(0o755)
    expect(mode(`${r1}/secret.txt`)).toBe(0o644)
    expect(mode(`${r1}/wide`)).toBe(0o755)
    expect(mode(`${r1}/wide/file.txt`)).toBe(0o755)
    expect(mode(`${r1}/private`)).toBe(0o755)
    expect(mode(`${r1}/private/file.txt`)).toBe(0o644)
    for (const { rel, abs } of walk(r1)) expect(mode(abs) & 0o022, rel).toBe(0)
    const r1Modes = Object.fromEntries(walk(r1).map(({ rel, abs }) => [rel, `${mode(abs)} ${inode(abs)}`]))

    // Same content, other modes: the new release gets its own inodes, the old ones are not touched.
    expectOk(await deploy(target, src, { 'release-id': 'r2', chmod: 'D750,F640' }))
    const r2 = `${target}/releases/r2`
    for (const { rel, abs } of walk(r2)) {
      const st = lstatSync(abs)
      expect(mode(abs), rel).toBe(st.isDirectory() ? 0o750 : 0o640)
      if (st.isFile()) expect(inode(abs), rel).not.toBe(inode(`${r1}/${rel}`))
    }
    expect(mode(r2)).toBe(0o750)
    expect(Object.fromEntries(walk(r1).map(({ rel, abs }) => [rel, `${mode(abs)} ${inode(abs)}`]))).toEqual(
      r1Modes,
    )
    expect(mode(r1)).toBe(0o755)
  })

  it('exclude (several lines, a pattern with a space) and filter rules decide what is uploaded', async () => {
    const target = newTarget()
    const src = source({
      'index.html': 'x\n',
      'debug.log': 'log\n',
      'logs/app.log': 'log\n',
      'my notes.txt': 'private\n',
      'docs/my notes.txt': 'private\n',
      'my notes.txt.bak': 'kept: the pattern matches whole names\n',
      'node_modules/left-pad/index.js': 'x\n',
      'app.js': 'x\n',
      'app.js.map': 'x\n',
      'keep.map': 'kept by a + rule before the - rule\n',
    })
    const run = await deploy(target, src, {
      'release-id': 'r1',
      exclude: '*.log\nmy notes.txt\n\nnode_modules/\n',
      filter: '+ keep.map\n- *.map',
    })
    expectOk(run)
    expect(Object.keys(readTree(`${target}/current`)).sort()).toEqual([
      'app.js',
      'index.html',
      'keep.map',
      'my notes.txt.bak',
    ])
    expect(listDir(`${target}/current/docs`)).toEqual([])
    expect(existsSync(`${target}/current/node_modules`)).toBe(false)
  })
})

describe('dry run', () => {
  it('lists what would be sent, changes nothing on the server, names a lock holder', async () => {
    const target = newTarget()
    const files = { 'index.html': '<h1>v1</h1>\n', 'assets/app.css': 'a {}\n', 'assets/old.js': 'old\n' }
    expectOk(await deploy(target, source(files), { 'release-id': 'r1' }))

    const changed = source({ ...files, 'index.html': '<h1>v2</h1>\n', 'assets/new file.js': 'new\n' })
    rmSync(`${changed}/assets/old.js`)
    const before = snapshot(path.dirname(target))
    const dry = await deploy(target, changed, { 'release-id': 'r2', 'dry-run': 'true' })
    expectOk(dry)
    expect(snapshot(path.dirname(target))).toEqual(before)
    // The itemized list names exactly what would be sent.
    const items = dry.stdout.split('\n').filter((l) => /^[<>ch.*]f\S{9,10} /.test(l))
    expect(items.map((l) => l.slice(l.indexOf(' ') + 1)).sort()).toEqual(['assets/new file.js', 'index.html'])
    expect(dry.stdout).toMatch(/would send 2 of 3 files.*switch current from r1 to releases\/r2/)
    expect(dry.outputs['files-transferred']).toBe('2')
    expect(dry.outputs['files-linked']).toBe('1')
    expect(dry.summary).toContain('Dry run')

    // Locked by another run: the dry run says by whom and leaves the lock alone.
    mkdirSync(`${target}/.deploy/lock`)
    const owner = '{"run":"https://github.com/example/site/actions/runs/77","actor":"alice"}'
    writeFileSync(`${target}/.deploy/lock/owner.json`, `${owner}\n`)
    chownTree(`${target}/.deploy/lock`)
    const lockedBefore = snapshot(path.dirname(target))
    const locked = await deploy(target, changed, { 'release-id': 'r2', 'dry-run': 'true' })
    expectOk(locked)
    const warning = locked.stdout.split('\n').find((l) => l.startsWith('::warning::')) ?? ''
    expect(warning).toMatch(/locked by .*"actor":"alice"/)
    expect(warning).toContain('actions/runs/77')
    expect(snapshot(path.dirname(target))).toEqual(lockedBefore)
    rmSync(`${target}/.deploy/lock`, { recursive: true })

    // A target never deployed to: still nothing is created.
    const fresh = newTarget()
    const freshRoot = snapshot(path.dirname(fresh))
    const first = await deploy(fresh, changed, { 'release-id': 'r1', 'dry-run': 'true' })
    expectOk(first)
    expect(first.stdout).toMatch(/would send 3 of 3 files/)
    expect(snapshot(path.dirname(fresh))).toEqual(freshRoot)
    expect(existsSync(fresh)).toBe(false)
  })

  it('without rsync on the server a dry run fails as a deploy would', async () => {
    const target = newTarget()
    const src = source({ 'index.html': 'x\n' })
    expectOk(await deploy(target, src, { 'release-id': 'r1' }))
    const before = snapshot(path.dirname(target))
    const bin = pathWithout(['rsync'])
    removeAfter(bin)
    sshd.authorize(sshd.client.publicKey, `environment="PATH=${bin}"`)
    let dryMsg: string
    let deployMsg: string
    try {
      dryMsg = expectFailed(await deploy(target, src, { 'release-id': 'r2', 'dry-run': 'true' }))
      deployMsg = expectFailed(await deploy(target, src, { 'release-id': 'r2' }))
    } finally {
      sshd.authorize(sshd.client.publicKey)
    }
    expect(dryMsg).toMatch(/rsync is not installed on the server/)
    expect(dryMsg).toMatch(/apt-get install rsync/)
    expect(dryMsg).toBe(deployMsg)
    expect(snapshot(path.dirname(target))).toEqual(before)
  })
})

describe('job summary', () => {
  it('a short table (host, result, live now, files), the per-host figures in <details>, and how to roll back', async () => {
    const target = newTarget()
    const files = { 'index.html': '<h1>v1</h1>\n', 'a.txt': 'a\n'.repeat(3000), 'b.txt': 'b\n'.repeat(3000) }
    expectOk(await deploy(target, source(files), { 'release-id': 'r1' }))
    const run = await deploy(target, source({ ...files, 'index.html': '<h1>v2</h1>\n' }), {
      'release-id': 'r2',
    })
    expectOk(run)
    const s = run.summary
    const [top, details = ''] = s.split('<details>')
    const headers = [...(top as string).matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1])
    const cells = [...(top as string).matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1])
    // Fits a 1000 px page: a few short columns.
    expect(headers).toEqual(['host', 'result', 'live now', 'files'])
    expect(Object.fromEntries(headers.map((h, i) => [h, cells[i]]))).toEqual({
      host: `radtest@127.0.0.1:${sshd.port}`,
      result: '✓ deployed',
      'live now': 'r2',
      files: '1 file sent, 2 hard-linked',
    })
    const row = Object.fromEntries(
      [...details.matchAll(/<tr><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g)].map((m) => [m[1], m[2]]),
    )
    expect(row).toMatchObject({
      'live now': 'r2',
      'live before': 'r1',
      'files sent': '1',
      'files hard-linked': '2',
    })
    expect(row['files sent']).toBe(run.outputs['files-transferred'])
    expect(row['bytes sent']).toMatch(/^\d+(\.\d)? k?B$/)
    expect(row['bytes sent']).toBe(bytes(Number(run.outputs['bytes-sent'])))
    expect(row['disk added']).toMatch(/^\d+(\.\d)? kB$/)
    expect(row.time).toMatch(/^\d+\.\d s$/)
    expect(details).toMatch(/<\/details>/)
    expect(s).toContain('command: rollback')
    expect(s).toContain('rollback-to: r1')
    // The log says it too, the way an action is run again: by hand, with the rollback inputs.
    expect(run.stdout).toMatch(
      /^To roll back to r1, .*workflow_dispatch.*command: rollback and rollback-to: r1$/m,
    )
  })
})

describe('error hints', () => {
  it('a shell startup file that prints text: fails before the upload, naming the file and the fix', async () => {
    const target = newTarget()
    const src = source({ 'index.html': '<h1>v1</h1>\n', 'big.txt': 'x'.repeat(50_000) })
    expectOk(await deploy(target, src, { 'release-id': 'r1' }))
    const rc = `${sshd.user.home}/.bashrc`
    const tag = '# rad options.test'
    // Only sessions to this file's sshd see it: other test files share the user.
    const chatty = `case "$SSH_CONNECTION" in *" ${sshd.port}") echo "Welcome!" ;; esac ${tag}\n`
    const original = existsSync(rc) ? readFileSync(rc, 'utf8') : ''
    let run: ActionRun
    try {
      writeFileSync(rc, chatty + original)
      chownSync(rc, sshd.user.uid, sshd.user.gid)
      run = await deploy(target, source({ 'index.html': '<h1>v2</h1>\n', 'big.txt': 'y'.repeat(50_000) }), {
        'release-id': 'r2',
      })
    } finally {
      const now = readFileSync(rc, 'utf8')
      writeFileSync(
        rc,
        now
          .split('\n')
          .filter((l) => !l.includes(tag))
          .join('\n'),
      )
    }
    const msg = expectFailed(run)
    expect(msg).toContain('Welcome!')
    expect(msg).toMatch(/\.bashrc/)
    expect(msg).toContain('[ -z "$PS1" ] && return')
    expect(run.stdout).not.toMatch(/uploaded \d+ files?:/)
    expect(Number(run.outputs['bytes-sent'] ?? 0)).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(readFileSync(rc, 'utf8')).not.toContain(tag)
  })

  it('a full disk: says so, serves what it served, leaves no partial release; the next deploy succeeds', async () => {
    const disk = tmp('radfull-')
    sh('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk])
    try {
      chownSync(disk, sshd.user.uid, sshd.user.gid)
      const target = `${disk}/site`
      expectOk(await deploy(target, source({ 'index.html': '<h1>v1</h1>\n' }), { 'release-id': 'r1' }))
      const live = readTree(`${target}/current`)

      const huge: Record<string, Buffer> = { 'index.html': Buffer.from('<h1>v2</h1>\n') }
      for (let i = 0; i < 5; i++) huge[`media/video-${i}.bin`] = randomBytes(1_000_000)
      const run = await deploy(target, source(huge), { 'release-id': 'r2' })
      const msg = expectFailed(run)
      expect(msg).toMatch(/disk is full/i)
      expect(msg).toMatch(/No space left on device/)
      expect(linkTarget(`${target}/current`)).toBe('releases/r1')
      expect(readTree(`${target}/current`)).toEqual(live)
      expect(listDir(`${target}/releases`)).toEqual(['r1'])
      // The partial upload is not kept: it would hold the disk full, and the live site with it.
      expect(msg).toMatch(/partial upload was deleted/)
      expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)

      // A smaller build fits.
      const small = await deploy(
        target,
        source({ 'index.html': '<h1>v3</h1>\n', 'media/poster.bin': randomBytes(300_000) }),
        { 'release-id': 'r3' },
      )
      expectOk(small)
      expect(linkTarget(`${target}/current`)).toBe('releases/r3')
      expect(listDir(`${target}/releases`)).toEqual(['r1', 'r3'])
    } finally {
      sh('umount', ['-l', disk])
    }
  })
})
