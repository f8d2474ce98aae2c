/** The figures the tables and the report show, computed from what was measured. */
import os from 'node:os'
import { CFG } from './config.js'
import type { FleetRun } from './fleet.js'
import { mb, mbKb, median, sec } from './format.js'
import type { Phases, Sample } from './measure.js'
import type { Method, Methods } from './methods.js'
import type { ReleasesRun } from './releases.js'
import type { Site } from './site.js'

/** Everything one run measured. */
export interface Measured {
  site: Site
  methods: Methods
  releases: ReleasesRun
  fleetRuns: FleetRun[]
}

export type Figures = ReturnType<typeof figures>

export function figures(measured: Measured) {
  const { site, methods, fleetRuns } = measured
  const { results, cumulative, parts, duMs } = measured.releases
  const get = (key: Method['key']) => results.get(key) ?? []
  const first = (key: Method['key']) => get(key).find((s) => s.release === 1) as Sample
  const rebuilds = (key: Method['key']) => get(key).filter((s) => s.release > 1 && s.via === 'wan')
  const rebuildMs = (key: Method['key']) => median(rebuilds(key).map((s) => s.ms))
  const rebuild2 = (key: Method['key']) => get(key).find((s) => s.release === 2) as Sample
  const ratio = rebuildMs('ours') / rebuildMs('floor')
  const firstRatio = first('ours').ms / first('floor').ms
  const sshdAgrees = methods.every((m) =>
    get(m.key).every((s) => s.via !== 'wan' || s.sshdConnections === s.wire.connections),
  )

  const head = [
    'method',
    'first deploy s',
    'rebuild s',
    'rebuild wire MB',
    'SSH conns',
    'files sent',
    'new release disk MB',
  ]
  const rows = methods.map((m) => {
    const r2 = rebuild2(m.key)
    const n = rebuilds(m.key).length
    return [
      m.label,
      sec(first(m.key).ms),
      `${sec(rebuildMs(m.key))}${n > 1 ? ` (median of ${n})` : ''}`,
      mb(r2.wire.up + r2.wire.down),
      String(r2.wire.connections),
      String(r2.filesSent),
      mbKb(r2.diskKb),
    ]
  })

  // Where our time goes: each rebuild sample's phases, next to the floor's time for the same release.
  const ph = rebuilds('ours')
    .map((s) => s.phases)
    .filter((p): p is Phases => p !== undefined)
  const phase = (k: keyof Phases) => median(ph.map((p) => p[k]))
  const floorMs = rebuildMs('floor')
  const handshake = median(parts.handshake)
  const emptyCall = median(parts.call)
  const muxRsync = median(parts.rsync)
  const muxRsyncProgress = median(parts.progress)
  const muxActionLayout = median(parts.actionLayout)
  const muxAbsolute = median(parts.absolute)
  const progressCost = muxRsyncProgress - muxRsync
  const layoutCost = muxActionLayout - muxRsyncProgress
  const du = median(duMs)
  const overhead = rebuildMs('ours') - floorMs
  const fixed = phase('start') + phase('prepare') + phase('switch') + phase('finish')
  const sampleHead = [
    'release',
    'a s',
    'b s',
    'a / b',
    'start',
    'connect',
    'prepare',
    'upload',
    'switch',
    'finish',
  ]
  const sampleRows = rebuilds('ours').map((s) => {
    const f = rebuilds('floor').find((x) => x.release === s.release)
    const p = s.phases
    return [
      String(s.release),
      sec(s.ms),
      f ? sec(f.ms) : '—',
      f ? (s.ms / f.ms).toFixed(2) : '—',
      ...(p
        ? [p.start, p.connect, p.prepare, p.upload, p.switch, p.finish].map(sec)
        : ['', '', '', '', '', '']),
    ]
  })
  const phaseRows: string[][] = ph.length
    ? [
        ['Node start, read inputs, write key files', sec(phase('start')), '—'],
        [
          'connect: ssh master (TCP + SSH handshake)',
          sec(phase('connect')),
          `${sec(handshake)} (ssh -M -N -f)`,
        ],
        [
          'prepare: one remote call (and any log group not named here)',
          sec(phase('prepare')),
          `— (an empty call: ${sec(emptyCall)})`,
        ],
        [
          'upload: rsync over the master',
          sec(phase('upload')),
          `${sec(muxRsync)} (its rsync, over a master)`,
        ],
        ['… plus --info=progress2 --no-inc-recursive', '', sec(muxRsyncProgress)],
        ['… and laid out as the action does †', '', sec(muxActionLayout)],
        ['… but with an absolute --link-dest', '', sec(muxAbsolute)],
        ['publish and switch: one remote call', sec(phase('switch')), '—'],
        ['outputs, summary, close the master', sec(phase('finish')), '—'],
        ['total', sec(rebuildMs('ours')), `${sec(floorMs)} (one rsync, its own connection)`],
      ]
    : []

  // Fleets.
  const fleetOf = (hosts: number) => fleetRuns.filter((f) => f.hosts === hosts)
  const fleetFirst = (hosts: number) => fleetOf(hosts).find((f) => f.release === 1) as FleetRun
  const fleetRebuild = (hosts: number) =>
    median(
      fleetOf(hosts)
        .filter((f) => f.release > 1)
        .map((f) => f.ms),
    )
  /** Mean CPU figures (ms) of the rebuild runs of a fleet size. */
  const fleetCpu = (hosts: number, rebuild = true) => {
    const runs = fleetOf(hosts).filter((f) => (rebuild ? f.release > 1 : f.release === 1))
    const mean = (f: (r: FleetRun) => number) =>
      runs.reduce((acc, r) => acc + f(r), 0) / Math.max(1, runs.length)
    const busy = mean((r) => r.cpu.busy)
    return {
      busy,
      servers: mean((r) => r.cpu.servers),
      runner: mean((r) => r.cpu.runner),
      simulator: mean((r) => r.cpu.simulator),
      share: busy / mean((r) => r.cpu.total),
    }
  }
  const fleetHead = [
    'hosts',
    'first deploy s',
    'rebuild s',
    'rebuild wire MB',
    'SSH conns',
    'CPU s: servers',
    'runner',
    'WAN sim',
    'machine busy',
  ]
  const fleetRows = [1, CFG.hosts].map((h) => {
    const r2 = fleetOf(h).find((f) => f.release === 2) as FleetRun
    const c = fleetCpu(h)
    return [
      String(h),
      sec(fleetFirst(h).ms),
      `${sec(fleetRebuild(h))}${CFG.fleetSamples > 1 ? ` (median of ${CFG.fleetSamples})` : ''}`,
      mb(r2.wire.up + r2.wire.down),
      String(r2.wire.connections),
      sec(c.servers),
      sec(c.runner),
      sec(c.simulator),
      `${Math.round(100 * c.share)}%`,
    ]
  })
  const fleetRatioFirst = fleetFirst(CFG.hosts).ms / fleetFirst(1).ms
  const fleetRatioRebuild = fleetRebuild(CFG.hosts) / fleetRebuild(1)
  const cpus = os.cpus()
  const cpu1 = fleetCpu(1)
  const cpuN = fleetCpu(CFG.hosts)
  // A model, not a measurement: with every server on its own machine, the runner's extra CPU work
  // (one rsync sender and one ssh per host) is what would add to the one-host time.
  const fleetEstimate = fleetRebuild(1) + Math.max(0, cpuN.runner - cpu1.runner) / cpus.length
  const hostSpread = median(fleetOf(CFG.hosts).map((f) => f.slowestHostMs - f.fastestHostMs))

  const wanLine = `${CFG.files} files, ${mb(site.totalBytes)} MB; WAN ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms RTT; rebuild = new mtimes on every file, ${site.changedPerRebuild} files (${(CFG.changed * 100).toFixed(1)}%) changed`
  const chartSeries = [
    { key: 'full' as const, name: 'full copies', color: '#cf222e' },
    { key: 'recipe' as const, name: 'cp -al + rsync -a', color: '#bf8700', dash: '7 5' },
    { key: 'ours' as const, name: 'this action', color: '#0969da' },
  ].map((c) => ({ ...c, mb: (cumulative.get(c.key) ?? []).map((kb) => (kb * 1024) / 1e6) }))
  const diskHead = ['release', ...chartSeries.map((c) => `${c.name} MB`)]
  const diskRows = Array.from({ length: CFG.releases }, (_, i) => [
    String(i + 1),
    ...chartSeries.map((c) => (c.mb[i] ?? 0).toFixed(1)),
  ])

  return {
    get,
    first,
    rebuilds,
    rebuildMs,
    rebuild2,
    ratio,
    firstRatio,
    sshdAgrees,
    head,
    rows,
    ph,
    phase,
    floorMs,
    handshake,
    emptyCall,
    muxRsync,
    muxRsyncProgress,
    muxActionLayout,
    muxAbsolute,
    progressCost,
    layoutCost,
    du,
    overhead,
    fixed,
    sampleHead,
    sampleRows,
    phaseRows,
    fleetOf,
    fleetFirst,
    fleetRebuild,
    fleetCpu,
    fleetHead,
    fleetRows,
    fleetRatioFirst,
    fleetRatioRebuild,
    cpus,
    cpu1,
    cpuN,
    fleetEstimate,
    hostSpread,
    wanLine,
    chartSeries,
    diskHead,
    diskRows,
  }
}
