/**
 * Issue 10 items where the tool must not hand out or wander: the environment of ssh and rsync
 * (no INPUT_KEY), the health check's credentials and redirects, a source that holds the private
 * temp dir, the host-key hint through a jump host, and resuming a big file after a cancelled upload.
 * All against the real sshd with the bundled dist/index.js, as the runner runs it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { expectOk, printed } from '../support/expect.js'
import { errorText, linkTarget, listDir, startSshd, TEST_USER } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const suite = useSshd()
const { sshd, tmp, newTarget, sourceDir, viaPort } = suite

const site = (version: string) => sourceDir({ 'index.html': `<h1>${version}</h1>\n` })

/** The bundle deploying release `id` (a build of its own) to target. */
const deploy = (target: string, id: string, inputs: Record<string, string> = {}) =>
  suite.deploy(target, site(id), { 'release-id': id, ...inputs })

/** Every file under dir, recursively, relative paths. */
function allPaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
}

describe('child processes never see the key', () => {
  it('ssh and rsync (and the ssh rsync runs) get no INPUT_KEY, INPUT_KEY-PASSPHRASE or key text', async () => {
    // Wrappers first on PATH: each records its environment, then runs the real program.
    const bin = tmp('radwrap-')
    const dumps = tmp('radenv-')
    for (const prog of ['ssh', 'rsync']) {
      const real = path.join('/usr/bin', prog)
      writeFileSync(path.join(bin, prog), `#!/bin/sh\nenv > ${dumps}/${prog}.$$\nexec ${real} "$@"\n`, {
        mode: 0o755,
      })
    }
    for (const prog of ['ssh-keygen', 'ssh-keyscan']) symlinkSync(`/usr/bin/${prog}`, path.join(bin, prog))
    const target = newTarget()
    const run = await suite.deploy(
      target,
      site('env'),
      { 'release-id': 'e1', 'key-passphrase': 'pp-1234' },
      { env: { PATH: `${bin}:${process.env.PATH}` } },
    )
    expectOk(run)
    expect(linkTarget(`${target}/current`)).toBe('releases/e1')
    const files = readdirSync(dumps)
    // The master, the script calls, rsync (its version check before connecting, then the
    // transfer), and the ssh that rsync started.
    expect(files.filter((f) => f.startsWith('ssh.')).length).toBeGreaterThanOrEqual(3)
    expect(files.filter((f) => f.startsWith('rsync.')).length).toBe(2)
    for (const f of files) {
      const env = readFileSync(path.join(dumps, f), 'utf8')
      expect(env, f).not.toMatch(/^INPUT_/m)
      expect(env, f).not.toContain('PRIVATE KEY')
      expect(env, f).not.toContain(sshd.client.privateKey.split('\n')[1] ?? 'x')
    }
  })
})

describe('healthcheck-url with credentials and redirects', () => {
  const servers: http.Server[] = []
  afterAll(() => {
    for (const s of servers) s.close()
  })
  async function serve(handler: http.RequestListener): Promise<number> {
    const s = http.createServer(handler)
    servers.push(s)
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
    return (s.address() as AddressInfo).port
  }

  it('sends user:pass as Basic auth, never prints it or a query token, and follows no redirect off the host', async () => {
    let elsewhere = 0
    const otherPort = await serve((_req, res) => {
      elsewhere++
      res.end('ok')
    })
    const good = `Basic ${Buffer.from('ops:Sup3rSecret').toString('base64')}`
    const port = await serve((req, res) => {
      if (req.url?.startsWith('/away')) {
        // Same address, another host name: off the URL's host.
        res.writeHead(302, { location: `http://localhost:${otherPort}/landing?leak=1` })
        res.end()
        return
      }
      res.writeHead(req.headers.authorization === good ? 200 : 401)
      res.end()
    })
    const target = newTarget()
    const url = (p: string) => `http://ops:Sup3rSecret@127.0.0.1:${port}${p}?token=T0kenValue`

    const ok = await deploy(target, 'h1', { 'healthcheck-url': url('/health') })
    expectOk(ok)
    expect(linkTarget(`${target}/current`)).toBe('releases/h1')
    expect(printed(ok)).not.toContain('Sup3rSecret')
    expect(printed(ok)).not.toContain('T0kenValue')
    expect(ok.stdout).toContain(`Health check http://***@127.0.0.1:${port}/health?token=***: 200`)

    const away = await deploy(target, 'h2', { 'healthcheck-url': url('/away') })
    expect(away.code).not.toBe(0)
    expect(elsewhere).toBe(0)
    expect(errorText(away)).toMatch(
      /redirected to another host \(http:\/\/localhost:\d+\/landing\?leak=\*\*\*\)/,
    )
    expect(printed(away)).not.toContain('Sup3rSecret')
    expect(printed(away)).not.toContain('T0kenValue')
    // The failed check switched back.
    expect(linkTarget(`${target}/current`)).toBe('releases/h1')
  })
})

describe('a source that holds the private temp dir', () => {
  it('source: /tmp is refused before anything connects (the key would be uploaded)', async () => {
    const target = newTarget()
    const c0 = sshd.connections()
    const run = await suite.deploy(target, '/tmp')
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(
      /Input 'source': '\/tmp' \(\/tmp\) contains \/tmp, where this tool keeps the deploy key/,
    )
    expect(sshd.connections()).toBe(c0)
    expect(existsSync(target)).toBe(false)
  })
})

describe('the host-key hint through a jump host', () => {
  it('scans the server through the jump host, the way the deploy connects', async () => {
    const jump = await startSshd()
    const other = await startSshd()
    try {
      jump.authorize(sshd.client.publicKey)
      const target = newTarget()
      const before = jump.connections()
      const run = await suite.deploy(target, site('j1'), {
        'jump-host': `${TEST_USER}@127.0.0.1:${jump.port}`,
        // The jump host's key is right; the server's is another server's.
        'known-hosts': `${jump.knownHosts}${other.knownHosts.replace(`:${other.port}]`, `:${sshd.port}]`)}`,
      })
      expect(run.code).not.toBe(0)
      const err = errorText(run)
      expect(err).toMatch(/Host key verification failed for radtest@127\.0\.0\.1:\d+/)
      // The key the server really offers, read through the jump: the connect and the scan.
      expect(err).toContain(sshd.fingerprint)
      expect(err).toContain('on the jump host')
      expect(jump.connections() - before).toBe(2)
      expect(existsSync(`${target}/current`)).toBe(false)
    } finally {
      await jump.stop()
      await other.stop()
    }
  })
})

describe('resume', () => {
  it('a re-run after a cancelled upload of a big file sends only the part not yet on the server', async () => {
    const target = newTarget()
    const size = 12_000_000
    const src = sourceDir({ 'index.html': '<h1>big</h1>\n', 'media/big.bin': randomBytes(size) })
    const incoming = `${target}/.deploy/incoming`
    // rsync's temp file for big.bin in this attempt's upload dir (.big.bin.XXXXXX).
    const received = () => {
      let n = 0
      for (const d of listDir(incoming).filter((x) => x.startsWith('b1.'))) {
        for (const f of listDir(path.join(incoming, d, 'media'))) {
          if (f.startsWith('.big.bin.')) n = Math.max(n, statSync(path.join(incoming, d, 'media', f)).size)
        }
      }
      return n
    }
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 3_000_000 })
    try {
      const killed = await suite.deploy(
        target,
        src,
        { ...viaPort(link.port), 'release-id': 'b1' },
        { killWhen: () => received() >= size / 3, signal: 'SIGINT' },
      )
      expect(killed.code).not.toBe(0)
    } finally {
      await link.stop()
    }
    expect(existsSync(`${target}/current`)).toBe(false)
    const partial = `${incoming}/.rsync-partial/big.bin`
    expect(existsSync(partial)).toBe(true)
    const kept = statSync(partial).size
    expect(kept).toBeGreaterThanOrEqual(size / 4)

    const rerun = await suite.deploy(target, src, { 'release-id': 'b2' })
    expectOk(rerun)
    const sent = Number(rerun.outputs['bytes-sent'])
    console.log(`resume: ${kept} bytes kept from the cancelled upload; the re-run sent ${sent} of ${size}`)
    expect(sent).toBeLessThan(size - kept / 2)
    expect(linkTarget(`${target}/current`)).toBe('releases/b2')
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
    expect(sha(`${target}/releases/b2/media/big.bin`)).toBe(sha(`${src}/media/big.bin`))
    expect(allPaths(`${target}/releases/b2`).sort()).toEqual(['index.html', 'media', 'media/big.bin'])
    expect(allPaths(`${target}/releases/b2`).some((p) => p.includes('rsync-partial'))).toBe(false)
    // Used up: the partial file is gone.
    expect(existsSync(partial)).toBe(false)
  })
})
