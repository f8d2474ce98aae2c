/** Measurements on the "server" (the same machine: its directories are local to us, we are root). */
import { chmodSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Throttle } from '../test/support/throttle.js'
import { log } from './config.js'
import { exec, firstLine, must } from './proc.js'

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

/**
 * Phase times of one host's run of the action, from the times its ::group:: lines arrived, in the
 * classic part's six columns. From groupPhases, so a log group added or renamed is not lost: every
 * group that is not connect, upload or (publish and) switch counts in `prepare`.
 */
export function phasesOf(marks: { t: number; line: string }[], t0: number, end: number): Phases | undefined {
  const named = groupPhases(marks, t0, end)
  if (named.length === 0) return undefined
  const sum = (test: (name: string) => boolean) =>
    named.filter((p) => test(p.name)).reduce((a, p) => a + p.ms, 0)
  const isConnect = (n: string) => n.startsWith('connect')
  const isSwitch = (n: string) => n.endsWith('switch')
  const fixed = (n: string) =>
    n === 'start' || n === 'finish' || n === 'upload' || isConnect(n) || isSwitch(n)
  return {
    start: sum((n) => n === 'start'),
    connect: sum(isConnect),
    prepare: sum((n) => !fixed(n)),
    upload: sum((n) => n === 'upload'),
    switch: sum(isSwitch),
    finish: sum((n) => n === 'finish'),
  }
}

/** What the server's sessions read: rchar (every read(2), page cache and pipes included), read_bytes (from the disk). */
export interface ServerIo {
  rchar: number
  readBytes: number
}

/**
 * The I/O counters of every session an sshd runs, for a server started with `ioLog.forceCommand`:
 * each session's command runs under a small sh that, once the command has ended (and been reaped:
 * Linux then adds its counters to the sh's), appends the sh's /proc/PID/io figures to a log. The
 * sshd's own counters do not do: its session processes are not summed into the listener's.
 */
export class IoLog {
  readonly forceCommand: string
  constructor(readonly file: string) {
    writeFileSync(file, '', { mode: 0o666 })
    chmodSync(file, 0o666)
    const script = `${file}.sh`
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        "# bench/measure.ts IoLog: the session's command, then its I/O counters (rchar read_bytes).",
        'sh -c "$SSH_ORIGINAL_COMMAND"',
        's=$?',
        `awk '/^rchar:/ { r = $2 } /^read_bytes:/ { b = $2 } END { print r, b }' /proc/$$/io >> ${file}`,
        'exit $s',
        '',
      ].join('\n'),
      { mode: 0o755 },
    )
    this.forceCommand = script
  }

  /** Where the log ends now. */
  mark(): number {
    return readFileSync(this.file, 'utf8').length
  }

  /** Sum of the sessions logged since the mark. */
  since(mark: number): ServerIo & { sessions: number } {
    const lines = readFileSync(this.file, 'utf8').slice(mark).split('\n').filter(Boolean)
    const io = { rchar: 0, readBytes: 0, sessions: lines.length }
    for (const l of lines) {
      const [r, b] = l.split(' ').map(Number)
      io.rchar += r ?? 0
      io.readBytes += b ?? 0
    }
    return io
  }
}

/** Waits (at most `ms`) until the sshd has reaped every session: its counters are then complete. */
export async function sessionsEnded(sshdPid: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    let children = ''
    try {
      children = readFileSync(`/proc/${sshdPid}/task/${sshdPid}/children`, 'utf8').trim()
    } catch {}
    if (children === '') return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** How the page cache was emptied of a release before a cold measurement. */
export type Eviction = 'fadvise' | 'drop_caches' | 'none'

const FADVISE = `
import os, sys
n = 0
for top in sys.argv[1:]:
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p): continue
            fd = os.open(p, os.O_RDONLY)
            try: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); n += 1
            finally: os.close(fd)
print(n)
`

/**
 * Drops the pages of these directories' files from the page cache, so the next read comes from the
 * disk: posix_fadvise(DONTNEED) per file (python3), which leaves the rest of the shared machine's
 * cache alone; else the whole cache (echo 3 > /proc/sys/vm/drop_caches). sync first: dirty pages stay.
 */
export async function evict(dirs: string[]): Promise<Eviction> {
  await must('sync', [])
  const py = await exec('python3', ['-c', FADVISE, ...dirs])
  if (py.code === 0) return 'fadvise'
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n')
    return 'drop_caches'
  } catch {
    return 'none'
  }
}

/** One log group of the action and the time from its start to the next one's (or its end). */
export interface NamedPhase {
  name: string
  ms: number
}

/**
 * A log group's name without the host it runs on (`user@host:port: prepare` → `prepare`): up to
 * the first `: ` when what is before it looks like a host label (no space; a `@`, `:` or `.` in
 * it), so a name with a colon of its own keeps it.
 */
export function groupName(title: string): string {
  const m = /^(\S+?): /.exec(title)
  return m && /[@:.]/.test(m[1] as string) ? title.slice(m[0].length) : title
}

/**
 * Every phase of one run of the action, in order: `start` (process start to the first group), each
 * log group by its name (without the host prefix), then `finish` (the last group's end to exit).
 * Generic, so a new group (e.g. a manifest step) shows up by itself.
 */
export function groupPhases(marks: { t: number; line: string }[], t0: number, end: number): NamedPhase[] {
  const groups = marks
    .map((m, i) => ({ m, i }))
    .filter(({ m }) => m.line.startsWith('::group::'))
    .map(({ m, i }) => ({ t: m.t, i, name: groupName(m.line.slice('::group::'.length)) }))
  if (groups.length === 0) return []
  const out: NamedPhase[] = [{ name: 'start', ms: (groups[0]?.t ?? t0) - t0 }]
  groups.forEach((g, j) => {
    const next = groups[j + 1]
    const close = marks.find((m, i) => i > g.i && m.line === '::endgroup::')?.t ?? end
    out.push({ name: g.name, ms: (next ? next.t : close) - g.t })
    if (!next) out.push({ name: 'finish', ms: end - close })
  })
  return out
}

/**
 * The phase names of many runs in one order that keeps each run's: a group only some runs have
 * (a fast path's step, a renamed one) goes right after the group it follows in those runs, not at
 * the end. `start` first and `finish` last whenever they appear.
 */
export function phaseOrder(runs: string[][]): string[] {
  const out: string[] = []
  for (const names of runs) {
    names.forEach((name, i) => {
      if (name === 'start' || name === 'finish' || out.includes(name)) return
      // After the nearest earlier name of this run already placed; first if none is.
      const before = names
        .slice(0, i)
        .reverse()
        .find((n) => out.includes(n))
      out.splice(before === undefined ? 0 : out.indexOf(before) + 1, 0, name)
    })
  }
  const seen = new Set(runs.flat())
  return [...(seen.has('start') ? ['start'] : []), ...out, ...(seen.has('finish') ? ['finish'] : [])]
}
