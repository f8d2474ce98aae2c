/** What a run prints: the tables on stdout, the disk chart, and bench/report.md. */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DIST, ROOT } from '../test/support/harness.js'
import { diskChart } from './chart.js'
import { CFG, log } from './config.js'
import type { Figures, Measured } from './figures.js'
import { mb, mbKb, mdTable, median, sec, textTable } from './format.js'
import { firstLine } from './proc.js'

/** stdout: the tables. */
export function printTables(f: Figures): void {
  const {
    diskHead,
    diskRows,
    firstRatio,
    fleetEstimate,
    fleetHead,
    fleetRatioFirst,
    fleetRatioRebuild,
    fleetRebuild,
    fleetRows,
    head,
    phaseRows,
    ratio,
    rows,
    sampleHead,
    sampleRows,
    wanLine,
  } = f
  process.stdout.write(
    [
      '',
      wanLine,
      '',
      textTable(head, rows),
      '',
      `our time over the floor (a / b, rebuild): ${ratio.toFixed(2)}  (first deploy: ${firstRatio.toFixed(2)}; goal ≤ 1.10)`,
      '',
      textTable(['phase of a (rebuild, median)', 'a s', 'b, taken apart, s'], phaseRows),
      '',
      textTable(sampleHead, sampleRows),
      '',
      textTable(fleetHead, fleetRows),
      '',
      `${CFG.hosts} hosts / 1 host: first deploy ${fleetRatioFirst.toFixed(2)}×, rebuild ${fleetRatioRebuild.toFixed(2)}× (goal: well under 2×); rebuild with the servers on their own CPUs, estimated: ${sec(fleetEstimate)} s, ${(fleetEstimate / fleetRebuild(1)).toFixed(2)}×`,
      '',
      textTable(diskHead, diskRows),
      '',
    ].join('\n'),
  )
}

/** The disk chart (CFG.svg). */
export function writeChart(f: Figures, measured: Measured): void {
  const { site } = measured
  const { chartSeries } = f
  mkdirSync(path.dirname(CFG.svg), { recursive: true })
  writeFileSync(
    CFG.svg,
    diskChart(
      chartSeries,
      `${CFG.files} files (${mb(site.totalBytes)} MB); each release a rebuild with ${(CFG.changed * 100).toFixed(0)}% of files changed`,
    ),
  )
}

/** How the run came about: when it started, the load then, and the Node that ran the action. */
export interface RunInfo {
  started: number
  loadStart: number[]
  actionNodeVersion: string
}

/** The machine the run was on, for the report. */
function machineText(info: RunInfo): string {
  const { loadStart, actionNodeVersion } = info
  const cpus = os.cpus()
  const osName = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type()
    } catch {
      return os.type()
    }
  })()
  const fsType = firstLine('findmnt', ['-n', '-o', 'FSTYPE', '--target', '/tmp']) || 'unknown'
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ')
  const machine = [
    `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}; memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- ${osName}, Linux ${os.release()}; /tmp (client and servers) on ${fsType}`,
    `- ${firstLine('rsync', ['--version']).replace(/\s+/g, ' ')}`,
    `- ${firstLine('ssh', ['-V'])}, client and server`,
    `- the action: dist/index.js of commit ${firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown'}${firstLine('git', ['-C', ROOT, 'status', '--porcelain', '--', 'dist/index.js']) ? ' (modified since)' : ''}, run with Node ${actionNodeVersion.replace(/^v/, '')} as the runner runs it; the benchmark itself with Node ${process.versions.node}`,
    `- load average ${load(loadStart)} at the start, ${load(os.loadavg())} at the end: the machine was shared with other work, which shows as noise (the median of several rebuilds is given)`,
  ].join('\n')
  return machine
}

/**
 * bench/report.md (CFG.report): the figures with the machine, the method and what they mean: the
 * scales (issue 12) and the classic part (one site release after release, the disk, the fleet),
 * each when it ran.
 */
export function writeReport(
  classic: { f: Figures; measured: Measured } | undefined,
  info: RunInfo,
  scales: string | undefined,
): void {
  const seconds = Math.round((Date.now() - info.started) / 1000)
  const parts = [
    `# Benchmark: this action against the alternatives

An example run of \`npm run bench\` (bench/bench.ts), committed so the figures can be read without running it.
It took ${seconds} s on the machine below.

## The machine

${machineText(info)}
`,
  ]
  if (scales) parts.push(`## Scales: cost against the change (issue 12)\n\n${scales}`)
  if (classic) parts.push(classicSections(classic.f, classic.measured))
  parts.push(`## Running it

\`\`\`sh
sudo npm run bench        # about ${Math.ceil((seconds + 30) / 60)} minutes here with these knobs, cleaning up included (it prints its expected duration first); needs rsync, openssh-server, util-linux (unshare), python3 (to empty the page cache of one release)
sudo env BENCH_PARTS=scales BENCH_SCALES=1000 BENCH_SAMPLES=2 BENCH_BIG_MB=0 npm run bench   # smaller and faster
\`\`\`

Knobs: \`BENCH_PARTS\` (${[...CFG.parts].join(',')}: \`scales\` and/or \`classic\`), \`BENCH_SCALES\` (${CFG.scales.join(',')}), \`BENCH_SAMPLES\` (${CFG.samples}: rounds of the goals' rebuilds, and of a and b in the classic part), \`BENCH_LARGE_SAMPLES\` (${CFG.largeSamples}: rounds of 1% changed above 10,000 files, of loopback at 10,000 and of f), \`BENCH_BIG_MB\` (${CFG.bigMb}; 0 skips the big site), \`BENCH_BIG_FILES\` (${CFG.bigFiles}), \`BENCH_TINY_FILES\` (${CFG.tinyFiles}: the site of the fixed overhead), \`BENCH_FULL_MAX_FILES\` (${CFG.fullMaxFiles}), \`BENCH_RECIPE_MAX_FILES\` (${CFG.recipeMaxFiles}), \`BENCH_CONTEXT_SAMPLES\` (${CFG.contextSamples}: rounds of c and d above 1,000 files), \`BENCH_FILES\` (${CFG.files}), \`BENCH_MBIT\` (${CFG.mbit}), \`BENCH_RTT_MS\` (${CFG.rttMs}), \`BENCH_HOSTS\` (${CFG.hosts}), \`BENCH_RELEASES\` (${CFG.releases}), \`BENCH_FLEET_SAMPLES\` (${CFG.fleetSamples}), \`BENCH_CHANGED\` (${CFG.changed}), \`BENCH_REPORT\`, \`BENCH_SVG\`. It measures dist/index.js: run \`npm run build\` first after changing src/.
`)
  mkdirSync(path.dirname(CFG.report), { recursive: true })
  writeFileSync(CFG.report, parts.join('\n'))
  log(`wrote ${path.relative(process.cwd(), CFG.report)} (${seconds} s)`)
}

/** The classic part's sections: one site, release after release; where the time goes; the fleet; the disk. */
function classicSections(f: Figures, measured: Measured): string {
  const { site } = measured
  const { direct, overWan } = measured.releases
  const {
    cpu1,
    cpuN,
    cpus,
    diskHead,
    diskRows,
    du,
    emptyCall,
    firstRatio,
    fixed,
    fleetEstimate,
    fleetHead,
    fleetRatioFirst,
    fleetRatioRebuild,
    fleetRebuild,
    fleetRows,
    floorMs,
    handshake,
    head,
    hostSpread,
    layoutCost,
    muxAbsolute,
    muxActionLayout,
    muxRsync,
    muxRsyncProgress,
    overhead,
    ph,
    phase,
    phaseRows,
    progressCost,
    ratio,
    rebuild2,
    rebuildMs,
    rebuilds,
    rows,
    sampleHead,
    sampleRows,
    sshdAgrees,
    wanLine,
  } = f
  const relSvg = path.relative(path.dirname(CFG.report), CFG.svg)
  const pct = (x: number) => `${(CFG.changed * 100 * x).toFixed(x === 1 ? 1 : 0)}%`

  const phaseText = ph.length
    ? [
        `Our rebuild took ${sec(rebuildMs('ours'))} s, the bare rsync ${sec(floorMs)} s: **${ratio.toFixed(2)}×**, ${sec(Math.abs(overhead))} s ${overhead >= 0 ? 'more' : 'less'}. The action's phases come from the times its log groups reached stdout; the floor is taken apart the same way (a master opened first, then the same rsync over it). Medians over ${ph.length} rebuilds:`,
        '',
        mdTable(['phase', 'this action s', 'the floor, taken apart, s'], phaseRows),
        '',
        'Each rebuild:',
        '',
        mdTable(sampleHead, sampleRows),
        '',
        `- **connect** is the handshake the floor pays too, inside its rsync: ${sec(phase('connect'))} s against ${sec(handshake)} s. A connection and one command take ${sec(median(direct))} s straight to the sshd and ${sec(median(overWan))} s through the WAN, so sshd's own start-up per connection is a large part of it. The action pays it once per deploy, whatever the number of steps; the by-hand recipe pays it four times.`,
        `- **upload** runs the floor's rsync with two more options, \`--info=progress2 --no-inc-recursive\` (progress lines for the log), and lays it out differently: into \`.deploy/incoming/<name>\`, with \`--link-dest=../../../releases/<live>\`. Over an open master the floor's rsync took ${sec(muxRsync)} s, with the two options ${sec(muxRsyncProgress)} s, laid out as the action does (†: into \`.deploy/incoming/x\`, \`--link-dest=../../../r<n>\`) ${sec(muxActionLayout)} s, and so with an absolute \`--link-dest\` ${sec(muxAbsolute)} s; the action's own upload took ${sec(phase('upload'))} s.${layoutCost > 50 && muxActionLayout - muxAbsolute > 50 ? ' The layout is what costs: rsync 3.4 and later (the CVE-2024-12086 hardening) open every directory from `/` down to each basis file, one `openat` per component, twice per unchanged file (seen with strace), and `x/../../../releases/<live>` adds six components to every one of those walks.' : ''}`,
        `- **prepare** and **publish and switch** are one remote \`sh -s\` each over the open master. An empty remote call costs ${sec(emptyCall)} s here (a new session on the master: a few round trips of ${CFG.rttMs} ms, starting ssh, the login shell), so the scripts themselves take about ${sec(Math.max(0, phase('prepare') - emptyCall))} s and ${sec(Math.max(0, phase('switch') - emptyCall))} s. The switch also measures the disk the release added (\`du -sk previous new\`: ${sec(du)} s for two releases of this site, run locally).`,
        `- **start** (Node loading the ${(statSync(DIST).size / 1e6).toFixed(1)} MB bundle, reading inputs, writing the key files) and **finish** (outputs, job summary, \`ssh -O exit\`) are costs the floor does not have: ${sec(phase('start') + phase('finish'))} s together.`,
        '',
        `So on top of the transfer the action pays a fixed ${sec(fixed)} s (start, prepare, switch, finish)${layoutCost > 50 ? `, and its upload ${sec(layoutCost)} s for where it puts the release` : ''}. Against a floor of ${sec(floorMs)} s the fixed part alone is ${((floorMs + fixed) / floorMs).toFixed(2)}×; 1.10 needs a floor of ${sec(fixed * 10)} s or more${firstRatio <= 1.1 ? `, as the first deploy shows (${firstRatio.toFixed(2)}×)` : ` (the first deploy: ${firstRatio.toFixed(2)}×)`}. The fixed part is the price of the lock, the checks, the atomic switch and the log: two remote calls, and Node's start.${fixed > 0.1 * floorMs ? ' A rebuild this small cannot reach 1.10 while they are separate steps; the changes below would bring it closer.' : ''}`,
      ].join('\n')
    : '(phase times were not found in the action log)'

  const improvements = [
    `- **Prepare in the master's own session.** Start the master with the prepare script as its command (\`ssh -M -o ControlPersist=… host sh -s\`) instead of \`-N\` and a second session: saves about one empty call (${sec(emptyCall)} s here, more on a longer link).`,
    du > 20
      ? `- **Measure the disk only when asked**, or more cheaply: the switch's \`du\` walks two releases (${sec(du)} s here, growing with the number of files); \`find new -type f -links 1\` counts only the new files, or the figure could come from rsync's own stats (bytes of the files it sent).`
      : `- The switch's \`du\` over two releases is cheap here (${sec(du)} s, warm caches); it grows with the number of files, so it could be made optional.`,
    layoutCost > 50 || muxActionLayout - muxAbsolute > 50
      ? `- **An absolute \`--link-dest\`** (\`TARGET/releases/<live>\`, the target is already absolute and normalised) instead of \`../../../releases/<live>\`: ${sec(muxActionLayout - muxAbsolute)} s less for this site over an open master (${sec(muxActionLayout)} → ${sec(muxAbsolute)} s), because rsync walks every component of that path for each file. The leftover of an earlier attempt could be named the same way.`
      : `- The \`--link-dest\` layout (\`../../../releases/<live>\` from \`.deploy/incoming/<name>\`) made no clear difference here (${sec(muxActionLayout)} s against ${sec(muxAbsolute)} s with an absolute path).`,
    progressCost > 50
      ? `- **Keep incremental recursion.** \`--no-inc-recursive\`, only there so \`--info=progress2\` can show a total, cost ${sec(progressCost)} s here: the sender checksums the whole tree before the receiver starts. Ask for the total only when the upload is long (no live release yet, or many files to send).`
      : `- \`--no-inc-recursive\` (for a progress total) made no measurable difference here (${progressCost >= 0 ? '+' : '−'}${sec(Math.abs(progressCost))} s, within the noise): no change needed.`,
    `- **A smaller start.** Node start-up and loading the bundle take most of the ${sec(phase('start'))} s before the first connection; trimming the bundle (only the parts of @actions/* in use) would save a little; the rest is Node itself.`,
    `- One fewer \`ssh -O exit\`: the master is closed twice at the end (once by the deploy, once while deleting the private directory); the second finds no master (a few ms).`,
  ].join('\n')

  const perSample = rebuilds('ours')
    .map((x) => {
      const f = rebuilds('floor').find((y) => y.release === x.release)
      return f ? (x.ms / f.ms).toFixed(2) : ''
    })
    .filter(Boolean)
    .join(', ')

  const fleetText = `${CFG.hosts} hosts took **${fleetRatioFirst.toFixed(2)}×** the time of 1 for the first deploy and **${fleetRatioRebuild.toFixed(2)}×** for a rebuild (goal: well under 2×). The action works on the hosts in parallel: all ${CFG.hosts} connect, upload and switch together, and the slowest host finished ${sec(hostSpread)} s after the fastest (median). What limits the rebuild here is this machine's ${cpus.length} cores: the ${CFG.hosts} "servers" are not separate machines, so their side of the work (sshd, and rsync receivers that each checksum the previous release and make ${CFG.files - site.changedPerRebuild} hard links) runs on the same cores as the runner's side. CPU time per rebuild, measured by cgroup: the servers ${sec(cpuN.servers)} s (${sec(cpu1.servers)} s for 1 host), the runner's side (Node, ssh, rsync senders) ${sec(cpuN.runner)} s (${sec(cpu1.runner)} s), the WAN simulator ${sec(cpuN.simulator)} s: ${sec(cpuN.servers + cpuN.runner + cpuN.simulator)} CPU-seconds in a ${sec(fleetRebuild(CFG.hosts))} s rebuild, of the ${sec(cpus.length * fleetRebuild(CFG.hosts))} the ${cpus.length} cores had (the machine was ${Math.round(100 * cpuN.share)}% busy, other work included).

With each server on its own machine, only the runner's extra CPU work (one rsync sender and one ssh per host: ${sec(Math.max(0, cpuN.runner - cpu1.runner))} s more for ${CFG.hosts} hosts than for 1, over ${cpus.length} cores) would add to the one-host time: about **${sec(fleetEstimate)} s, ${(fleetEstimate / fleetRebuild(1)).toFixed(2)}×** (an estimate from the measured CPU times, not a measurement). The first deploy is limited by each host's own link and comes out at ${fleetRatioFirst.toFixed(2)}× even on this machine; on one shared uplink it would move ${CFG.hosts}× the bytes through it.`

  return `## Classic: one site, release after release

### What was measured

- **The site**: ${CFG.files} files, ${mb(site.totalBytes)} MB in ${site.dirs.length} directories: ${site.files.filter((f) => f.kind === 'text').length} text files (HTML, JS, CSS, JSON, XML; median about 2 KB), ${site.files.filter((f) => f.kind === 'thumb').length} small images (3–20 KB) and ${site.files.filter((f) => f.kind === 'image').length} photos (20–200 KB). Deployed once (**first deploy**), then **rebuilt** as CI does, every file written again with a new mtime and ${site.changedPerRebuild} files (${pct(1)}) with entirely new content, and deployed again.
- **The link**: a WAN simulator on loopback (test/support/throttle.ts), a TCP proxy in front of a real sshd on 127.0.0.1: ${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms round trip. Bytes and SSH connections are counted at the proxy${sshdAgrees ? ' (sshd’s own log counted the same connections)' : ''}.
- **a. this action**: dist/index.js run as the GitHub runner runs it (inputs as \`INPUT_*\` variables), timed from the process start to its exit (the post step, which only cleans up, is not counted).
- **b. the floor**: one \`rsync\` with the action's own flags (\`rsyncArgs\` from src/rsync.ts: \`-r -l -p -c --chmod --link-dest\`, without the progress options) over one ssh connection, into a fresh directory. No lock, no checks, no switch: the least this approach can cost.
- **c. full copy**: \`rsync -r -l -p\` into a fresh directory, no \`--link-dest\` (\`scp -r\` would send the same bytes).
- **d. by hand**, as the tools that keep releases do it: \`ssh host cp -al live new\`, \`rsync -a --delete build/ host:new/\`, \`ssh host ln -s new current.tmp\`, \`ssh host mv -T current.tmp current\`: four ssh calls, four connections.
- **new release disk**: \`du -sk previous new\` on the server, the second figure: du counts a hard-linked file once, at its first path, so this is what the new release really added (directories included: they cannot be hard-linked).
- Rebuild times: the median of releases 2–${1 + CFG.samples} for a and b, release 2 for c and d; wire, connections, files and disk: release 2. Later releases${CFG.samples + 2 <= CFG.releases ? '' : ' of c and d'} only feed the disk chart and went straight to the sshd, without the WAN.

### Results

${wanLine}.

${mdTable(head, rows)}

**Our time over the floor (a / b), rebuild: ${ratio.toFixed(2)}** (goal: at most 1.10; each rebuild: ${perSample}). **First deploy: ${firstRatio.toFixed(2)}.**

- The rebuild sends ${rebuild2('ours').filesSent} files and hard-links the other ${CFG.files - rebuild2('ours').filesSent}: the new release costs ${mbKb(rebuild2('ours').diskKb)} MB of disk (${site.dirs.length} directories, which cannot be hard-linked, take about ${mb(site.dirs.length * 4096)} MB of it), a full copy ${mbKb(rebuild2('full').diskKb)} MB, and the \`cp -al\` recipe ${mbKb(rebuild2('recipe').diskKb)} MB: \`rsync -a\` sees a new mtime on every file, writes each one to a temporary file and renames it over the hard link, so every link is broken and every file is stored again, although only deltas cross the wire.
- One SSH connection per deploy for this action (its master), ${rebuild2('recipe').wire.connections} for the recipe.

### Where the time goes

${phaseText}

What could be improved:

${improvements}

### 1 host against ${CFG.hosts}

Each host an sshd in its own mount namespace (its own disk at the same target path) behind its own link of ${CFG.mbit} Mbit/s and ${CFG.rttMs} ms; the action's default \`max-parallel\` (8). CPU seconds are per rebuild (mean over the rebuilds).

${mdTable(fleetHead, fleetRows)}

${fleetText}

### Disk over ${CFG.releases} releases

![Disk used on the server over ${CFG.releases} releases](${relSvg})

All releases kept (\`keep-releases: 0\`). Cumulative \`du -sk\` of the deploy root after each release, MB:

${mdTable(diskHead, diskRows)}

`
}
