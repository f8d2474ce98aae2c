import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  findRsync,
  findSsh,
  MIN_RSYNC,
  onPath,
  parseRsyncVersion,
  platformProblem,
  rsyncCandidates,
  rsyncProblem,
} from '../../src/runner-platform.js'

// `rsync --version` as each prints it (first lines; the rest does not matter).
const SAMBA_327 =
  'rsync  version 3.2.7  protocol version 31\nCopyright (C) 1996-2022 by Andrew Tridgell, Wayne Davison, and others.\n'
const SAMBA_350 = 'rsync  version 3.5.0  protocol version 32\n'
const SAMBA_313 = 'rsync  version 3.1.3  protocol version 31\n'
const SAMBA_310 = 'rsync  version 3.1.0  protocol version 31\n'
const SAMBA_309 = 'rsync  version 3.0.9  protocol version 30\n'
const MAC_OLD =
  'rsync  version 2.6.9  protocol version 29\nCopyright (C) 1996-2006 by Andrew Tridgell, Wayne Davison, and others.\n'
const MAC_OPENRSYNC = 'openrsync: protocol version 29\nrsync version 2.6.9 compatible\n'
const OPENRSYNC = 'openrsync: protocol version 29\n'

describe('parseRsyncVersion', () => {
  it('reads a real rsync', () => {
    expect(parseRsyncVersion(SAMBA_327)).toEqual({ kind: 'rsync', version: [3, 2, 7], protocol: 31 })
    expect(parseRsyncVersion(SAMBA_350)).toEqual({ kind: 'rsync', version: [3, 5, 0], protocol: 32 })
    expect(parseRsyncVersion(MAC_OLD)).toEqual({ kind: 'rsync', version: [2, 6, 9], protocol: 29 })
  })

  it("takes macOS's openrsync for what it is, not for the rsync 2.6.9 it claims to be compatible with", () => {
    expect(parseRsyncVersion(MAC_OPENRSYNC)).toEqual({ kind: 'openrsync', protocol: 29 })
    expect(parseRsyncVersion(OPENRSYNC)).toEqual({ kind: 'openrsync', protocol: 29 })
  })

  it('knows nothing else', () => {
    expect(parseRsyncVersion('')).toEqual({ kind: 'unknown' })
    expect(parseRsyncVersion('rsync version 2.6.9 compatible\n')).toEqual({ kind: 'unknown' })
    expect(parseRsyncVersion('busybox: applet not found\n')).toEqual({ kind: 'unknown' })
  })
})

describe('rsyncProblem', () => {
  it(`accepts rsync ${MIN_RSYNC.join('.')} and later`, () => {
    for (const t of [SAMBA_310, SAMBA_313, SAMBA_327, SAMBA_350])
      expect(rsyncProblem(parseRsyncVersion(t))).toBe('')
  })

  it('refuses openrsync, rsync older than 3.1.0 and unknown output, saying why', () => {
    expect(rsyncProblem(parseRsyncVersion(MAC_OPENRSYNC))).toMatch(/openrsync \(protocol 29\).*--info/)
    expect(rsyncProblem(parseRsyncVersion(SAMBA_309))).toBe('it is rsync 3.0.9; 3.1.0 or later is needed')
    expect(rsyncProblem(parseRsyncVersion(MAC_OLD))).toBe('it is rsync 2.6.9; 3.1.0 or later is needed')
    expect(rsyncProblem(parseRsyncVersion('what'))).toMatch(/not rsync's/)
  })
})

describe('findRsync', () => {
  const versions: Record<string, string> = {
    '/usr/bin/rsync': MAC_OPENRSYNC,
    '/opt/homebrew/bin/rsync': SAMBA_350,
    '/usr/local/bin/rsync': SAMBA_327,
  }
  const fake = (present: string[]) => ({
    exists: (p: string) => present.includes(p),
    versionOf: async (p: string) => versions[p] ?? '',
  })

  it("on macOS prefers Homebrew's rsync to the openrsync on PATH", async () => {
    const f = fake(['/usr/bin/rsync', '/opt/homebrew/bin/rsync', '/usr/local/bin/rsync'])
    expect(await findRsync('/usr/bin/rsync', 'darwin', f.exists, f.versionOf)).toBe('/opt/homebrew/bin/rsync')
    const intel = fake(['/usr/bin/rsync', '/usr/local/bin/rsync'])
    expect(await findRsync('/usr/bin/rsync', 'darwin', intel.exists, intel.versionOf)).toBe(
      '/usr/local/bin/rsync',
    )
  })

  it('uses the rsync on PATH when it is a real one', async () => {
    const f = fake(['/usr/local/bin/rsync', '/opt/homebrew/bin/rsync'])
    expect(await findRsync('/usr/local/bin/rsync', 'darwin', f.exists, f.versionOf)).toBe(
      '/usr/local/bin/rsync',
    )
    expect(await findRsync('/usr/local/bin/rsync', 'linux', f.exists, f.versionOf)).toBe(
      '/usr/local/bin/rsync',
    )
  })

  it('with only openrsync, stops with what it found and `brew install rsync`', async () => {
    const f = fake(['/usr/bin/rsync'])
    const e = await findRsync('/usr/bin/rsync', 'darwin', f.exists, f.versionOf).catch((x) => x)
    expect(e.code).toBe('runner')
    expect(e.message).toContain('/usr/bin/rsync: it is openrsync (protocol 29)')
    expect(e.message).toContain('Nothing was contacted')
    expect(e.hint).toContain('brew install rsync')
  })

  it('on Linux only the rsync on PATH counts; none or an old one stops with how to install it', async () => {
    const none = await findRsync(
      '',
      'linux',
      () => true,
      async () => SAMBA_350,
    ).catch((x) => x)
    expect(none.message).toContain('no rsync on PATH')
    expect(none.hint).toContain('apt-get install rsync')
    const old = await findRsync(
      '/usr/bin/rsync',
      'linux',
      () => true,
      async () => SAMBA_309,
    ).catch((x) => x)
    expect(old.message).toContain('/usr/bin/rsync: it is rsync 3.0.9; 3.1.0 or later is needed')
    expect(rsyncCandidates('/usr/bin/rsync', 'linux')).toEqual(['/usr/bin/rsync'])
  })

  it('finds the real rsync of this machine (the one the integration tests use)', async () => {
    const { execFileSync } = await import('node:child_process')
    const onPath = execFileSync('sh', ['-c', 'command -v rsync'], { encoding: 'utf8' }).trim()
    expect(await findRsync(onPath)).toBe(onPath)
  })
})

describe('platformProblem', () => {
  it('stops on Windows, naming the runners that work and why', () => {
    const e = platformProblem('win32')
    expect(e?.code).toBe('runner')
    expect(e?.message).toMatch(/does not run on Windows runners.*rsync.*ControlMaster/)
    expect(e?.hint).toContain('runs-on: ubuntu-latest')
    expect(e?.hint).toContain('brew install rsync')
  })

  it('lets Linux and macOS through', () => {
    expect(platformProblem('linux')).toBeUndefined()
    expect(platformProblem('darwin')).toBeUndefined()
  })
})

describe('onPath', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'rad-onpath-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const dir = (name: string, files: Record<string, number | 'dir'>) => {
    const d = path.join(root, name)
    mkdirSync(d)
    for (const [f, mode] of Object.entries(files)) {
      if (mode === 'dir') mkdirSync(path.join(d, f))
      else {
        writeFileSync(path.join(d, f), '#!/bin/sh\n')
        chmodSync(path.join(d, f), mode)
      }
    }
    return d
  }
  const noExec = dir('noexec', { tool: 0o644 })
  const isDir = dir('isdir', { tool: 'dir' })
  const good = dir('good', { tool: 0o755 })
  const later = dir('later', { tool: 0o755 })

  it('finds the first executable file of that name, in PATH order', () => {
    expect(onPath('tool', [good, later].join(':'))).toBe(path.join(good, 'tool'))
    expect(onPath('tool', [later, good].join(':'))).toBe(path.join(later, 'tool'))
  })

  it('skips what is not one: a directory, a file without x, an entry that is no directory, an empty entry', () => {
    const p = ['', '/etc/passwd/bin', path.join(root, 'missing'), isDir, good].join(':')
    expect(onPath('tool', p)).toBe(path.join(good, 'tool'))
    // Root too: access(2) grants X_OK only where some x bit is set.
    expect(onPath('tool', noExec)).toBe('')
    expect(onPath('tool', [isDir, '/etc/passwd/bin'].join(':'))).toBe('')
  })

  it('findSsh says there is none, before anything connects', () => {
    expect(() => findSsh(isDir)).toThrow(/No ssh on this machine \(none on PATH\)\. Nothing was contacted\./)
    expect(findSsh(process.env.PATH)).toMatch(/\/ssh$/)
  })
})
