import { spawnSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type HostSpec, parseHost } from '../../src/hosts.js'
import {
  aliasOf,
  CONNECT_TIMEOUT,
  type ConfigPaths,
  ownHostArgs,
  renderSshConfig,
  type SshOptions,
  userConfigProblem,
} from '../../src/ssh.js'
import { tempDir } from './helpers.js'

const host = (raw: string, user = '', port = 22): HostSpec => parseHost('host', raw, user, port)

const dir = tempDir('radunit-ssh-')
const paths: ConfigPaths = {
  dir: '/tmp/rad-AbC123',
  config: '/tmp/rad-AbC123/config',
  jumpLog: '/tmp/rad-AbC123/jump.log',
  sshBinary: '/usr/bin/ssh',
  key: '/tmp/rad-AbC123/key',
  knownHosts: '/tmp/rad-AbC123/known_hosts',
  fingerprints: '/tmp/rad-AbC123/fingerprints',
  fingerprintCheck: '/tmp/rad-AbC123/hostkey-check',
}

function opts(over: Partial<SshOptions> = {}): SshOptions {
  return {
    hosts: [host('deploy@example.com')],
    jumpHost: undefined,
    key: '-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n',
    keyPassphrase: '',
    trusted: { lines: [], fingerprints: [] },
    acceptUnknownHostKey: false,
    persistSeconds: 660,
    ...over,
  }
}

/** Config lines as `Keyword value` pairs, block by block (`Host x` starts a block). */
function blocks(config: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let current = ''
  for (const l of config.split('\n')) {
    if (l === '' || l.startsWith('#')) continue
    if (l.startsWith('Host ')) {
      current = l.slice(5)
      out.set(current, [])
    } else {
      expect(l.startsWith('  '), `option outside a Host block: ${l}`).toBe(true)
      out.get(current)?.push(l.trim())
    }
  }
  return out
}

let n = 0
/** What the real ssh makes of the config for an alias (`ssh -G`: parses and resolves, connects nowhere). */
function resolved(config: string, alias: string): Map<string, string[]> {
  const file = path.join(dir, `config-${n++}`)
  writeFileSync(file, config)
  const r = spawnSync('ssh', ['-G', '-F', file, alias], { encoding: 'utf8' })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  const m = new Map<string, string[]>()
  for (const l of r.stdout.trim().split('\n')) {
    const sp = l.indexOf(' ')
    const k = l.slice(0, sp)
    m.set(k, [...(m.get(k) ?? []), l.slice(sp + 1)])
  }
  return m
}

describe('renderSshConfig', () => {
  it('writes one block per host and the shared options for all', () => {
    const config = renderSshConfig(opts({ hosts: [host('deploy@example.com'), host('[::1]:2222')] }), paths)
    expect(config.endsWith('\n')).toBe(true)
    const b = blocks(config)
    expect([...b.keys()]).toEqual(['rad-0', 'rad-1', '*'])
    expect(b.get('rad-0')).toEqual(['HostName example.com', 'Port 22', 'User deploy'])
    // IPv6 without brackets; no User line when the host names none
    expect(b.get('rad-1')).toEqual(['HostName ::1', 'Port 2222'])
    expect(b.get('*')).toEqual([
      'IdentityFile /tmp/rad-AbC123/key',
      'IdentitiesOnly yes',
      'IdentityAgent none',
      'UserKnownHostsFile /tmp/rad-AbC123/known_hosts',
      'GlobalKnownHostsFile /dev/null',
      'StrictHostKeyChecking yes',
      'CheckHostIP no',
      'UpdateHostKeys no',
      'HashKnownHosts no',
      'BatchMode yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PreferredAuthentications publickey',
      `ConnectTimeout ${CONNECT_TIMEOUT}`,
      'ConnectionAttempts 1',
      'ServerAliveInterval 15',
      'ServerAliveCountMax 4',
      'ForwardAgent no',
      'ForwardX11 no',
      'ClearAllForwardings yes',
      'RequestTTY no',
      'LogLevel ERROR',
      'ControlPath /tmp/rad-AbC123/%n',
      'ControlMaster no',
      'ControlPersist 660',
    ])
  })

  it('accept-unknown-host-key trusts on first use (accept-new), never "no"', () => {
    const star = blocks(renderSshConfig(opts({ acceptUnknownHostKey: true }), paths)).get('*') ?? []
    expect(star).toContain('StrictHostKeyChecking accept-new')
    expect(star.filter((l) => l.startsWith('StrictHostKeyChecking'))).toEqual([
      'StrictHostKeyChecking accept-new',
    ])
  })

  it('asks the fingerprint check only when fingerprints are pinned', () => {
    const without = renderSshConfig(opts(), paths)
    expect(without).not.toContain('KnownHostsCommand')
    const withFp = renderSshConfig(opts({ trusted: { lines: [], fingerprints: ['SHA256:abc'] } }), paths)
    expect(blocks(withFp).get('*')).toContain('KnownHostsCommand /tmp/rad-AbC123/hostkey-check %f %t %K %H')
  })

  it('goes through the jump host when one is given, and the jump host itself does not', () => {
    const b = blocks(
      renderSshConfig(
        opts({
          hosts: [host('a.example'), host('b.example:2200')],
          jumpHost: host('bastion@[2001:db8::9]:2222'),
        }),
        paths,
      ),
    )
    expect([...b.keys()]).toEqual(['rad-0', 'rad-1', 'rad-jump', '*'])
    const proxy =
      'ProxyCommand /usr/bin/ssh -F /tmp/rad-AbC123/config -E /tmp/rad-AbC123/jump.log -W [%h]:%p rad-jump'
    expect(b.get('rad-0')).toEqual(['HostName a.example', 'Port 22', proxy])
    expect(b.get('rad-1')).toEqual(['HostName b.example', 'Port 2200', proxy])
    expect(b.get('rad-jump')).toEqual(['HostName 2001:db8::9', 'Port 2222', 'User bastion'])
  })

  it('writes an IPv6 zone with %% so ssh does not expand it', () => {
    expect(
      blocks(renderSshConfig(opts({ hosts: [host('[fe80::1%eth0]:2222')] }), paths)).get('rad-0'),
    ).toEqual(['HostName fe80::1%%eth0', 'Port 2222'])
  })

  it('has no proxy without a jump host', () => {
    expect(renderSshConfig(opts(), paths)).not.toContain('Proxy')
  })

  it('useOwnSshSetup leaves key, agent and known_hosts to the person’s own ssh setup', () => {
    const config = renderSshConfig(
      opts({ useOwnSshSetup: true, key: '', hosts: [host('thealias'), host('deploy@b.example:2222')] }),
      paths,
    )
    for (const word of [
      'IdentityFile',
      'IdentitiesOnly',
      'IdentityAgent',
      'UserKnownHostsFile',
      'GlobalKnownHostsFile',
      'KnownHostsCommand',
      'CheckHostIP',
      'PreferredAuthentications',
    ]) {
      expect(config).not.toContain(word)
    }
    // No aliases of ours: a Host block of ours would hide the person's blocks for the same name.
    const b = blocks(config)
    expect([...b.keys()]).toEqual(['*'])
    const star = b.get('*') ?? []
    expect(star).toContain('StrictHostKeyChecking yes')
    expect(star).toContain('BatchMode yes')
    expect(star).toContain('UpdateHostKeys no')
    expect(star).toContain('ForwardAgent no')
    expect(star).toContain('ControlPath /tmp/rad-AbC123/%C')
    // Theirs last, in the order ssh reads them without -F: ssh keeps the first value it reads.
    expect(star.slice(-2)).toEqual(['Include ~/.ssh/config', 'Include /etc/ssh/ssh_config'])
  })

  it('useOwnSshSetup with a key or known hosts given: those win over the person’s', () => {
    const withKey = blocks(renderSshConfig(opts({ useOwnSshSetup: true }), paths)).get('*') ?? []
    expect(withKey.slice(0, 3)).toEqual([
      'IdentityFile /tmp/rad-AbC123/key',
      'IdentitiesOnly yes',
      'IdentityAgent none',
    ])
    expect(withKey.join('\n')).not.toContain('KnownHostsFile')
    const pinned = blocks(
      renderSshConfig(
        opts({ useOwnSshSetup: true, key: '', trusted: { lines: [], fingerprints: ['SHA256:abc'] } }),
        paths,
      ),
    ).get('*')
    expect(pinned?.slice(0, 3)).toEqual([
      'UserKnownHostsFile /tmp/rad-AbC123/known_hosts',
      'GlobalKnownHostsFile /dev/null',
      'KnownHostsCommand /tmp/rad-AbC123/hostkey-check %f %t %K %H',
    ])
    // Trust on first use on a laptop: keys they know still count; a new one goes to our file only.
    const tofu = blocks(
      renderSshConfig(opts({ useOwnSshSetup: true, key: '', acceptUnknownHostKey: true }), paths),
    ).get('*')
    expect(tofu?.[0]).toBe(
      'UserKnownHostsFile /tmp/rad-AbC123/known_hosts ~/.ssh/known_hosts ~/.ssh/known_hosts2',
    )
    expect(tofu).toContain('StrictHostKeyChecking accept-new')
  })

  it('refuses a ~/.ssh/config others may write, as ssh does (it is read through our Include)', () => {
    const f = path.join(dir, 'user-ssh-config')
    expect(userConfigProblem(f, 0)).toBe('')
    writeFileSync(f, 'Host x\n', { mode: 0o600 })
    chmodSync(f, 0o600)
    expect(userConfigProblem(f, process.getuid?.() ?? 0)).toBe('')
    chmodSync(f, 0o664)
    expect(userConfigProblem(f, process.getuid?.() ?? 0)).toMatch(/^Bad owner or permissions on /)
    chmodSync(f, 0o644)
    expect(userConfigProblem(f, 4242)).toBe('') // owned by root: fine, as for ssh
  })

  it('ownHostArgs: the name as typed, explicit user, port and jump as -o options', () => {
    expect(ownHostArgs(host('thealias'), undefined)).toEqual(['thealias'])
    expect(ownHostArgs(host('deploy@example.com:2222'), undefined)).toEqual([
      '-o',
      'User=deploy',
      '-o',
      'Port=2222',
      'example.com',
    ])
    expect(ownHostArgs(host('[::1]:2200'), host('jump@[2001:db8::9]:2222'))).toEqual([
      '-o',
      'Port=2200',
      '-o',
      'ProxyJump=jump@[2001:db8::9]:2222',
      '::1',
    ])
    // Port 22 is the default: left to the person's config.
    expect(ownHostArgs(host('thealias', '', 22), host('bastion'))).toEqual([
      '-o',
      'ProxyJump=bastion',
      'thealias',
    ])
  })

  it('never puts the key text or the passphrase in the config', () => {
    const config = renderSshConfig(opts({ keyPassphrase: 'hunter2-passphrase' }), paths)
    expect(config).not.toContain('PRIVATE KEY')
    expect(config).not.toContain('hunter2-passphrase')
  })

  it('aliases are rad-<index>', () => {
    expect([aliasOf(0), aliasOf(7)]).toEqual(['rad-0', 'rad-7'])
  })
})

describe('renderSshConfig read by the real ssh (ssh -G)', () => {
  const config = renderSshConfig(
    opts({
      hosts: [host('deploy@example.com:2222'), host('[::1]:2200'), host('[fe80::1%eth0]')],
      jumpHost: host('jump@bastion.example'),
      trusted: { lines: [], fingerprints: ['SHA256:abc'] },
    }),
    paths,
  )

  it('resolves every option for a host', () => {
    const g = resolved(config, 'rad-0')
    expect(g.get('hostname')).toEqual(['example.com'])
    expect(g.get('port')).toEqual(['2222'])
    expect(g.get('user')).toEqual(['deploy'])
    expect(g.get('stricthostkeychecking')).toEqual(['true'])
    expect(g.get('batchmode')).toEqual(['yes'])
    expect(g.get('identitiesonly')).toEqual(['yes'])
    expect(g.get('updatehostkeys')).toEqual(['false'])
    expect(g.get('identityfile')).toEqual(['/tmp/rad-AbC123/key'])
    expect(g.get('userknownhostsfile')).toEqual(['/tmp/rad-AbC123/known_hosts'])
    expect(g.get('globalknownhostsfile')).toEqual(['/dev/null'])
    expect(g.get('knownhostscommand')).toEqual(['/tmp/rad-AbC123/hostkey-check %f %t %K %H'])
    expect(g.get('proxycommand')).toEqual([
      '/usr/bin/ssh -F /tmp/rad-AbC123/config -E /tmp/rad-AbC123/jump.log -W [%h]:%p rad-jump',
    ])
    expect(g.get('controlmaster')).toEqual(['false'])
    expect(g.get('controlpersist')).toEqual(['660'])
    expect(g.get('forwardagent')).toEqual(['no'])
    expect(g.get('passwordauthentication')).toEqual(['no'])
    expect(g.get('connecttimeout')).toEqual([String(CONNECT_TIMEOUT)])
    // %n is our alias: the socket's path is known (closeAll speaks to it) and short enough
    const cp = g.get('controlpath')?.[0] ?? ''
    expect(cp).toBe('/tmp/rad-AbC123/rad-0')
  })

  it('resolves an IPv6 host without brackets', () => {
    const g = resolved(config, 'rad-1')
    expect(g.get('hostname')).toEqual(['::1'])
    expect(g.get('port')).toEqual(['2200'])
  })

  it('keeps an IPv6 zone (%eth0) literal: ssh must not take it for a %-token', () => {
    expect(resolved(config, 'rad-2').get('hostname')).toEqual(['fe80::1%eth0'])
  })

  it('resolves the jump host without a proxy of its own', () => {
    const g = resolved(config, 'rad-jump')
    expect(g.get('hostname')).toEqual(['bastion.example'])
    expect(g.get('user')).toEqual(['jump'])
    expect(g.get('proxycommand')).toBeUndefined()
  })

  it('accept-new for trust on first use', () => {
    expect(
      resolved(renderSshConfig(opts({ acceptUnknownHostKey: true }), paths), 'rad-0').get(
        'stricthostkeychecking',
      ),
    ).toEqual(['accept-new'])
  })
})

describe('own ssh setup read by the real ssh (ssh -G, with a person’s config in place of ~/.ssh/config)', () => {
  const userConfig = path.join(dir, 'user-config')
  writeFileSync(
    userConfig,
    [
      'Host thealias',
      '  HostName 10.9.8.7',
      '  Port 2299',
      '  User someone',
      '  IdentityFile ~/.ssh/id_work',
      '  ProxyJump thejump',
      '  StrictHostKeyChecking no',
      '  UserKnownHostsFile ~/.ssh/known_hosts_work',
      '  ForwardAgent yes',
      '  ControlPath ~/.ssh/cm-%C',
      'Host thejump',
      '  HostName 10.9.8.1',
      '',
    ].join('\n'),
  )
  const config = renderSshConfig(
    opts({ useOwnSshSetup: true, key: '', hosts: [host('thealias')] }),
    paths,
  ).replace('Include ~/.ssh/config', `Include ${userConfig}`)
  const file = path.join(dir, 'own-config')
  writeFileSync(file, config)
  const g = (args: string[]) => {
    const r = spawnSync('ssh', ['-G', '-F', file, ...args], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    return new Map(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]))
  }

  it('their alias resolves (HostName, Port, User, IdentityFile, ProxyJump, known_hosts file)', () => {
    const m = g(ownHostArgs(host('thealias'), undefined))
    expect(m.get('hostname')).toBe('10.9.8.7')
    expect(m.get('port')).toBe('2299')
    expect(m.get('user')).toBe('someone')
    expect(m.get('identityfile')).toBe('~/.ssh/id_work')
    expect(m.get('proxyjump')).toBe('thejump')
    expect(m.get('userknownhostsfile')).toMatch(/\/\.ssh\/known_hosts_work$/)
  })

  it('our safety options win over theirs: host keys checked, no agent forwarding, our ControlPath', () => {
    const m = g(ownHostArgs(host('thealias'), undefined))
    expect(m.get('stricthostkeychecking')).toBe('true')
    expect(m.get('batchmode')).toBe('yes')
    expect(m.get('forwardagent')).toBe('no')
    expect(m.get('controlpath')).toMatch(/^\/tmp\/rad-AbC123\/[0-9a-f]{40}$/)
  })

  it('what was given explicitly wins over their config', () => {
    const m = g(ownHostArgs(host('deploy@thealias:2222'), host('bastion.example')))
    expect(m.get('user')).toBe('deploy')
    expect(m.get('port')).toBe('2222')
    expect(m.get('proxyjump')).toBe('bastion.example')
    expect(m.get('hostname')).toBe('10.9.8.7')
  })
})
