import { DeployError } from './errors.js'
import { type GateInfo, gateHint, gateProtocolError, parseGateLine } from './gate.js'
import { loginShellFailure, remoteErrorHint } from './hints.js'
import type { HostSpec } from './hosts.js'
import type { RunResult } from './proc.js'
import {
  first,
  type LockVars,
  MARK,
  mayTakeLock,
  parseReply,
  remoteCommand,
  renderAhead,
  renderCall,
  renderScript,
  type ScriptName,
  type ScriptReply,
  type ScriptVars,
  withoutAheadLine,
} from './remote.js'
import type { Reporter, Settings } from './settings.js'
import { refusedSession, type Ssh } from './ssh.js'
import { LineSplitter, untrusted, untrustedLines } from './untrusted.js'
import { ACTION_WORDS, type Words } from './words.js'

/** What the deploy core needs from its caller (the action or the CLI) for one run of a command. */
export interface RunContext {
  settings: Settings
  ssh: Ssh
  reporter: Reporter
  /** Aborted on timeout or cancellation. */
  signal: AbortSignal
  /**
   * When the run ends, clean-up included (epoch ms): every script is told how long it has, and
   * changes nothing on the server after that, whether or not the client can still reach it.
   */
  deadline: number
  /** Random per run: marks our lock and our temporary names on the servers. */
  token: string
  rsyncPath: string
  /**
   * Told when a host's lock may be ours (true: a script said `lock taken`, or a call that takes it
   * started) or is not (false), so the post step can release it. Only HostSession calls it.
   */
  onLock?: (hostIndex: number, held: boolean) => void
  /** How messages name inputs and commands (default: the action's words). */
  words?: Words
}

/** How this run's messages name inputs and commands. */
export function wordsOf(ctx: RunContext): Words {
  return ctx.words ?? ACTION_WORDS
}

/** A short-lived signal for clean-up after the main one was aborted (timeout, cancel). */
export function cleanupSignal(): AbortSignal {
  return AbortSignal.timeout(30_000)
}

/** The bound of the clean-up after giving up (stop, read back, unlock): the step ends within timeout + 10 s. */
export function giveUpSignal(): AbortSignal {
  return AbortSignal.timeout(6_000)
}

/**
 * Whether this run holds a host's deploy lock: `maybe` while a call that may take it has not
 * told us (cut short, it may have), `held` and `free` as the server said.
 */
export type LockHeld = 'free' | 'maybe' | 'held'

/** The variables a session adds to every call (see baseVars). */
type SessionVars = keyof LockVars

/** What a caller gives a script: its own variables (ScriptVars without the session's). */
export type CallVars<N extends ScriptName> = Omit<ScriptVars[N], SessionVars>

/**
 * What the lock lines of a reply (`lock taken|kept|released|not-ours`, in order) leave the lock
 * as; `complete` when the script ran to its end (a reply that says ok or names its error): then a
 * lock that was only maybe ours was never taken.
 */
export function lockAfter(before: LockHeld, said: string[], complete: boolean): LockHeld {
  const last = said.at(-1)?.split(' ')[0]
  if (last === 'taken' || last === 'kept') return 'held'
  if (last === 'released' || last === 'not-ours') return 'free'
  return before === 'maybe' && complete ? 'free' : before
}

/** Seconds a deploy waits for another one's lock before it fails naming the holder. */
export function lockWaitSeconds(timeoutSeconds: number): number {
  return Math.max(4, Math.min(300, Math.floor(timeoutSeconds / 3)))
}

/** One server, reached over its one multiplexed connection. */
export class HostSession {
  /** Set once the shared connection dropped: later calls each open a connection of their own. */
  fresh = false
  /**
   * The gate this host's key is forced through (gate.ts), as its first reply said; undefined for
   * a key with a shell. rsync then goes without --protect-args (the gate checks its command line).
   */
  gate: GateInfo | undefined
  /** Learned from what the scripts report; every change is told to ctx.onLock (the post step). */
  private lockState: LockHeld = 'free'
  /** A session opened ahead of its call (openAhead), waiting for its script. */
  private ahead: Ahead | undefined
  /** Sessions opened ahead so far (at most two: see openAhead). */
  private aheadOpened = 0
  /**
   * The server refused a session opened ahead: it allows one at a time. A session asked for just
   * after the last one ended may then be refused too (the server not yet done closing it), and ssh
   * would connect on its own: from then on every session and upload is over the master only, and
   * asked again after a refusal (nothing ran).
   */
  oneSession = false

  constructor(
    readonly ctx: RunContext,
    readonly index: number,
    readonly spec: HostSpec,
  ) {}

  /** Whether the lock is ours as far as the server told us (`maybe`: a call cut short may have taken it). */
  get lock(): LockHeld {
    return this.lockState
  }

  private setLock(next: LockHeld): void {
    const was = this.lockState !== 'free'
    this.lockState = next
    if (was !== (next !== 'free')) this.ctx.onLock?.(this.index, next !== 'free')
  }

  get label(): string {
    return this.spec.label
  }

  /** Values every script gets: the target, the link, our lock token and who we are. */
  private baseVars(): LockVars {
    const s = this.ctx.settings
    return {
      T: s.target,
      LINK: s.linkName,
      TOKEN: this.ctx.token,
      LEFT: Math.max(1, Math.ceil((this.ctx.deadline - Date.now()) / 1000)),
      LOCK_WAIT: lockWaitSeconds(s.timeoutSeconds),
      LOCK_TTL: s.timeoutSeconds + 120,
      LOCK_OWNER: JSON.stringify({
        run: s.meta.runUrl,
        actor: s.meta.actor,
        ref: s.meta.ref,
        sha: s.meta.sha,
        command: s.command,
        release: s.releaseId,
        since: new Date().toISOString(),
      }),
    }
  }

  /**
   * Opens the session of a call that comes later (publish, while rsync uploads): its channel, the
   * login shell and `sh -s` are ready when the call comes, which saves their round trips. sh reads
   * its script from stdin, so nothing runs until the call gives it; a session never called gets
   * none (dropAhead ends its stdin: sh reads an empty script and exits). Not through a gate (which
   * would log the empty call as refused), nor once the connection is in doubt.
   */
  openAhead(name: ScriptName): void {
    // One that ended unused (refused by a server that allows one session at a time) is retried
    // once, beside rsync; never more (each refusal can cost the server a failed login).
    if ((this.ahead && !this.ahead.settled) || this.aheadOpened >= 2) return
    // A server known to allow one session refuses it (its refusal still costs the server a try).
    if (this.oneSession) return
    if (this.fresh || this.gate || this.ctx.signal.aborted) return
    this.aheadOpened++
    this.ahead?.give(null)
    let give: (script: string | null) => void = () => {}
    const input = new Promise<string | null>((resolve) => {
      give = resolve
    })
    const hooks: Ahead['hooks'] = {}
    const state = { settled: false }
    let opened: (yes: boolean) => void = () => {}
    const open = new Promise<boolean>((resolve) => {
      opened = resolve
    })
    const settle = () => {
      state.settled = true
      opened(false)
    }
    const exec = this.ctx.ssh.exec(this.index, input, {
      command: remoteCommand(name),
      // The library and the script, read and defined by sh while it waits for the call.
      preface: renderAhead(name),
      // Refused (a server that allows one session), it ends: it never connects on its own.
      muxOnly: true,
      signal: this.ctx.signal,
      // Its first byte (AHEAD_OPEN, or a login shell's text) says the server took the session.
      onStdout: (c) => {
        opened(true)
        hooks.onStdout?.(c)
      },
      onStderr: (c) => hooks.onStderr?.(c),
      // Known at its exit, not after its output is drained: a call never gives it its script then.
      onExit: settle,
    })
    // Refused: this server allows one session at a time (see oneSession), known to whoever awaits it.
    const result = exec.then((r) => {
      if (refusedSession(r, true)) this.oneSession = true
      return r
    })
    result.then(settle, settle)
    const ahead: Ahead = {
      name,
      give,
      get settled() {
        return state.settled
      },
      open,
      result,
      hooks,
    }
    this.ahead = ahead
  }

  /**
   * Before rsync opens a session of its own: a session opened ahead that no call took is ended
   * first (and waited for, briefly). On a server that allows one session, it would otherwise hold
   * rsync's place, and ssh would take rsync around the master (a second connection, which fails
   * where the key needs its passphrase). (prepare opens one only when nothing is to be uploaded.)
   */
  async makeRoom(): Promise<void> {
    const a = this.ahead
    this.ahead = undefined
    if (a) await endAhead(a)
  }

  /** Ends a session opened ahead that no call took (the run failed or went another way). */
  dropAhead(): void {
    this.ahead?.give(null)
    this.ahead = undefined
  }

  /** Runs a remote script; a reported error becomes a DeployError with its hint. */
  async call<N extends ScriptName>(
    name: N,
    vars: CallVars<N>,
    opts: {
      signal?: AbortSignal
      onOther?: (line: string) => void
      onStderr?: (chunk: string) => void
      /** Each piece of stdout as it comes (untrusted: the reply is what counts). */
      onStdout?: (chunk: string) => void
    } = {},
  ): Promise<ScriptReply> {
    const all = { ...this.baseVars(), ...vars } as ScriptVars[N]
    // Said before the call: if we are killed before its reply, the post step still looks.
    if (this.lockState === 'free' && mayTakeLock(name, vars as Partial<ScriptVars[N]>)) this.setLock('maybe')
    // Said while it happens: a wait for another run's lock can last minutes.
    // Linear however long a line the server sends; only a bounded start of each line is kept.
    const lines = new LineSplitter((l) => {
      if (l.startsWith(`${MARK} waiting `)) {
        this.ctx.reporter.info(
          `${this.label}: waiting for the deploy lock, held by ${untrusted(l.slice(MARK.length + 9))}`,
        )
      }
    })
    const onStdout = (chunk: string) => {
      lines.push(chunk)
      opts.onStdout?.(chunk)
    }
    // After a timeout or cancel only clean-up calls remain: they get a connection of their own,
    // as the shared one may be what hung (a stalled link keeps it open and silent).
    const fresh = this.ctx.signal.aborted || this.fresh
    // The session opened ahead for this script, if it is still there and nothing else is asked.
    const ahead = this.ahead
    this.ahead = undefined
    const useAhead = ahead?.name === name && !ahead.settled && !fresh && opts.signal === undefined
    // Any other call first ends it: a server that allows one session per connection (MaxSessions
    // 1) has no room for both.
    if (ahead && !useAhead) await endAhead(ahead)
    // Given its script only once the server has taken it: one not yet answered may still be refused
    // (exit 255, a session that never ran), and the call would read that as the connection lost.
    const taken = ahead !== undefined && useAhead && (await ahead.open)
    // Ended with nothing run: refused (then oneSession is set once its result is in) or its
    // connection dropped (the call finds out).
    if (ahead && useAhead && !taken) await ahead.result.catch(() => undefined)
    let result: RunResult
    if (ahead && taken) {
      ahead.hooks.onStdout = onStdout
      ahead.hooks.onStderr = opts.onStderr
      ahead.give(renderCall(all))
      result = await ahead.result
      result = { ...result, stdout: withoutAheadLine(result.stdout) }
    } else {
      const script = renderScript(name, all)
      result = await overMaster(
        this,
        fresh,
        (muxOnly) =>
          this.ctx.ssh.exec(this.index, script, {
            command: remoteCommand(name),
            signal: opts.signal ?? this.ctx.signal,
            onStdout,
            onStderr: opts.onStderr,
            fresh,
            muxOnly,
          }),
        true,
      )
    }
    // Refused every time (a server that allows one session, slow to close the last): nothing ran.
    if (refusedSession(result, true)) throw sessionRefused(this.label, name)
    const reply = parseReply(result.stdout)
    // Every reply through a gate starts by naming it: no round trip of its own.
    const gate = parseGateLine(first(reply, 'gate'))
    if (gate) this.gate = gate
    if (reply.error?.code === 'gate-protocol') throw gateProtocolError(this.label, gate, reply.error.message)
    // What the script said of the lock, even in a reply cut short (all of it that arrived).
    const complete = !result.aborted && (reply.ok || reply.error !== undefined)
    this.setLock(lockAfter(this.lockState, reply.values.get('lock') ?? [], complete))
    for (const w of reply.warnings) this.ctx.reporter.warning(`${this.label}: ${w}`)
    for (const l of reply.other) opts.onOther?.(l)
    if (result.aborted) throw new DeployError(`${this.label}: cancelled during ${name}.`, '', 'cancelled')
    if (reply.error) {
      const s = this.ctx.settings
      // A hook's own output (stderr) is what explains its failure: keep its end in the message.
      const output =
        reply.error.code === 'hook-failed'
          ? untrustedLines(result.stderr)
              .map((l) => `${this.label} | ${l}`)
              .join('\n')
          : ''
      throw new DeployError(
        `${this.label}: ${reply.error.message}${output ? `\n${output}` : ''}`,
        gateHint(reply.error.code) ||
          remoteErrorHint(reply.error.code, {
            target: s.target,
            linkName: s.linkName,
            user: this.spec.user,
            words: this.ctx.words,
          }),
        reply.error.code,
      )
    }
    const saidNothing = reply.values.size === 0 && reply.warnings.length === 0
    if (!reply.ok && saidNothing && result.code !== 255) {
      // Not one line from our script: the login shell never ran it, or a startup file ended it.
      throw loginShellFailure({
        label: this.label,
        user: this.spec.user,
        code: result.code,
        said: [...reply.other, ...(result.stderr.trim() ? untrustedLines(result.stderr, 5) : [])].slice(0, 5),
      })
    }
    if (result.code !== 0 || !reply.ok) {
      const stderr = result.stderr.trim() ? untrustedLines(result.stderr, 6).join('\n') : ''
      const lost = result.code === 255
      const why = lost ? 'the SSH connection failed or dropped' : `exit code ${result.code}`
      throw new DeployError(
        `${this.label}: the server step '${name}' failed (${why}).${stderr ? `\n${stderr}` : ''}`,
        '',
        // No complete reply over a dead connection: what the server did is unknown (see recover).
        lost ? 'connection-lost' : 'remote',
      )
    }
    return reply
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref())

/** A session the server refused at every try: what did not run, and what to change. */
export function sessionRefused(label: string, step: string): DeployError {
  return new DeployError(
    `${label}: the server refused a new SSH session at every try (it allows one at a time and had not closed the last); '${step}' did not run.`,
    'Allow a few sessions per connection on the server (MaxSessions in sshd_config, the default is 10), then deploy again.',
    'session-refused',
  )
}

/**
 * Runs `attempt` (a session or an upload over host `session`'s master). On a server that allows one
 * session at a time (session.oneSession), over the master only, and again after a refusal, a few
 * times, waiting longer each time (~1.5 s in all): the server was still closing the last session.
 */
export async function overMaster(
  session: { oneSession: boolean },
  fresh: boolean,
  attempt: (muxOnly: boolean) => Promise<RunResult>,
  /** `attempt` runs ssh itself (see refusedSession). */
  ssh = false,
): Promise<RunResult> {
  for (let i = 0; ; i++) {
    const one = session.oneSession && !fresh
    const result = await attempt(one)
    if (!one || i >= 5 || !refusedSession(result, ssh)) return result
    await sleep(50 * 2 ** i)
  }
}

/** Ends a session opened ahead with nothing run, and waits (briefly) for its channel to close. */
async function endAhead(a: Ahead): Promise<void> {
  a.give(null)
  if (!a.settled) await Promise.race([a.result.catch(() => {}), sleep(3000)])
}

/** A session opened ahead of its call (HostSession.openAhead). */
interface Ahead {
  name: ScriptName
  /** The script to run (the call), or null: stdin ends with nothing written. */
  give: (script: string | null) => void
  /** The session ended before its call (refused, or the connection dropped): the call opens its own. */
  readonly settled: boolean
  /** true at its first output (the server took it), false if it ended with none (refused). */
  open: Promise<boolean>
  result: Promise<RunResult>
  /** Where its output goes once the call has taken it. */
  hooks: { onStdout?: (chunk: string) => void; onStderr?: (chunk: string) => void }
}

/** Runs `fn` over items with at most `limit` at once; resolves with every result in order. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
