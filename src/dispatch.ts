/**
 * The commands, by name: loaded by run-command.ts once the first connection is opening (a chunk of
 * the bundle of its own), so none of their code is parsed or run before the handshake starts.
 */
import { runList, runPrune, runRollback, runUnlock } from './commands.js'
import { runDeploy } from './deploy.js'
import { runDoctor } from './doctor.js'
import type { CommandOutcome } from './outcome.js'
import type { RunContext } from './session.js'
import { runVerify } from './verify-command.js'

/** Runs one command with a ready connection setup. */
export async function dispatch(c: RunContext): Promise<CommandOutcome> {
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
    case 'doctor':
      return runDoctor(c)
    case 'verify':
      return runVerify(c)
  }
}
