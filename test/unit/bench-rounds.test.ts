/**
 * The benchmark's rounds, log groups and overhead (bench/): issue 12 asks for the median and spread
 * of 5 rounds of the goals' rebuilds and a fixed overhead measured where no per-file work counts;
 * the phases table must follow whatever log groups the action prints.
 */
import { describe, expect, it } from 'vitest'
import { groupName, groupPhases, phaseOrder, phasesOf } from '../../bench/measure.js'
import type { Method } from '../../bench/methods.js'
import { loopbackScale, roundsOf, type Scale, type ScaleSample, type Scenario } from '../../bench/scales.js'
import { overheadAt, roundsText, scalesFigures } from '../../bench/scales-report.js'
import { Site } from '../../bench/site.js'

const knobs = { samples: 5, largeSamples: 3, contextSamples: 1 }
const at = (files: number, extra: Partial<Scale> = {}) => ({ files, big: false, ...extra })

describe('roundsOf', () => {
  it("gives every goal's rebuild BENCH_SAMPLES rounds", () => {
    expect(roundsOf(at(10_000), 'change', 'ours', knobs)).toBe(5)
    expect(roundsOf(at(10_000), 'change', 'floor', knobs)).toBe(5)
    expect(roundsOf(at(10_000), 'change', 'inplace', knobs)).toBe(5)
    expect(roundsOf(at(10_000), 'nochange', 'ours', knobs)).toBe(5)
    expect(roundsOf(at(50_000), 'nochange', 'ours', knobs)).toBe(5)
    expect(roundsOf(at(50_000), 'nochange', 'floor', knobs)).toBe(5)
    expect(roundsOf(at(10_000, { big: true }), 'nochange', 'ours', knobs)).toBe(5)
    expect(roundsOf(at(10_000, { big: true }), 'nochange', 'floor', knobs)).toBe(5)
    expect(roundsOf(at(10, { tiny: true }), 'loopback', 'ours', knobs)).toBe(5)
  })

  it('gives the context fewer: c and d above 1,000 files, 50k 1% changed, loopback at 10k, f', () => {
    expect(roundsOf(at(10_000), 'change', 'full', knobs)).toBe(1)
    expect(roundsOf(at(50_000), 'nochange', 'recipe', knobs)).toBe(1)
    expect(roundsOf(at(50_000), 'change', 'ours', knobs)).toBe(3)
    expect(roundsOf(at(10_000), 'loopback', 'ours', knobs)).toBe(3)
    expect(roundsOf(at(10_000, { big: true }), 'nochange', 'mtime', knobs)).toBe(3)
    // At 1,000 files everything is cheap: all of it gets every round.
    expect(roundsOf(at(1000), 'change', 'recipe', knobs)).toBe(5)
    expect(roundsOf(at(1000), 'loopback', 'floor', knobs)).toBe(5)
  })

  it('never gives the context more rounds than BENCH_SAMPLES', () => {
    const two = { samples: 2, largeSamples: 3, contextSamples: 4 }
    expect(roundsOf(at(50_000), 'change', 'ours', two)).toBe(2)
    expect(roundsOf(at(10_000), 'change', 'recipe', two)).toBe(2)
  })
})

describe('loopbackScale', () => {
  it('is 10,000 files when they run, else the smallest scale', () => {
    expect(loopbackScale([1000, 10_000, 50_000])).toBe(10_000)
    expect(loopbackScale([50_000, 2000])).toBe(2000)
  })
})

describe("the action's log groups", () => {
  it('drops the host label only, so a name with a colon of its own keeps it', () => {
    expect(groupName('radtest@127.0.0.1:2222: prepare')).toBe('prepare')
    expect(groupName('deploy@[2001:db8::1]:22: manifest: diff')).toBe('manifest: diff')
    expect(groupName('127.0.0.1:2222: prepare')).toBe('prepare')
    expect(groupName('web1.example.com: upload')).toBe('upload')
    expect(groupName('manifest: diff')).toBe('manifest: diff')
    expect(groupName('publish and switch')).toBe('publish and switch')
  })

  it('puts a group only some runs have after the one it follows there, not at the end', () => {
    const old = ['start', 'connect and check', 'prepare', 'upload', 'publish and switch', 'finish']
    const withNew = [
      'start',
      'connect and check',
      'manifest',
      'prepare',
      'upload',
      'publish and switch',
      'finish',
    ]
    const renamed = [
      'start',
      'connect and check',
      'prepare',
      'send changed files',
      'publish and switch',
      'finish',
    ]
    expect(phaseOrder([old, withNew, renamed])).toEqual([
      'start',
      'connect and check',
      'manifest',
      'prepare',
      'send changed files',
      'upload',
      'publish and switch',
      'finish',
    ])
    expect(phaseOrder([])).toEqual([])
  })

  const marks = (names: string[]) =>
    names.flatMap((n, i) => [
      { t: 1100 + 200 * i, line: `::group::radtest@127.0.0.1:2222: ${n}` },
      { t: 1200 + 200 * i, line: '::endgroup::' },
    ])

  it("keeps the classic part's columns when a group is added or renamed: the rest counts in prepare", () => {
    const m = marks(['connect and check', 'manifest', 'prepare', 'upload', 'publish and switch'])
    const p = phasesOf(m, 1000, 2200)
    expect(p).toEqual({ start: 100, connect: 200, prepare: 400, upload: 200, switch: 100, finish: 200 })
    const renamed = phasesOf(
      marks(['connect and check', 'check the live release', 'upload', 'switch']),
      1000,
      2000,
    )
    expect(renamed?.prepare).toBe(200)
    expect(renamed?.switch).toBe(100)
    // Every millisecond is in exactly one column.
    const sum = (x: object | undefined) =>
      Object.values(x ?? {}).reduce((a: number, b) => a + (b as number), 0)
    expect(sum(p)).toBe(1200)
    expect(groupPhases(m, 1000, 2200).reduce((a, x) => a + x.ms, 0)).toBe(1200)
  })

  it('shows a new group as its own column of "Where our time goes", in order', () => {
    const names = ['connect and check', 'manifest', 'prepare', 'upload', 'publish and switch']
    const s = sample('tiny', 'loopback', 'ours', 1500, { named: groupPhases(marks(names), 1000, 2200) })
    const { md } = scalesFigures({
      scales: [scale('tiny', 10, { tiny: true })],
      samples: [s],
      handshakes: [100],
      ms: 0,
    })
    const head = md.split('\n').find((l) => l.startsWith('| scale') && l.includes('total a'))
    expect(head?.replace(/\s+/g, ' ')).toContain(
      '| start | connect and check | manifest | prepare | upload | publish and switch | finish | total a |',
    )
  })
})

function scale(name: string, files: number, extra: Partial<Scale> = {}): Scale {
  return {
    name,
    files,
    big: false,
    samples: 5,
    scenarios: extra.tiny ? ['loopback'] : ['change', 'nochange', 'loopback'],
    site: new Site(Math.min(files, 100), 2, 0.01),
    methods: (['ours', 'floor', 'inplace'] as Method['key'][]).map((key) => ({ key }) as Method),
    skipped: [],
    seedMs: new Map(),
    server: {} as Scale['server'],
    ...extra,
  }
}

function sample(
  sc: string,
  scenario: Scenario,
  method: Method['key'],
  ms: number,
  extra: Partial<ScaleSample> = {},
): ScaleSample {
  return {
    scale: sc,
    scenario,
    method,
    round: 1,
    ms,
    wire: { up: 0, down: 0, connections: 1 },
    sshdConnections: 1,
    ioComplete: true,
    filesSent: 0,
    check: { files: 100, unchanged: 100, linked: 100, readBytes: 0, problems: [] },
    ...extra,
  }
}

/** One loopback deploy of ours: `upload` ms in its rsync step, the rest in the other groups. */
const loop = (sc: string, ms: number, upload: number) =>
  sample(sc, 'loopback', 'ours', ms, {
    named: [
      { name: 'start', ms: 100 },
      { name: 'upload', ms: upload },
      { name: 'finish', ms: ms - 100 - upload },
    ],
  })

describe('the fixed overhead', () => {
  it("is a's time minus its rsync step minus the handshake's median, per round", () => {
    const xs = [loop('tiny', 600, 50), loop('tiny', 700, 50), loop('tiny', 650, 100), loop('10k', 2500, 300)]
    const o = overheadAt(xs, 'tiny', [190, 200, 900])
    expect(o?.handshake).toBe(200)
    expect(o?.fixed).toEqual({ n: 3, median: 350, min: 350, max: 450 })
    expect(o?.withHandshake.median).toBe(550)
    expect(overheadAt(xs, 'tiny', [])).toBeUndefined()
    expect(overheadAt(xs, '1k', [200])).toBeUndefined()
  })

  it("the goal is the tiny site's, and the 10k figure is shown beside it, labelled", () => {
    const xs = [
      ...[400, 420, 430].map((ms) => loop('tiny', ms, 20)),
      ...[2400, 2500, 2600].map((ms) => loop('10k', ms, 100)),
    ]
    const f = scalesFigures({
      scales: [scale('tiny', 10, { tiny: true }), scale('10k', 10_000)],
      samples: xs,
      handshakes: [200],
      ms: 0,
    })
    const g = f.goals.find((x) => x.goal.startsWith('fixed overhead'))
    // 420 − 20 − 200 = 200 ms ≤ 250 ms: met, though at 10k it is 2.2 s.
    expect(g?.met).toBe(true)
    expect(g?.measured).toMatch(/^0\.20 s \(0\.18–0\.21, 3 rounds;/)
    expect(g?.measured).toContain('at 10k files, per-file work included: 2.20 s')
    expect(f.md).toContain('**fixed overhead 0.20 s**')
    expect(f.md).toContain('**overhead at 10k files 2.20 s**')
  })

  it('is not met above 0.25 s', () => {
    const f = scalesFigures({
      scales: [scale('tiny', 10, { tiny: true })],
      samples: [300, 320, 340].map((ms) => loop('tiny', ms + 200, 0)),
      handshakes: [200],
      ms: 0,
    })
    expect(f.goals.find((x) => x.goal.startsWith('fixed overhead'))?.met).toBe(false)
  })

  it('is not measured when the log has no upload group to take off (a renamed group)', () => {
    const s = sample('tiny', 'loopback', 'ours', 400, {
      named: [
        { name: 'start', ms: 100 },
        { name: 'send', ms: 300 },
      ],
    })
    const f = scalesFigures({
      scales: [scale('tiny', 10, { tiny: true })],
      samples: [s],
      handshakes: [200],
      ms: 0,
    })
    expect(f.goals.find((x) => x.goal.startsWith('fixed overhead'))?.met).toBeUndefined()
    expect(f.md).toContain('1 of 1 rounds had no log group named "upload"')
  })

  it('is not measured without the tiny site', () => {
    const f = scalesFigures({
      scales: [scale('10k', 10_000)],
      samples: [loop('10k', 400, 10)],
      handshakes: [100],
      ms: 0,
    })
    expect(f.goals.find((x) => x.goal.startsWith('fixed overhead'))?.met).toBeUndefined()
  })
})

describe('roundsText', () => {
  it('names the rounds each rebuild got, and the methods with fewer', () => {
    const xs = [
      ...[1, 2, 3, 4, 5].flatMap((round) => [
        sample('10k', 'change', 'ours', 1, { round }),
        sample('10k', 'change', 'floor', 1, { round }),
      ]),
      sample('10k', 'change', 'full', 1),
      sample('10k', 'change', 'recipe', 1),
      ...[1, 2, 3].map((round) => sample('10k', 'loopback', 'ours', 1, { round })),
    ]
    expect(roundsText([scale('10k', 10_000)], xs)).toBe(
      '10k 1% changed: 5 (c, d: 1), 10k no change, loopback: 3',
    )
  })
})
