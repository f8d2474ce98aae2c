import { accessSync, constants, existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { DeployError } from './errors.js'
import { run } from './proc.js'

/**
 * What the machine running the deploy (the runner, or a laptop) must have, checked before anything
 * connects: not Windows, and a real rsync of at least MIN_RSYNC.
 *
 * Why 3.1.0: the transfer statistics are parsed from `--stats` as rsync 3.1 prints them
 * ("Number of files: N (reg: …)", "Number of regular files transferred"), and the terminal progress
 * line uses `--info=progress2`; both are 3.1.0. `--protect-args`, `--chmod`, `--link-dest` and
 * `--no-inc-recursive` are older. openrsync (macOS 15.4 and later ship it as /usr/bin/rsync) speaks
 * protocol 29 and lacks `--info`, `--protect-args` and `--no-inc-recursive`; the rsync 2.6.9 of
 * older macOS is too old as well.
 */
export const MIN_RSYNC: readonly [number, number, number] = [3, 1, 0]

/** Where a real rsync lives on macOS when the one on PATH is not: Homebrew (Apple silicon, Intel). */
export const MAC_RSYNC_CANDIDATES = ['/opt/homebrew/bin/rsync', '/usr/local/bin/rsync']

export type RsyncKind =
  | { kind: 'rsync'; version: [number, number, number]; protocol: number }
  | { kind: 'openrsync'; protocol: number }
  | { kind: 'unknown' }

/**
 * Reads `rsync --version` output. Samba rsync: "rsync  version 3.2.7  protocol version 31".
 * openrsync: "openrsync: protocol version 29"; macOS adds a line "rsync version 2.6.9 compatible",
 * which must not be taken for a real rsync 2.6.9 (nor any other "compatible" claim).
 */
export function parseRsyncVersion(text: string): RsyncKind {
  const open = /^openrsync:?\s.*?protocol version (\d+)/im.exec(text)
  if (open) return { kind: 'openrsync', protocol: Number(open[1]) }
  const m = /^rsync\s+version\s+v?(\d+)\.(\d+)(?:\.(\d+))?\S*\s+protocol version (\d+)/im.exec(text)
  if (!m) return { kind: 'unknown' }
  return {
    kind: 'rsync',
    version: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)],
    protocol: Number(m[4]),
  }
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0
    const b = min[i] ?? 0
    if (a !== b) return a > b
  }
  return true
}

/** Why this rsync cannot be used, or '' when it can. */
export function rsyncProblem(info: RsyncKind): string {
  const min = MIN_RSYNC.join('.')
  switch (info.kind) {
    case 'openrsync':
      return `it is openrsync (protocol ${info.protocol}), not rsync: it lacks options this tool needs (--info, --protect-args)`
    case 'unknown':
      return `its --version output is not rsync's`
    case 'rsync':
      return atLeast(info.version, MIN_RSYNC)
        ? ''
        : `it is rsync ${info.version.join('.')}; ${min} or later is needed`
  }
}

/** The Windows check, pure so a test can give any platform. */
export function platformProblem(platform: NodeJS.Platform): DeployError | undefined {
  if (platform !== 'win32') return undefined
  return new DeployError(
    'rsync-atomic-deploy does not run on Windows runners: it needs rsync, which Windows does not ship, ' +
      "and OpenSSH's connection sharing (ControlMaster, one SSH connection per deploy), which Windows' ssh lacks.",
    'Run the deploy job on Linux (runs-on: ubuntu-latest) or macOS (with `brew install rsync`). A build made ' +
      'on Windows can reach it through actions/upload-artifact and actions/download-artifact.',
    'runner',
  )
}

/** The message when no usable rsync was found; `tried` is path → why not. */
export function noRsyncError(tried: [string, string][], platform: NodeJS.Platform): DeployError {
  const why = tried.length ? tried.map(([p, w]) => `${p}: ${w}`).join('; ') : 'no rsync on PATH'
  const fix =
    platform === 'darwin'
      ? 'Install a real rsync: `brew install rsync` (it goes to /opt/homebrew/bin or /usr/local/bin, which are used before /usr/bin/rsync).'
      : `Install rsync ${MIN_RSYNC.join('.')} or later on this machine (e.g. \`apt-get install rsync\`) and make sure it is on PATH.`
  return new DeployError(`No usable rsync on this machine (${why}). Nothing was contacted.`, fix, 'runner')
}

/**
 * The first `name` on PATH that is a file this process may execute, or '' when there is none: what
 * @actions/io's which() finds, looked up without awaiting a stat per PATH entry (7-8 ms of every
 * deploy's start, before the connection could open). Entries that cannot be read are skipped.
 */
export function onPath(name: string, pathVar: string = process.env.PATH ?? ''): string {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue
    const p = path.join(dir, name)
    try {
      if (!statSync(p).isFile()) continue
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return ''
}

/** ssh on PATH, or why not: checked before anything connects. */
export function findSsh(pathVar?: string): string {
  const p = onPath('ssh', pathVar)
  if (p) return p
  throw new DeployError(
    'No ssh on this machine (none on PATH). Nothing was contacted.',
    "Install OpenSSH's client on this machine (e.g. `apt-get install openssh-client`) and make sure it is on PATH.",
    'runner',
  )
}

/** Candidates in order: the rsync on PATH first, then (macOS) Homebrew's. Duplicates dropped. */
export function rsyncCandidates(onPath: string, platform: NodeJS.Platform): string[] {
  const list = onPath ? [onPath] : []
  if (platform === 'darwin') list.push(...MAC_RSYNC_CANDIDATES)
  return [...new Set(list)]
}

/**
 * The rsync to run: the first candidate whose `--version` is a real rsync ≥ MIN_RSYNC. Run once per
 * command that uploads, before connecting.
 */
export async function findRsync(
  onPath: string,
  platform: NodeJS.Platform = process.platform,
  exists: (p: string) => boolean = existsSync,
  versionOf: (p: string) => Promise<string> = rsyncVersionText,
): Promise<string> {
  const tried: [string, string][] = []
  for (const p of rsyncCandidates(onPath, platform)) {
    if (p !== onPath && !exists(p)) continue
    let text: string
    try {
      text = await versionOf(p)
    } catch (e) {
      tried.push([p, `could not run it (${e instanceof Error ? e.message : String(e)})`])
      continue
    }
    const problem = rsyncProblem(parseRsyncVersion(text))
    if (!problem) return p
    tried.push([p, problem])
  }
  throw noRsyncError(tried, platform)
}

async function rsyncVersionText(p: string): Promise<string> {
  const r = await run(p, ['--version'], { signal: AbortSignal.timeout(10_000) })
  // openrsync may print its banner to stderr, and exit non-zero for --version.
  return `${r.stdout}\n${r.stderr}`
}
