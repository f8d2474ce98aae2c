/** Measurements on the "server" (the same machine: its directories are local to us, we are root). */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Throttle } from '../test/support/throttle.js'
import { log } from './config.js'
import { firstLine, must } from './proc.js'

/** KiB of disk the last dir adds when the others are counted first (du counts an inode once). */
export async function duKb(...dirs: string[]): Promise<{ kb: number; ms: number }> {
  const r = await must('du', ['-sk', ...dirs])
  const last = r.stdout.trim().split('\n').pop() ?? ''
  return { kb: Number(last.split('\t')[0]), ms: r.ms }
}

/** Time spent on housekeeping between measurements (for the log). */
export const housekeeping = { settle: 0, build: 0 }

export async function settle(): Promise<void> {
  // Dirty pages of the previous run must not be written back during the next one.
  housekeeping.settle += (await must('sync', [])).ms
}

export const CLK_TCK = Number(firstLine('getconf', ['CLK_TCK'])) || 100

/** CPU time of the whole machine: busy and total, in ms summed over cores (from /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return { busy: ((total - idle) * 1000) / CLK_TCK, total: (total * 1000) / CLK_TCK }
}

/**
 * CPU accounting groups (cgroup v1 cpuacct, or v2 with the cpu controller), so the fleet's CPU time
 * can be split into the servers' side (every process under the fleet's sshds) and the runner's
 * side (the action, its ssh and rsync processes, and this process). Processes started by a member
 * stay members, daemonised ssh masters included. Undefined when the machine offers no writable one.
 */
export class CpuGroups {
  private constructor(
    private readonly parent: string,
    private readonly root: string,
    private readonly v2: boolean,
    private readonly names: string[],
  ) {}

  static create(names: string[]): CpuGroups | undefined {
    const candidates: [string, boolean][] = [['/sys/fs/cgroup/cpuacct', false]]
    try {
      if (readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('cpu')) {
        candidates.unshift(['/sys/fs/cgroup', true])
      }
    } catch {}
    for (const [parent, v2] of candidates) {
      const root = path.join(parent, `radbench-${process.pid}`)
      try {
        mkdirSync(root)
        if (v2) writeFileSync(path.join(root, 'cgroup.subtree_control'), '+cpu')
        for (const n of names) mkdirSync(path.join(root, n))
        const g = new CpuGroups(parent, root, v2, names)
        g.usageMs(names[0] as string)
        return g
      } catch {
        for (const n of names) {
          try {
            rmdirSync(path.join(root, n))
          } catch {}
        }
        try {
          rmdirSync(root)
        } catch {}
      }
    }
    return undefined
  }

  /** Moves a process (all its threads) into a group; its future children follow. */
  move(pid: number, name: string): void {
    writeFileSync(path.join(this.root, name, 'cgroup.procs'), `${pid}\n`)
  }

  usageMs(name: string): number {
    const dir = path.join(this.root, name)
    if (!this.v2) return Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6
    const m = /^usage_usec (\d+)/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))
    return Number(m?.[1] ?? 0) / 1000
  }

  /**
   * Moves this process back where it was and removes the groups. What is still in them is ours
   * (sessions of our sshds, an ssh master of an interrupted deploy): given a moment, then stopped.
   */
  async dispose(): Promise<void> {
    try {
      writeFileSync(path.join(this.parent, 'cgroup.procs'), `${process.pid}\n`)
    } catch {}
    const members = (n: string) => {
      try {
        return readFileSync(path.join(this.root, n, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number)
      } catch {
        return []
      }
    }
    for (let i = 0; i < 50 && this.names.some((n) => members(n).length > 0); i++) {
      if (i === 20) {
        for (const pid of this.names.flatMap(members)) {
          try {
            process.kill(pid, 'SIGTERM')
          } catch {}
        }
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    for (const n of this.names) {
      try {
        rmdirSync(path.join(this.root, n))
      } catch (e) {
        log(`could not remove the cgroup ${path.join(this.root, n)}: ${e instanceof Error ? e.message : e}`)
      }
    }
    try {
      rmdirSync(this.root)
    } catch {}
  }
}

export interface Wire {
  up: number
  down: number
  connections: number
}

export function wire(links: Throttle[]): Wire {
  const w = { up: 0, down: 0, connections: 0 }
  for (const l of links) {
    const b = l.bytes()
    w.up += b.up
    w.down += b.down
    w.connections += l.connections()
  }
  return w
}

export function wireSince(links: Throttle[], before: Wire): Wire {
  const now = wire(links)
  return {
    up: now.up - before.up,
    down: now.down - before.down,
    connections: now.connections - before.connections,
  }
}

/** One deploy's figures. */
export interface Sample {
  release: number
  via: 'wan' | 'lan'
  ms: number
  wire: Wire
  /** Connections sshd logged (a cross-check of the proxy's count). */
  sshdConnections: number
  /** KiB the new release adds on disk. */
  diskKb: number
  filesSent: number
  phases?: Phases
}

export interface Phases {
  start: number
  connect: number
  prepare: number
  upload: number
  switch: number
  finish: number
}

/** Phase times of one host's run of the action, from the times its ::group:: lines arrived. */
export function phasesOf(marks: { t: number; line: string }[], t0: number, end: number): Phases | undefined {
  const index = (re: RegExp) => marks.findIndex((m) => re.test(m.line))
  const at = (i: number) => (i < 0 ? undefined : marks[i]?.t)
  const swIndex = index(/^::group::.*: publish and switch$/)
  const connect = at(index(/^::group::.*: connect and check$/))
  const prepare = at(index(/^::group::.*: prepare$/))
  const upload = at(index(/^::group::.*: upload$/))
  const sw = at(swIndex)
  if (connect === undefined || prepare === undefined || upload === undefined || sw === undefined)
    return undefined
  const swEnd = marks.find((m, i) => i > swIndex && m.line === '::endgroup::')?.t ?? end
  return {
    start: connect - t0,
    connect: prepare - connect,
    prepare: upload - prepare,
    upload: sw - upload,
    switch: swEnd - sw,
    finish: end - swEnd,
  }
}
