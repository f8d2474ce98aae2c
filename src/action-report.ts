/**
 * What the action's main step shows of an outcome once the command has ended: the tables, the way
 * back, the outputs and the job summary. Loaded with the commands (main.ts), not before the
 * connection opens.
 */
import * as core from './actions-core.js'
import { reportDoctor } from './doctor-action.js'
import { releaseLines } from './format.js'
import type { CommandOutcome } from './outcome.js'
import { actionOutputs } from './outputs.js'
import type { Reporter, Settings } from './settings.js'
import { actionRollbackText, wayBack, writeSummary } from './summary.js'
import { verifyText } from './verify-render.js'

export async function reportOutcome(
  settings: Settings,
  outcome: CommandOutcome,
  reporter: Reporter,
): Promise<void> {
  // The core returns the releases; the log shows them as a table too (the CLI prints its own).
  if (settings.command === 'list' && outcome.releases.length > 0) {
    reporter.info(releaseLines(outcome.releases).join('\n'))
  }
  if (outcome.verify) reporter.info(verifyText(outcome).trimEnd())
  const back = wayBack(settings, outcome)
  if (back) reporter.info(actionRollbackText(back))
  core.setOutputs(actionOutputs(outcome))
  if (outcome.doctor)
    await reportDoctor(outcome.doctor) // command: doctor (doctor-action.ts)
  else
    await writeSummary(settings, outcome).catch((e) => core.warning(`Could not write the job summary: ${e}`))
}
