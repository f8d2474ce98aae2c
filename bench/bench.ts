/**
 * `npm run bench`: this action against the alternatives, through a simulated WAN on loopback.
 * Not part of the test suite. Needs root (it starts sshds, some in their own mount namespace, and
 * uses the throwaway user of the integration tests). Prints the tables to stdout, progress to stderr,
 * and writes bench/report.md (and, with the classic part, docs/disk-over-releases.svg). npm run bench
 * bundles this file with ncc into .cache/bench/ (two levels down, so the harness still finds the
 * repository) and runs it.
 *
 * The parts: config.ts (the knobs), proc.ts (processes and clean-up), site.ts (the site and its
 * builds), measure.ts (disk, CPU, wire, phases, server I/O, the page cache), methods.ts (the server
 * and the methods), verify.ts (every result checked), scales.ts + scales-report.ts (the scales),
 * releases.ts (a–d release after release), fleet.ts (1 host against N), figures.ts, report.ts,
 * chart.ts, format.ts.
 *
 * Part `scales` (issue 12): sites of BENCH_SCALES files (1k, 10k, 50k) and a big one (BENCH_BIG_MB,
 * a few big files and 10,000 small ones), each rebuilt (every mtime new) with BENCH_CHANGED of the
 * files changed and with none changed, round after round, by:
 *   a. this action, end to end: dist/index.js run as the runner runs it (INPUT_* variables);
 *   b. the floor: one raw `rsync` with our flags (rsyncArgs, -c) and --link-dest, into a fresh directory;
 *   e. in place: one `rsync -rlpzc --delete build/ host:live/` into the live directory (not atomic);
 *   c. a full copy into a fresh directory (rsync, no --link-dest);
 *   d. the by-hand recipe: `cp -al` of the live release, `rsync -a --delete` into it, `ln -s`,
 *      `mv -T`: four ssh calls, four connections;
 *   f. (big site) an mtime-based `rsync -rlpt --link-dest` given the build with its deployed mtimes.
 * Each method's first release goes straight to the sshd; the rebuilds go through the WAN simulator
 * (test/support/throttle.ts: BENCH_MBIT each way, BENCH_RTT_MS round trip). The big site has its
 * own sshd whose sessions log their I/O, and each of its live releases leaves the page cache before
 * a deploy: does a no-change rebuild read it again? A tiny site (BENCH_TINY_FILES files, a few
 * KB) is deployed by a and b on loopback, no change, round after round: the fixed overhead (a's
 * time minus its rsync step minus the SSH handshake); at 10,000 files (or the smallest scale) a
 * and b run on loopback too, for the same figure with the per-file work in it. The goals'
 * rebuilds (10k 1% changed, 10k and 50k no change, the big site, the tiny site) get BENCH_SAMPLES
 * rounds; the context fewer (scales.ts roundsOf). Every release is checked against its build
 * (verify.ts). The goals of issue 12 are computed and printed with met / not met.
 *
 * Part `classic`: a site of BENCH_FILES files deployed (release 1), then rebuilt and deployed again,
 * BENCH_RELEASES times in all, by a–d. Release 1 and the rebuilds measured (2 for c and d; 2 to
 * BENCH_SAMPLES + 1 for a and b, which take turns at going first) go through the WAN simulator;
 * later releases only feed the disk chart and go straight to the sshd. Each rebuild of b is also
 * taken apart (handshake, an empty remote call, its rsync over a master with and without the
 * action's options and layout). Then the same site goes to 1 host and to BENCH_HOSTS hosts (sshds
 * in their own mount namespaces, each behind its own WAN link), with the CPU time of the servers'
 * side and the runner's side measured apart (cgroups), since here they share one machine.
 *
 * Knobs (environment): BENCH_PARTS=scales,classic BENCH_SCALES=1000,10000,50000 BENCH_BIG_MB=1000
 * (0 skips the big site) BENCH_BIG_FILES=8 BENCH_TINY_FILES=10 BENCH_SAMPLES=5 (rounds of the
 * goals' rebuilds, and of a and b in the classic part) BENCH_LARGE_SAMPLES=3 (rounds of 1% changed
 * above 10k files, of loopback at 10k and of f) BENCH_FULL_MAX_FILES=10000
 * BENCH_RECIPE_MAX_FILES=10000 (c and d run up to these sizes) BENCH_CONTEXT_SAMPLES=1 (rounds of c
 * and d above 1k) BENCH_FILES=10000 BENCH_MBIT=50 BENCH_RTT_MS=20 BENCH_HOSTS=8 BENCH_RELEASES=10 BENCH_SAMPLES=5
 * BENCH_FLEET_SAMPLES=3 BENCH_CHANGED=0.01 BENCH_REPORT=bench/report.md BENCH_SVG=docs/disk-over-releases.svg
 */

import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DIST, ROOT } from '../test/support/harness.js'
import { CFG, log } from './config.js'
import { estimate, estimateText } from './estimate.js'
import { type Figures, figures, type Measured } from './figures.js'
import { measureFleet } from './fleet.js'
import { mb, sec } from './format.js'
import { housekeeping } from './measure.js'
import { makeMethods, startServer } from './methods.js'
import { cleanup, cleanups, exec, firstLine } from './proc.js'
import { measureReleases } from './releases.js'
import { printTables, writeChart, writeReport } from './report.js'
import { measureScales } from './scales.js'
import { type ScalesFigures, scalesFigures } from './scales-report.js'
import { Builds, Site } from './site.js'

/** What the benchmark needs before it starts anything. */
function preflight(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'npm run bench needs root: it starts sshds (some in their own mount namespace) and a test user',
    )
  }
  for (const bin of ['rsync', 'ssh', 'du', 'unshare']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed`)
  }
  if (!existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd is not installed (openssh-server)')
  // The harness finds the repository from its own location: bundled, from .cache/bench/ (two levels down).
  if (!existsSync(path.join(ROOT, 'action.yml'))) {
    throw new Error(`${ROOT} is not the repository: build the benchmark into .cache/bench/ (npm run bench)`)
  }
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`)
  const distAge = statSync(DIST).mtimeMs
  const newerSrc = readdirSync(path.join(ROOT, 'src')).filter(
    (f) => statSync(path.join(ROOT, 'src', f)).mtimeMs > distAge,
  )
  if (newerSrc.length > 0) {
    log(`note: dist/index.js is older than src/${newerSrc.join(', src/')}: run npm run build to measure them`)
  }
}

async function main(): Promise<void> {
  preflight()
  // The runtime GitHub runs the action with (runs.using: node24), when the test setup installed it.
  const node24 = path.join(ROOT, '.cache/node24/node_modules/.bin/node')
  const actionNode = process.env.RAD_NODE24 || (existsSync(node24) ? node24 : process.execPath)
  const actionNodeVersion = firstLine(actionNode, ['--version'])

  const started = Date.now()
  const loadStart = os.loadavg()
  // The defaults take many minutes: say how many before starting (a model: bench/estimate.ts).
  log(`expected duration: ${estimateText(estimate(CFG))}; a model of this 2-core machine (bench/estimate.ts)`)
  const base = mkdtempSync('/tmp/radbench-')
  // rm(1): much faster than fs.rmSync on the hundreds of thousands of links a run leaves.
  cleanups.push(async () => {
    await exec('rm', ['-rf', '--one-file-system', base])
  })
  chmodSync(base, 0o755)

  // One server behind one WAN link.
  const server = await startServer(base)
  let scales: ScalesFigures | undefined
  if (CFG.parts.has('scales')) {
    const run = await measureScales(server, base, actionNode)
    log(`scales: ${sec(run.ms)} s`)
    scales = scalesFigures(run)
    process.stdout.write(scales.text)
    // Written now too: a run stopped during the classic part still leaves the scales' report.
    if (CFG.parts.has('classic')) writeReport(undefined, { started, loadStart, actionNodeVersion }, scales.md)
  }

  let classic: { f: Figures; measured: Measured } | undefined
  if (CFG.parts.has('classic')) {
    log(`site: ${CFG.files} files; WAN ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms RTT; work dir ${base}`)
    const site = new Site(
      CFG.files,
      Math.max(CFG.releases, 1 + CFG.samples, 1 + CFG.fleetSamples),
      CFG.changed,
    )
    log(
      `site: ${mb(site.totalBytes)} MB in ${site.dirs.length} directories; ${site.changedPerRebuild} files change per rebuild`,
    )
    const builds = new Builds(site, base)
    // The four methods, release after release; then the fleets.
    const methods = makeMethods(server, actionNode)
    const t = performance.now()
    const releases = await measureReleases(server, methods, builds)
    log(`classic: releases ${sec(performance.now() - t)} s`)
    const tf = performance.now()
    const fleetRuns = await measureFleet(server, base, builds, actionNode)
    log(`classic: fleet ${sec(performance.now() - tf)} s`)
    const measured: Measured = { site, methods, releases, fleetRuns }
    const f = figures(measured)
    printTables(f)
    writeChart(f, measured)
    classic = { f, measured }
  }
  log(`housekeeping: ${sec(housekeeping.build)} s writing builds, ${sec(housekeeping.settle)} s in sync`)
  writeReport(classic, { started, loadStart, actionNodeVersion }, scales?.md)
}

let interrupted = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true
    log(`${sig}: cleaning up…`)
    cleanup().finally(() => process.exit(130))
  })
}

main()
  .then(cleanup, async (e) => {
    if (!interrupted) log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    await cleanup()
    process.exitCode = 1
  })
  .catch((e) => {
    log(String(e))
    process.exitCode = 1
  })
