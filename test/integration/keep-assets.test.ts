/**
 * keep-assets against a real sshd, the bundle run as the runner runs it: old files that match the
 * patterns and that the new build lacks are hard-linked into the new release (the same inode),
 * counted on the server; the new build's own files win; nothing is carried forward forever;
 * symlinks are never followed; rollback, the dry run and bad input. Then visitors under load: a
 * real nginx serves two sites while each switches 3 times, one with keep-assets, one without.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cliConnection, runCli } from '../support/cli.js'
import { expectOk } from '../support/expect.js'
import { type ActionRun, errorText, inode, linkTarget, listDir, readTree } from '../support/harness.js'
import { startNginx } from '../support/nginx.js'
import { useSshd } from '../support/suite.js'

const suite = useSshd()
const { newTarget } = suite

const KEEP = { 'keep-assets': 'assets/**' }

async function deploy(
  target: string,
  id: string,
  files: Record<string, string>,
  extra: Record<string, string> = KEEP,
): Promise<ActionRun> {
  const run = await suite.deploy(
    target,
    suite.sourceDir(files),
    { 'release-id': id, ...extra },
    { post: false },
  )
  expectOk(run)
  expect(linkTarget(`${target}/current`)).toBe(`releases/${id}`)
  return run
}

/** A release of a site with a hashed bundle and a shared, changing asset. */
function site(id: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    'index.html': `<script src="/assets/app.${id}.js"></script>\n`,
    [`assets/app.${id}.js`]: `console.log("${id}")\n`,
    'assets/logo.svg': '<svg/>\n',
    'assets/theme.css': `/* ${id} */\n`,
    ...more,
  }
}

const rel = (target: string, id: string, p: string) => `${target}/releases/${id}/${p}`

describe('keep-assets', () => {
  it('hard-links the old assets the new build lacks (same inode), counts them apart, and the new build wins', async () => {
    const target = newTarget()
    await deploy(
      target,
      'r1',
      site('r1', { 'assets/chunks/lazy.r1.js': 'lazy r1\n', 'other/old.txt': 'old\n' }),
    )
    const run = await deploy(target, 'r2', site('r2'))
    // Kept, as hard links to release 1's own files (no copy, no transfer).
    for (const p of ['assets/app.r1.js', 'assets/chunks/lazy.r1.js']) {
      expect(inode(rel(target, 'r2', p)), p).toBe(inode(rel(target, 'r1', p)))
    }
    // A file the new build has is the new build's: content and inode.
    expect(readFileSync(rel(target, 'r2', 'assets/theme.css'), 'utf8')).toBe('/* r2 */\n')
    expect(inode(rel(target, 'r2', 'assets/theme.css'))).not.toBe(
      inode(rel(target, 'r1', 'assets/theme.css')),
    )
    // Outside the patterns: not kept.
    expect(existsSync(rel(target, 'r2', 'other/old.txt'))).toBe(false)
    // Counted on the server, and never as sent or linked: logo.svg is the one unchanged file.
    expect(run.outputs['assets-kept']).toBe('2')
    expect(run.outputs['files-linked']).toBe('1')
    expect(run.outputs['files-transferred']).toBe('3')
    expect(JSON.parse(run.outputs.hosts as string)[0]['assets-kept']).toBe(2)
    expect(run.stdout).toContain('kept 2 old assets')
    expect(run.summary).toContain('kept 2 old assets')
    // What was kept is recorded with the release.
    expect(readFileSync(`${target}/.deploy/kept/r2`, 'utf8').split('\n').sort()).toEqual([
      '',
      './assets/app.r1.js',
      './assets/chunks/lazy.r1.js',
    ])
    // The disk the release added: its own new files only (the kept ones are release 1's inodes).
    expect(addedKb(run.stdout)).toBeGreaterThanOrEqual(0)
    // Release 1 is as it was built.
    expect(Object.keys(readTree(`${target}/releases/r1`)).sort()).toEqual(
      Object.keys(site('r1', { 'assets/chunks/lazy.r1.js': '', 'other/old.txt': '' })).sort(),
    )
  })

  it('keeps an asset only for keep-assets-releases releases after the build that had it; prune takes the record along', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1', { 'assets/big.r1.bin': 'x'.repeat(512 * 1024) }))
    for (const id of ['r2', 'r3']) {
      const run = await deploy(target, id, site(id))
      for (const p of ['assets/app.r1.js', 'assets/big.r1.bin']) {
        expect(inode(rel(target, id, p)), `${id} ${p}`).toBe(inode(rel(target, 'r1', p)))
      }
      // What is kept costs no disk, also when it comes from a release older than the live one.
      const added = addedKb(run.stdout)
      expect(added, id).toBeLessThan(100)
    }
    // r4's sources are r3 and r2, which only kept app.r1.js: it is gone. Theirs are kept.
    const run = await deploy(target, 'r4', site('r4'), { ...KEEP, 'keep-releases': '2' })
    expect(existsSync(rel(target, 'r4', 'assets/app.r1.js'))).toBe(false)
    expect(existsSync(rel(target, 'r4', 'assets/big.r1.bin'))).toBe(false)
    expect(listDir(`${target}/releases/r4/assets`)).toEqual([
      'app.r2.js',
      'app.r3.js',
      'app.r4.js',
      'logo.svg',
      'theme.css',
    ])
    expect(run.outputs['assets-kept']).toBe('2')
    // keep-releases 2: r1 and r2 were pruned, and their records with them.
    expect(listDir(`${target}/releases`)).toEqual(['r3', 'r4'])
    expect(listDir(`${target}/.deploy/kept`)).toEqual(['r3', 'r4'])
  })

  it('keep-assets-releases 1 keeps from the live release only; patterns that match nothing keep nothing', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1'))
    await deploy(target, 'r2', site('r2'))
    const run = await deploy(target, 'r3', site('r3'), { ...KEEP, 'keep-assets-releases': '1' })
    expect(listDir(`${target}/releases/r3/assets`)).toEqual([
      'app.r2.js',
      'app.r3.js',
      'logo.svg',
      'theme.css',
    ])
    expect(run.outputs['assets-kept']).toBe('1')
    const none = await deploy(target, 'r4', site('r4'), { 'keep-assets': '_next/static/**, *.map' })
    expect(listDir(`${target}/releases/r4/assets`)).toEqual(['app.r4.js', 'logo.svg', 'theme.css'])
    expect(none.outputs['assets-kept']).toBe('0')
    // Off (the default): nothing is kept and nothing is said.
    const off = await deploy(target, 'r5', site('r5'), {})
    expect(listDir(`${target}/releases/r5/assets`)).toEqual(['app.r5.js', 'logo.svg', 'theme.css'])
    expect(off.outputs['assets-kept']).toBe('0')
    expect(off.stdout).not.toContain('old assets')
  })

  it('refuses a .deploy/kept that is a symlink before anything changes', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1'))
    const outside = suite.tmp('radkeep-away-')
    symlinkSync(outside, `${target}/.deploy/kept`)
    const run = await suite.deploy(
      target,
      suite.sourceDir(site('r2')),
      { 'release-id': 'r2', ...KEEP },
      { post: false },
    )
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/\.deploy\/kept is a symlink/)
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(listDir(outside)).toEqual([])
  })

  it('never follows a symlink: not one of an old release, not one of the new build', async () => {
    const target = newTarget()
    const outside = suite.tmp('radkeep-outside-')
    writeFileSync(`${outside}/secret.js`, 'secret\n')
    const r1 = suite.sourceDir(site('r1', { 'assets/sub/chunk.r1.js': 'chunk\n' }))
    // Release 1 links out: to a file and to a directory outside the target.
    symlinkSync(`${outside}/secret.js`, `${r1}/assets/evil.js`)
    symlinkSync(outside, `${r1}/assets/away`)
    expectOk(await suite.deploy(target, r1, { 'release-id': 'r1', ...KEEP }, { post: false }))
    // Release 2 has a symlink where release 1 had the directory assets/sub.
    const r2 = suite.sourceDir(site('r2'))
    symlinkSync(outside, `${r2}/assets/sub`)
    const run = await suite.deploy(target, r2, { 'release-id': 'r2', ...KEEP }, { post: false })
    expectOk(run)
    // app.r1.js only: evil.js is a symlink, away/ is one, and assets/sub/ of the new build leads out.
    expect(run.outputs['assets-kept']).toBe('1')
    expect(listDir(outside)).toEqual(['secret.js'])
    expect(run.outputs['files-linked']).toBe('1')
    expect(listDir(`${target}/releases/r2/assets`)).toEqual([
      'app.r1.js',
      'app.r2.js',
      'logo.svg',
      'sub',
      'theme.css',
    ])
    expect(linkTarget(`${target}/releases/r2/assets/sub`)).toBe(outside)
  })

  it('a rollback serves the release as it was: it keeps what it had, and gets nothing new', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1'))
    await deploy(target, 'r2', site('r2', { 'assets/big.r2.bin': 'y'.repeat(512 * 1024) }))
    const before = readTree(`${target}/releases/r1`)
    const back = await suite.command(target, 'rollback', KEEP, { post: false })
    expectOk(back)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readTree(`${target}/releases/r1`)).toEqual(before)
    expect(existsSync(rel(target, 'r1', 'assets/app.r2.js'))).toBe(false)
    // r2 still has what it kept.
    expect(existsSync(rel(target, 'r2', 'assets/app.r1.js'))).toBe(true)
    // The next deploy keeps from the live r1 first, then r2: r2's files are not in the live release
    // the disk figure is measured against, and still cost nothing.
    const next = await deploy(target, 'r3', site('r3'))
    expect(next.outputs['assets-kept']).toBe('3')
    expect(inode(rel(target, 'r3', 'assets/big.r2.bin'))).toBe(inode(rel(target, 'r2', 'assets/big.r2.bin')))
    const added = addedKb(next.stdout)
    expect(added).toBeLessThan(100)
  })

  it('the CLI takes --keep-assets and --keep-assets-releases, and says what it kept', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1'))
    await deploy(target, 'r2', site('r2'))
    const conn = cliConnection(suite.sshd, suite.tmp('radkeep-cli-'))
    const src = suite.sourceDir(site('r3'))
    const args = ['deploy', ...conn, '--target', target, '--source', src, '--release-id', 'r3']
    const run = await runCli([
      ...args,
      '--keep-assets',
      'assets/**',
      '--keep-assets',
      '*.map',
      '--keep-assets-releases',
      '2',
    ])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toMatch(
      /current -> r3 \(was r2\); 3 files sent, 1 hard-linked, .* on the wire; kept 2 old assets;/,
    )
    expect(listDir(`${target}/releases/r3/assets`)).toEqual([
      'app.r1.js',
      'app.r2.js',
      'app.r3.js',
      'logo.svg',
      'theme.css',
    ])
    const bad = await runCli([...args.slice(0, -1), 'r4', '--keep-assets', '../x'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/--keep-assets.*\. or \.\. part/)
    expect(listDir(`${target}/releases`)).toEqual(['r1', 'r2', 'r3'])
  })

  it('upload then activate: activate keeps, in the call that switches', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1'))
    const up = await suite.deploy(
      target,
      suite.sourceDir(site('r2')),
      { command: 'upload', 'release-id': 'r2' },
      { post: false },
    )
    expectOk(up)
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    const act = await suite.command(target, 'activate', { 'release-id': 'r2', ...KEEP }, { post: false })
    expectOk(act)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(act.outputs['assets-kept']).toBe('1')
    expect(inode(rel(target, 'r2', 'assets/app.r1.js'))).toBe(inode(rel(target, 'r1', 'assets/app.r1.js')))
  })

  it('a dry run says what it would keep and links nothing', async () => {
    const target = newTarget()
    await deploy(target, 'r1', site('r1', { 'assets/chunks/lazy.r1.js': 'lazy r1\n' }))
    const run = await suite.deploy(
      target,
      suite.sourceDir(site('r2')),
      { 'release-id': 'r2', ...KEEP, 'dry-run': 'true' },
      { post: false },
    )
    expectOk(run)
    expect(run.outputs['assets-kept']).toBe('2')
    expect(run.stdout).toContain('would keep 2 old assets')
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    expect(existsSync(`${target}/.deploy/kept`)).toBe(false)
  })

  it.each([
    ['../etc/**', /has a \. or \.\. part/],
    ['/var/www/**', /is absolute/],
    ['assets/$(touch x)', /not allowed/],
    ['assets//x', /empty part/],
  ])('refuses keep-assets %s before connecting, naming the input; nothing changes', async (pattern, why) => {
    const target = newTarget()
    mkdirSync(target)
    const run = await suite.deploy(
      target,
      suite.sourceDir(site('r1')),
      { 'keep-assets': pattern },
      { post: false },
    )
    expect(run.code).not.toBe(0)
    expect(errorText(run)).toMatch(/Input 'keep-assets'/)
    expect(errorText(run)).toMatch(why)
    expect(errorText(run)).toContain('e.g. assets/**')
    expect(listDir(target)).toEqual([])
  })
})

/** Visitors, as a browser does it: GET /, then (after it parsed the page) the script the page names. */
interface Tally {
  visits: number
  missing: number
  errors: number
}

const GAP_MS = 40
/**
 * Switches per site. A visitor spends most of each visit between page and script, so each of the 3
 * visitors of the plain site misses a script at nearly every switch (about 3 per switch measured):
 * 3 switches make that difference certain; more only take longer.
 */
const SWITCHES = 3
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function visitor(port: number, stop: { done: boolean }, tally: Tally): Promise<void> {
  while (!stop.done) {
    try {
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text()
      const src = /src="(\/assets\/app\.[a-z0-9]+\.js)"/.exec(page)?.[1]
      if (!src) {
        tally.errors++
        continue
      }
      await sleep(GAP_MS)
      const script = await fetch(`http://127.0.0.1:${port}${src}`)
      await script.arrayBuffer()
      tally.visits++
      if (script.status === 404) tally.missing++
      else if (script.status !== 200) tally.errors++
    } catch {
      tally.errors++
    }
  }
}

describe('keep-assets under load', () => {
  it('visitors who loaded a page before a switch find its script after it: 0 missing with keep-assets, some without', async () => {
    const withKeep = newTarget('keep')
    const without = newTarget('plain')
    const ids = Array.from({ length: SWITCHES + 1 }, (_, i) => `v${String(i + 1).padStart(2, '0')}`)
    await Promise.all([
      deploy(withKeep, ids[0] as string, site(ids[0] as string)),
      deploy(without, ids[0] as string, site(ids[0] as string), {}),
    ])
    const nginx = await startNginx([
      { target: withKeep, openFileCache: false },
      { target: without, openFileCache: false },
    ])
    const stop = { done: false }
    const times: number[] = []
    const tallies: [Tally, Tally] = [
      { visits: 0, missing: 0, errors: 0 },
      { visits: 0, missing: 0, errors: 0 },
    ]
    const visitors = [0, 1].flatMap((i) =>
      Array.from({ length: 3 }, () => visitor(nginx.ports[i] as number, stop, tallies[i] as Tally)),
    )
    try {
      await sleep(200)
      // SWITCHES switches on each site, at the same moments.
      for (const id of ids.slice(1)) {
        const t = Date.now()
        await Promise.all([deploy(withKeep, id, site(id)), deploy(without, id, site(id), {})])
        times.push(Date.now() - t)
        await sleep(100)
      }
      await sleep(200)
    } finally {
      stop.done = true
      await Promise.all(visitors)
      await nginx.stop()
    }
    const [keep, plain] = tallies
    console.log(
      `keep-assets under load (${SWITCHES} switches, 3 visitors a site, ${GAP_MS} ms between page and script): with keep-assets ${keep.missing} missing scripts of ${keep.visits} visits, without ${plain.missing} of ${plain.visits}; the deploys took ${times.map((t) => (t / 1000).toFixed(1)).join(' ')} s`,
    )
    expect(keep.errors + plain.errors).toBe(0)
    expect(keep.visits).toBeGreaterThan(100)
    expect(keep.missing).toBe(0)
    expect(plain.missing).toBeGreaterThan(0)
    // 2 × SWITCHES deploys: a few seconds on an idle machine, a minute on a crowded one.
  }, 300_000)
})

/** The "the new release added 4.1 kB on disk" figure of the step's log, in KiB (NaN when absent). */
function addedKb(stdout: string): number {
  const m = /the new release added ([0-9.]+) (B|kB|MB|GB) on disk/.exec(stdout)
  if (!m) return Number.NaN
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B' | 'kB' | 'MB' | 'GB']
  return (Number(m[1]) * unit) / 1024
}
