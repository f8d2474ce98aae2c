import { spawn } from 'node:child_process'
import { childEnv } from './env.js'

/**
 * The one place a process is spawned: argv arrays only (never a shell), optional stdin text,
 * cancellation through an AbortSignal (SIGTERM, then SIGKILL after a grace period).
 */
export interface RunOptions {
  /**
   * What goes to stdin; a promise: written when it resolves (the process is already running,
   * reading nothing until then), and null ends stdin with nothing written.
   */
  input?: string | Promise<string | null>
  /** Written to stdin at once, before `input` (a session opened ahead: its constant part). */
  preface?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  signal?: AbortSignal
  /** Called with each chunk of stdout/stderr as it arrives (progress, streaming hook output). */
  onStdout?: (chunk: string) => void
  onStderr?: (chunk: string) => void
  /** Where stderr goes; 'pipe' (default) captures it. A file descriptor avoids pipes held open by daemons. */
  stderrFd?: number
  /**
   * Leave stdin open after `input` until the child exits or the call is aborted: the remote
   * script's watchdog stops its work when stdin ends, i.e. when we give up or the connection dies.
   */
  keepStdinOpen?: boolean
  /** Told as soon as the process has exited (before its output is drained). */
  onExit?: () => void
  /**
   * On abort, signal the process without ending its stdin first: for a reader of a list on stdin
   * (rsync --files-from=-), whose end would read as an empty list, still a transfer.
   */
  abortKeepsStdin?: boolean
  /** The signal an abort sends (SIGTERM unless told). */
  abortWith?: () => NodeJS.Signals
}

export interface RunResult {
  code: number
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  aborted: boolean
}

const KILL_GRACE_MS = 3000

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: -1, signal: null, stdout: '', stderr: '', aborted: true })
      return
    }
    const child = spawn(file, [...args], {
      // Never the runner's INPUT_* (the key) or a CI job's secrets: see env.ts.
      env: opts.env ?? childEnv(process.env, { own: true }),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', opts.stderrFd ?? 'pipe'],
      shell: false,
    })
    let stdout = ''
    let stderr = ''
    let aborted = false
    let killTimer: NodeJS.Timeout | undefined
    const onAbort = () => {
      aborted = true
      if (!opts.abortKeepsStdin) child.stdin?.end()
      child.kill(opts.abortWith?.() ?? 'SIGTERM')
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
      killTimer.unref()
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (d: string) => {
      stdout += d
      opts.onStdout?.(d)
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (d: string) => {
      stderr += d
      opts.onStderr?.(d)
    })
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort)
      reject(err)
    })
    let done = false
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return
      done = true
      opts.signal?.removeEventListener('abort', onAbort)
      if (killTimer) clearTimeout(killTimer)
      resolve({ code: code ?? -1, signal, stdout, stderr, aborted })
    }
    child.on('close', finish)
    // Once aborted, the child's own exit is enough: a grandchild that inherited our pipes (rsync's
    // ssh, stuck on a stalled link) would otherwise hold 'close' back for as long as it lives.
    child.on('exit', (code, signal) => {
      opts.onExit?.()
      child.stdin?.end()
      if (!aborted) return
      setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
        finish(code, signal)
      }, 100)
    })
    // A closed stdin (EPIPE) is reported through the exit code; do not crash on it.
    child.stdin?.on('error', () => {})
    const write = (text: string | null) => {
      if (text === null) child.stdin?.end()
      else if (opts.keepStdinOpen) child.stdin?.write(text)
      else child.stdin?.end(text)
    }
    if (opts.preface) child.stdin?.write(opts.preface)
    const input = opts.input
    if (typeof input === 'object') input.then(write, () => write(null))
    else write(input ?? '')
  })
}
