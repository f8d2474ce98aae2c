/**
 * The deploy lock against a real sshd: concurrent deploys, a lock left by a dead holder (taken
 * over), one held by a live holder (wait, fail naming it, unlock), and a cancelled run whose lock
 * is released (main step or post step) without anything half-done becoming visible.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectOk } from '../support/expect.js'
import { type ActionRun, errorText, linkTarget, listDir, pidSpace, readTree } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const suite = useSshd()
const { sshd, newTarget } = suite

function source(version: string): string {
  const files: Record<string, string> = { 'index.html': `<h1>${version}</h1>\n` }
  for (let i = 0; i < 30; i++) files[`assets/f${i}.txt`] = `${version} file ${i}\n`.repeat(50)
  return suite.sourceDir(files)
}

function deploy(
  target: string,
  id: string,
  src = source(id),
  extra: Record<string, string> = {},
): Promise<ActionRun> {
  return suite.deploy(target, src, { 'release-id': id, ...extra })
}

/**
 * Deploys r2, 6 MB of fresh random bytes, through a 3 MB/s link, and kills the step with `signal`
 * the first time `killWhen` returns true (polled while it uploads).
 */
async function deployBigR2(
  target: string,
  signal: NodeJS.Signals,
  killWhen: () => boolean,
): Promise<ActionRun> {
  const big = suite.tmp('radsrc-')
  for (let i = 0; i < 30; i++) writeFileSync(path.join(big, `blob-${i}.bin`), randomBytes(200_000))
  const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 3_000_000, latencyMs: 5 })
  try {
    return await suite.deploy(
      target,
      big,
      { ...suite.viaPort(link.port), 'release-id': 'r2' },
      { signal, killWhen },
    )
  } finally {
    await link.stop()
  }
}

function lockDir(target: string): string {
  return `${target}/.deploy/lock`
}

/** A lock as another run leaves it: owner.json and the holder line (token host pid expiry pid-space). */
function plantLock(
  target: string,
  holder: { pid: number; host?: string; expires?: number; space?: string },
): string {
  const dir = lockDir(target)
  mkdirSync(dir)
  const owner = JSON.stringify({
    run: 'https://github.com/example/site/actions/runs/777',
    actor: 'alice',
    ref: 'refs/tags/v0.9.0',
    command: 'deploy',
    release: 'r-other',
    since: new Date().toISOString(),
  })
  writeFileSync(path.join(dir, 'owner.json'), `${owner}\n`)
  const expires = holder.expires ?? Math.floor(Date.now() / 1000) + 3600
  writeFileSync(
    path.join(dir, 'holder'),
    `othertoken ${holder.host ?? hostname()} ${holder.pid} ${expires} ${holder.space ?? pidSpace()}\n`,
  )
  for (const p of [dir, path.join(dir, 'owner.json'), path.join(dir, 'holder')]) {
    chownSync(p, sshd.user.uid, sshd.user.gid)
  }
  return owner
}

/** A pid no process has: one that just exited. */
function deadPid(): number {
  const pid = spawnSync('true').pid as number
  expect(existsSync(`/proc/${pid}`)).toBe(false)
  return pid
}

describe('deploy lock', () => {
  it('a deploy started while another holds the lock waits, naming the holder, then deploys on top of it', async () => {
    const target = newTarget()
    const sources = { ra: source('ra'), rb: source('rb') }
    // ra holds the lock for 2 s at its before-switch; rb starts once ra's owner record is there.
    const a = deploy(target, 'ra', sources.ra, { 'before-switch': 'sleep 2' })
    const owner = `${lockDir(target)}/owner.json`
    for (
      let i = 0;
      i < 400 && !(existsSync(owner) && readFileSync(owner, 'utf8').includes('"release":"ra"'));
      i++
    )
      await new Promise((r) => setTimeout(r, 25))
    expect(readFileSync(owner, 'utf8')).toContain('"release":"ra"')
    const b = await deploy(target, 'rb', sources.rb)
    const ra = await a
    expectOk(ra)
    expectOk(b)
    expect(b.stdout).toMatch(/waiting for the deploy lock, held by .*"release":"ra"/)
    expect(ra.stdout).not.toMatch(/waiting for the deploy lock/)
    expect(b.outputs['previous-release-id']).toBe('ra')
    expect(linkTarget(`${target}/current`)).toBe('releases/rb')
    expect(readTree(`${target}/current`)).toEqual(readTree(sources.rb))
    expect(readTree(`${target}/releases/ra`)).toEqual(readTree(sources.ra))
    const log = readFileSync(`${target}/.deploy/log`, 'utf8').trim().split('\n')
    expect(log.map((l) => JSON.parse(l).release)).toEqual(['ra', 'rb'])
  })

  it('two deploys started at once: one waits for the other, nothing is corrupted', async () => {
    const target = newTarget()
    const sources = { ra: source('ra'), rb: source('rb') }
    // before-switch keeps each one in its lock for a second, so the two surely overlap.
    const slow = { 'before-switch': 'sleep 1' }
    const [a, b] = await Promise.all([
      deploy(target, 'ra', sources.ra, slow),
      deploy(target, 'rb', sources.rb, slow),
    ])
    const runs = { ra: a, rb: b }
    for (const [id, run] of Object.entries(runs)) {
      const other = id === 'ra' ? 'rb' : 'ra'
      if (run.code !== 0) {
        // Allowed: it gave up on the lock, naming the holder.
        expect(errorText(run)).toMatch(/holds the lock/)
        expect(errorText(run)).toContain(`"release":"${other}"`)
      }
    }
    const succeeded = Object.entries(runs).filter(([, r]) => r.code === 0)
    expect(succeeded.length).toBeGreaterThanOrEqual(1)
    // current points at a complete release, and every release on disk is complete.
    const live = linkTarget(`${target}/current`).replace(/^releases\//, '') as 'ra' | 'rb'
    expect(['ra', 'rb']).toContain(live)
    expect(readTree(`${target}/current`)).toEqual(readTree(sources[live]))
    expect(listDir(`${target}/releases`)).toEqual(succeeded.map(([id]) => id).sort())
    for (const [id] of succeeded) {
      expect(readTree(`${target}/releases/${id}`)).toEqual(readTree(sources[id as 'ra' | 'rb']))
    }
    if (succeeded.length === 2) {
      // They ran one after the other: the second saw the first as live.
      const first = live === 'ra' ? 'rb' : 'ra'
      expect(runs[live].outputs['previous-release-id']).toBe(first)
      expect(runs[first].outputs['previous-release-id']).toBe('')
      // (Whether the second waited depends on how the two started on a busy machine: the next
      // test makes them overlap for sure.)
      const log = readFileSync(`${target}/.deploy/log`, 'utf8').trim().split('\n')
      expect(log.map((l) => JSON.parse(l).release)).toEqual([first, live])
    }
    expect(existsSync(lockDir(target))).toBe(false)
    expect(listDir(`${target}/.deploy/incoming`)).toEqual([])

    const next = await deploy(target, 'rc')
    expectOk(next)
    expect(linkTarget(`${target}/current`)).toBe('releases/rc')
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('takes over a lock whose holder is gone, with a warning naming it', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    plantLock(target, { pid: deadPid() })
    const run = await deploy(target, 'r2')
    expectOk(run)
    expect(run.stdout).toMatch(/::warning::.*stale deploy lock.*alice/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(existsSync(lockDir(target))).toBe(false)
    expect(listDir(`${target}/.deploy`).filter((n) => n.startsWith('lock'))).toEqual([])

    // A lock without a holder line (an older or foreign tool) counts as stale after a few minutes.
    mkdirSync(lockDir(target))
    chownSync(lockDir(target), sshd.user.uid, sshd.user.gid)
    const old = new Date(Date.now() - 10 * 60_000)
    utimesSync(lockDir(target), old, old)
    const run3 = await deploy(target, 'r3')
    expectOk(run3)
    expect(run3.stdout).toMatch(/::warning::.*stale deploy lock/)
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('a lock caught between its holder’s mkdir and owner.json: the wait names the owner once it is written', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    // Another run has just made the lock directory and not yet written who it is.
    mkdirSync(lockDir(target))
    chownSync(lockDir(target), sshd.user.uid, sshd.user.gid)
    const blocked = deploy(target, 'r2')
    await new Promise((r) => setTimeout(r, 1200))
    rmSync(lockDir(target), { recursive: true })
    plantLock(target, { pid: process.pid })
    // It gives the lock back a little later; the deploy then goes on.
    setTimeout(() => rmSync(lockDir(target), { recursive: true, force: true }), 2500)
    const run = await blocked
    expectOk(run)
    expect(run.stdout).toMatch(/waiting for the deploy lock, held by .*alice/)
    expect(run.stdout).not.toContain('no owner recorded')
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })

  it('a live holder: waits, fails naming the holder and how to clear it; unlock clears it', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    // Held by a process alive on this host (this test) until an hour from now.
    const owner = plantLock(target, { pid: process.pid })
    const blocked = await deploy(target, 'r2', undefined, { timeout: '15' })
    expect(blocked.code).not.toBe(0)
    const err = errorText(blocked)
    expect(err).toMatch(/another deploy holds the lock/)
    expect(err).toContain('alice')
    expect(err).toContain('https://github.com/example/site/actions/runs/777')
    expect(err).toMatch(/command: unlock/)
    expect(blocked.stdout).toMatch(/waiting for the deploy lock, held by .*alice/)
    // timeout 15 s → a third of it spent waiting, and the lock (not the timeout) ends the step.
    expect(blocked.durationMs).toBeGreaterThan(4_500)
    expect(blocked.durationMs).toBeLessThan(15_000)
    // Nothing changed, and the other run's lock is still its own.
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
    expect(readFileSync(`${lockDir(target)}/owner.json`, 'utf8')).toBe(`${owner}\n`)

    const unlock = await suite.command(target, 'unlock')
    expectOk(unlock)
    expect(unlock.stdout).toMatch(/removed the lock held by .*alice/)
    expect(existsSync(lockDir(target))).toBe(false)

    const again = await deploy(target, 'r2')
    expectOk(again)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(existsSync(lockDir(target))).toBe(false)
  })

  it('a run cancelled mid-upload releases the lock and leaves the live release alone', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    const incoming = `${target}/.deploy/incoming`
    const started = () =>
      listDir(incoming)
        .filter((d) => d.startsWith('r2.'))
        .some((d) => listDir(path.join(incoming, d)).length >= 3)
    let lockSeen = false
    let killedAt = 0
    // SIGINT, as the runner sends on cancel, once the upload is under way.
    const run = await deployBigR2(target, 'SIGINT', () => {
      lockSeen ||= existsSync(lockDir(target))
      if (!started()) return false
      killedAt = Date.now()
      return true
    })
    expect(lockSeen).toBe(true)
    expect(killedAt).toBeGreaterThan(0)
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/cancel/i)
    expect(run.post?.code).toBe(0)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>r1</h1>\n')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(listDir(`${target}/.deploy`).filter((n) => n.startsWith('current.'))).toEqual([])
    // The next deploy is not blocked.
    expectOk(await deploy(target, 'r3'))
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
  })

  it('a run killed outright mid-upload: the post step releases the lock it left', async () => {
    const target = newTarget()
    expectOk(await deploy(target, 'r1'))
    const incoming = `${target}/.deploy/incoming`
    let lockAtKill = false
    // SIGKILL: the main step gets no chance to clean up; only the post step can.
    const run = await deployBigR2(target, 'SIGKILL', () => {
      const going = listDir(incoming).some(
        (d) => d.startsWith('r2.') && listDir(path.join(incoming, d)).length >= 3,
      )
      if (going) lockAtKill = existsSync(lockDir(target))
      return going
    })
    expect(lockAtKill).toBe(true)
    expect(run.code).not.toBe(0)
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout).toMatch(/Released the deploy lock on host 1/)
    expect(existsSync(lockDir(target))).toBe(false)
    expect(existsSync(run.state.sshDir as string)).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expectOk(await deploy(target, 'r3'))
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
  })
})
