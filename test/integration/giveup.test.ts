/**
 * Giving up means giving up (issue 10, §1 and the last item of §8), against a real sshd:
 *  - a timeout, SIGTERM or SIGKILL (then the post step) while before-switch still runs: once the
 *    step has ended nothing of that run changes the server, not even when the hook ends later, and
 *    a newer deploy that went live in between stays live;
 *  - the connection cut (a dead link) right after the switch or before it: the tool reconnects,
 *    finds out, and finishes the job or says exactly what is served;
 *  - a stalled link in the middle of before-switch with `timeout: 20`: the step ends within 30 s;
 *  - a SIGKILLed CLI run: the next run removes its private temp dir and its master, and is not
 *    blocked by the lock the dead run's persisting connection kept alive.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, type ExpectStatic, it } from 'vitest'
import { CLI, cliConnection, outputOf } from '../support/cli.js'
import { expectOk } from '../support/expect.js'
import {
  errorText,
  linkTarget,
  listDir,
  makeTargetRoot,
  nodeBinaries,
  processesWith,
  readTree,
  sshProcessesWith,
  startSshd,
} from '../support/harness.js'
import { type RunOptions, useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const suite = useSshd()
const { sshd, tmp, removeAfter, newTarget, viaPort } = suite

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function site(id: string): string {
  return suite.sourceDir({ 'index.html': `<h1>${id}</h1>\n`, 'css/app.css': `/* ${id} */\n`.repeat(20) })
}

/** The bundle deploying release `id` (a build of its own) to target. */
function deploy(target: string, id: string, inputs: Record<string, string> = {}, opts: RunOptions = {}) {
  return suite.deploy(target, site(id), { 'release-id': id, ...inputs }, opts)
}

/** A target with release v1 live, and a scratch dir beside it for the hooks' markers. */
async function liveTarget(node?: string): Promise<{ target: string; marks: string }> {
  const target = newTarget()
  const first = await deploy(target, 'v1', {}, { node })
  if (first.code !== 0) throw new Error(`setup deploy failed:\n${first.stdout}`)
  return { target, marks: path.dirname(target) }
}

/**
 * A before-switch hook that says when it starts, sleeps, then says it ended. `tag` is a word only
 * this hook's command line holds, to find its processes on the server.
 */
function slowHook(marks: string, seconds: number, tag: string): string {
  return `echo ${tag} >/dev/null; touch '${marks}/started'; sleep ${seconds}; touch '${marks}/hook-ended'`
}

/** Release v1 live, then a deploy of v2 sent `signal` once its 6 s before-switch has started. */
async function signalledDuringHook(node: string, signal: NodeJS.Signals, tag: string) {
  const { target, marks } = await liveTarget(node)
  const t0 = Date.now()
  const run = await deploy(
    target,
    'v2',
    { 'before-switch': slowHook(marks, 6, tag) },
    { node, signal, killWhen: () => existsSync(`${marks}/started`) },
  )
  return { target, marks, t0, run }
}

function logReleases(target: string): string[] {
  try {
    return readFileSync(`${target}/.deploy/log`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => `${JSON.parse(l).event}:${JSON.parse(l).release}`)
  } catch {
    return []
  }
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** Waits until the slow hook would have ended (`ms` after t0), and checks that it never did. */
async function expectHookNeverEnds(expect: ExpectStatic, marks: string, t0: number, ms: number) {
  await sleep(Math.max(0, t0 + ms - Date.now()))
  expect(existsSync(`${marks}/hook-ended`)).toBe(false)
}

/** Waits until the slow hook, started `seconds` ago by its marker, would have ended, and checks that it never did. */
async function expectStartedHookNeverEnds(expect: ExpectStatic, marks: string, seconds: number) {
  // A second more for the touch after the sleep.
  await sleep(Math.max(0, statSync(`${marks}/started`).mtimeMs + (seconds + 1) * 1000 - Date.now()))
  expect(existsSync(`${marks}/hook-ended`)).toBe(false)
}

/** Nothing of the given-up v2 is on the server: v1 served and alone in the history, no lock left. */
function expectOnlyV1(expect: ExpectStatic, target: string, opts: { releases?: boolean } = {}): void {
  expect(linkTarget(`${target}/current`)).toBe('releases/v1')
  expect(logReleases(target)).toEqual(['deploy:v1'])
  expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
  if (opts.releases !== false) expect(listDir(`${target}/releases`)).toEqual(['v1'])
}

/** Runs `fn` with a throttled link (proxy) to the sshd, and stops the link after it. */
async function withLink<T>(
  latencyMs: number,
  fn: (link: Awaited<ReturnType<typeof startThrottle>>) => Promise<T>,
): Promise<T> {
  const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 50_000_000, latencyMs })
  try {
    return await fn(link)
  } finally {
    await link.stop()
  }
}

// The describes run side by side (their tests mostly wait for hooks and timeouts).
describe.concurrent.each(nodeBinaries())('giving up, under $name', ({ path: node }) => {
  it.concurrent('timeout while before-switch sleeps: nothing switches when the hook ends; no process, no lock, no log entry left', async ({
    expect,
  }) => {
    const { target, marks } = await liveTarget(node)
    const tag = `radgiveup-timeout-${process.pid}-${node.length}`
    // 12 s: the hook starts after the step does, so it still runs when the 10 s are up.
    const run = await deploy(
      target,
      'v2',
      { timeout: '10', 'before-switch': slowHook(marks, 12, tag) },
      { node },
    )
    console.log(`giveup: timeout 10 s during before-switch: the step ended after ${run.durationMs} ms`)
    expect(existsSync(`${marks}/started`)).toBe(true)
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/Stopped after 10 s \(input timeout\).*Nothing was switched/s)
    expect(run.durationMs).toBeLessThan(20_000)
    // Right away and after the hook would have ended: nothing of that run acts any more.
    expect(processesWith(tag)).toEqual([])
    await expectStartedHookNeverEnds(expect, marks, 12)
    expect(processesWith(tag)).toEqual([])
    expectOnlyV1(expect, target)
  })

  it.concurrent('SIGTERM during before-switch, then the post step: stopped, and a newer deploy that goes live meanwhile stays live', async ({
    expect,
  }) => {
    const tag = `radgiveup-term-${process.pid}-${node.length}`
    const { target, marks, t0, run } = await signalledDuringHook(node, 'SIGTERM', tag)
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/cancel/i)
    expect(run.post?.code).toBe(0)
    expect(processesWith(tag)).toEqual([])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    // A newer deploy goes live before the cancelled hook would have ended …
    const v3 = site('v3')
    const next = await suite.deploy(target, v3, { 'release-id': 'v3' }, { node })
    expect(errorText(next)).toBe('')
    expect(linkTarget(`${target}/current`)).toBe('releases/v3')
    // … and stays live after it.
    await expectHookNeverEnds(expect, marks, t0, 8_000)
    expect(linkTarget(`${target}/current`)).toBe('releases/v3')
    expect(readTree(`${target}/current`)).toEqual(readTree(v3))
    expect(logReleases(target)).toEqual(['deploy:v1', 'deploy:v3'])
  })

  it.concurrent('SIGKILL during before-switch, then the post step as the runner runs it: the post step stops the run and frees the lock', async ({
    expect,
  }) => {
    const tag = `radgiveup-kill-${process.pid}-${node.length}`
    const { target, marks, t0, run } = await signalledDuringHook(node, 'SIGKILL', tag)
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout).toMatch(/serves releases\/v1/)
    expect(processesWith(tag)).toEqual([])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    await expectHookNeverEnds(expect, marks, t0, 8_000)
    // The release that never went live is back in incoming/ (a re-run resumes from it), not in releases/.
    expectOnlyV1(expect, target)
  })
})

describe.concurrent('a dead link', () => {
  it.concurrent('the connection is cut right after the switch: the tool reconnects, finds the release live, runs after-switch and reports it', async ({
    expect,
  }) => {
    const { target, marks } = await liveTarget()
    // The latency keeps the script's reply on the link long enough for the cut to lose it.
    let cutAt = ''
    await withLink(150, async (link) => {
      const running = deploy(target, 'v2', {
        ...viaPort(link.port),
        'after-switch': `touch '${marks}/after-ran'`,
      })
      await until(
        'the switch',
        () => {
          try {
            return linkTarget(`${target}/current`) === 'releases/v2'
          } catch {
            return false
          }
        },
        60_000,
      )
      link.cut()
      cutAt = new Date().toISOString()
      const run = await running
      expect(run.stdout).toMatch(/connection dropped during the switch/)
      expectOk(run)
      expect(linkTarget(`${target}/current`)).toBe('releases/v2')
      expect(existsSync(`${marks}/after-ran`)).toBe(true)
      expect(run.outputs['release-id']).toBe('v2')
      expect(JSON.parse(run.outputs.hosts ?? '[]')[0]?.status).toBe('deployed')
      // The history has the switch exactly once, whether the script or the recovery wrote it.
      expect(logReleases(target)).toEqual(['deploy:v1', 'deploy:v2'])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
      expect(cutAt).not.toBe('')
    })
  })

  it.concurrent('the connection is cut during before-switch: nothing switches, ever, and the report says what is served', async ({
    expect,
  }) => {
    const { target, marks } = await liveTarget()
    const tag = `radgiveup-cut-${process.pid}`
    await withLink(5, async (link) => {
      const running = deploy(target, 'v2', {
        ...viaPort(link.port),
        'before-switch': slowHook(marks, 4, tag),
      })
      await until('before-switch', () => existsSync(`${marks}/started`), 60_000)
      const t0 = Date.now()
      link.cut()
      const run = await running
      expect(run.code).not.toBe(0)
      expect(errorText(run)).toMatch(
        /connection dropped before the switch; nothing was switched: .*serves releases\/v1/,
      )
      expect(processesWith(tag)).toEqual([])
      await expectHookNeverEnds(expect, marks, t0, 6_000)
      expectOnlyV1(expect, target)
    })
  })

  it.concurrent('the link stalls during before-switch with timeout 20: the step ends within 30 s and nothing switches later', async ({
    expect,
  }) => {
    const { target, marks } = await liveTarget()
    const tag = `radgiveup-stall-${process.pid}`
    const trace: string[] = []
    await withLink(5, async (link) => {
      const t0 = Date.now()
      const running = deploy(
        target,
        'v2',
        { ...viaPort(link.port), timeout: '20', 'before-switch': slowHook(marks, 22, tag) },
        {
          onStdout: (o) => {
            if (process.env.RAD_TRACE)
              for (const l of o.split('\n')) if (l) trace.push(`${Date.now() - t0} ${l}`)
          },
        },
      )
      await until('before-switch', () => existsSync(`${marks}/started`), 20_000)
      link.stall()
      const run = await running
      if (process.env.RAD_TRACE) console.log(trace.join('\n'))
      console.log(
        `giveup: link stalled during before-switch, timeout 20 s: the step ended after ${run.durationMs} ms; post step: ${run.post?.stdout.trim().replace(/\n/g, ' | ')}`,
      )
      expect(errorText(run)).toMatch(/Stopped after 20 s \(input timeout\).*Nothing was switched/s)
      expect(run.durationMs).toBeLessThan(30_000)
      expect(processesWith(tag)).toEqual([])
      await expectHookNeverEnds(expect, marks, t0, 25_000)
      expectOnlyV1(expect, target, { releases: false })
    })
  })
})

describe('a SIGKILLed CLI run', () => {
  it('the next run removes its temp dir and master, and takes the lock at once', async ({ expect }) => {
    // An sshd of its own: its port tells this test's temp dirs from every other test's.
    const own = await startSshd()
    try {
      const connect = cliConnection(own, tmp('radrun-kill-'))
      const root = makeTargetRoot(own)
      removeAfter(root)
      const target = `${root}/site`
      const args = (id: string, extra: string[] = []) => [
        'deploy',
        ...connect,
        '--target',
        target,
        '--source',
        site(id),
        '--release-id',
        id,
        ...extra,
      ]
      const ourDirs = () =>
        readdirSync('/tmp')
          .filter((n) => n.startsWith('rad-'))
          .map((n) => `/tmp/${n}`)
          .filter((d) => {
            try {
              return readFileSync(`${d}/config`, 'utf8').includes(`Port ${own.port}\n`)
            } catch {
              return false
            }
          })
      const cli = (a: string[]) =>
        spawn(process.execPath, [CLI, ...a], {
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
          cwd: '/tmp',
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      const first = cli(args('r1', ['--before-switch', `touch '${root}/started'; sleep 20`]))
      const firstDone = outputOf(first)
      await until('the first run to reach before-switch', () => existsSync(`${root}/started`), 60_000)
      const orphan = ourDirs()
      expect(orphan.length).toBe(1)
      first.kill('SIGKILL')
      await firstDone
      // The killed run's master persists, and with it the connection that holds the lock.
      expect(sshProcessesWith(orphan[0] as string).length).toBeGreaterThan(0)
      expect(existsSync(`${target}/.deploy/lock`)).toBe(true)

      const t0 = Date.now()
      const second = await outputOf(cli(args('r2', ['--timeout', '15'])))
      const seconds = (Date.now() - t0) / 1000
      console.log(`giveup: the run after a SIGKILLed CLI run took ${seconds.toFixed(1)} s`)
      expect(second.text).not.toMatch(/holds the lock/)
      expect(second.code, second.text).toBe(0)
      expect(linkTarget(`${target}/current`)).toBe('releases/r2')
      expect(existsSync(orphan[0] as string)).toBe(false)
      expect(sshProcessesWith(orphan[0] as string)).toEqual([])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    } finally {
      await own.stop()
    }
  })
})
