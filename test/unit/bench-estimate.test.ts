/**
 * The benchmark's expected duration (bench/estimate.ts), printed before a run: it must follow the
 * knobs the run uses (rounds, scales, the big site, the parts), as the run plans them.
 */
import { describe, expect, it } from 'vitest'
import { type EstimateKnobs, estimate, estimateText } from '../../bench/estimate.js'

const defaults: EstimateKnobs = {
  parts: new Set(['scales', 'classic']),
  scales: [1000, 10_000, 50_000],
  samples: 5,
  largeSamples: 3,
  contextSamples: 1,
  fullMaxFiles: 10_000,
  recipeMaxFiles: 10_000,
  bigMb: 1000,
  tinyFiles: 10,
  files: 10_000,
  releases: 10,
  hosts: 8,
  fleetSamples: 3,
  mbit: 50,
}
const total = (k: Partial<EstimateKnobs>) => estimate({ ...defaults, ...k }).total
const part = (k: Partial<EstimateKnobs>, name: string) =>
  estimate({ ...defaults, ...k }).parts.find((p) => p.name === name)?.s

describe('estimate', () => {
  it('has a part for each scale, the tiny site, the big site and the classic part, and adds them up', () => {
    const e = estimate(defaults)
    expect(e.parts.map((p) => p.name)).toEqual(['tiny', '1k', '10k', '50k', '1000 MB', 'classic', 'fleet'])
    expect(e.total).toBeCloseTo(
      e.parts.reduce((a, p) => a + p.s, 0),
      6,
    )
    expect(e.parts.every((p) => p.s > 0)).toBe(true)
  })

  it('follows the knobs: rounds, the big site, the recipe at 50,000 files, the parts', () => {
    expect(total({ samples: 3 })).toBeLessThan(total({}))
    expect(part({ bigMb: 0 }, '1000 MB')).toBeUndefined()
    expect(part({ bigMb: 2000 }, '2000 MB')).toBeGreaterThan(part({}, '1000 MB') as number)
    expect(part({ recipeMaxFiles: 100_000 }, '50k')).toBeGreaterThan(part({}, '50k') as number)
    expect(part({ largeSamples: 1 }, '50k')).toBeLessThan(part({}, '50k') as number)
    expect(estimate({ ...defaults, parts: new Set(['scales']) }).parts.map((p) => p.name)).not.toContain(
      'classic',
    )
  })

  it('prints minutes for the long parts and seconds for the short ones', () => {
    const small = { parts: new Set(['scales']), scales: [1000], samples: 2, bigMb: 0 }
    expect(total(small)).toBeLessThan(120)
    expect(estimateText(estimate({ ...defaults, ...small }))).toMatch(
      /^about \d+ s on a quiet machine, \d+ s on one as busy as when it was modelled \(tiny \d+ s, 1k \d+ s\)$/,
    )
    expect(estimateText(estimate(defaults))).toMatch(
      /^about \d+ min on a quiet machine, \d+ min on one .*\(tiny \d+ s, 1k \d+ s, 10k \d+ min, 50k \d+ min, /,
    )
  })
})
