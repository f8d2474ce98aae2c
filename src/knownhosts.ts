import { InputError } from './errors.js'

/** What the user trusts: known_hosts lines and/or SHA256 fingerprints of host keys. */
export interface TrustedKeys {
  lines: KnownHostLine[]
  /** `SHA256:<base64 without padding>` */
  fingerprints: string[]
}

export interface KnownHostLine {
  marker: string
  /** Host patterns as written, or ['*'] for a bare public key line. */
  patterns: string[]
  keyType: string
  key: string
}

const KEY_TYPE_RE =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/
const FINGERPRINT_RE = /SHA256:([A-Za-z0-9+/]{43})=?/

const HOW =
  'Paste the output of `ssh-keyscan -p PORT HOST` (lines like "host ssh-ed25519 AAAA…"), or fingerprints like "SHA256:…" from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`, one per line.'

export function parseKnownHosts(input: string, value: string): TrustedKeys {
  const out: TrustedKeys = { lines: [], fingerprints: [] }
  value
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) return
      const where = `line ${i + 1}`
      if (/[\u0000-\u001f\u007f]/.test(line.replace(/\t/g, ' '))) {
        throw new InputError(input, `${where} contains control characters`, HOW)
      }
      const fp = FINGERPRINT_RE.exec(line)
      if (fp && !/^(@\S+\s+)?\S+\s+\S+\s+AAAA/.test(line)) {
        out.fingerprints.push(`SHA256:${fp[1]}`)
        return
      }
      if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}/i.test(line.split(/\s+/)[1] ?? line)) {
        throw new InputError(input, `${where} is an MD5 fingerprint`, `Give the SHA256 one instead. ${HOW}`)
      }
      const fields = line.split(/\s+/)
      let marker = ''
      if (fields[0]?.startsWith('@')) {
        marker = fields.shift() ?? ''
        if (marker !== '@cert-authority' && marker !== '@revoked') {
          throw new InputError(input, `${where} has an unknown marker ${marker}`, HOW)
        }
      }
      let patterns: string[]
      if (fields[0] !== undefined && KEY_TYPE_RE.test(fields[0])) {
        patterns = ['*'] // a bare public key (e.g. the server's ssh_host_ed25519_key.pub): trust it for every host
      } else {
        patterns = (fields.shift() ?? '').split(',')
      }
      const keyType = fields[0] ?? ''
      const key = fields[1] ?? ''
      if (!KEY_TYPE_RE.test(keyType) || !BASE64_RE.test(key) || key.length < 60) {
        throw new InputError(input, `${where} is neither a known_hosts line nor a SHA256 fingerprint`, HOW)
      }
      out.lines.push({ marker, patterns, keyType, key })
    })
  return out
}

/**
 * The known_hosts file we write. ssh looks a non-22 port up as `[host]:port`, but people paste
 * `host key` lines (or ssh-keyscan with -p prints `[host]:port`); so each plain pattern is also
 * written with every port this deploy uses, and either form matches.
 */
export function renderKnownHosts(trusted: TrustedKeys, ports: number[]): string {
  const extraPorts = [...new Set(ports)].filter((p) => p !== 22)
  return trusted.lines
    .map(({ marker, patterns, keyType, key }) => {
      const all = new Set<string>()
      for (const p of patterns) {
        all.add(p)
        if (p.startsWith('|') || p.startsWith('[') || p.startsWith('!')) continue
        for (const port of extraPorts) all.add(`[${p}]:${port}`)
      }
      return [marker, [...all].join(','), keyType, key].filter(Boolean).join(' ')
    })
    .map((l) => `${l}\n`)
    .join('')
}

/**
 * ssh runs this (KnownHostsCommand) with the offered key's fingerprint, type, key and the name it
 * looks up; when the fingerprint is one the user pinned, it answers with a known_hosts line for it.
 * It must exit 0 even when it has nothing to say, or ssh drops the connection.
 */
export function fingerprintCheckScript(fingerprintFile: string): string {
  return `#!/bin/sh
# $1=%f fingerprint  $2=%t key type  $3=%K base64 key  $4=%H name looked up
[ -n "$1" ] && [ -n "$3" ] || exit 0
fp=$(printf '%s' "$1" | sed 's/=*$//')
if grep -qxF -- "$fp" '${fingerprintFile}'; then
  printf '%s %s %s\\n' "$4" "$2" "$3"
fi
exit 0
`
}
