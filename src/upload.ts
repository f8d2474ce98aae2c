import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type DeployHost, dropUpload } from './deploy-host.js'
import { DeployError } from './errors.js'
import { type FastPlan, type Offer, planFast, readOffer } from './fast-path.js'
import { bytes, plural } from './format.js'
import { explainRsyncExit } from './hints.js'
import { readServerState } from './host.js'
import { dryRunKept, keptNote } from './keep-assets.js'
import { setLive } from './outcome.js'
import { fastPathAllowed, warnFsSplit } from './prepare.js'
import type { BuildManifest } from './release-manifest.js'
import { all, first, type ScriptReply } from './remote.js'
import { itemizedFiles, parseStats, type RsyncStats, runRsync } from './rsync.js'
import type { RunContext } from './session.js'
import type { Settings } from './settings.js'
import { fastList, uploadRsync } from './upload-rsync.js'

/** Step 2: rsync into .deploy/incoming/<id>.<token>, hard-linking what the live release already has. */
export async function upload(ctx: RunContext, run: DeployHost): Promise<void> {
  if (run.fast) {
    await fastUpload(ctx, run, run.fast)
    return
  }
  const s = ctx.settings
  const live = run.state?.live ?? ''
  // Absolute paths (prepare checked that they exist): rsync 3.4+ walks a relative --link-dest from
  // the destination for every file, which cost ~0.2 s per 10,000 files in the benchmark.
  const linkDest: string[] = []
  // A --link-dest that does not exist only makes rsync warn and send everything: say so ourselves.
  if (live && !run.state?.releases.includes(live)) {
    ctx.reporter.warning(
      `${run.session.label}: the live release ${live} is missing from releases/; uploading everything`,
    )
  } else if (live) linkDest.push(`${s.target}/releases/${live}`)
  // A leftover from an attempt that failed half-way (a re-run): what it already holds is not sent again.
  for (const l of run.leftovers) linkDest.push(`${s.target}/.deploy/incoming/${l}`)
  const stats = await uploadRsync(ctx, run, linkDest, undefined)
  if (stats.files + stats.links === 0 && !s.allowEmpty) {
    // Refused before the publish: the empty upload goes, the lock is given back, nothing changed.
    await dropUpload(run)
    throw emptyReleaseError(s, run.session.label, run.sharedExisting.length > 0)
  }
  Object.assign(run.result, { bytesSent: stats.bytesSent, filesTransferred: stats.filesTransferred })
  // rsync's "not sent" is not "hard-linked" (a split filesystem copies them): the server counts
  // the links at publish, and files-linked is that count, 0 until then (a failed publish links
  // nothing that is served).
  run.unchanged = stats.filesLinked
  ctx.reporter.info(
    `${run.session.label}: uploaded ${plural(stats.files, 'file')}: ${stats.filesTransferred} sent, ${stats.files - stats.filesTransferred} unchanged; ${bytes(stats.bytesSent)} on the wire`,
  )
}

/**
 * Step 2, fast path: the upload dir is already the server's hard-linked copy of the live release,
 * less what it could not trust; rsync sends what the plan lists into it (each listed file written
 * anew, never through a link: --ignore-times), or does not run at all.
 */
async function fastUpload(ctx: RunContext, run: DeployHost, plan: FastPlan): Promise<void> {
  const s = ctx.settings
  const m = (await run.manifest) as BuildManifest
  const files = m.entries.filter((e) => e.type === 'f').length
  if (m.entries.every((e) => e.type === 'd') && !s.allowEmpty) {
    await dropUpload(run)
    throw emptyReleaseError(s, run.session.label, run.sharedExisting.length > 0)
  }
  let stats: RsyncStats | undefined
  // The rsync started during prepare, when it can take the list; else one of its own.
  if (plan.send.length > 0) stats = await run.early?.send(plan)
  if (plan.send.length > 0 && !stats) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rad-send-'))
    try {
      const file = path.join(dir, 'list')
      await writeFile(file, fastList(plan))
      stats = await uploadRsync(ctx, run, [], file)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  const sent = stats?.filesTransferred ?? 0
  Object.assign(run.result, { bytesSent: stats?.bytesSent ?? 0, filesTransferred: sent })
  run.unchanged = files - sent
  ctx.reporter.info(
    `${run.session.label}: uploaded ${plural(files, 'file')}: ${sent} sent, ${files - sent} unchanged (${plan.keptFiles} linked on the server from the manifest, checked at publish); ${bytes(stats?.bytesSent ?? 0)} on the wire${stats ? '' : ' (nothing to send: rsync did not run)'}`,
  )
}

/** The build has files, but what the inputs leave of it is nothing: name those inputs. */
export function emptyReleaseError(s: Settings, label: string, sharedExcluded: boolean): DeployError {
  const inputs = [
    s.exclude.length > 0 ? 'exclude' : '',
    s.filter.length > 0 ? 'filter' : '',
    sharedExcluded ? 'shared (paths already in TARGET/shared are not uploaded)' : '',
  ].filter(Boolean)
  return new DeployError(
    `${label}: the release would be empty: ${inputs.length ? inputs.join(' and ') : 'the rsync rules'} leave no file of ${s.source}. Nothing was changed; ${s.linkName} serves what it served.`,
    `Check the ${inputs.length ? inputs.join(', ') : 'exclude and filter'} lines (a pattern such as * or /** excludes everything). To deploy an empty release on purpose, set allow-empty: true.`,
    'empty-release',
  )
}

/** Dry run: the same checks without the lock or any write, and what would be sent. */
export async function dryRun(ctx: RunContext, run: DeployHost): Promise<void> {
  const s = ctx.settings
  const reply = await run.session.call('inspect', {
    TAKE_LOCK: 0,
    CHECK_DEPLOY: 1,
    ID: s.releaseId,
    FAST: s.command === 'deploy' && fastPathAllowed() ? 1 : 0,
  })
  run.state = readServerState(reply, (m) => ctx.reporter.warning(`${run.session.label}: ${m}`))
  run.result.previousReleaseId = run.state.live
  // A dry run changes nothing: what is live is what was live.
  setLive(run.result, s.target, run.state.live)
  run.result.freeKb = run.state.freeKb
  const lock = first(reply, 'locked-by')
  if (lock)
    ctx.reporter.warning(`${run.session.label}: the target is locked by ${lock}; a deploy would wait for it`)
  const live = run.state.live
  if (await fastDryRun(ctx, run, reply)) return
  // Compared by checksum against the live release: exactly what a deploy would send.
  const dest = live ? `${s.target}/releases/${live}/` : `${s.target}/.deploy/incoming/dry-run.${ctx.token}/`
  const remote = ctx.ssh.rsyncRemote(run.session.index, dest)
  const result = await runRsync(
    ctx.rsyncPath,
    {
      source: s.source,
      destination: remote.destination,
      linkDest: [],
      chmod: s.chmod,
      exclude: [...s.exclude, ...s.shared.map((p) => `/${p}`)],
      filter: s.filter,
      rsh: remote.rsh,
      dryRun: true,
      ioTimeout: 120,
      progress: false,
      protectArgs: run.session.gate === undefined,
    },
    { signal: ctx.signal, env: ctx.ssh.childEnv() },
  )
  if (result.code !== 0) {
    throw new DeployError(
      `${run.session.label}: dry run failed. ${explainRsyncExit(result.code, result.stderr, ctx.words)}`,
    )
  }
  const items = itemizedFiles(result.stdout).filter((l) => l[1] === 'f')
  const stats = parseStats(result.stdout)
  if (stats.files + stats.links === 0 && !s.allowEmpty) {
    throw emptyReleaseError(s, run.session.label, s.shared.length > 0)
  }
  await dryRunResult(ctx, run, reply, items, stats.files)
}

/** A dry run's counts and words, whichever way it found what a deploy would send. */
async function dryRunResult(
  ctx: RunContext,
  run: DeployHost,
  reply: ScriptReply,
  items: string[],
  files: number,
): Promise<void> {
  const s = ctx.settings
  const live = run.state?.live ?? ''
  run.result.filesTransferred = items.length
  const split = all(reply, 'fs-split')
  warnFsSplit(ctx, run.session.label, split, live)
  // Unchanged files become links only where one filesystem holds them all.
  run.result.filesLinked = split.length > 0 ? 0 : Math.max(0, files - items.length)
  run.result.status = 'dry-run'
  run.result.assetsKept = await dryRunKept(ctx, run)
  ctx.reporter.info(
    `${run.session.label}: dry run: would send ${items.length} of ${plural(files, 'file')}, hard-link ${run.result.filesLinked}, and switch ${s.linkName} from ${live || '(nothing)'} to releases/${s.releaseId}${keptNote(s, run.result.assetsKept)}\n${items.slice(0, 200).join('\n')}${items.length > 200 ? `\n… and ${items.length - 200} more` : ''}`,
  )
}

/**
 * A dry run on the fast path: the server offered the live release (read only), and the plan says
 * what a deploy would send, without rsync walking both trees. False (the rsync way) without an
 * offer or a manifest.
 */
async function fastDryRun(ctx: RunContext, run: DeployHost, reply: ScriptReply): Promise<boolean> {
  if (all(reply, 'fz').length + all(reply, 'fp').length === 0) return false
  const m = await run.manifest
  if (!m || m instanceof Error) return false
  let plan: FastPlan
  let offer: Offer
  try {
    offer = readOffer(reply)
    plan = planFast(m, offer)
  } catch (e) {
    ctx.reporter.debug(`${run.session.label}: dry run without the offer: ${(e as Error).message}`)
    return false
  }
  const types = new Map(m.entries.map((e) => [e.path, e.type]))
  const offered = new Set(offer.entries.map((o) => o?.path))
  // As rsync --itemize-changes writes them: a new file, or one whose content (or mode) changed.
  const sent = plan.send
    .filter((p) => types.get(p) === 'f')
    .map((p) => `${offered.has(p) ? '>fc........' : '>f+++++++++'} ${p}`)
  const files = m.entries.filter((e) => e.type === 'f').length
  if (files + m.entries.filter((e) => e.type === 'l').length === 0 && !ctx.settings.allowEmpty) {
    throw emptyReleaseError(ctx.settings, run.session.label, ctx.settings.shared.length > 0)
  }
  await dryRunResult(ctx, run, reply, sent, files)
  return true
}
