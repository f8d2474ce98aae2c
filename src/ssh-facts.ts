import { readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { SshFacts, SshFailureContext } from './hints.js'
import { sshFactsNeeded } from './hints.js'
import { run } from './proc.js'

/**
 * The facts explainSshFailure (hints.ts, pure) needs about a failed connection, gathered on this
 * machine with ssh-keyscan / ssh-keygen: only those the error calls for.
 */
export async function gatherSshFacts(stderr: string, ctx: SshFailureContext): Promise<SshFacts> {
  const need = sshFactsNeeded(stderr, ctx)
  const facts: SshFacts = {}
  if (need.offeredKeys) facts.offered = await offeredKeys(ctx)
  if (need.keyChecks) {
    const keygen = ctx.sshPath.replace(/ssh$/, 'ssh-keygen')
    if (!ctx.passphraseGiven) {
      const y = await run(keygen, ['-y', '-P', '', '-f', ctx.keyPath]).catch(() => undefined)
      facts.keyNeedsPassphrase = y !== undefined && y.code !== 0 && /passphrase/i.test(y.stderr)
    }
    if (!facts.keyNeedsPassphrase) {
      const r = await run(keygen, ['-lf', ctx.keyPath]).catch(() => undefined)
      facts.keyFingerprint = r?.code === 0 ? r.stdout : ''
    }
  }
  return facts
}

/**
 * The key the server offers, read through the jump host the way the deploy connects (ssh-keyscan
 * cannot use a proxy): one ssh that records the key in a scratch file and then offers no
 * authentication at all, so nothing logs in to a server whose key is not trusted.
 */
export function jumpScanArgs(jump: { config: string; alias: string }, knownHostsFile: string): string[] {
  return [
    '-F',
    jump.config,
    '-S',
    'none',
    '-o',
    'ControlMaster=no',
    ...scanOnlyOptions(knownHostsFile),
    '-o',
    'ConnectTimeout=5',
    jump.alias,
    'true',
  ]
}

/**
 * ssh options that make a connection only learn the server's key (into `knownHostsFile`) and then
 * offer no authentication at all: a key scan that can go through a jump host.
 */
export function scanOnlyOptions(knownHostsFile: string): string[] {
  return [
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    `UserKnownHostsFile=${knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'KnownHostsCommand=none',
    '-o',
    'PreferredAuthentications=none',
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'BatchMode=yes',
  ]
}

async function scanThroughJump(jump: NonNullable<SshFailureContext['jump']>): Promise<string[]> {
  const file = path.join(path.dirname(jump.config), `scan-${jump.alias}`)
  try {
    await run(jump.sshPath, jumpScanArgs(jump, file), { signal: AbortSignal.timeout(15_000) })
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
  } finally {
    rmSync(file, { force: true })
  }
}

/** What the server offers, as known_hosts lines and their fingerprints; undefined when the scan failed. */
async function offeredKeys(ctx: SshFailureContext): Promise<SshFacts['offered']> {
  const host = ctx.host
  if (!host) return undefined
  try {
    let lines: string[]
    if (ctx.jump) lines = await scanThroughJump(ctx.jump)
    else {
      const keyscan = ctx.sshPath.replace(/ssh$/, 'ssh-keyscan')
      const scan = await run(keyscan, ['-T', '5', '-p', String(host.port), host.host])
      lines = scan.stdout.split('\n').filter((l) => l && !l.startsWith('#'))
    }
    if (lines.length === 0) return { lines, fingerprints: '' }
    const fp = await run(ctx.sshPath.replace(/ssh$/, 'ssh-keygen'), ['-lf', '-'], {
      input: `${lines.join('\n')}\n`,
    })
    return { lines, fingerprints: fp.stdout.trim() }
  } catch {
    return undefined
  }
}
