import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { shAssignments, shQuote } from '../../src/quote.js'
import { tempDir } from './helpers.js'

const dir = tempDir('radunit-quote-')
const canary = path.join(dir, 'canary')

/** Strings a shell would love to interpret; every one must come back byte for byte. */
const HOSTILE: [string, string][] = [
  ['empty', ''],
  ['plain', 'hello'],
  ['space', 'a b  c'],
  ['single quote', "it's"],
  ['only a single quote', "'"],
  ['quote runs', "'''"],
  ['escaped-quote lookalike', "'\\''"],
  ['double quotes', 'say "hi"'],
  ['command substitution', `$(touch ${canary})`],
  ['backticks', `\`touch ${canary}\``],
  ['semicolon', `x; touch ${canary}`],
  ['and-and', `x && touch ${canary}`],
  ['pipe', `x | touch ${canary}`],
  ['redirect', `x > ${canary}`],
  ['background', `touch ${canary} &`],
  ['variable', '$HOME ${PATH} $0 $1 $@ $* $$ $? $!'],
  ['arithmetic', '$((1+1))'],
  ['backslashes', 'a\\b\\\\c\\'],
  ['trailing backslash', 'end\\'],
  ['newline', 'line1\nline2'],
  ['trailing newlines', 'x\n\n'],
  ['leading newline', '\nx'],
  ['carriage return', 'a\r\nb\r'],
  ['tab', 'a\tb'],
  ['escape sequence', '\u001b[31mred\u001b[0m'],
  ['glob', '* ? [a-z] {a,b}'],
  ['tilde', '~ ~root'],
  ['history bang', '!! !$'],
  ['leading dash', '-rf'],
  ['double dash', '--'],
  ['printf format', '%s %d %n %%'],
  ['hash', '# not a comment'],
  ['equals', 'A=B'],
  ['heredoc', '<<EOF\nx\nEOF'],
  ['unicode', 'ünïcödé 网站 🚀'],
  ['ifs', '${IFS}'],
  ['mixed', `'"\`$(touch ${canary})\`"' \\ ; \n`],
  ['long', `'${'x'.repeat(4000)}"$(y)'`.repeat(10)],
]

/** Runs the quoted value through a real `sh -c` and reads the variable back. */
function roundTrip(value: string, shell = 'sh'): string {
  return execFileSync(shell, ['-c', `X=${shQuote(value)}; printf %s "$X"`], { encoding: 'utf8', cwd: dir })
}

describe('shQuote', () => {
  it.each([
    ['', "''"],
    ['abc', "'abc'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$(x)', "'$(x)'"],
    ['a\nb', "'a\nb'"],
  ])('quotes %j as %j', (value, quoted) => {
    expect(shQuote(value)).toBe(quoted)
  })

  it.each(HOSTILE)('%s survives a real sh byte for byte', (_name, value) => {
    expect(roundTrip(value)).toBe(value)
    expect(existsSync(canary)).toBe(false)
  })

  it.each(HOSTILE)('%s survives bash too', (_name, value) => {
    expect(roundTrip(value, 'bash')).toBe(value)
    expect(existsSync(canary)).toBe(false)
  })

  it('keeps a value one word even where the shell splits words', () => {
    const out = execFileSync('sh', ['-c', `set -- ${shQuote('a b\tc\nd *')}; printf '%s|' "$#" "$1"`], {
      encoding: 'utf8',
      cwd: dir,
    })
    expect(out).toBe('1|a b\tc\nd *|')
  })

  it('never created the canary and nothing else in the working directory', () => {
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('shAssignments', () => {
  it('writes NAME=quoted lines in the order given', () => {
    expect(shAssignments({ T: '/srv/www', ID: "it's", N: 5, B: true })).toBe(
      "T='/srv/www'\nID='it'\\''s'\nN='5'\nB='true'",
    )
  })

  it('is empty for no variables', () => {
    expect(shAssignments({})).toBe('')
  })

  it('sets every variable byte for byte when a real sh runs it from stdin (sh -s)', () => {
    const vars: Record<string, string | number> = {}
    HOSTILE.forEach(([, v], i) => {
      vars[`V_${i}`] = v
    })
    vars.NUM = 42
    const names = Object.keys(vars)
    const script = `${shAssignments(vars)}\nprintf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}\n`
    const out = execFileSync('sh', ['-s'], { input: script, encoding: 'utf8', cwd: dir })
    const values = out.split('\0').slice(0, -1)
    expect(values).toEqual(names.map((n) => String(vars[n])))
    expect(existsSync(canary)).toBe(false)
  })

  it.each(['t', 'lower', '1A', 'A-B', 'A B', 'A;touch x', '$(x)', '', 'A\nB', 'PATH=x'])(
    'refuses the variable name %j',
    (name) => {
      expect(() => shAssignments({ [name]: 'v' })).toThrow(/bad shell variable name/)
    },
  )

  it.each(['A', '_', 'A_1', '_X9', 'LOCK_WAIT'])('accepts the variable name %j', (name) => {
    expect(shAssignments({ [name]: 'v' })).toBe(`${name}='v'`)
  })
})
