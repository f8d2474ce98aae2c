/**
 * Real parts for integration tests: an sshd on 127.0.0.1 (random free port, throwaway host and
 * client keys), a deploy user, and the bundled dist/index.js run the way the GitHub runner runs it:
 * inputs as INPUT_* variables, outputs read back from GITHUB_OUTPUT, state from GITHUB_STATE
 * handed to the post step as STATE_*.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import path from 'node:path'

export const ROOT = path.resolve(import.meta.dirname, '../..')
/** The bundle to run: dist/index.js, or another build to compare with (RAD_DIST, bench:profile). */
export const DIST = process.env.RAD_DIST || path.join(ROOT, 'dist/index.js')
export const TEST_USER = 'radtest'

/** Node binaries to run the bundle with: this one (20) and Node 24 from the node@24 npm package. */
export function nodeBinaries(): { name: string; path: string }[] {
  const list = [{ name: `node ${process.versions.node.split('.')[0]}`, path: process.execPath }]
  const n24 = process.env.RAD_NODE24 || path.join(ROOT, '.cache/node24/node_modules/.bin/node')
  if (existsSync(n24)) list.push({ name: 'node 24', path: n24 })
  else if (process.env.CI) throw new Error(`Node 24 not found at ${n24}: scripts/test.sh installs it`)
  return list
}

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] })
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/** The unprivileged user our sshd lets in (created once; its home is a throwaway). */
export function ensureUser(
  name = TEST_USER,
  shell = '/bin/bash',
): { uid: number; gid: number; home: string } {
  const have = spawnSync('id', ['-u', name], { encoding: 'utf8' })
  if (have.status !== 0) {
    sh('useradd', ['--create-home', '--home-dir', `/home/${name}`, '--shell', shell, name])
  }
  // A new account's password is locked ('!'); without PAM, sshd refuses locked accounts even for keys.
  sh('usermod', ['-p', '*', name])
  const uid = Number(sh('id', ['-u', name]).trim())
  const gid = Number(sh('id', ['-g', name]).trim())
  return { uid, gid, home: `/home/${name}` }
}

export interface Keys {
  privateKey: string
  publicKey: string
}

export function makeKey(dir: string, name: string, passphrase = ''): Keys {
  const file = path.join(dir, name)
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', `${name}@test`, '-f', file])
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8') }
}

export interface Sshd {
  port: number
  dir: string
  /** `[127.0.0.1]:port ssh-ed25519 …` as ssh-keyscan -p prints it. */
  knownHosts: string
  /** A plain `127.0.0.1 ssh-ed25519 …` line, as people paste it. */
  knownHostsPlain: string
  fingerprint: string
  client: Keys
  user: { uid: number; gid: number; home: string }
  /** Connections sshd accepted so far (from its log). */
  connections(): number
  log(): string
  authorize(publicKey: string, options?: string): void
  /** With perUserKeys: sets the only authorized_keys line of `user`. */
  authorizeUser(user: string, publicKey: string, options?: string): void
  stop(): Promise<void>
}

export interface SshdOptions {
  listen?: string
  /**
   * Give this sshd (and every session it starts) its own view of one path: it runs in a private
   * mount namespace (unshare -m) with `source` bind-mounted on `target`. Several sshds with the
   * same target path then each see their own disk, like separate servers.
   */
  bind?: { source: string; target: string; readOnly?: boolean }
  /**
   * Let these users in as well as radtest (AllowUsers), e.g. a dedicated user whose login shell or
   * dotfiles a test changes; radtest is shared by every test, so its shell and dotfiles stay as they are.
   */
  extraUsers?: string[]
  /** Also read each user's own ~/.ssh/authorized_keys (sshd's default), e.g. for a test of init --install. */
  homeAuthorizedKeys?: boolean
  /**
   * One authorized_keys file per user (keys/USER), so an extra user's key can carry its own
   * options (a forced command) without touching radtest's line: see authorizeUser.
   */
  perUserKeys?: boolean
  /** sshd's ForceCommand: every session runs this instead (the original in $SSH_ORIGINAL_COMMAND). */
  forceCommand?: string
  /** sshd's MaxSessions (sessions at once over one connection; 200 unless given). */
  maxSessions?: number
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const user = ensureUser()
  const dir = mkdtempSync('/tmp/radit-')
  chmodSync(dir, 0o755)
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const host = makeKey(dir, 'host_ed25519')
  const client = makeKey(dir, 'client')
  const port = await freePort()
  const listen = opts.listen ?? '127.0.0.1'
  const keysDir = path.join(dir, 'keys')
  mkdirSync(keysDir, { mode: 0o755 })
  const authorized = opts.perUserKeys ? path.join(keysDir, TEST_USER) : path.join(dir, 'authorized_keys')
  const keysFile = opts.perUserKeys ? `${keysDir}/%u` : authorized
  writeFileSync(authorized, client.publicKey, { mode: 0o644 })
  const config = path.join(dir, 'sshd_config')
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${listen}`,
      `HostKey ${dir}/host_ed25519`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${keysFile}${opts.homeAuthorizedKeys ? ' .ssh/authorized_keys' : ''}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin no',
      'PermitUserEnvironment yes',
      'LogLevel VERBOSE',
      'MaxStartups 200:30:400',
      `MaxSessions ${opts.maxSessions ?? 200}`,
      `AllowUsers ${[TEST_USER, ...(opts.extraUsers ?? [])].join(' ')}`,
      ...(opts.forceCommand ? [`ForceCommand ${opts.forceCommand}`] : []),
      '',
    ].join('\n'),
  )
  const logFile = path.join(dir, 'sshd.log')
  writeFileSync(logFile, '')
  const sshdArgv = ['/usr/sbin/sshd', '-D', '-f', config, '-E', logFile]
  const child = opts.bind
    ? spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && { [ "$3" != ro ] || mount -o remount,bind,ro "$2"; } && shift 3 && exec "$@"',
          'sh',
          opts.bind.source,
          opts.bind.target,
          opts.bind.readOnly ? 'ro' : 'rw',
          ...sshdArgv,
        ],
        { stdio: 'ignore' },
      )
    : spawn(sshdArgv[0] as string, sshdArgv.slice(1), { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, listen, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`sshd did not start: ${readFileSync(logFile, 'utf8')}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  // Wait until sshd has logged the readiness probe, so tests that count connections start from a settled log.
  while (!/Connection from/.test(readFileSync(logFile, 'utf8')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
  }
  const hostPub = host.publicKey.trim().split(' ').slice(0, 2).join(' ')
  const bracket = listen.includes(':') ? `[${listen}]` : listen
  const fingerprint = sh('ssh-keygen', ['-lf', `${dir}/host_ed25519.pub`]).split(' ')[1] ?? ''
  // The readiness probe above counts as one connection: tests measure differences.
  return {
    port,
    dir,
    knownHosts: `[${bracket.replace(/^\[|\]$/g, '')}]:${port} ${hostPub}\n`,
    knownHostsPlain: `${listen} ${hostPub}\n`,
    fingerprint,
    client,
    user,
    connections: () =>
      (readFileSync(logFile, 'utf8').match(/^.*Connection from .* port \d+ on /gm) ?? []).length,
    log: () => readFileSync(logFile, 'utf8'),
    authorize: (publicKey: string, options = '') =>
      writeFileSync(authorized, `${options ? `${options} ` : ''}${publicKey.trim()}\n`, { mode: 0o644 }),
    authorizeUser: (name: string, publicKey: string, options = '') =>
      writeFileSync(path.join(keysDir, name), `${options ? `${options} ` : ''}${publicKey.trim()}\n`, {
        mode: 0o644,
      }),
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A directory the deploy user owns, to deploy into. */
export function makeTargetRoot(sshd: Sshd): string {
  const root = mkdtempSync('/tmp/radsrv-')
  chownSync(root, sshd.user.uid, sshd.user.gid)
  chmodSync(root, 0o755)
  return root
}

/** Writes a site: { 'path/name': content }. */
export function writeSite(dir: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name)
    mkdirSync(path.dirname(p), { recursive: true })
    writeFileSync(p, content)
  }
}

export interface ActionRun {
  code: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  post?: { code: number; stdout: string; stderr: string }
  durationMs: number
}

/** Parses the runner's file-command format: `name<<DELIM\nvalue\nDELIM` (and plain `name=value`). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const m = /^([^=<]+)<<(.+)$/.exec(line)
    if (m) {
      const [, name, delim] = m
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i] as string)
      out[name as string] = value.join('\n')
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return out
}

function spawnCollect(
  node: string,
  env: NodeJS.ProcessEnv,
  opts: {
    killAfterMs?: number
    signal?: NodeJS.Signals
    onStdout?: (s: string) => void
    /** Polled every 20 ms; the step is killed (with `signal`) the first time it returns true. */
    killWhen?: () => boolean
    /** Another build's index.js than DIST (bench:profile compares builds). */
    dist?: string
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(node, [opts.dist ?? DIST], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
      opts.onStdout?.(String(d))
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    if (opts.killAfterMs !== undefined) {
      setTimeout(() => child.kill(opts.signal ?? 'SIGINT'), opts.killAfterMs)
    }
    let poll: NodeJS.Timeout | undefined
    if (opts.killWhen) {
      const when = opts.killWhen
      poll = setInterval(() => {
        if (when()) {
          clearInterval(poll)
          child.kill(opts.signal ?? 'SIGINT')
        }
      }, 20)
    }
    child.on('close', (code) => {
      if (poll) clearInterval(poll)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

/** Runs dist/index.js as the runner does: main step, then (optionally) the post step. */
export async function runAction(
  inputs: Record<string, string>,
  opts: {
    node?: string
    workspace?: string
    post?: boolean
    env?: Record<string, string>
    killAfterMs?: number
    signal?: NodeJS.Signals
    onStdout?: (s: string) => void
    killWhen?: () => boolean
    dist?: string
  } = {},
): Promise<ActionRun> {
  const dir = mkdtempSync('/tmp/radrun-')
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
  }
  for (const f of Object.values(files)) writeFileSync(f, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: opts.workspace ?? dir,
    GITHUB_REPOSITORY: 'example/site',
    GITHUB_RUN_ID: '1234',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/tags/v1.0.0',
    GITHUB_REF_NAME: 'v1.0.0',
    GITHUB_REF_TYPE: 'tag',
    GITHUB_ACTOR: 'tester',
    RUNNER_TEMP: dir,
    ...files,
    ...(opts.env ?? {}),
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  const started = Date.now()
  const main = await spawnCollect(opts.node ?? process.execPath, env, opts)
  const durationMs = Date.now() - started
  const state = parseFileCommands(readFileSync(files.GITHUB_STATE, 'utf8'))
  const result: ActionRun = {
    ...main,
    outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    state,
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    durationMs,
  }
  if (opts.post !== false) {
    const postEnv: NodeJS.ProcessEnv = { ...env }
    for (const [k, v] of Object.entries(state)) postEnv[`STATE_${k}`] = v
    result.post = await spawnCollect(opts.node ?? process.execPath, postEnv)
  }
  rmSync(dir, { recursive: true, force: true })
  return result
}

/** Runs only the post step, with the state a main step saved (e.g. one run with `post: false`). */
export function runPost(
  state: Record<string, string>,
  opts: { node?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME }
  for (const [k, v] of Object.entries(state)) env[`STATE_${k}`] = v
  return spawnCollect(opts.node ?? process.execPath, env)
}

/** Inputs for a deploy to this sshd; override what a test varies. */
export function baseInputs(sshd: Sshd, target: string, source: string): Record<string, string> {
  return {
    host: `${TEST_USER}@127.0.0.1:${sshd.port}`,
    key: sshd.client.privateKey,
    'known-hosts': sshd.knownHosts,
    source,
    target,
  }
}

/** Inputs for a command that takes no source (rollback, list, prune, unlock) on this sshd. */
export function commandInputs(
  sshd: Sshd,
  target: string,
  command: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { source: _, ...base } = baseInputs(sshd, target, '')
  return { ...base, command, ...extra }
}

export function linkTarget(p: string): string {
  return readlinkSync(p)
}

export function inode(p: string): number {
  return statSync(p).ino
}

export function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

export function listDir(p: string): string[] {
  try {
    return readdirSync(p).sort()
  } catch {
    return []
  }
}

/** Every file under dir with its content, for whole-tree comparisons. */
export function readTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name)
    const st = lstatSync(p)
    const rel = prefix ? `${prefix}/${name}` : name
    if (st.isDirectory()) Object.assign(out, readTree(p, rel))
    else if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`
    else out[rel] = readFileSync(p, 'utf8')
  }
  return out
}

/** The text of the step's `::error::` commands, unescaped as the runner shows it. */
export function errorText(run: { stdout: string }): string {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length).replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'))
    .join('\n')
}

/** A TCP listener that accepts connections and never says a word (an SSH port behind a black hole). */
export async function silentListener(host = '127.0.0.1'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const srv = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => srv.listen(0, host, resolve))
  const addr = srv.address()
  if (typeof addr !== 'object' || !addr) throw new Error('no port')
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        srv.close(() => resolve())
      }),
  }
}

/**
 * A directory to use as PATH on the server: symlinks to every file of /usr/bin except `without`
 * (authorized_keys `environment="PATH=<dir>"`, with PermitUserEnvironment yes). Remove it when done.
 */
export function pathWithout(without: string[]): string {
  const dir = mkdtempSync('/tmp/radpath-')
  chmodSync(dir, 0o755)
  for (const name of readdirSync('/usr/bin')) {
    if (!without.includes(name)) symlinkSync(path.join('/usr/bin', name), path.join(dir, name))
  }
  return dir
}

/** Pids of processes whose command line holds `needle` (a hook's tag, an ssh dir). */
export function processesWith(needle: string): number[] {
  const pids: number[] = []
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) pids.push(Number(pid))
    } catch {}
  }
  return pids
}

/** Pids of running `ssh` processes whose command line contains `needle` (e.g. a ControlMaster). */
export function sshProcessesWith(needle: string): number[] {
  const pids: number[] = []
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (path.basename(argv[0] ?? '') === 'ssh' && argv.some((a) => a.includes(needle)))
        pids.push(Number(pid))
    } catch {}
  }
  return pids
}

/** Command lines of every running process (for "this secret never reaches argv" checks). */
export function allCommandLines(): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '))
    } catch {}
  }
  return out
}

/**
 * This machine's pid space as a deploy lock's holder record names it (machine id, boot id, pid
 * namespace, as the remote script prints them): a planted lock "from this machine" uses it.
 */
export function pidSpace(): string {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim()
    } catch {
      return ''
    }
  }
  const ns = readlinkSync('/proc/self/ns/pid')
  const raw = `m=${read('/etc/machine-id') || read('/var/lib/dbus/machine-id')},b=${read('/proc/sys/kernel/random/boot_id')},n=${ns}`
  return raw.replace(/[^A-Za-z0-9=,-]/g, '')
}
