/**
 * How long a run takes with the given knobs, printed before it starts (a run with the defaults
 * takes many minutes). A model, not a measurement: the costs below were measured on the 2-core
 * machine of bench/report.md while it was shared with other work (load 3–9): per deploy of each
 * method and per file, what the benchmark does around every deploy (the build's new mtimes, sync,
 * checking the release, removing old ones), each scale's setup and clean-up. A run of 50k files
 * and 1 GB took 762 s against 13 min modelled; the classic part under load 7–9 took 893 s against
 * 7 min; bench/report.md's run on a quiet machine took 0.3× the model (QUIET). Each run logs its
 * parts' real times (build, seeds, checks, clean-ups, each scale and part), to correct the model.
 */
import type { Method } from './methods.js'
import { loopbackScale, type Rounds, roundsOf, type Scenario } from './scales.js'

export interface EstimateKnobs extends Rounds {
  parts: Set<string>
  scales: number[]
  fullMaxFiles: number
  recipeMaxFiles: number
  bigMb: number
  tinyFiles: number
  files: number
  releases: number
  hosts: number
  fleetSamples: number
  mbit: number
}

/** Seconds of one deploy at n files: fixed + per file (ms); over the WAN or on loopback. */
const DEPLOY: Record<Method['key'], { wan: [number, number]; lan: [number, number] }> = {
  ours: { wan: [1.0, 0.21], lan: [0.7, 0.2] },
  floor: { wan: [0.2, 0.22], lan: [0.1, 0.14] },
  inplace: { wan: [0.5, 0.07], lan: [0.1, 0.07] },
  // Its bytes over the link: about 5.8 MB per 1,000 files at 50 Mbit/s (scaled by BENCH_MBIT below).
  full: { wan: [0.3, 0.93], lan: [0.2, 0.25] },
  recipe: { wan: [0.5, 0.35], lan: [0.3, 0.3] },
  mtime: { wan: [0.5, 0.07], lan: [0.2, 0.05] },
}
/** Around each deploy (s per file): the build's new mtimes, sync, the check, removing an old release. */
const AROUND_LINKED = 0.09e-3
/** The same for a release of new files (c, d), whose check reads every file. */
const AROUND_COPIED = 0.45e-3
/** Writing a build, per file; seeding one method straight to the sshd and checking it, per file. */
const BUILD = 0.36e-3
const SEED = 0.3e-3
/** Removing one path of a release (a file or a hard link) at the end of a scale. */
const REMOVE = 0.4e-3
/** The big site (s per MB): writing its build, seeding one method and checking it, a round of a, b and f. */
const BIG = { build: 0.07, seed: 0.065, ours: 0.02, floor: 0.012, mtime: 0.002, cleanup: 0.03 }
/** The classic part at 10,000 files, 10 releases, 5 rounds, 8 hosts, 3 fleet rounds (s), per file and release. */
const CLASSIC_PER_FILE_RELEASE = 2.6e-3
const FLEET_PER_FILE_HOST_ROUND = 0.35e-3

const WAN_MBIT = 50

function deployS(key: Method['key'], files: number, via: 'wan' | 'lan', mbit: number): number {
  const [fixed, perFileMs] = DEPLOY[key][via]
  const bandwidth = key === 'full' && via === 'wan' ? WAN_MBIT / mbit : 1
  return fixed + (perFileMs * files * bandwidth) / 1000
}

/** The methods a scale of that many files runs (as scales.ts plans them). */
function methodsAt(files: number, k: EstimateKnobs): Method['key'][] {
  const keys: Method['key'][] = ['ours', 'floor', 'inplace']
  if (files <= k.fullMaxFiles) keys.push('full')
  if (files <= k.recipeMaxFiles) keys.push('recipe')
  return keys
}

export interface Estimate {
  parts: { name: string; s: number }[]
  total: number
}

/** One scale: writing its build and seeding its methods, its rounds, its clean-up (s). */
interface ScaleCost {
  name: string
  setup: number
  rounds: number
  cleanup: number
}

function scaleCosts(k: EstimateKnobs): ScaleCost[] {
  const out: ScaleCost[] = []
  // The tiny site: a and b on loopback, with a handshake each round.
  const tinyRounds = roundsOf({ files: k.tinyFiles, big: false, tiny: true }, 'loopback', 'ours', k)
  out.push({
    name: 'tiny',
    setup: 2,
    rounds: tinyRounds * (deployS('ours', 0, 'lan', k.mbit) + deployS('floor', 0, 'lan', k.mbit) + 1),
    cleanup: 0,
  })
  const onLoopback = loopbackScale(k.scales)
  for (const files of k.scales) {
    const keys = methodsAt(files, k)
    const scale = { files, big: false }
    const scenarios: Scenario[] =
      files === onLoopback ? ['change', 'nochange', 'loopback'] : ['change', 'nochange']
    let rounds = 0
    let removed = files * (1 + keys.length)
    for (const scn of scenarios) {
      for (const key of scn === 'loopback' ? (['ours', 'floor'] as const) : keys) {
        const n = roundsOf(scale, scn, key, k)
        const copied = key === 'full' || key === 'recipe'
        rounds += n * (deployS(key, files, scn === 'loopback' ? 'lan' : 'wan', k.mbit) + 0.5)
        rounds += n * files * (copied ? AROUND_COPIED : AROUND_LINKED)
        // The action keeps every release; the others only the live one and the one before.
        if (key === 'ours') removed += n * files
      }
    }
    out.push({
      name: `${files / 1000}k`,
      setup: files * BUILD + keys.length * files * SEED,
      rounds,
      cleanup: removed * REMOVE,
    })
  }
  if (k.bigMb > 0) {
    const big = { files: 10_000, big: true }
    const round = (key: 'ours' | 'floor' | 'mtime') =>
      roundsOf(big, 'nochange', key, k) * (4 + BIG[key] * k.bigMb)
    out.push({
      name: `${k.bigMb} MB`,
      setup: k.bigMb * (BIG.build + 3 * BIG.seed),
      rounds: round('ours') + round('floor') + round('mtime'),
      cleanup: k.bigMb * BIG.cleanup,
    })
  }
  return out
}

export function estimate(k: EstimateKnobs): Estimate {
  const parts: Estimate['parts'] = []
  if (k.parts.has('scales')) {
    // A scale's clean-up runs during the next one's setup (scales.ts): the longer of the two
    // counts, and half the shorter (they share the disk).
    const costs = scaleCosts(k)
    costs.forEach((c, i) => {
      const before = costs[i - 1]?.cleanup ?? 0
      const overlap = Math.max(before, c.setup) + 0.5 * Math.min(before, c.setup)
      const last = i === costs.length - 1 ? c.cleanup : 0
      parts.push({ name: c.name, s: overlap + c.rounds + last })
    })
  }
  if (k.parts.has('classic')) {
    parts.push({
      name: 'classic',
      s: 10 + (k.files * k.releases * CLASSIC_PER_FILE_RELEASE * (k.samples + 5)) / 10,
    })
    parts.push({
      name: 'fleet',
      s: 10 + k.files * (1 + k.hosts) * (1 + k.fleetSamples) * FLEET_PER_FILE_HOST_ROUND,
    })
  }
  return { parts, total: parts.reduce((a, p) => a + p.s, 0) }
}

/**
 * A quiet machine against the model: bench/report.md's run (10k files, 3 rounds, 200 MB, the
 * classic part) took 178 s on it, the model says 11 min.
 */
export const QUIET = 0.3

/** `about 9 min on a quiet machine, 30 min as busy as … (tiny 11 s, 1k 81 s, …)`. */
export function estimateText(e: Estimate): string {
  const t = (s: number) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`)
  return `about ${t(e.total * QUIET)} on a quiet machine, ${t(e.total)} on one as busy as when it was modelled (${e.parts.map((p) => `${p.name} ${t(p.s)}`).join(', ')})`
}
