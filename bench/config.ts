/** The benchmark's settings, from the environment (see bench.ts for the knobs). */
import path from 'node:path'
import { ROOT } from '../test/support/harness.js'

function envNumber(name: string, dflt: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return dflt
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: expected a number ≥ ${min}`)
  return n
}

function envList(name: string, dflt: number[]): number[] {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return dflt
  const xs = raw
    .split(',')
    .filter((x) => x.trim() !== '')
    .map(Number)
  if (xs.some((n) => !Number.isInteger(n) || n < 100)) {
    throw new Error(`${name}=${raw}: expected file counts ≥ 100, separated by commas (e.g. 1000,10000,50000)`)
  }
  return xs
}

function envParts(name: string, dflt: string[]): Set<string> {
  const raw = process.env[name]
  const xs = raw === undefined || raw.trim() === '' ? dflt : raw.split(',').map((x) => x.trim())
  const bad = xs.filter((x) => !dflt.includes(x))
  if (bad.length > 0 || xs.length === 0) throw new Error(`${name}=${raw}: expected some of ${dflt.join(',')}`)
  return new Set(xs)
}

const samples = Math.round(envNumber('BENCH_SAMPLES', 5, 1))
export const CFG = {
  files: Math.round(envNumber('BENCH_FILES', 10_000, 100)),
  mbit: envNumber('BENCH_MBIT', 50, 0.1),
  rttMs: envNumber('BENCH_RTT_MS', 20, 0),
  hosts: Math.round(envNumber('BENCH_HOSTS', 8, 2)),
  releases: Math.max(Math.round(envNumber('BENCH_RELEASES', 10, 2)), samples + 1),
  samples,
  fleetSamples: Math.round(envNumber('BENCH_FLEET_SAMPLES', 3, 1)),
  changed: envNumber('BENCH_CHANGED', 0.01, 0),
  /** Site sizes (files) of the scales part: each rebuilt with 1% changed and with nothing changed. */
  scales: envList('BENCH_SCALES', [1000, 10_000, 50_000]),
  /**
   * Rounds of the rebuilds that are context, not goals, and cost seconds each: 1% changed above
   * 10,000 files, loopback at 10,000 files, f on the big site (fewer: the goal rebuilds get BENCH_SAMPLES).
   */
  largeSamples: Math.round(envNumber('BENCH_LARGE_SAMPLES', 3, 1)),
  /** The tiny site deployed on loopback, for the fixed overhead (what does not grow with the site). */
  tinyFiles: Math.round(envNumber('BENCH_TINY_FILES', 10, 1)),
  /** The big site: MB in all (a few big files and 10,000 small ones); 0 skips it. */
  bigMb: envNumber('BENCH_BIG_MB', 1000, 0),
  bigFiles: Math.round(envNumber('BENCH_BIG_FILES', 8, 1)),
  /** The full copy above this many files takes minutes over the link (its bytes / the bandwidth): not run. */
  fullMaxFiles: Math.round(envNumber('BENCH_FULL_MAX_FILES', 10_000, 0)),
  /**
   * The recipe above this many files is not run: context, not a goal, and at 50,000 files each of
   * its rebuilds writes every file again (about a minute with its check and clean-up).
   */
  recipeMaxFiles: Math.round(envNumber('BENCH_RECIPE_MAX_FILES', 10_000, 0)),
  /** Rounds of the full copy and the recipe (context, not goals) above 1,000 files. */
  contextSamples: Math.round(envNumber('BENCH_CONTEXT_SAMPLES', 1, 1)),
  /** Which parts run: scales (issue 12's matrix), classic (one site release after release, the disk chart, the floor taken apart, the fleet). */
  parts: envParts('BENCH_PARTS', ['scales', 'classic']),
  report: path.resolve(process.env.BENCH_REPORT || path.join(ROOT, 'bench/report.md')),
  svg: path.resolve(process.env.BENCH_SVG || path.join(ROOT, 'docs/disk-over-releases.svg')),
}
export const BYTES_PER_SECOND = (CFG.mbit * 1e6) / 8

export const log = (msg: string) => process.stderr.write(`${msg}\n`)
