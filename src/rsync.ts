import path from 'node:path'
import { type RunOptions, run } from './proc.js'

export interface UploadPlan {
  /** Absolute local directory; a trailing slash is added (upload its contents). */
  source: string
  /** `alias:/abs/path/` of the fresh directory in .deploy/incoming. */
  destination: string
  /** Paths relative to the destination (rsync resolves relative --link-dest against it). */
  linkDest: string[]
  chmod: string
  exclude: string[]
  filter: string[]
  /** ssh command for -e (no spaces inside its words). */
  rsh: string
  dryRun: boolean
  /** Seconds without data before rsync gives up (exit 30). */
  ioTimeout: number
  progress: boolean
  /**
   * Absolute directory on the server where an interrupted transfer keeps the part of a file it
   * had received; the next upload continues from it instead of sending the whole file again.
   * Outside the upload directory, so it can never become part of a release. '' for none.
   */
  partialDir?: string
  /**
   * --protect-args (default): paths go over the protocol. Off through a gate (gate.ts), which must
   * read the whole command line to check it; the paths it allows hold no character to protect.
   */
  protectArgs?: boolean
  /**
   * The fast path: a local file of NUL-separated paths (relative to source) to send, and only
   * those: no --recursive (a listed directory is created with its mode, not walked), into the
   * server's hard-linked copy of the live release. So no --checksum but --ignore-times: every
   * listed file is written anew (a temporary file renamed over the link, never through it),
   * --force lets a file take the place of a directory that is still there, and --compress: only
   * what changed travels, so its text is worth the CPU (rsync skips media by suffix).
   * `-`: the list comes on rsync's stdin (an upload started before its list is known).
   */
  filesFrom?: string
}

/**
 * The --chmod rsync applies: setuid and setgid are cleared first, so the build's bits never reach
 * the server (a root deploy would make root-owned setuid programs of whatever the build holds);
 * the user's own clauses come after and may set them again on purpose (u+s, g+s, F4755).
 */
export function chmodSpec(userChmod: string): string {
  return `ug-s,${userChmod}`
}

/**
 * The rsync argv, pure so a test can read it.
 * - `-c` and no `-t`: after a CI rebuild every mtime is new, and rsync hard-links a file into the
 *   new release only when every preserved attribute matches: preserving times would link nothing.
 * - `--chmod` during the transfer, never a chmod after: linked inodes are shared with old releases.
 * - never `--inplace` (it would write through those hard links into old releases).
 * - `--protect-args` (-s) sends paths over the protocol: no remote-shell quoting, any file name
 *   survives. Its old name, not `--secluded-args`: that one exists only since rsync 3.2.6.
 */
export function rsyncArgs(plan: UploadPlan): string[] {
  const args = [
    ...(plan.filesFrom ? [`--files-from=${plan.filesFrom}`, '--from0'] : ['--recursive']),
    '--links',
    '--perms',
    `--chmod=${chmodSpec(plan.chmod)}`,
    ...(plan.filesFrom ? ['--ignore-times', '--force', '--compress'] : ['--checksum']),
    ...(plan.protectArgs === false ? [] : ['--protect-args']),
    '--stats',
    '--no-human-readable',
    `--timeout=${plan.ioTimeout}`,
    '-e',
    plan.rsh,
  ]
  if (plan.progress) args.push('--info=progress2', '--no-inc-recursive')
  if (plan.dryRun) args.push('--dry-run', '--itemize-changes')
  if (plan.partialDir) args.push(`--partial-dir=${plan.partialDir}`)
  for (const d of plan.linkDest.slice(0, 20)) args.push(`--link-dest=${d}`)
  for (const f of plan.filter) args.push(`--filter=${f}`)
  for (const e of plan.exclude) args.push(`--exclude=${e}`)
  // Absolute source: a relative one with ':' before any '/' would be taken for host:path.
  args.push(`${path.resolve(plan.source).replace(/\/+$/, '')}/`, plan.destination)
  return args
}

export interface RsyncStats {
  /** Regular files in the release. */
  files: number
  filesTransferred: number
  /** Regular files that were not sent (unchanged); the server counts which are really hard links. */
  filesLinked: number
  /** Symlinks in the release. */
  links: number
  bytesSent: number
  bytesReceived: number
  totalSize: number
  transferredSize: number
}

function num(text: string, label: string): number {
  const m = new RegExp(`^${label}:\\s*([0-9][0-9,.]*)`, 'm').exec(text)
  return m?.[1] ? Number(m[1].replace(/[,.]/g, '')) : 0
}

/** Parses `--stats --no-human-readable` output. */
export function parseStats(text: string): RsyncStats {
  const reg = /^Number of files:.*\breg: ([0-9,.]+)/m.exec(text)
  const files = reg?.[1] ? Number(reg[1].replace(/[,.]/g, '')) : 0
  const filesTransferred = num(text, 'Number of regular files transferred')
  return {
    files,
    filesTransferred,
    filesLinked: Math.max(0, files - filesTransferred),
    links: Number(/^Number of files:.*\blink: ([0-9,.]+)/m.exec(text)?.[1]?.replace(/[,.]/g, '') ?? 0),
    bytesSent: num(text, 'Total bytes sent'),
    bytesReceived: num(text, 'Total bytes received'),
    totalSize: num(text, 'Total file size'),
    transferredSize: num(text, 'Total transferred file size'),
  }
}

/** Lines of `--itemize-changes` output that name a file to send (dry run). */
export function itemizedFiles(text: string): string[] {
  return text.split('\n').filter((l) => /^[<>ch.*][fdLDS][.+?a-zA-Z]{9,10} /.test(l))
}

/** The one place rsync runs. */
export function runRsync(
  rsyncPath: string,
  plan: UploadPlan,
  opts: Pick<
    RunOptions,
    'signal' | 'onStdout' | 'env' | 'input' | 'abortKeepsStdin' | 'abortWith' | 'onExit'
  >,
) {
  return run(rsyncPath, rsyncArgs(plan), opts)
}
