/**
 * The benchmark's own checks (bench/): a wrong release must be caught, the goals computed from the
 * samples (never taken for granted), the action's phases named from its log groups.
 */
import { execFileSync } from 'node:child_process'
import { appendFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { groupPhases } from '../../bench/measure.js'
import type { Method } from '../../bench/methods.js'
import type { Scale, ScaleSample, ScalesRun, Scenario } from '../../bench/scales.js'
import { scalesFigures } from '../../bench/scales-report.js'
import { MutableBuild, Site } from '../../bench/site.js'
import { checkRelease, type Known } from '../../bench/verify.js'
import { tempDir } from './helpers.js'

describe('checkRelease', () => {
  // 200 files, 3 versions, 5% changed per rebuild.
  const site = new Site(200, 3, 0.05)
  const fresh = (k: number) => {
    const b = new MutableBuild(site, path.join(tempDir('radbench-'), 'build'))
    b.apply(k, new Date(1_700_000_000_000))
    return b.dir
  }
  const check = (dir: string, k: number, previous?: { dir: string; k: number }, claimsLinks = true) =>
    checkRelease({
      site,
      version: site.version(k),
      previous: previous && { dir: previous.dir, version: site.version(previous.k) },
      dir,
      claimsLinks,
      known: new Map() as Known,
    })
  /** Release 2 the way --link-dest makes it: unchanged files hard links to release 1, the changed ones new. */
  const linkedRelease = (r1: string) => {
    const r2 = path.join(path.dirname(r1), 'r2')
    execFileSync('cp', ['-al', r1, r2])
    const v1 = site.version(1)
    const v2 = site.version(2)
    site.files.forEach((f, i) => {
      if (v1[i] === v2[i]) return
      rmSync(path.join(r2, f.rel))
      writeFileSync(path.join(r2, f.rel), site.content(i, v2[i] as number))
    })
    return r2
  }

  it('finds a release made right right, with its unchanged files hard links', () => {
    const r1 = fresh(1)
    const r2 = linkedRelease(r1)
    const c = check(r2, 2, { dir: r1, k: 1 })
    expect(c.problems).toEqual([])
    expect(c.unchanged).toBe(200 - site.changedPerRebuild)
    expect(c.linked).toBe(c.unchanged)
  })

  it('catches a file with other content, a missing one and an extra one', () => {
    const dir = fresh(2)
    const [a, b] = site.files
    appendFileSync(path.join(dir, a?.rel as string), 'x')
    rmSync(path.join(dir, b?.rel as string))
    writeFileSync(path.join(dir, 'stray.html'), '')
    const c = check(dir, 2)
    expect(c.problems).toEqual(
      expect.arrayContaining([
        `${a?.rel}: not the build's content`,
        `missing file ${b?.rel}`,
        'extra file stray.html',
      ]),
    )
  })

  it("catches an old file left where the build changed it (the previous release's content)", () => {
    const dir = fresh(1)
    const c = check(dir, 2)
    expect(c.problems).toHaveLength(site.changedPerRebuild)
  })

  it('catches copies where the method claims hard links, and accepts them where it does not', () => {
    const r1 = fresh(1)
    const r2 = fresh(2)
    expect(check(r2, 2, { dir: r1, k: 1 }).problems).toEqual([
      `${200 - site.changedPerRebuild} of ${200 - site.changedPerRebuild} unchanged files are not hard links to the previous release`,
    ])
    expect(check(r2, 2, { dir: r1, k: 1 }, false).problems).toEqual([])
  })
})

describe('groupPhases', () => {
  it("names each phase after the action's log group, without the host, from process start to exit", () => {
    const marks = [
      { t: 1100, line: '::group::radtest@127.0.0.1:2222: connect and check' },
      { t: 1300, line: '::endgroup::' },
      { t: 1310, line: '::group::radtest@127.0.0.1:2222: prepare' },
      { t: 1500, line: '::endgroup::' },
      { t: 1500, line: '::group::radtest@127.0.0.1:2222: upload' },
      { t: 2500, line: '::endgroup::' },
      { t: 2500, line: '::group::radtest@127.0.0.1:2222: publish and switch' },
      { t: 2700, line: '::endgroup::' },
    ]
    const p = groupPhases(marks, 1000, 2800)
    expect(p).toEqual([
      { name: 'start', ms: 100 },
      { name: 'connect and check', ms: 210 },
      { name: 'prepare', ms: 190 },
      { name: 'upload', ms: 1000 },
      { name: 'publish and switch', ms: 200 },
      { name: 'finish', ms: 100 },
    ])
    expect(p.reduce((a, x) => a + x.ms, 0)).toBe(1800)
  })
})

describe('scalesFigures: the goals', () => {
  const site = new Site(100, 2, 0.01)
  const scale = (files: number): Scale => ({
    name: `${files / 1000}k`,
    files,
    big: false,
    samples: 3,
    scenarios: ['change', 'nochange'],
    site,
    methods: (['ours', 'floor', 'inplace'] as Method['key'][]).map((key) => ({ key }) as Method),
    skipped: [],
    seedMs: new Map(),
    server: {} as Scale['server'],
  })
  const sample = (
    sc: string,
    scenario: Scenario,
    method: Method['key'],
    ms: number,
    problems: string[] = [],
  ): ScaleSample => ({
    scale: sc,
    scenario,
    method,
    round: 1,
    ms,
    wire: { up: 0, down: 0, connections: 1 },
    sshdConnections: 1,
    ioComplete: true,
    filesSent: 0,
    check: { files: 100, unchanged: 99, linked: 99, readBytes: 0, problems },
  })
  const run = (samples: ScaleSample[], scales = [scale(10_000)]): ScalesRun => ({
    scales,
    samples,
    handshakes: [],
    ms: 0,
  })
  const goal = (r: ScalesRun, starts: string) => scalesFigures(r).goals.find((g) => g.goal.startsWith(starts))

  it('computes met and not met from the medians', () => {
    const xs = [
      ...[1.0, 1.1, 5.0].map((s) => sample('10k', 'change', 'ours', s * 1000)),
      ...[2.0, 2.0, 2.0].map((s) => sample('10k', 'change', 'floor', s * 1000)),
      ...[1.05, 1.05, 1.05].map((s) => sample('10k', 'change', 'inplace', s * 1000)),
    ]
    // Median 1.1 s: ≤ 0.6 × 2.0 s, but not ≤ 1.05 s.
    expect(goal(run(xs), 'rebuild, 10,000 files, 1% changed: a ≤ 0.6')?.met).toBe(true)
    expect(goal(run(xs), 'rebuild, 10,000 files, 1% changed: a ≤ e')?.met).toBe(false)
    expect(goal(run(xs), 'no-change rebuild, 50,000')?.met).toBeUndefined()
  })

  it('a fast wrong release meets no goal', () => {
    const xs = [
      sample('10k', 'change', 'ours', 100, ["index.html: not the build's content"]),
      sample('10k', 'change', 'floor', 2000),
      sample('10k', 'change', 'inplace', 2000),
    ]
    expect(goal(run(xs), 'rebuild, 10,000 files, 1% changed: a ≤ 0.6')?.met).toBe(false)
    expect(goal(run(xs), 'every release byte-identical')?.met).toBe(false)
  })
})
