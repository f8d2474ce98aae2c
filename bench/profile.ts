/**
 * A quick look at where one deploy's time goes, for whoever makes it faster: one sshd behind the
 * WAN model, a site seeded once, then rebuilds (1% changed, every mtime new) deployed by
 * dist/index.js with every line it prints timed. Not a benchmark (no alternatives, few rounds).
 *
 *   sudo env PROFILE_FILES=10000 PROFILE_ROUNDS=3 PROFILE_VIA=wan npm run bench:profile
 *
 * PROFILE_DISTS=a/index.js,b/index.js compares builds: the rounds take turns, and the medians of
 * each are printed at the end (one server, one site: the machine's drift hits each alike).
 * PROFILE_NODE_OPTIONS reaches the action's Node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
 */
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runAction, TEST_USER } from '../test/support/harness.js'
import { CFG, log } from './config.js'
import { startServer } from './methods.js'
import { cleanup } from './proc.js'
import { MutableBuild, Site } from './site.js'

const files = Number(process.env.PROFILE_FILES || 10_000)
const rounds = Number(process.env.PROFILE_ROUNDS || 3)
const via = process.env.PROFILE_VIA === 'lan' ? 'lan' : 'wan'
const node = process.env.PROFILE_NODE || process.execPath
const dists = (process.env.PROFILE_DISTS || '').split(',').filter(Boolean)
const times = new Map<string, number[]>()

/** CPU seconds the whole machine has spent (user + nice, system + irq + softirq), from /proc/stat. */
function machineCpu(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? []
  const tick = 100
  const at = (i: number) => f[i] ?? 0
  return [(at(0) + at(1)) / tick, (at(2) + at(5) + at(6)) / tick]
}

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'rad-prof-'))
  chmodSync(base, 0o755)
  const server = await startServer(base)
  const site = new Site(files, rounds + 1, CFG.changed)
  const build = new MutableBuild(site, path.join(base, 'build'))
  const root = server.serverDir('srv')
  let clock = Date.now() - 86_400_000
  const deploy = async (k: number, port: number, show: boolean) => {
    const dist = dists.length > 0 ? dists[k % dists.length] : undefined
    clock += 60_000
    build.apply(k, new Date(clock))
    const cpu0 = machineCpu()
    const t0 = Date.now()
    const lines: string[] = []
    let partial = ''
    const r = await runAction(
      {
        host: `${TEST_USER}@127.0.0.1:${port}`,
        key: server.sshd.client.privateKey,
        'known-hosts': server.khFor(port, server.sshd),
        source: build.dir,
        target: root,
        'release-id': `r${k}`,
        'keep-releases': '0',
      },
      {
        node,
        dist,
        env: {
          RUNNER_DEBUG: process.env.PROFILE_DEBUG ? '1' : '',
          ...(process.env.PROFILE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.PROFILE_NODE_OPTIONS } : {}),
        },
        onStdout: (chunk) => {
          const t = Date.now() - t0
          const ls = (partial + chunk).split('\n')
          partial = ls.pop() ?? ''
          for (const l of ls) lines.push(`${String(t).padStart(6)} ms  ${l.slice(0, 150)}`)
        },
      },
    )
    if (r.code !== 0) throw new Error(`deploy r${k} failed:\n${r.stdout}\n${r.stderr}`)
    if (dist && k > 1) times.set(dist, [...(times.get(dist) ?? []), r.durationMs])
    if (show) process.stdout.write(`${lines.join('\n')}\n`)
    const cpu = machineCpu().map((v, i) => v - (cpu0[i] as number))
    log(
      `r${k}: ${r.durationMs} ms (sent ${r.outputs['files-transferred']}, linked ${r.outputs['files-linked']}); the machine's CPU meanwhile: ${(cpu[0] as number).toFixed(2)} s user, ${(cpu[1] as number).toFixed(2)} s system`,
    )
  }
  await deploy(1, server.sshd.port, false)
  const port = via === 'wan' ? server.link.port : server.sshd.port
  for (let k = 2; k <= rounds + 1; k++) await deploy(k, port, k === rounds + 1 && dists.length === 0)
  for (const [d, t] of times) {
    const s = [...t].sort((a, b) => a - b)
    log(
      `${d}: median ${s[Math.floor(s.length / 2)]} ms, quartiles ${s[Math.floor(s.length / 4)]}-${s[Math.floor((3 * s.length) / 4)]} ms, of ${s.length}`,
    )
  }
}

main()
  .catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  })
  .finally(() => cleanup())
