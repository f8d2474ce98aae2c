import { DeployError } from './errors.js'
import type { HostSpec } from './hosts.js'
import { shQuote } from './quote.js'
import { ACTION_WORDS, type Words } from './words.js'

/** A path as it must be typed into a shell: plain when it can be, else quoted. */
function shWord(s: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(s) ? s : shQuote(s)
}

export interface SshFailureContext {
  label: string
  user: string
  keyPath: string
  hasKey: boolean
  passphraseGiven: boolean
  passphraseRejected: boolean
  host: HostSpec | undefined
  sshPath: string
  /** The person's own ssh setup decided key and known hosts (the CLI without --key/--known-hosts). */
  ownSetup?: boolean
  /** Reached through this jump host: a key scan must go through it too. */
  jump?: { sshPath: string; config: string; alias: string }
  /** How messages name inputs (default: the action's). */
  words?: Words
}

/** Own setup: what to do about a host key ssh does not know, the way ssh users do it. */
function ownHostKeyHint(ctx: SshFailureContext): string {
  const name = ctx.host?.host ?? 'HOST'
  return `Host keys are always checked, whatever your ~/.ssh/config says. Connect once with \`ssh ${ctx.host?.port && ctx.host.port !== 22 ? `-p ${ctx.host.port} ` : ''}${name}\`, check the fingerprint it shows against the server (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` there) and answer yes, so it is in your known_hosts; or pass --known-hosts FILE.`
}

function lastLines(text: string, n = 6): string {
  return text.trim().split('\n').slice(-n).join('\n')
}

/** What ssh said, by kind: the classifier below and the facts it needs agree on these. */
const KEY_FORMAT = /error in libcrypto|invalid format|Load key .*: (invalid|error)/i
const BAD_PASSPHRASE = /incorrect passphrase|bad passphrase/i
const HOST_KEY_CHANGED = /REMOTE HOST IDENTIFICATION HAS CHANGED/
const HOST_KEY_UNKNOWN = /Host key verification failed|No .* host key is known|host key .* not in list/i
const DENIED = /Permission denied \(/

/**
 * What the caller learned on this machine for explainSshFailure (see ssh-facts.ts): the keys the
 * server offers (a failed host key check), whether the key needs a passphrase and its fingerprint
 * (a refused login).
 */
export interface SshFacts {
  /** known_hosts lines the server offers and `ssh-keygen -lf` of them; undefined: the scan failed. */
  offered?: { lines: string[]; fingerprints: string }
  /** The key did not open without a passphrase (`ssh-keygen -y -P ''` said so). */
  keyNeedsPassphrase?: boolean
  /** `ssh-keygen -lf KEY`'s line (`256 SHA256:… comment (ED25519)`), '' if unknown. */
  keyFingerprint?: string
}

/** Which facts explaining `stderr` needs: a key scan for a host key failure, key checks for a refused login. */
export function sshFactsNeeded(
  stderr: string,
  ctx: SshFailureContext,
): { offeredKeys: boolean; keyChecks: boolean } {
  const early = KEY_FORMAT.test(stderr) || ctx.passphraseRejected || BAD_PASSPHRASE.test(stderr)
  const hostKey = !early && (HOST_KEY_CHANGED.test(stderr) || HOST_KEY_UNKNOWN.test(stderr))
  return {
    offeredKeys: hostKey && !ctx.ownSetup && ctx.host !== undefined,
    keyChecks: !early && !hostKey && DENIED.test(stderr) && ctx.hasKey,
  }
}

/** What the server offers, as known_hosts lines with fingerprints: shown when verification fails. */
function offeredKeys(ctx: SshFailureContext, offered: SshFacts['offered']): string {
  const host = ctx.host
  if (!host || !offered) return ''
  if (offered.lines.length === 0) {
    return ctx.jump
      ? `\nIts key could not be read through the jump host (run \`ssh-keyscan -p ${host.port} ${host.host}\` on the jump host).`
      : ''
  }
  return `\nThe server offers (check these fingerprints against the server before you trust them):\n${offered.fingerprints}\nknown_hosts lines to pin:\n${offered.lines.join('\n')}`
}

/** Turns ssh's stderr from a failed connection into a cause and a fix. */
export function explainSshFailure(stderr: string, ctx: SshFailureContext, facts: SshFacts = {}): DeployError {
  const s = stderr
  const who = `${ctx.label}`
  const w = ctx.words ?? ACTION_WORDS
  if (KEY_FORMAT.test(s)) {
    return new DeployError(
      `ssh could not read the private key for ${who}.`,
      'The key text is damaged or not an OpenSSH/PEM private key. Paste the whole file (BEGIN to END lines) into the secret again.',
      'key-format',
    )
  }
  if (ctx.passphraseRejected || BAD_PASSPHRASE.test(s)) {
    return new DeployError(
      `The key passphrase (${w.input('key-passphrase')}) does not decrypt the key (connecting to ${who}).`,
      'Check the passphrase secret, or remove the passphrase: `ssh-keygen -p -f KEY`.',
      'passphrase',
    )
  }
  if (ctx.ownSetup && HOST_KEY_CHANGED.test(s)) {
    return new DeployError(
      `The host key of ${who} is not the one in your known_hosts: it CHANGED. This may be an attack, or the server was reinstalled.`,
      'Do not deploy until you know why. If the change is expected, remove the old key (`ssh-keygen -R HOST`, the line ssh named) and connect once with ssh to check and record the new one.',
      'host-key-changed',
    )
  }
  if (ctx.ownSetup && HOST_KEY_UNKNOWN.test(s)) {
    return new DeployError(
      `Host key verification failed for ${who}: its key is not in your known_hosts.`,
      ownHostKeyHint(ctx),
      'host-key-unknown',
    )
  }
  if (HOST_KEY_CHANGED.test(s)) {
    return new DeployError(
      `The host key of ${who} is not the one in ${w.input('known-hosts')}: it CHANGED. This may be an attack, or the server was reinstalled.`,
      `Do not deploy until you know why. If the change is expected, replace ${w.input('known-hosts')} with the new key.${offeredKeys(ctx, facts.offered)}`,
      'host-key-changed',
    )
  }
  if (HOST_KEY_UNKNOWN.test(s)) {
    return new DeployError(
      `Host key verification failed for ${who}: none of the keys in ${w.input('known-hosts')} matches the key the server offered.`,
      `Pin the server's key in ${w.input('known-hosts')} (run \`ssh-keyscan -p ${ctx.host?.port ?? 22} ${ctx.host?.host ?? 'HOST'}\`${ctx.jump ? ' on the jump host' : ''} and compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).${offeredKeys(ctx, facts.offered)}`,
      'host-key-unknown',
    )
  }
  if (ctx.ownSetup && !ctx.hasKey && DENIED.test(s)) {
    return new DeployError(
      `${who} refused the login${ctx.user ? ` as user ${ctx.user}` : ''}: Permission denied (publickey).`,
      'No key your ssh offered was accepted (your agent and the IdentityFile of your ~/.ssh/config). A key with a passphrase must be in your agent (`ssh-add KEY`): nothing here asks for it. Check that `ssh HOST true` works, the user name, or pass --key FILE.',
      'auth',
    )
  }
  if (DENIED.test(s)) {
    // BatchMode skips an encrypted key silently and the login fails as if the key were not authorized.
    if (ctx.hasKey && !ctx.passphraseGiven && facts.keyNeedsPassphrase) {
      return new DeployError(
        `The key is protected by a passphrase and ${w.input('key-passphrase')} is not set, so ssh could not use it (connecting to ${who}).`,
        `Pass the passphrase from a secret as ${w.input('key-passphrase', '${{ secrets.DEPLOY_KEY_PASSPHRASE }}')}, or remove it from the key: \`ssh-keygen -p -f KEY\`.`,
        'passphrase',
      )
    }
    let fp = ''
    if (ctx.hasKey) {
      // `256 SHA256:… comment (ED25519)` → `SHA256:… (ED25519)`
      const f = facts.keyFingerprint ? facts.keyFingerprint.trim().split(' ') : []
      if (f[1]) fp = ` with the key ${f[1]}${/^\(.*\)$/.test(f.at(-1) ?? '') ? ` ${f.at(-1)}` : ''}`
    }
    const user = ctx.user || `(the runner’s user name; set ${w.input('user')})`
    return new DeployError(
      `${who} refused the login as user ${user}${fp}: Permission denied (publickey).`,
      `Add the public key to ~${ctx.user || 'USER'}/.ssh/authorized_keys on the server (\`ssh-keygen -y -f KEY\` prints it), check the user name, and that the key is not restricted there (from=, command=).${ctx.passphraseGiven ? '' : ` If the key has a passphrase, give ${w.input('key-passphrase')}.`}`,
      'auth',
    )
  }
  if (/Connection refused/i.test(s)) {
    return new DeployError(
      `${who} refused the connection: nothing listens for SSH on port ${ctx.host?.port ?? 22}.`,
      `Check the port (${w.input('port')} or host:port) and that sshd runs and the firewall lets the runner in.`,
      'refused',
    )
  }
  if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(s)) {
    return new DeployError(
      `The host name of ${who} does not resolve.`,
      `Check the spelling of ${w.input('host')}.`,
      'dns',
    )
  }
  if (/timed out during banner exchange/i.test(s)) {
    return new DeployError(
      `${who} is unreachable: the TCP connection was accepted, but no SSH greeting came back before ssh timed out (${lastLines(s, 1)}).`,
      `Check that port ${ctx.host?.port ?? 22} is this server's SSH port (not another service or a proxy), that sshd is not overloaded (MaxStartups), and that no firewall swallows the connection after accepting it.`,
      'unreachable',
    )
  }
  if (/timed out|No route to host|Network is unreachable/i.test(s)) {
    return new DeployError(
      `${who} is unreachable: ${lastLines(s, 1)}`,
      `Check the address, that the server is up, and that its firewall lets GitHub runners in (or use a self-hosted runner / ${w.input('jump-host')}).`,
      'unreachable',
    )
  }
  if (/kex_exchange_identification|Connection closed by|Connection reset/i.test(s)) {
    return new DeployError(
      `${who} closed the connection before login: ${lastLines(s, 1)}`,
      'The server may limit connections (MaxStartups, fail2ban) or not be an SSH server on that port.',
      'closed',
    )
  }
  return new DeployError(`ssh to ${who} failed: ${lastLines(s) || '(no message)'}`, '', 'ssh')
}

/** Hints for codes our remote scripts report with `@@rad-error CODE message`. */
export function remoteErrorHint(
  code: string,
  ctx: { target: string; linkName: string; user: string; words?: Words },
): string {
  const w = ctx.words ?? ACTION_WORDS
  switch (code) {
    case 'rsync-missing':
      return 'Install rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).'
    case 'target-unwritable':
      return `Create the target and give it to the deploy user, e.g. \`sudo install -d -o ${ctx.user || 'deploy'} ${shWord(ctx.target)}\`.`
    case 'link-not-symlink':
      return `To migrate: move the directory into a release and point a symlink at it, e.g. \`cd ${shWord(ctx.target)} && mkdir -p releases && mv ${ctx.linkName} releases/initial && ln -s releases/initial ${ctx.linkName}\`. Serving continues from the same files.`
    case 'release-exists':
      return `Release ids are never reused: give a new ${w.input('release-id')}, or leave it empty to generate one.`
    case 'locked':
      return `Wait for the other deploy, or if it is dead run ${w === ACTION_WORDS ? 'this action with ' : ''}${w.command('unlock')} (or \`rm -r TARGET/.deploy/lock\` on the server).${w === ACTION_WORDS ? ' Use a `concurrency:` group in the workflow to queue deploys.' : ''}`
    case 'lock-lost':
      return 'Another run took the lock over (it judged ours stale). Re-run this deploy.'
    case 'lock-failed':
      return 'This is not another deploy: the server refused to create the lock. Fix what the message names, then re-run.'
    case 'lock-stuck':
      return 'Remove the stale lock on the server (`rm -r TARGET/.deploy/lock`, as a user who may), then re-run.'
    case 'unlock-failed':
      return 'Remove it on the server as a user who may (`rm -r TARGET/.deploy/lock`).'
    case 'unsafe-path':
      return 'Nothing was changed. The deploy root must hold real directories releases/ and .deploy/ (and real release directories) of its own.'
    case 'no-rename':
      return 'A switch must rename one link over another in one step; without such a tool there is no atomic switch.'
    case 'not-uploaded':
      return `Run ${w.command('upload')} with the same ${w.input('release-id')} on every host first${w === ACTION_WORDS ? ' (a matrix job)' : ''}, then ${w.command('activate')}.`
    case 'no-target':
      return `Check ${w.input('target')}: it must be the directory you deploy to.`
    case 'nothing-live':
      return `Name the release to check with ${w.input('release-id')} (${w.command('list')} shows them).`
    case 'release-missing':
      return `${w.command('list')} shows the releases on the server.`
    case 'verify-tools':
      return 'Install GNU coreutils or busybox on the server (Debian/Ubuntu: apt-get install coreutils; Alpine: apk add coreutils).'
    case 'verify-too-large':
      return 'verify reads the whole release into memory on the runner: this one is beyond its bound.'
    default:
      return ''
  }
}

/** rsync's exit codes in words (rsync(1) EXIT VALUES), with the usual cause. */
export function explainRsyncExit(code: number, stderr: string, words: Words = ACTION_WORDS): string {
  const tail = lastLines(stderr, 4)
  const plain: Record<number, string> = {
    1: 'rsync refused its arguments (syntax or usage error)',
    2: 'the two rsyncs could not agree on a protocol (the server rsync is too old or is openrsync)',
    3: 'rsync could not select input/output files or directories',
    5: 'rsync could not start talking to the server',
    10: 'a socket I/O error',
    11: 'a file I/O error (is the server disk full?)',
    12: 'the data stream broke: often a shell startup file on the server (.bashrc, .profile) prints text; make it print nothing for non-interactive shells',
    14: 'an IPC error',
    20: 'rsync was interrupted',
    23: 'some files could not be transferred (permissions, unreadable files, or a full disk)',
    24: 'some source files vanished during the transfer (the build changed while uploading)',
    25: 'the --max-delete limit stopped deletions',
    30: 'the transfer stalled (timeout in data send/receive)',
    35: 'timeout waiting for the daemon connection',
    127: 'rsync is not installed on the server (or not in PATH)',
    255: 'the SSH connection failed or dropped',
  }
  const why = plain[code] ?? 'rsync failed'
  const disk = /No space left on device|disk quota exceeded/i.test(stderr)
    ? ` The server disk is full: free space (prune old releases, ${words.input('keep-releases')}) and re-run.`
    : ''
  return `rsync exited with code ${code}: ${why}.${disk}${tail ? `\n${tail}` : ''}`
}

/** What a login shell's startup file must do to stay quiet, or to stop reading without ending the shell. */
const STARTUP_SYNTAX: Record<string, { file: string; quiet: string }> = {
  bash: { file: '~/.bashrc', quiet: 'start it with: [ -z "$PS1" ] && return' },
  zsh: { file: '~/.zshenv (and ~/.zshrc)', quiet: 'start it with: [[ -o interactive ]] || return' },
  sh: {
    file: '~/.profile (and the $ENV file)',
    quiet: 'start it with: case $- in *i*) ;; *) return ;; esac',
  },
  fish: {
    file: '~/.config/fish/config.fish',
    quiet:
      'start it with: status is-interactive; or return (or put the rest inside: if status is-interactive … end)',
  },
  csh: {
    file: '~/.cshrc (or ~/.tcshrc)',
    quiet:
      'put what is meant for a terminal inside: if ($?prompt) then … endif (csh has no return; exit there ends the session)',
  },
}

/** The family of a login shell path: /usr/bin/fish → fish, tcsh → csh, dash/ksh → sh; '' if unknown. */
export function shellFamily(shell: string): string {
  const name = shell.split('/').pop() ?? ''
  if (name === 'bash' || name === 'zsh' || name === 'fish') return name
  if (name === 'csh' || name === 'tcsh') return 'csh'
  if (['sh', 'dash', 'ksh', 'mksh', 'ash', 'busybox'].includes(name)) return 'sh'
  return ''
}

/**
 * The fix for a startup file that prints text (`prints`) or ends the session (`exits`) when the
 * shell is not interactive, in the syntax of the user's login shell (every common one when unknown).
 */
export function startupFileHint(shell: string, problem: 'prints' | 'exits'): string {
  const family = shellFamily(shell)
  const what =
    problem === 'prints'
      ? 'print nothing when the shell is not interactive'
      : 'stop reading (not end the shell) when the shell is not interactive: no `exit` for non-interactive shells'
  const one = (f: string) => {
    const s = STARTUP_SYNTAX[f] as { file: string; quiet: string }
    return `${s.file}: ${s.quiet}`
  }
  if (family) return `Make the login shell's startup file ${what}. ${one(family)}.`
  return `Make the login shell's startup file ${what}. ${['bash', 'zsh', 'fish', 'csh'].map(one).join('; ')}.`
}

/**
 * The session ended before our script said a word: the login shell did not run it (nologin,
 * /bin/false) or a startup file ended the shell first. Relays what the shell printed.
 */
export function loginShellFailure(ctx: {
  label: string
  user: string
  code: number
  said: string[]
}): DeployError {
  const who = ctx.user ? `user ${ctx.user}` : 'the deploy user'
  const said = ctx.said.length > 0 ? `; it printed: ${ctx.said.join(' | ')}` : '; it printed nothing'
  const message = `${ctx.label}: the login shell of ${who} ended the session before the deploy script ran (exit code ${ctx.code})${said}.`
  const text = ctx.said.join('\n')
  if (
    /currently not available|nologin|not allowed|account is|no login/i.test(text) ||
    (ctx.code === 1 && text === '')
  ) {
    const u = ctx.user || 'USER'
    return new DeployError(
      message,
      `${ctx.user ? ctx.user : 'The deploy user'}'s login shell does not run commands${text ? '' : ' (nologin or /bin/false?)'}. Give the account a real shell on the server, e.g. \`sudo usermod -s /bin/sh ${u}\` (or \`chsh -s /bin/bash ${u}\`), or deploy as a user that has one.${text ? '' : ` ${startupFileHint('', 'exits')}`}`,
      'login-shell',
    )
  }
  return new DeployError(message, startupFileHint('', 'exits'), 'login-shell')
}
