import { type DeployHost, manifestVars, recordLinked } from './deploy-host.js'
import { DeployError } from './errors.js'
import { bytes, plural } from './format.js'
import { releasesToPrune } from './history.js'
import { readServerState, type ServerState } from './host.js'
import { keepPathsValue, keepSources, keptCount } from './keep-assets.js'
import { liveUnknown, setLive, settleFailedSwitch, toDeployError } from './outcome.js'
import { all, first, type GoLiveVars, type ScriptReply } from './remote.js'
import { cleanupSignal, giveUpSignal, type RunContext } from './session.js'
import { goLiveVars, switchTo } from './switch.js'
import { LineSplitter, shownLine } from './untrusted.js'

/**
 * Streams what a hook prints on the server into the log, line by line, prefixed with the host and
 * escaped (it is the server's text); linear in its length however long a line is. Each chunk's
 * lines go out together, so the action can fence them from the runner's command parser.
 */
export function hookOutput(ctx: RunContext, label: string): (chunk: string) => void {
  let batch: string[] = []
  const splitter = new LineSplitter((line, dropped) => batch.push(`${label} | ${shownLine(line, dropped)}`))
  return (chunk) => {
    splitter.push(chunk)
    if (batch.length === 0) return
    const lines = batch
    batch = []
    if (ctx.reporter.output) ctx.reporter.output(lines)
    else for (const l of lines) ctx.reporter.info(l)
  }
}

/**
 * Step 3: one remote call: publish (rename), link shared paths, before-switch, switch (rename a
 * fresh link over the old one), log, prune; the lock is kept when more steps follow.
 */
export async function publishAndSwitch(
  ctx: RunContext,
  run: DeployHost,
  keepLock: boolean,
  doSwitch: boolean,
): Promise<void> {
  const s = ctx.settings
  let reply: ScriptReply
  try {
    reply = await run.session.call(
      'publishAndSwitch',
      {
        ...deployGoLive(ctx, run),
        INCOMING: run.incoming,
        SHARED: s.shared.join('\n'),
        BEFORE_SWITCH: s.beforeSwitch,
        SWITCH: doSwitch ? 1 : 0,
        KEEP_LOCK: keepLock ? 1 : 0,
        KEEP_PATHS: keepPathsValue(s.keepAssets),
        ...(await manifestVars(run)),
      },
      { onStderr: hookOutput(ctx, run.session.label) },
    )
  } catch (e) {
    await afterLostConnection(ctx, run, keepLock && doSwitch, e)
    return
  }
  run.published = true
  recordLinked(ctx, run, reply)
  run.result.assetsKept = keptCount(all(reply, 'kept')[0])
  if (doSwitch) wentLive(ctx, run, reply)
  else
    ctx.reporter.info(
      `${run.session.label}: release ${s.releaseId} published; waiting for every host before the switch`,
    )
}

/** go_live's values for this deploy: our release, logged as deployed, pruning what retention drops. */
function deployGoLive(ctx: RunContext, run: DeployHost): GoLiveVars {
  const s = ctx.settings
  const state = run.state as ServerState
  const vars = goLiveVars(ctx, run, {
    id: s.releaseId,
    event: 'deploy',
    from: '',
    prev: state.live,
    prune: (entry) =>
      releasesToPrune([...state.log, entry], [...state.releases, s.releaseId], s.releaseId, s.keepReleases),
    // The fast path's publish measured the disk from its own walk (fast_finish).
    measure: !run.fast,
    keepFrom: deployKeepSources(ctx, state),
    digest: run.digest,
  })
  run.logLine = vars.LOGLINE
  return vars
}

/** The releases keep-assets links old files from on this host ('' when it is off). */
function deployKeepSources(ctx: RunContext, state: ServerState): string[] {
  const s = ctx.settings
  if (s.keepAssets.length === 0) return []
  return keepSources(state.log, state.releases, state.live, s.releaseId, s.keepAssetsReleases)
}

/** The log's words for the kept old assets: counted on the server, never sent, never "linked". */
function keptWords(ctx: RunContext, run: DeployHost): string {
  if (ctx.settings.keepAssets.length === 0) return ''
  return `; kept ${plural(run.result.assetsKept, 'old asset')} (keep-assets, hard links from the last releases: nothing sent)`
}

function wentLive(ctx: RunContext, run: DeployHost, reply: ScriptReply): void {
  const s = ctx.settings
  run.switched = first(reply, 'switched') === s.releaseId
  if (run.switched) setLive(run.result, s.target, s.releaseId)
  else liveUnknown(run.result)
  run.result.pruned = all(reply, 'pruned')
  run.result.diskKb = Number(first(reply, 'disk-kb')) || 0
  run.result.status = 'deployed'
  ctx.reporter.info(
    `${run.session.label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); ${plural(run.result.filesLinked, 'file')} hard-linked to the previous release (counted on the server); the new release added ${bytes(run.result.diskKb * 1024)} on disk${keptWords(ctx, run)}${run.result.pruned.length ? `; pruned ${run.result.pruned.join(', ')}` : ''}`,
  )
}

/** Fleets, phase 2b: every host published; now each switches (the lock is still ours). */
export async function switchHost(ctx: RunContext, run: DeployHost): Promise<void> {
  let reply: ScriptReply
  try {
    reply = await switchTo(run, deployGoLive(ctx, run), { take: false, keepLock: true })
  } catch (e) {
    await afterLostConnection(ctx, run, true, e)
    return
  }
  wentLive(ctx, run, reply)
}

/** Step 4 on one host: the after-switch hook, in the live release. */
export async function afterSwitch(ctx: RunContext, run: DeployHost): Promise<void> {
  const s = ctx.settings
  await run.session.call(
    'afterSwitch',
    { ID: s.releaseId, PREV: run.state?.live ?? '', AFTER_SWITCH: s.afterSwitch },
    { onStderr: hookOutput(ctx, run.session.label) },
  )
}

/** Puts the link back on the release that was live before, marking ours bad. */
export async function revert(ctx: RunContext, run: DeployHost, why: string): Promise<void> {
  const s = ctx.settings
  const previous = run.state?.live ?? ''
  if (!previous) {
    ctx.reporter.warning(`${run.session.label}: nothing was live before ${s.releaseId}; it stays live`)
    return
  }
  const reply = await switchTo(
    run,
    goLiveVars(ctx, run, { id: previous, event: 'revert', from: s.releaseId }),
    // A failed check after the switch leaves the lock ours: take it only when we no longer hold it.
    { take: run.session.lock !== 'held', keepLock: false },
    // After a timeout or cancel, within the bound the step promises (timeout + 10 s).
    ctx.signal.aborted ? giveUpSignal() : cleanupSignal(),
  )
  if (first(reply, 'switched') === previous) setLive(run.result, s.target, previous)
  else liveUnknown(run.result)
  run.result.status = 'reverted'
  ctx.reporter.warning(`${run.session.label}: switched back to ${previous} (${why})`)
}

/** What recover read back on a host. */
export interface Recovered {
  live: string
  switched: boolean
  lock: 'kept' | 'released' | 'not-ours'
  /** keep-assets: the old files our release holds, counted on the server. */
  assetsKept: number
}

/**
 * After a call we gave up on or lost: over a new connection, stop what of ours still runs there,
 * then read what the server serves and whether the lock is ours (see RECOVER in remote.ts).
 */
export async function recover(ctx: RunContext, run: DeployHost, keepLock: boolean): Promise<Recovered> {
  const s = ctx.settings
  run.session.fresh = true
  const reply = await run.session.call(
    'recover',
    {
      ID: s.command === 'deploy' || s.command === 'activate' ? s.releaseId : '',
      INCOMING: run.incoming,
      LOGLINE: run.logLine,
      KEEP_LOCK: keepLock ? 1 : 0,
    },
    { signal: giveUpSignal() },
  )
  const live = readServerState(reply).live
  // What the link serves, as the server says now: the outputs name it.
  setLive(run.result, s.target, live)
  const word = first(reply, 'lock').split(' ')[0]
  // The session has taken the lock's state from the same line.
  const lock = word === 'kept' || word === 'released' ? word : 'not-ours'
  const switched = s.releaseId !== '' && live === s.releaseId
  if (switched) {
    run.published = true
    run.switched = true
  }
  run.unconfirmed = false
  return { live, switched, lock, assetsKept: keptCount(first(reply, 'kept')) }
}

/** A sentence on what the server serves after recover. */
export function serving(ctx: RunContext, found: Recovered): string {
  const s = ctx.settings
  const lock =
    found.lock === 'not-ours'
      ? 'the deploy lock is no longer ours'
      : found.lock === 'kept'
        ? 'the lock is still ours'
        : 'the lock was released'
  return `${s.target}/${s.linkName} serves ${found.live ? `releases/${found.live}` : 'nothing'}${found.switched ? ` (the new release ${s.releaseId})` : ''}; ${lock}`
}

/**
 * The connection dropped during publish/switch: the reply is lost, not what the server did. Find
 * out over a new connection, then go on as if the reply had come (switched: after-switch and the
 * health check follow) or fail saying exactly what is served.
 */
export async function afterLostConnection(
  ctx: RunContext,
  run: DeployHost,
  keepLock: boolean,
  e: unknown,
): Promise<void> {
  const err = toDeployError(e)
  const s = ctx.settings
  if (err.code !== 'connection-lost' || ctx.signal.aborted) {
    settleFailedSwitch(run.result, s.target, run.state?.live ?? '', err)
    throw err
  }
  const label = run.session.label
  ctx.reporter.warning(
    `${label}: the connection dropped during the switch; reconnecting to see what the server did`,
  )
  let found: Recovered
  try {
    found = await recover(ctx, run, keepLock)
  } catch (e2) {
    run.unconfirmed = true
    liveUnknown(run.result)
    throw new DeployError(
      `${label}: the connection dropped during the switch and reconnecting failed (${toDeployError(e2).message}): ${s.target}/${s.linkName} may serve ${s.releaseId} or ${run.state?.live || 'nothing'}.`,
      'Run command: list (and command: unlock if needed) to see what is live before deploying again.',
      'connection-lost',
    )
  }
  ctx.reporter.info(`${label}: after reconnecting: ${serving(ctx, found)}`)
  if (found.switched) {
    run.result.status = 'deployed'
    run.result.assetsKept = found.assetsKept
    ctx.reporter.info(
      `${label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); the switch completed before the connection dropped`,
    )
    return
  }
  throw new DeployError(
    `${label}: the connection dropped before the switch; nothing was switched: ${serving(ctx, found)}.`,
    'Check the network to the server, then deploy again (the upload is kept and resumes).',
    'connection-lost',
  )
}
