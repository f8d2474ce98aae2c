import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { helpText } from '../../src/cli/help.js'
import { exitCodeFor } from '../../src/cli/main.js'
import { envName, OPTIONS, parseCli, UsageError } from '../../src/cli/parse.js'
import {
  CliReporter,
  colorWanted,
  humanResult,
  progressText,
  releasesTable,
  style,
} from '../../src/cli/render.js'
import { cliInputMessage, cliInputs, cliSettings, flagsFor, runEnv } from '../../src/cli/settings.js'
import { DeployError, InputError } from '../../src/errors.js'
import { blankResult, type HostResult, setLive } from '../../src/outcome.js'
import { generateKey, inputError, tempDir } from './helpers.js'

const dir = tempDir('radunit-cli-')
const key = generateKey(dir, 'id_cli')
const hostKey = generateKey(dir, 'host_cli')
const KNOWN = `example.com ${hostKey.type} ${hostKey.base64}\n`
const knownFile = path.join(dir, 'known_hosts')
writeFileSync(knownFile, KNOWN)

const inputs = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const cli = parseCli(argv)
  return cliInputs(cli, cli.command as never, env)
}

describe('parseCli and cliInputs: flags and RAD_* variables become the action’s inputs', () => {
  it('names every variable RAD_ + the input in capitals, - as _', () => {
    expect(envName('known-hosts')).toBe('RAD_KNOWN_HOSTS')
    expect(envName('keep-releases')).toBe('RAD_KEEP_RELEASES')
    expect(envName('rollback-to')).toBe('RAD_ROLLBACK_TO')
  })

  it('repeated flags are one item a line; booleans are true/false', () => {
    const i = inputs([
      'deploy',
      '--host',
      'a.example',
      '--host',
      'b.example,c.example',
      '--exclude',
      '*.map',
      '--exclude',
      '.git',
      '--dry-run',
      '--no-rollback-on-failure',
    ])
    expect(i.host).toBe('a.example\nb.example,c.example')
    expect(i.exclude).toBe('*.map\n.git')
    expect(i['dry-run']).toBe('true')
    expect(i['rollback-on-failure']).toBe('false')
    expect(i.command).toBe('deploy')
  })

  it('booleans also take =value, left to the action’s validation', () => {
    expect(inputs(['deploy', '--rollback-on-failure=false'])['rollback-on-failure']).toBe('false')
    expect(inputs(['deploy', '--dry-run=maybe'])['dry-run']).toBe('maybe')
  })

  it('a flag wins over its variable; a variable fills what no flag gave', () => {
    const i = inputs(['list', '--target', '/srv/a'], {
      RAD_TARGET: '/srv/b',
      RAD_HOST: 'h1\nh2',
      RAD_TIMEOUT: '60',
    })
    expect(i.target).toBe('/srv/a')
    expect(i.host).toBe('h1\nh2')
    expect(i.timeout).toBe('60')
  })

  it('--to (and --rollback-to, RAD_ROLLBACK_TO) feed rollback-to', () => {
    expect(inputs(['rollback', '--to', 'r1'])['rollback-to']).toBe('r1')
    expect(inputs(['rollback', '--rollback-to', 'r2'])['rollback-to']).toBe('r2')
    expect(inputs(['rollback'], { RAD_ROLLBACK_TO: 'r3' })['rollback-to']).toBe('r3')
  })

  it('the key: a file (--key, RAD_KEY_FILE), a variable named by --key-env, or the text in RAD_KEY', () => {
    expect(inputs(['list', '--key', key.file]).key).toBe(key.privateText)
    expect(inputs(['list', '--key-env', 'MY_KEY'], { MY_KEY: 'text' }).key).toBe('text')
    expect(inputs(['list'], { RAD_KEY: 'from-env' }).key).toBe('from-env')
    expect(inputs(['list'], { RAD_KEY_FILE: key.file }).key).toBe(key.privateText)
    expect(inputs(['list']).key).toBe('')
    expect(inputError(() => inputs(['list', '--key', '/nonexistent/key'])).input).toBe('key')
    expect(inputError(() => inputs(['list', '--key-env', 'UNSET_VAR'])).message).toContain('UNSET_VAR')
    expect(() => inputs(['list', '--key', key.file, '--key-env', 'X'])).toThrow(UsageError)
  })

  it('known hosts: a file (--known-hosts, RAD_KNOWN_HOSTS_FILE) or the lines in RAD_KNOWN_HOSTS', () => {
    expect(inputs(['list', '--known-hosts', knownFile])['known-hosts']).toBe(KNOWN)
    expect(inputs(['list'], { RAD_KNOWN_HOSTS: KNOWN })['known-hosts']).toBe(KNOWN)
    expect(inputs(['list'], { RAD_KNOWN_HOSTS_FILE: knownFile })['known-hosts']).toBe(KNOWN)
  })

  it('the passphrase only from a variable, never from argv', () => {
    expect(OPTIONS.some((o) => o.flag === 'key-passphrase')).toBe(false)
    expect(inputs(['list'], { RAD_KEY_PASSPHRASE: 'pw' })['key-passphrase']).toBe('pw')
    expect(inputs(['list', '--key-passphrase-env', 'P'], { P: 'pw2' })['key-passphrase']).toBe('pw2')
  })

  it('refuses a flag that does not apply to the command, unknown flags and stray arguments', () => {
    expect(() => inputs(['list', '--source', 'dist'])).toThrow(/--source does not apply to list/)
    expect(() => inputs(['rollback', '--release-id', 'x'])).toThrow(/--release-id does not apply to rollback/)
    expect(() => parseCli(['deploy', '--frobnicate'])).toThrow(UsageError)
    expect(() => parseCli(['deploy', 'extra'])).toThrow(/unexpected argument 'extra'/)
    expect(parseCli(['help', 'deploy']).helpFor).toBe('deploy')
  })
})

describe('cliSettings: the action’s validation and messages', () => {
  const env = { RAD_HOST: 'deploy@example.com', RAD_TARGET: '/srv/site' }

  it('needs neither key nor known hosts (the person’s own ssh setup)', async () => {
    const s = await cliSettings(parseCli(['list']), env)
    expect(s.key).toBe('')
    expect(s.trusted).toEqual({ lines: [], fingerprints: [] })
    expect(s.hosts.map((h) => h.label)).toEqual(['deploy@example.com'])
  })

  it('a bad value fails with the action’s message, naming the flag and the variable too', async () => {
    const e = await cliSettings(parseCli(['list', '--target', 'relative']), env).catch((x) => x)
    expect(e).toBeInstanceOf(InputError)
    expect(cliInputMessage(e)).toBe(
      "Input 'target' (--target or RAD_TARGET): 'relative' is not an absolute path",
    )
    expect(flagsFor('rollback-to')).toBe('--to or RAD_ROLLBACK_TO')
    expect(flagsFor('key')).toContain('--key FILE')
  })

  it('a relative --source is relative to the current directory, even inside a GitHub job', async () => {
    const s = await cliSettings(parseCli(['deploy', '--source', '.']), {
      ...env,
      GITHUB_WORKSPACE: '/nonexistent',
      GITHUB_SHA: 'abc',
    })
    expect(s.source).toBe(process.cwd())
  })

  it('GitLab CI variables become the log’s commit, ref, actor and job URL, and the default release id', async () => {
    const e = await runEnv(
      {
        CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
        CI_COMMIT_TAG: 'v2.0.0',
        GITLAB_USER_LOGIN: 'gl',
      },
      'deploy',
    )
    expect(e).toMatchObject({
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REF: 'refs/tags/v2.0.0',
      GITHUB_REF_TYPE: 'tag',
      GITHUB_REF_NAME: 'v2.0.0',
      GITHUB_ACTOR: 'gl',
    })
    const s = await cliSettings(parseCli(['list']), {
      ...env,
      CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
      CI_COMMIT_REF_NAME: 'main',
      CI_JOB_URL: 'https://gitlab.example/g/p/-/jobs/7',
    })
    expect(s.meta).toMatchObject({ ref: 'refs/heads/main', runUrl: 'https://gitlab.example/g/p/-/jobs/7' })
    expect(s.releaseId).toMatch(/^\d{8}T\d{6}Z-0123456-[0-9a-f]{6}$/)
  })
})

describe('output', () => {
  it('exit codes: 2 bad input, 3 no connection, 1 a failed command, 130 interrupted', () => {
    expect(exitCodeFor(undefined)).toBe(0)
    expect(exitCodeFor(new InputError('target', 'x', 'y'))).toBe(2)
    for (const code of [
      'auth',
      'host-key-unknown',
      'host-key-changed',
      'refused',
      'dns',
      'unreachable',
      'closed',
    ]) {
      expect(exitCodeFor(new DeployError('m', '', code)), code).toBe(3)
    }
    for (const code of [
      'locked',
      'rsync',
      'hook-failed',
      'healthcheck',
      'timeout',
      'rollback-refused',
      'failed',
    ]) {
      expect(exitCodeFor(new DeployError('m', '', code)), code).toBe(1)
    }
    expect(exitCodeFor(new DeployError('m', '', 'cancelled'))).toBe(130)
    expect(exitCodeFor(new DeployError('m', '', 'rsync'), true)).toBe(130)
  })

  it('colour only on a terminal, never with NO_COLOR or --no-color; FORCE_COLOR forces it', () => {
    expect(colorWanted({ isTTY: true }, {}, false)).toBe(true)
    expect(colorWanted({ isTTY: false }, {}, false)).toBe(false)
    expect(colorWanted({ isTTY: true }, { NO_COLOR: '1' }, false)).toBe(false)
    expect(colorWanted({ isTTY: true }, { NO_COLOR: '' }, false)).toBe(true)
    expect(colorWanted({ isTTY: true }, {}, true)).toBe(false)
    expect(colorWanted({ isTTY: true }, { TERM: 'dumb' }, false)).toBe(false)
    expect(colorWanted({ isTTY: false }, { FORCE_COLOR: '1' }, false)).toBe(true)
    expect(style(false).red('x')).toBe('x')
    expect(style(true).red('x')).toBe('\u001b[31mx\u001b[39m')
  })

  it('turns rsync’s progress2 line into a short one', () => {
    // Files counted by xfr# (regular files sent, as "N files sent" at the end), not to-chk (which
    // counts directories too); rsync's 1024-based rate in format.ts's units.
    expect(progressText('      5242880  45%   12.34MB/s    0:00:03 (xfr#3, to-chk=10/20)')).toBe(
      'uploading 45% · 5.2 MB · 12.9 MB/s · 0:00:03 · 3 files sent',
    )
    expect(progressText('  2000  5%  1.00kB/s  0:00:01 (xfr#1, to-chk=7/9)')).toBe(
      'uploading 5% · 2.0 kB · 1.0 kB/s · 0:00:01 · 1 file sent',
    )
    expect(progressText('something else')).toBe('something else')
  })

  it('draws progress only on a terminal and clears it before the next line', () => {
    const out: string[] = []
    const tty = { isTTY: true, columns: 100, write: (s: string) => out.push(s) }
    const r = new CliReporter(tty, style(false), { verbose: false, info: true })
    r.progress('h', '  100  5%  1.00MB/s  0:00:01')
    r.info('done')
    expect(out).toEqual(['\r\u001b[Kh: uploading 5% · 100 B · 1.0 MB/s · 0:00:01', '\r\u001b[K', 'done\n'])
    const piped: string[] = []
    const p = new CliReporter({ write: (s: string) => piped.push(s) }, style(false), {
      verbose: false,
      info: true,
    })
    p.progress('h', '  100  5%  1.00MB/s  0:00:01')
    expect(piped).toEqual([])
  })

  it('the list table marks the live release and flags bad ones', () => {
    const base = { sha: '0123456789', ref: 'refs/tags/v1', actor: 'me', run: '' }
    const text = releasesTable(
      [
        { id: 'r3', current: false, bad: true, deployedAt: '2026-11-21T10:00:00.000Z', ...base },
        { id: 'r2', current: true, bad: false, deployedAt: '2026-11-20T10:00:00.000Z', ...base },
        { id: 'old', current: false, bad: false, deployedAt: '', sha: '', ref: '', actor: '', run: '' },
      ],
      style(false),
    )
    expect(text.split('\n')).toEqual([
      '  RELEASE  DEPLOYED              BY  REF  COMMIT',
      '  r3       2026-11-21 10:00 UTC  me  v1   0123456  bad (rolled back from)',
      '* r2       2026-11-20 10:00 UTC  me  v1   0123456  live',
      '  old      (not in the log)',
    ])
  })

  it('the list table links the run only when the log holds a plain https URL', () => {
    const row = (id: string, run: string) => ({
      id,
      current: false,
      bad: false,
      deployedAt: '2026-12-01T18:57:09.123Z',
      sha: 'abcdef0123',
      ref: 'refs/heads/main',
      actor: 'octocat',
      run,
    })
    const text = releasesTable(
      [
        row('r3', 'https://github.com/o/r/actions/runs/77'),
        row('r2', 'javascript:alert(1)'),
        row('r1', 'http://example.com/run'),
      ],
      style(false),
    )
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/COMMIT +RUN$/)
    expect(lines[1]).toMatch(
      /^ {2}r3 +2026-12-01 18:57 UTC +octocat +main +abcdef0 +https:\/\/github.com\/o\/r\/actions\/runs\/77$/,
    )
    expect(lines[2]).toMatch(/abcdef0$/)
    expect(lines[3]).toMatch(/abcdef0$/)
    expect(text).not.toContain('javascript')
    expect(text).not.toContain('http://')
  })

  it('help: every command, and per command only its own flags', () => {
    const top = helpText()
    expect(top).toContain('RAD_KNOWN_HOSTS')
    expect(helpText('list')).not.toContain('--source')
    expect(helpText('deploy')).toContain('--source DIR')
    expect(helpText('rollback')).toContain('--to ID')
    expect(helpText('rollback')).not.toContain('--rollback-to ID')
  })
})

describe('humanResult names what is live, also after a failure', () => {
  const env = { RAD_HOST: 'deploy@example.com', RAD_TARGET: '/srv/site' }
  const plain = style(false)
  const host = (status: HostResult['status'], live: string | undefined): HostResult => {
    const h = blankResult('deploy@example.com', 'r2')
    if (live !== undefined) setLive(h, '/srv/site', live)
    h.status = status
    return h
  }
  const outcome = (h: HostResult, error?: DeployError) => ({
    releaseId: h.releaseId,
    hosts: [h],
    rolledBack: false,
    error,
    releases: [],
  })
  it.each<[string, HostResult['status'], string | undefined, RegExp]>([
    ['a failed deploy', 'failed', 'r1', /✗ deploy@example.com: current -> r1 \(r2 is not live\)/],
    ['a revert', 'reverted', 'r1', /✗ deploy@example.com: current -> r1 \(switched back from r2\)/],
    ['a cut-off switch', 'failed', undefined, /could not tell what current serves now/],
    [
      'a first deploy that failed',
      'failed',
      '',
      /nothing is live \(current does not exist\) \(r2 is not live\)/,
    ],
  ])('%s', async (_name, status, live, line) => {
    const settings = await cliSettings(parseCli(['deploy', '--source', '.']), env)
    const text = humanResult(settings, outcome(host(status, live), new DeployError('boom')), plain)
    expect(text).toMatch(line)
    expect(text).not.toMatch(/To roll back/)
  })
  it('a dry run names the live release and what would go live', async () => {
    const settings = await cliSettings(parseCli(['deploy', '--source', '.', '--dry-run']), env)
    expect(humanResult(settings, outcome(host('dry-run', 'r1')), plain)).toMatch(
      /current -> r1 \(would switch to r2\)/,
    )
  })
})
