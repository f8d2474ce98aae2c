/**
 * The pure parts of doctor and init: the server's reply → checks, the rendering, the texts init
 * prints; and the two constant scripts run for real under sh (DOCTOR reads only, INSTALL appends a
 * key once).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { describe, expect, it } from 'vitest'
import { connectionChecks, type DoctorContext, doctorChecks, doctorFailure } from '../../src/doctor.js'
import { doctorMarkdown, doctorText } from '../../src/doctor-render.js'
import { DeployError } from '../../src/errors.js'
import {
  authorizedKeysLine,
  ghCommands,
  installScript,
  knownHostsLines,
  resolvedHost,
  workflowText,
} from '../../src/init.js'
import { parseReply, renderScript } from '../../src/remote.js'
import { SERVER_CHECKS } from '../support/doctor.js'
import { tempDir } from './helpers.js'

const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbk3aMvY8y3o2DjUjGgqzK0W1y3Lx1H0rOeWv2m8VxF rad@test'

const CTX: DoctorContext = {
  target: '/srv/site',
  linkName: 'current',
  user: 'deploy',
  trustedBy: 'known-hosts',
  local: { path: '/usr/bin/rsync', version: 'rsync version 3.2.7 protocol version 31' },
}

const HEALTHY = [
  '@@rad user deploy deploy',
  '@@rad shell /bin/bash',
  '@@rad rsync-version rsync  version 3.2.7  protocol version 31',
  '@@rad mv-kind gnu',
  '@@rad part target dir deploy 1 2049',
  '@@rad part releases dir deploy 1 2049',
  '@@rad part deploy dir deploy 1 2049',
  '@@rad part incoming dir deploy 1 2049',
  '@@rad part lock missing',
  '@@rad part link symlink deploy 1 2049',
  '@@rad link-to releases/r1',
  '@@rad part nearest dir deploy 1 2049',
  '@@rad df 5000000 1000000 900000',
  '@@rad ok',
]

const checks = (lines: string[], ctx = CTX) => doctorChecks(parseReply(lines.join('\n')), ctx)
const byName = (lines: string[]) => Object.fromEntries(checks(lines).map((c) => [c.name, c]))
const swap = (from: string, to: string) => HEALTHY.map((l) => (l === from ? to : l))

describe('doctorChecks', () => {
  it('a healthy reply: every check ✓, no fix', () => {
    const c = checks(HEALTHY)
    expect(c.map((x) => x.name)).toEqual(SERVER_CHECKS)
    expect(c.filter((x) => !x.ok)).toEqual([])
    expect(byName(HEALTHY).current?.detail).toBe('/srv/site/current -> releases/r1')
  })

  it('each broken fact is a ✗ with its fix', () => {
    const cases: [string[], string, RegExp][] = [
      [[...HEALTHY.slice(0, 1), 'Welcome to web1!', ...HEALTHY.slice(1)], 'login shell', /print nothing/],
      [
        swap('@@rad rsync-version rsync  version 3.2.7  protocol version 31', '@@rad rsync-missing'),
        'rsync on the server',
        /apt-get install rsync/,
      ],
      [
        swap('@@rad part target dir deploy 1 2049', '@@rad part target dir root 0 2049'),
        'target',
        /install -d -o deploy \/srv\/site/,
      ],
      [
        swap('@@rad part deploy dir deploy 1 2049', '@@rad part deploy dir root 0 2049'),
        'target',
        /chown -R deploy:deploy \/srv\/site/,
      ],
      [
        swap('@@rad part releases dir deploy 1 2049', '@@rad part releases symlink deploy 1 2049'),
        'target',
        /real directories/,
      ],
      [
        swap('@@rad part incoming dir deploy 1 2049', '@@rad part incoming dir deploy 1 2050'),
        'one filesystem',
        /one filesystem/,
      ],
      [swap('@@rad df 5000000 1000000 900000', '@@rad df 5000 1000000 900000'), 'free space', /prune/],
      [swap('@@rad df 5000000 1000000 900000', '@@rad df 5000000 1000000 10'), 'free space', /prune/],
      [swap('@@rad mv-kind gnu', '@@rad mv-kind none'), 'atomic switch', /coreutils/],
      [
        swap('@@rad part link symlink deploy 1 2049', '@@rad part link dir deploy 1 2049'),
        'current',
        /mv current releases\/initial && ln -s releases\/initial current/,
      ],
      [
        [...HEALTHY.slice(0, -1), '@@rad lock-owner {"actor":"bob"}', '@@rad lock-held', '@@rad ok'],
        'lock',
        /unlock/,
      ],
    ]
    for (const [lines, name, fix] of cases) {
      const c = checks(lines)
      const failed = c.filter((x) => !x.ok)
      expect(
        failed.map((x) => x.name),
        name,
      ).toEqual([name])
      expect(failed[0]?.fix).toMatch(fix)
    }
  })

  it('no inode table (btrfs: 0 0) is no inode problem; a stale lock is taken over, so ✓', () => {
    expect(byName(swap('@@rad df 5000000 1000000 900000', '@@rad df 5000000 0 0'))['free space']?.ok).toBe(
      true,
    )
    const stale = byName([
      ...HEALTHY.slice(0, -1),
      '@@rad lock-owner x',
      '@@rad lock-stale it expired',
      '@@rad ok',
    ])
    expect(stale.lock).toMatchObject({ ok: true, detail: expect.stringMatching(/stale lock \(it expired\)/) })
  })

  it('a target that does not exist: ✓ when its parent is writable, ✗ when not', () => {
    const missing = swap('@@rad part target dir deploy 1 2049', '@@rad part target missing').filter(
      (l) => !/part (releases|deploy|incoming|link) /.test(l),
    )
    expect(byName([...missing, '@@rad nearest-path /srv'])?.target?.ok).toBe(true)
    const locked = missing.map((l) =>
      l.startsWith('@@rad part nearest') ? '@@rad part nearest dir root 0 2049' : l,
    )
    expect(byName([...locked, '@@rad nearest-path /srv']).target).toMatchObject({
      ok: false,
      detail: '/srv/site does not exist, and deploy cannot create it in /srv (owned by root)',
    })
  })

  it('a connection failure answers the checks it can: host key, login', () => {
    const hk = connectionChecks(new DeployError('bad key', 'pin it', 'host-key-unknown'), 'known-hosts')
    expect(hk).toEqual([{ name: 'host key', ok: false, detail: 'bad key', fix: 'pin it' }])
    const auth = connectionChecks(new DeployError('refused', 'add the key', 'auth'), 'known-hosts')
    expect(auth.map((c) => [c.name, c.ok])).toEqual([
      ['host key', true],
      ['login', false],
    ])
  })

  it('the failure names every failed check; a connection error decides the code', () => {
    const report = [{ host: 'web1', checks: checks(swap('@@rad mv-kind gnu', '@@rad mv-kind none')) }]
    expect(doctorFailure(report, [])?.message).toBe('doctor: 1 check failed (web1: atomic switch).')
    expect(doctorFailure(report, [])?.code).toBe('doctor-failed')
    expect(doctorFailure(report, [new DeployError('x', '', 'auth')])?.code).toBe('auth')
    expect(doctorFailure([{ host: 'web1', checks: checks(HEALTHY) }], [])).toBeUndefined()
  })
})

describe('rendering', () => {
  const report = [{ host: 'web1', checks: checks(swap('@@rad mv-kind gnu', '@@rad mv-kind none')) }]
  it('text: one line per check, the fix under a ✗', () => {
    const t = doctorText(report)
    expect(t).toMatch(/^ {2}✓ lock: free$/m)
    expect(t).toMatch(/^ {2}✗ atomic switch: .*\n {6}fix: /m)
    expect(t.trimEnd().split('\n').at(-1)).toBe('1 check failed.')
  })
  it('server text cannot become markup or a workflow command', () => {
    const evil = [
      {
        host: 'web1',
        checks: [{ name: 'x', ok: false, detail: '<img src=x> | ::error::pwned \u001b[2J', fix: '' }],
      },
    ]
    const md = doctorMarkdown(evil)
    expect(md).not.toContain('<img')
    expect(md).toContain('&#124;')
    expect(doctorText(evil)).not.toContain('\u001b')
    expect(doctorText(evil)).not.toMatch(/^::/m)
  })
})

describe('init texts', () => {
  it('the authorized_keys line is restricted; from= narrows it', () => {
    expect(authorizedKeysLine(PUB)).toBe(`restrict ${PUB}`)
    expect(authorizedKeysLine(PUB, '203.0.113.7')).toBe(`from="203.0.113.7",restrict ${PUB}`)
    expect(() => authorizedKeysLine('command="x" ssh-ed25519 AAAA')).toThrow(/not an OpenSSH public key/)
  })
  it('only well-formed scanned lines are kept', () => {
    const key = PUB.split(' ').slice(0, 2).join(' ')
    expect(
      knownHostsLines(
        `# comment\n[h]:2222 ${key}\n$(id) ${key}\n[h]:2222 ssh-ed25519 not*base64\n[h]:2222 ${key}\n`,
      ),
    ).toEqual([`[h]:2222 ${key}`])
  })
  it('ssh -G output gives host, port, user and ProxyJump', () => {
    expect(resolvedHost('user deploy\nhostname 10.0.0.5\nport 2222\nproxyjump bastion\n')).toEqual({
      hostname: '10.0.0.5',
      port: 2222,
      user: 'deploy',
      proxyJump: 'bastion',
    })
    expect(resolvedHost('hostname a\nport 22\nproxyjump none\n').proxyJump).toBe('')
  })
  it('gh commands quote what needs it', () => {
    expect(ghCommands('/home/me/my keys/k', '/k.known_hosts')).toEqual([
      "gh secret set DEPLOY_KEY < '/home/me/my keys/k'",
      'gh variable set DEPLOY_KNOWN_HOSTS < /k.known_hosts',
    ])
  })
  it('the workflow parses, with values that YAML would misread quoted', () => {
    const content = workflowText({
      host: 'deploy@web1:2222',
      jumpHost: 'jump: x',
      target: '/srv/a #b',
      source: 'public',
    })
    const parsed = parseWorkflow({ name: 'deploy.yml', content }, new NoOperationTraceWriter())
    expect(parsed.context.errors.getErrors()).toEqual([])
    expect(content).toContain('target: "/srv/a #b"')
    expect(content).toContain('jump-host: "jump: x"')
  })
})

describe('the scripts under a real sh', () => {
  it('INSTALL creates ~/.ssh 0700 and authorized_keys 0600, appends once, keeps what was there', () => {
    const home = tempDir('radunit-install-')
    const line = authorizedKeysLine(PUB)
    const run = () =>
      spawnSync('sh', ['-s'], {
        input: installScript(line),
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: home },
      })
    const first = run()
    expect(parseReply(first.stdout).values.has('added')).toBe(true)
    expect(statSync(`${home}/.ssh`).mode & 0o777).toBe(0o700)
    expect(statSync(`${home}/.ssh/authorized_keys`).mode & 0o777).toBe(0o600)
    expect(parseReply(run().stdout).values.has('already')).toBe(true)
    expect(readFileSync(`${home}/.ssh/authorized_keys`, 'utf8')).toBe(`${line}\n`)
    // An existing file without a final newline: our line starts a line of its own.
    writeFileSync(`${home}/.ssh/authorized_keys`, 'ssh-ed25519 AAAAother me')
    run()
    expect(readFileSync(`${home}/.ssh/authorized_keys`, 'utf8')).toBe(`ssh-ed25519 AAAAother me\n${line}\n`)
  })

  it('DOCTOR creates nothing, even for a target that does not exist', () => {
    const root = tempDir('radunit-doctor-')
    mkdirSync(`${root}/srv`)
    const script = renderScript('doctor', {
      T: `${root}/srv/site`,
      LINK: 'current',
      LEFT: 600,
      TOKEN: 't',
      LOCK_WAIT: 4,
      LOCK_TTL: 9,
      LOCK_OWNER: '{}',
      ID: '',
    })
    const r = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8', cwd: root })
    const reply = parseReply(r.stdout)
    expect(reply.ok).toBe(true)
    expect(reply.values.get('part')).toContain('target missing')
    expect(existsSync(`${root}/srv/site`)).toBe(false)
    expect(readdirSync(`${root}/srv`)).toEqual([])
  })
})
