/**
 * command: verify against a real sshd, the bundle run as the runner runs it and the CLI bundle:
 * a fresh release verifies; a changed (same size), added or removed file and a mode change are
 * named; expected-digest is checked; hostile names verify; a fleet says per host; nothing on the
 * server changes.
 *
 * The manifest: until the fast path (issue 12) writes TARGET/.deploy/manifests/<id> at publish,
 * `recordManifest` writes it here from the build with the manifest builder (src/manifest.ts),
 * where the spec puts it. Once the deploy writes it, recordManifest only checks that the
 * deploy's own is the builder's (and these tests then run on real deploys unchanged).
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CHMOD } from '../../src/inputs.js'
import { buildManifest, formatManifest, manifestDigest } from '../../src/manifest.js'
import { chmodSpec } from '../../src/rsync.js'
import { cliConnection, runCli } from '../support/cli.js'
import { expectFailed, expectOk } from '../support/expect.js'
import { type ActionRun, runAction, type Sshd, startSshd, TEST_USER } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { treeSnapshot } from '../support/tree.js'

const suite = useSshd()
const { newTarget } = suite

/** The manifest of the build as the server has it (modes after the upload's --chmod), at its place. */
async function recordManifest(target: string, id: string, src: string): Promise<string> {
  const text = formatManifest(await buildManifest(src, { chmod: chmodSpec(DEFAULT_CHMOD) }))
  const file = `${target}/.deploy/manifests/${id}`
  if (existsSync(file)) {
    // Written by the deploy itself (the fast path): it must be what the builder makes.
    expect(readFileSync(file, 'utf8')).toBe(text)
  } else {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, text)
  }
  return manifestDigest(text)
}

const SITE = {
  'index.html': '<h1>v1</h1>\n',
  'assets/app.js': 'console.log("v1")\n',
  'assets/app.css': 'body { color: black }\n',
  'robots.txt': 'User-agent: *\n',
}

/** Deploys `files` as release `id` and records its manifest; returns its digest. */
async function deployed(target: string, id: string, files: Record<string, string> = SITE): Promise<string> {
  const src = suite.sourceDir(files)
  const run = await suite.deploy(target, src, { 'release-id': id }, { post: false })
  expectOk(run)
  return recordManifest(target, id, src)
}

function verify(target: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return suite.command(target, 'verify', extra)
}

const hostsOf = (run: ActionRun) => JSON.parse(run.outputs.hosts ?? '[]') as Record<string, unknown>[]

describe('command: verify (the action)', () => {
  it('verifies a fresh deploy: says so, outputs its digest, and changes nothing on the server', async () => {
    const target = newTarget()
    const digest = await deployed(target, 'r1')
    const before = treeSnapshot(path.dirname(target))
    const run = await verify(target)
    expectOk(run)
    // 4 files + the assets directory
    expect(run.stdout).toContain(`verified: 5 files match ${digest}`)
    expect(run.summary).toContain(`verified: 5 files match ${digest}`)
    expect(run.outputs['release-id']).toBe('r1')
    expect(run.outputs['release-digest']).toBe(digest)
    expect(hostsOf(run)[0]).toMatchObject({ verified: true, 'release-digest': digest, 'release-id': 'r1' })
    // Read-only: every entry under the target root, to the inode and mtime, as it was (no lock, no log line).
    expect(treeSnapshot(path.dirname(target))).toEqual(before)
  })

  it('names a changed file (same size), an added one, a removed one and a mode change; exits non-zero', async () => {
    const target = newTarget()
    const digest = await deployed(target, 'r1')
    const R = `${target}/releases/r1`
    writeFileSync(`${R}/index.html`, '<h1>v2</h1>\n') // same size, other bytes
    writeFileSync(`${R}/assets/evil.js`, 'steal()\n')
    unlinkSync(`${R}/robots.txt`)
    chmodSync(`${R}/assets/app.css`, 0o666)
    const before = treeSnapshot(path.dirname(target))
    const run = await verify(target)
    const msg = expectFailed(run)
    expect(msg).toContain('release r1 is NOT verified: 4 path(s) differ from its manifest')
    expect(msg).toContain('content changed: index.html (same size)')
    expect(msg).toContain('added: assets/evil.js (file)')
    expect(msg).toContain('removed: robots.txt (file)')
    expect(msg).toContain('mode changed: assets/app.css (0644 -> 0666)')
    // The outputs still say what is live and what was recorded for it.
    expect(run.outputs['release-id']).toBe('r1')
    expect(run.outputs['release-digest']).toBe(digest)
    expect(hostsOf(run)[0]).toMatchObject({ verified: false, status: 'failed' })
    expect(run.summary).toContain('content changed: index.html')
    expect(treeSnapshot(path.dirname(target))).toEqual(before)
  })

  it('caps the files it names and says how many more', async () => {
    const target = newTarget()
    await deployed(target, 'r1')
    for (let i = 0; i < 30; i++)
      writeFileSync(`${target}/releases/r1/extra-${String(i).padStart(2, '0')}.txt`, 'x')
    const msg = expectFailed(await verify(target))
    expect(msg).toContain('added: extra-00.txt')
    expect(msg).toContain('… and 10 more')
    expect(msg).not.toContain('extra-29.txt')
  })

  it('expected-digest: a mismatch fails naming the input; the right one passes; a bad value is refused before connecting', async () => {
    const target = newTarget()
    const digest = await deployed(target, 'r1')
    await deployed(target, 'r2', { ...SITE, 'index.html': '<h1>v2</h1>\n' })
    const other = `sha256:${'0'.repeat(64)}`
    const wrong = await verify(target, { 'expected-digest': other })
    expect(expectFailed(wrong)).toContain(`its recorded digest is`)
    expect(wrong.stdout).toContain(`not the expected ${other} (expected-digest)`)
    // An older release, named, against the digest its deploy printed.
    expectOk(await verify(target, { 'release-id': 'r1', 'expected-digest': digest }))
    const mixed = await verify(target, { 'expected-digest': digest })
    expect(expectFailed(mixed)).toContain(`release r2 is NOT verified`)
    const before = suite.sshd.connections()
    const bad = await verify(target, { 'expected-digest': 'sha256:nope' })
    expect(expectFailed(bad)).toMatch(/Input 'expected-digest': 'sha256:nope' is not a release digest/)
    expect(suite.sshd.connections()).toBe(before)
  })

  it('a release with no manifest (deployed before manifests): said, not failed; with expected-digest its files decide', async () => {
    const target = newTarget()
    const digest = await deployed(target, 'r1')
    rmSync(`${target}/.deploy/manifests/r1`)
    const run = await verify(target)
    expectOk(run)
    expect(run.stdout).toMatch(/not verified: release r1 has no manifest/)
    expect(run.outputs['release-digest']).toBe('')
    const exp = await verify(target, { 'expected-digest': digest })
    expectOk(exp)
    expect(exp.stdout).toContain(`verified: 5 files match the expected ${digest}`)
    writeFileSync(`${target}/releases/r1/index.html`, '<h1>v9</h1>\n')
    expect(expectFailed(await verify(target, { 'expected-digest': digest }))).toMatch(
      /the digest of its files is sha256:[0-9a-f]{64}, not the expected sha256:[0-9a-f]{64} \(expected-digest\)/,
    )
  })

  it('hostile file names (newline, backslash, spaces, leading dash) verify, and a change to one is named', async () => {
    const target = newTarget()
    const files = {
      'new\nline.txt': 'n\n',
      'back\\slash.txt': 'b\n',
      'with  spaces /and more.txt': 's\n',
      '-rf': 'd\n',
      '--help': 'h\n',
      'index.html': 'i\n',
    }
    const digest = await deployed(target, 'r1', files)
    const ok = await verify(target)
    expectOk(ok)
    expect(ok.stdout).toContain(`verified: 7 files match ${digest}`)
    writeFileSync(`${target}/releases/r1/new\nline.txt`, 'N\n')
    writeFileSync(`${target}/releases/r1/back\\slash.txt`, 'B\n')
    const msg = expectFailed(await verify(target))
    expect(msg).toContain('content changed: new\\nline.txt (same size)')
    expect(msg).toContain('content changed: back\\slash.txt (same size)')
    expect(msg).not.toContain('-rf')
  })

  it('shared paths are not compared; a link into shared/ elsewhere is', async () => {
    const target = newTarget()
    const src = suite.sourceDir({ ...SITE, 'storage/.keep': '' })
    expectOk(await suite.deploy(target, src, { 'release-id': 'r1', shared: 'storage' }, { post: false }))
    // The manifest leaves shared paths out (MANIFEST-SPEC): the build without storage/.
    rmSync(`${src}/storage`, { recursive: true })
    const digest = await recordManifest(target, 'r1', src)
    const run = await verify(target)
    expectOk(run)
    expect(run.stdout).toContain(`verified: 5 files match ${digest}`)
    expect(run.stdout).toContain('1 shared path(s) not compared')
  })
})

describe('rsync-atomic-deploy verify (the CLI)', () => {
  it('verifies a release the action deployed; --expected-digest mismatches are named by the flag', async () => {
    const target = newTarget()
    const digest = await deployed(target, 'r1')
    const dir = suite.tmp('radcli-verify-')
    const conn = [...cliConnection(suite.sshd, dir), '--target', target]
    const ok = await runCli(['verify', ...conn, '--release', 'r1', '--expected-digest', digest])
    expect(ok.stderr).not.toMatch(/error/)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`verified: 5 files match ${digest}`)
    const json = await runCli(['verify', ...conn, '--json'])
    expect(JSON.parse(json.stdout)[0]).toMatchObject({ verified: true, 'release-digest': digest })

    const other = `sha256:${'f'.repeat(64)}`
    const bad = await runCli(['verify', ...conn, '--expected-digest', other])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`not the expected ${other} (--expected-digest or RAD_EXPECTED_DIGEST)`)
    const refused = await runCli(['verify', ...conn, '--expected-digest', 'md5:x'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--expected-digest/)

    writeFileSync(`${target}/releases/r1/assets/app.js`, 'console.log("v2")\n')
    const changed = await runCli(['verify', ...conn])
    expect(changed.code).toBe(1)
    expect(changed.stdout).toContain('content changed: assets/app.js (same size)')
    expect(changed.stderr).toContain('content changed: assets/app.js')
    const missing = await runCli(['verify', ...conn, '--release', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('release nope is not in')
  })
})

describe('a fleet: every host verified, each said apart', () => {
  const base = mkdtempSync('/tmp/radverify-fleet-')
  const target = `${base}/srv`
  const dirs = [0, 1].map((i) => `${base}/host${i}`)
  let servers: Sshd[] = []
  beforeAll(async () => {
    chmodSync(base, 0o755)
    mkdirSync(target)
    servers = await Promise.all(
      dirs.map((dir) => {
        mkdirSync(dir)
        return startSshd({ bind: { source: dir, target } })
      }),
    )
    for (const d of dirs) chownSync(d, servers[0]?.user.uid ?? 0, servers[0]?.user.gid ?? 0)
    for (const s of servers) s.authorize(servers[0]?.client.publicKey ?? '')
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    rmSync(base, { recursive: true, force: true })
  })

  it('one host changed, one intact: the error names the changed one only, the summary both', async () => {
    const inputs = {
      host: servers.map((s) => `${TEST_USER}@127.0.0.1:${s.port}`).join('\n'),
      key: servers[0]?.client.privateKey ?? '',
      'known-hosts': servers.map((s) => s.knownHosts).join(''),
      target,
    }
    const src = suite.sourceDir(SITE)
    expectOk(await runAction({ ...inputs, source: src, 'release-id': 'r1' }))
    for (const d of dirs) await recordManifest(d, 'r1', src)
    writeFileSync(`${dirs[1]}/releases/r1/robots.txt`, 'User-agent: x\n')
    const run = await runAction({ ...inputs, command: 'verify' })
    const msg = expectFailed(run)
    const [a, b] = servers.map((s) => `${TEST_USER}@127.0.0.1:${s.port}`)
    expect(msg).toContain('Verify failed on 1 of 2 hosts.')
    expect(msg).toContain(`${b}: release r1 is NOT verified`)
    expect(msg).not.toContain(`${a}: release r1 is NOT`)
    expect(run.summary).toContain(`✓ ${a}: r1 (live): verified: 5 files match`)
    expect(run.summary).toContain(`✗ ${b}: r1 (live): NOT verified`)
    expect(hostsOf(run).map((h) => h.verified)).toEqual([true, false])
  })
})
