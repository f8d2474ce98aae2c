import { existsSync } from 'node:fs'
import * as core from './actions-core.js'
import { first, parseReply, remoteCommand, renderScript } from './remote.js'
import { removeSshDir, Ssh } from './ssh.js'
import { type LockState, State } from './state.js'
import { untrustedLines } from './untrusted.js'

/**
 * The post step: runs even when the main step failed or was cancelled. Where the main step could
 * not give its lock back (killed), it stops what of that run still runs on the server, says what
 * is served and releases the lock; then it closes the SSH masters and deletes the key. It warns,
 * never fails.
 */
export async function post(): Promise<void> {
  const dir = core.getState(State.SshDir)
  if (!dir || !existsSync(dir)) return
  const locks = core.getState(State.Locks)
  if (locks) {
    try {
      const l = JSON.parse(locks) as LockState
      await Promise.all(l.hosts.map((i) => recoverHost(dir, l, i)))
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

/** The recover script on host `i`, over a connection of its own (the master may be stuck), bounded. */
async function recoverHost(dir: string, l: LockState, i: number): Promise<void> {
  const script = renderScript('recover', {
    T: l.target,
    LINK: l.linkName,
    TOKEN: l.token,
    // The post step's own bound (the ssh call below gives up after 10 s).
    LEFT: 10,
    ID: l.releaseId ?? '',
    INCOMING: l.incoming ?? '',
    LOGLINE: '',
    KEEP_LOCK: 0,
  })
  const r = await Ssh.execInDir(dir, i, script, {
    signal: AbortSignal.timeout(10_000),
    command: remoteCommand('recover'),
  })
  const reply = parseReply(r.stdout)
  if (!reply.ok) {
    core.warning(
      `Could not release the deploy lock on host ${i + 1}: ${r.aborted ? 'no answer within 10 s' : untrustedLines(r.stderr, 5).join(' | ')}`,
    )
    return
  }
  // A plain name from the server, or nothing: never its raw text on our stdout.
  const live = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(first(reply, 'live')) ? first(reply, 'live') : ''
  const lock = first(reply, 'lock').split(' ')[0]
  const serves = `${l.target}/${l.linkName} serves ${live ? `releases/${live}` : 'no release'}`
  if (lock === 'released') {
    const ours =
      l.releaseId && live === l.releaseId
        ? ` (release ${l.releaseId} had gone live before the main step was stopped)`
        : ''
    core.info(
      `Released the deploy lock on host ${i + 1} left by the main step, after stopping its work there; ${serves}${ours}.`,
    )
  } else {
    core.info(`Host ${i + 1}: the deploy lock is no longer held by the main step; ${serves}.`)
  }
}
