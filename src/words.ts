import type { Command } from './settings.js'

/**
 * How messages name settings and commands, in the words of the front end that runs: the action's
 * inputs (`key-passphrase`, `command: unlock`) or the CLI's flags and RAD_* variables
 * (`--key-passphrase-env NAME`, `rsync-atomic-deploy unlock`). The core takes one of these and
 * never spells a front end's word itself.
 */
export interface Words {
  /** An input, optionally with a value: `release-id` / `release-id: X`, `--release-id` / `--release-id X`. */
  input(name: string, value?: string): string
  /** How to run a command: `command: unlock` / `rsync-atomic-deploy unlock`. */
  command(name: Command): string
}

export const ACTION_WORDS: Words = {
  input: (name, value) => (value === undefined ? name : `${name}: ${value}`),
  command: (name) => `command: ${name}`,
}
