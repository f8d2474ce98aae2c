#!/usr/bin/env node
// The command-line front end (bin: rsync-atomic-deploy), bundled on its own into dist/cli.
import { format } from 'node:util'
import { main } from './cli-app.js'

// stdout holds results only (`--json | jq`): what a library prints through console (@actions/io's
// which() logs one line per unreadable PATH entry) goes to stderr.
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const) {
  console[name] = (...args: unknown[]) => {
    process.stderr.write(`${format(...args)}\n`)
  }
}
// A reader that stops early (`… | head -1`) closes the pipe: end quietly, no EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e
  })
}

process.exitCode = await main(process.argv.slice(2), process.env)
