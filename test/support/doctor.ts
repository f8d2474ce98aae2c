/** What the doctor tests (unit and integration) read in its report. */

/** The checks made on the server's reply, in the order doctor prints them. */
export const SERVER_CHECKS = [
  'login shell',
  'rsync here',
  'rsync on the server',
  'target',
  'one filesystem',
  'free space',
  'atomic switch',
  'current',
  'lock',
]

/** Every check of a run that connected: the connection's three, then the server's. */
export const ALL_CHECKS = ['host key', 'login', 'access', ...SERVER_CHECKS]

/** The ✓/✗ lines of a doctor run: { check name: mark }. */
export function marks(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of text.matchAll(/^ {2}([✓✗]) ([^:]+):/gm)) out[m[2] as string] = m[1] as string
  return out
}
