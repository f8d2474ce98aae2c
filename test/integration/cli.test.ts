/**
 * The command line (dist/cli/index.js, the bundle `npm run build` makes) against a real sshd:
 * the same core as the action, one shared history on the server, and the laptop mode where the
 * person's own ssh setup (agent, ~/.ssh/config, known_hosts) connects, with host keys still checked.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shQuote } from '../../src/quote.js'
import {
  baseInputs,
  freePort,
  inode,
  linkTarget,
  listDir,
  makeKey,
  makeTargetRoot,
  nodeBinaries,
  ROOT,
  readTree,
  runAction,
  type Sshd,
  sh,
  sshProcessesWith,
  startSshd,
  TEST_USER,
  writeSite,
} from '../support/harness.js'

const CLI = path.join(ROOT, 'dist/cli/index.js')
/** A second local account: the person at the laptop, with their own ~/.ssh. */
const LAPTOP_USER = 'radlaptop'

interface CliRun {
  code: number
  stdout: string
  stderr: string
}

interface CliOpts {
  env?: Record<string, string>
  node?: string
  /** Run as this local account (uid, gid, HOME), as a person would. */
  as?: { uid: number; gid: number; home: string }
  cwd?: string
}

/** Whether an account other than the owner can run `file`: o+x on every directory above it, o+rx on it. */
function othersCanRun(file: string): boolean {
  const real = realpathSync(file)
  if ((statSync(real).mode & 0o005) !== 0o005) return false
  for (let d = path.dirname(real); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false
    if (d === path.dirname(d)) return true
  }
}

let laptopCopies: string | undefined
/**
 * The node binary and the CLI bundle as the laptop account can reach them. The checkout (and the
 * Node 24 that scripts/test.sh puts in its .cache/) may sit under a home only root can enter, such as
 * /root (0700): then they are hard-linked (or copied) into a world-readable temporary directory.
 */
function runnableByOthers(): { node: string; cli: string } {
  let node = realpathSync(process.execPath)
  let cli = CLI
  if (othersCanRun(node) && othersCanRun(cli)) return { node, cli }
  if (!laptopCopies) {
    laptopCopies = mkdtempSync('/tmp/radrun-laptopbin-')
    chmodSync(laptopCopies, 0o755)
    const bin = path.join(laptopCopies, 'node')
    try {
      linkSync(node, bin)
    } catch {
      copyFileSync(node, bin)
    }
    chmodSync(bin, 0o755)
    mkdirSync(path.join(laptopCopies, 'cli'), { mode: 0o755 })
    // package.json says "type": "module": the bundle is an ES module.
    for (const f of ['index.js', 'package.json']) {
      copyFileSync(path.join(path.dirname(CLI), f), path.join(laptopCopies, 'cli', f))
      chmodSync(path.join(laptopCopies, 'cli', f), 0o644)
    }
  }
  node = path.join(laptopCopies, 'node')
  cli = path.join(laptopCopies, 'cli/index.js')
  return { node, cli }
}

function runCli(args: string[], opts: CliOpts = {}): Promise<CliRun> {
  // Another account cannot run what it cannot reach.
  const { node, cli } = opts.as ? runnableByOthers() : { node: process.execPath, cli: CLI }
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: opts.as?.home ?? process.env.HOME,
      ...(opts.as ? { USER: LAPTOP_USER, LOGNAME: LAPTOP_USER } : {}),
      ...(opts.env ?? {}),
    }
    const child = spawn(opts.node ?? node, [cli, ...args], {
      env,
      cwd: opts.cwd ?? '/tmp',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.as ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

let sshd: Sshd
let keyFile: string
let knownHostsFile: string
let files: string
beforeAll(async () => {
  sshd = await startSshd()
  files = mkdtempSync('/tmp/radrun-cli-')
  keyFile = path.join(files, 'id_deploy')
  writeFileSync(keyFile, sshd.client.privateKey, { mode: 0o600 })
  knownHostsFile = path.join(files, 'known_hosts')
  writeFileSync(knownHostsFile, sshd.knownHosts)
})
afterAll(async () => {
  await sshd?.stop()
  if (files) rmSync(files, { recursive: true, force: true })
  if (laptopCopies) rmSync(laptopCopies, { recursive: true, force: true })
})

/** The CI way: host, key file and known_hosts file given explicitly. */
function ci(target: string, port = sshd.port): string[] {
  return [
    '--host',
    `${TEST_USER}@127.0.0.1:${port}`,
    '--key',
    keyFile,
    '--known-hosts',
    knownHostsFile,
    '--target',
    target,
  ]
}

function newSite(files: Record<string, string>): string {
  const src = mkdtempSync('/tmp/radsrc-')
  chmodSync(src, 0o755)
  writeSite(src, files)
  return src
}

function logEntries(target: string): Record<string, string>[] {
  return readFileSync(`${target}/.deploy/log`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
}

const SITE = { 'index.html': '<h1>one</h1>\n', 'css/site.css': 'body{}\n'.repeat(50) }

describe.each(nodeBinaries())('the CLI bundle under $name', ({ path: node }) => {
  it('--help for the tool and for each command, --version from package.json', async () => {
    const top = await runCli(['--help'], { node })
    expect(top.code).toBe(0)
    for (const c of ['deploy', 'rollback', 'list', 'prune', 'unlock', 'upload', 'activate']) {
      expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'))
    }
    expect(top.stdout).toContain('RAD_')
    expect(top.stdout).toMatch(/Exit codes: 0 .*2 bad input, 3 could not connect/)
    const deploy = await runCli(['deploy', '--help'], { node })
    expect(deploy.code).toBe(0)
    expect(deploy.stdout).toMatch(/^Usage: rsync-atomic-deploy deploy /)
    for (const flag of [
      '--source',
      '--exclude',
      '--before-switch',
      '--healthcheck-url',
      '--dry-run',
      '--json',
    ]) {
      expect(deploy.stdout).toContain(flag)
    }
    const rollback = await runCli(['help', 'rollback'], { node })
    expect(rollback.stdout).toContain('--to ID')
    expect(rollback.stdout).not.toContain('--source')
    const version = await runCli(['--version'], { node })
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    expect(version.stdout.trim()).toBe(pkg.version)
    const bin = pkg.bin['rsync-atomic-deploy']
    expect(path.resolve(ROOT, bin)).toBe(CLI)
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })

  it('deploys, lists (table and --json), rolls back and lists again', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    const c0 = sshd.connections()
    const first = await runCli(['deploy', ...ci(target), '--source', src, '--release-id', 'r1'], { node })
    expect(first.stderr).not.toMatch(/error/)
    expect(first.code).toBe(0)
    expect(sshd.connections() - c0).toBe(1)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(first.stdout).toMatch(/current -> r1; 2 files sent, 0 hard-linked/)
    // Piped, not a terminal: no colour, no progress line.
    expect(first.stdout + first.stderr).not.toMatch(/\u001b\[/)

    writeFileSync(path.join(src, 'index.html'), '<h1>two</h1>\n')
    const second = await runCli(['deploy', ...ci(target), '--source', src, '--release-id', 'r2'], { node })
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(
      /current -> r2 \(was r1\); 1 file sent, 1 hard-linked, \d+(\.\d)? k?B on the wire; \d+\.\d s$/m,
    )
    expect(second.stdout).toContain('rollback --to r1')
    expect(inode(`${target}/releases/r2/css/site.css`)).toBe(inode(`${target}/releases/r1/css/site.css`))

    const table = await runCli(['list', ...ci(target)], { node })
    expect(table.code).toBe(0)
    const lines = table.stdout.split('\n')
    expect(lines[0]).toBe(`Releases in ${target} on ${TEST_USER}@127.0.0.1:${sshd.port}, newest first:`)
    expect(lines[2]).toMatch(/^ {2}RELEASE +DEPLOYED +BY +REF +COMMIT$/)
    expect(lines[3]).toMatch(/^\* r2 +\d{4}-\d\d-\d\d \d\d:\d\d UTC +root +\S* +live$/)
    expect(lines[4]).toMatch(/^ {2}r1 +\d{4}-/)

    const back = await runCli(['rollback', ...ci(target)], { node })
    expect(back.code).toBe(0)
    expect(back.stdout).toContain('current -> r1 (rolled back from r2, now marked bad)')
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')

    const json = await runCli(['list', ...ci(target), '--json'], { node })
    expect(json.code).toBe(0)
    const releases = JSON.parse(json.stdout)
    expect(
      releases.map((r: { id: string; current: boolean; bad: boolean }) => [r.id, r.current, r.bad]),
    ).toEqual([
      ['r2', false, true],
      ['r1', true, false],
    ])
    const after = await runCli(['list', ...ci(target)], { node })
    expect(after.stdout).toMatch(/^ {2}r2 .*bad \(rolled back from\)$/m)
    expect(after.stdout).toMatch(/^\* r1 .*live$/m)
    expect(logEntries(target).map((e) => [e.event, e.release])).toEqual([
      ['deploy', 'r1'],
      ['deploy', 'r2'],
      ['rollback', 'r1'],
    ])
  })
})

describe('input and exit codes', () => {
  it('bad input exits 2 naming the flag (and the input), before any connection', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    const c0 = sshd.connections()
    const cases: [string[], RegExp][] = [
      [
        ['deploy', ...ci('relative/path'), '--source', src],
        /Input 'target' \(--target or RAD_TARGET\): 'relative\/path' is not an absolute path/,
      ],
      [
        ['deploy', ...ci(target), '--source', '/nonexistent-dir'],
        /Input 'source' \(--source or RAD_SOURCE\): '\/nonexistent-dir' is not a directory/,
      ],
      [
        ['list', ...ci(target), '--port', '99999', '--host', 'other.example'],
        /Input 'port' \(--port or RAD_PORT\): '99999' is not a port number/,
      ],
      [
        ['deploy', ...ci(target), '--source', src, '--release-id', '../x'],
        /Input 'release-id' \(--release-id or RAD_RELEASE_ID\)/,
      ],
      [['deploy', ...ci(target), '--source', src, '--keep-releases', 'many'], /--keep-releases/],
      [
        ['deploy', ...ci(target), '--source', src, '--dry-run=maybe'],
        /Input 'dry-run' \(--dry-run or RAD_DRY_RUN\): 'maybe' is not a boolean/,
      ],
      [
        ['list', '--host', 'h', '--target', target, '--key', '/nonexistent/key'],
        /Input 'key' \(--key FILE.*\): cannot read \/nonexistent\/key/,
      ],
      [
        ['list', '--host', 'h', '--target', target, '--known-hosts', keyFile],
        /Input 'known-hosts' \(--known-hosts FILE/,
      ],
      [['rollback', ...ci(target), '--to', 'bad id'], /Input 'rollback-to' \(--to or RAD_ROLLBACK_TO\)/],
      [['list', ...ci(target), '--source', src], /--source does not apply to list/],
      [['deploy', ...ci(target), '--frobnicate'], /Unknown option '--frobnicate'/],
      [['deploy', ...ci(target), '--source'], /--source <value>' argument missing/],
      [['upload', ...ci(target), '--source', src], /Input 'release-id' .*is required for command upload/],
      [['explode', ...ci(target)], /'explode' is not a command/],
      [[], /no command given/],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(args)
      expect(r.stderr, args.join(' ')).toMatch(message)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stdout).toBe('')
    }
    expect(sshd.connections() - c0).toBe(0)
  })

  it('environment variables (RAD_*) instead of flags, key and known hosts as text; --json prints the hosts output', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    const r = await runCli(['deploy', '--json'], {
      env: {
        RAD_HOST: `${TEST_USER}@127.0.0.1:${sshd.port}`,
        RAD_KEY: sshd.client.privateKey,
        RAD_KNOWN_HOSTS: sshd.knownHostsPlain,
        RAD_TARGET: target,
        RAD_SOURCE: src,
        RAD_RELEASE_ID: 'from-env',
        RAD_EXCLUDE: 'css\n*.tmp',
      },
    })
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    const hosts = JSON.parse(r.stdout)
    expect(hosts).toEqual([
      expect.objectContaining({
        host: `${TEST_USER}@127.0.0.1:${sshd.port}`,
        'release-id': 'from-env',
        'files-transferred': 1,
        status: 'deployed',
      }),
    ])
    expect(listDir(`${target}/current`)).toEqual(['index.html'])
    // A flag wins over its variable.
    const flagWins = await runCli(['list', '--target', target, '--json'], {
      env: {
        RAD_HOST: `${TEST_USER}@127.0.0.1:${sshd.port}`,
        RAD_KEY: sshd.client.privateKey,
        RAD_KNOWN_HOSTS: sshd.knownHosts,
        RAD_TARGET: '/nonexistent/elsewhere',
      },
    })
    expect(flagWins.code).toBe(0)
    expect(JSON.parse(flagWins.stdout).map((x: { id: string }) => x.id)).toEqual(['from-env'])
  })

  it('exits 3 when it cannot connect (nothing listening, unknown host key) and 1 when the deploy fails', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    const port = await freePort()
    const refused = await runCli(['list', ...ci(target, port)])
    expect(refused.stderr).toMatch(/refused the connection/)
    expect(refused.code).toBe(3)

    const other = makeKey(files, `other-host-${Date.now()}`)
    const wrong = path.join(files, 'wrong_known_hosts')
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${other.publicKey}`)
    const unknown = await runCli(['list', ...ci(target), '--known-hosts', wrong])
    expect(unknown.stderr).toMatch(/host key/i)
    expect(unknown.code).toBe(3)

    const hook = await runCli([
      'deploy',
      ...ci(target),
      '--source',
      src,
      '--before-switch',
      'echo nope >&2; exit 7',
    ])
    expect(hook.stderr).toMatch(/before-switch/)
    expect(hook.stderr).toContain('nope')
    expect(hook.code).toBe(1)
    expect(existsSync(`${target}/current`)).toBe(false)
  })
})

describe('safe to script', () => {
  it('stdout holds only results: an unreadable PATH entry says nothing there, and --json parses', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    // A PATH entry that cannot be looked into (ENOTDIR): skipped, as a shell skips it.
    const env = { PATH: `/etc/passwd/bin:${process.env.PATH}` }
    const deployed = await runCli(
      ['deploy', ...ci(target), '--source', src, '--release-id', 'p1', '--json'],
      {
        env,
      },
    )
    expect(deployed.code).toBe(0)
    expect(JSON.parse(deployed.stdout)[0].status).toBe('deployed')
    const listed = await runCli(['list', ...ci(target), '--json'], { env })
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout).map((r: { id: string }) => r.id)).toEqual(['p1'])
    expect(deployed.stdout + listed.stdout).not.toContain('Unexpected error')
    // Not on stderr either, even with --verbose.
    expect(deployed.stderr + listed.stderr).not.toContain('Unexpected error')
    const verbose = await runCli(['list', ...ci(target), '--json', '--verbose'], { env })
    expect(JSON.parse(verbose.stdout)).toHaveLength(1)
    expect(verbose.stderr).not.toMatch(/passwd|ENOTDIR|Unexpected error/)
  })

  it('a closed stdout (`| head -1` style) ends quietly, without a stack trace', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    expect((await runCli(['deploy', ...ci(target), '--source', newSite(SITE)])).code).toBe(0)
    // The reader is gone before the result is written: every write meets EPIPE.
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const cmd = `${[process.execPath, CLI, 'list', ...ci(target)].map(q).join(' ')} | true`
    const r = spawnSync('sh', ['-c', cmd], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: '/tmp' },
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('an empty --key file or RAD_KEY is bad input (exit 2) naming it, not a fall back to your own ssh', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const empty = path.join(files, 'empty-key')
    writeFileSync(empty, '')
    const c0 = sshd.connections()
    const r = await runCli(['list', ...ci(target).map((a) => (a === keyFile ? empty : a))])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`the file ${empty} (--key) is empty`)
    const v = await runCli(['list', '--host', `${TEST_USER}@127.0.0.1:${sshd.port}`, '--target', target], {
      env: { RAD_KEY: '', RAD_KNOWN_HOSTS: sshd.knownHosts },
    })
    expect(v.code).toBe(2)
    expect(v.stderr).toContain('RAD_KEY is empty')
    const kh = path.join(files, 'comment-only')
    writeFileSync(kh, '# prod servers\n')
    const k = await runCli(['list', ...ci(target).map((a) => (a === knownHostsFile ? kh : a))])
    expect(k.code).toBe(2)
    expect(k.stderr).toContain(`the file ${kh} (--known-hosts) is empty`)
    expect(sshd.connections()).toBe(c0)
  })

  it('list --json that cannot connect prints nothing on stdout, not []', async () => {
    const dead = await freePort()
    const r = await runCli([
      'list',
      '--host',
      `${TEST_USER}@127.0.0.1:${dead}`,
      '--key',
      keyFile,
      '--known-hosts',
      knownHostsFile,
      '--target',
      '/srv/site',
      '--json',
    ])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/refused the connection/)
  })
})

describe('one history with the action', () => {
  it('the action deploys, the CLI rolls back on the same target; list agrees with the action’s releases output', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    const a1 = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'a1' })
    expect(a1.code).toBe(0)
    writeFileSync(path.join(src, 'index.html'), '<h1>a2</h1>\n')
    const a2 = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'a2' })
    expect(a2.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/a2')

    const back = await runCli(['rollback', ...ci(target)])
    expect(back.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/a1')
    const log = logEntries(target)
    expect(log.map((e) => [e.event, e.release, e.from ?? ''])).toEqual([
      ['deploy', 'a1', ''],
      ['deploy', 'a2', ''],
      ['rollback', 'a1', 'a2'],
    ])
    expect(log[0]).toMatchObject({ actor: 'tester', ref: 'refs/tags/v1.0.0' })

    // Both front ends print the same releases JSON for the same server state.
    const fromAction = await runAction({ ...baseInputs(sshd, target, src), command: 'list' })
    const fromCli = await runCli(['list', ...ci(target), '--json'])
    expect(fromCli.stdout.trim()).toBe(fromAction.outputs.releases)
    // The action's log shows them too, newest first (the core returns them; main.ts renders them).
    // Times as people read them, the tag's name, who deployed and the run (the harness's GITHUB_*).
    const logged = fromAction.stdout.split('\n')
    const run = 'https://github.com/example/site/actions/runs/1234'
    const a2At = logged.findIndex((l) =>
      new RegExp(
        `^ {2}a2 {2}\\(bad\\) {2}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC by tester v1\\.0\\.0 [0-9a-f]{7} ${run}$`,
      ).test(l),
    )
    expect(a2At, fromAction.stdout).toBeGreaterThan(0)
    expect(logged[a2At + 1]).toMatch(
      /^\* a1 {2}\d{4}-\d\d-\d\d \d\d:\d\d UTC by tester v1\.0\.0 [0-9a-f]{7} https:/,
    )
    // The CLI's table says the same: who, when, v1.0.0, and the run of the action's deploy.
    const table = (await runCli(['list', ...ci(target)])).stdout.split('\n')
    expect(table[2]).toMatch(/^ {2}RELEASE +DEPLOYED +BY +REF +COMMIT +RUN$/)
    expect(table[3]).toMatch(
      new RegExp(
        `^ {2}a2 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC +tester +v1\\.0\\.0 +[0-9a-f]{7} +bad \\(rolled back from\\) +${run}$`,
      ),
    )
    expect(table[4]).toMatch(new RegExp(`^\\* a1 .* tester +v1\\.0\\.0 .* live +${run}$`))
    expect(JSON.parse(fromCli.stdout).find((r: { current: boolean }) => r.current).id).toBe('a1')

    // And the action rolls forward again to what the CLI marked bad only when asked by name.
    const again = await runAction({
      ...baseInputs(sshd, target, src),
      command: 'rollback',
      'rollback-to': 'a2',
    })
    expect(again.code).toBe(0)
    expect(linkTarget(`${target}/current`)).toBe('releases/a2')
  })

  it('unlock removes a lock a dead run left, and says whose it was', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const src = newSite(SITE)
    expect((await runCli(['deploy', ...ci(target), '--source', src])).code).toBe(0)
    const lock = `${target}/.deploy/lock`
    mkdirSync(lock)
    writeFileSync(
      `${lock}/owner.json`,
      JSON.stringify({ actor: 'ghost', run: 'https://ci.example/run/9', token: 'dead' }),
    )
    chownSync(lock, sshd.user.uid, sshd.user.gid)
    const blocked = await runCli(['deploy', ...ci(target), '--source', src, '--timeout', '12'])
    expect(blocked.code).toBe(1)
    expect(blocked.stderr).toMatch(/lock/i)
    // The CLI's words, not the action's.
    expect(blocked.stderr).toContain('run `rsync-atomic-deploy unlock`')
    expect(blocked.stderr).not.toMatch(/this action|command: unlock/)

    const r = await runCli(['unlock', ...ci(target)])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/removed the lock held by .*ghost/)
    expect(existsSync(lock)).toBe(false)
    const again = await runCli(['unlock', ...ci(target)])
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/was not locked/)
  })
})

/** The laptop: a person with their own ~/.ssh (config, known_hosts, keys, maybe an agent). */
describe('laptop mode: no --key, no --known-hosts', () => {
  let person: { uid: number; gid: number; home: string }
  const sshDir = () => path.join(person.home, '.ssh')
  const own = (p: string) => chownSync(p, person.uid, person.gid)
  const write = (name: string, text: string, mode = 0o600) => {
    const p = path.join(sshDir(), name)
    writeFileSync(p, text, { mode })
    chmodSync(p, mode)
    own(p)
    return p
  }

  beforeAll(() => {
    const have = spawnSync('id', ['-u', LAPTOP_USER])
    if (have.status !== 0) {
      sh('useradd', [
        '--create-home',
        '--home-dir',
        `/home/${LAPTOP_USER}`,
        '--shell',
        '/bin/sh',
        LAPTOP_USER,
      ])
    }
    const uid = Number(sh('id', ['-u', LAPTOP_USER]).trim())
    const gid = Number(sh('id', ['-g', LAPTOP_USER]).trim())
    person = { uid, gid, home: `/home/${LAPTOP_USER}` }
  })

  function freshSsh(): void {
    rmSync(sshDir(), { recursive: true, force: true })
    mkdirSync(sshDir(), { mode: 0o700 })
    own(sshDir())
    write('id_deploy', sshd.client.privateKey)
  }

  function site(): string {
    const src = newSite(SITE)
    for (const f of ['', 'index.html', 'css', 'css/site.css']) own(path.join(src, f))
    return src
  }

  it('deploys to a Host alias of ~/.ssh/config (HostName, Port, User, IdentityFile) checked against ~/.ssh/known_hosts', async () => {
    freshSsh()
    const config = write(
      'config',
      `Host thealias\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${TEST_USER}\n  IdentityFile ~/.ssh/id_deploy\n`,
    )
    const known = write('known_hosts', sshd.knownHosts, 0o644)
    const target = `${makeTargetRoot(sshd)}/site`
    const src = site()
    const c0 = sshd.connections()
    const r = await runCli(
      ['deploy', '--host', 'thealias', '--target', target, '--source', src, '--release-id', 'l1'],
      {
        as: person,
      },
    )
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    expect(sshd.connections() - c0).toBe(1)
    expect(r.stdout).toContain('thealias: current -> l1')
    expect(linkTarget(`${target}/current`)).toBe('releases/l1')
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(logEntries(target)[0]).toMatchObject({ release: 'l1', actor: LAPTOP_USER, host: 'thealias' })
    // Their files are read, never written (no learned keys, no hashing).
    expect(readFileSync(known, 'utf8')).toBe(sshd.knownHosts)
    expect(readFileSync(config, 'utf8')).toContain('Host thealias')
    expect(listDir(sshDir())).toEqual(['config', 'id_deploy', 'known_hosts'])
    // The connection was closed at the end (ssh -O exit through the same names).
    expect(sshProcessesWith('thealias')).toEqual([])

    const list = await runCli(['list', '--host', 'thealias', '--target', target], { as: person })
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^\* l1 .*radlaptop.*live$/m)
  })

  it('goes through a ProxyJump of ~/.ssh/config, and uses the key in the ssh-agent', async () => {
    freshSsh()
    write(
      'config',
      [
        'Host thejump',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  User ${TEST_USER}`,
        'Host behindjump',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  User ${TEST_USER}`,
        '  ProxyJump thejump',
        '',
      ].join('\n'),
    )
    write('known_hosts', sshd.knownHosts, 0o644)
    // No IdentityFile anywhere and the key not in a default place: only the agent has it.
    const keyPath = path.join(sshDir(), 'id_deploy')
    const hidden = path.join(sshDir(), 'agent_only_key')
    writeFileSync(hidden, readFileSync(keyPath), { mode: 0o600 })
    own(hidden)
    rmSync(keyPath)
    const sock = path.join(mkdtempSync('/tmp/radrun-agent-'), 'agent.sock')
    chownSync(path.dirname(sock), person.uid, person.gid)
    const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], {
      uid: person.uid,
      gid: person.gid,
      stdio: 'ignore',
    })
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50))
      const add = spawnSync('ssh-add', [hidden], {
        uid: person.uid,
        gid: person.gid,
        env: { PATH: process.env.PATH, SSH_AUTH_SOCK: sock, HOME: person.home },
        encoding: 'utf8',
      })
      expect(add.status, add.stderr).toBe(0)
      rmSync(hidden)

      const target = `${makeTargetRoot(sshd)}/site`
      const src = site()
      const c0 = sshd.connections()
      const r = await runCli(['deploy', '--host', 'behindjump', '--target', target, '--source', src], {
        as: person,
        env: { SSH_AUTH_SOCK: sock },
      })
      expect(r.stderr).not.toMatch(/error/)
      expect(r.code).toBe(0)
      // One connection to the jump host, one through it to the server.
      expect(sshd.connections() - c0).toBe(2)
      expect(existsSync(`${target}/current/index.html`)).toBe(true)

      // Without the agent the same command cannot log in: the agent was what authenticated.
      const noAgent = await runCli(['list', '--host', 'behindjump', '--target', target], { as: person })
      expect(noAgent.code).toBe(3)
    } finally {
      agent.kill()
      rmSync(path.dirname(sock), { recursive: true, force: true })
    }
  })

  it('refuses an unknown host key even when ~/.ssh/config says StrictHostKeyChecking no, and a changed one', async () => {
    freshSsh()
    const config = [
      'Host lax',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      `  User ${TEST_USER}`,
      '  IdentityFile ~/.ssh/id_deploy',
      '  StrictHostKeyChecking no',
      '',
    ].join('\n')
    write('config', config)
    const target = `${makeTargetRoot(sshd)}/site`
    const src = site()
    // No known_hosts at all: plain ssh with this config would connect (and record the key).
    const unknown = await runCli(['deploy', '--host', 'lax', '--target', target, '--source', src], {
      as: person,
    })
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toMatch(/Host key verification failed for lax: its key is not in your known_hosts/)
    expect(unknown.stderr).toContain('ssh ')
    expect(existsSync(path.join(sshDir(), 'known_hosts'))).toBe(false)
    expect(existsSync(`${target}/current`)).toBe(false)

    const other = makeKey(files, `impostor-${Date.now()}`)
    write('known_hosts', `[127.0.0.1]:${sshd.port} ${other.publicKey}`, 0o644)
    const changed = await runCli(['list', '--host', 'lax', '--target', target], { as: person })
    expect(changed.code).toBe(3)
    expect(changed.stderr).toMatch(/CHANGED/)

    // Known hosts given explicitly win over the person's known_hosts (their config still names the host).
    const pinned = write('pinned_known_hosts', sshd.knownHosts)
    const withPins = await runCli(
      ['deploy', '--host', 'lax', '--target', target, '--source', src, '--known-hosts', pinned],
      { as: person },
    )
    expect(withPins.stderr).not.toMatch(/error/)
    expect(withPins.code).toBe(0)
    expect(existsSync(`${target}/current/index.html`)).toBe(true)
  })
})

describe('on a terminal', () => {
  it('draws a progress line and colours; NO_COLOR turns the colours off', async () => {
    const target = `${makeTargetRoot(sshd)}/site`
    const big: Record<string, string> = {}
    for (let i = 0; i < 200; i++) big[`f/${i}.txt`] = `${i}`.repeat(20_000)
    const src = newSite(big)
    const inTty = (args: string[], env: Record<string, string> = {}) => {
      // script(1) gives the CLI a pseudo-terminal; argv goes through a shell only here, quoted.
      const r = spawnSync(
        'script',
        ['-qec', [process.execPath, CLI, ...args].map(shQuote).join(' '), '/dev/null'],
        {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...env },
          encoding: 'utf8',
        },
      )
      return r.stdout
    }
    const out = inTty(['deploy', ...ci(target), '--source', src, '--release-id', 't1'])
    expect(out).toMatch(/\r\u001b\[K.*uploading \d+%/)
    expect(out).toMatch(/\u001b\[32m✓/)
    const plain = inTty(['list', ...ci(target)], { NO_COLOR: '1' })
    expect(plain).toMatch(/\* t1 /)
    expect(plain).not.toMatch(/\u001b\[\d+m/)
  })
})
