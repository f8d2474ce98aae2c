/**
 * Faults in the middle of a deploy, against a real sshd through a slow link:
 *  - the step cancelled (SIGINT, as the runner does) or killed outright (SIGKILL) at random moments
 *    of the upload, each followed by the post step: what is served is always a complete release,
 *    releases/ holds only complete ones, and the next deploy goes through;
 *  - the link stalling mid-transfer (no error, no close, just silence): the step gives up at its
 *    `timeout`, saying so, with nothing switched and the lock not left behind.
 * (A full disk is covered in options.test.ts.)
 */
import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'vitest'
import {
  type ActionRun,
  errorText,
  isSymlink,
  linkTarget,
  listDir,
  processesWith,
  readTree,
} from '../support/harness.js'
import { type RunOptions, useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const { sshd, newTarget, sourceDir, viaPort, command, deploy: deployTo } = useSshd()

/** A build with `mb` MB of fresh random content, so every release has everything to send. */
function build(id: string, mb: number): string {
  const files: Record<string, string | Buffer> = { 'index.html': `<h1>${id}</h1>\n` }
  for (let i = 0; i < mb * 4; i++)
    files[`media/part-${String(i).padStart(3, '0')}.bin`] = randomBytes(250_000)
  return sourceDir(files)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Size of each release in the cancel/kill trials, in MB: half a second or so through the link. */
const MB = 2

describe('faults', () => {
  it.concurrent('cancelled (SIGINT) and killed (SIGKILL) at random moments of the upload: always a complete release, the next deploy works', async ({
    expect,
  }) => {
    const target = newTarget()
    const sources: Record<string, string> = {}
    const deploy = (id: string, src: string, opts: RunOptions = {}, via?: number) =>
      deployTo(target, src, { 'release-id': id, ...(via ? viaPort(via) : {}) }, opts)
    const expectOk = (run: ActionRun) => {
      expect(errorText(run), run.stdout).toBe('')
      expect(run.code).toBe(0)
    }
    /** current serves a complete release, and every release on disk is complete. */
    const expectIntact = (what: string) => {
      expect(isSymlink(`${target}/current`), what).toBe(true)
      const live = linkTarget(`${target}/current`).replace(/^releases\//, '')
      expect(Object.keys(sources), what).toContain(live)
      expect(readTree(`${target}/current`), what).toEqual(readTree(sources[live] as string))
      for (const id of listDir(`${target}/releases`)) {
        expect(Object.keys(sources), what).toContain(id)
        expect(readTree(`${target}/releases/${id}`), `${what}: releases/${id}`).toEqual(
          readTree(sources[id] as string),
        )
      }
      return live
    }

    sources.base = build('base', 0.25)
    expectOk(await deploy('base', sources.base))
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 4_000_000, latencyMs: 5 })
    try {
      const trials: string[] = []
      let unlocksNeeded = 0
      // Each signal once in the first half of the upload and once in the second.
      for (const [n, signal] of (['SIGINT', 'SIGKILL', 'SIGINT', 'SIGKILL'] as const).entries()) {
        const id = `t${n + 1}`
        sources[id] = build(id, MB)
        // A random point of that half: once this share of the build has crossed the link.
        const share = (Math.floor(n / 2) + Math.random()) / 2
        let uploading = false
        let upAtStart = -1
        let killedAfter = -1
        const t0 = Date.now()
        const run = await deploy(
          id,
          sources[id] as string,
          {
            signal,
            onStdout: (s) => {
              uploading ||= /::group::.*: upload/.test(s)
            },
            killWhen: () => {
              if (!uploading) return false
              if (upAtStart < 0) upAtStart = link.bytes().up
              if (link.bytes().up - upAtStart < share * MB * 1_000_000) return false
              killedAfter = Date.now() - t0
              return true
            },
          },
          link.port,
        )
        const what = `${signal} at ${Math.round(share * 100)}% of the upload (${killedAfter} ms)`
        expect(run.post?.code, `${what}: post step\n${run.post?.stdout}`).toBe(0)
        if (run.code !== 0 && signal === 'SIGINT') expect(errorText(run), what).toMatch(/cancel/i)
        // Nothing of ours keeps running after the post step.
        for (let i = 0; i < 50 && processesWith(run.state.sshDir as string).length > 0; i++) await sleep(100)
        expect(processesWith(run.state.sshDir as string), what).toEqual([])
        expect(existsSync(run.state.sshDir as string), what).toBe(false)
        const live = expectIntact(what)
        const incoming = listDir(`${target}/.deploy/incoming`)

        // The next deploy goes through (after command: unlock at worst).
        const nextId = `t${n + 1}-next`
        sources[nextId] = build(nextId, 0.25)
        let next = await deploy(nextId, sources[nextId] as string)
        let unlocked = false
        if (next.code !== 0) {
          expect(errorText(next), what).toMatch(/holds the lock.*command: unlock/s)
          expectOk(await command(target, 'unlock'))
          unlocksNeeded++
          unlocked = true
          next = await deploy(nextId, sources[nextId] as string)
        }
        expectOk(next)
        expect(linkTarget(`${target}/current`), what).toBe(`releases/${nextId}`)
        expectIntact(`${what}, then a deploy`)
        trials.push(
          `${what}: exit ${run.code}, live ${live}${run.code === 0 ? ' (finished first)' : ''}, incoming ${incoming.length ? incoming.join(' ') : '(empty)'}${unlocked ? ', needed unlock' : ''}`,
        )
      }
      console.log(`faults: cancel/kill trials\n  ${trials.join('\n  ')}`)
      // A cancelled step releases its lock itself; a killed one has the post step do it.
      expect(unlocksNeeded).toBe(0)
    } finally {
      await link.stop()
    }
    // Four trials of three runs each: give a loaded 2-core machine room.
  }, 180_000)

  it.concurrent('the link stalls mid-upload: the step stops at its timeout saying so; nothing switched, no lock left; the next deploy works', async ({
    expect,
  }) => {
    const target = newTarget()
    const v1 = build('v1', 0.25)
    const first = await deployTo(target, v1, { 'release-id': 'v1' })
    expect(errorText(first)).toBe('')
    const live = readTree(`${target}/current`)

    const v2 = build('v2', 6)
    // Silence after about 1.5 MB of the 6 MB upload: the connection stays open, nothing moves.
    const link = await startThrottle({
      targetPort: sshd.port,
      bytesPerSecond: 4_000_000,
      latencyMs: 5,
      stallAfterUpBytes: 1_500_000,
    })
    let run: ActionRun
    try {
      // The shortest timeout the input takes.
      run = await deployTo(target, v2, { ...viaPort(link.port), 'release-id': 'v2', timeout: '10' })
      expect(link.stalled()).toBeGreaterThan(0)
      console.log(
        `faults: stalled link, timeout 10 s: the step ended after ${run.durationMs} ms; post step: ${run.post?.stdout.trim().replace(/\n/g, ' | ')}`,
      )
      expect(run.code).not.toBe(0)
      const err = errorText(run)
      expect(err).toMatch(/Stopped after 10 s \(input timeout\)/)
      expect(run.durationMs).toBeGreaterThanOrEqual(10_000)
      // The promise: the step ends within timeout + 10 s, clean-up included.
      expect(run.durationMs, err).toBeLessThan(20_000)
      expect(run.post?.code).toBe(0)
      expect(processesWith(run.state.sshDir as string)).toEqual([])
      // Nothing changed for visitors; the partial upload is not a release; the lock is gone.
      expect(linkTarget(`${target}/current`)).toBe('releases/v1')
      expect(readTree(`${target}/current`)).toEqual(live)
      expect(listDir(`${target}/releases`)).toEqual(['v1'])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    } finally {
      await link.stop()
    }
    const v3 = build('v3', 0.25)
    writeFileSync(path.join(v3, 'after-stall.txt'), 'ok\n')
    const next = await deployTo(target, v3, { 'release-id': 'v3', timeout: '30' })
    expect(errorText(next), next.stdout).toBe('')
    expect(linkTarget(`${target}/current`)).toBe('releases/v3')
    expect(readTree(`${target}/current`)).toEqual(readTree(v3))
  })
})
