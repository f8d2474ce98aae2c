/** Running the CLI bundle (dist/cli/index.js) the CI way: host, key file and known_hosts file given. */
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, type Sshd, TEST_USER } from './harness.js'

export const CLI = path.join(ROOT, 'dist/cli/index.js')

/** How a run of the CLI ended: its exit code, and what it wrote to stdout and to stderr. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** `--host --key --known-hosts` for `user` on `server`, with its key and known_hosts written into `dir`. */
export function cliConnection(server: Sshd, dir: string, user = TEST_USER): string[] {
  const key = path.join(dir, 'key')
  writeFileSync(key, server.client.privateKey, { mode: 0o600 })
  const known = path.join(dir, 'known_hosts')
  writeFileSync(known, server.knownHosts)
  return ['--host', `${user}@127.0.0.1:${server.port}`, '--key', key, '--known-hosts', known]
}

/** Waits for `child` to exit: its exit code, and its stdout and stderr as one text, as they came. */
export function outputOf(child: ChildProcess): Promise<{ code: number; text: string }> {
  return new Promise((resolve) => {
    let text = ''
    child.stdout?.on('data', (d) => {
      text += d
    })
    child.stderr?.on('data', (d) => {
      text += d
    })
    child.on('close', (code) => resolve({ code: code ?? -1, text }))
  })
}

/** Waits for `child` to exit: its exit code, and its stdout and its stderr, each apart. */
export async function outputsOf(child: ChildProcess): Promise<CliRun> {
  const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] }
  child.stdout?.on('data', (d: Buffer) => out.stdout.push(d))
  child.stderr?.on('data', (d: Buffer) => out.stderr.push(d))
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)))
  return { code, stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() }
}

/** The CLI bundle run as root in `cwd`, with only PATH and HOME of this environment (and no colours). */
export function runCli(args: string[], cwd = '/tmp'): Promise<CliRun> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }
  return outputsOf(spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }))
}
