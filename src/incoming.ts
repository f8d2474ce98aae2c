/**
 * The names of an attempt's upload in .deploy/incoming: here rather than in deploy-host.ts, so the
 * action's main step can name its lock state before the deploy's own modules are loaded.
 */

/** The upload dir of this attempt in .deploy/incoming (activate: what command: upload left). */
export function incomingName(s: { command: string; releaseId: string }, token: string): string {
  return s.command === 'activate' ? stagedName(s.releaseId) : `${s.releaseId}.${token.slice(0, 8)}`
}

/** Where command: upload leaves a finished upload for command: activate. */
export function stagedName(releaseId: string): string {
  return `${releaseId}.staged`
}
