import { execFileSync, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { normalizeKey, secretLines } from '../../src/key.js'
import { type GeneratedKey, generateKey, inputError, tempDir } from './helpers.js'

const dir = tempDir('radunit-key-')
const ed = generateKey(dir, 'id_ed25519')
const keys: Record<string, GeneratedKey> = {
  'OpenSSH ed25519': ed,
  'OpenSSH ecdsa': generateKey(dir, 'id_ecdsa', 'ecdsa'),
  'PEM RSA (BEGIN RSA PRIVATE KEY)': generateKey(dir, 'id_rsa_pem', 'rsa', ['-b', '1024', '-m', 'PEM']),
  'PEM EC (BEGIN EC PRIVATE KEY)': generateKey(dir, 'id_ec_pem', 'ecdsa', ['-m', 'PEM']),
  'PKCS8 (BEGIN PRIVATE KEY)': generateKey(dir, 'id_pkcs8', 'ecdsa', ['-m', 'PKCS8']),
}

let n = 0
/** Writes key text to a 0600 file and asks the real ssh-keygen for its public key. */
function publicKeyOf(text: string, passphrase = ''): { ok: boolean; pub: string } {
  const file = path.join(dir, `try-${n++}`)
  writeFileSync(file, text, { mode: 0o600 })
  const r = spawnSync('ssh-keygen', ['-y', '-P', passphrase, '-f', file], { encoding: 'utf8' })
  return { ok: r.status === 0, pub: r.stdout.trim().split(' ').slice(0, 2).join(' ') }
}
const pubOf = (k: GeneratedKey) => `${k.type} ${k.base64}`

const MANGLES: [string, (t: string) => string, boolean][] = [
  // name, mangle, whether ssh-keygen itself chokes on the mangled text
  ['CRLF line ends', (t) => t.replace(/\n/g, '\r\n'), true],
  ['no final newline', (t) => t.replace(/\n+$/, ''), true],
  ['indented lines', (t) => t.replace(/^/gm, '    '), true],
  [
    'CRLF, indentation and no final newline',
    (t) => t.replace(/^/gm, '\t ').replace(/\n/g, ' \r\n').trimEnd(),
    true,
  ],
  ['old Mac CR line ends', (t) => t.replace(/\n/g, '\r'), true],
  ['blank lines around it', (t) => `\n\n  \n${t}\n\n\n`, false],
  ['trailing spaces', (t) => t.replace(/\n/g, '   \n'), false],
]

describe('normalizeKey', () => {
  it.each(Object.entries(keys))('leaves a clean %s key as it is, and ssh-keygen reads it', (_name, key) => {
    expect(normalizeKey(key.privateText)).toBe(key.privateText)
    expect(publicKeyOf(normalizeKey(key.privateText))).toEqual({ ok: true, pub: pubOf(key) })
  })

  it.each(MANGLES)('repairs %s so the real ssh-keygen -y accepts the key', (_name, mangle, breaksSsh) => {
    const mangled = mangle(ed.privateText)
    expect(mangled).not.toBe(ed.privateText)
    if (breaksSsh) expect(publicKeyOf(mangled).ok).toBe(false)
    const fixed = normalizeKey(mangled)
    expect(fixed).toBe(ed.privateText)
    expect(publicKeyOf(fixed)).toEqual({ ok: true, pub: pubOf(ed) })
  })

  it.each(Object.entries(keys))('repairs a mangled %s key', (_name, key) => {
    const fixed = normalizeKey(key.privateText.replace(/^/gm, '  ').replace(/\n/g, '\r\n').trimEnd())
    expect(fixed).toBe(key.privateText)
    expect(publicKeyOf(fixed)).toEqual({ ok: true, pub: pubOf(key) })
  })

  it('accepts an encrypted key (the passphrase is given separately)', () => {
    const enc = generateKey(dir, 'id_enc', 'ed25519', ['-a', '1'], 'correct horse')
    const fixed = normalizeKey(enc.privateText.replace(/\n/g, '\r\n').trimEnd())
    expect(fixed).toBe(enc.privateText)
    expect(publicKeyOf(fixed, 'correct horse')).toEqual({ ok: true, pub: pubOf(enc) })
  })

  it('ends with exactly one newline and has no CR or indentation', () => {
    const fixed = normalizeKey(`  ${ed.privateText.replace(/\n/g, '\r\n')}\r\n\r\n`)
    expect(fixed.endsWith('-----\n')).toBe(true)
    expect(fixed).not.toMatch(/\r|^[ \t]|[ \t]$/m)
  })

  const ssh2 = execFileSync('ssh-keygen', ['-e', '-f', `${ed.file}.pub`], { encoding: 'utf8' })
  const PPK = [
    'PuTTY-User-Key-File-3: ssh-ed25519',
    'Encryption: none',
    'Comment: eddsa-key-20261121',
    'Public-Lines: 2',
    'AAAAC3NzaC1lZDI1NTE5AAAAIHtJM7DKWD05Aqbgt8TlLRsO1J65+JieQFssb6Oi',
    'kVKm',
    'Private-Lines: 1',
    'AAAAIBX2ZCzUqzUNGyVGexW1Ws4jtyFjWOJ9YT3HjMfprLZN',
    'Private-MAC: 5e0bcc3f8b5bd6fa5e2d9e9a1c2a5b8f2b0e6a9d0c4f7e1a3b5c7d9e0f1a2b3c',
  ].join('\r\n')

  it.each<[string, string, RegExp, RegExp]>([
    ['empty', '', /is empty/, /BEGIN OPENSSH PRIVATE KEY/],
    ['only whitespace', ' \r\n\t\n ', /is empty/, /BEGIN OPENSSH PRIVATE KEY/],
    ['an OpenSSH public key', ed.publicLine, /is a public key/, /without \.pub/],
    ['an indented public key', `  ${ed.publicLine}\n`, /is a public key/, /without \.pub/],
    ['an ecdsa public key', keys['OpenSSH ecdsa']?.publicLine ?? '', /is a public key/, /without \.pub/],
    ['an SSH2 public key', ssh2, /public key in SSH2 format/, /without \.pub/],
    ['a PuTTY key', PPK, /PuTTY key \(\.ppk\)/, /puttygen key\.ppk -O private-openssh/],
    ['garbage', 'hunter2', /does not look like a private key/, /secrets\.DEPLOY_KEY/],
    [
      'a PEM public key',
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ\n-----END PUBLIC KEY-----\n',
      /does not look/,
      /DEPLOY_KEY/,
    ],
    [
      'a certificate',
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      /does not look/,
      /DEPLOY_KEY/,
    ],
    [
      'a key without its END line',
      ed.privateText.replace(/-----END[^\n]*\n$/, ''),
      /does not look/,
      /DEPLOY_KEY/,
    ],
    [
      'a key without its BEGIN line',
      ed.privateText.replace(/^-----BEGIN[^\n]*\n/, ''),
      /does not look/,
      /DEPLOY_KEY/,
    ],
    [
      'markers without dashes',
      'BEGIN OPENSSH PRIVATE KEY\nAAAA\nEND OPENSSH PRIVATE KEY',
      /does not look/,
      /DEPLOY_KEY/,
    ],
    ['a shell command', '$(touch /tmp/x)', /does not look/, /DEPLOY_KEY/],
  ])('refuses %s, naming the input key', (_name, value, problem, hint) => {
    const err = inputError(() => normalizeKey(value))
    expect(err.input).toBe('key')
    expect(err.message).toMatch(/^Input 'key': /)
    expect(err.message).toMatch(problem)
    expect(err.hint).toMatch(hint)
  })

  it('never repeats the key text in its error', () => {
    const body = ed.privateText.split('\n')[1] as string
    const err = inputError(() => normalizeKey(ed.privateText.replace(/-----END[^\n]*\n$/, '')))
    expect(String(err)).not.toContain(body)
    expect(err.hint).not.toContain(body)
  })
})

describe('secretLines', () => {
  it('lists every body line of a real key and no marker', () => {
    const body = ed.privateText.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))
    expect(body.length).toBeGreaterThan(2)
    expect(secretLines(ed.privateText)).toEqual(body)
  })

  it.each<[string, string, string[]]>([
    ['markers and blanks dropped', '-----BEGIN X-----\nAAAABBBBCCCC\n\n-----END X-----\n', ['AAAABBBBCCCC']],
    ['lines trimmed', '  AAAABBBB  \r\n\tCCCCDDDD\t', ['AAAABBBB', 'CCCCDDDD']],
    ['lines shorter than 8 dropped', 'short\n1234567\n12345678', ['12345678']],
    [
      'PEM headers kept',
      'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0011',
      ['Proc-Type: 4,ENCRYPTED', 'DEK-Info: AES-128-CBC,0011'],
    ],
    ['nothing', '', []],
  ])('%s', (_name, key, lines) => {
    expect(secretLines(key)).toEqual(lines)
  })
})
