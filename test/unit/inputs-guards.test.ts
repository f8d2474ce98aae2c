/**
 * Two guards of parseSettings: a filter line must be shaped like an rsync filter rule, and no input
 * but key may hold a private key (it would be echoed by that input's error before being masked).
 */
import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/inputs.js'
import { inputError, inputsWorkspace } from './helpers.js'

const { ws, key, base } = inputsWorkspace('radunit-guards-')

function settings(extra: Record<string, string>) {
  const inputs: Record<string, string> = { ...base, target: '/srv/www', ...extra }
  return parseSettings((n) => inputs[n] ?? '', { GITHUB_WORKSPACE: ws })
}

describe('filter', () => {
  // Every form rsync 3.x accepts must pass (rsync itself checks the details).
  const valid = [
    '- *.log',
    '+ /keep/***',
    'P /uploads/',
    'R /cache/',
    'H .git',
    'S .well-known',
    'exclude node_modules',
    'include,/ /x',
    'hide,! x',
    'protect .env',
    'risk tmp',
    'show public',
    'merge /etc/rsync-rules',
    '. rules.txt',
    'dir-merge /.rsync-filter',
    ':n- .ignore',
    'dir-merge,- .gitignore',
    '-! x',
    '-/ /abs',
    '+_underscore',
    '-C',
    ':C',
    '!',
    'clear',
    '- it\'s "quoted" $(touch x)',
  ]
  it.each(valid)('accepts %j', (rule) => {
    expect(settings({ filter: rule }).filter).toEqual([rule])
  })

  const invalid = ['$(touch x)', '`touch x`', '-*.log', 'junk rule', "'- x'", ';- x', 'x- y', '*.log']
  it.each(invalid)('refuses %j, naming the input and showing a good rule', (rule) => {
    const e = inputError(() => settings({ filter: rule }))
    expect(e.input).toBe('filter')
    expect(e.message).toContain('is not an rsync filter rule')
    expect(e.hint).toMatch(/- \*\.log/)
  })
})

describe('a private key in the wrong input', () => {
  const inputs = ['host', 'user', 'port', 'target', 'release-id', 'link-name', 'shared', 'exclude', 'filter']
  it.each(inputs)('%s: refused without repeating it', (input) => {
    const e = inputError(() => settings({ [input]: key.privateText }))
    expect(e.input).toBe(input)
    expect(e.message).toBe(`Input '${input}': holds a private key`)
    const body = key.privateText.split('\n')[1] as string
    expect(e.toString()).not.toContain(body)
  })

  it('a hook may hold one (it may write a key on the server on purpose)', () => {
    expect(settings({ 'before-switch': `cat > id <<'K'\n${key.privateText}K` }).beforeSwitch).toContain(
      'PRIVATE KEY',
    )
  })
})
