import { existsSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  baseInputs,
  inode,
  isSymlink,
  linkTarget,
  listDir,
  makeTargetRoot,
  nodeBinaries,
  readTree,
  runAction,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd } = useSshd()

function site(n: number): Record<string, string> {
  const files: Record<string, string> = { 'index.html': '<h1>v1</h1>\n' }
  for (let i = 0; i < n; i++) files[`assets/file-${i}.txt`] = `content of file ${i}\n`.repeat(20)
  return files
}

/** Every key-like trace: the base64 body lines of the private key. */
function keyLines(): string[] {
  return sshd.client.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))
}

describe.each(nodeBinaries())('deploy with the bundle under $name', ({ path: node }) => {
  it('deploys twice: atomic link, hard links for unchanged content after a rebuild, outputs, one connection, no key left', async () => {
    const root = makeTargetRoot(sshd)
    const target = `${root}/site`
    const src = mkdtempSync('/tmp/radsrc-')
    writeSite(src, site(50))

    const c0 = sshd.connections()
    const first = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r1' }, { node })
    expect(first.stderr + first.stdout).not.toMatch(/::error::/)
    expect(first.code).toBe(0)
    expect(sshd.connections() - c0).toBe(1)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(first.outputs['release-id']).toBe('r1')
    expect(first.outputs['release-path']).toBe(`${target}/releases/r1`)
    expect(first.outputs['previous-release-id']).toBe('')
    expect(Number(first.outputs['files-transferred'])).toBe(51)
    expect(Number(first.outputs['files-linked'])).toBe(0)
    expect(Number(first.outputs['bytes-sent'])).toBeGreaterThan(50 * 400)
    const log1 = readFileSync(`${target}/.deploy/log`, 'utf8').trim().split('\n')
    expect(log1).toHaveLength(1)
    expect(JSON.parse(log1[0] as string)).toMatchObject({ release: 'r1', event: 'deploy', actor: 'tester' })

    // A CI rebuild: every mtime new, one file changed, one added, one removed.
    const r1Inodes = Object.fromEntries(
      Object.keys(readTree(`${target}/releases/r1`)).map((f) => [f, inode(`${target}/releases/r1/${f}`)]),
    )
    const r1Tree = readTree(`${target}/releases/r1`)
    const later = new Date(Date.now() + 3600_000)
    for (const f of Object.keys(site(50))) utimesSync(path.join(src, f), later, later)
    writeFileSync(path.join(src, 'index.html'), '<h1>v2</h1>\n')
    writeFileSync(path.join(src, 'new.txt'), 'new\n')
    const { rmSync } = await import('node:fs')
    rmSync(path.join(src, 'assets/file-49.txt'))

    const c1 = sshd.connections()
    const second = await runAction({ ...baseInputs(sshd, target, src), 'release-id': 'r2' }, { node })
    expect(second.code).toBe(0)
    expect(sshd.connections() - c1).toBe(1)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(second.outputs['previous-release-id']).toBe('r1')
    expect(Number(second.outputs['files-transferred'])).toBe(2)
    expect(Number(second.outputs['files-linked'])).toBe(49)
    expect(Number(second.outputs['bytes-sent'])).toBeLessThan(Number(first.outputs['bytes-sent']) / 2)
    // Unchanged content shares the inode; changed files got new inodes; r1 is untouched.
    expect(inode(`${target}/releases/r2/assets/file-0.txt`)).toBe(r1Inodes['assets/file-0.txt'])
    expect(statSync(`${target}/releases/r2/assets/file-0.txt`).nlink).toBe(2)
    expect(inode(`${target}/releases/r2/index.html`)).not.toBe(r1Inodes['index.html'])
    expect(readTree(`${target}/releases/r1`)).toEqual(r1Tree)
    for (const [f, ino] of Object.entries(r1Inodes)) expect(inode(`${target}/releases/r1/${f}`)).toBe(ino)
    // Modes forced during the transfer: readable by all, writable by the owner only.
    expect(statSync(`${target}/releases/r2/index.html`).mode & 0o777).toBe(0o644)
    expect(statSync(`${target}/releases/r2/assets`).mode & 0o777).toBe(0o755)
    // Nothing half-done is left visible; the lock is gone.
    expect(listDir(`${target}/releases`)).toEqual(['r1', 'r2'])
    expect(listDir(`${target}/.deploy/incoming`)).toEqual([])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(listDir(`${target}/.deploy`).filter((n) => n.startsWith('current.'))).toEqual([])

    // The key: masked nowhere printed, no file left after the post step.
    for (const run of [first, second]) {
      // ::add-mask:: lines are commands the runner consumes (it then masks those strings everywhere).
      const masks = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'))
      for (const l of keyLines()) expect(masks).toContain(`::add-mask::${l}`)
      const printed = [
        run.stdout
          .split('\n')
          .filter((l) => !l.startsWith('::add-mask::'))
          .join('\n'),
        run.stderr,
      ]
        .concat(JSON.stringify(run.outputs), run.summary, run.post?.stdout ?? '', run.post?.stderr ?? '')
        .join('\n')
      for (const l of keyLines()) expect(printed).not.toContain(l)
      expect(run.post?.code).toBe(0)
      expect(run.state.sshDir).toMatch(/^\/tmp\/rad-/)
      expect(existsSync(run.state.sshDir as string)).toBe(false)
    }
    const serverFiles = readTree(target)
    for (const l of keyLines()) expect(JSON.stringify(serverFiles)).not.toContain(l)
    expect(sshd.log()).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/)
    // The job summary names both releases.
    expect(second.summary).toContain('r2')
    expect(second.summary).toContain('r1')
    expect(isSymlink(`${target}/current`)).toBe(true)
  })
})
