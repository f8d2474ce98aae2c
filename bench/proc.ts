/** Processes: everything the benchmark starts is tracked, so an interrupted run still cleans up. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { Sshd } from '../test/support/harness.js'
import { log } from './config.js'
import { sec } from './format.js'

export const children = new Set<ChildProcess>()
export const cleanups: (() => Promise<void> | void)[] = []

export interface Timed {
  ms: number
  code: number
  stdout: string
  stderr: string
}

export function exec(cmd: string, args: string[], opts: { quiet?: boolean } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    // quiet: no pipes at all, for a process that leaves a daemon behind (ssh -f) holding them.
    const child = spawn(cmd, args, { stdio: opts.quiet ? 'ignore' : ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => {
      stdout += d
    })
    child.stderr?.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      children.delete(child)
      resolve({ ms: performance.now() - started, code: code ?? -1, stdout, stderr })
    })
  })
}

export async function must(cmd: string, args: string[], opts: { quiet?: boolean } = {}): Promise<Timed> {
  const r = await exec(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}\n${r.stdout.slice(-2000)}`)
  }
  return r
}

export function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? ''
}

/**
 * Waits for `p`, at most `ms`. The timer keeps the process alive meanwhile (a promise alone does
 * not: a stop() waiting for an exit that will never come would end the process mid-cleanup).
 */
export async function bounded(p: Promise<unknown> | unknown, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Sshd.stop(), bounded: after a Ctrl-C (sent to the whole process group) sshd may be gone already
 * and stop() would wait for an exit that was reported before. Then its pid and directory go here.
 */
export async function stopSshd(s: Sshd): Promise<void> {
  await bounded(s.stop(), 5_000)
  try {
    process.kill(Number(readFileSync(path.join(s.dir, 'sshd.pid'), 'utf8')), 'SIGTERM')
  } catch {}
  rmSync(s.dir, { recursive: true, force: true })
}

let cleaning: Promise<void> | undefined
/** Stops everything this run started and deletes its files; once, however often it is called. */
export function cleanup(): Promise<void> {
  cleaning ??= runCleanups()
  return cleaning
}

async function runCleanups(): Promise<void> {
  const t = performance.now()
  for (const c of children) c.kill('SIGTERM')
  while (cleanups.length > 0) {
    const fn = cleanups.pop()
    try {
      // Bounded: a stop() may wait for an exit that already happened (Ctrl-C reaches the whole group).
      await bounded(fn?.(), 120_000)
    } catch (e) {
      log(`cleanup: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  log(`cleaned up in ${sec(performance.now() - t)} s`)
}
