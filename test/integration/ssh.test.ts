/**
 * Host keys and client keys the way people paste them, IPv6, and the SSH connection's life cycle:
 * the backgrounded master must not hold the step open, and the post step must clean up after a
 * main step that was killed outright.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { printed } from '../support/expect.js'
import {
  type ActionRun,
  allCommandLines,
  baseInputs,
  errorText,
  linkTarget,
  listDir,
  makeKey,
  nodeBinaries,
  readTree,
  runAction,
  runPost,
  type Sshd,
  sshProcessesWith,
  startSshd,
  TEST_USER,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, newTarget: newTargetNamed, sourceDir } = useSshd()

function smallSite(version = 'v1'): string {
  return sourceDir({ 'index.html': `<h1>${version}</h1>\n`, 'assets/app.js': `console.log('${version}')\n` })
}

function newTarget(server: Sshd = sshd): string {
  return newTargetNamed('site', server)
}

function expectDeployed(run: ActionRun, target: string, id: string, src: string): void {
  expect(errorText(run), run.stdout + run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(linkTarget(`${target}/current`)).toBe(`releases/${id}`)
  expect(readTree(`${target}/current`)).toEqual(readTree(src))
  expect(run.post?.code ?? 0).toBe(0)
}

const hostKeyLine = () => sshd.knownHosts.trim().split(' ').slice(1).join(' ')

describe.each(nodeBinaries())('host keys and the connection under $name', ({ path: node }) => {
  it('known-hosts as a plain `127.0.0.1 ssh-ed25519 …` line while the port is not 22', async () => {
    expect(sshd.port).not.toBe(22)
    expect(sshd.knownHostsPlain).toMatch(/^127\.0\.0\.1 ssh-ed25519 AAAA/)
    const target = newTarget()
    const src = smallSite()
    const run = await runAction(
      { ...baseInputs(sshd, target, src), 'known-hosts': sshd.knownHostsPlain, 'release-id': 'r1' },
      { node },
    )
    expectDeployed(run, target, 'r1', src)
  })

  it('returns promptly: the backgrounded ControlMaster does not hold the step’s stdout/stderr open', async () => {
    const target = newTarget()
    const src = smallSite()
    const run = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r1' }, { node })
    expectDeployed(run, target, 'r1', src)
    // A hang check, not a speed goal: a held pipe would block until ControlPersist or ConnectTimeout.
    expect(run.durationMs).toBeLessThan(10_000)
    expect(sshProcessesWith(run.state.sshDir ?? '/tmp/rad-?')).toEqual([])
  })

  it('the master is asked to exit on its own socket: no `ssh -O exit` is run, and none is left', async () => {
    const target = newTarget()
    const src = smallSite()
    // Every ssh the action runs goes through this one, which writes down its arguments.
    const bin = mkdtempSync(path.join(tmp('radssh-'), 'bin-'))
    const calls = path.join(bin, 'calls')
    writeFileSync(
      path.join(bin, 'ssh'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> ${calls}\nexec /usr/bin/ssh "$@"\n`,
      {
        mode: 0o755,
      },
    )
    const c0 = sshd.connections()
    const run = await runAction(
      { ...baseInputs(sshd, target, src), 'release-id': 'r1' },
      { node, env: { PATH: `${bin}:${process.env.PATH}` } },
    )
    expectDeployed(run, target, 'r1', src)
    const lines = readFileSync(calls, 'utf8').trim().split('\n')
    expect(lines.some((l) => l.includes(' -M '))).toBe(true)
    expect(lines.filter((l) => / -O /.test(l))).toEqual([])
    expect(sshd.connections() - c0).toBe(1)
    expect(sshProcessesWith(run.state.sshDir ?? '/tmp/rad-?')).toEqual([])
    expect(existsSync(run.state.sshDir ?? '/tmp/rad-?')).toBe(false)
  })
})

// Host-key forms the action reads itself: the same under either Node (the two above run under both).
describe('host keys, as people give them', () => {
  it('known-hosts as only the SHA256 fingerprint', async () => {
    expect(sshd.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    const target = newTarget()
    const src = smallSite()
    const run = await runAction({
      ...baseInputs(sshd, target, src),
      'known-hosts': `${sshd.fingerprint}\n`,
      'release-id': 'r1',
    })
    expectDeployed(run, target, 'r1', src)
  })

  it('accept-unknown-host-key without known-hosts deploys and warns with the key line to pin', async () => {
    const target = newTarget()
    const src = smallSite()
    const run = await runAction({
      ...baseInputs(sshd, target, src),
      'known-hosts': '',
      'accept-unknown-host-key': 'true',
      'release-id': 'r1',
    })
    expectDeployed(run, target, 'r1', src)
    const warnings = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('::warning::'))
      .map((l) => l.replace(/%0A/g, '\n').replace(/%25/g, '%'))
      .join('\n')
    expect(warnings).toMatch(/accept-unknown-host-key/)
    expect(warnings).toMatch(/known-hosts/)
    expect(warnings).toContain(`[127.0.0.1]:${sshd.port} ${hostKeyLine()}`)
  })
})

describe('keys as people paste them', () => {
  it('a passphrase-protected key deploys with key-passphrase, which never reaches argv or output', async () => {
    const pass = 'pass phrase'
    const pp = makeKey(tmp('radkey-'), 'withpass', pass)
    expect(pp.privateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/)
    sshd.authorize(`${sshd.client.publicKey.trim()}\n${pp.publicKey.trim()}`)
    try {
      const target = newTarget()
      const src = smallSite()
      // Watch every process's argv while the step runs.
      const seen: string[] = []
      const watch = setInterval(() => {
        for (const cmd of allCommandLines()) if (cmd.includes(pass)) seen.push(cmd)
      }, 10)
      let run: ActionRun
      try {
        run = await runAction({
          ...baseInputs(sshd, target, src),
          key: pp.privateKey,
          'key-passphrase': pass,
          'release-id': 'r1',
        })
      } finally {
        clearInterval(watch)
      }
      expectDeployed(run, target, 'r1', src)
      expect(seen).toEqual([])
      expect(run.stdout.split('\n')).toContain(`::add-mask::${pass}`)
      expect(printed(run)).not.toContain(pass)
      expect(JSON.stringify(readTree(target))).not.toContain(pass)
      expect(sshd.log()).not.toContain(pass)

      // The same key with a wrong passphrase: said plainly, nothing changes.
      const bad = await runAction({
        ...baseInputs(sshd, target, smallSite('v2')),
        key: pp.privateKey,
        'key-passphrase': 'wrong words',
        'release-id': 'r2',
      })
      expect(bad.code).not.toBe(0)
      expect(errorText(bad)).toMatch(/key passphrase \(key-passphrase\) does not decrypt the key/)
      expect(errorText(bad)).toMatch(/Check the passphrase secret/)
      expect(printed(bad)).not.toContain('wrong words')

      // And without any passphrase: the message points at key-passphrase.
      const none = await runAction({
        ...baseInputs(sshd, target, smallSite('v2')),
        key: pp.privateKey,
        'release-id': 'r2',
      })
      expect(none.code).not.toBe(0)
      expect(errorText(none)).toMatch(/protected by a passphrase and key-passphrase is not set/)
      expect(errorText(none)).not.toMatch(/authorized_keys/)
      expect(linkTarget(`${target}/current`)).toBe('releases/r1')
      expect(listDir(`${target}/releases`)).toEqual(['r1'])
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    } finally {
      sshd.authorize(sshd.client.publicKey)
    }
  })

  it('a key with CRLF line endings and no final newline deploys', async () => {
    const key = sshd.client.privateKey.replace(/\n/g, '\r\n').replace(/\s+$/, '')
    expect(key).toContain('\r\n')
    expect(key.endsWith('-----')).toBe(true)
    const target = newTarget()
    const src = smallSite()
    const run = await runAction({ ...baseInputs(sshd, target, src), key, 'release-id': 'r1' })
    expectDeployed(run, target, 'r1', src)
  })

  const notPrivate: [string, () => string, RegExp][] = [
    ['a pasted public key', () => sshd.client.publicKey, /public key/],
    [
      'a PuTTY key',
      () =>
        [
          'PuTTY-User-Key-File-3: ssh-ed25519',
          'Encryption: none',
          'Comment: deploy@ci',
          'Public-Lines: 2',
          'AAAAC3NzaC1lZDI1NTE5AAAAIKf0mq5V3pYw4ngXvQ3zW3b5Z0YdS0e2Qm6yX1b7m7kq',
          'Private-Lines: 1',
          'AAAAIFl0n4b4yCk8d1p3k0p4eQ9m2p2P7q1y0r3v8l7m0a1b',
          'Private-MAC: 6a0d4e8ff1e2b6a1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819',
          '',
        ].join('\r\n'),
      /PuTTY/,
    ],
  ]
  it.each(notPrivate)('%s fails before any connection, naming the input key', async (_n, key, what) => {
    const target = newTarget()
    const c0 = sshd.connections()
    const run = await runAction({ ...baseInputs(sshd, target, smallSite()), key: key(), 'release-id': 'r1' })
    expect(run.code).not.toBe(0)
    const msg = errorText(run)
    expect(msg).toMatch(/Input 'key'/)
    expect(msg).toMatch(what)
    expect(msg).toMatch(/private key|Convert it/)
    // Give sshd a moment to log a connection if one had been made.
    await new Promise((r) => setTimeout(r, 200))
    expect(sshd.connections()).toBe(c0)
    expect(existsSync(`${target}`)).toBe(false)
  })
})

describe('IPv6', () => {
  it('deploys to radtest@[::1]:PORT', async () => {
    const sshd6 = await startSshd({ listen: '::1' })
    try {
      expect(sshd6.knownHosts).toMatch(/^\[::1\]:\d+ ssh-ed25519 /)
      const target = newTarget(sshd6)
      const src = smallSite()
      const run = await runAction({
        ...baseInputs(sshd6, target, src),
        host: `${TEST_USER}@[::1]:${sshd6.port}`,
        'release-id': 'r1',
      })
      expectDeployed(run, target, 'r1', src)
      expect(run.outputs.hosts).toContain(`[::1]:${sshd6.port}`)
      expect(sshd6.log()).toMatch(/Connection from ::1 port \d+/)
    } finally {
      await sshd6.stop()
    }
  })
})

/**
 * A site big enough that its upload takes a while: 120 files of 1 MiB random data. The step is
 * killed after 20 of them; the other 100 MiB take far longer than the 20 ms the kill waits.
 */
let bigSite = ''
let bigFiles: string[] = []
function big(): string {
  if (bigSite) return bigSite
  bigSite = tmp('radbig-')
  const files: Record<string, Buffer> = {}
  for (let i = 0; i < 120; i++) files[`f-${String(i).padStart(3, '0')}.bin`] = randomBytes(1 << 20)
  writeSite(bigSite, files)
  bigFiles = Object.keys(files).sort()
  return bigSite
}

/** Deploys r1 (small), then starts r2 (big) and SIGKILLs the main step once its upload is under way. */
async function killedDuringUpload(
  target: string,
): Promise<{ killed: ActionRun; r1Tree: Record<string, string> }> {
  const small = smallSite()
  const r1 = await runAction({ ...baseInputs(sshd, target, small), 'release-id': 'r1' })
  expectDeployed(r1, target, 'r1', small)
  const r1Tree = readTree(`${target}/current`)
  const incoming = `${target}/.deploy/incoming`
  const uploaded = () => listDir(incoming).reduce((n, d) => n + listDir(path.join(incoming, d)).length, 0)
  const killed = await runAction(
    { ...baseInputs(sshd, target, big()), 'release-id': 'r2' },
    { post: false, signal: 'SIGKILL', killWhen: () => uploaded() >= 20 },
  )
  expect(killed.code).not.toBe(0)
  const dir = killed.state.sshDir ?? ''
  expect(dir).toMatch(/^\/tmp\/rad-/)
  // What the runner's post step finds: the key, a live master, our lock, a partial upload.
  expect(readdirSync(dir)).toContain('key')
  expect(sshProcessesWith(dir).length).toBeGreaterThan(0)
  expect(existsSync(`${target}/.deploy/lock`)).toBe(true)
  expect(JSON.parse(killed.state.locks ?? '{}')).toMatchObject({ target, hosts: [0] })
  expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  expect(listDir(`${target}/releases`)).toEqual(['r1'])
  return { killed, r1Tree }
}

async function waitNoSsh(dir: string): Promise<void> {
  for (let i = 0; i < 100 && sshProcessesWith(dir).length > 0; i++)
    await new Promise((r) => setTimeout(r, 100))
  expect(sshProcessesWith(dir)).toEqual([])
}

describe('a main step killed outright (SIGKILL)', () => {
  it('the post step closes the master, deletes the key, releases the lock; current unchanged; the next deploy works', async () => {
    const target = newTarget()
    const { killed, r1Tree } = await killedDuringUpload(target)
    const dir = killed.state.sshDir ?? ''

    const post = await runPost(killed.state)
    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(/Released the deploy lock/)
    expect(existsSync(dir)).toBe(false)
    // The master (and any orphaned rsync/ssh of the killed step) goes away.
    await waitNoSsh(dir)
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(readTree(`${target}/current`)).toEqual(r1Tree)

    // The next deploy works, and reuses what the killed upload had already sent.
    const r3 = await runAction({ ...baseInputs(sshd, target, big()), 'release-id': 'r3' })
    expect(errorText(r3)).toBe('')
    expect(r3.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
    expect(listDir(`${target}/releases`)).toEqual(['r1', 'r3'])
    // files-linked counts only inodes shared with the live release (r1): the reuse of the killed
    // upload's files shows in what was not sent again.
    expect(Number(r3.outputs['files-transferred'])).toBeLessThanOrEqual(bigFiles.length - 19)
    expect(listDir(`${target}/current`)).toEqual(bigFiles)
  }, 90_000)

  it('without a post step (the runner vanished): the next deploy takes over the stale lock', async () => {
    const target = newTarget()
    const { killed, r1Tree } = await killedDuringUpload(target)
    const dir = killed.state.sshDir ?? ''
    // The machine is gone: so are its master connection and its files.
    for (const pid of sshProcessesWith(dir)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Ended by itself meanwhile (a session opened ahead ends when the step's pipe does).
      }
    }
    await waitNoSsh(dir)
    rmSync(dir, { recursive: true, force: true })
    expect(existsSync(`${target}/.deploy/lock`)).toBe(true)
    expect(readTree(`${target}/current`)).toEqual(r1Tree)

    const src = smallSite('v3')
    const started = Date.now()
    const r3 = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r3' })
    expectDeployed(r3, target, 'r3', src)
    expect(r3.stdout).toMatch(/::warning::.*stale deploy lock/)
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(listDir(`${target}/releases`)).toEqual(['r1', 'r3'])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
  }, 90_000)
})
