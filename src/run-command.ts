import { randomBytes } from 'node:crypto'
import { DeployError } from './errors.js'
import { type CommandOutcome, toDeployError } from './outcome.js'
import { findRsync, findSsh, onPath, platformProblem } from './runner-platform.js'
import type { Reporter, Settings } from './settings.js'
import { commandSpec } from './spec.js'
import { Ssh, type SshOptions } from './ssh.js'
import type { Words } from './words.js'

/**
 * The glue both front ends share (the action's main.ts and the CLI): the connection setup from
 * Settings, the timeout and cancellation, one command, clean-up. No @actions/core here.
 */

/**
 * What ssh gets from Settings. With `allowOwnSsh` (the CLI), a missing key or missing known hosts
 * mean: the person's own ssh setup decides them (agent, ~/.ssh/config, ~/.ssh/known_hosts).
 */
export function sshOptions(settings: Settings, allowOwnSsh = false, ownerPid?: number): SshOptions {
  const t = settings.trusted
  const noTrust = t.lines.length === 0 && t.fingerprints.length === 0 && !settings.acceptUnknownHostKey
  return {
    hosts: settings.hosts,
    jumpHost: settings.jumpHost,
    key: settings.key,
    keyPassphrase: settings.keyPassphrase,
    trusted: settings.trusted,
    acceptUnknownHostKey: settings.acceptUnknownHostKey,
    persistSeconds: 300,
    ownerPid,
    useOwnSshSetup: allowOwnSsh && (settings.key === '' || noTrust),
  }
}

export interface RunCommandOptions {
  reporter: Reporter
  /** Random per run: marks our lock and our temporary names on the servers. */
  token?: string
  /** The CLI: connect through the person's own ssh setup where no key / known hosts were given. */
  allowOwnSsh?: boolean
  /** Told the private ssh directory before any secret is written to it (the action's post step). */
  onSshDir?: (dir: string) => void
  onLock?: (hostIndex: number, held: boolean) => void
  /** The process whose end makes our temp dir an orphan (see SshOptions.ownerPid). */
  ownerPid?: number
  /** How messages name the timeout setting: the action's input (default) or the CLI's flag. */
  timeoutFlag?: string
  /** How every other message names inputs and commands (default: the action's words). */
  words?: Words
  /** The rsync check (checkRsync), begun by the front end before it read its settings. */
  rsync?: Promise<string>
  /** What the front end needs once the command ends, loaded with the commands (during the handshake). */
  preload?: () => Promise<unknown>
}

export interface CommandRun {
  outcome: CommandOutcome | undefined
  failure: DeployError | undefined
  timedOut: boolean
  /** Stopped by SIGINT or SIGTERM. */
  cancelled: boolean
  /**
   * The masters closing and the private directory (the key) being deleted, begun as the command
   * ended: the caller writes its outputs meanwhile and awaits this before it ends.
   */
  closed: Promise<void>
}

/** After the timeout, the clean-up's share of the 10 s the step may still take. */
export const GIVE_UP_GRACE_MS = 8_000

/**
 * The runner's rsync, checked (findRsync): begun as early as the front end can, as nothing
 * connects before it is done. A rejection is left for the awaiting caller (never unhandled).
 */
export function checkRsync(): Promise<string> {
  const check = findRsync(onPath('rsync'))
  check.catch(() => {})
  return check
}

/** Connects, runs `settings.command` within `settings.timeoutSeconds`, always cleans up. */
export async function runCommand(settings: Settings, opts: RunCommandOptions): Promise<CommandRun> {
  const controller = new AbortController()
  let timedOut = false
  let cancelled = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, settings.timeoutSeconds * 1000)
  // The step ends within timeout + 10 s: what the servers may still change ends before that.
  const deadline = Date.now() + settings.timeoutSeconds * 1000 + GIVE_UP_GRACE_MS
  const onSignal = () => {
    cancelled = true
    controller.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const token = opts.token ?? randomBytes(8).toString('hex')
  let outcome: CommandOutcome | undefined
  let failure: DeployError | undefined
  let ssh: Ssh | undefined
  let closed: Promise<void> = Promise.resolve()
  try {
    // Windows, no ssh, openrsync or an old rsync: stop here, before anything connects.
    const unsupported = platformProblem(process.platform)
    if (unsupported) throw unsupported
    // rsync --version runs while the private ssh directory is written; caught here, so a failure
    // of either is the one reported, never unhandled.
    const rsync = commandSpec(settings.command).uploads ? (opts.rsync ?? checkRsync()) : Promise.resolve('')
    const sshPath = findSsh()
    ssh = await Ssh.create(
      { ...sshOptions(settings, opts.allowOwnSsh, opts.ownerPid), words: opts.words },
      sshPath,
      opts.onSshDir ?? (() => {}),
    )
    const rsyncPath = await rsync
    // Every command but doctor connects to the first host first: its handshake (the longest wait
    // of a small deploy) starts now, while the rest of the run gets ready; its step awaits it.
    const first = settings.hosts[0]
    if (first && !commandSpec(settings.command).probes) ssh.connect(0, first.label, controller.signal)
    // The commands themselves load now, while the handshake runs (a chunk of their own: parsing and
    // running it took ~30 ms of every start, before anything could connect).
    const [{ dispatch }] = await Promise.all([
      import(/* webpackChunkName: "commands" */ './dispatch.js'),
      opts.preload?.(),
    ])
    outcome = await dispatch({
      settings,
      ssh,
      reporter: opts.reporter,
      signal: controller.signal,
      deadline,
      token,
      rsyncPath,
      onLock: opts.onLock,
      words: opts.words,
    })
    failure = outcome.error
  } catch (e) {
    failure = toDeployError(e)
  } finally {
    clearTimeout(timer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    // Never rejects: a directory that could not be deleted is said (the post step tries again).
    if (ssh)
      closed = ssh.dispose().catch((e: unknown) => {
        opts.reporter.warning(
          `Could not delete the private ssh directory: ${e instanceof Error ? e.message : String(e)}`,
        )
      })
  }
  if (timedOut) {
    const flag = opts.timeoutFlag
    failure = new DeployError(
      `Stopped after ${settings.timeoutSeconds} s (${flag ?? 'input timeout'}). ${failure ? `Last error: ${failure.message}` : ''}`.trim(),
      `${
        outcome?.unconfirmed?.length
          ? `What ${outcome.unconfirmed.join(', ')} serves could not be checked (see above).`
          : outcome?.hosts.some((h) => h.status === 'deployed' || h.status === 'rolled-back')
            ? 'The switch had completed before the timeout (see above).'
            : 'Nothing was switched: the release served before is still live.'
      } Raise ${flag ?? 'timeout'} for large uploads, or check the link to the server.`,
      'timeout',
    )
  }
  return { outcome, failure, timedOut, cancelled, closed }
}
