import { InputError } from './errors.js'

export interface HostSpec {
  /** SSH user, or '' to let ssh choose (the runner's user). */
  user: string
  /** Host name, IPv4 or IPv6 address (without brackets). */
  host: string
  port: number
  /** How we name this host to people: user@host:port. */
  label: string
}

const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/
const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/

export function parsePort(input: string, value: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new InputError(
      input,
      `'${value}' is not a port number`,
      'Give a whole number from 1 to 65535, e.g. 22.',
    )
  }
  return Number(value)
}

export function parseUser(input: string, value: string): string {
  if (!USER_RE.test(value)) {
    throw new InputError(
      input,
      `'${value}' is not a valid user name`,
      'Use letters, digits, ".", "_" and "-" only, not starting with "-", e.g. deploy.',
    )
  }
  return value
}

export function formatHost(user: string, host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host
  return `${user ? `${user}@` : ''}${h}${port === 22 ? '' : `:${port}`}`
}

/** Parses one `[user@]host[:port]` (IPv6 in brackets: `[::1]:2222`). */
export function parseHost(input: string, raw: string, defaultUser: string, defaultPort: number): HostSpec {
  const value = raw.trim()
  const example = 'Write [user@]host[:port], e.g. deploy@example.com:2222 or [2001:db8::1]:22.'
  if (value === '') throw new InputError(input, 'a host is empty', example)
  if (value.startsWith('-')) throw new InputError(input, `'${value}' starts with "-"`, example)
  let rest = value
  let user = defaultUser
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    user = parseUser(input, rest.slice(0, at))
    rest = rest.slice(at + 1)
  }
  let host: string
  let port = defaultPort
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0) throw new InputError(input, `'${value}' has "[" without "]"`, example)
    host = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '') {
      if (!after.startsWith(':')) throw new InputError(input, `'${value}' has text after "]"`, example)
      port = parsePort(input, after.slice(1))
    }
    if (!IPV6_RE.test(host) || !host.includes(':')) {
      throw new InputError(input, `'${host}' in brackets is not an IPv6 address`, example)
    }
  } else {
    const colons = rest.split(':').length - 1
    if (colons > 1) {
      throw new InputError(input, `'${value}' looks like an IPv6 address without brackets`, example)
    }
    if (colons === 1) {
      const i = rest.indexOf(':')
      port = parsePort(input, rest.slice(i + 1))
      rest = rest.slice(0, i)
    }
    host = rest
    if (!HOSTNAME_RE.test(host))
      throw new InputError(input, `'${host}' is not a valid host name or address`, example)
  }
  return { user, host, port, label: formatHost(user, host, port) }
}

/** Splits a list input on newlines and commas, dropping blanks and `#` comments. */
export function splitList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
}
