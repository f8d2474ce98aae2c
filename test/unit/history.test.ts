import { describe, expect, it } from 'vitest'
import {
  badReleases,
  type LogEntry,
  listReleases,
  logLine,
  parseLog,
  type ReleaseInfo,
  releasesToPrune,
  rollbackTarget,
} from '../../src/history.js'

let clock = 0
function dep(release: string, extra: Partial<LogEntry> = {}): LogEntry {
  clock++
  return {
    release,
    event: 'deploy',
    time: `2026-11-21T10:${String(clock).padStart(2, '0')}:00Z`,
    sha: `sha-${release}`,
    ref: `refs/tags/${release}`,
    actor: 'octocat',
    run: `https://github.com/o/r/actions/runs/${clock}`,
    host: 'deploy@example.com',
    ...extra,
  }
}
const rb = (release: string, from: string): LogEntry => ({ release, event: 'rollback', time: 't', from })
const rev = (release: string, from: string): LogEntry => ({ release, event: 'revert', time: 't', from })

describe('parseLog', () => {
  it('reads one JSON object a line and ignores torn, foreign and incomplete lines', () => {
    const lines = [
      '{"release":"A","event":"deploy","time":"2026-11-21T10:00:00Z","sha":"abc"}',
      '{"release":"B","event":"deploy","ti', // torn by a crash mid-append
      '',
      'not json at all',
      '{"release":"B","event":"deploy","time":"2026-11-21T11:00:00Z"}',
      '{"event":"deploy","time":"x"}', // no release
      '{"release":"C"}', // no event
      '{"release":5,"event":"deploy"}', // release not a string
      '[1,2,3]',
      'null',
      '42',
      '"string"',
      '{"release":"A","event":"rollback","time":"t","from":"B"}',
    ]
    expect(parseLog(lines)).toEqual([
      { release: 'A', event: 'deploy', time: '2026-11-21T10:00:00Z', sha: 'abc' },
      { release: 'B', event: 'deploy', time: '2026-11-21T11:00:00Z' },
      { release: 'A', event: 'rollback', time: 't', from: 'B' },
    ])
  })

  it('is empty for no lines', () => {
    expect(parseLog([])).toEqual([])
  })
})

describe('logLine', () => {
  it('writes the keys in a fixed order, leaving out undefined ones', () => {
    const e: LogEntry = {
      host: 'h',
      run: 'u',
      actor: 'a',
      ref: 'r',
      sha: 's',
      from: 'A',
      time: '2026-11-21T10:00:00Z',
      event: 'rollback',
      release: 'B',
    }
    expect(logLine(e)).toBe(
      '{"release":"B","event":"rollback","time":"2026-11-21T10:00:00Z","from":"A","sha":"s","ref":"r","actor":"a","run":"u","host":"h"}',
    )
    expect(logLine({ release: 'A', event: 'deploy', time: 't' })).toBe(
      '{"release":"A","event":"deploy","time":"t"}',
    )
  })

  it('keeps foreign keys out', () => {
    const e = { release: 'A', event: 'deploy', time: 't', evil: 'x' } as LogEntry
    expect(logLine(e)).toBe('{"release":"A","event":"deploy","time":"t"}')
  })

  it.each([
    ['newlines', 'a\nb\r\nc'],
    ['a line separator', 'a\u2028b\u2029c'],
    ['quotes and backslashes', `"'\\`],
    ['control characters', '\u0000\u001b[31m'],
    ['shell text', '$(touch /tmp/x) `id`; rm -rf /'],
  ])('stays on one line with %s and parses back', (_name, text) => {
    const e: LogEntry = { release: 'A', event: 'deploy', time: 't', actor: text, ref: text, run: text }
    const l = logLine(e)
    expect(l).not.toMatch(/[\n\r]/)
    expect(parseLog([l])).toEqual([e])
  })
})

describe('badReleases', () => {
  it('collects what rollbacks and reverts moved away from', () => {
    const log = [dep('A'), dep('B'), dep('C'), rb('B', 'C'), dep('D'), rev('B', 'D'), rb('A', 'B')]
    expect([...badReleases(log)].sort()).toEqual(['B', 'C', 'D'])
  })

  it('is empty without rollbacks; a rollback without from marks nothing', () => {
    expect(badReleases([dep('A'), dep('B'), { release: 'A', event: 'rollback', time: 't' }]).size).toBe(0)
  })
})

describe('rollbackTarget', () => {
  const all = new Set(['A', 'B', 'C', 'D'])

  it('A, B, C deployed: rollback goes to B; after it (C bad) the next goes to A', () => {
    const log = [dep('A'), dep('B'), dep('C')]
    expect(rollbackTarget(log, 'C', all)).toBe('B')
    log.push(rb('B', 'C'))
    expect(badReleases(log)).toEqual(new Set(['C']))
    expect(rollbackTarget(log, 'B', all)).toBe('A')
    log.push(rb('A', 'B'))
    expect(rollbackTarget(log, 'A', all)).toBeUndefined()
  })

  it.each<[string, LogEntry[], string, string[], string | undefined]>([
    ['skips releases no longer on disk', [dep('A'), dep('B'), dep('C')], 'C', ['A', 'C'], 'A'],
    ['nothing before the first release', [dep('A')], 'A', ['A'], undefined],
    ['an empty log knows nothing', [], 'C', ['A', 'B', 'C'], undefined],
    [
      'a redeploy after a rollback skips the bad one',
      [dep('A'), dep('B'), dep('C'), rb('B', 'C'), dep('D')],
      'D',
      ['A', 'B', 'C', 'D'],
      'B',
    ],
    [
      'a revert marks the failed release bad',
      [dep('A'), dep('B'), rev('A', 'B')],
      'A',
      ['A', 'B'],
      undefined,
    ],
    [
      'uses the log order, not names',
      [dep('zeta'), dep('alpha'), dep('mid')],
      'mid',
      ['alpha', 'mid', 'zeta'],
      'alpha',
    ],
    ['live unknown to the log: the newest deployed', [dep('A'), dep('B')], 'X', ['A', 'B', 'X'], 'B'],
    [
      'a release made live again by a rollback counts as recent',
      [dep('A'), dep('B'), dep('C'), rb('A', 'C'), dep('D')],
      'D',
      ['A', 'B', 'C', 'D'],
      'A',
    ],
    ['nothing live: the newest good one', [dep('A'), dep('B')], '', ['A', 'B'], 'B'],
  ])('%s', (_name, log, live, existing, expected) => {
    expect(rollbackTarget(log, live, new Set(existing))).toBe(expected)
  })
})

describe('listReleases', () => {
  it('lists releases on disk newest first by the log, unknown ones last by name', () => {
    const a = dep('A')
    const b = dep('b-named-last')
    const c = dep('0-named-first')
    const log = [a, b, c, rb('b-named-last', '0-named-first'), dep('gone')]
    const got = listReleases(
      log,
      ['zz-unknown', 'A', '0-named-first', 'b-named-last', 'aa-unknown'],
      'b-named-last',
    )
    expect(got.map((r) => r.id)).toEqual(['0-named-first', 'b-named-last', 'A', 'aa-unknown', 'zz-unknown'])
    expect(got[0]).toEqual<ReleaseInfo>({
      id: '0-named-first',
      current: false,
      bad: true,
      deployedAt: c.time,
      sha: 'sha-0-named-first',
      ref: 'refs/tags/0-named-first',
      actor: 'octocat',
      run: c.run as string,
    })
    expect(got[1]).toMatchObject({ id: 'b-named-last', current: true, bad: false, deployedAt: b.time })
    expect(got[3]).toEqual<ReleaseInfo>({
      id: 'aa-unknown',
      current: false,
      bad: false,
      deployedAt: '',
      sha: '',
      ref: '',
      actor: '',
      run: '',
    })
  })

  it('dates a release by its first deploy, not a later rollback to it', () => {
    const first = dep('A')
    const log = [first, dep('B'), { ...rb('A', 'B'), time: 'later' }]
    expect(listReleases(log, ['A', 'B'], 'A').map((r) => [r.id, r.deployedAt, r.current, r.bad])).toEqual([
      ['B', log[1]?.time, false, true],
      ['A', first.time, true, false],
    ])
  })

  it('is empty when nothing is on disk', () => {
    expect(listReleases([dep('A')], [], '')).toEqual([])
  })
})

describe('releasesToPrune', () => {
  const five = () => [dep('A'), dep('B'), dep('C'), dep('D'), dep('E')]
  const onDisk = ['A', 'B', 'C', 'D', 'E']

  it.each<[string, () => LogEntry[], string[], string, number, string[]]>([
    ['keeps the newest N good ones', five, onDisk, 'E', 2, ['C', 'B', 'A']],
    ['keep 1 still keeps the rollback target', five, onDisk, 'E', 1, ['C', 'B', 'A']],
    ['keep 3', five, onDisk, 'E', 3, ['B', 'A']],
    ['keep more than there are', five, onDisk, 'E', 10, []],
    ['keep 0 keeps all', five, onDisk, 'E', 0, []],
    ['a negative keep keeps all', five, onDisk, 'E', -1, []],
    ['never the live one, even when old', five, onDisk, 'A', 1, ['D', 'C', 'B']],
    [
      'never releases the log does not know',
      five,
      [...onDisk, 'manual-copy', 'zzz'],
      'E',
      1,
      ['C', 'B', 'A'],
    ],
    ['only what is on disk', five, ['A', 'C', 'E'], 'E', 1, ['A']],
    [
      'bad releases are not counted as kept',
      () => [...five(), rb('D', 'E')],
      onDisk,
      'D',
      2,
      // E (bad) is newer than the kept ones and stays; D live, C rollback target; B and A go
      ['B', 'A'],
    ],
    [
      'a bad release older than the kept ones goes',
      () => [dep('A'), dep('B'), rb('A', 'B'), dep('C'), dep('D'), dep('E')],
      onDisk,
      'E',
      2,
      ['C', 'B', 'A'],
    ],
    [
      'after a rollback the live one and its target stay',
      () => [...five(), rb('D', 'E'), rb('C', 'D')],
      onDisk,
      'C',
      1,
      ['A'],
    ],
    ['an empty log prunes nothing', () => [], onDisk, 'E', 1, []],
  ])('%s', (_name, log, existing, live, keep, expected) => {
    const got = releasesToPrune(log(), existing, live, keep)
    expect(got).toEqual(expected)
    expect(got).not.toContain(live)
  })

  it('never prunes the rollback target, whatever keep is', () => {
    const log = [...five(), rb('B', 'E'), dep('F')]
    const existing = [...onDisk, 'F']
    const target = rollbackTarget(log, 'F', new Set(existing))
    expect(target).toBe('B')
    for (let keep = 1; keep <= 6; keep++) {
      const got = releasesToPrune(log, existing, 'F', keep)
      expect(got).not.toContain('B')
      expect(got).not.toContain('F')
    }
    // E is bad and older than the one good release kept: it goes too
    expect(releasesToPrune(log, existing, 'F', 1)).toEqual(['E', 'D', 'C', 'A'])
  })
})
