import { randomBytes } from 'node:crypto'
import * as core from '@actions/core'
import * as io from '@actions/io'
import { type CommandOutcome, runList, runPrune, runRollback, runUnlock } from './commands.js'
import { runDeploy, toDeployError } from './deploy.js'
import { DeployError } from './errors.js'
import { readSettings } from './inputs.js'
import { secretLines } from './key.js'
import type { Core } from './session.js'
import type { Reporter, Settings } from './settings.js'
import { Ssh } from './ssh.js'
import { type LockState, State } from './state.js'
import { setOutputs, writeSummary } from './summary.js'

const reporter: Reporter = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, fn) => core.group(name, fn),
}

/** Runs one command of the action with a ready connection setup. */
export async function dispatch(c: Core): Promise<CommandOutcome> {
  switch (c.settings.command) {
    case 'deploy':
    case 'upload':
    case 'activate':
      return { ...(await runDeploy(c)), releases: [] }
    case 'rollback':
      return runRollback(c)
    case 'list':
      return runList(c)
    case 'prune':
      return runPrune(c)
    case 'unlock':
      return runUnlock(c)
  }
}

function maskSecrets(settings: Settings): void {
  for (const line of secretLines(settings.key)) core.setSecret(line)
  if (settings.keyPassphrase) core.setSecret(settings.keyPassphrase)
}

/** The main step: inputs → command → outputs and summary. The only caller of setFailed/setOutput. */
export async function run(): Promise<void> {
  core.saveState(State.IsPost, 'true')
  let settings: Settings
  try {
    settings = await readSettings()
  } catch (e) {
    core.setFailed(toDeployError(e).toString())
    return
  }
  maskSecrets(settings)

  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, settings.timeoutSeconds * 1000)
  const onSignal = () => controller.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const token = randomBytes(8).toString('hex')
  const locks: LockState = { target: settings.target, linkName: settings.linkName, token, hosts: [] }
  let outcome: CommandOutcome | undefined
  let failure: DeployError | undefined
  let ssh: Ssh | undefined
  try {
    const sshPath = await io.which('ssh', true)
    const rsyncPath =
      settings.command === 'deploy' || settings.command === 'upload' ? await io.which('rsync', true) : ''
    ssh = await Ssh.create(
      {
        hosts: settings.hosts,
        jumpHost: settings.jumpHost,
        key: settings.key,
        keyPassphrase: settings.keyPassphrase,
        trusted: settings.trusted,
        acceptUnknownHostKey: settings.acceptUnknownHostKey,
        persistSeconds: 300,
      },
      sshPath,
      (dir) => core.saveState(State.SshDir, dir),
    )
    outcome = await dispatch({
      settings,
      ssh,
      reporter,
      signal: controller.signal,
      token,
      rsyncPath,
      onLock: (i, held) => {
        locks.hosts = held ? [...new Set([...locks.hosts, i])] : locks.hosts.filter((h) => h !== i)
        core.saveState(State.Locks, JSON.stringify(locks))
      },
    })
    failure = outcome.error
  } catch (e) {
    failure = toDeployError(e)
  } finally {
    clearTimeout(timer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await ssh?.dispose()
  }
  if (timedOut) {
    failure = new DeployError(
      `Stopped after ${settings.timeoutSeconds} s (input timeout). ${failure ? `Last error: ${failure.message}` : ''}`.trim(),
      `${
        outcome?.hosts.some((h) => h.status === 'deployed' || h.status === 'rolled-back')
          ? 'The switch had completed before the timeout (see above).'
          : 'Nothing was switched: the release served before is still live.'
      } Raise timeout for large uploads, or check the link to the server.`,
      'timeout',
    )
  }
  if (outcome) {
    setOutputs(settings, outcome)
    await writeSummary(settings, outcome).catch((e) => core.warning(`Could not write the job summary: ${e}`))
  }
  if (failure) core.setFailed(failure.toString())
}
