import { randomBytes } from 'node:crypto'
import * as core from './actions-core.js'
import { incomingName } from './incoming.js'
import { parseSettings } from './inputs.js'
import { secretLines } from './key.js'
import { toDeployError } from './outcome.js'
import { checkRsync, runCommand } from './run-command.js'
import type { Reporter, Settings } from './settings.js'
import { commandSpec, defaultOf, namesUploadingCommand } from './spec.js'
import { type LockState, State } from './state.js'
import { safeMessage } from './untrusted.js'

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

const report = () => import(/* webpackChunkName: "commands" */ './action-report.js')

/** The main step: inputs → command → outputs and summary (action-report.ts). The only caller of setFailed. */
export async function run(): Promise<void> {
  // rsync --version runs while the inputs are read (nothing connects before it is done).
  const command = core.getInput('command').trim() || defaultOf('command')
  const rsync = namesUploadingCommand(command) ? checkRsync() : undefined

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
    rsync,
    preload: report,
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
      // Loaded while the handshake ran (preload), in the commands' chunk.
      const { reportOutcome } = await report()
      await reportOutcome(settings, outcome, reporter)
    }
    if (failure) core.setFailed(safeMessage(failure.toString()))
  } finally {
    await closed
  }
}
