import { existsSync } from 'node:fs'
import path from 'node:path'
import * as core from '@actions/core'
import { run as spawnRun } from './proc.js'
import { renderScript } from './remote.js'
import { removeSshDir } from './ssh.js'
import { type LockState, State } from './state.js'

/**
 * The post step: runs even when the main step failed or was cancelled. Releases a deploy lock the
 * main step could not release, closes the SSH masters and deletes the key. It warns, never fails.
 */
export async function post(): Promise<void> {
  const dir = core.getState(State.SshDir)
  if (!dir || !existsSync(dir)) return
  const locks = core.getState(State.Locks)
  if (locks) {
    try {
      const l = JSON.parse(locks) as LockState
      for (const i of l.hosts) {
        const script = renderScript('releaseLock', {
          T: l.target,
          LINK: l.linkName,
          TOKEN: l.token,
          FORCE: 0,
          DISCARD: '',
          UNPUBLISH: '',
        })
        const r = await spawnRun('ssh', ['-F', path.join(dir, 'config'), '-T', `rad-${i}`, 'sh -s'], {
          input: script,
          signal: AbortSignal.timeout(30_000),
        })
        if (r.code === 0) core.info(`Released the deploy lock on host ${i + 1} left by the main step.`)
        else core.warning(`Could not release the deploy lock on host ${i + 1}: ${r.stderr.trim()}`)
      }
    } catch (e) {
      core.warning(`Could not release the deploy lock: ${e}`)
    }
  }
  try {
    await removeSshDir(dir)
    core.info('Closed the SSH connection and deleted the key.')
  } catch (e) {
    core.warning(`Could not delete ${dir}: ${e}`)
  }
}
