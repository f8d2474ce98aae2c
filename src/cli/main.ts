/**
 * The command line as one pipeline: parse → settings → run → render, and the one place where an
 * error becomes a message on stderr and an exit code. No @actions/core here.
 */

import { type DeployError, InputError } from '../errors.js'
import { renderGate } from '../gate.js'
import { initMain } from '../init-cli.js'
import { toDeployError } from '../outcome.js'
import { COMMANDS, type Command } from '../settings.js'
import { helpText } from './help.js'
import { invocation } from './invocation.js'
import { BIN, parseCli, UsageError, VERSION } from './parse.js'
import { colorWanted, errorText, resultText, type Stream, style } from './render.js'
import { runCli } from './run.js'
import { CLI_WORDS, cliInputMessage, cliSettings } from './settings.js'

/** Exit codes: scripts can tell bad input from an unreachable server from a failed deploy. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, connection: 3, interrupted: 130 } as const

/** DeployError codes of a connection that could not be made (hints.ts explainSshFailure). */
const CONNECTION_CODES = new Set([
  'key-format',
  'passphrase',
  'host-key-changed',
  'host-key-unknown',
  'auth',
  'refused',
  'dns',
  'unreachable',
  'closed',
  'ssh',
  'ssh-config',
])

export function exitCodeFor(failure: DeployError | undefined, cancelled = false): number {
  if (!failure) return EXIT.ok
  if (cancelled || failure.code === 'cancelled') return EXIT.interrupted
  if (failure.code === 'bad-input') return EXIT.badInput
  if (CONNECTION_CODES.has(failure.code)) return EXIT.connection
  return EXIT.failed
}

export interface CliIo {
  stdout: Stream
  stderr: Stream
}

/** A run that ended with an error, after its result was printed. */
class RunFailed extends Error {
  constructor(
    readonly failure: DeployError,
    readonly cancelled: boolean,
  ) {
    super(failure.message)
  }
}

/** Every way the command line fails: its message, what to do, the exit code. */
function failureOf(e: unknown): { message: string; hint: string; code: number } {
  if (e instanceof RunFailed) {
    return { message: e.failure.message, hint: e.failure.hint, code: exitCodeFor(e.failure, e.cancelled) }
  }
  if (e instanceof UsageError) return { message: e.message, hint: e.hint, code: EXIT.badInput }
  if (e instanceof InputError) return { message: cliInputMessage(e), hint: e.hint, code: EXIT.badInput }
  // Anything else was thrown while reading the inputs (nothing was contacted yet).
  return { message: toDeployError(e).message, hint: '', code: EXIT.badInput }
}

function isCommand(c: string): c is Command {
  return (COMMANDS as readonly string[]).includes(c)
}

/** The whole command line; resolves with the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (argv[0] === 'init') return initMain(argv.slice(1), env, io, CLI_WORDS) // init.ts
  // The server-side forced command of a gated key (gate.ts), generated from this very version.
  if (argv[0] === 'gate' && argv.length === 1) {
    io.stdout.write(renderGate())
    return EXIT.ok
  }
  const noColor = argv.includes('--no-color')
  const es = style(colorWanted(io.stderr, env, noColor))
  try {
    await pipeline(argv, env, io, noColor)
    return EXIT.ok
  } catch (e) {
    const f = failureOf(e)
    io.stderr.write(errorText(es, f.message, f.hint))
    return f.code
  }
}

async function pipeline(argv: string[], env: NodeJS.ProcessEnv, io: CliIo, noColor: boolean): Promise<void> {
  const cli = parseCli(argv)
  if (cli.values.version) {
    io.stdout.write(`${VERSION}\n`)
    return
  }
  const useOne = `Use one of: ${COMMANDS.join(', ')}.`
  if (cli.command === 'help' || cli.values.help) {
    const about = cli.command === 'help' ? cli.helpFor : cli.command
    if (about && !isCommand(about)) throw new UsageError(`'${about}' is not a command`, useOne)
    io.stdout.write(helpText(about && isCommand(about) ? about : undefined))
    return
  }
  if (!cli.command) {
    io.stderr.write(helpText())
    throw new UsageError('no command given', useOne)
  }
  if (!isCommand(cli.command)) {
    throw new UsageError(`'${cli.command}' is not a command`, `${useOne} See: ${BIN} --help`)
  }
  const settings = await cliSettings(cli, env)
  const es = style(colorWanted(io.stderr, env, noColor))
  const { outcome, failure, cancelled } = await runCli(settings, {
    stderr: io.stderr,
    style: es,
    verbose: cli.values.verbose === true,
  })
  if (outcome) {
    io.stdout.write(
      resultText(settings, outcome, {
        json: cli.values.json === true,
        failed: failure !== undefined,
        style: style(colorWanted(io.stdout, env, noColor)),
        bin: invocation(env, process.argv[1]),
      }),
    )
  }
  if (failure) throw new RunFailed(failure, cancelled)
}
