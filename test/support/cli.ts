/** Running the CLI bundle (dist/cli/index.js) the CI way: host, key file and known_hosts file given. */
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, type Sshd, TEST_USER } from './harness.js'

export const CLI = path.join(ROOT, 'dist/cli/index.js')

/** `--host --key --known-hosts` for `server`, with its key and known_hosts written into `dir`. */
export function cliConnection(server: Sshd, dir: string): string[] {
  const key = path.join(dir, 'key')
  writeFileSync(key, server.client.privateKey, { mode: 0o600 })
  const known = path.join(dir, 'known_hosts')
  writeFileSync(known, server.knownHosts)
  return ['--host', `${TEST_USER}@127.0.0.1:${server.port}`, '--key', key, '--known-hosts', known]
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
