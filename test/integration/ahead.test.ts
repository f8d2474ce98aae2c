/**
 * Publish's session is opened while rsync uploads (HostSession.openAhead), against a real sshd
 * through a slow link: it is there during the upload, waiting for its script, and runs it when the
 * upload is done; a run cancelled during the upload leaves it running nothing, and nothing of
 * that run is published or switched. The sessions are told apart by this file's own sshd: only
 * processes under it count.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { describe, it } from 'vitest'
import { errorText, linkTarget, listDir, readTree } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const { sshd, newTarget, sourceDir, viaPort, deploy } = useSshd()
// A server that allows one session at a time over a connection.
const one = useSshd({ maxSessions: 1 })

/** Every process under this file's first sshd (its sessions and what they run): pid → [ppid, command line]. */
function processesUnderSshd(): Map<number, [number, string]> {
  const root = Number(readFileSync(`${sshd.dir}/sshd.pid`, 'utf8').trim())
  const parent = new Map<number, number>()
  const cmd = new Map<number, string>()
  for (const d of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
      cmd.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim())
    } catch {}
  }
  const out = new Map<number, [number, string]>()
  for (const [pid, line] of cmd) {
    let p = parent.get(pid)
    for (let i = 0; i < 20 && p !== undefined && p > 1; i++, p = parent.get(p)) {
      if (p === root) {
        out.set(pid, [parent.get(pid) ?? 0, line])
        break
      }
    }
  }
  return out
}
const underSshd = () => [...processesUnderSshd().values()].map(([, l]) => l)

const PUBLISH = /^sh -s rad \d+ publishAndSwitch$/
/** The publish scripts' own shells (not the subshells they fork, which carry the same command line). */
function publishPids(): number[] {
  const all = processesUnderSshd()
  return [...all]
    .filter(([, [ppid, l]]) => PUBLISH.test(l) && !PUBLISH.test(all.get(ppid)?.[1] ?? ''))
    .map(([p]) => p)
}
const waitingPublish = () => publishPids()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function build(id: string, mb: number): string {
  const files: Record<string, string | Buffer> = { 'index.html': `<h1>${id}</h1>\n` }
  for (let i = 0; i < mb * 4; i++) files[`media/part-${i}.bin`] = randomBytes(250_000)
  return sourceDir(files)
}

describe("publish's session, opened during the upload", () => {
  it('waits during the upload, then publishes; cancelled, it runs nothing', async ({ expect }) => {
    const target = newTarget()
    const base = build('base', 0.25)
    const first = await deploy(target, base, { 'release-id': 'base' })
    expect(errorText(first)).toBe('')
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 4_000_000, latencyMs: 5 })
    try {
      // A deploy whose upload takes about a second: the publish session is seen waiting meanwhile.
      const src = build('r2', 4)
      let phase: 'before' | 'upload' | 'publish' = 'before'
      let seen = 0
      const during = { upload: new Set<number>(), publish: new Set<number>() }
      const watch = setInterval(() => {
        if (phase === 'before') return
        const pids = publishPids()
        for (const p of pids) during[phase].add(p)
        if (phase === 'upload') seen = Math.max(seen, pids.length)
      }, 20)
      const run = await deploy(
        target,
        src,
        { 'release-id': 'r2', ...viaPort(link.port) },
        {
          onStdout: (s) => {
            if (/::group::.*: upload/.test(s)) phase = 'upload'
            if (/::group::.*: publish/.test(s)) phase = 'publish'
          },
        },
      )
      clearInterval(watch)
      expect(errorText(run), run.stdout).toBe('')
      expect(seen).toBe(1)
      // Publish ran in that session: no other one was opened for it.
      for (const p of during.publish) expect(during.upload.has(p)).toBe(true)
      expect(linkTarget(`${target}/current`)).toBe('releases/r2')
      expect(readTree(`${target}/current`)).toEqual(readTree(src))
      expect(waitingPublish()).toEqual([])

      // Cancelled half-way through the upload: the waiting session gets no script.
      const src3 = build('r3', 8)
      let up = false
      let upAt = -1
      const cancelled = await deploy(
        target,
        src3,
        { 'release-id': 'r3', ...viaPort(link.port) },
        {
          signal: 'SIGINT',
          onStdout: (s) => {
            up ||= /::group::.*: upload/.test(s)
          },
          killWhen: () => {
            if (!up || waitingPublish().length === 0) return false
            if (upAt < 0) upAt = link.bytes().up
            return link.bytes().up - upAt > 300_000
          },
        },
      )
      expect(cancelled.code, cancelled.stdout).not.toBe(0)
      expect(errorText(cancelled)).toMatch(/cancel/i)
      const ours = () => underSshd().filter((l) => l.startsWith('sh -s') || l.startsWith('rsync'))
      for (let i = 0; i < 50 && ours().length > 0; i++) await sleep(100)
      expect(underSshd().filter((l) => l.startsWith('sh -s') || l.startsWith('rsync'))).toEqual([])
      expect(linkTarget(`${target}/current`)).toBe('releases/r2')
      expect(listDir(`${target}/releases`)).toEqual(['base', 'r2'])
      expect(readFileSync(`${target}/.deploy/log`, 'utf8')).not.toContain('"r3"')
    } finally {
      await link.stop()
    }
  }, 60_000)

  it('a server that allows one session per connection: refused beside rsync, publish opens its own', async ({
    expect,
  }) => {
    const target = one.newTarget()
    // Publish's session, opened at prepare's first line, never takes rsync's place there: ssh
    // would take rsync around the master (a second connection, which a key with a passphrase
    // fails). A race when it does, so several deploys, each one connection.
    // Enough files that the fast path's rsync starts during prepare: refused there, it ends, and
    // the upload runs after prepare, over the same connection.
    // The last one has nothing to upload: publish's session opens at prepare's offer, beside
    // prepare's own, is refused (or not yet answered) when publish comes, and publish opens its own.
    const pages: Record<string, string> = {}
    for (let i = 0; i < 2500; i++) pages[`pages/p${i}.html`] = `page ${i}\n`
    let files: Record<string, string | Buffer> = {}
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5']) {
      if (id !== 'r5')
        files = { ...pages, 'index.html': `<h1>${id}</h1>\n`, 'media/a.bin': randomBytes(500_000) }
      const src = one.sourceDir(files)
      const before = one.sshd.connections()
      const run = await one.deploy(target, src, { 'release-id': id })
      expect(errorText(run), run.stdout).toBe('')
      expect(linkTarget(`${target}/current`)).toBe(`releases/${id}`)
      expect(readTree(`${target}/current`)).toEqual(readTree(src))
      expect(one.sshd.connections() - before, `${id}: connections`).toBe(1)
      if (id === 'r5') expect(run.outputs['files-transferred']).toBe('0')
    }
  }, 90_000)

  it("one session at a time, a hook that prints ssh's refusal and fails: it ran once, and the report says the hook failed", async ({
    expect,
  }) => {
    // Sessions are asked again only when ssh itself was refused: never a script that ran, whatever
    // its hook (the server's text) printed.
    const target = one.newTarget()
    const media = (id: string) => {
      const files: Record<string, string | Buffer> = { 'index.html': `<h1>${id}</h1>\n` }
      for (let i = 0; i < 8; i++) files[`media/${i}.bin`] = randomBytes(500_000)
      return one.sourceDir(files)
    }
    expect(errorText(await one.deploy(target, media('r1'), { 'release-id': 'r1' }))).toBe('')
    const count = `${target}/hook-runs`
    const hook = `echo x >> '${count}'; echo 'mux_client_request_session: session request failed: Session open refused by peer' >&2; exit 1`
    const before = one.sshd.connections()
    const run = await one.deploy(target, media('r2'), { 'release-id': 'r2', 'before-switch': hook })
    expect(readFileSync(count, 'utf8')).toBe('x\n')
    expect(errorText(run)).toMatch(/before-switch exited with status 1; nothing was switched/)
    expect(errorText(run)).not.toMatch(/refused a new SSH session|connection dropped/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(one.sshd.connections() - before).toBe(1)
  }, 60_000)
})

describe("the fast path's rsync, started during prepare", () => {
  /** A site of many small files (the server's copy of it takes a while) and a few bigger ones. */
  function manyFiles(id: string, changed: number, count = 4000): Record<string, string | Buffer> {
    const files: Record<string, string | Buffer> = { 'index.html': `<h1>${id}</h1>\n` }
    for (let i = 0; i < count; i++)
      files[`pages/${i % 40}/p${i}.html`] = `page ${i} ${i < changed ? id : ''}\n`
    // The same bytes in every build (unchanged, so hard-linked), and incompressible.
    for (let i = 0; i < 4; i++) files[`media/m${i}.bin`] = media[i] as Buffer
    return files
  }
  const media = [0, 1, 2, 3].map(() => randomBytes(200_000))
  const PREPARE = /^sh -s rad \d+ prepare$/
  const RSYNC = /^rsync --server /

  it('runs beside prepare, uploads the changed files once given its list: the release is right, the rest hard links', async ({
    expect,
  }) => {
    const target = newTarget()
    // Enough files that the server's copy and its offer take a while (the window watched below).
    const first = await deploy(target, sourceDir(manyFiles('r1', 0, 12_000)), { 'release-id': 'r1' })
    expect(errorText(first)).toBe('')
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 6_000_000, latencyMs: 10 })
    try {
      const files = manyFiles('r2', 30, 12_000)
      const src = sourceDir(files)
      // Seen together under the sshd: prepare's script still running, and the upload's rsync.
      let together = false
      const watch = setInterval(() => {
        const lines = underSshd()
        together ||= lines.some((l) => PREPARE.test(l)) && lines.some((l) => RSYNC.test(l))
      }, 5)
      const before = sshd.connections()
      const run = await deploy(target, src, { 'release-id': 'r2', ...viaPort(link.port) })
      clearInterval(watch)
      expect(errorText(run), run.stdout).toBe('')
      expect(together).toBe(true)
      expect(sshd.connections() - before).toBe(1)
      expect(run.outputs['files-transferred']).toBe('31')
      expect(linkTarget(`${target}/current`)).toBe('releases/r2')
      expect(readTree(`${target}/current`)).toEqual(readTree(src))
      // An unchanged file is the live release's inode; a changed one is not.
      const ino = (r: string, f: string) => statSync(`${target}/releases/${r}/${f}`).ino
      expect(ino('r2', 'pages/5/p3005.html')).toBe(ino('r1', 'pages/5/p3005.html'))
      expect(ino('r2', 'media/m1.bin')).toBe(ino('r1', 'media/m1.bin'))
      expect(ino('r2', 'pages/5/p5.html')).not.toBe(ino('r1', 'pages/5/p5.html'))
    } finally {
      await link.stop()
    }
  }, 60_000)

  it('cancelled while it waits for its list: it ends with nothing written, nothing is published', async ({
    expect,
  }) => {
    const target = newTarget()
    // Enough files that the server's copy (and its offer) take a while: rsync waits for its list
    // meanwhile. (Not a slow link: prepare's offer would hold back rsync's session behind it.)
    const r1 = sourceDir(manyFiles('r1', 0, 12_000))
    const first = await deploy(target, r1, { 'release-id': 'r1' })
    expect(errorText(first)).toBe('')
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 6_000_000, latencyMs: 10 })
    try {
      const cancelled = await deploy(
        target,
        sourceDir(manyFiles('r2', 30, 12_000)),
        { 'release-id': 'r2', ...viaPort(link.port) },
        {
          signal: 'SIGINT',
          killWhen: () => {
            const lines = underSshd()
            return lines.some((l) => PREPARE.test(l)) && lines.some((l) => RSYNC.test(l))
          },
        },
      )
      expect(cancelled.code, cancelled.stdout).not.toBe(0)
      expect(errorText(cancelled)).toMatch(/cancel/i)
      const ours = () => underSshd().filter((l) => l.startsWith('sh -s') || RSYNC.test(l))
      for (let i = 0; i < 50 && ours().length > 0; i++) await sleep(100)
      expect(ours()).toEqual([])
      expect(linkTarget(`${target}/current`)).toBe('releases/r1')
      expect(listDir(`${target}/releases`)).toEqual(['r1'])
      expect(readTree(`${target}/current`)).toEqual(readTree(r1))
      // Nothing of the upload was written: no file of r2 anywhere under the target.
      const incoming = listDir(`${target}/.deploy/incoming`).filter((n) => n.startsWith('r2.'))
      for (const n of incoming) {
        const text = Object.entries(readTree(`${target}/.deploy/incoming/${n}`)).filter(
          ([k]) => !k.startsWith('media/'),
        )
        expect(text.filter(([, v]) => v.includes('r2')).map(([k]) => k)).toEqual([])
      }
    } finally {
      await link.stop()
    }
  }, 60_000)
})
