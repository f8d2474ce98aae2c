/**
 * The pure parts of issue 10's input and CLI items: system-directory targets, a source holding
 * the private temp dir, lines never dropped as comments, URL masking and the health check's
 * request, the child environment, the CLI's empty secret sources and its words in messages.
 */
import { once } from 'node:events'
import { symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseCli } from '../../src/cli/parse.js'
import { CLI_WORDS, cliInputMessage, cliInputs, mustHold } from '../../src/cli/settings.js'
import { chooseRollback } from '../../src/commands.js'
import { childEnv } from '../../src/env.js'
import { healthcheck, healthRequest, maskUrl, sameHost } from '../../src/healthcheck.js'
import { explainSshFailure, remoteErrorHint } from '../../src/hints.js'
import { holdsPrivateDir, parseSettings, parseTarget, systemDirectory } from '../../src/inputs.js'
import { rsyncArgs } from '../../src/rsync.js'
import type { Reporter } from '../../src/settings.js'
import { jumpScanArgs } from '../../src/ssh-facts.js'
import { ACTION_WORDS } from '../../src/words.js'
import { inputError, inputsWorkspace } from './helpers.js'

const { ws, key, base: BASE } = inputsWorkspace('radunit-trust-')
const parse = (over: Record<string, string>) =>
  parseSettings((n) => ({ ...BASE, ...over })[n] ?? '', { GITHUB_WORKSPACE: ws }, new Date())

describe('target: system directories are refused, naming the input and the fix', () => {
  it.each([
    '/',
    '/etc',
    '/usr',
    '/root',
    '/proc/1',
    '/proc/self/cwd',
    '/sys/kernel',
    '/dev/shm',
    '/var',
    '/var/lib',
    '/usr/local',
    '/home',
    '/tmp',
    '/boot/efi',
    '/etc/nginx',
  ])('%s', (t) => {
    const err = inputError(() => parseTarget('target', t))
    expect(err.input).toBe('target')
    expect(err.message).toMatch(/system directory|root of the server/)
    expect(err.hint).toMatch(/directory of its own, e\.g\. \/var\/www\/example\.com/)
  })

  it.each([
    '/var/www/example.com',
    '/srv/site',
    '/home/deploy/site',
    '/usr/share/nginx/html',
    '/opt/app/web',
    '/var/www',
  ])('%s is a deploy root', (t) => {
    expect(systemDirectory(t)).toBe('')
    expect(parseTarget('target', t)).toBe(t)
  })
})

describe('source: never a directory that holds the private temp dir (the deploy key)', () => {
  it('/, /tmp and a link to /tmp are refused; a build dir under /tmp is fine', () => {
    expect(holdsPrivateDir('/')).toBe('/tmp')
    expect(holdsPrivateDir('/tmp')).toBe('/tmp')
    const link = path.join(ws, 'tmp-link')
    symlinkSync('/tmp', link)
    expect(holdsPrivateDir(link)).toBe('/tmp')
    expect(holdsPrivateDir(path.join(ws, 'public'))).toBe('')
    expect(holdsPrivateDir('/tmpfoo')).toBe('')
  })

  it('parseSettings refuses source: /tmp with a message naming it', () => {
    const err = inputError(() => parse({ source: '/tmp' }))
    expect(err.input).toBe('source')
    expect(err.message).toMatch(/contains \/tmp, where this tool keeps the deploy key/)
  })
})

describe('exclude, filter, shared: no line is dropped as a comment', () => {
  it('#*# and other # lines are kept as patterns; a # filter line is an error, not silence', () => {
    const s = parse({ exclude: '#*#\n# notes\n.git', shared: '#data\nstorage' })
    expect(s.exclude).toEqual(['#*#', '# notes', '.git'])
    expect(s.shared).toEqual(['#data', 'storage'])
    const err = inputError(() => parse({ filter: '# keep logs\n- *.log' }))
    expect(err.input).toBe('filter')
    expect(err.message).toContain("'# keep logs' is not an rsync filter rule")
    expect(err.hint).toMatch(/no comment lines/)
  })
})

describe('healthcheck-url: secrets are masked, userinfo becomes Basic auth, redirects stay on the host', () => {
  it('maskUrl hides userinfo, query values and fragments', () => {
    expect(maskUrl('https://user:s3cret@example.com/health?token=abc&x=1#frag')).toBe(
      'https://***@example.com/health?token=***&x=***#***',
    )
    expect(maskUrl('https://tok@example.com/h')).toBe('https://***@example.com/h')
    expect(maskUrl('http://example.com/up')).toBe('http://example.com/up')
    expect(maskUrl('ftp://u:p@x/?k=v')).toBe('ftp://***@x/?k=***')
  })

  it('healthRequest moves user:pass into an Authorization header', () => {
    expect(healthRequest('https://us%40r:p%3Ass@example.com:8443/h?a=1')).toEqual({
      url: 'https://example.com:8443/h?a=1',
      authorization: `Basic ${Buffer.from('us@r:p:ss').toString('base64')}`,
    })
    expect(healthRequest('http://example.com/h')).toEqual({ url: 'http://example.com/h', authorization: '' })
  })

  it('sameHost: another port or an upgrade to https of the same name is the same host; another name, or https to http, is not', () => {
    expect(sameHost('http://a.example/x', 'https://a.example:8443/y')).toBe(true)
    expect(sameHost('http://a.example/x', 'http://b.example/x')).toBe(false)
    expect(sameHost('http://127.0.0.1:1/x', 'http://localhost:1/x')).toBe(false)
    // Never down from https to http: the credentials would travel in clear.
    expect(sameHost('https://a.example/x', 'http://a.example/y')).toBe(false)
  })

  it('an invalid healthcheck-url is echoed masked', () => {
    const err = inputError(() => parse({ 'healthcheck-url': 'ftp://admin:hunter2@example.com/?t=zz' }))
    expect(String(err)).not.toContain('hunter2')
    expect(String(err)).not.toContain('zz')
  })

  describe('against a local server', () => {
    const servers: http.Server[] = []
    afterEach(() => {
      for (const s of servers.splice(0)) s.close()
    })
    async function serve(handler: http.RequestListener): Promise<string> {
      const s = http.createServer(handler)
      servers.push(s)
      s.listen(0, '127.0.0.1')
      await once(s, 'listening')
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`
    }
    const lines: string[] = []
    const reporter: Reporter = {
      info: (m) => lines.push(m),
      warning: (m) => lines.push(m),
      debug: () => {},
      group: (_n, fn) => fn(),
    }

    it('works without AbortSignal.any (Node 20.0–20.2), sending the userinfo as Basic auth', async () => {
      let auth = ''
      const url = await serve((req, res) => {
        auth = req.headers.authorization ?? ''
        res.end('ok')
      })
      const any = AbortSignal.any
      // @ts-expect-error: Node before 20.3 has no AbortSignal.any
      AbortSignal.any = undefined
      try {
        lines.length = 0
        await healthcheck(url.replace('http://', 'http://ops:pa55word@'), {
          signal: new AbortController().signal,
          reporter,
        })
      } finally {
        AbortSignal.any = any
      }
      expect(auth).toBe(`Basic ${Buffer.from('ops:pa55word').toString('base64')}`)
      expect(lines.join('\n')).not.toContain('pa55word')
      expect(lines.join('\n')).toMatch(/Health check http:\/\/\*\*\*@127\.0\.0\.1:\d+: 200/)
    })

    it('does not follow a redirect to another host, and never prints the token', async () => {
      let elsewhere = 0
      const other = await serve((_req, res) => {
        elsewhere++
        res.end('ok')
      })
      const url = await serve((_req, res) => {
        res.writeHead(302, { location: `${other.replace('127.0.0.1', 'localhost')}/?leak=1` })
        res.end()
      })
      lines.length = 0
      const err = await healthcheck(`${url}/health?token=T0KEN`, {
        signal: new AbortController().signal,
        boundMs: 500,
        reporter,
      }).catch((e) => e as Error)
      expect(err).toBeInstanceOf(Error)
      expect(elsewhere).toBe(0)
      expect(String(err)).toMatch(/redirected to another host/)
      // Not retried: a redirect off the host is a setting to fix.
      expect(`${String(err)}\n${lines.join('\n')}`).not.toContain('T0KEN')
    })

    it('follows a redirect on the same host', async () => {
      const url = await serve((req, res) => {
        if (req.url === '/old') {
          res.writeHead(301, { location: '/new' })
          res.end()
        } else res.end('ok')
      })
      await healthcheck(`${url}/old`, { signal: new AbortController().signal, reporter })
    })
  })
})

describe('childEnv: children get only what they need, never the key or passphrase', () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/home/me',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    INPUT_KEY: key.privateText,
    'INPUT_KEY-PASSPHRASE': 'pw',
    INPUT_HOST: 'example.com',
    RAD_KEY: key.privateText,
    MY_KEY: key.privateText,
    PASS: 'pw',
    ACTIONS_RUNTIME_TOKEN: 't',
    GITHUB_TOKEN: 't',
    SSH_AUTH_SOCK: '/tmp/agent',
    AWS_PROFILE: 'prod',
  }
  it('generated setup: an allow list', () => {
    expect(childEnv(env, { secrets: ['pw'] })).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
    })
  })
  it("the person's own setup: everything but secrets (a ProxyCommand may need AWS_PROFILE)", () => {
    expect(childEnv(env, { own: true, secrets: ['pw'] })).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      SSH_AUTH_SOCK: '/tmp/agent',
      AWS_PROFILE: 'prod',
    })
  })
})

describe('rsync keeps partly sent files outside the upload, for the next attempt', () => {
  it('--partial-dir is absolute (never inside a release)', () => {
    const args = rsyncArgs({
      source: '/src',
      destination: 'rad-0:/t/.deploy/incoming/r1.abc/',
      linkDest: [],
      chmod: 'u+rwX',
      exclude: [],
      filter: [],
      rsh: 'ssh',
      dryRun: false,
      ioTimeout: 60,
      progress: false,
      partialDir: '/t/.deploy/incoming/.rsync-partial',
    })
    expect(args).toContain('--partial-dir=/t/.deploy/incoming/.rsync-partial')
    expect(args).not.toContain('--inplace')
  })
})

describe('the CLI: empty secret sources are bad input, never a fall back to your own ssh', () => {
  const inputs = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const cli = parseCli(argv)
    return cliInputs(cli, cli.command as never, env)
  }
  const empty = path.join(ws, 'empty')
  writeFileSync(empty, '\n  \n')
  const comments = path.join(ws, 'comments')
  writeFileSync(comments, '# known hosts for prod\n\n#\n')

  it.each([
    [['list', '--key', empty], {}, /the file .*empty \(--key\) is empty/],
    [['list', '--key-env', 'K'], { K: '' }, /the variable K \(--key-env\) is empty/],
    [['list'], { RAD_KEY: '' }, /RAD_KEY is empty/],
    [['list'], { RAD_KEY_FILE: '' }, /RAD_KEY_FILE is empty/],
    [['list'], { RAD_KEY_FILE: comments }, /the file .*comments \(RAD_KEY_FILE\) is empty/],
    [['list', '--known-hosts', comments], {}, /the file .*comments \(--known-hosts\) is empty/],
    [['list'], { RAD_KNOWN_HOSTS: '# nothing' }, /RAD_KNOWN_HOSTS is empty/],
    [['list'], { RAD_KNOWN_HOSTS_FILE: empty }, /\(RAD_KNOWN_HOSTS_FILE\) is empty/],
  ] as const)('%j %j', (argv, env, message) => {
    const err = inputError(() => inputs([...argv], env))
    expect(err.code).toBe('bad-input')
    expect(cliInputMessage(err)).toMatch(message)
    expect(err.hint).toMatch(/protected/)
  })

  it('not given at all: your own setup, as before', () => {
    expect(inputs(['list']).key).toBe('')
    expect(inputs(['list'])['known-hosts']).toBe('')
    expect(() => mustHold('key', 'x', 'y', 'z')).not.toThrow()
  })
})

describe('messages of the shared core speak the front end’s words', () => {
  const ctx = { target: '/srv/site', linkName: 'current', user: 'deploy' }
  it('the lock hint: the action says command: unlock, the CLI its command line', () => {
    expect(remoteErrorHint('locked', ctx)).toContain('run this action with command: unlock')
    const cli = remoteErrorHint('locked', { ...ctx, words: CLI_WORDS })
    expect(cli).toContain('run `rsync-atomic-deploy unlock`')
    expect(cli).not.toMatch(/this action|command: |concurrency/)
    expect(remoteErrorHint('not-uploaded', { ...ctx, words: CLI_WORDS })).toBe(
      'Run `rsync-atomic-deploy upload` with the same --release-id or RAD_RELEASE_ID on every host first, then `rsync-atomic-deploy activate`.',
    )
    expect(remoteErrorHint('release-exists', { ...ctx, words: CLI_WORDS })).toContain(
      'give a new --release-id or RAD_RELEASE_ID',
    )
  })

  it('ssh failures: --key-passphrase-env, not key-passphrase', async () => {
    const base = {
      label: 'deploy@web1',
      user: 'deploy',
      keyPath: '/nonexistent',
      hasKey: false,
      passphraseGiven: false,
      passphraseRejected: true,
      host: undefined,
      sshPath: '/usr/bin/ssh',
    }
    const action = await explainSshFailure('', base)
    expect(action.message).toContain('(key-passphrase)')
    const cli = await explainSshFailure('', { ...base, words: CLI_WORDS })
    expect(cli.message).toContain('(--key-passphrase-env NAME or RAD_KEY_PASSPHRASE)')
    const auth = await explainSshFailure('Permission denied (publickey).', {
      ...base,
      passphraseRejected: false,
      words: CLI_WORDS,
    })
    expect(auth.hint).toContain('give --key-passphrase-env NAME or RAD_KEY_PASSPHRASE')
    expect(auth.hint).not.toMatch(/give key-passphrase/)
  })

  it('rollback and inputs hints', () => {
    const state = { live: 'r2', releases: ['r1', 'r2'], log: [], freeKb: 0 }
    const c = chooseRollback(state, 'r9', CLI_WORDS)
    expect('hint' in c && c.hint).toContain('Run `rsync-atomic-deploy list`')
    expect(CLI_WORDS.input('rollback-on-failure', 'false')).toBe('--no-rollback-on-failure')
    expect(CLI_WORDS.input('source', 'public')).toBe('--source public')
    expect(ACTION_WORDS.input('source', 'public')).toBe('source: public')
  })
})

describe('jump host: the key scan of a hint goes through the jump host', () => {
  it('jumpScanArgs: our config (so the ProxyCommand through the jump), no auth, a scratch known_hosts', () => {
    const args = jumpScanArgs({ config: '/tmp/rad-x/config', alias: 'rad-0' }, '/tmp/rad-x/scan')
    expect(args.slice(0, 2)).toEqual(['-F', '/tmp/rad-x/config'])
    expect(args).toContain('PreferredAuthentications=none')
    expect(args).toContain('StrictHostKeyChecking=accept-new')
    expect(args).toContain('UserKnownHostsFile=/tmp/rad-x/scan')
    expect(args.slice(-2)).toEqual(['rad-0', 'true'])
  })
})
