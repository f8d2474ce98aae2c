/**
 * One server behind one WAN link: the four methods, release after release, with the disk each
 * release adds; each sampled rebuild of the floor also taken apart.
 */
import { chownSync, mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { CFG, log } from './config.js'
import { mb, mbKb, sec } from './format.js'
import { duKb, type Sample, settle, wire, wireSince } from './measure.js'
import { floorArgs, type Method, type Methods, openMaster, type Server } from './methods.js'
import { exec, must } from './proc.js'
import type { Builds } from './site.js'

/**
 * The floor taken apart, for each rebuild sample: the handshake alone (opening a master, as the
 * action does), one empty remote call over it, then over it the floor's rsync and three variants:
 * with the two options the action's upload adds (--info=progress2 --no-inc-recursive); that, laid
 * out as the action lays it out (into .deploy/incoming/<name>, --link-dest=../../../<live>); and
 * that with an absolute --link-dest.
 */
export interface Parts {
  handshake: number[]
  call: number[]
  rsync: number[]
  progress: number[]
  actionLayout: number[]
  absolute: number[]
}

export interface ReleasesRun {
  results: Map<Method['key'], Sample[]>
  /** KiB of each method's deploy root after each release. */
  cumulative: Map<Method['key'], number[]>
  parts: Parts
  /** How long the switch's `du -sk previous new` took, per rebuild. */
  duMs: number[]
  /** One connection and one command, straight to the sshd and through the WAN (ms). */
  direct: number[]
  overWan: number[]
}

export async function measureReleases(
  server: Server,
  methods: Methods,
  builds: Builds,
): Promise<ReleasesRun> {
  const { sshd, link } = server
  const [ours, floor, full, recipe] = methods
  const results = new Map<Method['key'], Sample[]>(methods.map((m) => [m.key, []]))
  const cumulative = new Map<Method['key'], number[]>(methods.map((m) => [m.key, []]))
  const parts: Parts = { handshake: [], call: [], rsync: [], progress: [], actionLayout: [], absolute: [] }
  const floorIncoming = path.join(floor.root, '.deploy', 'incoming')
  mkdirSync(floorIncoming, { recursive: true })
  for (const d of [path.dirname(floorIncoming), floorIncoming]) chownSync(d, sshd.user.uid, sshd.user.gid)
  const duMs: number[] = []

  for (let k = 1; k <= CFG.releases; k++) {
    const src = builds.get(k)
    // a and b take turns going first, so neither always meets the caches the other warmed.
    const order = k % 2 ? [floor, ours, full, recipe] : methods
    for (const m of order) {
      // Over the WAN: release 1, and the rebuilds we take samples of; the rest only feed the chart,
      // which does not show the floor (its disk is ours).
      const sampled = m.key === 'ours' || m.key === 'floor' ? k <= 1 + CFG.samples : k <= 2
      if (m.key === 'floor' && !sampled) continue
      const via = sampled ? 'wan' : 'lan'
      await settle()
      const before = wire([link])
      const sshdBefore = sshd.connections()
      const r = await m.deploy(k, via, src)
      const w = wireSince([link], before)
      const du = k > 1 ? await duKb(m.release(k - 1), m.release(k)) : await duKb(m.release(k))
      if (k > 1) duMs.push(du.ms)
      cumulative.get(m.key)?.push((await duKb(m.root)).kb)
      results.get(m.key)?.push({
        release: k,
        via,
        ms: r.ms,
        wire: w,
        sshdConnections: sshd.connections() - sshdBefore,
        diskKb: du.kb,
        filesSent: r.filesSent,
        phases: r.phases,
      })
      if (m.key === 'floor' && k > 1 && sampled) {
        await takeFloorApart(server, floor, floorIncoming, k, src, parts)
      }
      log(
        `release ${k}, ${m.label}: ${sec(r.ms)} s${via === 'wan' ? ` (WAN, ${mb(w.up + w.down)} MB on the wire, ${w.connections} connection(s))` : ' (direct)'}, ${r.filesSent} files sent, +${mbKb(du.kb)} MB on disk`,
      )
    }
    if (builds.lastUse(k) === 'releases') rmSync(src, { recursive: true, force: true })
  }

  // One connection and one command, straight to the sshd and through the WAN: what a connection costs.
  const direct: number[] = []
  const overWan: number[] = []
  for (let i = 0; i < 3; i++) {
    direct.push((await server.ssh('lan', 'true')).ms)
    overWan.push((await server.ssh('wan', 'true')).ms)
  }
  return { results, cumulative, parts, duMs, direct, overWan }
}

/** One rebuild of the floor again, over a master opened first: where its time goes. */
async function takeFloorApart(
  server: Server,
  floor: Method,
  floorIncoming: string,
  k: number,
  src: string,
  parts: Parts,
): Promise<void> {
  await settle()
  const master = await openMaster(server, 'wanmux', 120)
  parts.handshake.push(master.ms)
  try {
    parts.call.push((await server.ssh('wanmux', 'true')).ms)
    const variants: [number[], string, boolean, string | undefined][] = [
      [parts.rsync, path.join(floor.root, `x${k}`), false, undefined],
      [parts.progress, path.join(floor.root, `x${k}`), true, undefined],
      [parts.actionLayout, path.join(floorIncoming, `x${k}`), true, `../../../r${k - 1}`],
      [parts.absolute, path.join(floor.root, `x${k}`), true, path.join(floor.root, `r${k - 1}`)],
    ]
    // Taking turns at going first, so none always finds the caches warmer.
    for (let i = 0; i < variants.length; i++) {
      const [into, dest, progress, linkDest] = variants[(i + k) % variants.length] as (typeof variants)[0]
      await settle()
      into.push((await must('rsync', floorArgs(server, k, 'wanmux', src, dest, progress, linkDest))).ms)
      await must('rm', ['-rf', dest])
    }
  } finally {
    await exec('ssh', ['-F', server.sshConfig, '-O', 'exit', 'wanmux'], { quiet: true })
  }
}
