/**
 * A hostile server, end to end through the bundles (real sshd, real rsync): what it sends (hook
 * output, a crafted .deploy/log, a multi-line owner.json, a login shell's words) never reaches the
 * runner's stdout as a workflow command or raw escape sequences, never forges a reply, never hides
 * the history nor changes what rollback and prune choose; a very long line is read in linear time;
 * a login shell that ends the session is named with its own words and the fix.
 */
import { spawn } from 'node:child_process'
import { chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { CLI, cliConnection, outputOf } from '../support/cli.js'
import { expectOk } from '../support/expect.js'
import { ensureUser, errorText, linkTarget, listDir } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const NOLOGIN_USER = 'radnologin'
const EXIT_USER = 'radexit'

// Before the sshd starts (hooks run in order): dedicated users, as radtest's shell and dotfiles are
// shared by every test and never changed here.
beforeAll(() => {
  ensureUser(NOLOGIN_USER, '/usr/sbin/nologin')
  const exitUser = ensureUser(EXIT_USER, '/bin/bash')
  writeFileSync(`${exitUser.home}/.bashrc`, '# ends every non-interactive session\n[ -z "$PS1" ] && exit\n')
  chownSync(`${exitUser.home}/.bashrc`, exitUser.uid, exitUser.gid)
})
const suite = useSshd({ extraUsers: [NOLOGIN_USER, EXIT_USER] })
const { sshd, tmp, newTarget } = suite

const site = () => suite.sourceDir({ 'index.html': '<h1>hi</h1>\n' })

/** The bundle deploying a small site to target, with `inputs` added. */
const deploy = (target: string, inputs: Record<string, string>) => suite.deploy(target, site(), inputs)

/**
 * What the hostile hook prints: workflow commands, escape sequences, a CR that starts a new runner
 * line, a one-byte C1 CSI. Written as printf escapes (\ooo): the hook's text is an input, and inputs
 * turn a CR into a newline.
 */
const HOSTILE_FORMATS = [
  '::add-mask::0123456789abcdef',
  '::error::pwned-error',
  '::set-output name=release-id::pwned',
  '::stop-commands::x',
  '::warning::pwned-warning',
  'title \\033]0;pwned-title\\007 clear \\033[2J\\033[H red \\033[31mred',
  'ok\\r::error::pwned-by-cr',
  '\\302\\2332J c1-csi',
]
const HOOK = HOSTILE_FORMATS.map((f) => `printf '${f}\\n' >&2`).join('; ')

/**
 * Lines of the runner's stdout that it would read as a workflow command (it trims leading white
 * space and ends lines at CR or LF), other than our own groups and our stop-commands fences.
 */
function workflowCommands(stdout: string): string[] {
  const fences = new Set<string>()
  const bad: string[] = []
  for (const raw of stdout.split(/\r\n|\r|\n/)) {
    const l = raw.trimStart()
    if (!l.startsWith('::')) continue
    const open = /^::stop-commands::([0-9a-f]{32})$/.exec(l)
    if (open) {
      fences.add(open[1] as string)
      continue
    }
    const close = /^::([0-9a-f]{32})::$/.exec(l)
    if (close && fences.has(close[1] as string)) continue
    if (/^::(group::|endgroup::$)/.test(l)) continue
    // Ours: the key's lines masked (core.setSecret).
    if (l.startsWith('::add-mask::') && l.length > 20 && sshd.client.privateKey.includes(l.slice(12)))
      continue
    bad.push(l)
  }
  return bad
}

/** A release tree written by hand (as radtest), with the log as given. */
function seedTarget(target: string, ids: string[], log: string): void {
  const { uid, gid } = sshd.user
  for (const d of [target, `${target}/releases`, `${target}/.deploy`, `${target}/.deploy/incoming`]) {
    mkdirSync(d, { recursive: true })
    chownSync(d, uid, gid)
  }
  for (const id of ids) {
    mkdirSync(`${target}/releases/${id}`)
    writeFileSync(`${target}/releases/${id}/index.html`, `${id}\n`)
    chownSync(`${target}/releases/${id}`, uid, gid)
    chownSync(`${target}/releases/${id}/index.html`, uid, gid)
  }
  symlinkSync(`releases/${ids.at(-1)}`, `${target}/current`)
  writeFileSync(`${target}/.deploy/log`, log)
  chownSync(`${target}/.deploy/log`, uid, gid)
}

const entry = (release: string, extra: Record<string, string> = {}) =>
  JSON.stringify({ release, event: 'deploy', time: `2026-01-0${release.slice(1)}T00:00:00Z`, ...extra })

describe('hook output from the server', () => {
  it('reaches the runner escaped and fenced: no workflow command, no raw escape, no CR; a 40 MB line is read in linear time', async () => {
    const target = newTarget()
    // 40 MB without a newline: the old splitter re-joined and re-split it per 64 KiB chunk (20 MB
    // took 36 s end to end, 40 MB some 200 s of splitting alone).
    const long = `head -c 40000000 /dev/zero | tr '\\000' x >&2; echo ' end-of-long-line' >&2`
    const run = await deploy(target, {
      'release-id': 'r1',
      'before-switch': `${HOOK}; ${long}`,
      'after-switch': HOOK,
      timeout: '60',
    })
    expectOk(run)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(run.outputs['release-id']).toBe('r1')
    expect(workflowCommands(run.stdout)).toEqual([])
    expect(run.stdout).not.toMatch(/[\u001b\r\u0007\u009b]/)
    // Shown, as text, escaped.
    expect(run.stdout).toContain('| ::error::pwned-error')
    expect(run.stdout).toContain('| title \\e]0;pwned-title\\x07 clear \\e[2J\\e[H red \\e[31mred')
    expect(run.stdout).toContain('| ok\\r::error::pwned-by-cr')
    // The long line: its start, cut, with how much was cut.
    expect(run.stdout).toMatch(/\| x{4096}… \(39995921 more characters\)/)
    expect(run.durationMs).toBeLessThan(55_000)
  })

  it('a failing hook: its output in the error is escaped too', async () => {
    const target = newTarget()
    const run = await deploy(target, { 'release-id': 'r1', 'before-switch': `${HOOK}; exit 7` })
    expect(run.code).toBe(1)
    expect(errorText(run)).toContain('before-switch exited with status 7')
    expect(errorText(run)).toContain('| title \\e]0;pwned-title\\x07')
    expect(workflowCommands(run.stdout).filter((l) => !l.startsWith('::error::'))).toEqual([])
    expect(run.stdout).not.toMatch(/[\u001b\u0007\u009b]/)
  })

  it('the CLI on a terminal shows it escaped', async () => {
    const target = newTarget()
    const argv = [
      process.execPath,
      CLI,
      'deploy',
      ...cliConnection(sshd, tmp('radcli-')),
      '--target',
      target,
      '--source',
      site(),
      '--release-id',
      'r1',
      '--before-switch',
      `${HOOK}; exit 7`,
      '--no-color',
    ]
    // script(1) gives the CLI a pseudo terminal, as a person's shell would.
    const cmd = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    const out = await outputOf(
      spawn('script', ['-qec', cmd, '/dev/null'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
    expect(out.code).toBe(1)
    // The only escape sequence is our own progress-line eraser (a terminal, so it may draw one).
    const text = out.text.replace(/\r?\u001b\[K/g, '').replace(/\r\n/g, '\n')
    expect(text).not.toMatch(/[\u001b\u0007\u009b\r]/)
    expect(text).toContain('title \\e]0;pwned-title\\x07 clear \\e[2J\\e[H red \\e[31mred')
    expect(text).toContain('ok\\r::error::pwned-by-cr')
    expect(text).toContain('before-switch exited with status 7')
    // No line (the CLI may run on a CI runner too) starts with a workflow command.
    expect(text.split('\n').filter((l) => /^\s*::/.test(l))).toEqual([])
  })
})

describe('a crafted .deploy/log', () => {
  // r1..r4 deployed in that order, r4 live; in between: a NUL byte, a 30 MB line, invalid JSON,
  // ids with ../ and shell syntax, and a ref that would print a workflow command.
  const crafted = () =>
    [
      entry('r1'),
      `{"release":"r9",\u0000"event":"deploy"}`,
      entry('r2', { ref: 'refs/heads/x\n::error::pwned-ref\n@@rad live evil' }),
      `{"release":"r0","event":"deploy","time":"${'x'.repeat(30_000_000)}"}`,
      'not json at all',
      '{"release":"../../etc","event":"deploy","time":"t"}',
      '{"release":"r3;touch /tmp/x","event":"deploy","time":"t"}',
      entry('r3'),
      entry('r4', { actor: 'eve\u001b]0;pwned\u0007' }),
      '',
    ].join('\n')

  it('list keeps the whole history, warns naming the bad lines, prints nothing unescaped', async () => {
    const target = newTarget()
    seedTarget(target, ['r1', 'r2', 'r3', 'r4'], crafted())
    const run = await deploy(target, { command: 'list', timeout: '30' })
    expectOk(run)
    const releases = JSON.parse(run.outputs.releases ?? '[]') as {
      id: string
      deployedAt: string
      current: boolean
      ref: string
    }[]
    expect(releases.map((r) => r.id)).toEqual(['r4', 'r3', 'r2', 'r1'])
    expect(releases.every((r) => r.deployedAt !== '')).toBe(true)
    expect(releases.find((r) => r.current)?.id).toBe('r4')
    expect(releases.find((r) => r.id === 'r2')?.ref).toBe(
      'refs/heads/x\\n::error::pwned-ref\\n@@rad live evil',
    )
    expect(run.outputs['release-id']).toBe('r4')
    expect(run.stdout).toMatch(
      /::warning::.*skipped 5 bad lines of \.deploy\/log: line 2 \(not valid JSON\), line 4 \(longer than 16384 bytes\), line 5 \(not valid JSON\), line 6 \(no valid release id\), line 7 \(no valid release id\)/,
    )
    expect(workflowCommands(run.stdout).filter((l) => !l.startsWith('::warning::'))).toEqual([])
    expect(run.stdout).not.toMatch(/[\u001b\u0007\r]/)
    expect(run.durationMs).toBeLessThan(20_000)
  })

  it('rollback and prune choose from the good lines', async () => {
    const target = newTarget()
    seedTarget(target, ['r1', 'r2', 'r3', 'r4'], crafted())
    const back = await deploy(target, { command: 'rollback', timeout: '30' })
    expect(errorText(back)).toBe('')
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
    expect(back.outputs['release-id']).toBe('r3')
    // keep 1: r3 live, r2 its rollback target, r4 bad (newer than what is kept): only r1 goes.
    const prune = await deploy(target, { command: 'prune', 'keep-releases': '1', timeout: '30' })
    expect(errorText(prune)).toBe('')
    expect(listDir(`${target}/releases`)).toEqual(['r2', 'r3', 'r4'])
    expect(prune.stdout).toMatch(/::warning::.*line 2 \(not valid JSON\)/)
  })
})

describe('a multi-line owner.json', () => {
  it('forges no reply: the dry run names the real live release, the owner is shown escaped', async () => {
    const target = newTarget()
    seedTarget(target, ['r1', 'r2'], `${entry('r1')}\n${entry('r2')}\n`)
    mkdirSync(`${target}/.deploy/lock`)
    writeFileSync(
      `${target}/.deploy/lock/owner.json`,
      '{"actor":"eve"} ##[add-mask]current ##[error]pwned-legacy\n@@rad live evil\n@@rad-error locked fake\n::error::pwned-owner\n\u001b[2J\n',
    )
    // A live holder (far expiry, another host name): not stale.
    writeFileSync(
      `${target}/.deploy/lock/holder`,
      `tok elsewhere 0 ${Math.floor(Date.now() / 1000) + 3600}\n`,
    )
    const run = await deploy(target, { 'release-id': 'r3', 'dry-run': 'true' })
    expect(errorText(run)).toBe('')
    expect(run.outputs['previous-release-id']).toBe('r2')
    expect(run.stdout).toContain(
      'locked by {"actor":"eve"} ##\\[add-mask]current ##\\[error]pwned-legacy\\n@@rad live evil\\n@@rad-error locked fake\\n::error::pwned-owner\\n\\e[2J',
    )
    // Nor the runner's older command form, which it finds anywhere in a line.
    expect(run.stdout).not.toMatch(/##\[/)
    expect(workflowCommands(run.stdout).filter((l) => !l.startsWith('::warning::'))).toEqual([])
    expect(run.stdout).not.toMatch(/\u001b/)

    // A deploy that waits for that lock fails with the lock's own message, not the forged one.
    const wait = await deploy(target, { 'release-id': 'r3', timeout: '12' })
    expect(wait.code).toBe(1)
    expect(errorText(wait)).toContain(`another deploy holds the lock on ${target}`)
    expect(errorText(wait)).toContain('pwned-legacy\\n@@rad live evil')
    expect(wait.stdout).not.toMatch(/##\[/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })
})

describe('login shells that end the session', () => {
  const deployAs = (user: string, target: string) =>
    deploy(target, { host: `${user}@127.0.0.1:${sshd.port}` })

  it('nologin: its own words and what to change', async () => {
    const run = await deployAs(NOLOGIN_USER, '/tmp/radnologin-site')
    expect(run.code).toBe(1)
    const err = errorText(run)
    expect(err).toContain(
      `the login shell of user ${NOLOGIN_USER} ended the session before the deploy script ran`,
    )
    expect(err).toContain('This account is currently not available.')
    expect(err).toContain(`sudo usermod -s /bin/sh ${NOLOGIN_USER}`)
  })

  it('exit in ~/.bashrc: says so, with the syntax to fix it', async () => {
    const run = await deployAs(EXIT_USER, '/tmp/radexit-site')
    expect(run.code).toBe(1)
    const err = errorText(run)
    expect(err).toContain(
      `the login shell of user ${EXIT_USER} ended the session before the deploy script ran (exit code 0); it printed nothing`,
    )
    expect(err).toContain('no `exit` for non-interactive shells')
    expect(err).toContain('~/.bashrc: start it with: [ -z "$PS1" ] && return')
  })
})
