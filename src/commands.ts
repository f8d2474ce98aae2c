import { DeployError } from './errors.js'
import { plural } from './format.js'
import { badReleases, listReleases, type ReleaseInfo, releasesToPrune, rollbackTarget } from './history.js'
import { type HostRun, hostRuns, readServerState, type ServerState } from './host.js'
import { type CommandOutcome, fleetFailure, setLive, settleFailedSwitch, toDeployError } from './outcome.js'
import { all, first } from './remote.js'
import { cleanupSignal, giveUpSignal, pool, type RunContext } from './session.js'
import { goLiveVars, switchTo } from './switch.js'
import { ACTION_WORDS, type Words } from './words.js'

/** rollback, list, prune and unlock: each one short remote call per host over its one connection. */
function setup(ctx: RunContext): HostRun[] {
  const s = ctx.settings
  return hostRuns(ctx, s.command === 'rollback' ? s.rollbackTo : '')
}

/** Connects and reads each host's state (taking the lock when asked); collects failures. */
async function inspectAll(ctx: RunContext, hosts: HostRun[], takeLock: boolean): Promise<DeployError[]> {
  const failures: DeployError[] = []
  await pool(hosts, ctx.settings.maxParallel, async (h) => {
    try {
      await ctx.ssh.connect(h.session.index, h.session.label, ctx.signal)
      const reply = await h.session.call('inspect', {
        TAKE_LOCK: takeLock ? 1 : 0,
        // A rollback renames the link: the server must be able to, before the lock is taken.
        NEED_SWAP: takeLock && ctx.settings.command === 'rollback' ? 1 : 0,
        CHECK_DEPLOY: 0,
        ID: '',
      })
      h.state = readServerState(reply, (m) => ctx.reporter.warning(`${h.session.label}: ${m}`))
      const lock = first(reply, 'locked-by')
      if (lock) ctx.reporter.info(`${h.session.label}: locked by ${lock}`)
      setLive(h.result, ctx.settings.target, h.state.live)
      h.result.freeKb = h.state.freeKb
      h.result.status = 'not-switched'
    } catch (e) {
      const err = toDeployError(e)
      h.result.error = err.message
      failures.push(err)
    }
    h.result.durationMs = Date.now() - h.start
  })
  return failures
}

async function unlockAll(ctx: RunContext, hosts: HostRun[]): Promise<void> {
  await Promise.all(
    hosts
      .filter((h) => h.session.lock === 'held')
      .map(async (h) => {
        try {
          await h.session.call(
            'releaseLock',
            { FORCE: 0, DISCARD: '', UNPUBLISH: '' },
            // After a timeout or cancel: within the bound the step promises (timeout + 10 s).
            { signal: ctx.signal.aborted ? giveUpSignal() : cleanupSignal() },
          )
        } catch (e) {
          ctx.reporter.warning(`${h.session.label}: could not release the lock: ${toDeployError(e).message}`)
        }
      }),
  )
}

function outcome(hosts: HostRun[], releases: ReleaseInfo[], error: DeployError | undefined): CommandOutcome {
  const first = hosts[0]?.result
  return {
    releaseId: first?.releaseId ?? '',
    hosts: hosts.map((h) => h.result),
    rolledBack: false,
    error,
    releases,
  }
}

/** Hosts that serve different releases are worth a loud word. */
function reportDisagreement(ctx: RunContext, hosts: HostRun[]): void {
  const lives = new Set(hosts.map((h) => h.state?.live ?? ''))
  if (hosts.length > 1 && lives.size > 1) {
    ctx.reporter.warning(
      `The hosts do not serve the same release: ${hosts.map((h) => `${h.session.label}=${h.state?.live || '(none)'}`).join(', ')}`,
    )
  }
}

/** Which release a host rolls back to, or why it cannot. */
export function chooseRollback(
  state: ServerState,
  rollbackTo: string,
  words: Words = ACTION_WORDS,
): { target: string } | { problem: string; hint: string } {
  const existing = new Set(state.releases)
  if (rollbackTo) {
    if (!existing.has(rollbackTo)) {
      return {
        problem: `release ${rollbackTo} is not on the server`,
        hint: `Releases there: ${state.releases.join(', ') || '(none)'}. Run ${words.command('list')} to see them.`,
      }
    }
    if (rollbackTo === state.live) return { problem: `release ${rollbackTo} is already live`, hint: '' }
    return { target: rollbackTo }
  }
  if (!state.live) return { problem: 'nothing is live, so there is nothing to roll back from', hint: '' }
  const target = rollbackTarget(state.log, state.live, existing)
  if (!target) {
    return {
      problem: `the deploy log knows no good release that was live before ${state.live}`,
      hint: `Give ${words.input('rollback-to')} with a release id (${words.command('list')} shows them).`,
    }
  }
  return { target }
}

export async function runRollback(ctx: RunContext): Promise<CommandOutcome> {
  const s = ctx.settings
  const hosts = setup(ctx)
  const failures = await inspectAll(ctx, hosts, true)
  if (failures.length > 0) {
    await unlockAll(ctx, hosts)
    return outcome(hosts, [], fleetFailure(failures, hosts.length, 'Rollback'))
  }
  reportDisagreement(ctx, hosts)
  // A fleet that disagreed (some hosts already on rollback-to) is brought together: those stay.
  const already = s.rollbackTo ? hosts.filter((h) => h.state?.live === s.rollbackTo) : []
  const moving = already.length < hosts.length ? hosts.filter((h) => !already.includes(h)) : hosts
  for (const h of moving === hosts ? [] : already) {
    ctx.reporter.info(`${h.session.label}: already on ${s.rollbackTo}`)
  }
  const choices = moving.map((h) => chooseRollback(h.state as ServerState, s.rollbackTo, ctx.words))
  const problems = choices.flatMap((c, i) =>
    'problem' in c ? [`${moving[i]?.session.label}: ${c.problem}`] : [],
  )
  const targets = new Set(choices.flatMap((c) => ('target' in c ? [c.target] : [])))
  if (problems.length > 0 || targets.size > 1) {
    await unlockAll(ctx, hosts)
    const first = choices.find((c) => 'problem' in c)
    const msg =
      problems.length > 0
        ? `Rollback refused: ${problems.join('; ')}`
        : `Rollback refused: the hosts would go to different releases (${moving.map((h, i) => `${h.session.label} -> ${'target' in (choices[i] ?? {}) ? (choices[i] as { target: string }).target : '?'}`).join(', ')}).`
    const hint =
      first && 'hint' in first ? first.hint : 'Give rollback-to to choose one release for every host.'
    return outcome(hosts, [], new DeployError(msg, hint, 'rollback-refused'))
  }
  const target = [...targets][0] as string
  const switchFailures: DeployError[] = []
  await Promise.all(
    moving.map(async (h) => {
      const from = h.state?.live ?? ''
      h.result.attemptedReleaseId = target
      try {
        await switchTo(h, goLiveVars(ctx, h, { id: target, event: 'rollback', from }), {
          take: false,
          keepLock: false,
        })
        setLive(h.result, s.target, target)
        Object.assign(h.result, { previousReleaseId: from, status: 'rolled-back' })
        ctx.reporter.info(
          `${h.session.label}: ${s.linkName} -> releases/${target} (rolled back from ${from}, now marked bad)`,
        )
      } catch (e) {
        const err = toDeployError(e)
        settleFailedSwitch(h.result, s.target, from, err)
        h.result.error = err.message
        switchFailures.push(err)
      }
      h.result.durationMs = Date.now() - h.start
    }),
  )
  await unlockAll(ctx, hosts)
  return outcome(hosts, [], fleetFailure(switchFailures, hosts.length, 'Rollback'))
}

export async function runList(ctx: RunContext): Promise<CommandOutcome> {
  const hosts = setup(ctx)
  const failures = await inspectAll(ctx, hosts, false)
  reportDisagreement(ctx, hosts)
  const firstOk = hosts.find((h) => h.state)
  const releases = firstOk?.state
    ? listReleases(firstOk.state.log, firstOk.state.releases, firstOk.state.live)
    : []
  for (const h of hosts) {
    if (!h.state) continue
    h.result.status = 'not-switched'
    // Progress only: each front end renders outcome.releases itself.
    const rows = listReleases(h.state.log, h.state.releases, h.state.live)
    ctx.reporter.info(`${h.session.label}: ${plural(rows.length, 'release')}`)
  }
  return outcome(hosts, releases, fleetFailure(failures, hosts.length, 'List'))
}

export async function runPrune(ctx: RunContext): Promise<CommandOutcome> {
  const s = ctx.settings
  const hosts = setup(ctx)
  const failures = await inspectAll(ctx, hosts, true)
  await Promise.all(
    hosts
      .filter((h) => h.session.lock === 'held' && h.state)
      .map(async (h) => {
        const st = h.state as ServerState
        const prune = releasesToPrune(st.log, st.releases, st.live, s.keepReleases)
        try {
          const reply = await h.session.call('prune', { PRUNE: prune.join(' ') })
          h.result.pruned = all(reply, 'pruned')
          ctx.reporter.info(
            `${h.session.label}: pruned ${h.result.pruned.length ? h.result.pruned.join(', ') : 'nothing'} (keeping ${s.keepReleases || 'all'} good releases; ${badReleases(st.log).size} marked bad)`,
          )
        } catch (e) {
          const err = toDeployError(e)
          h.result.error = err.message
          failures.push(err)
        }
      }),
  )
  await unlockAll(ctx, hosts)
  return outcome(hosts, [], fleetFailure(failures, hosts.length, 'Prune'))
}

export async function runUnlock(ctx: RunContext): Promise<CommandOutcome> {
  const hosts = setup(ctx)
  const failures: DeployError[] = []
  await pool(hosts, ctx.settings.maxParallel, async (h) => {
    try {
      await ctx.ssh.connect(h.session.index, h.session.label, ctx.signal)
      const reply = await h.session.call('releaseLock', { FORCE: 1, DISCARD: '', UNPUBLISH: '' })
      const was = first(reply, 'unlocked')
      h.result.status = 'not-switched'
      ctx.reporter.info(
        was ? `${h.session.label}: removed the lock held by ${was}` : `${h.session.label}: was not locked`,
      )
    } catch (e) {
      const err = toDeployError(e)
      h.result.error = err.message
      failures.push(err)
    }
  })
  return outcome(hosts, [], fleetFailure(failures, hosts.length, 'Unlock'))
}
