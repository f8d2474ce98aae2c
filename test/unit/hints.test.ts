import { execFileSync } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { explainRsyncExit, explainSshFailure, remoteErrorHint, sshFactsNeeded } from '../../src/hints.js'
import { tempDir } from './helpers.js'

describe('explainRsyncExit', () => {
  it.each<[number, RegExp]>([
    [
      12,
      /the data stream broke: often a shell startup file on the server \(\.bashrc, \.profile\) prints text/,
    ],
    [23, /some files could not be transferred \(permissions, unreadable files, or a full disk\)/],
    [24, /vanished during the transfer/],
    [30, /the transfer stalled \(timeout in data send\/receive\)/],
    [127, /rsync is not installed on the server \(or not in PATH\)/],
    [255, /the SSH connection failed or dropped/],
    [2, /openrsync/],
    [1, /syntax or usage error/],
  ])('code %d says why', (code, why) => {
    const text = explainRsyncExit(code, '')
    expect(text.startsWith(`rsync exited with code ${code}: `)).toBe(true)
    expect(text).toMatch(why)
    expect(text).not.toContain('disk is full')
    expect(text).not.toContain('\n')
  })

  it('gives the exact text for code 12 with stderr', () => {
    expect(explainRsyncExit(12, 'protocol version mismatch -- is your shell clean?\n')).toBe(
      'rsync exited with code 12: the data stream broke: often a shell startup file on the server (.bashrc, .profile) prints text; make it print nothing for non-interactive shells.\nprotocol version mismatch -- is your shell clean?',
    )
  })

  it('says "rsync failed" for a code it does not know', () => {
    expect(explainRsyncExit(99, '')).toBe('rsync exited with code 99: rsync failed.')
  })

  it.each([
    'rsync: [receiver] write failed on "/srv/www/.deploy/incoming/r1/big.bin": No space left on device (28)',
    'rsync: write failed: Disk quota exceeded (122)',
  ])('recognises a full disk in %j', (stderr) => {
    const text = explainRsyncExit(
      23,
      `sending incremental file list\n${stderr}\nrsync error: some files could not be transferred (code 23)`,
    )
    expect(text).toContain(
      ' The server disk is full: free space (prune old releases, keep-releases) and re-run.',
    )
    expect(text).toContain(stderr)
  })

  it('keeps only the last 4 lines of stderr', () => {
    const stderr = ['one', 'two', 'three', 'four', 'five', 'six'].join('\n')
    expect(explainRsyncExit(255, `${stderr}\n\n`).split('\n').slice(1)).toEqual([
      'three',
      'four',
      'five',
      'six',
    ])
  })
})

describe('remoteErrorHint', () => {
  const ctx = { target: '/srv/www', linkName: 'current', user: 'deploy' }

  it.each<[string, string]>([
    [
      'rsync-missing',
      'Install rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).',
    ],
    [
      'target-unwritable',
      'Create the target and give it to the deploy user, e.g. `sudo install -d -o deploy /srv/www`.',
    ],
    [
      'link-not-symlink',
      'To migrate: move the directory into a release and point a symlink at it, e.g. `cd /srv/www && mkdir -p releases && mv current releases/initial && ln -s releases/initial current`. Serving continues from the same files.',
    ],
    [
      'release-exists',
      'Release ids are never reused: give a new release-id, or leave it empty to generate one.',
    ],
    [
      'locked',
      'Wait for the other deploy, or if it is dead run this action with command: unlock (or `rm -r TARGET/.deploy/lock` on the server). Use a `concurrency:` group in the workflow to queue deploys.',
    ],
    ['lock-lost', 'Another run took the lock over (it judged ours stale). Re-run this deploy.'],
    [
      'not-uploaded',
      'Run command: upload with the same release-id on every host first (a matrix job), then command: activate.',
    ],
    ['no-target', 'Check target: it must be the directory you deploy to.'],
    ['no-such-code', ''],
    ['', ''],
  ])('%s', (code, hint) => {
    expect(remoteErrorHint(code, ctx)).toBe(hint)
  })

  it('names a default user when the host names none', () => {
    expect(remoteErrorHint('target-unwritable', { ...ctx, user: '' })).toContain(
      'sudo install -d -o deploy /srv/www',
    )
    expect(remoteErrorHint('target-unwritable', { ...ctx, user: 'www' })).toContain(
      'sudo install -d -o www /srv/www',
    )
  })

  it('quotes a target the shell would split', () => {
    expect(remoteErrorHint('target-unwritable', { ...ctx, target: "/srv/my site/it's" })).toBe(
      "Create the target and give it to the deploy user, e.g. `sudo install -d -o deploy '/srv/my site/it'\\''s'`.",
    )
  })

  it('suggests a migration command that works when pasted, even for a target with spaces and quotes', () => {
    const target = path.join(tempDir('radunit-hint-'), "my site/it's $(touch canary)")
    mkdirSync(path.join(target, 'live'), { recursive: true })
    writeFileSync(path.join(target, 'live/index.html'), 'hello\n')
    const hint = remoteErrorHint('link-not-symlink', { target, linkName: 'live', user: '' })
    const cmd = /`([^`]+)`/.exec(hint)?.[1] ?? ''
    execFileSync('sh', ['-c', cmd], { cwd: path.dirname(path.dirname(target)) })
    expect(lstatSync(path.join(target, 'live')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(path.join(target, 'live'))).toBe('releases/initial')
    expect(readFileSync(path.join(target, 'live/index.html'), 'utf8')).toBe('hello\n')
    expect(readdirSync(target).sort()).toEqual(['live', 'releases'])
    expect(existsSync(path.join(path.dirname(target), 'canary'))).toBe(false)
  })
})

describe('explainSshFailure: pure, from the facts the caller gathered', () => {
  const ctx = {
    label: 'deploy@web1',
    user: 'deploy',
    keyPath: '/nonexistent/key',
    hasKey: true,
    passphraseGiven: false,
    passphraseRejected: false,
    host: { host: 'web1', port: 2222, user: 'deploy', label: 'deploy@web1' },
    sshPath: '/usr/bin/ssh',
  }
  const unknown = 'Host key verification failed.'
  const denied = 'deploy@web1: Permission denied (publickey).'

  it('asks for a key scan on a host key failure and for key checks on a refused login, nothing else', () => {
    expect(sshFactsNeeded(unknown, ctx)).toEqual({ offeredKeys: true, keyChecks: false })
    expect(sshFactsNeeded('@@@ REMOTE HOST IDENTIFICATION HAS CHANGED! @@@', ctx).offeredKeys).toBe(true)
    expect(sshFactsNeeded(denied, ctx)).toEqual({ offeredKeys: false, keyChecks: true })
    expect(sshFactsNeeded(denied, { ...ctx, hasKey: false }).keyChecks).toBe(false)
    // Own setup: ssh's own known_hosts decides, so nothing is scanned.
    expect(sshFactsNeeded(unknown, { ...ctx, ownSetup: true }).offeredKeys).toBe(false)
    expect(sshFactsNeeded('Connection refused', ctx)).toEqual({ offeredKeys: false, keyChecks: false })
    expect(sshFactsNeeded(`Load key "k": invalid format\n${denied}`, ctx).keyChecks).toBe(false)
  })

  it('shows the offered keys it was given, or says the jump host hid them', () => {
    const offered = {
      lines: ['[web1]:2222 ssh-ed25519 AAAAC3Nz'],
      fingerprints: '256 SHA256:abc [web1]:2222 (ED25519)',
    }
    const e = explainSshFailure(unknown, ctx, { offered })
    expect(e.code).toBe('host-key-unknown')
    expect(e.hint).toContain(
      'The server offers (check these fingerprints against the server before you trust them):\n256 SHA256:abc',
    )
    expect(e.hint).toContain('known_hosts lines to pin:\n[web1]:2222 ssh-ed25519 AAAAC3Nz')
    const jump = { sshPath: '/usr/bin/ssh', config: '/tmp/rad-x/config', alias: 'rad-0' }
    const hidden = explainSshFailure(unknown, { ...ctx, jump }, { offered: { lines: [], fingerprints: '' } })
    expect(hidden.hint).toContain(
      'Its key could not be read through the jump host (run `ssh-keyscan -p 2222 web1` on the jump host).',
    )
    // A scan that failed adds nothing.
    expect(explainSshFailure(unknown, ctx, {}).hint).not.toContain('The server offers')
  })

  it('a refused login: the passphrase the key needs, else the fingerprint of the key that was refused', () => {
    expect(explainSshFailure(denied, ctx, { keyNeedsPassphrase: true }).code).toBe('passphrase')
    const e = explainSshFailure(denied, ctx, { keyFingerprint: '256 SHA256:xyz me@laptop (ED25519)\n' })
    expect(e.code).toBe('auth')
    expect(e.message).toBe(
      'deploy@web1 refused the login as user deploy with the key SHA256:xyz (ED25519): Permission denied (publickey).',
    )
  })
})
