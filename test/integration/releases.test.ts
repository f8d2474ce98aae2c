/**
 * Release history against a real sshd: rollback (to the previous release by the log, to an
 * explicit id, refusals), list (output JSON and job summary), retention (keep-releases, bad
 * releases, prune, abandoned uploads) and resuming a cancelled upload.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type ActionRun, errorText, linkTarget, listDir, readTree } from '../support/harness.js'
import { useSshd } from '../support/suite.js'
import { startThrottle } from '../support/throttle.js'

const suite = useSshd()
const { sshd, newTarget } = suite

/** A small site whose content says which version it is. */
function source(version: string): string {
  return suite.sourceDir({
    'index.html': `<h1>${version}</h1>\n`,
    'assets/app.js': `console.log(${JSON.stringify(version)})\n`,
    'assets/common.css': 'body { color: black }\n',
  })
}

async function deploy(target: string, id: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await suite.deploy(target, source(id), { 'release-id': id, ...extra }, { post: false })
  expect(errorText(run), `deploy ${id}`).toBe('')
  expect(run.code).toBe(0)
  return run
}

/** rollback, list, prune, unlock: no source needed. */
function command(target: string, name: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return suite.command(target, name, extra, { post: false })
}

function live(target: string): string {
  return linkTarget(`${target}/current`)
}

function log(target: string): Record<string, string>[] {
  return readFileSync(`${target}/.deploy/log`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>)
}

function releases(target: string): string[] {
  return listDir(`${target}/releases`)
}

function expectUnlocked(target: string): void {
  expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
}

interface ReleaseRow {
  id: string
  current: boolean
  bad: boolean
  deployedAt: string
  sha: string
  ref: string
}

/**
 * r1, r2 and r3 deployed, then one rollback: r2 live, r3 bad. The list test reads it, then the
 * rollback test goes on from it; made once (list changes nothing, as its test checks).
 */
let rolledBackOnce: Promise<{ target: string; back: ActionRun }> | undefined
function threeThenRollback(): Promise<{ target: string; back: ActionRun }> {
  rolledBackOnce ??= (async () => {
    const target = newTarget()
    for (const id of ['r1', 'r2', 'r3']) await deploy(target, id)
    expect(live(target)).toBe('releases/r3')
    return { target, back: await command(target, 'rollback') }
  })()
  return rolledBackOnce
}

describe('list', () => {
  it('outputs the releases newest first as JSON and writes them to the job summary', async () => {
    const { target } = await threeThenRollback()
    const times = Object.fromEntries(
      log(target)
        .filter((e) => e.event === 'deploy')
        .map((e) => [e.release, e.time]),
    )

    const run = await command(target, 'list')
    expect(errorText(run)).toBe('')
    expect(run.code).toBe(0)
    const rows = JSON.parse(run.outputs.releases as string) as ReleaseRow[]
    expect(rows.map((r) => r.id)).toEqual(['r3', 'r2', 'r1'])
    expect(rows.map((r) => [r.id, r.current, r.bad])).toEqual([
      ['r3', false, true],
      ['r2', true, false],
      ['r1', false, false],
    ])
    for (const r of rows) {
      expect(r.deployedAt).toBe(times[r.id])
      expect(Number.isNaN(Date.parse(r.deployedAt))).toBe(false)
      expect(r.sha).toBe('0123456789abcdef0123456789abcdef01234567')
      expect(r.ref).toBe('refs/tags/v1.0.0')
    }
    // The job summary: a table with a row per release, the live one and the bad one marked.
    expect(run.summary).toMatch(/<table>/)
    const tableRows = run.summary.match(/<tr>.*?<\/tr>/gs) ?? []
    const row = (id: string) =>
      tableRows.find((tr) => new RegExp(`<td>${id}( \\((live|bad)\\))?</td>`).test(tr)) ?? ''
    expect(row('r1')).not.toBe('')
    expect(row('r2')).toMatch(/<td>r2 \(live\)<\/td>/)
    expect(row('r3')).toMatch(/<td>r3 \(bad\)<\/td>/)
    expect(row('r3')).not.toMatch(/live/)
    // When, as a person reads it (the log's time to the minute), who, the tag, the run linked.
    const minute = `${(times.r2 as string).slice(0, 16).replace('T', ' ')} UTC`
    expect(row('r2')).toContain(`<td>${minute}</td>`)
    expect(row('r2')).toContain('<td>tester</td>')
    expect(row('r2')).toContain('<td>v1.0.0 @ 0123456</td>')
    expect(row('r2')).toContain('<a href="https://github.com/example/site/actions/runs/1234">run 1234</a>')
    expect(run.summary).not.toMatch(/refs\/tags|\d\dT\d\d:|\d\.\d{3}Z/)
    // list sends nothing: no transfer figures.
    expect(run.summary).not.toMatch(/files sent|hard-linked|bytes sent|disk added/)
    // list changes nothing and takes no lock.
    expect(live(target)).toBe('releases/r2')
    expectUnlocked(target)
  })
})

describe('rollback', () => {
  it('goes back by the log, marks the release it left bad, skips bad ones, and takes explicit ids', async () => {
    const { target, back } = await threeThenRollback()
    expect(errorText(back)).toBe('')
    expect(back.code).toBe(0)
    expect(live(target)).toBe('releases/r2')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>r2</h1>\n')
    expect(back.outputs['release-id']).toBe('r2')
    expect(back.outputs['release-path']).toBe(`${target}/releases/r2`)
    expect(back.outputs['previous-release-id']).toBe('r3')
    expect(log(target).at(-1)).toMatchObject({
      release: 'r2',
      event: 'rollback',
      from: 'r3',
      actor: 'tester',
    })
    // Nothing is deleted: the bad release stays on disk, complete.
    expect(releases(target)).toEqual(['r1', 'r2', 'r3'])
    expect(readFileSync(`${target}/releases/r3/index.html`, 'utf8')).toBe('<h1>r3</h1>\n')
    expectUnlocked(target)

    // The second rollback goes to r1: r3 went live after r1 but is bad now.
    const again = await command(target, 'rollback')
    expect(again.code).toBe(0)
    expect(live(target)).toBe('releases/r1')
    expect(again.outputs['release-id']).toBe('r1')
    expect(again.outputs['previous-release-id']).toBe('r2')
    expect(log(target).at(-1)).toMatchObject({ release: 'r1', event: 'rollback', from: 'r2' })

    // An explicit id is honoured even when it is marked bad (a person chose it).
    const toR3 = await command(target, 'rollback', { 'rollback-to': 'r3' })
    expect(errorText(toR3)).toBe('')
    expect(toR3.code).toBe(0)
    expect(live(target)).toBe('releases/r3')
    expect(toR3.outputs['release-id']).toBe('r3')
    expect(toR3.outputs['previous-release-id']).toBe('r1')
    expect(log(target).at(-1)).toMatchObject({ release: 'r3', event: 'rollback', from: 'r1' })
    expect(releases(target)).toEqual(['r1', 'r2', 'r3'])
    expectUnlocked(target)
    // Chosen on purpose, r3 is good again: it is listed so, and a later rollback returns to it.
    const listed = JSON.parse((await command(target, 'list')).outputs.releases as string) as ReleaseRow[]
    expect(listed.map((r) => [r.id, r.current, r.bad])).toEqual([
      ['r3', true, false],
      ['r2', false, true],
      ['r1', false, true],
    ])
    await deploy(target, 'r4')
    const toPrevious = await command(target, 'rollback')
    expect(toPrevious.code).toBe(0)
    expect(toPrevious.outputs['release-id']).toBe('r3')
    expect(live(target)).toBe('releases/r3')
  })

  it('refuses a missing id and the live id, changing nothing', async () => {
    const target = newTarget()
    await deploy(target, 'r1')
    await deploy(target, 'r2')
    const logBefore = readFileSync(`${target}/.deploy/log`, 'utf8')

    const missing = await command(target, 'rollback', { 'rollback-to': 'r9' })
    expect(missing.code).not.toBe(0)
    expect(errorText(missing)).toMatch(/release r9 is not on the server/)
    expect(errorText(missing)).toMatch(/Releases there: r1, r2/)
    expect(live(target)).toBe('releases/r2')
    expect(readFileSync(`${target}/.deploy/log`, 'utf8')).toBe(logBefore)
    expect(releases(target)).toEqual(['r1', 'r2'])
    expectUnlocked(target)

    const same = await command(target, 'rollback', { 'rollback-to': 'r2' })
    expect(same.code).not.toBe(0)
    expect(errorText(same)).toMatch(/release r2 is already live/)
    expect(live(target)).toBe('releases/r2')
    expect(readFileSync(`${target}/.deploy/log`, 'utf8')).toBe(logBefore)
    expectUnlocked(target)
  })

  it('fails clearly when nothing was live before', async () => {
    // Only one release ever went live: there is no previous one.
    const target = newTarget()
    await deploy(target, 'r1')
    const one = await command(target, 'rollback')
    expect(one.code).not.toBe(0)
    expect(errorText(one)).toMatch(/no good release that was live before r1/)
    expect(errorText(one)).toMatch(/Give rollback-to/)
    expect(live(target)).toBe('releases/r1')
    expect(log(target)).toHaveLength(1)
    expectUnlocked(target)

    // A deploy root that exists but never had a deploy.
    const empty = newTarget()
    mkdirSync(empty)
    chownSync(empty, sshd.user.uid, sshd.user.gid)
    const none = await command(empty, 'rollback')
    expect(none.code).not.toBe(0)
    expect(errorText(none)).toMatch(/nothing is live, so there is nothing to roll back from/)
    expect(existsSync(`${empty}/current`)).toBe(false)
    expectUnlocked(empty)

    // A deploy root that does not exist: it is not created.
    const absent = newTarget()
    const gone = await command(absent, 'rollback')
    expect(gone.code).not.toBe(0)
    expect(errorText(gone)).toMatch(/does not exist: nothing was deployed there yet/)
    expect(existsSync(absent)).toBe(false)
  })
})

describe('retention', () => {
  it('keep-releases: 2 keeps the newest two good releases; 0 keeps all', async () => {
    const target = newTarget()
    const seen: string[][] = []
    for (const id of ['r1', 'r2', 'r3', 'r4']) {
      const run = await deploy(target, id, { 'keep-releases': '2' })
      seen.push(releases(target))
      if (id === 'r3') expect(run.stdout).toMatch(/pruned r1/)
    }
    expect(seen).toEqual([['r1'], ['r1', 'r2'], ['r2', 'r3'], ['r3', 'r4']])
    expect(live(target)).toBe('releases/r4')
    // The log keeps the history of pruned releases.
    expect(log(target).map((e) => e.release)).toEqual(['r1', 'r2', 'r3', 'r4'])
    expectUnlocked(target)

    const all = newTarget()
    for (const id of ['r1', 'r2', 'r3']) await deploy(all, id, { 'keep-releases': '0' })
    expect(releases(all)).toEqual(['r1', 'r2', 'r3'])
    const prune0 = await command(all, 'prune', { 'keep-releases': '0' })
    expect(prune0.code).toBe(0)
    expect(releases(all)).toEqual(['r1', 'r2', 'r3'])
    // keep-releases: 1 still keeps the rollback target next to the live release.
    const prune1 = await command(all, 'prune', { 'keep-releases': '1' })
    expect(errorText(prune1)).toBe('')
    expect(prune1.code).toBe(0)
    expect(prune1.stdout).toMatch(/pruned r1\b/)
    expect(releases(all)).toEqual(['r2', 'r3'])
    expect(live(all)).toBe('releases/r3')
    expectUnlocked(all)
  })

  it('a bad release does not count as a kept one; prune on demand', async () => {
    const target = newTarget()
    const keepAll = { 'keep-releases': '0' }
    for (const id of ['r1', 'r2', 'r3']) await deploy(target, id, keepAll)
    expect((await command(target, 'rollback')).code).toBe(0) // r2 live, r3 bad
    await deploy(target, 'r4', keepAll)
    await deploy(target, 'r5', keepAll)
    expect(releases(target)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5'])

    // Three good ones: r5, r4 and r2 (bad r3 is kept only because it is newer than r2).
    const p3 = await command(target, 'prune', { 'keep-releases': '3' })
    expect(errorText(p3)).toBe('')
    expect(p3.code).toBe(0)
    expect(releases(target)).toEqual(['r2', 'r3', 'r4', 'r5'])
    // Two good ones: r5 and r4; bad r3 is older than both and goes too.
    const p2 = await command(target, 'prune', { 'keep-releases': '2' })
    expect(p2.code).toBe(0)
    expect(releases(target)).toEqual(['r4', 'r5'])
    expect(live(target)).toBe('releases/r5')
    expectUnlocked(target)
  })

  it('removes uploads abandoned in .deploy/incoming for more than a day, on prune and on deploy', async () => {
    const target = newTarget()
    await deploy(target, 'r1')
    const incoming = `${target}/.deploy/incoming`
    const dayAndABitAgo = new Date(Date.now() - 26 * 3600_000)
    const abandoned = (name: string, old: boolean) => {
      const dir = path.join(incoming, name)
      mkdirSync(path.join(dir, 'assets'), { recursive: true })
      writeFileSync(path.join(dir, 'assets/half.js'), 'half an upload\n')
      for (const p of [dir, path.join(dir, 'assets'), path.join(dir, 'assets/half.js')]) {
        chownSync(p, sshd.user.uid, sshd.user.gid)
      }
      if (old) utimesSync(dir, dayAndABitAgo, dayAndABitAgo)
    }
    abandoned('old1.0123abcd', true)
    abandoned('fresh1.0123abcd', false)
    const prune = await command(target, 'prune')
    expect(errorText(prune)).toBe('')
    expect(prune.code).toBe(0)
    expect(listDir(incoming)).toEqual(['fresh1.0123abcd'])

    abandoned('old2.4567cdef', true)
    await deploy(target, 'r2')
    expect(listDir(incoming)).toEqual(['fresh1.0123abcd'])
    expect(releases(target)).toEqual(['r1', 'r2'])
    expect(readTree(`${target}/current`)).toEqual(readTree(`${target}/releases/r2`))
    expectUnlocked(target)
  })
})

describe('resume', () => {
  it('a re-run after a killed upload sends only what the leftover lacks, and the release is complete', async () => {
    const target = newTarget()
    const src = mkdtempSync('/tmp/radsrc-')
    const fileCount = 40
    const fileSize = 200_000
    for (let i = 0; i < fileCount; i++) {
      writeFileSync(path.join(src, `blob-${String(i).padStart(2, '0')}.bin`), randomBytes(fileSize))
    }
    const total = fileCount * fileSize
    const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 4_000_000, latencyMs: 5 })
    const incoming = `${target}/.deploy/incoming`
    const uploaded = () =>
      listDir(incoming)
        .filter((d) => d.startsWith('a1.'))
        .flatMap((d) => listDir(path.join(incoming, d)).filter((f) => !f.startsWith('.')))
    try {
      // Cancelled (SIGINT, as the runner cancels) once a third of the files are on the server.
      const killed = await suite.deploy(
        target,
        src,
        { ...suite.viaPort(link.port), 'release-id': 'a1' },
        { killWhen: () => uploaded().length >= fileCount / 3, signal: 'SIGINT' },
      )
      expect(killed.code).not.toBe(0)
      expect(killed.post?.code).toBe(0)
    } finally {
      await link.stop()
    }
    // Nothing is visible as a release; the post step released the lock.
    expect(existsSync(`${target}/current`)).toBe(false)
    expect(releases(target)).toEqual([])
    expectUnlocked(target)
    const leftover = uploaded()
    expect(leftover.length).toBeGreaterThanOrEqual(fileCount / 3)
    expect(leftover.length).toBeLessThan(fileCount)

    const rerun = await suite.deploy(target, src, { 'release-id': 'a2' })
    expect(errorText(rerun)).toBe('')
    expect(rerun.code).toBe(0)
    expect(live(target)).toBe('releases/a2')
    // files-linked counts files sharing an inode with the live release: nothing was live yet.
    // (The leftover's files were reused, as files-transferred shows.)
    expect(Number(rerun.outputs['files-linked'])).toBe(0)
    expect(Number(rerun.outputs['files-transferred'])).toBe(fileCount - leftover.length)
    const sent = Number(rerun.outputs['bytes-sent'])
    expect(sent).toBeLessThan(total - (leftover.length - 1) * fileSize)
    expect(sent).toBeLessThan(total * 0.8)
    // Byte-identical to the source.
    const hashes = (dir: string) =>
      Object.fromEntries(
        listDir(dir).map((f) => [
          f,
          createHash('sha256')
            .update(readFileSync(path.join(dir, f)))
            .digest('hex'),
        ]),
      )
    expect(hashes(`${target}/releases/a2`)).toEqual(hashes(src))
    expect(releases(target)).toEqual(['a2'])
    expectUnlocked(target)
  })
})
