import { describe, expect, it } from 'vitest'
import { formatHost, type HostSpec, parseHost, parsePort, parseUser, splitList } from '../../src/hosts.js'
import { inputError } from './helpers.js'

const HOST = /Write \[user@\]host\[:port\], e\.g\. deploy@example\.com:2222 or \[2001:db8::1\]:22\./
const PORT = /whole number from 1 to 65535/
const USER = /not starting with "-", e\.g\. deploy\./

describe('parseHost', () => {
  it.each<[string, string, number, HostSpec]>([
    ['example.com', '', 22, { user: '', host: 'example.com', port: 22, label: 'example.com' }],
    [
      'deploy@example.com',
      '',
      22,
      { user: 'deploy', host: 'example.com', port: 22, label: 'deploy@example.com' },
    ],
    [
      'example.com',
      'www',
      2222,
      { user: 'www', host: 'example.com', port: 2222, label: 'www@example.com:2222' },
    ],
    [
      'root@example.com:2200',
      'www',
      2222,
      { user: 'root', host: 'example.com', port: 2200, label: 'root@example.com:2200' },
    ],
    ['example.com:22', '', 2222, { user: '', host: 'example.com', port: 22, label: 'example.com' }],
    [
      '  web-1.example.com  ',
      '',
      22,
      { user: '', host: 'web-1.example.com', port: 22, label: 'web-1.example.com' },
    ],
    ['example.com.', '', 22, { user: '', host: 'example.com.', port: 22, label: 'example.com.' }],
    ['localhost', '', 22, { user: '', host: 'localhost', port: 22, label: 'localhost' }],
    ['my_host', '', 22, { user: '', host: 'my_host', port: 22, label: 'my_host' }],
    ['192.0.2.10:65535', '', 22, { user: '', host: '192.0.2.10', port: 65535, label: '192.0.2.10:65535' }],
    ['[::1]', '', 22, { user: '', host: '::1', port: 22, label: '[::1]' }],
    ['[::1]:2222', '', 22, { user: '', host: '::1', port: 2222, label: '[::1]:2222' }],
    [
      'deploy@[2001:db8::1]:2200',
      '',
      22,
      { user: 'deploy', host: '2001:db8::1', port: 2200, label: 'deploy@[2001:db8::1]:2200' },
    ],
    ['[fe80::1%eth0]', '', 22, { user: '', host: 'fe80::1%eth0', port: 22, label: '[fe80::1%eth0]' }],
    [
      '[::ffff:192.0.2.1]',
      '',
      22,
      { user: '', host: '::ffff:192.0.2.1', port: 22, label: '[::ffff:192.0.2.1]' },
    ],
    ['[::1]', '', 2222, { user: '', host: '::1', port: 2222, label: '[::1]:2222' }],
    ['a@b.example', 'ignored', 22, { user: 'a', host: 'b.example', port: 22, label: 'a@b.example' }],
    ['example.com:0022', '', 22, { user: '', host: 'example.com', port: 22, label: 'example.com' }],
  ])('parses %j (default user %j, port %j)', (raw, user, port, expected) => {
    expect(parseHost('host', raw, user, port)).toEqual(expected)
  })

  it.each<[string, RegExp, RegExp]>([
    ['', /a host is empty/, HOST],
    ['   ', /a host is empty/, HOST],
    ['-oProxyCommand=touch /tmp/x', /starts with "-"/, HOST],
    ['-J', /starts with "-"/, HOST],
    ['::1', /IPv6 address without brackets/, HOST],
    ['2001:db8::1', /IPv6 address without brackets/, HOST],
    ['2001:db8::1:22', /IPv6 address without brackets/, HOST],
    ['fe80::1%eth0', /IPv6 address without brackets/, HOST],
    ['[::1', /"\[" without "\]"/, HOST],
    ['[::1]2222', /text after "\]"/, HOST],
    ['[::1]:', /not a port number/, PORT],
    ['[::1]:0', /not a port number/, PORT],
    ['[::1]:65536', /not a port number/, PORT],
    ['[example.com]:22', /not an IPv6 address/, HOST],
    ['[]', /not an IPv6 address/, HOST],
    ['[1.2.3.4]', /not an IPv6 address/, HOST],
    ['[fe80::1%eth0;rm]', /not an IPv6 address/, HOST],
    ['[::1; rm -rf /]', /not an IPv6 address/, HOST],
    ['example.com:', /not a port number/, PORT],
    ['example.com:ssh', /not a port number/, PORT],
    ['example.com:-1', /not a port number/, PORT],
    ['example.com:123456', /not a port number/, PORT],
    ['; rm -rf /', /not a valid host name/, HOST],
    ['example.com; rm -rf /', /not a valid host name/, HOST],
    ['$(touch /tmp/x)', /not a valid host name/, HOST],
    ['`touch /tmp/x`', /not a valid host name/, HOST],
    ["ex'ample.com", /not a valid host name/, HOST],
    ['ex"ample.com', /not a valid host name/, HOST],
    ['exa mple.com', /not a valid host name/, HOST],
    ['example.com\nother', /not a valid host name/, HOST],
    ['../etc', /not a valid host name/, HOST],
    ['host..example.com', /not a valid host name/, HOST],
    ['.example.com', /not a valid host name/, HOST],
    ['deploy@-oProxyCommand=x', /not a valid host name/, HOST],
    ['deploy@', /not a valid host name/, HOST],
    [`${'a'.repeat(64)}.com`, /not a valid host name/, HOST],
    [`${'a.'.repeat(126)}ab`, /not a valid host name/, HOST],
    ['@example.com', /not a valid user name/, USER],
    ['-@example.com', /starts with "-"/, HOST],
    ['a b@example.com', /not a valid user name/, USER],
    ['a@b@example.com', /not a valid user name/, USER],
    ['$(id)@example.com', /not a valid user name/, USER],
    ['.hidden@example.com', /not a valid user name/, USER],
  ])('refuses %j naming the input and saying what is wanted', (raw, problem, hint) => {
    const err = inputError(() => parseHost('jump-host', raw, '', 22))
    expect(err.input).toBe('jump-host')
    expect(err.message).toMatch(/^Input 'jump-host': /)
    expect(err.message).toMatch(problem)
    expect(err.code).toBe('bad-input')
    expect(err.hint).toMatch(hint)
  })

  it('accepts the longest legal names', () => {
    const label63 = `${'a'.repeat(63)}.com`
    expect(parseHost('host', label63, '', 22).host).toBe(label63)
    const name253 = `${'a.'.repeat(126)}a`
    expect(name253).toHaveLength(253)
    expect(parseHost('host', name253, '', 22).host).toBe(name253)
  })
})

describe('parsePort / parseUser', () => {
  it.each([
    ['1', 1],
    ['22', 22],
    ['2222', 2222],
    ['65535', 65535],
    ['00022', 22],
  ])('port %j is %d', (v, n) => {
    expect(parsePort('port', v)).toBe(n)
  })

  it.each([
    '0',
    '65536',
    '99999',
    '123456',
    '-1',
    '+22',
    '22.0',
    '0x16',
    '1e3',
    '2 2',
    ' 22',
    '22; rm',
    '',
    '２２',
  ])('port %j is refused', (v) => {
    const err = inputError(() => parsePort('port', v))
    expect(err.input).toBe('port')
    expect(err.hint).toBe('Give a whole number from 1 to 65535, e.g. 22.')
  })

  it.each(['deploy', 'www-data', '_svc', 'a', 'User.Name_1', 'a'.repeat(64)])('user %j is accepted', (u) => {
    expect(parseUser('user', u)).toBe(u)
  })

  it.each([
    '',
    '-oProxyCommand=x',
    '-',
    '.x',
    'a b',
    'a@b',
    'a;b',
    '$(id)',
    '`id`',
    "o'neil",
    'a"b',
    'a\nb',
    'a/b',
    'a'.repeat(65),
    'ünï',
  ])('user %j is refused', (u) => {
    const err = inputError(() => parseUser('user', u))
    expect(err.input).toBe('user')
    expect(err.message).toContain('is not a valid user name')
    expect(err.hint).toMatch(/e\.g\. deploy/)
  })
})

describe('formatHost', () => {
  it.each([
    ['', 'example.com', 22, 'example.com'],
    ['deploy', 'example.com', 22, 'deploy@example.com'],
    ['deploy', 'example.com', 2222, 'deploy@example.com:2222'],
    ['', 'example.com', 2222, 'example.com:2222'],
    ['', '::1', 22, '[::1]'],
    ['', '::1', 2222, '[::1]:2222'],
    ['root', 'fe80::1%eth0', 22, 'root@[fe80::1%eth0]'],
  ])('(%j, %j, %d) is %j', (user, host, port, label) => {
    expect(formatHost(user, host, port)).toBe(label)
  })

  it.each([
    'example.com',
    'deploy@example.com:2222',
    '[::1]:2222',
    'deploy@[2001:db8::1]',
    '[fe80::1%eth0]:22',
  ])('formatHost(parseHost(%j)) parses back to the same spec', (raw) => {
    const spec = parseHost('host', raw, '', 22)
    expect(parseHost('host', spec.label, '', 22)).toEqual(spec)
  })
})

describe('splitList', () => {
  it.each<[string, string[]]>([
    ['', []],
    ['   \n\n  ', []],
    ['a', ['a']],
    ['a,b', ['a', 'b']],
    ['a, b ,c', ['a', 'b', 'c']],
    ['a\nb\n', ['a', 'b']],
    ['a,\n,b', ['a', 'b']],
    ['# web servers\nweb1\n  # web2\nweb3', ['web1', 'web3']],
    ['[::1]:2222,deploy@[2001:db8::1]', ['[::1]:2222', 'deploy@[2001:db8::1]']],
    ['a\r\nb', ['a', 'b']],
  ])('%j → %j', (value, list) => {
    expect(splitList(value)).toEqual(list)
  })
})
