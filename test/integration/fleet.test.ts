import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  linkTarget,
  listDir,
  readTree,
  runAction,
  type Sshd,
  startSshd,
  TEST_USER,
  writeSite,
} from '../support/harness.js'

/**
 * Four "servers": sshds each in its own mount namespace, each seeing its own directory at the same
 * target path. Host 3's target is mounted read-only.
 */
const base = mkdtempSync('/tmp/radfleet-')
const target = `${base}/srv`
const hostDirs = [0, 1, 2, 3].map((i) => `${base}/host${i}`)
let servers: Sshd[] = []

beforeAll(async () => {
  chmodSync(base, 0o755)
  mkdirSync(target)
  servers = await Promise.all(
    hostDirs.map((dir, i) => {
      mkdirSync(dir)
      return startSshd({ bind: { source: dir, target, readOnly: i === 3 } })
    }),
  )
  for (const dir of hostDirs) chownSync(dir, servers[0]?.user.uid ?? 0, servers[0]?.user.gid ?? 0)
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  rmSync(base, { recursive: true, force: true })
})

function inputs(hosts: number[], extra: Record<string, string> = {}): Record<string, string> {
  const picked = hosts.map((i) => servers[i] as Sshd)
  return {
    host: picked.map((s) => `${TEST_USER}@127.0.0.1:${s.port}`).join('\n'),
    key: servers[0]?.client.privateKey ?? '',
    'known-hosts': picked.map((s) => s.knownHosts).join(''),
    target,
    ...extra,
  }
}

/** All servers accept the first server's client key. */
function shareKeys(): void {
  for (const s of servers) s.authorize(servers[0]?.client.publicKey ?? '')
}

function site(version: string): string {
  const src = mkdtempSync('/tmp/radsrc-')
  const files: Record<string, string> = { 'index.html': `<h1>${version}</h1>\n` }
  for (let i = 0; i < 20; i++) files[`a/${i}.txt`] = `file ${i}\n`.repeat(50)
  writeSite(src, files)
  return src
}

const live = (i: number) => linkTarget(`${hostDirs[i]}/current`)

describe('a fleet: many hosts, one release, all or nothing', () => {
  it('deploys the same release to three hosts over one connection each', async () => {
    shareKeys()
    const before = servers.map((s) => s.connections())
    const src = site('r1')
    const run = await runAction({ ...inputs([0, 1, 2]), source: src, 'release-id': 'r1' })
    expect(run.stdout).not.toMatch(/::error::/)
    expect(run.code).toBe(0)
    for (const i of [0, 1, 2]) {
      expect(live(i)).toBe('releases/r1')
      expect(readTree(`${hostDirs[i]}/current`)).toEqual(readTree(src))
      expect((servers[i] as Sshd).connections() - (before[i] ?? 0)).toBe(1)
    }
    const hosts = JSON.parse(run.outputs.hosts ?? '[]') as Record<string, unknown>[]
    expect(hosts).toHaveLength(3)
    for (const h of hosts) {
      expect(h).toMatchObject({ 'release-id': 'r1', status: 'deployed', 'files-transferred': 21 })
      expect(Number(h['duration-ms'])).toBeGreaterThan(0)
    }
    expect(run.summary.match(/<tr><td>radtest@/g)).toHaveLength(3)
  })

  it('switches no host when one host fails before the switch (read-only target), and cleans the uploads', async () => {
    const run = await runAction({ ...inputs([0, 1, 3]), source: site('r2'), 'release-id': 'r2' })
    expect(run.code).not.toBe(0)
    expect(run.stdout).toMatch(/::error::.*1 of 3 hosts failed before the switch; no host was switched/)
    expect(run.stdout).toMatch(/not writable/)
    for (const i of [0, 1]) {
      expect(live(i)).toBe('releases/r1')
      expect(listDir(`${hostDirs[i]}/releases`)).toEqual(['r1'])
      expect(listDir(`${hostDirs[i]}/.deploy/incoming`)).toEqual([])
      expect(existsSync(`${hostDirs[i]}/.deploy/lock`)).toBe(false)
    }
    const hosts = JSON.parse(run.outputs.hosts ?? '[]') as { status: string }[]
    expect(hosts.map((h) => h.status)).toEqual(['not-switched', 'not-switched', 'failed'])
  })

  it('switches no host when before-switch fails on one of them', async () => {
    writeFileSync(`${hostDirs[2]}/fail-before`, '')
    const run = await runAction({
      ...inputs([0, 1, 2]),
      source: site('r3'),
      'release-id': 'r3',
      'before-switch': '[ ! -e "$DEPLOY_TARGET/fail-before" ] || { echo "migration failed" >&2; exit 4; }',
    })
    rmSync(`${hostDirs[2]}/fail-before`)
    expect(run.code).not.toBe(0)
    expect(run.stdout).toMatch(/no host was switched/)
    expect(run.stdout).toMatch(/migration failed/)
    for (const i of [0, 1, 2]) {
      expect(live(i)).toBe('releases/r1')
      expect(listDir(`${hostDirs[i]}/releases`)).toEqual(['r1'])
      expect(existsSync(`${hostDirs[i]}/.deploy/lock`)).toBe(false)
    }
  })

  it('switches the others back when the switch itself fails on one host', async () => {
    // The hook passes but takes away the write permission the rename over `current` needs.
    const run = await runAction(
      {
        ...inputs([0, 1, 2]),
        source: site('r4'),
        'release-id': 'r4',
        'before-switch': '[ ! -e "$DEPLOY_TARGET/fail-switch" ] || chmod a-w "$DEPLOY_TARGET"',
      },
      { onStdout: (d) => process.env.RAD_DEBUG && process.stderr.write(d) },
    )
    expect(run.code).toBe(0)
    writeFileSync(`${hostDirs[1]}/fail-switch`, '')
    const failing = await runAction({
      ...inputs([0, 1, 2]),
      source: site('r5'),
      'release-id': 'r5',
      'before-switch': '[ ! -e "$DEPLOY_TARGET/fail-switch" ] || chmod a-w "$DEPLOY_TARGET"',
    })
    chmodSync(hostDirs[1] as string, 0o755)
    rmSync(`${hostDirs[1]}/fail-switch`)
    expect(failing.code).not.toBe(0)
    expect(failing.stdout).toMatch(/The switch failed on 1 of 3 hosts; the hosts were switched back/)
    expect(failing.outputs['rolled-back']).toBe('true')
    for (const i of [0, 1, 2]) expect(live(i)).toBe('releases/r4')
    for (const i of [0, 2]) {
      const log = readFileSync(`${hostDirs[i]}/.deploy/log`, 'utf8').trim().split('\n')
      expect(JSON.parse(log.at(-1) as string)).toMatchObject({ event: 'revert', release: 'r4', from: 'r5' })
      expect(existsSync(`${hostDirs[i]}/.deploy/lock`)).toBe(false)
    }
  })

  it('rolls back and lists across the fleet, and says when hosts disagree', async () => {
    const back = await runAction({ ...inputs([0, 1, 2]), command: 'rollback' })
    expect(back.code).toBe(0)
    for (const i of [0, 1, 2]) expect(live(i)).toBe('releases/r1')
    // Host 2 is made to serve something else by hand.
    rmSync(`${hostDirs[2]}/current`)
    symlinkSync('releases/r4', `${hostDirs[2]}/current`)
    const list = await runAction({ ...inputs([0, 1, 2]), command: 'list' })
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/::warning::The hosts do not serve the same release: .*=r1, .*=r1, .*=r4/)
    const hosts = JSON.parse(list.outputs.hosts ?? '[]') as { 'release-id': string }[]
    expect(hosts.map((h) => h['release-id'])).toEqual(['r1', 'r1', 'r4'])
    const refused = await runAction({ ...inputs([0, 1, 2]), command: 'rollback' })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toMatch(/different releases|rollback-to/)
    for (const i of [0, 1]) expect(live(i)).toBe('releases/r1')
    expect(live(2)).toBe('releases/r4')
    const pinned = await runAction({ ...inputs([0, 1, 2]), command: 'rollback', 'rollback-to': 'r4' })
    expect(pinned.code).toBe(0)
    for (const i of [0, 1, 2]) expect(live(i)).toBe('releases/r4')
  })

  it('splits a deploy into upload (one job per host) and activate (one job for all)', async () => {
    const src = site('r6')
    const early = await runAction({ ...inputs([0, 1, 2]), command: 'activate', 'release-id': 'r6' })
    expect(early.code).not.toBe(0)
    expect(early.stdout).toMatch(/was not uploaded to this host/)
    for (const i of [0, 1, 2]) {
      const up = await runAction({ ...inputs([i]), command: 'upload', source: src, 'release-id': 'r6' })
      expect(up.code).toBe(0)
      // The upload is not live: release-id names what is (r4), attempted names r6.
      expect(up.outputs['release-id']).toBe('r4')
      expect(JSON.parse(up.outputs.hosts ?? '[]')[0]).toMatchObject({ attempted: 'r6', status: 'uploaded' })
      expect(live(i)).toBe('releases/r4')
      expect(listDir(`${hostDirs[i]}/.deploy/incoming`)).toEqual(['r6.staged'])
    }
    const act = await runAction({ ...inputs([0, 1, 2]), command: 'activate', 'release-id': 'r6' })
    expect(act.stdout).not.toMatch(/::error::/)
    expect(act.code).toBe(0)
    for (const i of [0, 1, 2]) {
      expect(live(i)).toBe('releases/r6')
      expect(readTree(`${hostDirs[i]}/current`)).toEqual(readTree(src))
      expect(listDir(`${hostDirs[i]}/.deploy/incoming`)).toEqual([])
    }
  })

  it('goes through a jump host, checking its host key too', async () => {
    const jump = await startSshd()
    try {
      jump.authorize(servers[0]?.client.publicKey ?? '')
      const before = [jump.connections(), (servers[0] as Sshd).connections()]
      const base = inputs([0])
      const run = await runAction({
        ...base,
        source: site('r7'),
        'release-id': 'r7',
        'jump-host': `${TEST_USER}@127.0.0.1:${jump.port}`,
        'known-hosts': `${base['known-hosts']}${jump.knownHosts}`,
      })
      expect(run.stdout).not.toMatch(/::error::/)
      expect(run.code).toBe(0)
      expect(live(0)).toBe('releases/r7')
      expect(jump.connections() - (before[0] ?? 0)).toBe(1)
      expect((servers[0] as Sshd).connections() - (before[1] ?? 0)).toBe(1)
      // Without the jump host's key, nothing connects.
      const refused = await runAction({
        ...base,
        source: site('r8'),
        'release-id': 'r8',
        'jump-host': `${TEST_USER}@127.0.0.1:${jump.port}`,
      })
      expect(refused.code).not.toBe(0)
      expect(refused.stdout).toMatch(/Host key verification failed/)
      expect(live(0)).toBe('releases/r7')
    } finally {
      await jump.stop()
    }
  })
})
