/**
 * The lock never wedges and is never misread, and symlinks never lead the tool outside TARGET
 * (issue 10, §4, §5, §9, §10), against a real sshd with the bundled dist:
 * - a holder record left empty (a full disk) is stale; a full disk or no inodes at lock time fail
 *   at once and leave no lock; `.deploy` owned by another user fails at once with the chown fix;
 * - a lock held on another machine (same host name, another machine id) is never judged by pid;
 * - a stale lock that cannot be moved aside fails once, clearly, instead of spinning;
 * - a busybox userland deploys and rolls back through `mv -T`; without any rename tool the run
 *   refuses before taking the lock, naming what to install;
 * - symlinks in the build (at a shared path or its parent), `releases/` or `.deploy` replaced by
 *   a symlink, a release directory that is a symlink: refused, a canary outside TARGET untouched;
 * - two runs started in the same second without release-id get different ids.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOk } from '../support/expect.js'
import {
  type ActionRun,
  baseInputs,
  commandInputs,
  errorText,
  linkTarget,
  listDir,
  pidSpace,
  readTree,
  runAction,
  type Sshd,
  startSshd,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const suite = useSshd()
const { sshd, tmp, newTarget, command } = suite
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) spawnSync('umount', ['-l', m])
})

function source(version: string, extra: Record<string, string> = {}): string {
  return suite.sourceDir({ 'index.html': `<h1>${version}</h1>\n`, 'a/b.txt': `${version}\n`, ...extra })
}

function deploy(target: string, id: string, extra: Record<string, string> = {}, src = source(id)) {
  return suite.deploy(target, src, { 'release-id': id, ...extra })
}

function warnings(run: ActionRun): string[] {
  return run.stdout.split('\n').filter((l) => l.startsWith('::warning::'))
}

const lockDir = (target: string) => `${target}/.deploy/lock`

const OWNER = JSON.stringify({ run: 'https://github.com/example/site/actions/runs/777', actor: 'alice' })

/** A lock another run left: owner.json and a holder file with exactly `holder` in it. */
function plantLock(target: string, holder: string): void {
  const dir = lockDir(target)
  mkdirSync(dir)
  writeFileSync(`${dir}/owner.json`, `${OWNER}\n`)
  writeFileSync(`${dir}/holder`, holder)
  for (const p of [dir, `${dir}/owner.json`, `${dir}/holder`]) chownSync(p, sshd.user.uid, sshd.user.gid)
}

function deadPid(): number {
  const pid = spawnSync('true').pid as number
  expect(existsSync(`/proc/${pid}`)).toBe(false)
  return pid
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600

/** A small filesystem of its own (tmpfs), owned by the deploy user. */
function smallFs(options: string): string {
  const dir = tmp('radfs-')
  execFileSync('mount', [
    '-t',
    'tmpfs',
    '-o',
    `${options},mode=0755,uid=${sshd.user.uid},gid=${sshd.user.gid}`,
    'tmpfs',
    dir,
  ])
  mounts.push(dir)
  return dir
}

describe('the lock never wedges', () => {
  it('a lock whose holder record is empty (a full disk, an older version) is stale: taken over at once', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    plantLock(target, '')
    const run = await deploy(target, 'r2', { timeout: '90' })
    expectOk(run)
    // No wait for a holder that does not exist (a live one would cost the whole 30 s lock wait).
    expect(run.durationMs).toBeLessThan(20_000)
    expect(run.stdout).not.toMatch(/waiting for the deploy lock/)
    expect(warnings(run).join('\n')).toMatch(
      /stale deploy lock \(its holder record is empty or unreadable\).*alice/,
    )
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(existsSync(lockDir(target))).toBe(false)
    expect(listDir(`${target}/.deploy`).filter((n) => n.startsWith('lock'))).toEqual([])

    // A holder line that does not parse is no holder either.
    plantLock(target, 'garbage\n')
    const run3 = await deploy(target, 'r3', { timeout: '90' })
    expectOk(run3)
    expect(run3.durationMs).toBeLessThan(20_000)
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('a full disk when the lock is taken: fails at once, leaves no lock; the next deploy is not blocked', async () => {
    const fs = smallFs('size=1m')
    const target = `${fs}/site`
    expectOk(await deploy(target, 'r1'))
    // Fill what is left, as root (the deploy user cannot make room).
    spawnSync('dd', ['if=/dev/zero', `of=${fs}/fill`, 'bs=16k'], { stdio: 'ignore' })
    const full = await deploy(target, 'r2', { timeout: '90' })
    expect(full.code).not.toBe(0)
    const err = errorText(full)
    expect(err).toMatch(/cannot write the deploy lock's holder record in .*\.deploy\/lock/)
    expect(err).toMatch(/disk full/)
    expect(full.durationMs).toBeLessThan(20_000)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])

    rmSync(`${fs}/fill`)
    const next = await deploy(target, 'r2', { timeout: '30' })
    expectOk(next)
    expect(next.stdout).not.toMatch(/waiting for the deploy lock|stale deploy lock/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })

  it('no inodes left: mkdir of the lock fails, and the run says so at once instead of blaming a holder', async () => {
    const fs = smallFs('size=8m,nr_inodes=64')
    const target = `${fs}/site`
    expectOk(await deploy(target, 'r1'))
    for (let i = 0; ; i++) {
      try {
        writeFileSync(`${fs}/i${i}`, '')
      } catch {
        break
      }
    }
    const run = await deploy(target, 'r2', { timeout: '90' })
    expect(run.code).not.toBe(0)
    const err = errorText(run)
    expect(err).toMatch(/cannot create the deploy lock .*\.deploy\/lock: .*No space left on device/)
    expect(err).not.toMatch(/another deploy holds the lock|no owner recorded/)
    expect(run.durationMs).toBeLessThan(20_000)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  })

  it('.deploy owned by root: fails at once naming the directory, its owner, the user and the chown fix; unlock tells the truth', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    execFileSync('chown', ['-R', 'root:root', `${target}/.deploy`])
    const run = await deploy(target, 'r2', { timeout: '90' })
    expect(run.code).not.toBe(0)
    const err = errorText(run)
    expect(err).toContain(`cannot create the deploy lock in ${target}/.deploy: it belongs to root`)
    expect(err).toContain('the deploy user radtest cannot write there')
    expect(err).toContain(`chown -R radtest:radtest '${target}'`)
    expect(err).not.toMatch(/another deploy holds the lock|no owner recorded/)
    // At once: no lock wait (30 s with timeout 90, 40–200 s with the defaults).
    expect(run.durationMs).toBeLessThan(20_000)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(existsSync(lockDir(target))).toBe(false)

    const unlock = await command(target, 'unlock')
    expect(unlock.code).toBe(0)
    expect(unlock.stdout).toMatch(/was not locked/)
    expect(warnings(unlock).join('\n')).toMatch(
      /belongs to root .*deploys cannot take the lock.*chown -R radtest:radtest/,
    )

    // The fix it names works.
    execFileSync('chown', ['-R', 'radtest:radtest', target])
    expectOk(await deploy(target, 'r2'))
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })

  it('a stale lock that cannot be moved aside: one warning, one clear error, within seconds', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    plantLock(target, `othertoken ${hostname()} ${deadPid()} ${inAnHour()} ${pidSpace()}\n`)
    // Its holder is gone, but the deploy user may not rename anything in .deploy.
    execFileSync('chown', ['root:root', `${target}/.deploy`])
    const run = await deploy(target, 'r2', { timeout: '90' })
    expect(run.code).not.toBe(0)
    const stale = warnings(run).filter((w) => /stale deploy lock/.test(w))
    expect(stale).toHaveLength(1)
    expect(errorText(run)).toMatch(/it belongs to root.*chown -R radtest:radtest/s)
    expect(run.durationMs).toBeLessThan(20_000)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${lockDir(target)}/owner.json`, 'utf8')).toBe(`${OWNER}\n`)
  })

  it('unlock exits 0 when it removed the lock, and says whose it was', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    plantLock(target, `othertoken ${hostname()} ${process.pid} ${inAnHour()} ${pidSpace()}\n`)
    const unlock = await command(target, 'unlock')
    expect(unlock.code).toBe(0)
    expect(errorText(unlock)).toBe('')
    expect(unlock.stdout).toMatch(/removed the lock held by .*alice/)
    expect(existsSync(lockDir(target))).toBe(false)
  })
})

describe('the lock is never misread', () => {
  it('a holder on another machine with the same host name: its pid is not looked up here, the lock is not stale', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    // Same host name (two containers), another machine id and boot; its pid does not exist here.
    const other = 'm=0123456789abcdef0123456789abcdef,b=11111111-2222-3333-4444-555555555555,n=pid4026531836'
    plantLock(target, `othertoken ${hostname()} ${deadPid()} ${inAnHour()} ${other}\n`)
    const run = await deploy(target, 'r2', { timeout: '12' })
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/another deploy holds the lock.*alice/s)
    expect(run.stdout).not.toMatch(/stale deploy lock/)
    expect(readFileSync(`${lockDir(target)}/owner.json`, 'utf8')).toBe(`${OWNER}\n`)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')

    // The same record from this machine's pid space: the holder is gone, so it is stale.
    rmSync(lockDir(target), { recursive: true })
    plantLock(target, `othertoken ${hostname()} ${deadPid()} ${inAnHour()} ${pidSpace()}\n`)
    const run2 = await deploy(target, 'r2', { timeout: '12' })
    expectOk(run2)
    expect(warnings(run2).join('\n')).toMatch(/stale deploy lock \(its process \d+ on .* is gone\)/)
  })
})

/** PATH for the deploy user: only busybox applets (no GNU mv, no perl, no python) and rsync. */
function busyboxPath(opts: { mvWithoutT?: boolean } = {}): string {
  const dir = tmp('radbb-')
  chmodSync(dir, 0o755)
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)
  for (const a of applets) symlinkSync('/bin/busybox', path.join(dir, a))
  symlinkSync('/usr/bin/rsync', path.join(dir, 'rsync'))
  if (opts.mvWithoutT) {
    // An mv that knows no -T (as in older or smaller busybox builds).
    rmSync(path.join(dir, 'mv'))
    writeFileSync(
      path.join(dir, 'mv'),
      '#!/bin/busybox sh\nfor a in "$@"; do case "$a" in --) break ;; -*T*) echo "mv: invalid option -- \'T\'" >&2; exit 1 ;; esac; done\nexec /bin/busybox mv "$@"\n',
      { mode: 0o755 },
    )
  }
  return dir
}

describe('a busybox userland', () => {
  let bb: Sshd
  let bbNoT: Sshd
  beforeAll(async () => {
    bb = await startSshd()
    bb.authorize(bb.client.publicKey, `environment="PATH=${busyboxPath()}"`)
    bbNoT = await startSshd()
    bbNoT.authorize(bbNoT.client.publicKey, `environment="PATH=${busyboxPath({ mvWithoutT: true })}"`)
  })
  afterAll(async () => {
    await bb?.stop()
    await bbNoT?.stop()
  })

  const bbTarget = (s: Sshd) => newTarget('site', s)

  it('deploys and rolls back through busybox mv -T; the rollback releases its own lock', async () => {
    const target = bbTarget(bb)
    for (const id of ['r1', 'r2']) {
      const run = await runAction({ ...baseInputs(bb, target, source(id)), 'release-id': id })
      expectOk(run)
      expect(linkTarget(`${target}/current`)).toBe(`releases/${id}`)
    }
    const back = await runAction(commandInputs(bb, target, 'rollback'))
    expectOk(back)
    expect(back.stdout).not.toMatch(/taken over/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>r1</h1>\n')
    expect(existsSync(lockDir(target))).toBe(false)
    // The shell really was busybox's: its sh is what the login shell found first in PATH.
    expect(readdirSync(`${target}/.deploy`).filter((n) => n.startsWith('current.'))).toEqual([])
  })

  it('without any way to rename a link over another: refuses before the lock, naming what to install', async () => {
    const target = bbTarget(bbNoT)
    const run = await runAction({ ...baseInputs(bbNoT, target, source('r1')), 'release-id': 'r1' })
    expect(run.code).not.toBe(0)
    const err = errorText(run)
    expect(err).toMatch(/cannot rename a link over another atomically/)
    expect(err).toMatch(/coreutils/)
    expect(err).toMatch(/perl/)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(existsSync(`${target}/current`)).toBe(false)

    // A rollback on such a server (releases made elsewhere): refused before the lock, none left.
    const made = bbTarget(sshd)
    expectOk(await deploy(made, 'r1'))
    expectOk(await deploy(made, 'r2'))
    renameSync(made, target)
    const back = await runAction(commandInputs(bbNoT, target, 'rollback'))
    expect(back.code).not.toBe(0)
    expect(errorText(back)).toMatch(/cannot rename a link over another atomically.*coreutils/s)
    expect(errorText(back)).not.toMatch(/taken over/)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })
})

describe('symlinks never lead outside TARGET', () => {
  /** A directory outside every target, with a file in it: it must stay exactly as it is. */
  function canary(): { dir: string; tree: () => Record<string, string> } {
    const dir = tmp('radcanary-')
    chmodSync(dir, 0o777)
    writeSite(dir, { 'keep.txt': 'keep\n', 'uploads/photo.jpg': 'photo\n', 'r9/index.html': 'outside\n' })
    execFileSync('chown', ['-R', `${sshd.user.uid}:${sshd.user.gid}`, dir])
    return { dir, tree: () => readTree(dir) }
  }

  it('a symlink in the build at a parent of a shared path, or at the shared path itself', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    const c = canary()
    const before = c.tree()
    const parent = source('r2')
    symlinkSync(c.dir, path.join(parent, 'data'))
    const run = await deploy(target, 'r2', { shared: 'data/uploads' }, parent)
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/symlink where a shared path goes \(data -> /)
    expect(c.tree()).toEqual(before)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])

    const leaf = source('r3')
    symlinkSync(path.join(c.dir, 'uploads'), path.join(leaf, 'uploads'))
    const run3 = await deploy(target, 'r3', { shared: 'uploads' }, leaf)
    expect(run3.code).not.toBe(0)
    expect(errorText(run3)).toMatch(/symlink where a shared path goes \(uploads -> /)
    expect(c.tree()).toEqual(before)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('releases/ replaced by a symlink: deploy, prune and rollback refuse; nothing outside changes', async () => {
    const target = newTarget()
    for (const id of ['r1', 'r2']) expectOk(await deploy(target, id))
    const c = canary()
    renameSync(`${target}/releases`, `${c.dir}/releases`)
    symlinkSync(`${c.dir}/releases`, `${target}/releases`)
    const before = c.tree()
    const runs = [
      await deploy(target, 'r3', { 'keep-releases': '1' }),
      await command(target, 'prune', { 'keep-releases': '1' }),
      await command(target, 'rollback'),
    ]
    for (const run of runs) {
      expect(run.code).not.toBe(0)
      expect(errorText(run)).toContain(`${target}/releases is a symlink (to ${c.dir}/releases)`)
    }
    expect(c.tree()).toEqual(before)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('.deploy replaced by a symlink: refused, nothing created or deleted outside', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    const c = canary()
    rmSync(`${target}/.deploy`, { recursive: true })
    symlinkSync(c.dir, `${target}/.deploy`)
    const before = c.tree()
    for (const run of [
      await deploy(target, 'r2'),
      await command(target, 'rollback'),
      await command(target, 'unlock'),
    ]) {
      expect(run.code).not.toBe(0)
      expect(errorText(run)).toContain(`${target}/.deploy is a symlink (to ${c.dir})`)
    }
    expect(c.tree()).toEqual(before)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  })

  it('shared/ replaced by a symlink: refused, nothing created outside, current unchanged', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1', { shared: 'uploads' }))
    const c = canary()
    rmSync(`${target}/shared`, { recursive: true })
    symlinkSync(c.dir, `${target}/shared`)
    const before = c.tree()
    const run = await deploy(target, 'r2', { shared: 'uploads' })
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toContain(`${target}/shared is a symlink (to ${c.dir})`)
    expect(c.tree()).toEqual(before)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  })

  it('a release directory that is a symlink elsewhere is never served, and never listed as a release', async () => {
    const target = newTarget()
    for (const id of ['r1', 'r2']) expectOk(await deploy(target, id))
    const c = canary()
    symlinkSync(`${c.dir}/r9`, `${target}/releases/r9`)
    const before = c.tree()
    const back = await command(target, 'rollback', { 'rollback-to': 'r9' })
    expect(back.code).not.toBe(0)
    expect(warnings(back).join('\n')).toMatch(/releases\/r9 is a symlink .*not a release: ignored/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    const list = await command(target, 'list')
    expectOk(list)
    expect(
      JSON.parse(list.outputs.releases as string)
        .map((r: { id: string }) => r.id)
        .sort(),
    ).toEqual(['r1', 'r2'])
    expect(c.tree()).toEqual(before)
    expect(existsSync(lockDir(target))).toBe(false)
  })
})

describe('release ids', () => {
  it('two runs started in the same second without release-id get different ids, and both go live in turn', async () => {
    const target = newTarget()
    const slow = { 'before-switch': 'sleep 1' }
    const [a, b] = await Promise.all([
      suite.deploy(target, source('a'), slow),
      suite.deploy(target, source('b'), slow),
    ])
    expectOk(a)
    expectOk(b)
    const ids = [a.outputs['release-id'], b.outputs['release-id']] as string[]
    expect(ids[0]).not.toBe(ids[1])
    for (const id of ids) expect(id).toMatch(/^\d{8}T\d{6}Z-v1\.0\.0-[0-9a-f]{6}$/)
    expect(listDir(`${target}/releases`)).toEqual([...ids].sort())
  })
})
