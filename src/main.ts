import { randomBytes } from 'node:crypto'
import * as core from './actions-core.js'
import { incomingName } from './deploy-host.js'
import { reportDoctor } from './doctor-action.js'
import { releaseLines } from './format.js'
import { parseSettings } from './inputs.js'
import { secretLines } from './key.js'
import { toDeployError } from './outcome.js'
import { actionOutputs } from './outputs.js'
import { runCommand } from './run-command.js'
import type { Reporter, Settings } from './settings.js'
import { commandSpec } from './spec.js'
import { type LockState, State } from './state.js'
import { actionRollbackText, wayBack, writeSummary } from './summary.js'
import { safeMessage } from './untrusted.js'
import { verifyText } from './verify-render.js'

// Every message passes safeMessage: core.info writes it raw, and core.warning/error/debug escape
// only %, CR and LF, not escape sequences. Streamed server output is also fenced with
// ::stop-commands:: and a fresh random token, so the runner reads no command inside it.
const reporter: Reporter = {
  info: (m) => core.info(safeMessage(m)),
  warning: (m) => core.warning(safeMessage(m)),
  debug: (m) => core.debug(safeMessage(m)),
  group: (name, fn) => core.group(safeMessage(name), fn),
  output: (lines) => {
    const token = randomBytes(16).toString('hex')
    core.info(`::stop-commands::${token}`)
    for (const l of lines) core.info(safeMessage(l))
    core.info(`::${token}::`)
  },
}

/**
 * The action's inputs (INPUT_* variables), read through @actions/core. Here rather than in
 * inputs.ts, so the CLI bundle (which shares inputs.ts) does not carry @actions/core.
 */
function readSettings(): Settings {
  return parseSettings((name) => core.getInput(name))
}

function maskSecrets(settings: Settings): void {
  for (const line of secretLines(settings.key)) core.setSecret(line)
  if (settings.keyPassphrase) core.setSecret(settings.keyPassphrase)
  // healthcheck.ts never prints the URL's password, but the runner may echo the input itself.
  try {
    const password = new URL(settings.healthcheckUrl).password
    if (password) {
      core.setSecret(password)
      core.setSecret(decodeURIComponent(password))
    }
  } catch {}
}

/** The main step: inputs → command → outputs and summary. The only caller of setFailed/setOutput. */
export async function run(): Promise<void> {
  core.saveState(State.IsPost, 'true')
  let settings: Settings
  try {
    settings = readSettings()
  } catch (e) {
    core.setFailed(safeMessage(toDeployError(e).toString()))
    return
  }
  maskSecrets(settings)

  const token = randomBytes(8).toString('hex')
  const makesRelease = commandSpec(settings.command).switches === true
  const locks: LockState = {
    target: settings.target,
    linkName: settings.linkName,
    token,
    hosts: [],
    releaseId: makesRelease ? settings.releaseId : '',
    incoming: makesRelease ? incomingName(settings, token) : '',
  }
  const { outcome, failure, closed } = await runCommand(settings, {
    reporter,
    token,
    // The runner's worker: it outlives this step until the post step has run.
    ownerPid: process.ppid,
    onSshDir: (dir) => core.saveState(State.SshDir, dir),
    onLock: (i, held) => {
      locks.hosts = held ? [...new Set([...locks.hosts, i])] : locks.hosts.filter((h) => h !== i)
      core.saveState(State.Locks, JSON.stringify(locks))
    },
  })
  // The connection closes and the key goes while the outputs and the summary are written; the
  // step ends after both, whatever happens here.
  try {
    if (outcome) {
      // The core returns the releases; the log shows them as a table too (the CLI prints its own).
      if (settings.command === 'list' && outcome.releases.length > 0) {
        reporter.info(releaseLines(outcome.releases).join('\n'))
      }
      if (outcome.verify) reporter.info(verifyText(outcome).trimEnd())
      const back = wayBack(settings, outcome)
      if (back) reporter.info(actionRollbackText(back))
      for (const [name, value] of Object.entries(actionOutputs(outcome))) core.setOutput(name, value)
      if (outcome.doctor)
        await reportDoctor(outcome.doctor) // command: doctor (doctor-action.ts)
      else
        await writeSummary(settings, outcome).catch((e) =>
          core.warning(`Could not write the job summary: ${e}`),
        )
    }
    if (failure) core.setFailed(safeMessage(failure.toString()))
  } finally {
    await closed
  }
}
