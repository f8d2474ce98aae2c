/**
 * The runner's own rsync, checked before anything connects: macOS ships openrsync as
 * /usr/bin/rsync, older systems an rsync before 3.1. The bundle is run as the runner runs it, with a
 * fake `rsync` first on PATH that prints what those print for --version.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, newTarget, sourceDir, deploy } = useSshd()
const dir = tmp('radrun-platform-')

/** A PATH whose first `rsync` prints `banner` for --version (and would "succeed" at anything else). */
function pathWithFakeRsync(name: string, banner: string): string {
  const bin = path.join(dir, name)
  const d = mkdtempSync(`${bin}-`)
  writeFileSync(path.join(d, 'rsync'), `#!/bin/sh\nprintf '%s\\n' '${banner}'\nexit 0\n`, { mode: 0o755 })
  return `${d}:${process.env.PATH}`
}

describe("the runner's rsync", () => {
  const cases = [
    { name: 'openrsync', banner: 'openrsync: protocol version 29', says: /openrsync \(protocol 29\)/ },
    {
      name: 'rsync 3.0.9',
      banner: 'rsync  version 3.0.9  protocol version 30',
      says: /rsync 3\.0\.9; 3\.1\.0 or later/,
    },
  ]
  for (const c of cases) {
    it(`${c.name} on PATH: stops before connecting, says which rsync and why; nothing on the server`, async () => {
      const src = sourceDir({ 'index.html': 'v1' })
      const target = newTarget()
      const c0 = sshd.connections()
      const run = await deploy(
        target,
        src,
        { 'release-id': 'r1' },
        { env: { PATH: pathWithFakeRsync(c.name.replace(/\W/g, ''), c.banner) } },
      )
      expect(run.code).not.toBe(0)
      expect(run.stdout).toMatch(/::error::No usable rsync on this machine/)
      expect(run.stdout).toMatch(c.says)
      expect(run.stdout).toContain('Nothing was contacted')
      expect(sshd.connections() - c0).toBe(0)
      expect(existsSync(target)).toBe(false)
    })
  }
})
