/**
 * One server behind one WAN link, and the four ways of deploying to it that the benchmark compares:
 * this action end to end, the floor (one rsync --link-dest), a full copy, and the by-hand recipe.
 */
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_CHMOD } from '../src/inputs.js'
import { shQuote as q } from '../src/quote.js'
import { parseStats, rsyncArgs } from '../src/rsync.js'
import { runAction, type Sshd, type SshdOptions, startSshd, TEST_USER } from '../test/support/harness.js'
import { startThrottle, type Throttle } from '../test/support/throttle.js'
import { BYTES_PER_SECOND, CFG } from './config.js'
import { groupPhases, type NamedPhase, type Phases, phasesOf } from './measure.js'
import { cleanups, exec, must, stopSshd, type Timed } from './proc.js'

/** The sshd, the WAN link in front of it, and the raw tools' ssh setup. */
export interface Server {
  sshd: Sshd
  /** The pid of the sshd listener: its I/O counters sum up its ended sessions. */
  sshdPid: number
  link: Throttle
  /** The ssh config the raw tools use: hosts `wan`, `lan` and `wanmux` (over a master). */
  sshConfig: string
  /** rsync's -e for that config. */
  rsh: string
  /** A known_hosts line for the sshd of `s` reached on `port`. */
  khFor(port: number, s: Sshd): string
  ssh(via: string, command: string): Promise<Timed>
  /** A fresh directory under the work dir, owned by the deploy user. */
  serverDir(name: string): string
}

/** `name` keeps a second server's files apart; `sshd` its options (e.g. a ForceCommand). */
export async function startServer(
  base: string,
  opts: { name?: string; sshd?: SshdOptions } = {},
): Promise<Server> {
  const sshd = await startSshd(opts.sshd)
  cleanups.push(() => stopSshd(sshd))
  const link = await startThrottle({
    targetPort: sshd.port,
    bytesPerSecond: BYTES_PER_SECOND,
    latencyMs: CFG.rttMs / 2,
  })
  cleanups.push(() => link.stop())
  const hostPub = (s: Sshd) => s.knownHostsPlain.trim().split(' ').slice(1).join(' ')
  const khFor = (port: number, s: Sshd) => `[127.0.0.1]:${port} ${hostPub(s)}\n`

  // The raw tools' ssh setup: the same kind of config the action writes (key, pinned host key, batch).
  const sshDir = path.join(base, `${opts.name ?? ''}ssh`)
  mkdirSync(sshDir, { mode: 0o700 })
  writeFileSync(path.join(sshDir, 'key'), sshd.client.privateKey, { mode: 0o600 })
  writeFileSync(path.join(sshDir, 'known_hosts'), khFor(link.port, sshd) + khFor(sshd.port, sshd))
  const sshConfig = path.join(sshDir, 'config')
  writeFileSync(
    sshConfig,
    [
      'Host wan',
      '  HostName 127.0.0.1',
      `  Port ${link.port}`,
      'Host lan',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      // The WAN again, through a master connection opened beforehand (to take the handshake apart).
      'Host wanmux',
      '  HostName 127.0.0.1',
      `  Port ${link.port}`,
      `  ControlPath ${sshDir}/cm`,
      // Loopback through a master, to time the handshake alone without the WAN.
      'Host lanmux',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      `  ControlPath ${sshDir}/cml`,
      'Host *',
      `  User ${TEST_USER}`,
      `  IdentityFile ${sshDir}/key`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${sshDir}/known_hosts`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  UpdateHostKeys no',
      '  BatchMode yes',
      '  ControlMaster no',
      '  ControlPath none',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  )
  const rsh = `ssh -F ${sshConfig}`
  // The master the floor is taken apart over daemonises (-f): close it should a run stop half-way.
  cleanups.push(async () => {
    await exec('ssh', ['-F', sshConfig, '-O', 'exit', 'wanmux'], { quiet: true })
    await exec('ssh', ['-F', sshConfig, '-O', 'exit', 'lanmux'], { quiet: true })
  })
  const ssh = (via: string, command: string) => must('ssh', ['-F', sshConfig, via, command])

  const serverDir = (name: string) => {
    const d = path.join(base, name)
    mkdirSync(d)
    chownSync(d, sshd.user.uid, sshd.user.gid)
    return d
  }
  const sshdPid = Number(readFileSync(path.join(sshd.dir, 'sshd.pid'), 'utf8'))
  return { sshd, sshdPid, link, sshConfig, rsh, khFor, ssh, serverDir }
}

export interface Method {
  key: 'ours' | 'floor' | 'inplace' | 'full' | 'recipe' | 'mtime'
  label: string
  root: string
  release(k: number): string
  deploy(
    k: number,
    via: 'wan' | 'lan',
    src: string,
  ): Promise<{ ms: number; filesSent: number; phases?: Phases; named?: NamedPhase[] }>
}

/** a, b, c and d, in this order. */
export type Methods = [ours: Method, floor: Method, full: Method, recipe: Method]

/** Opens a master connection to `via` as the action does (ssh -M -N -f); it persists `persistS` seconds. */
export function openMaster(server: Server, via: 'wanmux' | 'lanmux', persistS: number): Promise<Timed> {
  const args = ['-M', '-N', '-f', '-o', 'ControlMaster=yes', '-o', `ControlPersist=${persistS}`, via]
  return must('ssh', ['-F', server.sshConfig, ...args], { quiet: true })
}

/** The SSH handshake alone: a master opened, then closed. */
export async function handshakeMs(server: Server, via: 'wanmux' | 'lanmux'): Promise<number> {
  const r = await openMaster(server, via, 60)
  await exec('ssh', ['-F', server.sshConfig, '-O', 'exit', via], { quiet: true })
  return r.ms
}

/** The floor's rsync: the action's own flags (rsyncArgs) and --link-dest, into dest. */
export function floorArgs(
  server: Server,
  k: number,
  via: string,
  src: string,
  dest: string,
  progress: boolean,
  linkDest?: string,
): string[] {
  return rsyncArgs({
    source: src,
    destination: `${via}:${dest}/`,
    linkDest: linkDest ? [linkDest] : k > 1 ? [`../r${k - 1}`] : [],
    chmod: DEFAULT_CHMOD,
    exclude: [],
    filter: [],
    rsh: server.rsh,
    dryRun: false,
    ioTimeout: 120,
    progress,
  })
}

/** a, b, c and d, each with its own deploy root on the server (`<prefix>srv-<method>`). */
export function makeMethods(server: Server, actionNode: string, prefix = ''): Methods {
  const { sshd, link, khFor, ssh, rsh } = server
  const serverDir = (name: string) => server.serverDir(`${prefix}${name}`)
  const ours: Method = {
    key: 'ours',
    label: 'a. this action (end to end)',
    root: serverDir('srv-ours'),
    release(k) {
      return path.join(this.root, 'releases', `r${k}`)
    },
    async deploy(k, via, src) {
      const port = via === 'wan' ? link.port : sshd.port
      const marks: { t: number; line: string }[] = []
      let partial = ''
      const t0 = Date.now()
      const run = await runAction(
        {
          host: `${TEST_USER}@127.0.0.1:${port}`,
          key: sshd.client.privateKey,
          'known-hosts': khFor(port, sshd),
          source: src,
          target: this.root,
          'release-id': `r${k}`,
          'keep-releases': '0',
        },
        {
          node: actionNode,
          onStdout: (chunk) => {
            const t = Date.now()
            const lines = (partial + chunk).split('\n')
            partial = lines.pop() ?? ''
            for (const line of lines) marks.push({ t, line })
          },
        },
      )
      if (run.code !== 0 || run.post?.code !== 0) {
        throw new Error(
          `the action failed (${run.code}, post ${run.post?.code}):\n${run.stdout}\n${run.stderr}`,
        )
      }
      return {
        ms: run.durationMs,
        filesSent: Number(run.outputs['files-transferred']),
        phases: phasesOf(marks, t0, t0 + run.durationMs),
        named: groupPhases(marks, t0, t0 + run.durationMs),
      }
    },
  }

  const floor: Method = {
    key: 'floor',
    label: 'b. floor: one rsync --link-dest',
    root: serverDir('srv-floor'),
    release(k) {
      return path.join(this.root, `r${k}`)
    },
    async deploy(k, via, src) {
      const r = await must('rsync', floorArgs(server, k, via, src, this.release(k), false))
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }

  const full: Method = {
    key: 'full',
    label: 'c. full copy (rsync, no --link-dest)',
    root: serverDir('srv-full'),
    release(k) {
      return path.join(this.root, `r${k}`)
    },
    async deploy(k, via, src) {
      const r = await must('rsync', [
        '--recursive',
        '--links',
        '--perms',
        `--chmod=${DEFAULT_CHMOD}`,
        '--stats',
        '--no-human-readable',
        '-e',
        rsh,
        `${src}/`,
        `${via}:${this.release(k)}/`,
      ])
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }

  const recipe: Method = {
    key: 'recipe',
    label: 'd. by hand: cp -al + rsync -a + ln + mv',
    root: serverDir('srv-recipe'),
    release(k) {
      return path.join(this.root, 'releases', `r${k}`)
    },
    async deploy(k, via, src) {
      const t = performance.now()
      const rel = this.release(k)
      if (k === 1) await ssh(via, `mkdir -p ${q(rel)}`)
      else await ssh(via, `cp -al ${q(this.release(k - 1))} ${q(rel)}`)
      const r = await must('rsync', [
        '-a',
        '--delete',
        '--stats',
        '--no-human-readable',
        '-e',
        rsh,
        `${src}/`,
        `${via}:${rel}/`,
      ])
      await ssh(via, `ln -s ${q(`releases/r${k}`)} ${q(`${this.root}/current.tmp`)}`)
      await ssh(via, `mv -T ${q(`${this.root}/current.tmp`)} ${q(`${this.root}/current`)}`)
      return { ms: performance.now() - t, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }
  return [ours, floor, full, recipe]
}

/**
 * e. the popular non-atomic way: one `rsync -rlpzc --delete build/ host:/live/` straight into the
 * live directory (no releases, no switch: visitors see a half-updated site while it runs).
 */
export function makeInplace(server: Server, prefix: string): Method {
  return {
    key: 'inplace',
    label: 'e. in place: rsync -rlpzc --delete into live',
    root: server.serverDir(`${prefix}srv-inplace`),
    release() {
      return path.join(this.root, 'live')
    },
    async deploy(_k, via, src) {
      const r = await must('rsync', [
        '-rlpzc',
        '--delete',
        `--chmod=${DEFAULT_CHMOD}`,
        '--stats',
        '--no-human-readable',
        '-e',
        server.rsh,
        `${src}/`,
        `${via}:${this.release(1)}/`,
      ])
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }
}

/**
 * f. an mtime-based rsync (`-rlpt --link-dest`, no -c: the quick check on size and mtime), for the
 * big site's question of what not re-reading the live release costs. Deployed with the build's
 * mtimes as they were at its last deploy, so its quick check can succeed (its best case).
 */
export function makeMtime(server: Server, prefix: string): Method {
  return {
    key: 'mtime',
    label: 'f. mtime rsync -rlpt --link-dest (build mtimes kept)',
    root: server.serverDir(`${prefix}srv-mtime`),
    release(k) {
      return path.join(this.root, `r${k}`)
    },
    async deploy(k, via, src) {
      const r = await must('rsync', [
        '-rlpt',
        `--chmod=${DEFAULT_CHMOD}`,
        '--stats',
        '--no-human-readable',
        ...(k > 1 ? [`--link-dest=../r${k - 1}`] : []),
        '-e',
        server.rsh,
        `${src}/`,
        `${via}:${this.release(k)}/`,
      ])
      return { ms: r.ms, filesSent: parseStats(r.stdout).filesTransferred }
    },
  }
}
