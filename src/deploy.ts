import { type SpecialFiles, specialFiles, specialFilesWarning } from './build-scan.js'
import { type DeployHost, deployHosts, stagedName } from './deploy-host.js'
import { DeployError } from './errors.js'
import { afterSwitch, publishAndSwitch, recover, revert, serving, switchHost } from './go-live.js'
import { healthcheck } from './healthcheck.js'
import {
  type DeployOutcome,
  failedOn,
  fleetFailure,
  noHostSwitched,
  settleFailedSwitch,
  toDeployError,
} from './outcome.js'
import { connect, prepare, stage } from './prepare.js'
import { buildReleaseManifest } from './release-manifest.js'
import { cleanupSignal, pool, type RunContext, wordsOf } from './session.js'
import { dryRun, upload } from './upload.js'

/** Releases our lock where we still hold it; a fleet also drops its uploads (all or nothing). */
async function releaseLocks(ctx: RunContext, runs: DeployHost[], discardUploads: boolean): Promise<void> {
  if (ctx.signal.aborted) {
    await giveUp(ctx, runs)
    return
  }
  await Promise.all(
    runs
      // A failed call may have given the lock back (the session knows); its upload is still ours to drop.
      .filter((r) => r.session.lock === 'held' || (discardUploads && r.ownsUpload))
      .map(async (r) => {
        try {
          await r.session.call(
            'releaseLock',
            {
              FORCE: 0,
              DISCARD: discardUploads ? r.incoming : '',
              UNPUBLISH: discardUploads && r.published && !r.switched ? ctx.settings.releaseId : '',
            },
            { signal: cleanupSignal() },
          )
        } catch (e) {
          ctx.reporter.warning(
            `${r.session.label}: could not release the deploy lock: ${toDeployError(e).message}`,
          )
        }
      }),
  )
}

/**
 * Timeout or cancel: on every host where the lock may be ours, stop what still runs, read back
 * what is served and release the lock, within a short bound. What is reported is what was found.
 */
async function giveUp(ctx: RunContext, runs: DeployHost[]): Promise<void> {
  const s = ctx.settings
  await Promise.all(
    runs
      // Held, or maybe ours (a call that takes it was cut short); a prepare that never finished too.
      .filter((r) => r.session.lock !== 'free' || (r.touched && r.state === undefined))
      .map(async (r) => {
        const label = r.session.label
        try {
          const found = await recover(ctx, r, false)
          if (found.switched) {
            r.result.status = 'deployed'
            ctx.reporter.warning(
              `${label}: ${s.releaseId} had gone live before the step was stopped (after-switch and the health check did not run): ${serving(ctx, found)}`,
            )
          } else {
            if (r.result.status === 'deployed') r.result.status = 'failed'
            r.switched = false
            ctx.reporter.info(`${label}: stopped on the server: ${serving(ctx, found)}`)
          }
        } catch (e) {
          r.unconfirmed = true
          ctx.reporter.warning(
            `${label}: could not reach the server to stop the deploy and release the lock (${toDeployError(e).message}); the post step (or command: unlock) tries again`,
          )
        }
      }),
  )
}

/**
 * The deploy of DESIGN §3 over every host: connect, prepare and upload everywhere (bounded
 * parallelism); only if all of that succeeded, publish and switch everywhere; if any switch fails,
 * the hosts already switched go back. All hosts end on the same release, or on the one they had.
 */
export async function runDeploy(ctx: RunContext): Promise<DeployOutcome> {
  const runs = deployHosts(ctx)
  try {
    return await deployRuns(ctx, runs)
  } finally {
    // A session opened ahead that no call took gets no script: it ends having run nothing.
    for (const r of runs) r.session.dropAhead()
  }
}

async function deployRuns(ctx: RunContext, runs: DeployHost[]): Promise<DeployOutcome> {
  const s = ctx.settings
  const outcome: DeployOutcome = {
    releaseId: s.releaseId,
    hosts: runs.map((r) => r.result),
    rolledBack: false,
    error: undefined,
    get unconfirmed() {
      return runs.filter((r) => r.unconfirmed).map((r) => r.session.label)
    },
    // Only beside release-id when that is ours: the digest of what the link serves, never of an attempt.
    get releaseDigest() {
      const h = runs[0]
      return h?.result.liveKnown && h.result.releaseId === s.releaseId ? (h.digest ?? '') : ''
    },
  }
  const failures: DeployError[] = []
  const stamp = (r: DeployHost) => {
    r.result.durationMs = Date.now() - r.start
  }
  // Log groups do not nest: with hosts in parallel, lines carry the host name instead.
  const group = <T>(name: string, fn: () => Promise<T>): Promise<T> =>
    runs.length === 1 ? ctx.reporter.group(name, fn) : fn()

  // Runs one step on one host; a failure is recorded on the host and collected, never thrown.
  const step = async (r: DeployHost, name: string, fn: () => Promise<void>): Promise<boolean> => {
    let ok = true
    try {
      await group(`${r.session.label}: ${name}`, fn)
    } catch (e) {
      const err = toDeployError(e)
      r.result.status = 'failed'
      r.result.error = err.message
      failures.push(err)
      ok = false
    }
    stamp(r)
    return ok
  }
  if (s.command === 'deploy' || s.command === 'upload') {
    // Read and hashed while the connections open and the servers prepare (each host's plan waits
    // for it); started after this turn, so the first ssh is spawned before the build is walked.
    const manifest = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      // The walk that hashes the build counts its special files; one that did not finish, or
      // never began (a build without a manifest), leaves them to a walk of their own (none once
      // the run is cancelled or timed out: nothing would read the warning in time).
      const special: SpecialFiles = { count: 0, names: [] }
      const m = await buildReleaseManifest(s, ctx.rsyncPath, ctx.signal, special).catch((e: unknown) =>
        e instanceof Error ? e : new Error(String(e)),
      )
      const counted = m instanceof Error && !ctx.signal.aborted ? specialFiles(s.source) : special
      const warning = specialFilesWarning(counted)
      if (warning) ctx.reporter.warning(warning)
      return m
    })
    for (const r of runs) r.manifest = manifest
  }
  await pool(runs, s.maxParallel, async (r) => {
    r.start = Date.now()
    if (!(await step(r, 'connect and check', () => connect(ctx, r)))) return
    if (s.dryRun) {
      await step(r, 'dry run', () => dryRun(ctx, r))
      return
    }
    try {
      if (!(await step(r, 'prepare', () => prepare(ctx, r)))) return
      if (s.command === 'activate') r.incoming = stagedName(s.releaseId)
      else if (!(await step(r, 'upload', () => upload(ctx, r)))) return
      r.result.status = 'uploaded'
    } finally {
      // An rsync started during prepare never outlives its step, whatever happened.
      await r.early?.cancel()
    }
  })

  if (s.dryRun || failures.length > 0) {
    await releaseLocks(ctx, runs, s.hosts.length > 1 && s.command === 'deploy')
    for (const r of runs) if (r.result.status === 'uploaded') r.result.status = 'not-switched'
    outcome.error = noHostSwitched(failures, s.hosts.length)
    return outcome
  }

  if (s.command === 'upload') {
    await Promise.all(runs.map((r) => stage(ctx, r).catch((e) => failures.push(toDeployError(e)))))
    await releaseLocks(ctx, runs, false)
    outcome.error = fleetFailure(failures, s.hosts.length, 'Upload')
    return outcome
  }

  // Hold the lock past the switch when more steps follow, so nothing else deploys in between.
  const after = s.afterSwitch !== '' || s.healthcheckUrl !== ''
  const fleet = runs.length > 1
  if (!fleet) {
    const r = runs[0] as DeployHost
    await step(r, 'publish and switch', () => publishAndSwitch(ctx, r, after, true))
  } else {
    // A fleet publishes (and runs before-switch) everywhere first: one failure and no host switches.
    await Promise.all(runs.map((r) => step(r, 'publish', () => publishAndSwitch(ctx, r, true, false))))
    if (failures.length > 0) {
      await releaseLocks(ctx, runs, s.command === 'deploy')
      for (const r of runs) if (r.result.status !== 'failed') r.result.status = 'not-switched'
      outcome.error = noHostSwitched(failures, s.hosts.length)
      return outcome
    }
    await Promise.all(runs.map((r) => step(r, 'switch', () => switchHost(ctx, r))))
  }
  if (failures.length === 0 && after) {
    await Promise.all(
      runs.map(async (r) => {
        if (!s.afterSwitch) return
        try {
          await group(`${r.session.label}: after-switch`, () => afterSwitch(ctx, r))
        } catch (e) {
          const err = toDeployError(e)
          r.result.error = err.message
          failures.push(err)
        }
      }),
    )
    if (failures.length === 0 && s.healthcheckUrl) {
      try {
        await healthcheck(s.healthcheckUrl, { signal: ctx.signal, reporter: ctx.reporter })
      } catch (e) {
        failures.push(toDeployError(e))
      }
    }
    if (failures.length > 0 && !s.rollbackOnFailure) {
      ctx.reporter.warning(
        `The new release stays live (${wordsOf(ctx).input('rollback-on-failure', 'false')}) although a check after the switch failed (the error says which).`,
      )
    }
  }
  const switchFailed = runs.some((r) => r.result.status === 'failed')
  if (failures.length > 0 && (switchFailed || s.rollbackOnFailure)) {
    // All or nothing: hosts that did switch go back to what they served before.
    for (const r of runs.filter((x) => x.switched)) {
      try {
        await revert(
          ctx,
          r,
          // The reason is the run's error, said once (the annotation), not again in this warning.
          switchFailed ? 'another host failed to switch' : 'a check after the switch failed',
        )
        outcome.rolledBack = true
      } catch (e) {
        // Refused before its switch, the revert left our release live; anything else: unknown.
        settleFailedSwitch(r.result, s.target, s.releaseId, toDeployError(e))
        ctx.reporter.warning(`${r.session.label}: could not switch back: ${toDeployError(e).message}`)
      }
    }
  }
  await releaseLocks(ctx, runs, false)
  for (const r of runs) stamp(r)
  if (failures.length > 0) {
    const what = switchFailed ? 'The switch' : 'A check after the switch'
    const back = outcome.rolledBack ? '; the hosts were switched back' : ''
    outcome.error = failedOn(
      failures,
      s.hosts.length,
      (n, m) => `${what} failed on ${n} of ${m} hosts${back}.`,
    )
    if (s.hosts.length === 1 && outcome.rolledBack && outcome.error) {
      outcome.error = new DeployError(
        `${outcome.error.message}\nThe previous release ${runs[0]?.state?.live} is live again.`,
        outcome.error.hint,
        outcome.error.code,
      )
    }
  }
  return outcome
}
