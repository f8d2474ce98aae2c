import { InputError } from './errors.js'

const FIX_PRIVATE =
  'Store the whole private key (the file without .pub, from "-----BEGIN OPENSSH PRIVATE KEY-----" to "-----END …-----") in a secret and pass it as key: ${{ secrets.DEPLOY_KEY }}.'

/**
 * Normalises pasted key text: CRLF and a missing final newline make ssh fail with
 * "error in libcrypto", so we fix those; we explain what cannot be fixed.
 */
export function normalizeKey(value: string): string {
  // Trim every line first: an indented "-----BEGIN" line must still count as the marker.
  const text = value
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .join('\n')
    .trim()
  if (text === '') throw new InputError('key', 'is empty', FIX_PRIVATE)
  if (/^PuTTY-User-Key-File-/m.test(text)) {
    throw new InputError(
      'key',
      'is a PuTTY key (.ppk), which OpenSSH cannot read',
      'Convert it: `puttygen key.ppk -O private-openssh -o id_deploy` (or PuTTYgen → Conversions → Export OpenSSH key), and store that file instead.',
    )
  }
  if (/^(ssh-|ecdsa-|sk-)\S+ AAAA/.test(text)) {
    throw new InputError(
      'key',
      'is a public key (it starts with "ssh-…  AAAA"), not the private key',
      FIX_PRIVATE,
    )
  }
  if (/^---- BEGIN SSH2 PUBLIC KEY ----/.test(text)) {
    throw new InputError('key', 'is a public key in SSH2 format, not the private key', FIX_PRIVATE)
  }
  const begin = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----$/m.exec(text)
  if (!begin || !/^-----END ([A-Z0-9 ]*)PRIVATE KEY-----$/m.test(text)) {
    throw new InputError(
      'key',
      'does not look like a private key (no "-----BEGIN … PRIVATE KEY-----" block)',
      FIX_PRIVATE,
    )
  }
  // Lines pasted with stray indentation break the base64 body; the markers themselves must stay whole.
  return `${text
    .split('\n')
    .map((l) => l.trim())
    .join('\n')}\n`
}

/** Every line of the key, for core.setSecret (a multi-line secret is masked line by line). */
export function secretLines(key: string): string[] {
  return key
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 8 && !l.startsWith('-----'))
}
