/**
 * The command line, step 3: Settings → the shared core (run-command.ts, as the action runs it),
 * connecting through the person's own ssh setup where no key or known hosts were given.
 */
import { type CommandRun, runCommand } from '../run-command.js'
import type { Settings } from '../settings.js'
import { CliReporter, type Stream, type Style } from './render.js'
import { CLI_WORDS } from './settings.js'

export interface RunOptions {
  /** Where log lines and the progress line go. */
  stderr: Stream
  style: Style
  verbose: boolean
}

export async function runCli(settings: Settings, opts: RunOptions): Promise<CommandRun> {
  // The log lines of list, rollback and prune say what their result on stdout says: --verbose only.
  const quiet = ['list', 'rollback', 'prune'].includes(settings.command)
  const reporter = new CliReporter(opts.stderr, opts.style, { verbose: opts.verbose, info: !quiet })
  try {
    const r = await runCommand(settings, {
      reporter,
      allowOwnSsh: true,
      timeoutFlag: '--timeout',
      words: CLI_WORDS,
    })
    await r.closed
    return r
  } finally {
    reporter.done()
  }
}
