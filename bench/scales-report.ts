/**
 * The scales' figures (issue 12): the tables side by side, where our time goes, the fixed
 * overhead, and the goals, each computed from the samples with met / not met. Markdown for the
 * report, plain text for stdout, from the same rows.
 */
import { CFG } from './config.js'
import { mb, mdTable, median, sec, textTable } from './format.js'
import { phaseOrder } from './measure.js'
import type { Method } from './methods.js'
import type { Scale, ScaleSample, ScalesRun, Scenario } from './scales.js'

const ORDER: Method['key'][] = ['ours', 'floor', 'inplace', 'full', 'recipe', 'mtime']
const SHORT: Record<Method['key'], string> = {
  ours: 'a. this action',
  floor: 'b. floor: rsync -c --link-dest',
  inplace: 'e. in place: rsync -rlpzc --delete',
  full: 'c. full copy',
  recipe: 'd. recipe: cp -al + rsync -a',
  mtime: 'f. mtime rsync -rlpt --link-dest, mtimes kept',
}
const SCENARIO: Record<Scenario, string> = {
  change: '1% changed',
  nochange: 'no change',
  loopback: 'no change, loopback',
}

interface Stat {
  n: number
  median: number
  min: number
  max: number
}

function stat(xs: number[]): Stat | undefined {
  if (xs.length === 0) return undefined
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }
}

/** The time of ours' log group(s) of that name in one deploy (0 when it has none). */
const phaseMs = (s: ScaleSample, name: string) =>
  (s.named ?? []).filter((p) => p.name === name).reduce((a, p) => a + p.ms, 0)

export interface Overhead {
  scale: string
  /** a end to end on loopback, no change. */
  total: Stat
  /** Its rsync step (the `upload` log group). */
  upload: Stat
  /** The SSH handshake alone on loopback (ssh -M -N -f), the median of `handshakes` samples. */
  handshake: number
  handshakes: number
  /** total − upload, per round. */
  withHandshake: Stat
  /** total − upload − handshake, per round: the overhead. */
  fixed: Stat
  /** Rounds whose log had no `upload` group (renamed?): their figure includes the transfer. */
  noUpload: number
}

/**
 * The overhead of ours at one scale on loopback (no-change rebuild): per round, its end-to-end
 * time minus its rsync step (the transfer) minus the SSH handshake every method pays (measured
 * alone, its median). What is left is Node's start, the connection's checks, the prepare and the
 * switch calls and the finish; on the tiny site that is the fixed part, at 10,000 files it also
 * holds the per-file work outside rsync (hashing the build, the server's links and checks).
 */
export function overheadAt(
  samples: ScaleSample[],
  scale: string,
  handshakes: number[],
): Overhead | undefined {
  const loop = samples.filter((s) => s.scale === scale && s.scenario === 'loopback' && s.method === 'ours')
  const handshake = handshakes.length ? median(handshakes) : Number.NaN
  const total = stat(loop.map((s) => s.ms))
  const upload = stat(loop.map((s) => phaseMs(s, 'upload')))
  const withHandshake = stat(loop.map((s) => s.ms - phaseMs(s, 'upload')))
  const fixed = stat(loop.map((s) => s.ms - phaseMs(s, 'upload') - handshake))
  if (!total || !upload || !withHandshake || !fixed || Number.isNaN(handshake)) return undefined
  const noUpload = loop.filter((s) => !(s.named ?? []).some((p) => p.name === 'upload')).length
  return { scale, total, upload, handshake, handshakes: handshakes.length, withHandshake, fixed, noUpload }
}

/**
 * The rounds each rebuild got, from the samples: `10k 1% changed: 5 (c, d: 1)`, the methods with
 * fewer rounds than the most named in brackets.
 */
export function roundsText(scales: Pick<Scale, 'name' | 'scenarios'>[], samples: ScaleSample[]): string {
  const parts: string[] = []
  for (const sc of scales) {
    for (const scn of sc.scenarios) {
      const counts = new Map<Method['key'], number>()
      for (const s of samples) {
        if (s.scale === sc.name && s.scenario === scn) counts.set(s.method, (counts.get(s.method) ?? 0) + 1)
      }
      if (counts.size === 0) continue
      const most = Math.max(...counts.values())
      const fewer = new Map<number, string[]>()
      for (const k of ORDER) {
        const n = counts.get(k)
        if (n !== undefined && n < most) fewer.set(n, [...(fewer.get(n) ?? []), SHORT[k].slice(0, 1)])
      }
      const rest = [...fewer].map(([n, ks]) => `${ks.join(', ')}: ${n}`).join('; ')
      parts.push(`${sc.name} ${SCENARIO[scn]}: ${most}${rest ? ` (${rest})` : ''}`)
    }
  }
  return parts.join(', ')
}

/** `1.23 (1.10–1.40)`: median and spread (min–max) of the rounds; `—` when not run. */
const cell = (s: Stat | undefined, f = sec) =>
  s ? (s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : `${f(s.median)} (1 round)`) : '—'

export interface Goal {
  goal: string
  measured: string
  /** undefined: not measured in this run (a knob left it out). */
  met: boolean | undefined
}

export interface ScalesFigures {
  md: string
  text: string
  goals: Goal[]
}

export function scalesFigures(run: ScalesRun): ScalesFigures {
  const { scales, samples } = run
  const of = (scale: string, scenario: Scenario, method: Method['key']) =>
    samples.filter((s) => s.scale === scale && s.scenario === scenario && s.method === method)
  const ms = (scale: string, scenario: Scenario, method: Method['key']) =>
    stat(of(scale, scenario, method).map((s) => s.ms))
  const wrong = (xs: ScaleSample[]) => xs.filter((s) => s.check.problems.length > 0)
  // The real sites; the tiny one only measures the fixed overhead on loopback.
  const smallScales = scales.filter((s) => !s.big && !s.tiny)
  const big = scales.find((s) => s.big)

  // 1. Side by side: rows the methods, columns each scale's scenarios (seconds over the WAN).
  const cols = smallScales.flatMap((sc) =>
    (['change', 'nochange'] as Scenario[]).map((scn) => ({ sc, scn, head: `${sc.name} ${SCENARIO[scn]} s` })),
  )
  if (big) cols.push({ sc: big, scn: 'nochange', head: `${big.name} no change s` })
  const present = ORDER.filter((k) => scales.some((sc) => sc.methods.some((m) => m.key === k)))
  const sideHead = ['method', ...cols.map((c) => c.head)]
  const sideRows = present.map((k) => [
    SHORT[k],
    ...cols.map((c) => {
      const xs = of(c.sc.name, c.scn, k)
      const bad = wrong(xs).length > 0 ? ' ✗' : ''
      const skip = c.sc.skipped.find((x) => x.key === k)
      return xs.length === 0 && skip ? `not run (${skip.why})` : `${cell(stat(xs.map((s) => s.ms)))}${bad}`
    }),
  ])
  const ratioTo = (other: Method['key'], label: string) => [
    label,
    ...cols.map((c) => {
      const a = ms(c.sc.name, c.scn, 'ours')
      const o = ms(c.sc.name, c.scn, other)
      return a && o ? (a.median / o.median).toFixed(2) : '—'
    }),
  ]
  const ratioRow = ratioTo('floor', 'a / b (medians)')
  const ratioInplace = ratioTo('inplace', 'a / e (medians)')

  // 2. Per scale: what each deploy moved and what the server read; the result checks.
  const detailHead = [
    'scale',
    'rebuild',
    'method',
    'rounds',
    'wire MB',
    'SSH conns',
    'files sent',
    'unchanged files hard-linked',
    'checked',
  ]
  const detailRows: string[][] = []
  for (const sc of scales) {
    for (const scn of sc.scenarios) {
      for (const m of ORDER) {
        const xs = of(sc.name, scn, m)
        if (xs.length === 0) continue
        const bad = wrong(xs)
        const claim = ['ours', 'floor', 'mtime'].includes(m)
        detailRows.push([
          sc.name,
          SCENARIO[scn],
          SHORT[m],
          String(xs.length),
          mb(median(xs.map((s) => s.wire.up + s.wire.down))),
          [...new Set(xs.map((s) => s.sshdConnections))].join('/'),
          String(median(xs.map((s) => s.filesSent))),
          m === 'inplace'
            ? 'n/a (one directory)'
            : `${median(xs.map((s) => s.check.linked))} of ${median(xs.map((s) => s.check.unchanged))}${claim ? '' : ' (not claimed)'}`,
          bad.length === 0
            ? 'identical'
            : `WRONG in ${bad.length}: ${bad[0]?.check.problems.slice(0, 2).join('; ')}`,
        ])
      }
    }
  }

  // 3. The big site: does a no-change rebuild read the live release again on the server?
  const bigRows: string[][] = []
  const evictions = new Set<string>()
  if (big) {
    for (const m of big.methods) {
      const xs = of(big.name, 'nochange', m.key)
      for (const s of xs) evictions.add(s.eviction ?? 'none')
      const rb = xs.map((s) => s.io?.readBytes ?? Number.NaN)
      bigRows.push([
        SHORT[m.key],
        cell(stat(xs.map((s) => s.ms))),
        cell(stat(rb), (b) => mb(b)),
        mb(median(xs.map((s) => s.io?.rchar ?? Number.NaN))),
        `${((median(rb) / big.site.totalBytes) * 100).toFixed(1)}%`,
        mb(median(xs.map((s) => s.wire.up + s.wire.down))),
        xs.every((s) => s.ioComplete) ? 'yes' : 'no',
      ])
    }
  }
  const bigHead = [
    'method',
    'no-change rebuild s',
    'server read from disk MB',
    'server read() MB',
    'of the site',
    'wire MB',
    'sessions ended',
  ]

  // 4. Where our time goes: ours' phases (medians), per scale and rebuild.
  // Whatever log groups the action printed, in the order they ran; start and finish at the ends.
  const named = phaseOrder(
    samples.filter((s) => s.method === 'ours').map((s) => (s.named ?? []).map((p) => p.name)),
  )
  const phaseOf = (xs: ScaleSample[], name: string) => stat(xs.map((s) => phaseMs(s, name)))
  const whereHead = ['scale', 'rebuild', ...named, 'total a', 'total b']
  const whereRows: string[][] = []
  for (const sc of scales) {
    for (const scn of sc.scenarios) {
      const xs = of(sc.name, scn, 'ours')
      if (xs.length === 0) continue
      whereRows.push([
        sc.name,
        SCENARIO[scn],
        ...named.map((n) => sec(phaseOf(xs, n)?.median ?? Number.NaN)),
        sec(ms(sc.name, scn, 'ours')?.median ?? Number.NaN),
        sec(ms(sc.name, scn, 'floor')?.median ?? Number.NaN),
      ])
    }
  }

  // 5. The overhead on loopback: the tiny site's is the fixed part (the goal); at a real scale it
  // also holds the per-file work, shown beside it so nothing is hidden.
  const tiny = scales.find((s) => s.tiny)
  const fixed = tiny && overheadAt(samples, tiny.name, run.handshakes)
  const perFileScale = smallScales.find((sc) => sc.scenarios.includes('loopback'))
  const perFile = perFileScale && overheadAt(samples, perFileScale.name, run.handshakes)
  const floorLoop = (scale: string) =>
    stat(
      samples
        .filter((s) => s.scale === scale && s.scenario === 'loopback' && s.method === 'floor')
        .map((s) => s.ms),
    )

  // 6. The goals, computed.
  const goals: Goal[] = []
  const fmtRatio = (a: Stat, b: Stat) =>
    `${sec(a.median)} s / ${sec(b.median)} s = ${(a.median / b.median).toFixed(2)}× (medians of ${a.n} and ${b.n}; a ${sec(a.min)}–${sec(a.max)}, other ${sec(b.min)}–${sec(b.max)})`
  const oursRight = (scale: string, scn: Scenario) => wrong(of(scale, scn, 'ours')).length === 0
  /** a ≤ factor × other, at `files` files and that rebuild; not measured when the scale did not run. */
  const ratioGoal = (
    files: number,
    scn: Scenario,
    other: Method['key'],
    factor: number,
    goal: string,
  ): Goal => {
    const sc = smallScales.find((x) => x.files === files)
    const a = sc && ms(sc.name, scn, 'ours')
    const o = sc && ms(sc.name, scn, other)
    if (!sc || !a || !o)
      return { goal, measured: `not measured (${files} not in BENCH_SCALES)`, met: undefined }
    return { goal, measured: fmtRatio(a, o), met: a.median <= factor * o.median && oursRight(sc.name, scn) }
  }
  goals.push(
    ratioGoal(10_000, 'change', 'floor', 0.6, 'rebuild, 10,000 files, 1% changed: a ≤ 0.6 × b (floor)'),
    ratioGoal(
      10_000,
      'change',
      'inplace',
      1,
      'rebuild, 10,000 files, 1% changed: a ≤ e (in-place rsync -zc)',
    ),
    ratioGoal(50_000, 'nochange', 'floor', 0.5, 'no-change rebuild, 50,000 files: a ≤ 0.5 × b (floor)'),
  )
  {
    const goal = `${big ? big.name : '1 GB'} site, no-change rebuild: a does not read the live release again on the server (reads from disk ≤ 5% of the site, cache emptied first)`
    const xs = big ? of(big.name, 'nochange', 'ours') : []
    if (!big || xs.length === 0)
      goals.push({ goal, measured: 'not measured (BENCH_BIG_MB=0)', met: undefined })
    else if (xs.some((s) => s.eviction === 'none'))
      goals.push({ goal, measured: 'not measured: the page cache could not be emptied', met: undefined })
    else {
      const rb = median(xs.map((s) => s.io?.readBytes ?? Number.NaN))
      goals.push({
        goal,
        measured: `${mb(rb)} MB read from disk of a ${mb(big.site.totalBytes)} MB site (${((rb / big.site.totalBytes) * 100).toFixed(1)}%)`,
        met:
          rb <= 0.05 * big.site.totalBytes &&
          xs.every((s) => s.ioComplete) &&
          oursRight(big.name, 'nochange'),
      })
    }
  }
  goals.push(
    fixed
      ? {
          goal: `fixed overhead on loopback ≤ 0.25 s: a's end-to-end time on a ${tiny?.files}-file site (no change) minus its rsync step (upload) minus the SSH handshake`,
          measured: `${sec(fixed.fixed.median)} s (${sec(fixed.fixed.min)}–${sec(fixed.fixed.max)}, ${fixed.fixed.n} rounds; with the handshake ${sec(fixed.withHandshake.median)} s)${perFile ? `; at ${perFileScale?.name} files, per-file work included: ${sec(perFile.fixed.median)} s` : ''}`,
          // Without the upload group the transfer is in the figure: not a measurement of the goal.
          met: fixed.noUpload > 0 ? undefined : fixed.fixed.median <= 250,
        }
      : { goal: 'fixed overhead on loopback ≤ 0.25 s', measured: 'not measured', met: undefined },
  )
  const oursAll = samples.filter((s) => s.method === 'ours')
  const conns = [
    ...new Set(oursAll.map((s) => (s.scenario === 'loopback' ? s.sshdConnections : s.wire.connections))),
  ]
  goals.push({
    goal: 'one SSH connection per deploy (a)',
    measured: `${conns.join(', ')} connection(s) per deploy, over ${oursAll.length} deploys`,
    met: oursAll.length > 0 && conns.length === 1 && conns[0] === 1,
  })
  const allWrong = wrong(samples)
  goals.push({
    goal: 'every release byte-identical to its build, unchanged files hard links where claimed',
    measured:
      allWrong.length === 0
        ? `all ${samples.length} rebuilds checked`
        : `${allWrong.length} of ${samples.length} wrong: ${[...new Set(allWrong.map((s) => SHORT[s.method]))].join(', ')}`,
    met: allWrong.length === 0,
  })
  const verdict = (g: Goal) => (g.met === undefined ? 'not measured' : g.met ? 'met' : 'NOT met')
  const goalHead = ['goal', 'measured', '']
  const goalRows = goals.map((g) => [g.goal, g.measured, verdict(g)])

  const overheadLine = (o: Overhead, files: number | undefined, what: string) =>
    `On loopback (${o.scale}${files !== undefined ? `, ${files} files of ${mb(scales.find((x) => x.name === o.scale)?.site.totalBytes ?? Number.NaN)} MB` : ''}, no-change rebuild, every mtime new, ${o.total.n} rounds) a took ${sec(o.total.median)} s (${sec(o.total.min)}–${sec(o.total.max)}) and b ${sec(floorLoop(o.scale)?.median ?? Number.NaN)} s. Without a's rsync step (the upload group: ${sec(o.upload.median)} s) that is ${sec(o.withHandshake.median)} s, of which the SSH handshake alone (ssh -M -N -f on loopback, median of ${o.handshakes}) takes ${sec(o.handshake)} s: **${what} ${sec(o.fixed.median)} s** (${sec(o.fixed.min)}–${sec(o.fixed.max)}; per round a − upload − the handshake's median).${o.noUpload ? ` **${o.noUpload} of ${o.total.n} rounds had no log group named "upload"**, so for them nothing was taken off for the transfer.` : ''}`
  const fixedText = [
    fixed
      ? `${overheadLine(fixed, tiny?.files, 'fixed overhead')} This is the goal's figure: Node's start, reading the inputs, the connection's checks, the prepare and the switch calls, the outputs and closing the master, on a site too small for any per-file work to count.`
      : 'The fixed overhead was not measured (no loopback rounds of the tiny site).',
    ...(perFile
      ? [
          '',
          `${overheadLine(perFile, perFileScale?.files, `overhead at ${perFileScale?.name} files`)} Computed the same way, but not fixed: it also holds the work that grows with the site outside rsync (hashing the build, the server's checks and links of every file).`,
        ]
      : []),
  ].join('\n')

  const setup = `Every site is rebuilt as CI does (every file gets a new mtime) with ${(CFG.changed * 100).toFixed(1)}% of its small files changed ("1% changed") or none ("no change"), over the WAN simulator (${CFG.mbit} Mbit/s each way, ${CFG.rttMs} ms RTT). Each method's first release was seeded straight to the sshd, without the WAN; only the rebuilds went through it. Rounds: ${roundsText(scales, samples)} (the goals' rebuilds ${CFG.samples}; context fewer: c and d above 1,000 files, 1% changed above 10,000 files, loopback at a real scale, f); the methods took turns at going first. Times: median (min–max) of the rounds.`

  const md = [
    setup,
    '',
    '### Goals',
    '',
    mdTable(goalHead, goalRows),
    '',
    '### Rebuild times, side by side',
    '',
    mdTable(sideHead, [...sideRows, ratioRow, ratioInplace]),
    '',
    `- **a** this action end to end (dist/index.js as the runner runs it, Node start to exit); **b** the floor, one \`rsync\` with the action's flags (\`-r -l -p -c --chmod\`) and \`--link-dest\`, into a fresh directory; **e** the popular non-atomic way, one \`rsync -rlpzc --delete build/ host:live/\` straight into the live directory; **c** a full copy (\`rsync -r -l -p\`, no \`--link-dest\`); **d** the by-hand recipe (\`cp -al\`, \`rsync -a --delete\`, \`ln -s\`, \`mv -T\`: four connections); **f** (big site only) \`rsync -rlpt --link-dest\` without \`-c\`, given the build with the mtimes of its last deploy, so its quick check (size and mtime) succeeds: what a rebuild costs that does not read the files at all.`,
    `- ✗: a release that was not byte-identical to its build, or whose unchanged files were not hard links where the method claims so (see "checked" below).`,
    '',
    '### What each rebuild moved, and the checks',
    '',
    mdTable(detailHead, detailRows),
    '',
    "- **server read() MB**: bytes the server side read (rchar of the sshd and every session it started, summed by Linux when it reaps them): file contents, from the page cache or not, and the session's own pipe and socket traffic.",
    '- **checked**: after every deploy the release (or the live directory) was walked on the server: every path of the build and nothing else, every file\'s sha1 the build\'s. A file whose inode, size and mtime are those of a file already read and found right is not read again. "unchanged files hard-linked": files with the same content as in the previous release that share its inode.',
    '',
    ...(big
      ? [
          `### ${big.name}: does a no-change rebuild read the live release again?`,
          '',
          `${big.site.files.length} files: ${CFG.bigFiles} big ones of ${mb(big.site.files[big.site.files.length - 1]?.size ?? 0)} MB and the 10,000-file site. Before each deploy the live release's pages were dropped from the page cache (${[...evictions].join(', ')}: ${evictions.has('fadvise') ? "posix_fadvise(DONTNEED) on each of its files, which leaves the rest of the shared machine's cache alone" : evictions.has('drop_caches') ? 'echo 3 > /proc/sys/vm/drop_caches, the whole machine' : 'not possible here'}); the client's build stayed cached, as a fresh build is on a runner. This site has its own sshd, whose every session runs under a small sh that logs its command's I/O counters once it has ended (/proc/PID/io of that sh, the command's summed in when reaped): **read from disk** is read_bytes, **read()** is rchar (every byte read(2) returned: file contents from the cache or the disk, and the session's pipes). "sessions ended": every session had ended (and logged) when the figures were read.`,
          '',
          mdTable(bigHead, bigRows),
          '',
        ]
      : []),
    '### Where our time goes',
    '',
    `The action's phases, from the times its log groups reached stdout (medians; "start" is Node's start to the first group, "finish" the end of the last group to exit). A step with its own log group shows up as its own column; one without (e.g. a manifest diff inside prepare) counts in the group it runs in.`,
    '',
    mdTable(whereHead, whereRows),
    '',
    fixedText,
    '',
  ].join('\n')

  const text = [
    '',
    setup,
    '',
    textTable(goalHead, goalRows),
    '',
    textTable(sideHead, [...sideRows, ratioRow, ratioInplace]),
    '',
    textTable(detailHead, detailRows),
    '',
    ...(big ? [textTable(bigHead, bigRows), ''] : []),
    textTable(whereHead, whereRows),
    '',
    fixedText.replace(/\*\*/g, ''),
    '',
  ].join('\n')
  return { md, text, goals }
}

export type { Scale }
