/**
 * A real nginx on loopback serving deploy roots the way a production site does:
 *
 *   server { listen 127.0.0.1:PORT; root TARGET/current; location / { try_files $uri $uri/ =404; } }
 *
 * `root` names the symlink, so nginx resolves `current` afresh on every open(2) of a file, and a
 * rename of the link switches what it serves between one request and the next. With
 * `open_file_cache` on, nginx keeps descriptors (and stat results) of files it opened for
 * `open_file_cache_valid` and serves those until it checks the path again.
 * Those checks run per path, each on its own clock, so for up to that long after a switch one
 * request can get a file of the old release and the next one a file of the new release.
 * `pinRelease` resolves the link once per request instead (`set $release_root $realpath_root;` and
 * `root $release_root;`): every file of a request then comes from one release directory, and the
 * cache, keyed by the resolved path, only ever holds files of immutable releases.
 * (PHP is a case of its own: it caches the resolved script path and must be given `$realpath_root`
 * as SCRIPT_FILENAME / DOCUMENT_ROOT.)
 *
 * The master runs as root (we are root in these tests), the worker as the deploy user, so it reads
 * exactly what the world may read. Everything nginx writes stays in a private temp dir.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { freePort, TEST_USER } from './harness.js'

export const NGINX = '/usr/sbin/nginx'

export interface NginxSite {
  /** The deploy root: the server's root is `<target>/<link>`. */
  target: string
  /** Name of the link (or, for an in-place baseline, the directory) served; default current. */
  link?: string
  /** `open_file_cache max=1000 inactive=20s; open_file_cache_valid 1s;` for this server. */
  openFileCache: boolean
  /** Resolve the link once per request: `set $release_root $realpath_root;` + `root $release_root;`. */
  pinRelease?: boolean
}

export interface Nginx {
  /** One port per site, in the order given. */
  ports: number[]
  /** nginx's error log so far. */
  errorLog(): string
  /** Stops nginx (TERM, then KILL) and deletes its directory. */
  stop(): Promise<void>
}

function quoted(p: string): string {
  if (!path.isAbsolute(p) || /["$\\;{}\s]/.test(p)) throw new Error(`startNginx: unusable path ${p}`)
  return `"${p}"`
}

export function nginxConfig(dir: string, sites: (NginxSite & { port: number })[]): string {
  const servers = sites.map((s) =>
    [
      '  server {',
      `    listen 127.0.0.1:${s.port};`,
      `    root ${quoted(path.join(s.target, s.link ?? 'current'))};`,
      ...(s.openFileCache
        ? ['    open_file_cache max=1000 inactive=20s;', '    open_file_cache_valid 1s;']
        : []),
      ...(s.pinRelease ? ['    set $release_root $realpath_root;'] : []),
      '    location / {',
      ...(s.pinRelease ? ['      root $release_root;'] : []),
      '      try_files $uri $uri/ =404;',
      '    }',
      '  }',
    ].join('\n'),
  )
  return `${[
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `user ${TEST_USER};`,
    `pid ${quoted(path.join(dir, 'nginx.pid'))};`,
    `error_log ${quoted(path.join(dir, 'error.log'))} warn;`,
    'events {',
    '  worker_connections 256;',
    '}',
    'http {',
    '  access_log off;',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  keepalive_timeout 30s;',
    `  client_body_temp_path ${quoted(path.join(dir, 'body'))};`,
    `  proxy_temp_path ${quoted(path.join(dir, 'proxy'))};`,
    `  fastcgi_temp_path ${quoted(path.join(dir, 'fastcgi'))};`,
    ...servers,
    '}',
  ].join('\n')}\n`
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

export async function startNginx(sites: NginxSite[]): Promise<Nginx> {
  const dir = mkdtempSync('/tmp/radnginx-')
  chmodSync(dir, 0o755)
  const withPorts: (NginxSite & { port: number })[] = []
  for (const s of sites) withPorts.push({ ...s, port: await freePort() })
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, withPorts))
  const errFile = path.join(dir, 'error.log')
  writeFileSync(errFile, '')
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', errFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const deadline = Date.now() + 10_000
  for (const s of withPorts) {
    while (!(await listening(s.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`nginx did not start: ${stderr}${readFileSync(errFile, 'utf8')}`)
      }
      await new Promise((r) => setTimeout(r, 30))
    }
  }
  return {
    ports: withPorts.map((s) => s.port),
    errorLog: () => readFileSync(errFile, 'utf8'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
