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
import { summary as slimSummary } from '../node_modules/@actions/core/lib/summary.js'
import { toCommandProperties, toCommandValue } from '../node_modules/@actions/core/lib/utils.js'

/**
 * Run from the source (tsx under @github/local-action, which stubs @actions/core's index to
 * capture outputs and state, or a test), every call goes to the real @actions/core instead. The
 * bundle never loads it: webpackIgnore leaves the import to run time, and it never runs there.
 */
const real: typeof import('@actions/core') | undefined = new URL(import.meta.url).pathname.endsWith('.ts')
  ? await import(/* webpackIgnore: true */ '@actions/core')
  : undefined

export const summary = real?.summary ?? slimSummary

export function getInput(name: string): string {
  if (real) return real.getInput(name)
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim()
}

export function setOutput(name: string, value: unknown): void {
  if (real) {
    real.setOutput(name, value)
    return
  }
  if (process.env.GITHUB_OUTPUT) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value))
    return
  }
  process.stdout.write(os.EOL)
  issueCommand('set-output', { name }, toCommandValue(value))
}

/**
 * setOutput for many outputs at once: the same file-command text, appended in one write rather
 * than one open, write and close per output (~25 of them at the end of every deploy).
 */
export function setOutputs(outputs: Record<string, unknown>): void {
  const entries = Object.entries(outputs)
  if (real || !process.env.GITHUB_OUTPUT) {
    for (const [name, value] of entries) setOutput(name, value)
    return
  }
  if (entries.length === 0) return
  issueFileCommand('OUTPUT', entries.map(([name, value]) => prepareKeyValueMessage(name, value)).join(os.EOL))
}

export function saveState(name: string, value: unknown): void {
  if (real) {
    real.saveState(name, value)
    return
  }
  if (process.env.GITHUB_STATE) {
    issueFileCommand('STATE', prepareKeyValueMessage(name, value))
    return
  }
  issueCommand('save-state', { name }, toCommandValue(value))
}

export function getState(name: string): string {
  if (real) return real.getState(name)
  return process.env[`STATE_${name}`] || ''
}

export function setSecret(secret: string): void {
  if (real) {
    real.setSecret(secret)
    return
  }
  issueCommand('add-mask', {}, secret)
}

export function debug(message: string): void {
  if (real) {
    real.debug(message)
    return
  }
  issueCommand('debug', {}, message)
}

export function info(message: string): void {
  if (real) {
    real.info(message)
    return
  }
  process.stdout.write(message + os.EOL)
}

export function warning(message: string): void {
  if (real) {
    real.warning(message)
    return
  }
  issueCommand('warning', toCommandProperties({}), message)
}

export function error(message: string): void {
  if (real) {
    real.error(message)
    return
  }
  issueCommand('error', toCommandProperties({}), message)
}

export function setFailed(message: string): void {
  if (real) {
    real.setFailed(message)
    return
  }
  process.exitCode = 1
  error(message)
}

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (real) return real.group(name, fn)
  issue('group', name)
  try {
    return await fn()
  } finally {
    issue('endgroup')
  }
}
