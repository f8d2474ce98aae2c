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
  report: path.resolve(process.env.BENCH_REPORT || path.join(ROOT, 'bench/report.md')),
  svg: path.resolve(process.env.BENCH_SVG || path.join(ROOT, 'docs/disk-over-releases.svg')),
}
export const BYTES_PER_SECOND = (CFG.mbit * 1e6) / 8

export const log = (msg: string) => process.stderr.write(`${msg}\n`)
