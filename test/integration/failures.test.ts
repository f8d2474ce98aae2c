/**
 * Every failure must say what went wrong and how to fix it, and leave the server serving exactly
 * what it served before: `current` untouched, no new release, no partial upload, no lock left.
 */
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  type ActionRun,
  baseInputs,
  errorText,
  freePort,
  isSymlink,
  linkTarget,
  listDir,
  makeKey,
  nodeBinaries,
  pathWithout,
  readTree,
  runAction,
  sh,
  silentListener,
  sshProcessesWith,
  TEST_USER,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, removeAfter, newTarget, sourceDir } = useSshd()

function source(version: string): string {
  return sourceDir({
    'index.html': `<h1>${version}</h1>\n`,
    'assets/app.css': `body { color: ${version === 'v1' ? 'red' : 'blue'} }\n`,
    'assets/big.txt': `${version} `.repeat(5000),
  })
}

interface Live {
  target: string
  tree: Record<string, string>
}

/** A target serving release r1, deployed the normal way. */
async function liveR1(node: string): Promise<Live> {
  const target = newTarget()
  const src = source('v1')
  const r1 = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r1' }, { node })
  expect(errorText(r1)).toBe('')
  expect(r1.code).toBe(0)
  expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  return { target, tree: readTree(`${target}/current`) }
}

/** The server serves exactly what it served before the failed deploy. */
function expectUnchanged(live: Live): void {
  const { target } = live
  expect(isSymlink(`${target}/current`)).toBe(true)
  expect(linkTarget(`${target}/current`)).toBe('releases/r1')
  expect(listDir(`${target}/releases`)).toEqual(['r1'])
  expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
  expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
  expect(listDir(`${target}/.deploy`).filter((n) => n.startsWith('current.'))).toEqual([])
  expect(readTree(`${target}/current`)).toEqual(live.tree)
}

/** Failed with a message matching every pattern; the key and the master are gone after post. */
function expectFailure(run: ActionRun, ...patterns: RegExp[]): string {
  const msg = errorText(run)
  expect(run.code, run.stdout + run.stderr).not.toBe(0)
  expect(msg).not.toBe('')
  for (const p of patterns) expect(msg).toMatch(p)
  expect(run.post?.code).toBe(0)
  const dir = run.state.sshDir ?? ''
  expect(dir).toMatch(/^\/tmp\/rad-/)
  expect(existsSync(dir)).toBe(false)
  expect(sshProcessesWith(dir)).toEqual([])
  return msg
}

function fingerprintOf(publicKey: string): string {
  return sh('ssh-keygen', ['-lf', '-'], { input: publicKey }).split(' ')[1] ?? ''
}

describe.each(nodeBinaries())(
  'connection failures leave the server as it was, under $name',
  ({ path: node }) => {
    it('wrong host key in known-hosts: shows the key the server offers and how to pin it', async () => {
      const live = await liveR1(node)
      const other = makeKey(tmp('radkey-'), 'otherhost')
      const otherLine = `[127.0.0.1]:${sshd.port} ${other.publicKey.trim().split(' ').slice(0, 2).join(' ')}\n`
      const run = await runAction(
        { ...baseInputs(sshd, live.target, source('v2')), 'known-hosts': otherLine, 'release-id': 'r2' },
        { node },
      )
      const offered = sshd.knownHosts.trim().split(' ').slice(1).join(' ')
      const msg = expectFailure(run, /host key/i, /known-hosts/)
      expect(msg).toContain(sshd.fingerprint)
      expect(msg).toContain(offered)
      expect(msg).toMatch(/pin|replace known-hosts/i)
      expectUnchanged(live)
    })
  },
)

// The same ssh errors under either Node: the one above runs under both, these under this one.
describe('connection failures leave the server as it was', () => {
  it('wrong client key: Permission denied, names the user and the key fingerprint', async () => {
    const live = await liveR1(process.execPath)
    const stranger = makeKey(tmp('radkey-'), 'stranger')
    const run = await runAction({
      ...baseInputs(sshd, live.target, source('v2')),
      key: stranger.privateKey,
      'release-id': 'r2',
    })
    const msg = expectFailure(run, /Permission denied/, new RegExp(`user ${TEST_USER}\\b`), /authorized_keys/)
    expect(msg).toContain(`with the key ${fingerprintOf(stranger.publicKey)} (ED25519)`)
    expectUnchanged(live)
  })

  it('closed port: connection refused, says to check the port and sshd', async () => {
    const live = await liveR1(process.execPath)
    const port = await freePort()
    const run = await runAction({
      ...baseInputs(sshd, live.target, source('v2')),
      host: `${TEST_USER}@127.0.0.1:${port}`,
      'release-id': 'r2',
    })
    expectFailure(run, /refused/i, new RegExp(`port ${port}`), /Check the port/i, /sshd/)
    expectUnchanged(live)
  })
})

describe('failures on the server side (one node is enough: the messages come from the server)', () => {
  const node = process.execPath

  it('rsync missing on the server: says so and how to install it', async () => {
    const live = await liveR1(node)
    const bin = pathWithout(['rsync'])
    removeAfter(bin)
    sshd.authorize(sshd.client.publicKey, `environment="PATH=${bin}"`)
    try {
      const run = await runAction(
        { ...baseInputs(sshd, live.target, source('v2')), 'release-id': 'r2' },
        { node },
      )
      expectFailure(run, /rsync is not installed on the server/, /apt-get install rsync/)
    } finally {
      sshd.authorize(sshd.client.publicKey)
    }
    expectUnchanged(live)
  })

  it('target not writable (its parent is root-owned): says who cannot write and how to create it', async () => {
    const parent = tmp('radro-')
    chmodSync(parent, 0o755) // root-owned: radtest cannot create the target in it
    const target = `${parent}/site`
    const run = await runAction({ ...baseInputs(sshd, target, source('v2')), 'release-id': 'r2' }, { node })
    expectFailure(
      run,
      new RegExp(`cannot create ${target}`),
      new RegExp(`install -d -o ${TEST_USER} ${target}`),
    )
    expect(existsSync(target)).toBe(false)
  })

  it('target not writable (an existing deploy root now root-owned): nothing changes', async () => {
    const live = await liveR1(node)
    chownSync(live.target, 0, 0)
    try {
      const run = await runAction(
        { ...baseInputs(sshd, live.target, source('v2')), 'release-id': 'r2' },
        { node },
      )
      expectFailure(
        run,
        new RegExp(`${live.target} is not writable by ${TEST_USER}`),
        new RegExp(`install -d -o ${TEST_USER}`),
      )
    } finally {
      chownSync(live.target, sshd.user.uid, sshd.user.gid)
    }
    expectUnchanged(live)
  })

  it('an existing release id: release-exists, says to give a new one', async () => {
    const live = await liveR1(node)
    const run = await runAction(
      { ...baseInputs(sshd, live.target, source('v2')), 'release-id': 'r1' },
      { node },
    )
    expectFailure(run, /release r1 already exists/, /new release-id/)
    expectUnchanged(live)
  })
})

describe('failures, once', () => {
  it('`current` is a real directory: refused with a migration recipe that works', async () => {
    const target = newTarget()
    mkdirSync(`${target}/current`, { recursive: true })
    writeSite(`${target}/current`, { 'index.html': '<h1>old site</h1>\n' })
    sh('chown', ['-R', `${TEST_USER}:${TEST_USER}`, target])
    const before = readTree(target)
    const run = await runAction({ ...baseInputs(sshd, target, source('v2')), 'release-id': 'r2' })
    const msg = expectFailure(
      run,
      /current is a real directory/,
      /migrate/i,
      /ln -s releases\/initial current/,
    )
    // Nothing was created or changed: the old site is still served as it was.
    expect(readTree(target)).toEqual(before)
    expect(isSymlink(`${target}/current`)).toBe(false)

    // The recipe from the message, run as the deploy user, makes the next deploy work.
    const recipe = /`(cd [^`]+)`/.exec(msg)?.[1] ?? ''
    expect(recipe).toContain(target)
    sh('runuser', ['-u', TEST_USER, '--', 'sh', '-c', recipe])
    expect(linkTarget(`${target}/current`)).toBe('releases/initial')
    const src = source('v2')
    const ok = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r2' })
    expect(errorText(ok)).toBe('')
    expect(ok.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(ok.outputs['previous-release-id']).toBe('initial')
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(readTree(`${target}/releases/initial`)).toEqual({ 'index.html': '<h1>old site</h1>\n' })
  })

  it('unreachable host (accepts TCP, never answers): gives up after ConnectTimeout saying so', async () => {
    const live = await liveR1(process.execPath)
    const hole = await silentListener('127.0.0.1')
    try {
      const run = await runAction({
        ...baseInputs(sshd, live.target, source('v2')),
        host: `${TEST_USER}@127.0.0.1:${hole.port}`,
        'release-id': 'r2',
      })
      expectFailure(run, /unreachable/, /timed out/, new RegExp(`port ${hole.port}`), /firewall/i)
      expect(run.durationMs).toBeLessThan(40_000)
    } finally {
      await hole.close()
    }
    expectUnchanged(live)
  }, 90_000)
})
