/** Small shared helpers for the unit tests: temp dirs, real keys from ssh-keygen, error capture. */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { InputError } from '../../src/errors.js'

const made: string[] = []

/** A fresh temp dir, removed when the test file ends. */
export function tempDir(prefix = 'radunit-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  made.push(dir)
  return dir
}

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
})

export interface GeneratedKey {
  /** Path of the private key file. */
  file: string
  privateText: string
  /** The .pub line: `type base64 comment`. */
  publicLine: string
  type: string
  base64: string
  /** `SHA256:…` (no padding), as ssh-keygen -l prints it. */
  fingerprint: string
}

/** A real key pair made by ssh-keygen (no passphrase unless given). */
export function generateKey(
  dir: string,
  name: string,
  type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519',
  extra: string[] = [],
  passphrase = '',
): GeneratedKey {
  const file = path.join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', `${name}@test`, ...extra, '-f', file])
  const publicLine = readFileSync(`${file}.pub`, 'utf8').trim()
  const [keyType = '', base64 = ''] = publicLine.split(' ')
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
    encoding: 'utf8',
  }).split(' ')[1] as string
  return { file, privateText: readFileSync(file, 'utf8'), publicLine, type: keyType, base64, fingerprint }
}

/** A workspace for parseSettings: a build in public/, a deploy key and a host key, made once per file. */
export interface InputsWorkspace {
  /** GITHUB_WORKSPACE: holds public/index.html and the keys. */
  ws: string
  key: GeneratedKey
  hostKey: GeneratedKey
  /** The inputs of a valid deploy of public/ to /var/www/site on example.com; override what a test varies. */
  base: Record<string, string>
}

export function inputsWorkspace(prefix: string): InputsWorkspace {
  const ws = tempDir(prefix)
  mkdirSync(path.join(ws, 'public'))
  writeFileSync(path.join(ws, 'public/index.html'), 'a build\n')
  const key = generateKey(ws, 'id_deploy')
  const hostKey = generateKey(ws, 'host_key')
  const base = {
    host: 'deploy@example.com',
    key: key.privateText,
    'known-hosts': `example.com ${hostKey.type} ${hostKey.base64}`,
    source: 'public',
    target: '/var/www/site',
  }
  return { ws, key, hostKey, base }
}

/** Runs `fn`, expects an InputError and returns it (anything else fails the test). */
export function inputError(fn: () => unknown): InputError {
  try {
    fn()
  } catch (e) {
    if (e instanceof InputError) return e
    throw e
  }
  throw new Error('expected an InputError, but nothing was thrown')
}

/** busybox's path, or '' where it is not installed. */
export const BUSYBOX = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim()

/** A PATH of busybox applets only: no GNU tool can stand in for a missing busybox feature. */
export function busyboxPath(): string {
  const dir = tempDir('radbb-')
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
  for (const a of list) symlinkSync(BUSYBOX, path.join(dir, a))
  return dir
}
