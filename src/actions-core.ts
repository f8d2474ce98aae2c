/**
 * The parts of @actions/core this action uses, built on @actions/core's own modules (the workflow
 * command and file command encoders, the job summary). Its index module also loads an HTTP client
 * (for OIDC tokens, which we never ask for) and @actions/exec: 150 ms of every step's start on a
 * 2-core runner, more than all the rest of the bundle. The functions below are those of
 * @actions/core 3.x, line for line, so its escaping of commands and file-command delimiters is
 * what runs.
 */
import * as os from 'node:os'
import { issue, issueCommand } from '../node_modules/@actions/core/lib/command.js'
import { issueFileCommand, prepareKeyValueMessage } from '../node_modules/@actions/core/lib/file-command.js'
import { toCommandProperties, toCommandValue } from '../node_modules/@actions/core/lib/utils.js'

export { summary } from '../node_modules/@actions/core/lib/summary.js'

export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim()
}

export function setOutput(name: string, value: unknown): void {
  if (process.env.GITHUB_OUTPUT) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value))
    return
  }
  process.stdout.write(os.EOL)
  issueCommand('set-output', { name }, toCommandValue(value))
}

export function saveState(name: string, value: unknown): void {
  if (process.env.GITHUB_STATE) {
    issueFileCommand('STATE', prepareKeyValueMessage(name, value))
    return
  }
  issueCommand('save-state', { name }, toCommandValue(value))
}

export function getState(name: string): string {
  return process.env[`STATE_${name}`] || ''
}

export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret)
}

export function debug(message: string): void {
  issueCommand('debug', {}, message)
}

export function info(message: string): void {
  process.stdout.write(message + os.EOL)
}

export function warning(message: string): void {
  issueCommand('warning', toCommandProperties({}), message)
}

export function error(message: string): void {
  issueCommand('error', toCommandProperties({}), message)
}

export function setFailed(message: string): void {
  process.exitCode = 1
  error(message)
}

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue('group', name)
  try {
    return await fn()
  } finally {
    issue('endgroup')
  }
}
