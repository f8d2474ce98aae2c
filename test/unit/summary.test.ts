/**
 * The job summary's text (summaryHtml, pure) and the figures both front ends print (format.ts,
 * invocation.ts): what a person reads on a 1000 px page and in a terminal (issue 15 §4).
 */
import { describe, expect, it } from 'vitest'
import { invocation } from '../../src/cli/invocation.js'
import { parseCli, VERSION } from '../../src/cli/parse.js'
import { humanResult, style } from '../../src/cli/render.js'
import { cliSettings } from '../../src/cli/settings.js'
import { DeployError } from '../../src/errors.js'
import { bytes, plural, releaseLines, runLabel, runLink, seconds, shortRef, when } from '../../src/format.js'
import type { ReleaseInfo } from '../../src/history.js'
import { blankResult, type CommandOutcome, type HostResult, setLive } from '../../src/outcome.js'
import type { Settings } from '../../src/settings.js'
import {
  actionRollbackText,
  type DetailRow,
  HOST_DETAILS,
  hostDetails,
  summaryHtml,
  wayBack,
} from '../../src/summary.js'

const ENV = { RAD_HOST: 'deploy@web1', RAD_TARGET: '/srv/site' }

function settingsFor(argv: string[]): Promise<Settings> {
  return cliSettings(parseCli(argv), ENV)
}

function host(
  name: string,
  status: HostResult['status'],
  live: string | undefined,
  attempted = '',
): HostResult {
  const h = blankResult(name, attempted)
  if (live !== undefined) setLive(h, '/srv/site', live)
  h.status = status
  h.durationMs = 1234
  return h
}

function outcomeOf(hosts: HostResult[], extra: Partial<CommandOutcome> = {}): CommandOutcome {
  return {
    releaseId: hosts[0]?.releaseId ?? '',
    hosts,
    rolledBack: false,
    error: undefined,
    releases: [],
    ...extra,
  }
}

/** The tables of the page, each as its header cells and its rows of cells. */
function tables(html: string): { header: string[]; rows: string[][] }[] {
  return [...html.matchAll(/<table>(.*?)<\/table>/gs)].map((t) => {
    const trs = [...(t[1] as string).matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => m[1] as string)
    const cells = (tr: string, tag: string) =>
      [...tr.matchAll(new RegExp(`<${tag}>(.*?)</${tag}>`, 'gs'))].map((m) => m[1] as string)
    return { header: cells(trs[0] ?? '', 'th'), rows: trs.slice(1).map((tr) => cells(tr, 'td')) }
  })
}

/** The top table: the first one outside <details> after the releases (list). */
function topTable(html: string) {
  const before = html.split('<details>')[0] as string
  const all = tables(before)
  return all[all.length - 1] as { header: string[]; rows: string[][] }
}

function details(html: string): string {
  return /<details><summary>[^<]*<\/summary>(.*?)<\/details>/s.exec(html)?.[1] ?? ''
}

const TRANSFER = /files sent|hard-linked|bytes sent|disk added|\bsent\b|\b0 B\b|0 files/

describe('the summary fits a 1000 px page', () => {
  it('deploy: a top table of at most 5 columns; the per-host figures folded into <details>', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const h = host('deploy@web1', 'deployed', 'r2', 'r2')
    Object.assign(h, {
      previousReleaseId: 'r1',
      filesTransferred: 1,
      filesLinked: 20,
      bytesSent: 2345,
      diskKb: 12,
    })
    const html = summaryHtml(s, outcomeOf([h]))
    const top = topTable(html)
    expect(top.header.length).toBeLessThanOrEqual(5)
    expect(top.header).toEqual(['host', 'result', 'live now', 'files'])
    expect(top.rows).toEqual([['deploy@web1', '✓ deployed', 'r2', '1 file sent, 20 hard-linked']])
    const d = tables(details(html))
    expect(d).toHaveLength(1)
    expect(Object.fromEntries(d[0]?.rows.map((r) => [r[0], r[1]]) ?? [])).toEqual({
      'live now': 'r2',
      'live before': 'r1',
      'files sent': '1',
      'files hard-linked': '20',
      'bytes sent': '2.3 kB',
      'disk added': '12.3 kB',
      time: '1.2 s',
    })
    // The way back, the workflow_dispatch way.
    expect(html).toContain('rollback-to: r1')
    expect(html).toMatch(/workflow(_|&#95;)dispatch/)
  })

  it('a fleet: one short row per host, one details table per host', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const hosts = ['a', 'b', 'c'].map((n) => host(`deploy@${n}`, 'deployed', 'r2', 'r2'))
    const html = summaryHtml(s, outcomeOf(hosts))
    expect(topTable(html).rows).toHaveLength(3)
    expect(tables(details(html))).toHaveLength(3)
    for (const t of tables(details(html))) expect(t.header.length).toBeLessThanOrEqual(2)
  })

  it('says what is live now and, when it differs, what was attempted (never the attempted as live)', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const failed = host('deploy@web1', 'failed', 'r1', 'r2')
    failed.error = 'before-switch failed'
    const cutOff = host('deploy@web2', 'failed', undefined, 'r2')
    cutOff.error = 'connection lost'
    const html = summaryHtml(
      s,
      outcomeOf([failed, cutOff], { error: new DeployError('before-switch failed') }),
    )
    const rows = topTable(html).rows
    expect(rows[0]?.slice(0, 3)).toEqual(['deploy@web1', '✗ failed', 'r1 (r2 is not live)'])
    expect(rows[1]?.[2]).toBe('(unknown: see the error) (r2 is not live)')
    expect(details(html)).toMatch(/<td>attempted<\/td><td>r2<\/td>/)
    // Nothing measured on a host that failed before its upload: no "0 files sent".
    expect(rows[0]?.[3]).toBe('')
  })

  it('a rollback and a list show no transfer figures', async () => {
    const back = host('deploy@web1', 'rolled-back', 'r1', '')
    back.previousReleaseId = 'r2'
    for (const [argv, o] of [
      [['rollback'], outcomeOf([back])],
      [
        ['list'],
        outcomeOf([host('deploy@web1', 'not-switched', 'r2')], { releases: [release({ id: 'r2' })] }),
      ],
    ] as const) {
      const html = summaryHtml(await settingsFor([...argv]), o)
      expect(topTable(html).header).toEqual(['host', 'result', 'live now', 'time'])
      expect(html).not.toMatch(TRANSFER)
      expect(html).toContain('<details>')
    }
  })

  it('a failure message appears once', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const h = host('deploy@web1', 'failed', 'r1', 'r2')
    h.error = 'deploy@web1: before-switch exited with code 4'
    const html = summaryHtml(s, outcomeOf([h], { error: new DeployError(h.error, 'fix the hook') }))
    expect(html.split('before-switch exited with code 4')).toHaveLength(2)
    expect(html).toMatch(/<b>Failed:<\/b> deploy@web1: before-switch exited with code 4/)
    expect(html).not.toContain('rollback-to')
  })

  it('a per-host fact is one entry of HOST_DETAILS (the rows skip empty values)', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const digest: DetailRow = {
      label: 'release digest',
      value: (h) => (h.releaseId ? `sha256:${h.releaseId}` : ''),
    }
    const h = host('deploy@web1', 'deployed', 'r2', 'r2')
    expect(hostDetails(s, h, [...HOST_DETAILS, digest]).at(-1)).toEqual(['release digest', 'sha256:r2'])
    expect(hostDetails(s, host('x', 'failed', ''), [digest])).toEqual([])
  })
})

function release(over: Partial<ReleaseInfo>): ReleaseInfo {
  return {
    id: 'r1',
    current: false,
    bad: false,
    deployedAt: '2026-12-01T18:57:31.042Z',
    sha: '0123456789abcdef',
    ref: 'refs/tags/v1.2.3',
    actor: 'octocat',
    run: 'https://github.com/example/site/actions/runs/1234',
    ...over,
  }
}

describe('list: who, when, which ref, the run', () => {
  it('five columns: the release (live/bad), a human time, the actor, v1.2.3 @ sha, the run linked', async () => {
    const s = await settingsFor(['list'])
    const html = summaryHtml(
      s,
      outcomeOf([host('deploy@web1', 'not-switched', 'r2')], {
        releases: [release({ id: 'r3', bad: true }), release({ id: 'r2', current: true })],
      }),
    )
    const [list] = tables(html)
    expect(list?.header).toEqual(['release', 'deployed', 'by', 'ref', 'run'])
    expect(list?.rows[0]).toEqual([
      'r3 (bad)',
      '2026-12-01 18:57 UTC',
      'octocat',
      'v1.2.3 @ 0123456',
      '<a href="https://github.com/example/site/actions/runs/1234">run 1234</a>',
    ])
    expect(list?.rows[1]?.[0]).toBe('r2 (live)')
    expect(html).toContain('<p>Releases in /srv/site on deploy@web1, newest first:</p>')
    expect(html).not.toMatch(/refs\/tags|T18:57|\.042Z/)
  })

  it('old log lines without actor or run read fine; a run that is not a plain https URL is no link', async () => {
    const s = await settingsFor(['list'])
    const bad = [
      'http://example.com/run',
      'javascript:alert(1)',
      'https://evil.example/"onmouseover="x',
      'https://user:pw@example.com/run',
      'https://example.com/run?next=javascript:x',
      'https://example.com/a b',
      'https://exa_mple.com/',
    ]
    const html = summaryHtml(
      s,
      outcomeOf([host('deploy@web1', 'not-switched', 'r1')], {
        releases: [
          release({ id: 'old', actor: '', run: '', ref: '', sha: '', deployedAt: '' }),
          ...bad.map((run, i) => release({ id: `r${i}`, run })),
        ],
      }),
    )
    const [list] = tables(html)
    expect(list?.rows[0]).toEqual(['old', '(not in the log)', '', '', ''])
    for (const row of list?.rows.slice(1) ?? []) expect(row[4]).toBe('')
    expect(html).not.toMatch(/<a /)
  })

  it('server text is escaped: no HTML, no markdown, no workflow command', async () => {
    const s = await settingsFor(['list'])
    const html = summaryHtml(
      s,
      outcomeOf([host('deploy@web1', 'not-switched', 'r1')], {
        releases: [
          release({
            actor: '<img src=x>*[click](https://evil)*\n\n# hi',
            ref: '`x`|y',
            deployedAt: '1764615451',
          }),
        ],
      }),
    )
    const row = tables(html)[0]?.rows[0] ?? []
    expect(row[2]).toBe('&lt;img src=x&gt;&#42;&#91;click&#93;(https://evil)&#42;<br><br># hi')
    expect(row[3]).toBe('&#96;x&#96;&#124;y @ 0123456')
    // Not an ISO time: shown as the log has it, not guessed at.
    expect(row[1]).toBe('1764615451')
    expect(html).not.toMatch(/\n\n#/)
  })
})

describe('format.ts: one style for figures', () => {
  it('sizes, times, plurals', () => {
    expect([0, 999, 1000, 2345, 1_200_000, 3_400_000_000].map(bytes)).toEqual([
      '0 B',
      '999 B',
      '1.0 kB',
      '2.3 kB',
      '1.2 MB',
      '3.40 GB',
    ])
    expect(seconds(940)).toBe('0.9 s')
    expect([0, 1, 2].map((n) => plural(n, 'file'))).toEqual(['0 files', '1 file', '2 files'])
    expect(plural(1, 'host')).toBe('1 host')
  })

  it('times a person reads; refs as people name them', () => {
    expect(when('2026-12-01T18:57:31.042Z')).toBe('2026-12-01 18:57 UTC')
    expect(when('2026-12-01T20:57:31+02:00')).toBe('2026-12-01 18:57 UTC')
    expect(when('')).toBe('(not in the log)')
    expect(when('yesterday')).toBe('yesterday')
    expect(shortRef('refs/tags/v1.2.3')).toBe('v1.2.3')
    expect(shortRef('refs/heads/main')).toBe('main')
    expect(shortRef('refs/pull/7/merge')).toBe('refs/pull/7/merge')
    expect(shortRef('refs/tags/')).toBe('refs/tags/')
  })

  it('run links: https of a sane shape only', () => {
    expect(runLink('https://github.com/o/r/actions/runs/1')).toBe('https://github.com/o/r/actions/runs/1')
    expect(runLink('https://gitlab.example:8443/g/p/-/jobs/9')).toBe(
      'https://gitlab.example:8443/g/p/-/jobs/9',
    )
    for (const u of [
      'http://github.com/x',
      'https://',
      'https://a.com/x"y',
      'https://a.com/<x>',
      'ftp://a',
      `https://a.com/${'x'.repeat(600)}`,
    ]) {
      expect(runLink(u)).toBe('')
    }
    expect(runLabel('https://github.com/o/r/actions/runs/1234')).toBe('run 1234')
    expect(runLabel('https://gitlab.com/g/p/-/jobs/9')).toBe('run 9')
    expect(runLabel('https://ci.example/x')).toBe('run')
  })

  it("the action's log lines for list: human time, short ref, who, the run", () => {
    expect(releaseLines([release({ current: true })])).toEqual([
      '* r1  2026-12-01 18:57 UTC by octocat v1.2.3 0123456 https://github.com/example/site/actions/runs/1234',
    ])
  })
})

describe('the rollback hint names the command the way it was started', () => {
  it('the action: the manual run of a rollback (workflow_dispatch), only after a deploy that went live', async () => {
    const deploy = await settingsFor(['deploy', '--source', '.'])
    const h = host('deploy@web1', 'deployed', 'r2', 'r2')
    h.previousReleaseId = 'r1'
    expect(wayBack(deploy, outcomeOf([h]))).toBe('r1')
    expect(actionRollbackText('r1')).toMatch(/workflow_dispatch.*command: rollback and rollback-to: r1$/)
    expect(wayBack(deploy, outcomeOf([h], { error: new DeployError('x') }))).toBe('')
    expect(wayBack(await settingsFor(['deploy', '--source', '.', '--dry-run']), outcomeOf([h]))).toBe('')
    expect(wayBack(await settingsFor(['rollback']), outcomeOf([h]))).toBe('')
    h.previousReleaseId = 'r1\n```'
    expect(wayBack(deploy, outcomeOf([h]))).toBe('')
  })

  it('the CLI prints the invocation it is given, and plurals', async () => {
    const s = await settingsFor(['deploy', '--source', '.'])
    const h = host('deploy@web1', 'deployed', 'r2', 'r2')
    Object.assign(h, { previousReleaseId: 'r1', filesTransferred: 1, filesLinked: 1, bytesSent: 1500 })
    const text = humanResult(s, outcomeOf([h]), style(false), 'npx rsync-atomic-deploy')
    expect(text).toContain('current -> r2 (was r1); 1 file sent, 1 hard-linked, 1.5 kB on the wire; 1.2 s')
    expect(text).toContain('To roll back: npx rsync-atomic-deploy rollback --to r1')
    const prune = await cliSettings(parseCli(['prune', '--keep-releases', '1']), ENV)
    expect(
      humanResult(prune, outcomeOf([host('deploy@web1', 'not-switched', 'r2')]), style(false)),
    ).toContain('nothing to prune (keeping 1 good release)')
  })

  it.each<[string, NodeJS.ProcessEnv, string, string]>([
    ['a global install on PATH', {}, '/usr/local/bin/rsync-atomic-deploy', 'rsync-atomic-deploy'],
    [
      'npx from the cache',
      { npm_command: 'exec', npm_lifecycle_event: 'npx' },
      '/root/.npm/_npx/1a2b/node_modules/.bin/rsync-atomic-deploy',
      `npx rsync-atomic-deploy@${VERSION}`,
    ],
    [
      'npx of a local install',
      { npm_command: 'exec' },
      '/p/node_modules/.bin/rsync-atomic-deploy',
      'npx rsync-atomic-deploy',
    ],
    [
      'an npm script',
      { npm_command: 'run-script', npm_lifecycle_event: 'deploy' },
      '/p/node_modules/.bin/rsync-atomic-deploy',
      'npx rsync-atomic-deploy',
    ],
    ['./node_modules/.bin', {}, '/p/node_modules/.bin/rsync-atomic-deploy', 'npx rsync-atomic-deploy'],
    ['node and the file', {}, '/src/rad/dist/cli/index.js', 'node /src/rad/dist/cli/index.js'],
    [
      'a global install, the link resolved',
      {},
      '/usr/local/lib/node_modules/rsync-atomic-deploy/dist/cli/index.js',
      'rsync-atomic-deploy',
    ],
    [
      "a project's install, the link resolved",
      {},
      '/p/node_modules/rsync-atomic-deploy/dist/cli/index.js',
      'npx rsync-atomic-deploy',
    ],
    ['node and a file with a space', {}, '/my dir/cli/index.js', "node '/my dir/cli/index.js'"],
    ['no script path', {}, '', 'rsync-atomic-deploy'],
  ])('%s', (_name, env, script, want) => {
    expect(invocation(env, script)).toBe(want)
  })
})
