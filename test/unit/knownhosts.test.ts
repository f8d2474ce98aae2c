import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  fingerprintCheckScript,
  type KnownHostLine,
  parseKnownHosts,
  renderKnownHosts,
  type TrustedKeys,
} from '../../src/knownhosts.js'
import { generateKey, inputError, tempDir } from './helpers.js'

const dir = tempDir('radunit-kh-')
const ed = generateKey(dir, 'host_ed25519')
const ec = generateKey(dir, 'host_ecdsa', 'ecdsa')
const rsa = generateKey(dir, 'host_rsa', 'rsa', ['-b', '1024'])

/** A real hashed known_hosts line, made by ssh-keygen -H. */
function hashedLine(host: string): string {
  const file = path.join(dir, `kh-${host}`)
  writeFileSync(file, `${host} ${ed.type} ${ed.base64}\n`)
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' })
  return readFileSync(file, 'utf8').trim()
}
const hashed = hashedLine('example.com')
const hashedPattern = hashed.split(' ')[0] as string

/** What `ssh-keygen -lf` prints for a key: `256 SHA256:… comment (ED25519)`. */
const lfLine = execFileSync('ssh-keygen', ['-lf', `${ed.file}.pub`], { encoding: 'utf8' }).trim()

function line(patterns: string[], key = ed, marker = ''): KnownHostLine {
  return { marker, patterns, keyType: key.type, key: key.base64 }
}

describe('parseKnownHosts', () => {
  it('sanity: the generated keys look as expected', () => {
    expect(ed.type).toBe('ssh-ed25519')
    expect(ec.type).toBe('ecdsa-sha2-nistp256')
    expect(ed.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(hashed).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 AAAA/)
    expect(lfLine).toMatch(/^256 SHA256:\S+ host_ed25519@test \(ED25519\)$/)
  })

  it.each<[string, () => string, () => TrustedKeys]>([
    ['an ssh-keyscan line', () => `example.com ${ed.type} ${ed.base64}`, () => t([line(['example.com'])])],
    [
      'an ssh-keyscan -p line',
      () => `[example.com]:2222 ${ed.type} ${ed.base64}`,
      () => t([line(['[example.com]:2222'])]),
    ],
    [
      'several patterns',
      () => `example.com,192.0.2.1,[::1]:2222 ${ec.type} ${ec.base64}`,
      () => t([line(['example.com', '192.0.2.1', '[::1]:2222'], ec)]),
    ],
    ['a hashed line', () => hashed, () => t([line([hashedPattern])])],
    [
      'a line with a comment',
      () => `example.com ${rsa.type} ${rsa.base64} some comment here`,
      () => t([line(['example.com'], rsa)]),
    ],
    [
      'a @cert-authority line',
      () => `@cert-authority *.example.com ${ed.type} ${ed.base64}`,
      () => t([line(['*.example.com'], ed, '@cert-authority')]),
    ],
    ['a @revoked line', () => `@revoked * ${ec.type} ${ec.base64}`, () => t([line(['*'], ec, '@revoked')])],
    ['a bare public key (.pub file)', () => ed.publicLine, () => t([line(['*'])])],
    ['a bare public key without comment', () => `${ec.type} ${ec.base64}`, () => t([line(['*'], ec)])],
    ['a SHA256 fingerprint', () => ed.fingerprint, () => t([], [ed.fingerprint])],
    ['a SHA256 fingerprint with padding', () => `${ed.fingerprint}=`, () => t([], [ed.fingerprint])],
    ['ssh-keygen -lf output', () => lfLine, () => t([], [ed.fingerprint])],
    ['a fingerprint with a label', () => `web1: ${ec.fingerprint}`, () => t([], [ec.fingerprint])],
    ['tab separated fields', () => `example.com\t${ed.type}\t${ed.base64}`, () => t([line(['example.com'])])],
    [
      'comments, blank lines, CRLF and indentation',
      () =>
        `# pinned 2026-11-21\r\n\r\n   example.com ${ed.type} ${ed.base64}  \r\n  # old\r\n${ec.fingerprint}\r\n`,
      () => t([line(['example.com'])], [ec.fingerprint]),
    ],
    ['nothing at all', () => '', () => t([])],
    ['only comments', () => '# nothing yet\n\n   \n', () => t([])],
  ])('accepts %s', (_name, value, expected) => {
    expect(parseKnownHosts('known-hosts', value())).toEqual(expected())
  })

  it.each([
    'ssh-ed25519',
    'ssh-rsa',
    'ssh-dss',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'sk-ssh-ed25519@openssh.com',
    'sk-ecdsa-sha2-nistp256@openssh.com',
    'ssh-ed25519-cert-v01@openssh.com',
  ])('knows the key type %s', (type) => {
    expect(parseKnownHosts('known-hosts', `h ${type} ${ed.base64}`).lines[0]?.keyType).toBe(type)
  })

  it('keeps the lines and fingerprints in order', () => {
    const trusted = parseKnownHosts(
      'known-hosts',
      [ed.fingerprint, `a ${ed.type} ${ed.base64}`, ec.fingerprint, `b ${ec.type} ${ec.base64}`].join('\n'),
    )
    expect(trusted.fingerprints).toEqual([ed.fingerprint, ec.fingerprint])
    expect(trusted.lines.map((l) => l.patterns[0])).toEqual(['a', 'b'])
  })

  const MD5 = 'd4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e'
  it.each([
    `MD5:${MD5}`,
    MD5,
    `2048 MD5:${MD5} root@host (RSA)`,
    `256 ${MD5.toUpperCase()} root@host (ED25519)`,
  ])('refuses the MD5 fingerprint %j and asks for the SHA256 one', (value) => {
    const err = inputError(() => parseKnownHosts('known-hosts', `# pinned\n${value}`))
    expect(err.input).toBe('known-hosts')
    expect(err.message).toBe("Input 'known-hosts': line 2 is an MD5 fingerprint")
    expect(err.hint).toMatch(/^Give the SHA256 one instead\. Paste the output of `ssh-keyscan/)
  })

  it.each([
    ['a word', 'hello'],
    ['two words', 'hello world'],
    ['a host without key', 'example.com'],
    ['a host and type only', 'example.com ssh-ed25519'],
    ['an unknown key type', () => `example.com ssh-foo ${ed.base64}`],
    ['a key that is not base64', () => `example.com ssh-ed25519 ${ed.base64.slice(0, 60)}!!!`],
    ['a truncated key', 'example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5'],
    ['a short SHA256 fingerprint', 'SHA256:abc'],
    ['a private key', '-----BEGIN OPENSSH PRIVATE KEY-----'],
    ['a shell command', '; rm -rf /'],
    ['a command substitution', () => `$(touch /tmp/x) ${ed.type} ${ed.base64}x!`],
  ])('refuses %s, naming the input and the line', (_name, value) => {
    const v = typeof value === 'function' ? value() : value
    const err = inputError(() => parseKnownHosts('known-hosts', `\n${v}`))
    expect(err.input).toBe('known-hosts')
    expect(err.message).toBe(
      "Input 'known-hosts': line 2 is neither a known_hosts line nor a SHA256 fingerprint",
    )
    expect(err.hint).toMatch(/ssh-keyscan -p PORT HOST.*SHA256:/)
  })

  it('refuses an unknown marker', () => {
    const err = inputError(() =>
      parseKnownHosts('known-hosts', `@trusted example.com ${ed.type} ${ed.base64}`),
    )
    expect(err.input).toBe('known-hosts')
    expect(err.message).toBe("Input 'known-hosts': line 1 has an unknown marker @trusted")
  })

  it.each([
    ['an escape sequence', `example.com ${ed.type} ${ed.base64}\u001b[2J`],
    ['a NUL byte', `example.com\u0000 ${ed.type} ${ed.base64}`],
    ['a vertical tab', `example.com\u000b${ed.type} ${ed.base64}`],
    ['a DEL', `${ed.fingerprint}\u007f`],
  ])('refuses a line with %s', (_name, value) => {
    const err = inputError(() => parseKnownHosts('known-hosts', value))
    expect(err.input).toBe('known-hosts')
    expect(err.message).toBe("Input 'known-hosts': line 1 contains control characters")
  })

  it('names whatever input it was given', () => {
    expect(inputError(() => parseKnownHosts('jump-known-hosts', 'nonsense')).input).toBe('jump-known-hosts')
  })
})

function t(lines: KnownHostLine[], fingerprints: string[] = []): TrustedKeys {
  return { lines, fingerprints }
}

describe('renderKnownHosts', () => {
  const K = `${ed.type} ${ed.base64}`
  it.each<[string, KnownHostLine[], number[], string]>([
    ['port 22 only: as written', [line(['example.com'])], [22], `example.com ${K}\n`],
    ['no ports at all', [line(['example.com'])], [], `example.com ${K}\n`],
    ['one other port', [line(['example.com'])], [2222], `example.com,[example.com]:2222 ${K}\n`],
    [
      'every non-22 port, once each, in order',
      [line(['example.com'])],
      [22, 2222, 2200, 2222, 22],
      `example.com,[example.com]:2222,[example.com]:2200 ${K}\n`,
    ],
    [
      'several patterns',
      [line(['a.example', '192.0.2.1', '::1'])],
      [2222],
      `a.example,[a.example]:2222,192.0.2.1,[192.0.2.1]:2222,::1,[::1]:2222 ${K}\n`,
    ],
    ['bracketed patterns unchanged', [line(['[example.com]:2200'])], [2222], `[example.com]:2200 ${K}\n`],
    [
      'negated patterns unchanged',
      [line(['*.example.com', '!bad.example.com'])],
      [2222],
      `*.example.com,[*.example.com]:2222,!bad.example.com ${K}\n`,
    ],
    ['a bare key', [line(['*'])], [2222], `*,[*]:2222 ${K}\n`],
    [
      'markers kept',
      [line(['*.example.com'], ed, '@cert-authority')],
      [22],
      `@cert-authority *.example.com ${K}\n`,
    ],
    ['no lines', [], [2222], ''],
  ])('%s', (_name, lines, ports, expected) => {
    expect(renderKnownHosts(t(lines), ports)).toBe(expected)
  })

  it('leaves hashed patterns unchanged', () => {
    expect(renderKnownHosts(parseKnownHosts('known-hosts', hashed), [2222])).toBe(`${hashed}\n`)
  })

  it('does not write fingerprints into the file', () => {
    expect(renderKnownHosts(t([], [ed.fingerprint]), [22])).toBe('')
  })

  it('writes a file ssh finds the host in, under both names (real ssh-keygen -F)', () => {
    const trusted = parseKnownHosts(
      'known-hosts',
      [`example.com ${K}`, hashedLine('other.example')].join('\n'),
    )
    const file = path.join(dir, 'rendered')
    writeFileSync(file, renderKnownHosts(trusted, [22, 2222]))
    const find = (name: string) => spawnSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' })
    for (const name of ['example.com', '[example.com]:2222', 'other.example']) {
      const r = find(name)
      expect(r.status, name).toBe(0)
      expect(r.stdout).toContain(ed.base64)
    }
    for (const name of ['[example.com]:2200', 'nowhere.example', '[other.example]:2222']) {
      expect(find(name).status, name).not.toBe(0)
    }
  })
})

describe('fingerprintCheckScript', () => {
  const fpFile = path.join(dir, 'pinned fingerprints')
  writeFileSync(fpFile, `${ec.fingerprint}\n${ed.fingerprint}\n`)
  const script = path.join(dir, 'hostkey-check')
  writeFileSync(script, fingerprintCheckScript(fpFile), { mode: 0o700 })

  const check = (...args: string[]) => spawnSync('sh', [script, ...args], { encoding: 'utf8' })

  it('answers a pinned fingerprint with a known_hosts line for the name looked up', () => {
    const r = check(ed.fingerprint, ed.type, ed.base64, '[example.com]:2222')
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(`[example.com]:2222 ${ed.type} ${ed.base64}\n`)
    expect(r.stderr).toBe('')
  })

  it('matches a fingerprint given with base64 padding', () => {
    expect(check(`${ec.fingerprint}=`, ec.type, ec.base64, 'h').stdout).toBe(`h ${ec.type} ${ec.base64}\n`)
  })

  it.each<[string, string[]]>([
    ['an unpinned fingerprint', [rsa.fingerprint, rsa.type, rsa.base64, 'example.com']],
    ['a prefix of a pinned one', [ed.fingerprint.slice(0, -1), ed.type, ed.base64, 'example.com']],
    ['a pinned one plus more', [`${ed.fingerprint}A`, ed.type, ed.base64, 'example.com']],
    ['a regex that would match anything', ['SHA256:.*', ed.type, ed.base64, 'example.com']],
    ['empty arguments', ['', '', '', '']],
    ['an empty key', [ed.fingerprint, ed.type, '', 'example.com']],
    ['no arguments', []],
  ])('prints nothing and exits 0 for %s', (_name, args) => {
    const r = check(...args)
    expect(r.status).toBe(0)
    expect(r.stdout).toBe('')
  })

  it('embeds the fingerprint file path', () => {
    expect(fingerprintCheckScript('/tmp/rad-x/fingerprints')).toContain(
      'grep -qxF -- "$fp" \'/tmp/rad-x/fingerprints\'',
    )
  })

  it('passes sh -n', () => {
    expect(spawnSync('sh', ['-n', script]).status).toBe(0)
  })
})
