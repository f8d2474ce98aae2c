import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loginShellFailure, shellFamily, startupFileHint } from '../../src/hints.js'
import { checkLogLine, logProblemsWarning, parseNumberedLog, rollbackTarget } from '../../src/history.js'
import { all, first, parseReply, renderScript } from '../../src/remote.js'
import { LineSplitter, safeMessage, shownLine, untrusted, untrustedLines } from '../../src/untrusted.js'
import { tempDir } from './helpers.js'

describe('untrusted', () => {
  it('escapes every control character and keeps one line', () => {
    expect(untrusted('a\nb\rc\td\u001b[31me\u0007f\u0000g\u009bh\u2028i\u202ej')).toBe(
      'a\\nb\\rc\\td\\e[31me\\x07f\\x00g\\x9bh\\u2028i\\u202ej',
    )
    expect(untrusted('plain text: ::error:: stays as text')).toBe('plain text: ::error:: stays as text')
  })

  it('cuts a long value and says how much was cut', () => {
    expect(untrusted('x'.repeat(10), 4)).toBe('xxxx… (6 more characters)')
  })

  it('untrustedLines: the last lines, each escaped', () => {
    expect(untrustedLines('a\n\u001b]0;t\u0007\nc\n\n', 2)).toEqual(['\\e]0;t\\x07', 'c'])
  })
})

describe('safeMessage', () => {
  it('keeps our newlines and tabs, escapes the rest, and no line can be a workflow command', () => {
    expect(safeMessage('one\n::add-mask::x\n  ::error::y\tz\rw\u001b[2J')).toBe(
      'one\n\\::add-mask::x\n\\  ::error::y\tz\\rw\\e[2J',
    )
  })

  it("breaks the runner's older `##[command]` form wherever it stands in a line", () => {
    expect(safeMessage('h: locked by ##[add-mask]secret ##[error]x')).toBe(
      'h: locked by ##\\[add-mask]secret ##\\[error]x',
    )
  })
})

describe('LineSplitter', () => {
  const collect = (chunks: string[], max = 8) => {
    const out: [string, number][] = []
    const s = new LineSplitter((l, d) => out.push([l, d]), max)
    for (const c of chunks) s.push(c)
    s.end()
    return out
  }

  it('splits across chunks, keeps empty lines, flushes the last unterminated line', () => {
    expect(collect(['ab', 'c\n\nde', 'f\ng'])).toEqual([
      ['abc', 0],
      ['', 0],
      ['def', 0],
      ['g', 0],
    ])
    expect(collect(['a\n'])).toEqual([['a', 0]])
  })

  it('keeps the first maxLine characters of a long line and counts the rest', () => {
    expect(collect(['0123456', '789abc', 'def\nok\n'])).toEqual([
      ['01234567', 8],
      ['ok', 0],
    ])
    expect(shownLine('ab\u001b', 5)).toBe('ab\\e… (5 more characters)')
  })

  it('is linear: a 200 MB line in 64 KiB chunks takes well under a second or two', () => {
    const chunk = 'x'.repeat(64 * 1024)
    let lines = 0
    let dropped = 0
    const s = new LineSplitter((_l, d) => {
      lines++
      dropped = d
    })
    const started = Date.now()
    for (let i = 0; i < 3200; i++) s.push(chunk)
    s.push('\n')
    const ms = Date.now() - started
    expect(lines).toBe(1)
    expect(dropped).toBe(3200 * 64 * 1024 - 4096)
    expect(ms).toBeLessThan(2000)
  })
})

describe('the log as the server sends it', () => {
  const good = (id: string, extra = {}) =>
    JSON.stringify({ release: id, event: 'deploy', time: 't', ...extra })

  it('checkLogLine refuses what is not an entry, naming why', () => {
    expect(checkLogLine('{"release":')).toBe('not valid JSON')
    expect(checkLogLine('[1]')).toBe('not a JSON object')
    expect(checkLogLine('{"release":"../etc","event":"deploy"}')).toBe('no valid release id')
    expect(checkLogLine('{"release":"a;rm -rf /","event":"deploy"}')).toBe('no valid release id')
    expect(checkLogLine('{"release":"a","event":"boom"}')).toBe('an unknown event')
    expect(checkLogLine('{"release":"a","event":"rollback","from":"$(x)"}')).toBe(
      'an invalid "from" release id',
    )
    expect(checkLogLine('{"release":"a","event":"deploy","ref":5}')).toBe('a "ref" that is not a string')
  })

  it('checkLogLine escapes control characters in text fields and drops unknown fields', () => {
    expect(checkLogLine(good('r1', { ref: 'main\n::error::x\u001b[1m', extra: 'x' }))).toEqual({
      release: 'r1',
      event: 'deploy',
      time: 't',
      ref: 'main\\n::error::x\\e[1m',
    })
  })

  it('parseNumberedLog skips bad lines by number, silently skips blank ones', () => {
    const { entries, problems } = parseNumberedLog(
      [
        '1 ' + good('r1'),
        '2 {"release":"r\\u0001',
        '3 ',
        `4 ${good('r2')}`,
        '6 {"release":"../x","event":"deploy"}',
      ],
      ['5'],
    )
    expect(entries.map((e) => e.release)).toEqual(['r1', 'r2'])
    expect(problems).toEqual([
      { line: 2, why: 'not valid JSON' },
      { line: 5, why: 'longer than 16384 bytes' },
      { line: 6, why: 'no valid release id' },
    ])
    expect(logProblemsWarning(problems)).toBe(
      'skipped 3 bad lines of .deploy/log: line 2 (not valid JSON), line 5 (longer than 16384 bytes), line 6 (no valid release id). The history is read without them.',
    )
    expect(logProblemsWarning([])).toBe('')
  })
})

describe('the reply channel cannot be forged from data, on dash, bash and busybox sh', () => {
  const shells = [['dash'], ['bash'], ['busybox', 'sh']].filter(
    ([c]) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0,
  )
  it.each(shells)('%s', (...shell) => {
    const root = tempDir('radunit-untrusted-')
    const T = `${root}/site`
    mkdirSync(`${T}/releases/r1`, { recursive: true })
    mkdirSync(`${T}/releases/r2`, { recursive: true })
    mkdirSync(`${T}/releases/evil\n@@rad live evil`, { recursive: true })
    mkdirSync(`${T}/.deploy/lock`, { recursive: true })
    spawnSync('ln', ['-s', 'releases/r2', `${T}/current`])
    writeFileSync(
      `${T}/.deploy/lock/owner.json`,
      '{"actor":"x"}\n@@rad live evil\n@@rad-error locked fake\n@@rad ok\n',
    )
    const log = [
      JSON.stringify({ release: 'r1', event: 'deploy', time: 't1' }),
      `{"release":"r1",\u0000"event":"deploy"}`,
      `{"release":"${'x'.repeat(40_000)}"}`,
      'not json @@rad live evil',
      JSON.stringify({ release: 'r2', event: 'deploy', time: 't2', ref: 'x\n@@rad live evil' }),
    ].join('\n')
    writeFileSync(`${T}/.deploy/log`, log) // no newline at the end: the last line counts too
    const script = renderScript('inspect', {
      T,
      LEFT: 600,
      LINK: 'current',
      TOKEN: 't',
      LOCK_WAIT: 0,
      LOCK_TTL: 60,
      LOCK_OWNER: '{}',
      CHECK_DEPLOY: 1,
      TAKE_LOCK: 0,
      ID: 'r3',
    })
    const r = spawnSync(shell[0] as string, [...shell.slice(1), '-s'], { input: script, encoding: 'utf8' })
    const reply = parseReply(r.stdout)
    expect(reply.error).toBeUndefined()
    expect(reply.ok).toBe(true)
    expect(all(reply, 'live')).toEqual(['r2'])
    expect(all(reply, 'release').sort()).toEqual(['evil\\n@@rad live evil', 'r1', 'r2'])
    expect(first(reply, 'locked-by')).toBe(
      '{"actor":"x"}\\n@@rad live evil\\n@@rad-error locked fake\\n@@rad ok',
    )
    expect(reply.other).toEqual([])
    const { entries, problems } = parseNumberedLog(all(reply, 'log'), all(reply, 'log-long'))
    expect(entries.map((e) => e.release)).toEqual(['r1', 'r2'])
    expect(entries[1]?.ref).toBe('x\\n@@rad live evil')
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4])
    expect(problems[1]?.why).toMatch(/longer/)
    expect(rollbackTarget(entries, 'r2', new Set(['r1', 'r2']))).toBe('r1')
  })
})

describe('login shells', () => {
  it('shellFamily', () => {
    expect(
      ['/bin/bash', '/usr/bin/fish', '/bin/tcsh', '/bin/csh', '/bin/dash', '/usr/bin/zsh', ''].map(
        shellFamily,
      ),
    ).toEqual(['bash', 'fish', 'csh', 'csh', 'sh', 'zsh', ''])
  })

  it('startupFileHint speaks the syntax of the shell', () => {
    expect(startupFileHint('/usr/bin/fish', 'prints')).toBe(
      "Make the login shell's startup file print nothing when the shell is not interactive. ~/.config/fish/config.fish: start it with: status is-interactive; or return (or put the rest inside: if status is-interactive … end).",
    )
    const csh = startupFileHint('/bin/tcsh', 'exits')
    expect(csh).toContain(
      '~/.cshrc (or ~/.tcshrc): put what is meant for a terminal inside: if ($?prompt) then … endif',
    )
    expect(csh).not.toContain('PS1')
    expect(startupFileHint('/bin/bash', 'prints')).toContain(
      '~/.bashrc: start it with: [ -z "$PS1" ] && return',
    )
    const unknown = startupFileHint('', 'exits')
    for (const s of ['~/.bashrc', '~/.zshenv', 'config.fish', '~/.cshrc']) expect(unknown).toContain(s)
  })

  it('loginShellFailure relays the words of nologin and says what to change', () => {
    const e = loginShellFailure({
      label: 'deploy@web1',
      user: 'deploy',
      code: 1,
      said: ['This account is currently not available.'],
    })
    expect(e.message).toBe(
      'deploy@web1: the login shell of user deploy ended the session before the deploy script ran (exit code 1); it printed: This account is currently not available..',
    )
    expect(e.hint).toContain('sudo usermod -s /bin/sh deploy')
    const quiet = loginShellFailure({ label: 'h', user: 'u', code: 0, said: [] })
    expect(quiet.message).toContain('(exit code 0); it printed nothing')
    expect(quiet.hint).toContain('no `exit` for non-interactive shells')
  })
})
