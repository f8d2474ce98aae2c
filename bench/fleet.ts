/**
 * Fleets: 1 host against CFG.hosts hosts, each an sshd in its own mount namespace (its own disk at
 * the same target path) behind its own WAN link, with the CPU time of the servers' side and the
 * runner's side measured apart (cgroups), since here they share one machine.
 */
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { runAction, type Sshd, startSshd, TEST_USER } from '../test/support/harness.js'
import { startThrottle, type Throttle } from '../test/support/throttle.js'
import { BYTES_PER_SECOND, CFG, log } from './config.js'
import { mb, sec } from './format.js'
import { CpuGroups, machineCpu, settle, type Wire, wire, wireSince } from './measure.js'
import type { Server } from './methods.js'
import { cleanups, must, stopSshd } from './proc.js'
import type { Builds } from './site.js'

export interface FleetRun {
  hosts: number
  release: number
  ms: number
  fastestHostMs: number
  slowestHostMs: number
  wire: Wire
  /** CPU ms over the run: the whole machine, the servers (sshd trees), this process (the WAN simulator). */
  cpu: { busy: number; total: number; servers: number; runner: number; simulator: number }
}

interface Fleet {
  target: string
  hostDirs: string[]
  servers: Sshd[]
  links: Throttle[]
  groups: CpuGroups | undefined
}

/** Deploys releases 1 … 1 + CFG.fleetSamples to 1 host, then to CFG.hosts hosts. */
export async function measureFleet(
  server: Server,
  base: string,
  builds: Builds,
  actionNode: string,
): Promise<FleetRun[]> {
  const fleet = await startFleet(server, base)
  const fleetRuns: FleetRun[] = []
  for (const count of [1, CFG.hosts]) {
    for (const d of fleet.hostDirs) {
      const entries = readdirSync(d).map((e) => path.join(d, e))
      if (entries.length > 0) await must('rm', ['-rf', '--one-file-system', ...entries])
    }
    for (let k = 1; k <= 1 + CFG.fleetSamples; k++) {
      fleetRuns.push(await fleetDeploy(server, fleet, actionNode, count, k, builds.get(k)))
    }
  }
  for (let k = 1; k <= 1 + CFG.fleetSamples; k++) rmSync(builds.dir(k), { recursive: true, force: true })
  return fleetRuns
}

async function startFleet(server: Server, base: string): Promise<Fleet> {
  log(`fleet: starting ${CFG.hosts} sshds, each with its own disk at the same target path`)
  const fleetBase = path.join(base, 'fleet')
  const fleetTarget = path.join(fleetBase, 'srv')
  mkdirSync(fleetTarget, { recursive: true })
  const hostDirs = Array.from({ length: CFG.hosts }, (_, i) => path.join(fleetBase, `host${i}`))
  for (const d of hostDirs) {
    mkdirSync(d)
    chownSync(d, server.sshd.user.uid, server.sshd.user.gid)
  }
  const servers: Sshd[] = []
  const links: Throttle[] = []
  let groups: CpuGroups | undefined
  // Cleaned up after the servers have stopped (cleanups run last-in first-out).
  cleanups.push(() => groups?.dispose())
  // Stopped last-in first-out: the links before their sshds.
  cleanups.push(async () => {
    await Promise.all(servers.map(stopSshd))
  })
  cleanups.push(async () => {
    await Promise.all(links.map((l) => l.stop()))
  })
  for (const d of hostDirs) servers.push(await startSshd({ bind: { source: d, target: fleetTarget } }))
  // Server side: every process under the fleet's sshds. Runner side: this process and its children.
  groups = CpuGroups.create(['servers', 'runner'])
  if (groups) {
    for (const s of servers)
      groups.move(Number(readFileSync(path.join(s.dir, 'sshd.pid'), 'utf8')), 'servers')
    groups.move(process.pid, 'runner')
  } else {
    log('note: no writable cgroup for CPU accounting: the fleet table shows the machine total only')
  }
  for (const s of servers) {
    s.authorize(server.sshd.client.publicKey)
    links.push(
      await startThrottle({ targetPort: s.port, bytesPerSecond: BYTES_PER_SECOND, latencyMs: CFG.rttMs / 2 }),
    )
  }
  return { target: fleetTarget, hostDirs, servers, links, groups }
}

async function fleetDeploy(
  server: Server,
  fleet: Fleet,
  actionNode: string,
  count: number,
  k: number,
  src: string,
): Promise<FleetRun> {
  const { links, servers, groups, target: fleetTarget } = fleet
  const idx = Array.from({ length: count }, (_, i) => i)
  const used = idx.map((i) => links[i] as Throttle)
  await settle()
  const before = wire(used)
  const cpu0 = {
    m: machineCpu(),
    s: groups?.usageMs('servers') ?? 0,
    r: groups?.usageMs('runner') ?? 0,
    p: process.cpuUsage(),
  }
  const run = await runAction(
    {
      host: idx.map((i) => `${TEST_USER}@127.0.0.1:${(links[i] as Throttle).port}`).join('\n'),
      key: server.sshd.client.privateKey,
      'known-hosts': idx.map((i) => server.khFor((links[i] as Throttle).port, servers[i] as Sshd)).join(''),
      source: src,
      target: fleetTarget,
      'release-id': `f${k}`,
      'keep-releases': '0',
    },
    { node: actionNode, post: false },
  )
  // The servers' sessions end as the master closes: give them a moment to finish.
  await new Promise((r) => setTimeout(r, 300))
  const m1 = machineCpu()
  const p1 = process.cpuUsage(cpu0.p)
  if (run.code !== 0) throw new Error(`the fleet deploy failed:\n${run.stdout}\n${run.stderr}`)
  const hosts = JSON.parse(run.outputs.hosts ?? '[]') as { 'duration-ms': number; status: string }[]
  if (hosts.length !== count || hosts.some((h) => h.status !== 'deployed')) {
    throw new Error(`the fleet deploy did not deploy everywhere: ${run.outputs.hosts}`)
  }
  const r: FleetRun = {
    hosts: count,
    release: k,
    ms: run.durationMs,
    fastestHostMs: Math.min(...hosts.map((h) => Number(h['duration-ms']))),
    slowestHostMs: Math.max(...hosts.map((h) => Number(h['duration-ms']))),
    wire: wireSince(used, before),
    // The machine's figures include the 300 ms wait; busy time during it is next to nothing.
    cpu: {
      busy: m1.busy - cpu0.m.busy,
      total: m1.total - cpu0.m.total,
      servers: groups ? groups.usageMs('servers') - cpu0.s : Number.NaN,
      // The runner group holds this process too: its own time is the WAN simulator's.
      runner: groups ? groups.usageMs('runner') - cpu0.r - (p1.user + p1.system) / 1000 : Number.NaN,
      simulator: (p1.user + p1.system) / 1000,
    },
  }
  log(
    `fleet: ${count} host(s), release ${k}: ${sec(r.ms)} s (hosts ${sec(r.fastestHostMs)}–${sec(r.slowestHostMs)} s), ${mb(r.wire.up + r.wire.down)} MB on the wire, ${r.wire.connections} connection(s); CPU: machine ${Math.round((100 * r.cpu.busy) / r.cpu.total)}% busy, servers ${sec(r.cpu.servers)} s, runner ${sec(r.cpu.runner)} s, WAN simulator ${sec(r.cpu.simulator)} s`,
  )
  return r
}
