#!/usr/bin/env node
// The command-line front end (bin: rsync-atomic-deploy), bundled on its own into dist/cli.
import { main } from './cli-app.js'

process.exitCode = await main(process.argv.slice(2), process.env)
