/**
 * The upload's rsync: what it is told, its progress, its result checked. And the fast path's
 * rsync started early (EarlyUpload), beside prepare.
 */
import { type DeployHost, dropUpload, PARTIAL_DIR } from './deploy-host.js'
import { DeployError } from './errors.js'
import type { FastPlan } from './fast-path.js'
import { progressText } from './format.js'
import { explainRsyncExit } from './hints.js'
import type { RunResult } from './proc.js'
import { parseStats, type RsyncStats, runRsync, type UploadPlan } from './rsync.js'
import { overMaster, type RunContext, sessionRefused } from './session.js'
import { anySignal, refusedSession } from './ssh.js'

/** The fast path's list for rsync --files-from --from0. */
export function fastList(plan: FastPlan): Buffer {
  return Buffer.from(fastListText(plan), 'utf8')
}

function fastListText(plan: FastPlan): string {
  return plan.send.map((p) => `${p}\0`).join('')
}

/** The upload's rsync into our incoming dir: all of the build, or the fast path's list. */
function uploadPlan(
  ctx: RunContext,
  run: DeployHost,
  linkDest: string[],
  filesFrom: string | undefined,
  how: { gated: boolean; shared: string[]; muxOnly?: boolean },
): UploadPlan {
  const s = ctx.settings
  const remote = ctx.ssh.rsyncRemote(
    run.session.index,
    `${s.target}/.deploy/incoming/${run.incoming}/`,
    how.muxOnly,
  )
  return {
    source: s.source,
    destination: remote.destination,
    linkDest,
    chmod: s.chmod,
    exclude: [...s.exclude, ...how.shared.map((p) => `/${p}`)],
    filter: s.filter,
    rsh: remote.rsh,
    dryRun: false,
    ioTimeout: 120,
    progress: true,
    // Basename-keyed (an absolute --partial-dir): a re-run resumes a big file whatever its id.
    partialDir: `${s.target}/.deploy/incoming/${PARTIAL_DIR}`,
    protectArgs: !how.gated,
    filesFrom,
  }
}

/** What the upload's rsync prints, as it comes: its progress, and the moment it has its session. */
function onUploadStdout(ctx: RunContext, run: DeployHost): (chunk: string) => void {
  const s = ctx.settings
  let lastProgress = 0
  const started = Date.now()
  return (chunk) => {
    // rsync has its session now: publish's opens beside it, its round trips not waited for
    // later (see openAhead; a server allowing one session refuses it, and publish opens its own).
    if (s.command === 'deploy') run.session.openAhead('publishAndSwitch')
    const line = chunk
      .split(/[\r\n]/)
      .filter((l) => /%/.test(l))
      .pop()
    // A live progress line where the caller can draw one (the CLI on a terminal).
    if (line) ctx.reporter.progress?.(run.session.label, line.trim())
    const now = Date.now()
    if (now - lastProgress < 10_000 || now - started < 10_000) return
    if (line) {
      lastProgress = now
      ctx.reporter.info(`${run.session.label}: ${progressText(line)}`)
    }
  }
}

/** The upload's rsync result, checked: its figures, or the error that says what went wrong. */
async function uploadStats(ctx: RunContext, run: DeployHost, result: RunResult): Promise<RsyncStats> {
  if (result.aborted) throw new DeployError(`${run.session.label}: upload cancelled.`, '', 'cancelled')
  if (result.code !== 0) {
    // A partial upload on a full disk would keep it full (and the live site with it): delete it.
    const full = /No space left on device|Disk quota exceeded/i.test(result.stderr)
    if (full) await dropUpload(run)
    throw new DeployError(
      `${run.session.label}: upload failed. ${explainRsyncExit(result.code, result.stderr, ctx.words)}${full ? '\nThe partial upload was deleted to give the space back.' : ''}`,
      '',
      'rsync',
    )
  }
  return parseStats(result.stdout)
}

/** The upload's rsync into our incoming dir (all of the build, or the fast path's list file), checked. */
export async function uploadRsync(
  ctx: RunContext,
  run: DeployHost,
  linkDest: string[],
  filesFrom: string | undefined,
): Promise<RsyncStats> {
  await run.session.makeRoom()
  // On a server that allows one session at a time, over the master only, and asked again when
  // refused (session.ts overMaster): never a second connection.
  const result = await overMaster(run.session, false, (muxOnly) =>
    runRsync(
      ctx.rsyncPath,
      uploadPlan(ctx, run, linkDest, filesFrom, {
        gated: run.session.gate !== undefined,
        shared: run.sharedExisting,
        muxOnly,
      }),
      { signal: ctx.signal, env: ctx.ssh.childEnv(), onStdout: onUploadStdout(ctx, run) },
    ),
  )
  if (run.session.oneSession && refusedSession(result)) throw sessionRefused(run.session.label, 'upload')
  return uploadStats(ctx, run, result)
}

/**
 * The fast path's rsync, started while prepare still runs (once the server holds the lock and has
 * begun its copy of the live release): its session, the server's rsync and their handshake are
 * ready by the time the plan is, which takes rsync's start (~0.1 s on the benchmark's WAN) off the
 * deploy's path. It reads its list from stdin (--files-from=-) and does nothing before it has it:
 * the server's rsync looks at its destination only once the list arrives, and the list is given
 * only after prepare said "fast ok" (the copy is whole). Never given one, it is stopped with its
 * stdin left open (an ended stdin would read as an empty list, still a transfer) and waited for.
 * Over the master only: a server that allows one session refuses it, and it ends; the upload then
 * runs the usual way, after prepare.
 */
export class EarlyUpload {
  /** The plan whose list it was given (then it is the upload). */
  private given: FastPlan | undefined
  private ended = false
  private give: (list: string) => void = () => {}
  private readonly stop = new AbortController()
  private readonly result: Promise<RunResult>
  /** rsync itself has exited (its ssh may still be closing the session). */
  private readonly exited: Promise<void>

  constructor(
    private readonly ctx: RunContext,
    private readonly run: DeployHost,
    gated: boolean,
  ) {
    const list = new Promise<string>((resolve) => {
      this.give = resolve
    })
    // Every shared path is left out, as the list does (the manifest holds none of them; prepare
    // takes the fast path only when all of them are already in shared/).
    const plan = uploadPlan(ctx, run, [], '-', { gated, shared: ctx.settings.shared, muxOnly: true })
    let exited: () => void = () => {}
    this.exited = new Promise<void>((resolve) => {
      exited = resolve
    })
    const ended = () => {
      this.ended = true
      exited()
    }
    this.result = runRsync(ctx.rsyncPath, plan, {
      signal: anySignal(ctx.signal, this.stop.signal),
      env: ctx.ssh.childEnv(),
      input: list,
      abortKeepsStdin: true,
      // Never given its list, it has done nothing: SIGKILL (on SIGTERM rsync lingers ~0.4 s,
      // waiting on its peer). Given one, SIGTERM: rsync ends its transfer as on any cancel.
      abortWith: () => (this.given && this.given !== CANCELLED ? 'SIGTERM' : 'SIGKILL'),
      onExit: ended,
      onStdout: onUploadStdout(ctx, run),
    })
    this.result.then(ended, ended)
  }

  /**
   * Gives it the plan's list, once prepare has said "fast ok" (the copy is whole): the transfer
   * begins. False when it cannot take one (it ended: refused, or its connection dropped).
   */
  begin(plan: FastPlan): boolean {
    if (this.given) return this.given === plan
    if (this.ended) return false
    this.given = plan
    this.give(fastListText(plan))
    return true
  }

  /**
   * The upload of the plan: its figures, checked; undefined when this rsync cannot be it (it
   * ended before its list), and the caller uploads the usual way.
   */
  async send(plan: FastPlan): Promise<RsyncStats | undefined> {
    if (this.given === CANCELLED) return undefined
    if (this.given && this.given !== plan) {
      await this.cancel()
      throw new DeployError(
        `${this.run.session.label}: the server's fast-path offer changed after the upload had begun; nothing was published`,
        '',
        'fast-mismatch',
      )
    }
    if (!this.begin(plan)) return undefined
    const result = await this.result
    // The master could not open its session (a server that allows one at a time, still holding
    // prepare's when the list was given): no rsync ran there, so nothing was written.
    if (refusedSession(result)) {
      // The server allows one session at a time: the upload that follows is over the master only.
      this.run.session.oneSession = true
      return undefined
    }
    return uploadStats(this.ctx, this.run, result)
  }

  /** Stops it if it still runs (given its list or not) and waits for it to end. */
  async cancel(): Promise<void> {
    if (!this.given) this.given = CANCELLED
    if (!this.ended) this.stop.abort()
    // Never given a list, rsync is all that could have written; its ssh only closes the session
    // (the server's rsync reads its end and exits, having done nothing). Given one: all of it.
    if (this.given === CANCELLED) await this.exited
    else await this.result.catch(() => {})
  }
}

/** What a cancelled EarlyUpload was "given": never a plan. */
const CANCELLED: FastPlan = { send: [], delta: '', keptFiles: 0 }
