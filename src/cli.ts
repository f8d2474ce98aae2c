#!/usr/bin/env node
// The command-line front end (bin: rsync-atomic-deploy), bundled on its own into dist/cli.
import { format } from 'node:util'
import { main } from './cli/main.js'

// stdout holds results only (`--json | jq`): what a library prints through console never goes
// there. Its chatter (log, info, debug) is shown on stderr with --verbose only; its warnings and
// errors always.
const verbose = process.argv.slice(2).some((a) => a === '--verbose' || /^-[a-z]*v[a-z]*$/.test(a))
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const) {
  const chatter = name === 'log' || name === 'info' || name === 'debug'
  console[name] = (...args: unknown[]) => {
    if (!chatter || verbose) process.stderr.write(`${format(...args)}\n`)
  }
}
// A reader that stops early (`… | head -1`) closes the pipe: end quietly, no EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e
  })
}

process.exitCode = await main(process.argv.slice(2), process.env)
