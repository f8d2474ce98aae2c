import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { userInfo } from 'node:os'
import path from 'node:path'
import { childEnv } from './env.js'
import { DeployError } from './errors.js'
import { explainSshFailure, type SshFailureContext } from './hints.js'
import type { HostSpec } from './hosts.js'
import { fingerprintCheckScript, renderKnownHosts, type TrustedKeys } from './knownhosts.js'
import { terminateMaster } from './mux.js'
import { type RunResult, run } from './proc.js'
import { gatherSshFacts } from './ssh-facts.js'
import type { Words } from './words.js'

/**
 * Everything ssh needs lives in one private directory under /tmp (short, so the ControlPath fits a
 * unix socket name): the key, known_hosts, a generated config, the master sockets. Every ssh and
 * rsync call is `ssh -F <config> <alias>`, so no option and no secret ever sits in argv.
 */
export interface SshOptions {
  hosts: HostSpec[]
  jumpHost: HostSpec | undefined
  key: string
  keyPassphrase: string
  trusted: TrustedKeys
  acceptUnknownHostKey: boolean
  /** Seconds an idle master may linger if we are killed before we close it. */
  persistSeconds: number
  /**
   * Connect the way the person's own `ssh HOST` would (the CLI without --key or --known-hosts):
   * hosts are named as given, so ~/.ssh/config applies (aliases, ProxyJump, IdentityFile), with
   * their agent and their known_hosts. Our safety options still come first and win (ssh keeps the
   * first value it reads); a key or known-hosts given explicitly still replace theirs.
   */
  useOwnSshSetup?: boolean
  /** How messages name inputs (default: the action's). */
  words?: Words
  /**
   * The process whose end makes our directory an orphan (recorded in it): the CLI itself; for the
   * action, the runner's worker, which outlives the main step until the post step has run.
   */
  ownerPid?: number
}

/**
 * What ssh says of a ~/.ssh/config others could change ("Bad owner or permissions"), or '' when it
 * is fine or absent. ssh refuses such a file; through our Include it would not check, so we do.
 */
export function userConfigProblem(file: string, uid: number): string {
  let st: Stats
  try {
    st = statSync(file)
  } catch {
    return ''
  }
  if ((st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
    return `Bad owner or permissions on ${file}: ssh itself refuses to use it (it must be yours and writable by you only).`
  }
  return ''
}

/** Known hosts are ours (a file we write) unless the person's own setup decides them. */
function ourKnownHosts(opts: SshOptions): boolean {
  const t = opts.trusted
  return !opts.useOwnSshSetup || t.lines.length > 0 || t.fingerprints.length > 0 || opts.acceptUnknownHostKey
}

/**
 * Own-setup mode: how host `h` is named on ssh's command line. A `Host` block of ours would hide
 * the person's `Host` blocks (ssh matches them against the name typed), so what was given
 * explicitly goes in `-o` options (argv wins over every config file) and the name is the one
 * they typed. Port 22 is the default: left to their config (or ssh's own default, 22).
 */
export function ownHostArgs(h: HostSpec, jump: HostSpec | undefined): string[] {
  const args: string[] = []
  if (h.user) args.push('-o', `User=${h.user}`)
  if (h.port !== 22) args.push('-o', `Port=${h.port}`)
  if (jump) args.push('-o', `ProxyJump=${jump.label}`)
  return [...args, h.host]
}

export const CONNECT_TIMEOUT = 15

export function aliasOf(index: number): string {
  return `rad-${index}`
}

export interface ConfigPaths {
  dir: string
  /** The generated ssh_config itself (the jump's ProxyCommand reads it too). */
  config: string
  /** ssh's own log when connecting through the jump host. */
  jumpLog: string
  /** The ssh binary (for the jump's ProxyCommand). */
  sshBinary: string
  key: string
  knownHosts: string
  fingerprints: string
  fingerprintCheck: string
}

/** The ssh_config we generate: pure, so a unit test can read every option. */
export function renderSshConfig(opts: SshOptions, paths: ConfigPaths): string {
  const out: string[] = ['# written by rsync-atomic-deploy; deleted when the step ends']
  const hostBlock = (alias: string, h: HostSpec, jump: boolean) => {
    // ssh expands %-tokens in HostName: an IPv6 zone (fe80::1%eth0) must be written %%.
    out.push(`Host ${alias}`, `  HostName ${h.host.replace(/%/g, '%%')}`, `  Port ${h.port}`)
    if (h.user) out.push(`  User ${h.user}`)
    // ProxyJump would be simpler, but with ControlPersist ssh sends the jump's stderr to
    // /dev/null: the same hop as a ProxyCommand with -E keeps its errors (host key!) readable.
    if (jump)
      out.push(`  ProxyCommand ${paths.sshBinary} -F ${paths.config} -E ${paths.jumpLog} -W [%h]:%p rad-jump`)
  }
  const own = opts.useOwnSshSetup === true
  // Own setup: no aliases of ours; hosts go by their own names (ownHostArgs).
  if (!own) {
    opts.hosts.forEach((h, i) => {
      hostBlock(aliasOf(i), h, opts.jumpHost !== undefined)
    })
    if (opts.jumpHost) hostBlock('rad-jump', opts.jumpHost, false)
  }
  out.push('Host *')
  if (!own || opts.key !== '') {
    out.push(`  IdentityFile ${paths.key}`, '  IdentitiesOnly yes', '  IdentityAgent none')
  }
  if (ourKnownHosts(opts)) {
    const t = opts.trusted
    if (own && t.lines.length === 0 && t.fingerprints.length === 0) {
      // accept-unknown-host-key on a laptop: keys already known still count (a changed one is
      // refused); a new one is learned into our file only, to be printed for pinning.
      out.push(`  UserKnownHostsFile ${paths.knownHosts} ~/.ssh/known_hosts ~/.ssh/known_hosts2`)
    } else {
      out.push(`  UserKnownHostsFile ${paths.knownHosts}`, '  GlobalKnownHostsFile /dev/null')
    }
    if (t.fingerprints.length > 0) {
      out.push(`  KnownHostsCommand ${paths.fingerprintCheck} %f %t %K %H`)
    }
  }
  out.push(`  StrictHostKeyChecking ${opts.acceptUnknownHostKey ? 'accept-new' : 'yes'}`)
  // Own setup: CheckHostIP and the auth methods stay the person's choice (never weaker: BatchMode).
  if (!own) out.push('  CheckHostIP no')
  out.push(
    '  UpdateHostKeys no',
    '  HashKnownHosts no',
    '  BatchMode yes',
    '  PasswordAuthentication no',
    '  KbdInteractiveAuthentication no',
  )
  if (!own) out.push('  PreferredAuthentications publickey')
  out.push(
    `  ConnectTimeout ${CONNECT_TIMEOUT}`,
    '  ConnectionAttempts 1',
    '  ServerAliveInterval 15',
    '  ServerAliveCountMax 4',
    '  ForwardAgent no',
    '  ForwardX11 no',
    '  ClearAllForwardings yes',
    '  RequestTTY no',
    '  LogLevel ERROR',
    // Our aliases name the sockets (rad-0: closeAll speaks to it); own setup: ssh's hash of the host.
    `  ControlPath ${paths.dir}/${own ? '%C' : '%n'}`,
    '  ControlMaster no',
    `  ControlPersist ${opts.persistSeconds}`,
  )
  if (own) {
    // What `ssh HOST` reads without -F, in the same order, after ours (ssh keeps the first value).
    out.push('  Include ~/.ssh/config', '  Include /etc/ssh/ssh_config')
  }
  return `${out.join('\n')}\n`
}

const ASKPASS = `#!/bin/sh
# ssh asks for the key's passphrase through here (SSH_ASKPASS), so it never reaches argv.
# Each call is counted: a second one means the first answer was wrong.
echo x >> "$RAD_ASKPASS_COUNT"
printf '%s\\n' "$RAD_KEY_PASSPHRASE"
`

export class Ssh {
  readonly sshPath: string
  /** Hosts whose master runs, with the words that name them to ssh. */
  private masters = new Map<number, string[]>()
  /** Each host's one attempt to connect, begun by whoever asked first (see connect). */
  private connecting = new Map<number, Promise<void>>()
  /** Stops attempts still under way when the run ends before it needs them (dispose). */
  private closing = new AbortController()
  /** Hosts whose attempt was stopped: ssh may have forked its master just before. */
  private stopped = new Set<number>()

  private constructor(
    readonly opts: SshOptions,
    readonly paths: ConfigPaths,
    sshPath: string,
  ) {
    this.sshPath = sshPath
  }

  get configPath(): string {
    return this.paths.config
  }

  /**
   * Creates the private directory and its files. `onDir` is called before any secret is written,
   * so the post step can delete the directory even if we are killed right after.
   */
  static async create(opts: SshOptions, sshPath: string, onDir: (dir: string) => void): Promise<Ssh> {
    if (opts.useOwnSshSetup) {
      // Included from our config, ssh would not check it as it checks ~/.ssh/config itself.
      const problem = userConfigProblem(path.join(userInfo().homedir, '.ssh/config'), process.getuid?.() ?? 0)
      if (problem)
        throw new DeployError(problem, 'Make it yours and private: chmod 600 ~/.ssh/config', 'ssh-config')
    }
    await removeOrphanDirs(sshPath)
    // Synchronous: a few small files the connection waits for (awaited one by one, ~15 ms of the start).
    const dir = mkdtempSync('/tmp/rad-')
    chmodSync(dir, 0o700)
    onDir(dir)
    writeFileSync(path.join(dir, OWNER_FILE), `${opts.ownerPid ?? process.pid}\n`, { mode: 0o600 })
    const paths: ConfigPaths = {
      dir,
      config: path.join(dir, 'config'),
      jumpLog: path.join(dir, 'jump.log'),
      sshBinary: sshPath,
      key: path.join(dir, 'key'),
      knownHosts: path.join(dir, 'known_hosts'),
      fingerprints: path.join(dir, 'fingerprints'),
      fingerprintCheck: path.join(dir, 'hostkey-check'),
    }
    const ssh = new Ssh(opts, paths, sshPath)
    if (!opts.useOwnSshSetup || opts.key !== '') {
      writeFileSync(paths.key, opts.key, { mode: 0o600 })
      if (opts.keyPassphrase) {
        writeFileSync(path.join(dir, 'askpass'), ASKPASS, { mode: 0o700 })
      }
    }
    if (ourKnownHosts(opts)) {
      const ports = [...opts.hosts, ...(opts.jumpHost ? [opts.jumpHost] : [])].map((h) => h.port)
      writeFileSync(paths.knownHosts, renderKnownHosts(opts.trusted, ports), { mode: 0o600 })
      if (opts.trusted.fingerprints.length > 0) {
        writeFileSync(paths.fingerprints, `${opts.trusted.fingerprints.join('\n')}\n`, { mode: 0o600 })
        writeFileSync(paths.fingerprintCheck, fingerprintCheckScript(paths.fingerprints), { mode: 0o700 })
      }
    }
    writeFileSync(ssh.configPath, renderSshConfig(opts, paths), { mode: 0o600 })
    return ssh
  }

  /** `ssh -F config`: what rsync gets as its -e (split on spaces by rsync: our paths have none). */
  get rshCommand(): string {
    return `${this.sshPath} -F ${this.configPath}`
  }

  /** The words that name host `index` on ssh's command line, after `-F config`. */
  hostArgs(index: number): string[] {
    const h = this.opts.hosts[index]
    if (!this.opts.useOwnSshSetup || !h) return [aliasOf(index)]
    return ownHostArgs(h, this.opts.jumpHost)
  }

  /**
   * rsync's -e and `host:path` destination for host `index` (no word of -e has a space).
   * `muxOnly`: over the master or not at all (as exec's muxOnly): an rsync started beside another
   * session, which a server allowing one session refuses, must fail rather than connect on its own.
   */
  rsyncRemote(index: number, remotePath: string, muxOnly = false): { rsh: string; destination: string } {
    const words = this.hostArgs(index)
    const name = words.pop() ?? ''
    return {
      rsh: [this.rshCommand, ...(muxOnly ? ['-o', 'ProxyCommand=false'] : []), ...words].join(' '),
      destination: `${name.includes(':') ? `[${name}]` : name}:${remotePath}`,
    }
  }

  /** The environment of ssh and of rsync (which runs ssh): no INPUT_*, no key, no passphrase. */
  childEnv(): NodeJS.ProcessEnv {
    const env = childEnv(process.env, {
      own: this.opts.useOwnSshSetup === true,
      secrets: [this.opts.keyPassphrase],
    })
    if (!this.opts.useOwnSshSetup) delete env.SSH_AUTH_SOCK
    delete env.SSH_ASKPASS
    return env
  }

  private baseEnv(): NodeJS.ProcessEnv {
    return this.childEnv()
  }

  /**
   * Opens the one connection every later step of this host shares. The first call starts it; a
   * later one (the command's own step, after runCommand began it while the rest got ready) gets
   * the same attempt and its outcome, never a second connection.
   */
  connect(index: number, label: string, signal?: AbortSignal): Promise<void> {
    let attempt = this.connecting.get(index)
    if (!attempt) {
      attempt = this.openMaster(index, label, anySignal(signal, this.closing.signal))
      // Awaited by the command's step; a run that ends first never asks (dispose closes it).
      attempt.catch(() => {})
      this.connecting.set(index, attempt)
    }
    return attempt
  }

  private async openMaster(index: number, label: string, signal: AbortSignal): Promise<void> {
    const alias = aliasOf(index)
    const errFile = path.join(this.paths.dir, `${alias}.err`)
    const args = ['-F', this.configPath, '-M', '-N', '-f', '-o', 'ControlMaster=yes']
    const env = this.baseEnv()
    const countFile = path.join(this.paths.dir, `${alias}.askpass`)
    if (this.opts.keyPassphrase) {
      // BatchMode forbids any prompt, the askpass one too; nothing else can prompt (no passwords).
      args.push('-o', 'BatchMode=no')
      env.SSH_ASKPASS = path.join(this.paths.dir, 'askpass')
      env.SSH_ASKPASS_REQUIRE = 'force'
      env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase
      env.RAD_ASKPASS_COUNT = countFile
      env.DISPLAY = env.DISPLAY ?? ':0'
    }
    args.push(...this.hostArgs(index))
    // The master daemonises (-f); its stderr goes to a file so no pipe of ours stays open behind it.
    const fd = openSync(errFile, 'w', 0o600)
    let result: RunResult
    try {
      result = await run(this.sshPath, args, { env, signal, stderrFd: fd })
    } finally {
      closeSync(fd)
    }
    let stderr = readFileSync(errFile, 'utf8')
    let failedAt = label
    let failedHost = this.opts.hosts[index]
    let through: { sshPath: string; config: string; alias: string } | undefined
    if (this.opts.jumpHost && !this.opts.useOwnSshSetup) {
      through = { sshPath: this.sshPath, config: this.configPath, alias: aliasOf(index) }
    }
    try {
      const jumpLog = readFileSync(this.paths.jumpLog, 'utf8').trim()
      if (jumpLog && this.opts.jumpHost) {
        stderr = `${jumpLog}\n${stderr}`
        failedAt = `the jump host ${this.opts.jumpHost.label}`
        failedHost = this.opts.jumpHost
        through = undefined
      }
    } catch {}
    if (result.aborted) {
      this.stopped.add(index)
      throw new DeployError(`Connecting to ${label} was cancelled.`)
    }
    if (result.code !== 0) {
      let askpassCalls = 0
      try {
        askpassCalls = readFileSync(countFile, 'utf8').split('\n').filter(Boolean).length
      } catch {}
      const why: SshFailureContext = {
        label: failedAt,
        user: failedHost?.user ?? '',
        keyPath: this.paths.key,
        hasKey: !this.opts.useOwnSshSetup || this.opts.key !== '',
        ownSetup: this.opts.useOwnSshSetup === true,
        passphraseGiven: this.opts.keyPassphrase !== '',
        passphraseRejected: askpassCalls > 1,
        host: failedHost,
        sshPath: this.sshPath,
        jump: through,
        words: this.opts.words,
      }
      // The facts (key scan, key fingerprint) gathered here; classifying is pure (hints.ts).
      throw explainSshFailure(stderr, why, await gatherSshFacts(stderr, why))
    }
    this.masters.set(index, this.hostArgs(index))
  }

  /** The lines ssh wrote to known_hosts on first use (accept-unknown-host-key), to print for pinning. */
  async learnedHostKeys(): Promise<string> {
    try {
      return await readFile(this.paths.knownHosts, 'utf8')
    } catch {
      return ''
    }
  }

  /**
   * Runs a constant script with `sh -s` over the host's master connection, or with `fresh` over a
   * new connection of its own (-S none), for when the master itself may be stuck.
   */
  exec(
    index: number,
    script: string | Promise<string | null>,
    opts: {
      signal?: AbortSignal
      onStdout?: (s: string) => void
      onStderr?: (s: string) => void
      fresh?: boolean
      /** The remote command (remote.ts remoteCommand: `sh -s` and what tells a gate the script). */
      command?: string
      onExit?: () => void
      /** Written at once, before the script (a session opened ahead: see remote.ts renderAhead). */
      preface?: string
      /**
       * Over the master or not at all: ssh whose session the master cannot open (a server that
       * allows one session at a time) would otherwise connect on its own, a second connection.
       */
      muxOnly?: boolean
    } = {},
  ): Promise<RunResult> {
    const { fresh, command = 'sh -s', muxOnly, ...rest } = opts
    const env = this.baseEnv()
    const own: string[] = []
    if (muxOnly && !fresh) own.push('-o', 'ProxyCommand=false')
    if (fresh) {
      own.push('-S', 'none')
      if (this.opts.keyPassphrase) {
        // As in connect(): the passphrase reaches ssh through SSH_ASKPASS, never argv.
        own.push('-o', 'BatchMode=no')
        env.SSH_ASKPASS = path.join(this.paths.dir, 'askpass')
        env.SSH_ASKPASS_REQUIRE = 'force'
        env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase
        env.RAD_ASKPASS_COUNT = path.join(this.paths.dir, `${aliasOf(index)}.askpass`)
        env.DISPLAY = env.DISPLAY ?? ':0'
      }
    }
    return run(this.sshPath, ['-F', this.configPath, ...own, '-T', ...this.hostArgs(index), command], {
      env,
      input: script,
      // The script's watchdog stops it when this stdin ends: when we give up or the link drops.
      keepStdinOpen: true,
      ...rest,
    })
  }

  /**
   * The post step's way in: runs a script on host `index` through the private directory `dir` a
   * main step left, over a connection of its own (-S none: the master may be what hung).
   */
  static execInDir(
    dir: string,
    index: number,
    script: string,
    opts: { signal?: AbortSignal; sshPath?: string; command?: string } = {},
  ): Promise<RunResult> {
    return run(
      opts.sshPath ?? 'ssh',
      ['-F', path.join(dir, 'config'), '-S', 'none', '-T', aliasOf(index), opts.command ?? 'sh -s'],
      {
        input: script,
        // As in exec(): the script's watchdog stops it when this stdin ends.
        keepStdinOpen: true,
        signal: opts.signal,
      },
    )
  }

  /** Where host `index`'s master listens, when our alias names it (own setup: ssh's hash, %C). */
  private socketOf(index: number): string | undefined {
    return this.opts.useOwnSshSetup ? undefined : path.join(this.paths.dir, aliasOf(index))
  }

  /**
   * Closes every master: asked on its socket (mux.ts) where our alias names it, else by
   * `ssh -O exit`. Never throws. An attempt still under way is stopped first;
   * its master is asked to exit too, as ssh may have forked it just before it was stopped.
   */
  async closeAll(): Promise<void> {
    this.closing.abort()
    await Promise.allSettled(this.connecting.values())
    this.connecting.clear()
    for (const index of this.stopped) this.masters.set(index, this.hostArgs(index))
    await Promise.all(
      [...this.masters].map(async ([index, words]) => {
        const socket = this.socketOf(index)
        if (socket) {
          // Its socket is ours: asked there (a master deaf to it would be deaf to ssh -O exit too).
          await terminateMaster(socket, 3000)
          this.masters.delete(index)
          return
        }
        try {
          // Bounded: a master stuck on a stalled link must not hold the end of the step back.
          await run(this.sshPath, ['-F', this.configPath, '-O', 'exit', ...words], {
            env: this.baseEnv(),
            signal: AbortSignal.timeout(3000),
          })
        } catch {}
        this.masters.delete(index)
      }),
    )
  }

  /** Closes our masters, then deletes the directory with the key (each master closed once). */
  async dispose(): Promise<void> {
    await this.closeAll()
    // Synchronous: a few files, on the step's last path (awaited, rm took ~3 ms more).
    rmSync(this.paths.dir, { recursive: true, force: true })
  }
}

/**
 * The post step's clean-up: closes any master still listening in `dir` and deletes the directory
 * with the key (a cancelled main step may not have reached its own dispose()).
 */
export async function removeSshDir(dir: string, sshPath = 'ssh'): Promise<void> {
  if (!dir.startsWith('/tmp/rad-')) return
  const config = path.join(dir, 'config')
  let aliases: string[] = []
  try {
    aliases = [...readFileSync(config, 'utf8').matchAll(/^Host (rad-\d+|rad-jump)$/gm)].map((m) => m[1] ?? '')
  } catch {}
  for (const alias of aliases) {
    try {
      await run(sshPath, ['-F', config, '-O', 'exit', alias], { signal: AbortSignal.timeout(3000) })
    } catch {}
  }
  await rm(dir, { recursive: true, force: true })
}

/**
 * ssh's words when the master's session request was refused: the remote command never ran. First
 * in stderr: the server's own text (a login shell's, a hook's) only comes once a session is open.
 */
const MUX_REFUSED = /^mux_client_request_session: session request failed/

/**
 * Whether a run over the master was refused its session (a server that allows one at a time, not
 * yet done closing the last): nothing ran on the server, so it may be run again. Only ssh's own
 * refusal, before any output: never a script that ran and failed with those words in its stderr.
 */
export function refusedSession(
  result: { code: number; aborted: boolean; stdout: string; stderr: string },
  /** ssh itself (not rsync through it): it exits 255, which none of our scripts does. */
  ssh = false,
): boolean {
  if (ssh && result.code !== 255) return false
  return result.code !== 0 && !result.aborted && result.stdout === '' && MUX_REFUSED.test(result.stderr)
}

/** Aborted when either is (AbortSignal.any is Node 20.3+). */
export function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  if (!a) return b
  const both = new AbortController()
  const stop = () => both.abort()
  if (a.aborted || b.aborted) stop()
  a.addEventListener('abort', stop, { once: true })
  b.addEventListener('abort', stop, { once: true })
  return both.signal
}

/** Holds the pid of the process our private directory belongs to. */
const OWNER_FILE = 'owner'

/** Whether process `pid` exists (EPERM: it does, as another user's). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes our private directories left by runs that were killed (SIGKILL, a lost runner): their
 * master first, whose persisting connection would otherwise keep the target's lock looking held
 * for its whole ControlPersist time, then the key. Only ours (same uid), only when the recorded
 * owner process is gone; a directory without an owner record is left alone.
 */
export async function removeOrphanDirs(sshPath = 'ssh', tmp = '/tmp'): Promise<string[]> {
  const removed: string[] = []
  let names: string[] = []
  try {
    names = readdirSync(tmp).filter((n) => /^rad-[A-Za-z0-9]{6}$/.test(n))
  } catch {
    return removed
  }
  const uid = process.getuid?.()
  for (const name of names) {
    const dir = path.join(tmp, name)
    try {
      const st = lstatSync(dir)
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue
      const pid = Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim())
      if (!Number.isInteger(pid) || pid <= 0 || processExists(pid)) continue
      await removeSshDir(dir, sshPath)
      removed.push(dir)
    } catch {}
  }
  return removed
}
