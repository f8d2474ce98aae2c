/**
 * Zero downtime, measured: a real nginx serves TARGET/current while visitors in another process
 * load pages, their release-specific assets and a 2 MB file, and the action deploys and rolls back
 * over a slow link again and again. Then the same visitors watch the usual alternative — a plain
 * in-place `rsync -r --delete` into the served directory — over the same link.
 *
 * Each site is served by several nginx servers at once, watched together: open_file_cache off,
 * open_file_cache on, and (the action only) open_file_cache on with the release pinned per request
 * (see nginx.ts). What counts as a complete, straddled or failed visit is described in load.ts.
 */
import { execFile } from 'node:child_process'
import { chownSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOk } from '../support/expect.js'
import { type ActionRun, baseInputs, linkTarget, readTree, runAction, TEST_USER } from '../support/harness.js'
import {
  formatReport,
  type LoadTarget,
  type Manifest,
  manifestEntry,
  releaseSite,
  startLoad,
  type TargetReport,
} from '../support/load.js'
import { type Nginx, startNginx } from '../support/nginx.js'
import { useSshd } from '../support/suite.js'
import { startThrottle, type Throttle } from '../support/throttle.js'

/**
 * Releases r01 … r04: r01 is live when the load starts; then r02 … r04 are each deployed and
 * rolled back (to r01, the release live before each of them): 6 switches. The baseline syncs the
 * same releases in the same order: 6 in-place updates. (Each in-place update failed about 10
 * visits when measured; 6 switches give each served site hundreds of visits.)
 */
const TAGS = Array.from({ length: 4 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`)
const SWITCHES = 2 * (TAGS.length - 1)
/** The slow link every deploy (and the baseline's rsync) goes through. */
const LINK = { bytesPerSecond: 8_000_000, latencyMs: 10 }
/** Visitors per served site. */
const VISITORS = 2
/** A pause after each switch, and a longer one at the end (longer than open_file_cache_valid). */
const PAUSE_MS = 250
const SETTLE_MS = 1_500
/** open_file_cache_valid (1 s), plus the length of a visit and some slack. */
const CACHE_WINDOW_MS = 1_600

const { sshd, newTarget, sourceDir } = useSshd()
let link: Throttle
let nginx: Nginx
const sources: Record<string, string> = {}
const manifest: Manifest = {}
let actionTarget = ''
let baselineTarget = ''
const measured: { action?: TargetReport[]; baseline?: TargetReport[] } = {}

// nginx servers, in this order: the action's three, then the baseline's two.
const SERVERS = {
  actionNoCache: 0,
  actionCache: 1,
  actionCachePinned: 2,
  baselineNoCache: 3,
  baselineCache: 4,
}

beforeAll(async () => {
  link = await startThrottle({ targetPort: sshd.port, ...LINK })
  for (const tag of TAGS) {
    const files = releaseSite(tag)
    sources[tag] = sourceDir(files)
    manifest[tag] = manifestEntry(tag, files)
  }
  actionTarget = newTarget()
  // The baseline serves a plain directory that rsync updates in place.
  baselineTarget = newTarget()
  mkdirSync(`${baselineTarget}/current`, { recursive: true })
  for (const d of [baselineTarget, `${baselineTarget}/current`]) chownSync(d, sshd.user.uid, sshd.user.gid)
  nginx = await startNginx([
    { target: actionTarget, openFileCache: false },
    { target: actionTarget, openFileCache: true },
    { target: actionTarget, openFileCache: true, pinRelease: true },
    { target: baselineTarget, openFileCache: false },
    { target: baselineTarget, openFileCache: true },
  ])
})

afterAll(async () => {
  await nginx?.stop()
  await link?.stop()
  if (measured.action && measured.baseline) {
    const line = (r: TargetReport) =>
      `  ${r.name.padEnd(56)} ${String(r.requests).padStart(6)} requests ${String(r.failed).padStart(5)} failed visits (${r.straddled} spanned a switch)`
    console.log(
      [
        `zero downtime, measured (${SWITCHES / 2} deploys + ${SWITCHES / 2} rollbacks vs ${SWITCHES} in-place syncs):`,
        ...measured.action.map(line),
        ...measured.baseline.map(line),
      ].join('\n'),
    )
  }
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function viaLink(inputs: Record<string, string>): Record<string, string> {
  return { ...inputs, host: `${TEST_USER}@127.0.0.1:${link.port}`, 'known-hosts': sshd.knownHostsPlain }
}

// The post step has nothing to do after a run that ended normally (other tests cover it): skipped here.
function deploy(tag: string): Promise<ActionRun> {
  return runAction(
    viaLink({ ...baseInputs(sshd, actionTarget, sources[tag] as string), 'release-id': tag }),
    {
      post: false,
    },
  )
}

function rollback(): Promise<ActionRun> {
  return runAction(viaLink({ ...baseInputs(sshd, actionTarget, ''), command: 'rollback' }), { post: false })
}

/** The baseline: `rsync -r --delete` of a release straight into the served directory, over the same link. */
async function rsyncInPlace(tag: string): Promise<void> {
  const dir = path.join(sshd.dir, 'baseline')
  mkdirSync(dir, { recursive: true })
  const knownHosts = path.join(dir, 'known_hosts')
  writeFileSync(knownHosts, `radbaseline ${sshd.knownHostsPlain.split(' ').slice(1).join(' ')}`)
  const rsh = [
    'ssh',
    `-i ${path.join(sshd.dir, 'client')}`,
    '-o IdentitiesOnly=yes',
    `-o UserKnownHostsFile=${knownHosts}`,
    '-o GlobalKnownHostsFile=/dev/null',
    '-o StrictHostKeyChecking=yes',
    '-o HostKeyAlias=radbaseline',
    '-o BatchMode=yes',
    `-p ${link.port}`,
  ].join(' ')
  // Not execFileSync: the slow link runs in this process and must keep forwarding meanwhile.
  await promisify(execFile)('rsync', [
    '-r',
    '--delete',
    '-e',
    rsh,
    `${sources[tag]}/`,
    `${TEST_USER}@127.0.0.1:${baselineTarget}/current/`,
  ])
}

/** Notes when the link changes (polled every few ms), to tell when a failure came after a switch. */
function watchSwitches(link: string): { times: number[]; stop(): void } {
  const times: number[] = []
  let last = readlinkSync(link)
  const timer = setInterval(() => {
    const now = readlinkSync(link)
    if (now !== last) times.push(Date.now())
    last = now
  }, 2)
  return { times, stop: () => clearInterval(timer) }
}

function printDetails(reports: TargetReport[]): void {
  for (const r of reports) {
    const lines = [...r.failures.slice(0, 6), ...r.straddles.slice(0, 4)]
    if (lines.length) console.log(`${r.name}, first failed and straddled visits:\n  ${lines.join('\n  ')}`)
  }
}

describe('zero downtime under load', () => {
  it(`the action: ${SWITCHES / 2} deploys and ${SWITCHES / 2} rollbacks over a slow link while visitors load the site; no visit fails`, async () => {
    expectOk(await deploy('r01'))
    const watch = watchSwitches(`${actionTarget}/current`)
    const targets: LoadTarget[] = [
      { name: 'action, open_file_cache off', port: nginx.ports[SERVERS.actionNoCache] as number },
      { name: 'action, open_file_cache on', port: nginx.ports[SERVERS.actionCache] as number },
      {
        name: 'action, open_file_cache on, release pinned per request',
        port: nginx.ports[SERVERS.actionCachePinned] as number,
      },
    ]
    const load = startLoad({ targets, manifest, visitorsPerTarget: VISITORS, maxMs: 90_000 })
    await load.ready
    const started = Date.now()
    const times: number[] = []
    for (const tag of TAGS.slice(1)) {
      const up = await deploy(tag)
      expectOk(up)
      times.push(up.durationMs)
      expect(linkTarget(`${actionTarget}/current`)).toBe(`releases/${tag}`)
      await sleep(PAUSE_MS)
      const back = await rollback()
      expectOk(back)
      times.push(back.durationMs)
      expect(linkTarget(`${actionTarget}/current`)).toBe('releases/r01')
      await sleep(PAUSE_MS)
    }
    const switchedFor = Date.now() - started
    await sleep(SETTLE_MS)
    const reports = await load.stop()
    watch.stop()
    measured.action = reports
    console.log(
      `action: ${SWITCHES} switches in ${(switchedFor / 1000).toFixed(1)} s under load (steps took ${times.map((t) => (t / 1000).toFixed(1)).join(' ')} s)\n${reports.map(formatReport).join('\n')}`,
    )
    printDetails(reports)
    expect(readTree(`${actionTarget}/current`)).toEqual(readTree(sources.r01 as string))
    expect(watch.times).toHaveLength(SWITCHES)
    const [noCache, cache, pinned] = reports as [TargetReport, TargetReport, TargetReport]
    /** How long after the last switch before `t` (Infinity if none came before). */
    const sinceSwitch = (t: number) => t - Math.max(...watch.times.filter((s) => s <= t))
    for (const r of reports) {
      // The visitors saw every release go live (each deploy stayed live for a while).
      expect(r.releasesSeen).toEqual(TAGS)
      expect(r.complete).toBeGreaterThan(100)
      // A visit spans two releases only right after a switch.
      for (const t of r.straddledAt)
        expect(sinceSwitch(t), r.straddles.join('\n')).toBeLessThanOrEqual(CACHE_WINDOW_MS)
    }
    // Without a cache, only a visit in flight at a switch can span two releases: one per visitor.
    for (const r of [noCache, pinned]) expect(r.straddled).toBeLessThanOrEqual(SWITCHES * VISITORS)
    // nginx opening TARGET/current afresh for every file: not one visit failed.
    expect(noCache.failed, noCache.failures.join('\n')).toBe(0)
    // With open_file_cache and the release pinned per request: not one either.
    expect(pinned.failed, pinned.failures.join('\n')).toBe(0)
    // With open_file_cache on a plain `root …/current`, nginx re-checks each cached path on its own
    // clock, so for up to open_file_cache_valid after a switch it can serve a page of one release
    // and a file of the other. Those failures (if any this time) all fall in that window.
    for (const t of cache.failedAt)
      expect(sinceSwitch(t), cache.failures.join('\n')).toBeLessThanOrEqual(CACHE_WINDOW_MS)
  })

  it(`the baseline: rsync -r --delete into the served directory, same link, same visitors; visits fail`, async () => {
    await rsyncInPlace('r01')
    const targets: LoadTarget[] = [
      { name: 'in-place rsync, open_file_cache off', port: nginx.ports[SERVERS.baselineNoCache] as number },
      { name: 'in-place rsync, open_file_cache on', port: nginx.ports[SERVERS.baselineCache] as number },
    ]
    const load = startLoad({ targets, manifest, visitorsPerTarget: VISITORS, maxMs: 90_000 })
    await load.ready
    const started = Date.now()
    for (const tag of TAGS.slice(1)) {
      await rsyncInPlace(tag)
      await sleep(PAUSE_MS)
      await rsyncInPlace('r01')
      await sleep(PAUSE_MS)
    }
    const syncedFor = Date.now() - started
    await sleep(SETTLE_MS)
    const reports = await load.stop()
    measured.baseline = reports
    console.log(
      `in-place rsync: ${SWITCHES} syncs in ${(syncedFor / 1000).toFixed(1)} s under load\n${reports.map(formatReport).join('\n')}`,
    )
    printDetails(reports)
    expect(readTree(`${baselineTarget}/current`)).toEqual(readTree(sources.r01 as string))
    for (const r of reports) expect(r.complete).toBeGreaterThan(50)
    // Without a cache nginx opens each file as the rsync leaves it: visits fail, every run. With
    // open_file_cache it goes on serving what it opened before for up to a second, which hides the
    // half-updated tree from some runs (0 failed in two of three under the full suite's load):
    // measured and printed above, not asserted.
    const noCache = reports[0] as (typeof reports)[0]
    expect(noCache.failed, formatReport(noCache)).toBeGreaterThan(0)
  })
})
