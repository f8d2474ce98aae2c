/** Assertions on a run of the bundle that several integration files make the same way. */
import { expect } from 'vitest'
import { type ActionRun, errorText } from './harness.js'

/** The step succeeded and said no error (the log is the message if it did not). */
export function expectOk(run: ActionRun): void {
  expect(errorText(run), run.stdout).toBe('')
  expect(run.code).toBe(0)
}

/** The step failed with an error, and the post step still cleaned up; returns the error text. */
export function expectFailed(run: ActionRun): string {
  expect(run.code, run.stdout).not.toBe(0)
  const msg = errorText(run)
  if (process.env.SHOWMSG) console.log(`----\n${msg}\n`)
  expect(msg).not.toBe('')
  expect(run.post?.code).toBe(0)
  return msg
}

/** Everything the step printed or produced, minus the ::add-mask:: commands the runner consumes. */
export function printed(run: ActionRun): string {
  return [
    run.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n'),
    run.stderr,
    JSON.stringify(run.outputs),
    run.summary,
    run.post?.stdout ?? '',
    run.post?.stderr ?? '',
  ].join('\n')
}
