/**
 * `rsync-atomic-deploy init` (the CLI bundle) against the real sshd: the fingerprint it prints is
 * the test sshd's own (`ssh-keygen -lf` of its host key), the key it makes deploys once the printed
 * authorized_keys line is on the server, or after --install put it there itself over the person's
 * existing access; --write writes a workflow GitHub's parser accepts; an existing key is never
 * overwritten.
 */
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { beforeAll, describe, expect, it } from 'vitest'
import { cliConnection, runCli } from '../support/cli.js'
import { ensureUser, linkTarget, ROOT, sh, TEST_USER } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

/** A dedicated user whose ~/.ssh/authorized_keys --install writes (radtest's home stays as it is). */
const INIT_USER = 'radinit'
let initUser: { uid: number; gid: number; home: string }

beforeAll(() => {
  initUser = ensureUser(INIT_USER, '/bin/sh')
  rmSync(`${initUser.home}/.ssh`, { recursive: true, force: true })
})

/** Another one for --install --gate (its own home: the gate goes to ~/.local/bin). */
const GATE_USER = 'radinitgate'
let gateUser: { uid: number; gid: number; home: string }

beforeAll(() => {
  gateUser = ensureUser(GATE_USER, '/bin/sh')
  rmSync(`${gateUser.home}/.ssh`, { recursive: true, force: true })
  rmSync(`${gateUser.home}/.local`, { recursive: true, force: true })
})

const { sshd, tmp, newTarget, sourceDir } = useSshd({
  extraUsers: [INIT_USER, GATE_USER],
  homeAuthorizedKeys: true,
})

const host = (user = TEST_USER) => `${user}@127.0.0.1:${sshd.port}`

/** The printed authorized_keys line (the one after "1. Authorize"). */
function printedLine(stdout: string): string {
  return /^ {3}(restrict ssh-ed25519 \S+ \S+)$/m.exec(stdout)?.[1] ?? ''
}

async function deployWith(user: string, key: string, known: string, target: string) {
  return runCli([
    'deploy',
    '--host',
    host(user),
    '--key',
    key,
    '--known-hosts',
    known,
    '--target',
    target,
    '--source',
    sourceDir({ 'index.html': 'hello\n' }),
    '--release-id',
    'first',
  ])
}

describe('init', () => {
  it("prints the sshd's real fingerprint, a restrict line and the gh commands; the key deploys once authorized", async () => {
    const dir = tmp('radinit-')
    const key = `${dir}/deploy_key`
    const target = newTarget()
    const r = await runCli(['init', '--host', host(), '--target', target, '--deploy-key', key])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // The fingerprint ssh-keygen -lf gives for the sshd's own host key file.
    const real = sh('ssh-keygen', ['-lf', `${sshd.dir}/host_ed25519.pub`]).split(' ')[1] as string
    expect(real).toMatch(/^SHA256:/)
    expect(r.stdout).toMatch(
      new RegExp(
        `^ {3}256 ${real.replace(/[+/]/g, '\\$&')} \\[127\\.0\\.0\\.1\\]:${sshd.port} \\(ED25519\\)$`,
        'm',
      ),
    )
    expect(r.stdout).toContain('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub')
    expect(readFileSync(`${key}.known_hosts`, 'utf8')).toBe(sshd.knownHosts)
    expect(statSync(key).mode & 0o777).toBe(0o600)
    expect(readFileSync(key, 'utf8')).toMatch(/BEGIN OPENSSH PRIVATE KEY/)
    const line = printedLine(r.stdout)
    expect(line.split(' ')[2]).toBe(readFileSync(`${key}.pub`, 'utf8').split(' ')[1])
    expect(r.stdout).toContain('from="203.0.113.7",restrict')
    expect(r.stdout).toContain(`gh secret set DEPLOY_KEY < ${key}`)
    expect(r.stdout).toContain(`gh variable set DEPLOY_KNOWN_HOSTS < ${key}.known_hosts`)
    expect(r.stdout).toContain(`host: "${host()}"`)
    expect(r.stdout).toContain(`target: "${target}"`)

    // Before the line is on the server, the new key is refused; after, it deploys (restrict and all).
    const refused = await deployWith(TEST_USER, key, `${key}.known_hosts`, target)
    expect(refused.code).toBe(3)
    sshd.authorize(`${sshd.client.publicKey.trim()}\n${line}`)
    const d = await deployWith(TEST_USER, key, `${key}.known_hosts`, target)
    expect(d.stderr).not.toMatch(/error/)
    expect(d.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/first')
    // And the printed doctor command passes.
    const doctorArgs = /rsync-atomic-deploy (doctor .*)$/m.exec(r.stdout)?.[1]?.split(' ') ?? []
    const doc = await runCli(doctorArgs)
    expect(doc.code).toBe(0)
    expect(doc.stdout).toContain('All checks passed')
  })

  it('never overwrites a key: refuses, and the existing file is unchanged', async () => {
    const dir = tmp('radinit-')
    const key = `${dir}/deploy_key`
    writeFileSync(key, 'my old key\n', { mode: 0o600 })
    const r = await runCli(['init', '--host', host(), '--target', newTarget(), '--deploy-key', key])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${key} exists: init never overwrites a key`)
    expect(readFileSync(key, 'utf8')).toBe('my old key\n')
    expect(existsSync(`${key}.pub`)).toBe(false)
    expect(existsSync(`${key}.known_hosts`)).toBe(false)
  })

  it('--write writes .github/workflows/deploy.yml that GitHub parses, and never over an existing one', async () => {
    const repo = tmp('radinit-repo-')
    const target = newTarget()
    const r = await runCli(
      ['init', '--host', host(), '--target', target, '--deploy-key', `${repo}/k1`, '--write'],
      repo,
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const file = `${repo}/.github/workflows/deploy.yml`
    const content = readFileSync(file, 'utf8')
    const parsed = parseWorkflow({ name: 'deploy.yml', content }, new NoOperationTraceWriter())
    expect(parsed.context.errors.getErrors().map((e) => e.message)).toEqual([])
    const template = await convertWorkflowTemplate(
      parsed.context,
      parsed.value as NonNullable<typeof parsed.value>,
    )
    expect(template.errors ?? []).toEqual([])
    expect(content).toContain('uses: rsync-atomic-deploy/rsync-atomic-deploy@v1')
    expect(content).toContain('key: ${{ secrets.DEPLOY_KEY }}')
    expect(content).toContain('known-hosts: ${{ vars.DEPLOY_KNOWN_HOSTS }}')
    expect(content).toContain(`target: "${target}"`)
    writeFileSync(file, 'mine\n')
    const again = await runCli(
      ['init', '--host', host(), '--target', target, '--deploy-key', `${repo}/k2`, '--write'],
      repo,
    )
    expect(again.code).toBe(2)
    expect(readFileSync(file, 'utf8')).toBe('mine\n')
    expect(existsSync(`${repo}/k2`)).toBe(false)
  })

  it('--install adds the key to the deploy user’s ~/.ssh/authorized_keys over existing access; the key then deploys', async () => {
    const dir = tmp('radinit-')
    // The person's existing access: a key the server already accepts, a known_hosts they checked.
    const existing = cliConnection(sshd, dir, INIT_USER)
    const key = `${dir}/deploy_key`
    const root = tmp('radinit-srv-')
    chownSync(root, initUser.uid, initUser.gid)
    const target = `${root}/site`
    expect(existsSync(`${initUser.home}/.ssh`)).toBe(false)
    const r = await runCli(['init', ...existing, '--target', target, '--deploy-key', key, '--install'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`done, added to ~${INIT_USER}/.ssh/authorized_keys`)
    const ak = `${initUser.home}/.ssh/authorized_keys`
    expect(statSync(`${initUser.home}/.ssh`).mode & 0o777).toBe(0o700)
    expect(statSync(ak).mode & 0o777).toBe(0o600)
    expect(statSync(ak).uid).toBe(initUser.uid)
    const line = printedLine(r.stdout)
    expect(readFileSync(ak, 'utf8')).toBe(`${line}\n`)
    // The new key alone (it is not in the sshd's shared file) logs in and deploys.
    const d = await deployWith(INIT_USER, key, `${key}.known_hosts`, target)
    expect(d.stderr).not.toMatch(/error/)
    expect(d.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/first')
  })

  it('--install --gate installs the gate and a gated line: the new key deploys, and runs nothing else', async () => {
    const dir = tmp('radinitg-')
    const existing = cliConnection(sshd, dir, GATE_USER)
    const key = `${dir}/deploy_key`
    const root = tmp('radinitg-srv-')
    chownSync(root, gateUser.uid, gateUser.gid)
    const target = `${root}/site`
    const r = await runCli([
      'init',
      ...existing,
      '--target',
      target,
      '--deploy-key',
      key,
      '--install',
      '--gate',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const gate = `${gateUser.home}/.local/bin/rsync-atomic-deploy-gate`
    expect(r.stdout).toContain(`The gate: installed as ${gate}`)
    expect(readFileSync(gate, 'utf8')).toBe(readFileSync(path.join(ROOT, 'dist/gate.sh'), 'utf8'))
    expect(statSync(gate).mode & 0o777).toBe(0o755)
    const ak = readFileSync(`${gateUser.home}/.ssh/authorized_keys`, 'utf8')
    expect(ak).toMatch(new RegExp(`^command="${gate} ${target}",restrict ssh-ed25519 \\S+ \\S+\n$`))
    expect(r.stdout).toContain(ak.trim())
    const d = await deployWith(GATE_USER, key, `${key}.known_hosts`, target)
    expect(d.code, d.stderr).toBe(0)
    expect(d.stderr).toContain('the key is gated')
    expect(linkTarget(`${target}/current`)).toBe('releases/first')
    const shell = spawnSync(
      'ssh',
      [
        '-i',
        key,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        `UserKnownHostsFile=${key}.known_hosts`,
        '-p',
        String(sshd.port),
        `${GATE_USER}@127.0.0.1`,
        'id',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    )
    expect(shell.status).not.toBe(0)
    expect(shell.stdout).not.toContain('uid=')
    expect(shell.stderr).toContain('rsync-atomic-deploy-gate: refused')
  })
})
