/**
 * A key that can only deploy: the gate (dist/gate.sh, built from the same scripts) as the forced
 * command of a dedicated user's key, against the real sshd. Through it the bundled action and the
 * CLI deploy, roll back, list, prune, unlock, upload/activate, dry-run and doctor as they do without
 * it, over one connection each. Everything else is refused, logged in TARGET/.deploy/gate.log, and
 * leaves the server as it was: a shell, other commands, rsync anywhere but the upload area, a second
 * target, the action's own hooks, forwarding, and hostile values from a hand-written client.
 */
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { wireAssignment } from '../../src/quote.js'
import { type AnyScriptVars, remoteCommand, renderScript } from '../../src/remote.js'
import { runCli } from '../support/cli.js'
import { marks } from '../support/doctor.js'
import { expectFailed, expectOk } from '../support/expect.js'
import { ensureUser, inode, linkTarget, listDir, makeKey, ROOT, runAction } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { treeSnapshot } from '../support/tree.js'

const GATE_USER = 'radgate'
let gateUser: { uid: number; gid: number; home: string }
beforeAll(() => {
  gateUser = ensureUser(GATE_USER, '/bin/sh')
})
const { sshd, tmp, removeAfter, sourceDir } = useSshd({ extraUsers: [GATE_USER], perUserKeys: true })

const canaryDir = mkdtempSync('/tmp/radgatecanary-')
removeAfter(canaryDir)
chmodSync(canaryDir, 0o777)
const CANARY = path.join(canaryDir, 'pwned')

let gatePath = ''
let keyDir = ''
let key: { privateKey: string; publicKey: string }
beforeAll(() => {
  // The gate as the README installs it: root's file, outside every target (sshd's dir is root's).
  gatePath = path.join(sshd.dir, 'rsync-atomic-deploy-gate')
  copyFileSync(path.join(ROOT, 'dist/gate.sh'), gatePath)
  chmodSync(gatePath, 0o755)
  keyDir = tmp('radgatekey-')
  key = makeKey(keyDir, 'gate')
  writeFileSync(path.join(keyDir, 'known_hosts'), sshd.knownHosts)
})

/** The key's one authorized_keys line, forced to the gate for target. */
function gateKeyTo(target: string): void {
  sshd.authorizeUser(GATE_USER, key.publicKey, `command="${gatePath} ${target}",restrict`)
}

/** A fresh target of the gate user, and the key's one authorized_keys line forced to it. */
function gatedTarget(): { root: string; target: string } {
  const root = mkdtempSync('/tmp/radgatesrv-')
  removeAfter(root)
  chownSync(root, gateUser.uid, gateUser.gid)
  chmodSync(root, 0o755)
  const target = `${root}/site`
  gateKeyTo(target)
  return { root, target }
}

function gatedInputs(target: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    host: `${GATE_USER}@127.0.0.1:${sshd.port}`,
    key: key.privateKey,
    'known-hosts': sshd.knownHosts,
    target,
    ...extra,
  }
}

function site(version: string): string {
  return sourceDir({ 'index.html': `<h1>${version}</h1>\n`, 'css/app.css': 'body{}\n' })
}

/** ssh as the gate user with the gated key, the way a thief with the key would. */
function sshArgs(): string[] {
  return [
    '-i',
    path.join(keyDir, 'gate'),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${path.join(keyDir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-p',
    String(sshd.port),
  ]
}

/** `ssh [options] radgate@host [command]` with the gated key. */
function rawSsh(
  command: string[],
  input = '',
  options: string[] = [],
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('ssh', [...sshArgs(), ...options, `${GATE_USER}@127.0.0.1`, ...command], {
    input,
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

function rawRsync(args: string[]): { code: number; stderr: string } {
  const r = spawnSync('rsync', ['-e', ['ssh', ...sshArgs()].join(' '), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { code: r.status ?? -1, stderr: r.stderr }
}

/** The server's tree but the gate's log (which a refusal appends to, by design). */
function tree(root: string): string[] {
  return treeSnapshot(root).filter((l) => !l.startsWith('site/.deploy/gate.log '))
}

function gateLog(target: string): string {
  return existsSync(`${target}/.deploy/gate.log`) ? readFileSync(`${target}/.deploy/gate.log`, 'utf8') : ''
}

/** A target with r1 deployed through the gate, and an empty gate.log (so a refusal only grows it). */
async function freshDeployedTarget(): Promise<{ root: string; target: string }> {
  const t = gatedTarget()
  expectOk(await runAction(gatedInputs(t.target, { source: site('v1'), 'release-id': 'r1' })))
  writeFileSync(`${t.target}/.deploy/gate.log`, '')
  chownSync(`${t.target}/.deploy/gate.log`, gateUser.uid, gateUser.gid)
  return t
}

let shared: { root: string; target: string } | undefined
/**
 * One target with r1 deployed through the gate, for the tests of refusals: each of them must leave
 * the server as it was, and checks that against its own snapshot, so they need not deploy one each.
 * The key is forced to it again, and `newLog()` reads only what the gate logged since this call.
 */
async function deployedTarget(): Promise<{ root: string; target: string; newLog: () => string }> {
  if (shared) gateKeyTo(shared.target)
  else shared = await freshDeployedTarget()
  const { root, target } = shared
  const from = gateLog(target).length
  return { root, target, newLog: () => gateLog(target).slice(from) }
}

describe('through a gated key', () => {
  it('the action deploys, rolls back, lists, prunes and unlocks, one connection each, nothing refused', async () => {
    const { target } = gatedTarget()
    const before = sshd.connections()
    const first = await runAction(gatedInputs(target, { source: site('v1'), 'release-id': 'r1' }))
    expectOk(first)
    expect(sshd.connections() - before).toBe(1)
    expect(first.stdout).toContain('gated')
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v1</h1>\n')

    const second = await runAction(gatedInputs(target, { source: site('v2'), 'release-id': 'r2' }))
    expectOk(second)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    // The unchanged file is a hard link into r1: --link-dest went through the gate.
    expect(inode(`${target}/releases/r2/css/app.css`)).toBe(inode(`${target}/releases/r1/css/app.css`))
    expect(Number(second.outputs['files-linked'])).toBe(1)

    expectOk(await runAction(gatedInputs(target, { source: site('v3'), 'release-id': 'r3' })))
    // keep 1: r3 is live, r2 is what a rollback goes to, r1 goes.
    expectOk(await runAction(gatedInputs(target, { command: 'prune', 'keep-releases': '1' })))
    expect(listDir(`${target}/releases`)).toEqual(['r2', 'r3'])

    const back = await runAction(gatedInputs(target, { command: 'rollback' }))
    expectOk(back)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')

    const list = await runAction(gatedInputs(target, { command: 'list' }))
    expectOk(list)
    const rows = JSON.parse(list.outputs.releases as string) as { id: string; current: boolean }[]
    expect(rows.map((r) => [r.id, r.current])).toEqual([
      ['r3', false],
      ['r2', true],
    ])

    mkdirSync(`${target}/.deploy/lock`)
    chownSync(`${target}/.deploy/lock`, gateUser.uid, gateUser.gid)
    expectOk(await runAction(gatedInputs(target, { command: 'unlock' })))
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(gateLog(target)).not.toContain('refused')
  })

  it('dry-run, upload/activate and doctor ("key is gated") work as without the gate', async () => {
    const { root, target } = gatedTarget()
    expectOk(await runAction(gatedInputs(target, { source: site('v1'), 'release-id': 'r1' })))
    const before = tree(root)
    const dry = await runAction(
      gatedInputs(target, { source: site('v2'), 'release-id': 'r2', 'dry-run': 'true' }),
    )
    expectOk(dry)
    expect(Number(dry.outputs['files-transferred'])).toBe(1)
    expect(tree(root)).toEqual(before)

    expectOk(
      await runAction(gatedInputs(target, { command: 'upload', source: site('v3'), 'release-id': 'r3' })),
    )
    expect(existsSync(`${target}/.deploy/incoming/r3.staged/index.html`)).toBe(true)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expectOk(await runAction(gatedInputs(target, { command: 'activate', 'release-id': 'r3' })))
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v3</h1>\n')

    const doc = await runAction(gatedInputs(target, { command: 'doctor' }))
    expectOk(doc)
    expect(marks(doc.stdout).access).toBe('✓')
    expect(doc.stdout).toMatch(/access: key is gated: rsync-atomic-deploy-gate \S+ lets it only deploy to/)
    expect(gateLog(target)).not.toContain('refused')
  })

  it('the CLI deploys, rolls back and says the key is gated in doctor', async () => {
    const { target } = gatedTarget()
    const conn = [
      '--host',
      `${GATE_USER}@127.0.0.1:${sshd.port}`,
      '--key',
      path.join(keyDir, 'gate'),
      '--known-hosts',
      path.join(keyDir, 'known_hosts'),
      '--target',
      target,
    ]
    for (const [id, v] of [
      ['r1', 'v1'],
      ['r2', 'v2'],
    ]) {
      const r = await runCli(['deploy', ...conn, '--source', site(v as string), '--release-id', id as string])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain('the key is gated')
    }
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    const back = await runCli(['rollback', ...conn])
    expect(back.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    const doc = await runCli(['doctor', ...conn])
    expect(doc.code).toBe(0)
    expect(doc.stdout).toMatch(/✓ access: key is gated/)
  })

  it('runs the hooks the owner installed, and refuses one the deploy user could change', async () => {
    const { target } = await freshDeployedTarget()
    const hooks = `${target}/.deploy/hooks`
    mkdirSync(hooks)
    // root's, not writable by the deploy user: the owner's hook.
    writeFileSync(`${hooks}/before-switch`, '#!/bin/sh\necho "$RELEASE_ID" > owner-hook-ran\n', {
      mode: 0o755,
    })
    writeFileSync(`${hooks}/after-switch`, '#!/bin/sh\necho "$RELEASE_ID" > "$DEPLOY_TARGET/after-ran"\n', {
      mode: 0o755,
    })
    expectOk(await runAction(gatedInputs(target, { source: site('v2'), 'release-id': 'r2' })))
    expect(readFileSync(`${target}/releases/r2/owner-hook-ran`, 'utf8')).toBe('r2\n')
    expect(readFileSync(`${target}/after-ran`, 'utf8')).toBe('r2\n')

    // The deploy user can write this one: it could make it anything, so it is not run.
    chownSync(`${hooks}/before-switch`, gateUser.uid, gateUser.gid)
    const r = await runAction(gatedInputs(target, { source: site('v3'), 'release-id': 'r3' }))
    expect(expectFailed(r)).toMatch(/before-switch is not run: the deploy user could change it/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(existsSync(`${target}/releases/r3`)).toBe(false)
    expect(gateLog(target)).toContain('refused (hook-unsafe)')
  })
})

describe('refused through a gated key, the server unchanged and the refusal logged', () => {
  const commands: [string, string[]][] = [
    ['an interactive shell', []],
    ['id', ['id']],
    ['cat /etc/passwd', ['cat /etc/passwd']],
    ['sh -c', [`sh -c 'touch ${CANARY}'`]],
    ['sh -s with a script of its own', ['sh -s']],
    ['sh -s rad with an unknown script', ['sh -s rad 1 evil']],
    ['rsync --server --sender (reading the server)', ['rsync --server --sender -lr . /etc/passwd']],
  ]
  it.each(commands)('%s', async (_, args) => {
    const { root, newLog } = await deployedTarget()
    const before = tree(root)
    const r = rawSsh(args, `touch ${CANARY}\nid\n`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('rsync-atomic-deploy-gate: refused')
    expect(r.stdout).not.toMatch(/uid=|root:/)
    expect(existsSync(CANARY)).toBe(false)
    expect(tree(root)).toEqual(before)
    expect(newLog()).toContain('refused')
  })

  it('an rsync outside the upload area, with --delete outside it, --log-file, -s, or reading from it', async () => {
    const { root, target, newLog } = await deployedTarget()
    const src = sourceDir({ 'index.html': 'evil\n', passwd: 'x\n' })
    const elsewhere = `${canaryDir}/elsewhere`
    const host = `${GATE_USER}@127.0.0.1`
    const before = tree(root)
    const tries: string[][] = [
      ['-r', `${src}/`, `${host}:${elsewhere}/`],
      ['-r', `${src}/`, `${host}:${target}/releases/r1/`],
      ['-r', '--delete', `${src}/`, `${host}:${target}/releases/r1/`],
      ['-r', '--delete', `${src}/`, `${host}:${target}/`],
      ['-r', `${src}/`, `${host}:${target}/.deploy/incoming/../../releases/r1/`],
      ['-r', `-M--log-file=${CANARY}`, `${src}/`, `${host}:${target}/.deploy/incoming/x/`],
      ['-r', `-M--temp-dir=${canaryDir}`, `${src}/`, `${host}:${target}/.deploy/incoming/x/`],
      ['-r', '--backup', `--backup-dir=${canaryDir}`, `${src}/`, `${host}:${target}/.deploy/incoming/x/`],
      ['-r', `--link-dest=${canaryDir}`, `${src}/`, `${host}:${target}/.deploy/incoming/x/`],
      ['-rs', `${src}/`, `${host}:${target}/.deploy/incoming/x/`],
      ['-r', `${host}:${target}/releases/r1/`, `${tmp('radgatepull-')}/`],
      ['-r', `${host}:/etc/passwd`, `${canaryDir}/passwd`],
    ]
    for (const t of tries) {
      const r = rawRsync(t)
      expect(r.code, t.join(' ')).not.toBe(0)
      expect(r.stderr, t.join(' ')).toContain('rsync-atomic-deploy-gate: refused')
    }
    expect(existsSync(elsewhere)).toBe(false)
    expect(existsSync(CANARY)).toBe(false)
    expect(existsSync(`${canaryDir}/passwd`)).toBe(false)
    expect(tree(root)).toEqual(before)
    expect(
      newLog()
        .split('\n')
        .filter((l) => l.includes('refused')).length,
    ).toBe(tries.length)
  })

  it('port forwarding (what restrict blocks)', async () => {
    const { root } = await deployedTarget()
    const before = tree(root)
    const r = rawSsh([], '', ['-W', `127.0.0.1:${sshd.port}`])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/administratively prohibited|forwarding/i)
    expect(tree(root)).toEqual(before)
  })

  it('a second target through the action: refused before anything is made there', async () => {
    const { root, target, newLog } = await deployedTarget()
    const other = `${root}/other`
    const before = tree(root)
    const r = await runAction(gatedInputs(other, { source: site('v2'), 'release-id': 'r2' }))
    expect(expectFailed(r)).toContain(`this key deploys to ${target} only`)
    expect(existsSync(other)).toBe(false)
    expect(tree(root)).toEqual(before)
    expect(newLog()).toContain('another target (T) was asked for')
  })

  it("the action's before-switch hook: refused, saying how to install an owner hook; r1 still served", async () => {
    const { target } = await deployedTarget()
    const r = await runAction(
      gatedInputs(target, { source: site('v2'), 'release-id': 'r2', 'before-switch': `touch ${CANARY}` }),
    )
    const msg = expectFailed(r)
    expect(msg).toContain('before-switch')
    expect(msg).toContain('.deploy/hooks')
    expect(existsSync(CANARY)).toBe(false)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
  })
})

describe('hostile values from a hand-written client stop at the gate', () => {
  const SUB = `$(touch ${CANARY})`
  const TICK = `\`touch ${CANARY}\``
  /** [variable, value]: each is refused by the gate's own rule for it. */
  const HOSTILE: [keyof AnyScriptVars | 'PATH' | 'IFS', string][] = [
    ['T', '/tmp'],
    ['T', '/etc'],
    ['ID', '../../../tmp/x'],
    ['ID', `r1;touch ${CANARY}`],
    ['ID', SUB],
    ['ID', TICK],
    ['ID', '-rf'],
    ['ID', '..'],
    ['ID', 'r1\nr2'],
    ['ID', 'a'.repeat(300)],
    ['INCOMING', '../../releases/r1'],
    ['LINK', '../../../tmp/link'],
    ['LINK', 'releases'],
    ['LINK', `current ${SUB}`],
    ['TOKEN', `tok${SUB}`],
    ['LEFT', '1;id'],
    ['LOCK_WAIT', '$((1+1))'],
    ['PRUNE', '.. r1'],
    ['PRUNE', '*'],
    ['SHARED', '../../../tmp'],
    ['SHARED', `/etc`],
    ['SHARED', 'ok\n../x'],
    ['LOCK_OWNER', `{"a":"b"}\n@@rad ok`],
    ['LOGLINE', 'x\r\n@@rad-error y'],
    ['BEFORE_SWITCH', `touch ${CANARY}`],
    ['PATH', canaryDir],
    ['IFS', '/'],
  ]
  it.each(HOSTILE)('%s = %j', async (name, value) => {
    const { root, target, newLog } = await deployedTarget()
    const before = tree(root)
    const vars = {
      T: target,
      LINK: 'current',
      TOKEN: 'abcdef0123456789',
      LEFT: 60,
      LOCK_WAIT: 4,
      LOCK_TTL: 180,
      LOCK_OWNER: '{"actor":"thief"}',
      ID: 'r2',
      INCOMING: 'r2.abcdef01',
      STAGED: '',
      SHARED: '',
      PRUNE: '',
    } as Record<string, string | number>
    vars[name] = value
    const r = rawSsh([remoteCommand('prepare')], renderScript('prepare', vars as never))
    expect(r.stdout).toMatch(/^@@rad gate /)
    // An unknown name is refused as a newer client's would be: "update the gate".
    expect(r.stdout).toMatch(/@@rad-error (gate-refused|hook-refused|gate-protocol) /)
    expect(r.stdout).not.toContain('@@rad ok')
    expect(existsSync(CANARY)).toBe(false)
    expect(tree(root)).toEqual(before)
    expect(newLog()).toContain('refused')
  })

  it('value lines that are not in the wire form: never run', async () => {
    const { root, target } = await deployedTarget()
    const before = tree(root)
    for (const line of [
      `ID=$(touch ${CANARY})`,
      `ID='r2'; touch ${CANARY}; X='`,
      `ID=$(printf 'r2%s.' "$(touch ${CANARY})"); ID=\${ID%.}`,
      `ID=$(printf 'r2\\\\.'); touch ${CANARY}; ID=\${ID%.}`,
      `touch ${CANARY}`,
      `${wireAssignment('ID', 'r2')} ${SUB}`,
    ]) {
      const input = `${wireAssignment('T', target)}\n${line}\n: rad-values-end\nexec 9<&0 </dev/null; watch_client; rad_main; exit $?\n`
      const r = rawSsh([remoteCommand('prepare')], input)
      expect(r.stdout, line).toMatch(/@@rad-error gate-refused /)
    }
    expect(existsSync(CANARY)).toBe(false)
    expect(tree(root)).toEqual(before)
  })

  it('a protocol it does not speak: refused, naming both versions', async () => {
    const { target } = await deployedTarget()
    const r = rawSsh(['sh -s rad 99 doctor'], '')
    expect(r.stdout).toMatch(/@@rad gate \S+ 1 1/)
    expect(r.stdout).toMatch(/@@rad-error gate-protocol .*speaks protocol 1 to 1, the client 99/)
    expect(statSync(target).isDirectory()).toBe(true)
  })
})
