import { type DeployHost, dropUpload, manifestVars, recordLinked, stagedName } from './deploy-host.js'
import { DeployError } from './errors.js'
import { type FastPlan, planFast, readOffer } from './fast-path.js'
import { bytes, plural } from './format.js'
import { gateHint } from './gate.js'
import { startupFileHint } from './hints.js'
import { readServerState, SAFE_NAME_RE } from './host.js'
import { setLive } from './outcome.js'
import type { BuildManifest } from './release-manifest.js'
import { all, first, MARK, parseReply, type ScriptReply } from './remote.js'
import { type RunContext, wordsOf } from './session.js'
import { LineSplitter } from './untrusted.js'
import { EarlyUpload } from './upload-rsync.js'

/**
 * RAD_FAST_PATH=0 forces the checksum path (the tests compare both paths' releases with it; an
 * escape hatch should the fast path ever misjudge a server).
 */
export function fastPathAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.RAD_FAST_PATH !== '0'
}

/** The build's manifest for this host's prepare, or undefined (said once, as information). */
async function buildManifestOf(ctx: RunContext, run: DeployHost): Promise<BuildManifest | undefined> {
  const m = await run.manifest
  if (m instanceof Error) {
    if (run.session.index === 0)
      ctx.reporter.info(`No release manifest (so no release-digest, and the checksum path): ${m.message}`)
    return undefined
  }
  return m
}

/** Why prepare did not take the fast path (its `fast` reply). */
export function fastWhy(code: string): string {
  const why: Record<string, string> = {
    'no-live': 'nothing is live yet',
    'no-manifest':
      'the live release has no manifest or trust record (deployed before them, or it has names with a newline)',
    untrusted: 'the live release could not be read or does not match its manifest',
    'no-link':
      'the live release cannot be hard-linked into the upload (another filesystem, files of another user, or no cp -al)',
    'no-remove': 'what the server could not trust could not be removed from the linked copy',
    resume: 'an upload that failed since the live release went live holds files this one reuses',
  }
  return why[code] ?? 'the server did not say why'
}

export async function connect(ctx: RunContext, run: DeployHost): Promise<void> {
  await ctx.ssh.connect(run.session.index, run.session.label, ctx.signal)
  if (ctx.settings.acceptUnknownHostKey && ctx.settings.trusted.lines.length === 0) {
    const learned = await ctx.ssh.learnedHostKeys()
    if (learned.trim()) {
      ctx.reporter.warning(
        `Trusted ${run.session.label} on first use (${wordsOf(ctx).input('accept-unknown-host-key')}). Pin its key: set ${wordsOf(ctx).input('known-hosts')} to\n${learned.trim()}`,
      )
    }
  }
}

/**
 * The live release's entries from which the upload's rsync starts during prepare. Below, the
 * server's copy and its offer end within rsync's own start (~0.1 s on the benchmark's WAN), and a
 * deploy that changed nothing would pay for an rsync it never uses (~0.06 s of a small site's
 * 0.5 s on 2 cores).
 */
const EARLY_UPLOAD_MIN = 2000

/** Step 1: one remote call: layout, checks, lock, live release, free space, a fresh upload dir. */
export async function prepare(ctx: RunContext, run: DeployHost): Promise<void> {
  // The session marks the lock "maybe ours" before the call, so a killed prepare is still covered.
  run.touched = true
  // The fast path's rsync starts as soon as the server is copying the live release, and is given
  // its list once the server said "fast ok" (the copy is whole) and the plan is made: the rest of
  // prepare's reply is read while it uploads (see EarlyUpload). Through a gate (whose line comes
  // first) it goes without --protect-args.
  let gated = false
  let fastOk = false
  let planned: FastPlan | undefined
  const begin = () => {
    if (fastOk && planned && planned.send.length > 0) run.early?.begin(planned)
  }
  // Nothing to upload (known from the offer, before prepare ends): publish's session opens now,
  // beside prepare's end, so its round trips and its library are not waited for later. Not through
  // a gate (whose reply names it first), and never when rsync is to run (a server that allows one
  // session would give it rsync's place).
  const early = new EarlyPlan(run, (plan, viaGate) => {
    planned = plan
    begin()
    if (plan.send.length > 0) return
    void run.early?.cancel()
    if (ctx.settings.command === 'deploy' && !viaGate) run.session.openAhead('publishAndSwitch')
  })
  const watch = new LineSplitter((l) => {
    if (l.startsWith(`${MARK} gate `)) gated = true
    else if (l.startsWith(`${MARK} copying `)) {
      const entries = Number(l.slice(MARK.length + 9).trim())
      if (!run.early && entries >= EARLY_UPLOAD_MIN && ctx.settings.command !== 'activate')
        run.early = new EarlyUpload(ctx, run, gated)
    } else if (l === `${MARK} fast ok`) {
      fastOk = true
      begin()
    }
  })
  // A failure stops it where it must (dropUpload) and at the end of the host's steps (deploy.ts).
  await prepareCall(ctx, run, early, (c) => {
    watch.push(c)
    early.push(c)
  })
  // The checksum path: the early rsync ends with nothing done, before another rsync takes its
  // place (a server allowing few sessions). Nothing to send: it was stopped at the plan, and is
  // waited for at the end of the host's steps (deploy.ts), not here.
  if (!run.fast) await run.early?.cancel()
}

async function prepareCall(
  ctx: RunContext,
  run: DeployHost,
  early: EarlyPlan,
  onStdout: (chunk: string) => void,
): Promise<void> {
  const other: string[] = []
  const activate = ctx.settings.command === 'activate'
  const reply = await run.session.call(
    'prepare',
    {
      ID: ctx.settings.releaseId,
      // activate uploads nothing: it checks that command: upload left the release waiting.
      INCOMING: activate ? '' : run.incoming,
      STAGED: activate ? stagedName(ctx.settings.releaseId) : '',
      SHARED: ctx.settings.shared.join('\n'),
      // The server copies the live release while the build is still being hashed here.
      FAST: !activate && fastPathAllowed() ? 1 : 0,
    },
    {
      onOther: (l) => other.push(l),
      onStdout: activate ? undefined : onStdout,
    },
  )
  const fast = first(reply, 'fast')
  if (fast && fast !== 'ok') ctx.reporter.info(`${run.session.label}: checksum path: ${fastWhy(fast)}`)
  run.sharedExisting = all(reply, 'shared-exists')
  run.ownsUpload = ctx.settings.command !== 'activate'
  run.state = readServerState(reply, (m) => ctx.reporter.warning(`${run.session.label}: ${m}`))
  run.leftovers = all(reply, 'leftover').filter((l) => SAFE_NAME_RE.test(l) && l !== run.incoming)
  run.result.previousReleaseId = run.state.live
  setLive(run.result, ctx.settings.target, run.state.live)
  run.result.freeKb = run.state.freeKb
  if (other.length > 0) {
    // Text printed by a shell startup file corrupts rsync's protocol stream (exit 12): say so now.
    await dropUpload(run)
    throw new DeployError(
      `${run.session.label}: the login shell prints text for non-interactive sessions, which breaks rsync: ${other.slice(0, 3).join(' | ')}`,
      startupFileHint(first(reply, 'shell'), 'prints'),
      'shell-not-clean',
    )
  }
  const gate = run.session.gate
  if (gate && (ctx.settings.beforeSwitch || ctx.settings.afterSwitch)) {
    // The gate would refuse them at the switch: say so before anything is uploaded.
    await dropUpload(run)
    const w = wordsOf(ctx)
    throw new DeployError(
      `${run.session.label}: the key is gated (rsync-atomic-deploy-gate ${gate.version}): it runs no ${w.input('before-switch')} or ${w.input('after-switch')} command sent by the client; nothing was changed.`,
      gateHint('hook-refused'),
      'hook-refused',
    )
  }
  ctx.reporter.info(
    `${run.session.label}: live release ${run.state.live || '(none yet)'}; ${plural(run.state.releases.length, 'release')} on disk; ${bytes(run.state.freeKb * 1024)} free${gate ? `; the key is gated (rsync-atomic-deploy-gate ${gate.version})` : ''}`,
  )
  warnFsSplit(ctx, run.session.label, all(reply, 'fs-split'), run.state.live)
  if (activate) return
  const manifest = await buildManifestOf(ctx, run)
  run.digest = manifest?.digest ?? ''
  if (fast === 'ok') await planUpload(ctx, run, reply, manifest, await early.plan(reply))
}

/** The fast path's plan made while prepare still runs (the server's copy of the live release may end well after its offer). */
export type Planned = { plan: FastPlan } | { error: Error }

/**
 * Watches prepare's stdout for "@@rad offer-sent" (the offer is whole) and plans from the reply
 * up to it while the server's copy ends. A kept offer comes before the server's walk, marked
 * "@@rad offer-early": planned from at once, and used if the server then says "offer-kept" (the
 * walk found the release as recorded) and sends no other. At 10,000 files, 1% changed, on the WAN
 * model, that plan is made while the server still copies. Used only when the whole reply carries
 * the same offer.
 */
export class EarlyPlan {
  /** stdout so far, in pieces (joined at a mark: no copy of it all a chunk). */
  private chunks: string[] = []
  /** The end of what came, enough to find a mark cut across two chunks. */
  private tail = ''
  private planned: Promise<Planned | undefined> | undefined
  private offerLines = 0
  /** The plan from the kept offer (fk lines), and how many lines it was made from. */
  private kept: { lines: number; planned: Promise<Planned | undefined> } | undefined

  constructor(
    private readonly run: DeployHost,
    /** Told the early plan (and whether a gate answered), as soon as it is made. */
    private readonly onPlanned: (plan: FastPlan, gated: boolean) => void = () => {},
  ) {}

  push(chunk: string): void {
    if (this.planned) return
    const seen = this.tail + chunk
    this.chunks.push(chunk)
    // The reply up to a mark found at `at` in `seen` (what came before this chunk, less the tail).
    const upTo = (at: number) => {
      const text = this.chunks.join('')
      return parseReply(text.slice(0, text.length - seen.length + at + 1))
    }
    if (!this.kept) {
      const e = seen.indexOf(EARLY_LINE)
      if (e >= 0) {
        const reply = upTo(e)
        // Planned as if it holds; used only once the server says it does.
        this.kept = { lines: all(reply, 'fk').length, planned: this.make(reply, false, true) }
      }
    }
    const at = seen.indexOf(MARK_LINE)
    if (at < 0) {
      this.tail = seen.slice(-EARLY_LINE.length)
      return
    }
    const reply = upTo(at)
    this.chunks = []
    this.tail = ''
    this.offerLines = offerLineCount(reply)
    const found = all(reply, 'fz').length + all(reply, 'fp').length
    // The kept offer holds (the server said so, and sent nothing in its place): its plan, made
    // while the server walked.
    if (this.kept && found === 0 && reply.values.has('offer-kept') && this.kept.lines === this.offerLines) {
      const gated = first(reply, 'gate') !== ''
      this.planned = this.kept.planned.then((p) => {
        if (p && 'plan' in p) this.onPlanned(p.plan, gated)
        return p
      })
    } else this.planned = this.make(reply, true)
  }

  /** The plan from the offer in `reply`; `tell`: onPlanned hears of it; `kept`: from its fk lines. */
  private make(reply: ScriptReply, tell: boolean, kept?: boolean): Promise<Planned | undefined> {
    return Promise.resolve(this.run.manifest).then((m) => {
      if (!m || m instanceof Error) return undefined
      let plan: FastPlan
      try {
        plan = planFast(m, readOffer(reply, undefined, kept))
      } catch (e) {
        return { error: e as Error }
      }
      if (tell) this.onPlanned(plan, first(reply, 'gate') !== '')
      return { plan }
    })
  }

  /** The plan made early, if the whole reply's offer is the one it was made from. */
  async plan(reply: ScriptReply): Promise<Planned | undefined> {
    if (!this.planned || offerLineCount(reply) !== this.offerLines) return undefined
    return this.planned
  }
}

const MARK_LINE = `\n${MARK} offer-sent\n`
const EARLY_LINE = `\n${MARK} offer-early\n`
const offerLineCount = (r: ScriptReply) => all(r, 'fz').length + all(r, 'fp').length + all(r, 'fk').length

/**
 * The fast path's plan from the server's offer and the build's manifest. Without a manifest, or
 * with an offer that cannot be read, the server's copy of the live release goes and an empty
 * upload dir takes its place: the checksum path (rsync compares with the live release itself).
 */
async function planUpload(
  ctx: RunContext,
  run: DeployHost,
  reply: ScriptReply,
  manifest: BuildManifest | undefined,
  early: Planned | undefined,
): Promise<void> {
  let why = 'the build has no manifest'
  if (manifest && early) {
    if ('plan' in early) {
      run.fast = early.plan
      return
    }
    why = early.error.message
  } else if (manifest) {
    try {
      run.fast = planFast(manifest, readOffer(reply))
      return
    } catch (e) {
      why = (e as Error).message
    }
  }
  ctx.reporter.info(`${run.session.label}: checksum path: ${why}`)
  await run.session.call('resetUpload', { INCOMING: run.incoming })
}

/** Says, before the upload, why no file can be hard-linked on this server (fs-split replies). */
export function fsSplitWarnings(target: string, split: string[], live: string): string[] {
  const out: string[] = []
  if (split.includes('incoming')) {
    out.push(
      `${target}/releases and ${target}/.deploy/incoming are on different filesystems (is a disk mounted on ${target}/releases?): hard links are impossible there, every file is copied in full, and the publish is a copy instead of a rename. Mount the disk on ${target} itself, so releases/ and .deploy/ share one filesystem.`,
    )
  }
  if (split.includes('live')) {
    out.push(
      `the live release ${live} is on another filesystem than the upload area (restored onto a mount?): no file can be hard-linked to it, so this upload copies every file. Copy it back onto ${target}'s filesystem (cp -a) to share files again, or accept this one full copy.`,
    )
  }
  return out
}

export function warnFsSplit(ctx: RunContext, label: string, split: string[], live: string): void {
  for (const w of fsSplitWarnings(ctx.settings.target, split, live)) ctx.reporter.warning(`${label}: ${w}`)
}

/** command: upload: leave the finished upload waiting under a name activate knows. */
export async function stage(ctx: RunContext, run: DeployHost): Promise<void> {
  const reply = await run.session.call('stage', {
    ID: ctx.settings.releaseId,
    INCOMING: run.incoming,
    STAGED: stagedName(ctx.settings.releaseId),
    PREV: run.state?.live ?? '',
    ...(await manifestVars(run)),
  })
  recordLinked(ctx, run, reply)
  ctx.reporter.info(
    `${run.session.label}: release ${ctx.settings.releaseId} uploaded; run ${wordsOf(ctx).command('activate')} to make it live`,
  )
}
