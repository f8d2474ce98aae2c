/**
 * The action under @github/local-action, the way a developer runs it (README "Developing"): the
 * TypeScript entries for the main step (src/main.ts) and the post step (src/post-entry.ts), inputs
 * from a .env file, against the real sshd. local-action imports each entry and calls its `run`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { linkTarget, nodeBinaries, ROOT, TEST_USER } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, newTarget, sourceDir } = useSshd()

/** A dotenv value: double-quoted, newlines kept as \n (dotenv expands them inside double quotes). */
const dq = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`

describe('@github/local-action', () => {
  it('runs the main step (src/main.ts) and the post step (src/post-entry.ts) against the real sshd', () => {
    // local-action needs Node 22 or 24 (its own dependencies do); Node 24 is what the runner uses.
    const node = nodeBinaries().find((n) => n.name === 'node 24')
    expect(node, 'Node 24 (.cache/node24, installed by scripts/test.sh)').toBeDefined()
    const dir = tmp('radrun-local-action-')
    const src = sourceDir({ 'index.html': 'local' })
    const target = newTarget()
    const env = path.join(dir, '.env')
    const inputs: Record<string, string> = {
      INPUT_HOST: `${TEST_USER}@127.0.0.1:${sshd.port}`,
      INPUT_KEY: sshd.client.privateKey,
      'INPUT_KNOWN-HOSTS': sshd.knownHosts,
      INPUT_SOURCE: src,
      INPUT_TARGET: target,
      'INPUT_RELEASE-ID': 'la1',
      GITHUB_WORKSPACE: dir,
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_ACTOR: 'local',
    }
    writeFileSync(
      env,
      Object.entries(inputs)
        .map(([k, v]) => `${k}=${dq(v)}\n`)
        .join(''),
    )
    const r = spawnSync(
      path.join(ROOT, 'node_modules/.bin/local-action'),
      ['run', ROOT, 'src/main.ts', env, '--post', 'src/post-entry.ts'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 90_000,
        env: {
          PATH: `${path.dirname(node?.path ?? '')}:${process.env.PATH}`,
          HOME: process.env.HOME,
          NO_COLOR: '1',
          FORCE_COLOR: '0',
        },
      },
    )
    const out = `${r.stdout}\n${r.stderr}`
    expect(out).not.toMatch(/does not export a run\(\) function/)
    expect(out).not.toMatch(/::error::|\[error\]/i)
    expect(r.status, out).toBe(0)
    // Both steps ran, in order, and the post step did its job.
    expect(out.indexOf('Running Action')).toBeGreaterThan(0)
    expect(out.indexOf('Running Post Step')).toBeGreaterThan(out.indexOf('Running Action'))
    // The main step closed the connection and deleted the key itself, so the post step finds
    // nothing left to clean (it reads the state the main step saved: the key's directory is gone).
    expect(out.slice(out.indexOf('Running Post Step'))).not.toMatch(/Could not|warning/i)
    // The outputs local-action collected, and the server.
    expect(out).toMatch(/'release-id'\s*│\s*'la1'/)
    expect(linkTarget(`${target}/current`)).toBe('releases/la1')
    expect(existsSync(`${target}/current/index.html`)).toBe(true)
  })
})
