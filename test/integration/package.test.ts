/**
 * What `npm pack` publishes and what a user gets from `npm install -g`: only the bundles, the action
 * manifest and the documents; no dependencies, so the install needs no registry at all.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../support/harness.js'
import { useTempDir } from '../support/suite.js'

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const tmp = useTempDir('radit-pack-')

/** npm with its own empty cache: nothing this test does can be served from an earlier download. */
function npm(args: string[]): string {
  return execFileSync('npm', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, npm_config_cache: path.join(tmp, 'cache'), npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

describe('the npm package', () => {
  it('holds only what a user runs: the two bundles, the gate, action.yml, README, LICENSE, CHANGELOG, SECURITY', () => {
    const [report] = JSON.parse(npm(['pack', '--dry-run', '--json']))
    const files: string[] = report.files.map((f: { path: string }) => f.path).sort()
    for (const must of [
      'dist/index.js',
      'dist/package.json',
      'dist/cli/index.js',
      'dist/cli/package.json',
      // the server-side forced command of a deploy-only key (README: Least privilege)
      'dist/gate.sh',
      'action.yml',
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'SECURITY.md',
      'package.json',
    ]) {
      expect(files).toContain(must)
    }
    for (const f of files)
      expect(f).not.toMatch(/^(test|bench|src|scripts|docs|\.github|\.ci|\.cache|node_modules)\//)
    expect(files.every((f) => f.startsWith('dist/') || !f.includes('/'))).toBe(true)
    // The bundles' chunks (the commands, the post step: loaded when needed) ship beside them.
    const chunks = ['dist', 'dist/cli'].flatMap((d) =>
      readdirSync(path.join(ROOT, d))
        .filter((f) => /^\d+\.index\.js$/.test(f))
        .map((f) => `${d}/${f}`),
    )
    expect(chunks.length).toBeGreaterThan(0)
    for (const c of chunks) expect(files).toContain(c)
    expect(report.files.length).toBeLessThanOrEqual(12 + chunks.length)
    expect(report.name).toBe('rsync-atomic-deploy')
  })

  it('declares no runtime dependencies (everything is bundled), a licence, where it lives, and the Node it needs', () => {
    expect(pkg.dependencies ?? {}).toEqual({})
    expect(pkg.optionalDependencies ?? {}).toEqual({})
    expect(pkg.peerDependencies ?? {}).toEqual({})
    expect(pkg.private).toBeUndefined()
    expect(pkg.license).toBe('MIT')
    expect(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(
      /^MIT License[\s\S]*rsync-atomic-deploy contributors/,
    )
    expect(pkg.repository.url).toContain('github.com/rsync-atomic-deploy/rsync-atomic-deploy')
    expect(pkg.bugs.url).toContain('/issues')
    expect(pkg.homepage).toMatch(/^https:\/\//)
    expect(pkg.bin).toEqual({ 'rsync-atomic-deploy': 'dist/cli/index.js' })
    expect(pkg.engines.node).toBe('>=20')
  })

  it('installs from the packed file with no registry (npm install -g --offline) and runs --help', () => {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp]))[0].filename
    const prefix = path.join(tmp, 'prefix')
    npm(['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, path.join(tmp, packed)])
    const installed = path.join(prefix, 'lib/node_modules/rsync-atomic-deploy')
    // Nothing but the package itself came along.
    expect(existsSync(path.join(installed, 'node_modules'))).toBe(false)
    expect(readdirSync(path.join(prefix, 'lib/node_modules'))).toEqual(['rsync-atomic-deploy'])
    const r = spawnSync(path.join(prefix, 'bin/rsync-atomic-deploy'), ['--help'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: tmp },
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`rsync-atomic-deploy ${pkg.version}`)
    expect(r.stdout).toMatch(/deploy/)
  })
})
