/**
 * The job summary as a person reads it (issue 15 §4), from the bundled dist run as the runner runs
 * it against the real sshd: a short host table with the details folded, `list` with who deployed,
 * the run's link and times a person reads (old and crafted log lines too), a rollback without
 * transfer figures, and a failure said once in the summary and once in the annotations.
 */
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { expectOk } from '../support/expect.js'
import { type ActionRun, errorText } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { newTarget, sourceDir, deploy, command } = useSshd()

const RUN_URL = 'https://github.com/example/site/actions/runs/1234'
const HUMAN_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/

async function deployOk(target: string, id: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const r = await deploy(target, sourceDir({ 'index.html': `<h1>${id}</h1>\n`, 'a.txt': 'same\n' }), {
    'release-id': id,
    ...extra,
  })
  expectOk(r)
  return r
}

/** Each <table> of the summary: its header cells and its rows of cells. */
function tables(html: string): { header: string[]; rows: string[][] }[] {
  return [...html.matchAll(/<table>(.*?)<\/table>/gs)].map((t) => {
    const trs = [...(t[1] as string).matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => m[1] as string)
    const cells = (tr: string, tag: string) =>
      [...tr.matchAll(new RegExp(`<${tag}>(.*?)</${tag}>`, 'gs'))].map((m) => m[1] as string)
    return { header: cells(trs[0] ?? '', 'th'), rows: trs.slice(1).map((tr) => cells(tr, 'td')) }
  })
}

/** The tables outside <details> (what shows without a click). */
function shown(summary: string) {
  return tables(summary.replace(/<details>.*?<\/details>/gs, ''))
}

const TRANSFER = /files sent|hard-linked|bytes sent|disk added|\bsent\b|0 files/

describe('job summary', () => {
  it('list: who deployed, the run linked, times a person reads, v1.0.0; old and crafted log lines read safely', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    await deployOk(target, 'r2')
    // A line an older version wrote (no actor, run, ref), and one a hostile server wrote.
    const owner = statSync(`${target}/releases/r1`)
    for (const id of ['old', 'evil']) {
      mkdirSync(`${target}/releases/${id}`)
      chownSync(`${target}/releases/${id}`, owner.uid, owner.gid)
    }
    const log = `${target}/.deploy/log`
    const crafted = {
      release: 'evil',
      event: 'deploy',
      time: 'soon',
      actor: '<img src=x onerror=alert(1)>**x**',
      ref: 'refs/tags/v9',
      run: 'javascript:alert(1)//https://github.com/',
    }
    writeFileSync(
      log,
      `${JSON.stringify({ release: 'old', event: 'deploy', time: '2026-01-02T03:04:05Z' })}\n${readFileSync(log, 'utf8')}${JSON.stringify(crafted)}\n`,
    )

    const run = await command(target, 'list')
    expectOk(run)
    const [releases, hosts] = shown(run.summary)
    expect(releases?.header).toEqual(['release', 'deployed', 'by', 'ref', 'run'])
    const row = (id: string) => releases?.rows.find((r) => r[0]?.startsWith(id)) ?? []
    const r2 = row('r2')
    expect(r2[0]).toBe('r2 (live)')
    expect(r2[1]).toMatch(HUMAN_TIME)
    expect(r2[2]).toBe('tester')
    expect(r2[3]).toBe('v1.0.0 @ 0123456')
    expect(r2[4]).toBe(`<a href="${RUN_URL}">run 1234</a>`)
    expect(row('r1')[1]).toMatch(HUMAN_TIME)
    // The old line: its time, nothing made up for what it lacks.
    expect(row('old')).toEqual(['old', '2026-01-02 03:04 UTC', '', '', ''])
    // The crafted one: text, no markup, no link.
    expect(row('evil')).toEqual([
      'evil',
      'soon',
      '&lt;img src=x onerror=alert(1)&gt;&#42;&#42;x&#42;&#42;',
      'v9',
      '',
    ])
    expect(run.summary).not.toMatch(/<img|javascript:alert\(1\)\/\/https|refs\/tags/)
    expect(run.summary.match(/<a /g)).toHaveLength(2) // r1 and r2
    // The host table is short and sends nothing.
    expect(hosts?.header).toEqual(['host', 'result', 'live now', 'time'])
    expect(hosts?.rows[0]?.[2]).toBe('r2')
    expect(run.summary).not.toMatch(TRANSFER)
  })

  it('rollback: what is live now, no transfer figures, the details folded', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    await deployOk(target, 'r2')
    const back = await command(target, 'rollback')
    expectOk(back)
    const [hosts] = shown(back.summary)
    expect(hosts?.header.length).toBeLessThanOrEqual(5)
    expect(hosts?.header).toEqual(['host', 'result', 'live now', 'time'])
    expect(hosts?.rows[0]?.slice(1, 3)).toEqual(['✓ rolled back', 'r1'])
    expect(back.summary).toMatch(
      /<details><summary>[^<]+<\/summary>.*<td>live before<\/td><td>r2<\/td>.*<\/details>/s,
    )
    expect(back.summary).not.toMatch(TRANSFER)
  })

  it('a failed check after the switch: the error once in the summary, once in the annotations', async () => {
    const target = newTarget()
    await deployOk(target, 'r1')
    const r = await deploy(target, sourceDir({ 'index.html': '<h1>r2</h1>\n' }), {
      'release-id': 'r2',
      'after-switch': 'exit 3',
    })
    expect(r.code).not.toBe(0)
    const first = errorText(r).split('\n')[0] as string
    expect(first).not.toBe('')
    const annotations = r.stdout.split('\n').filter((l) => /^::(error|warning)::/.test(l))
    expect(annotations.filter((l) => l.includes(first))).toHaveLength(1)
    // The revert is still said, without the reason again.
    expect(annotations.some((l) => /^::warning::.*switched back to r1/.test(l))).toBe(true)
    expect(r.summary.split(first)).toHaveLength(2)
    const [hosts] = shown(r.summary)
    expect(hosts?.rows[0]?.slice(1, 3)).toEqual(['✗ switched back', 'r1 (switched back from r2)'])
  })
})
