import { type DeployHost, dropUpload, recordLinked, stagedName } from './deploy-host.js'
import { DeployError } from './errors.js'
import { bytes, plural } from './format.js'
import { gateHint } from './gate.js'
import { startupFileHint } from './hints.js'
import { readServerState, SAFE_NAME_RE } from './host.js'
import { setLive } from './outcome.js'
import { all, first } from './remote.js'
import { type RunContext, wordsOf } from './session.js'

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

/** Step 1: one remote call: layout, checks, lock, live release, free space, a fresh upload dir. */
export async function prepare(ctx: RunContext, run: DeployHost): Promise<void> {
  const other: string[] = []
  // The session marks the lock "maybe ours" before the call, so a killed prepare is still covered.
  run.touched = true
  const reply = await run.session.call(
    'prepare',
    {
      ID: ctx.settings.releaseId,
      // activate uploads nothing: it checks that command: upload left the release waiting.
      INCOMING: ctx.settings.command === 'activate' ? '' : run.incoming,
      STAGED: ctx.settings.command === 'activate' ? stagedName(ctx.settings.releaseId) : '',
      SHARED: ctx.settings.shared.join('\n'),
    },
    { onOther: (l) => other.push(l) },
  )
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
  })
  recordLinked(ctx, run, reply)
  ctx.reporter.info(
    `${run.session.label}: release ${ctx.settings.releaseId} uploaded; run ${wordsOf(ctx).command('activate')} to make it live`,
  )
}
