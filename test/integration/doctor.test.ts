/**
 * command: doctor (the action) and `rsync-atomic-deploy doctor` (the CLI) against the real sshd:
 * a healthy server passes every check with exit code 0; a broken one (the link a real directory,
 * the target not writable, no rsync in the deploy user's PATH) gets a ✗ with its fix and a failed
 * step. The server's tree is the same, byte for byte and inode for inode, before and after.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cliConnection, runCli } from '../support/cli.js'
import { ALL_CHECKS, marks } from '../support/doctor.js'
import { expectOk } from '../support/expect.js'
import { ensureUser, TEST_USER } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { treeSnapshot as snapshot } from '../support/tree.js'

/** A dedicated user whose login PATH has no rsync (its ~/.ssh/environment): radtest stays as it is. */
const NORSYNC_USER = 'radnorsync'
let norsync: { uid: number; gid: number; home: string }

beforeAll(() => {
  norsync = ensureUser(NORSYNC_USER, '/bin/sh')
  // Every program of /usr/bin but rsync, in a directory of its own; sshd puts it in PATH (PermitUserEnvironment).
  const bin = `${norsync.home}/bin`
  if (!existsSync(bin)) {
    mkdirSync(bin)
    for (const f of readdirSync('/usr/bin')) if (f !== 'rsync') symlinkSync(`/usr/bin/${f}`, `${bin}/${f}`)
  }
  mkdirSync(`${norsync.home}/.ssh`, { recursive: true })
  writeFileSync(`${norsync.home}/.ssh/environment`, `PATH=${bin}\n`)
  chownSync(`${norsync.home}/.ssh`, norsync.uid, norsync.gid)
})

const { sshd, tmp, newTarget, sourceDir, deploy, command } = useSshd({ extraUsers: [NORSYNC_USER] })

describe('doctor on a healthy server', () => {
  it('the action: every check ✓, success, the checks in the summary, and the server untouched', async () => {
    const target = newTarget()
    expectOk(await deploy(target, sourceDir({ 'index.html': 'v1\n' }), { 'release-id': 'r1' }))
    const before = snapshot(path.dirname(target))
    const r = await command(target, 'doctor')
    expectOk(r)
    const m = marks(r.stdout)
    expect(Object.keys(m)).toEqual(ALL_CHECKS)
    expect(Object.values(m).every((x) => x === '✓')).toBe(true)
    expect(r.stdout).toMatch(/✓ current: .*\/current -> releases\/r1/)
    expect(r.stdout).toMatch(new RegExp(`✓ target: .* writable by ${TEST_USER} and owned by it`))
    expect(r.summary).toContain('doctor')
    expect(r.summary).toContain('all checks passed')
    expect(r.summary).not.toContain('✗')
    expect(r.outputs['release-id']).toBe('r1')
    expect(snapshot(path.dirname(target))).toEqual(before)
  })

  it('the CLI: exit 0, and a target that does not exist yet is not created (nor its .deploy)', async () => {
    const target = newTarget('not-yet')
    const before = snapshot(path.dirname(target))
    const r = await runCli(['doctor', ...cliConnection(sshd, tmp('raddoc-cli-')), '--target', target])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(Object.values(marks(r.stdout))).toEqual(ALL_CHECKS.map(() => '✓'))
    expect(r.stdout).toMatch(/✓ target: .*not-yet does not exist yet; radtest can create it in/)
    expect(r.stdout).toContain('All checks passed')
    expect(existsSync(target)).toBe(false)
    expect(snapshot(path.dirname(target))).toEqual(before)
  })
})

describe('doctor on a broken server', () => {
  it('current a real directory, the target not writable: each ✗ with its fix, failure, nothing changed', async () => {
    const target = newTarget()
    mkdirSync(`${target}/current`, { recursive: true })
    writeFileSync(`${target}/current/index.html`, 'served in place\n')
    // The target belongs to root now: the deploy user can no longer write there.
    chownSync(target, 0, 0)
    chmodSync(target, 0o755)
    const before = snapshot(path.dirname(target))
    const r = await command(target, 'doctor')
    expect(r.code).not.toBe(0)
    const m = marks(r.stdout)
    expect(m.current).toBe('✗')
    expect(m.target).toBe('✗')
    expect(m['rsync on the server']).toBe('✓')
    expect(r.stdout).toMatch(/✗ current: .*\/current is a real directory, not a symlink/)
    expect(r.stdout).toContain(
      'mkdir -p releases && mv current releases/initial && ln -s releases/initial current',
    )
    expect(r.stdout).toMatch(/✗ target: .* is owned by root and not writable by radtest/)
    expect(r.stdout).toContain(`install -d -o ${TEST_USER} ${target}`)
    expect(r.stdout).toMatch(/::error::doctor: 2 checks failed/)
    expect(r.summary).toContain('✗')
    expect(r.summary).toContain('2 failed')
    expect(snapshot(path.dirname(target))).toEqual(before)
  })

  it('no rsync in the PATH of a dedicated deploy user: ✗ with the install command, exit 1', async () => {
    const root = tmp('raddoc-norsync-')
    chownSync(root, norsync.uid, norsync.gid)
    const target = `${root}/site`
    const before = snapshot(root)
    const connection = cliConnection(sshd, tmp('raddoc-cli-'), NORSYNC_USER)
    const r = await runCli(['doctor', ...connection, '--target', target])
    expect(r.code).toBe(1)
    const m = marks(r.stdout)
    expect(m['rsync on the server']).toBe('✗')
    expect(Object.entries(m).filter(([, v]) => v === '✗')).toHaveLength(1)
    expect(r.stdout).toMatch(/✗ rsync on the server: rsync is not installed on the server/)
    expect(r.stdout).toContain('fix: Install rsync on the server (Debian/Ubuntu: apt-get install rsync')
    expect(r.stderr).toMatch(/doctor: 1 check failed .*rsync on the server/)
    expect(snapshot(root)).toEqual(before)
  })

  it('a host key that does not match: ✗ host key, exit 3 (could not connect)', async () => {
    const dir = tmp('raddoc-kh-')
    const connection = cliConnection(sshd, dir)
    // Another server's key.
    writeFileSync(
      `${dir}/known_hosts`,
      `[127.0.0.1]:${sshd.port} ${sshd.client.publicKey.split(' ').slice(0, 2).join(' ')}\n`,
    )
    const r = await runCli(['doctor', ...connection, '--target', newTarget()])
    expect(r.code).toBe(3)
    expect(marks(r.stdout)['host key']).toBe('✗')
    expect(r.stdout).toMatch(/✗ host key: The host key of .* it CHANGED/)
  })
})
