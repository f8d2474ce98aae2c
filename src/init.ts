/**
 * `rsync-atomic-deploy init`: a fresh deploy key, the line that authorizes it on the server, the
 * server's host keys with their fingerprints, the gh commands that store both in the repository and
 * the workflow that uses them. The texts are pure functions (unit-tested); the few actions (ssh-keygen,
 * ssh-keyscan, the one ssh call of --install) are small functions below them.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { DeployError } from './errors.js'
import type { HostSpec } from './hosts.js'
import { run } from './proc.js'
import { shAssignments, shQuote } from './quote.js'
import { parseReply } from './remote.js'
import type { Ssh } from './ssh.js'
import { scanOnlyOptions } from './ssh-facts.js'
import { untrusted } from './untrusted.js'

/** A word as a person pastes it into a shell: plain when it can be, else quoted. */
export function shWord(s: string): string {
  return /^[A-Za-z0-9_./@:,=+-]+$/.test(s) ? s : shQuote(s)
}

/** `ssh-ed25519 AAAA… comment` → its key type and base64 blob, or undefined when it is not a key. */
export function publicKeyParts(pub: string): { type: string; blob: string } | undefined {
  const m =
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/.exec(
      pub.trim(),
    )
  return m ? { type: m[1] as string, blob: m[2] as string } : undefined
}

/**
 * The authorized_keys line: `restrict` turns off everything a deploy does not use (pty, port, agent
 * and X11 forwarding, ~/.ssh/rc) and leaves what it does (running `sh -s`, rsync over the session).
 */
export function authorizedKeysLine(pub: string, from = ''): string {
  const p = publicKeyParts(pub)
  if (!p) throw new DeployError(`not an OpenSSH public key: ${untrusted(pub, 80)}`)
  const comment = pub.trim().split(' ').slice(2).join(' ')
  return `${from ? `from="${from}",` : ''}restrict ${p.type} ${p.blob}${comment ? ` ${comment}` : ''}`
}

/** Where the README and `init --gate` put the gate (as root); `init --install --gate` uses ~/.local/bin. */
export const GATE_PATH = '/usr/local/bin/rsync-atomic-deploy-gate'
/** Stands for the gate's path in a line that --install completes on the server (the home is known there). */
export const GATE_PATH_MARK = '@GATE_PATH@'

/**
 * The authorized_keys line of a gated key: its forced command is the gate with the target (gate.ts),
 * so whoever holds the key can deploy there and do nothing else.
 */
export function gatedKeysLine(pub: string, target: string, gatePath = GATE_PATH, from = ''): string {
  if (!/^\/[A-Za-z0-9._/@+-]+$/.test(target)) {
    throw new DeployError(
      `--gate: the target ${untrusted(target, 200)} holds characters the gate does not allow`,
      'A gated target may hold only letters, digits and . _ / @ + - (no spaces or quotes).',
    )
  }
  return `command="${gatePath} ${target}",${authorizedKeysLine(pub, from)}`
}

/** Only well-formed `host type key` lines of an ssh-keyscan reply (the server's text is untrusted). */
export function knownHostsLines(scan: string): string[] {
  const out: string[] = []
  for (const raw of scan.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [host = '', ...key] = line.split(/\s+/)
    if (!/^[A-Za-z0-9.:[\]_-]+$/.test(host) || !publicKeyParts(key.join(' '))) continue
    out.push(`${host} ${key.slice(0, 2).join(' ')}`)
  }
  return [...new Set(out)]
}

/** `ssh -G` output → the host, port, user and ProxyJump ssh would use (aliases of ~/.ssh/config resolved). */
export function resolvedHost(sshG: string): {
  hostname: string
  port: number
  user: string
  proxyJump: string
} {
  const get = (k: string) => new RegExp(`^${k} (.*)$`, 'm').exec(sshG)?.[1]?.trim() ?? ''
  const pj = get('proxyjump')
  return {
    hostname: get('hostname'),
    port: Number(get('port')) || 22,
    user: get('user'),
    proxyJump: pj === 'none' ? '' : pj,
  }
}

export interface WorkflowParams {
  /** As the action's `host` input: user@host[:port]. */
  host: string
  jumpHost: string
  target: string
  source: string
}

/** A YAML scalar that holds any text: a JSON string is a YAML double-quoted string. */
function yamlString(s: string): string {
  return JSON.stringify(s)
}

/** .github/workflows/deploy.yml for this server. */
export function workflowText(p: WorkflowParams): string {
  return `# .github/workflows/deploy.yml, made by rsync-atomic-deploy init
name: deploy
on:
  push:
    tags: ['v*']
  workflow_dispatch:
concurrency:
  group: deploy-production # queue deploys of one target, never cancel one half-way
  cancel-in-progress: false
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: npm ci && npm run build # your build; its output is in ./${p.source}
      - uses: rsync-atomic-deploy/rsync-atomic-deploy@v1
        with:
          host: ${yamlString(p.host)}
${p.jumpHost ? `          jump-host: ${yamlString(p.jumpHost)}\n` : ''}          key: \${{ secrets.DEPLOY_KEY }}
          known-hosts: \${{ vars.DEPLOY_KNOWN_HOSTS }}
          source: ${yamlString(p.source)}
          target: ${yamlString(p.target)}
`
}

/** The gh commands that store the key (a secret) and the host keys (a variable) in the repository. */
export function ghCommands(keyFile: string, knownHostsFile: string): string[] {
  return [
    `gh secret set DEPLOY_KEY < ${shWord(keyFile)}`,
    `gh variable set DEPLOY_KNOWN_HOSTS < ${shWord(knownHostsFile)}`,
  ]
}

/** A fresh ed25519 key with no passphrase (a CI secret cannot type one): private and public text. */
export async function generateKey(
  comment: string,
  keygen = 'ssh-keygen',
): Promise<{ privateKey: string; publicKey: string }> {
  const dir = await mkdtemp('/tmp/rad-init-')
  try {
    const file = path.join(dir, 'key')
    const r = await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
      signal: AbortSignal.timeout(20_000),
    })
    if (r.code !== 0)
      throw new DeployError(`ssh-keygen failed: ${r.stderr.trim()}`, 'Install OpenSSH (ssh-keygen).')
    return { privateKey: await readFile(file, 'utf8'), publicKey: await readFile(`${file}.pub`, 'utf8') }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes a new file, never over an existing one (O_EXCL: no check-then-write race). */
export async function writeNew(file: string, text: string, mode: number): Promise<void> {
  await writeFile(file, text, { mode, flag: 'wx' })
}

/** `ssh-keygen -lf -` of known_hosts lines: `256 SHA256:… host (ED25519)` each. */
export async function fingerprints(lines: string[], keygen = 'ssh-keygen'): Promise<string[]> {
  const r = await run(keygen, ['-lf', '-'], {
    input: `${lines.join('\n')}\n`,
    signal: AbortSignal.timeout(10_000),
  })
  return r.stdout
    .split('\n')
    .map((l) => untrusted(l.trim(), 400))
    .filter(Boolean)
}

/**
 * The server's host keys. Directly: ssh-keyscan (every key type). Through a jump host: ssh itself
 * (ssh-keyscan cannot use one), recording the key it is offered in a scratch file and offering no
 * authentication at all; the jump host is checked by the person's own known_hosts.
 */
export async function scanHostKeys(
  host: { hostname: string; port: number },
  jump: string,
  sshPath: string,
): Promise<string[]> {
  if (!jump) {
    const r = await run(
      sshPath.replace(/ssh$/, 'ssh-keyscan'),
      ['-T', '10', '-p', String(host.port), host.hostname],
      {
        signal: AbortSignal.timeout(30_000),
      },
    )
    return knownHostsLines(r.stdout)
  }
  const dir = await mkdtemp('/tmp/rad-init-')
  const file = path.join(dir, 'known_hosts')
  try {
    await run(
      sshPath,
      [
        '-o',
        `ProxyJump=${jump}`,
        ...scanOnlyOptions(file),
        '-o',
        'HashKnownHosts=no',
        '-o',
        'ControlPath=none',
        '-o',
        'ConnectTimeout=10',
        '-p',
        String(host.port),
        host.hostname,
        'true',
      ],
      { signal: AbortSignal.timeout(30_000) },
    )
    return knownHostsLines(await readFile(file, 'utf8').catch(() => ''))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * --install, on the server: appends LINE to the login user's ~/.ssh/authorized_keys unless a line
 * with its key (BLOB) is there already; creates ~/.ssh (0700) and the file (0600) when missing.
 * Constant text; the line arrives as a quoted assignment, never as part of a command.
 */
const INSTALL = `
set -u
umask 077
say() { printf '@@rad %s\\n' "$*"; }
fail() { printf '@@rad-error %s %s\\n' "$1" "$2"; exit 3; }
rad_install() {
  h=\${HOME:-}
  [ -n "$h" ] && [ -d "$h" ] || fail no-home "the user $(id -un) has no home directory ($h)"
  if [ ! -d "$h/.ssh" ]; then
    mkdir -m 700 -- "$h/.ssh" || fail install-failed "cannot create $h/.ssh"
    say created "$h/.ssh"
  fi
  if [ -n "$GATE" ]; then
    # The gate in the user's own bin: outside every target, so the gated key cannot change it.
    gp="$h/.local/bin/rsync-atomic-deploy-gate"
    case $gp in *[!A-Za-z0-9._/@+-]*) fail install-failed "the home directory $h holds characters the gate's path cannot" ;; esac
    mkdir -p -- "$h/.local/bin" && printf '%s' "$GATE" > "$gp.tmp" && chmod 755 "$gp.tmp" && mv -f -- "$gp.tmp" "$gp" ||
      fail install-failed "cannot write $gp"
    say gate "$gp"
    LINE=$(printf '%s\n' "$LINE" | sed "s|@GATE_PATH@|$gp|")
  fi
  f="$h/.ssh/authorized_keys"
  if [ -f "$f" ] && grep -v '^[[:space:]]*#' "$f" | grep -qF -- " $BLOB"; then say already "$f"; return 0; fi
  if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf '\\n' >> "$f" || fail install-failed "cannot write $f"; fi
  printf '%s\\n' "$LINE" >> "$f" || fail install-failed "cannot write $f"
  grep -qF -- " $BLOB" "$f" || fail install-failed "the line is not in $f after writing it"
  say added "$f"
}
`

/** The --install script; with `gate` (its text) it installs the gate too, and LINE names it (GATE_PATH_MARK). */
export function installScript(line: string, gate = ''): string {
  const p = publicKeyParts(line.replace(/^(command="[^"]*",)?(from="[^"]*",)?restrict /, ''))
  if (!p) throw new DeployError('not an authorized_keys line')
  return `${shAssignments({ LINE: line, BLOB: p.blob, GATE: gate })}\n${INSTALL}\nexec </dev/null; rad_install; exit $?\n`
}

/** What --install did on the server, as it said; throws with its reason when it could not. */
export async function installKey(
  ssh: Ssh,
  host: HostSpec,
  line: string,
  gate = '',
  onGate: (path: string) => void = () => {},
): Promise<'added' | 'already'> {
  await ssh.connect(0, host.label)
  const r = await ssh.exec(0, installScript(line, gate), { signal: AbortSignal.timeout(60_000) })
  const reply = parseReply(r.stdout)
  if (reply.error) throw new DeployError(`${host.label}: ${reply.error.message}`, '', reply.error.code)
  // Where the gate went (the server's text: only a plain absolute path is shown).
  const gatePath = reply.values.get('gate')?.[0] ?? ''
  if (/^\/[A-Za-z0-9._/@+-]+$/.test(gatePath)) onGate(gatePath)
  if (reply.values.has('added')) return 'added'
  if (reply.values.has('already')) return 'already'
  throw new DeployError(
    `${host.label}: installing the key failed (exit code ${r.code}): ${untrusted(r.stderr.trim(), 300) || 'no message'}`,
    'Check that your own `ssh HOST` logs in as the deploy user, or add the line by hand.',
    'install-failed',
  )
}
