import * as core from './actions-core.js'
import type { HostChecks } from './doctor.js'
import { doctorMarkdown, doctorText } from './doctor-render.js'

/** command: doctor in the action: one log line per check, and the checks in the job summary. */
export async function reportDoctor(report: HostChecks[]): Promise<void> {
  // doctorText has escaped every server text; a line of it is never read as a workflow command.
  for (const line of doctorText(report).trimEnd().split('\n')) core.info(line)
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await core.summary
    .addRaw(doctorMarkdown(report))
    .write()
    .catch((e) => core.warning(`Could not write the job summary: ${e}`))
}
