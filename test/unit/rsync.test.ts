import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { itemizedFiles, parseStats, type RsyncStats, rsyncArgs, type UploadPlan } from '../../src/rsync.js'
import { tempDir } from './helpers.js'

function plan(over: Partial<UploadPlan> = {}): UploadPlan {
  return {
    source: '/home/runner/work/site/public',
    destination: 'rad-0:/srv/www/.deploy/incoming/r2.tok/',
    linkDest: ['../../../releases/r1'],
    chmod: 'u+rwX,go+rX,go-w',
    exclude: [],
    filter: [],
    rsh: '/usr/bin/ssh -F /tmp/rad-AbC123/config',
    dryRun: false,
    ioTimeout: 300,
    progress: false,
    ...over,
  }
}

const BASE = [
  '--recursive',
  '--links',
  '--perms',
  '--chmod=ug-s,u+rwX,go+rX,go-w',
  '--checksum',
  '--protect-args',
  '--stats',
  '--no-human-readable',
  '--timeout=300',
  '-e',
  '/usr/bin/ssh -F /tmp/rad-AbC123/config',
]

describe('rsyncArgs', () => {
  it('builds the exact argv for a plain upload', () => {
    expect(rsyncArgs(plan())).toEqual([
      ...BASE,
      '--link-dest=../../../releases/r1',
      '/home/runner/work/site/public/',
      'rad-0:/srv/www/.deploy/incoming/r2.tok/',
    ])
  })

  it('builds the exact argv with everything switched on', () => {
    expect(
      rsyncArgs(
        plan({
          chmod: 'D755,F644',
          linkDest: ['../../../releases/r1', '../r2.old'],
          exclude: ['*.map', '/secret dir/', "it's $(x)"],
          filter: ['- *.tmp', 'P /keep me/'],
          dryRun: true,
          progress: true,
          ioTimeout: 45,
        }),
      ),
    ).toEqual([
      '--recursive',
      '--links',
      '--perms',
      '--chmod=ug-s,D755,F644',
      '--checksum',
      '--protect-args',
      '--stats',
      '--no-human-readable',
      '--timeout=45',
      '-e',
      '/usr/bin/ssh -F /tmp/rad-AbC123/config',
      '--info=progress2',
      '--no-inc-recursive',
      '--dry-run',
      '--itemize-changes',
      '--link-dest=../../../releases/r1',
      '--link-dest=../r2.old',
      '--filter=- *.tmp',
      '--filter=P /keep me/',
      '--exclude=*.map',
      '--exclude=/secret dir/',
      "--exclude=it's $(x)",
      '/home/runner/work/site/public/',
      'rad-0:/srv/www/.deploy/incoming/r2.tok/',
    ])
  })

  it('has no link-dest when there is nothing to link against', () => {
    expect(rsyncArgs(plan({ linkDest: [] })).filter((a) => a.startsWith('--link-dest'))).toEqual([])
  })

  it('compares by checksum and preserves no times: unchanged content becomes a hard link after a rebuild', () => {
    const args = rsyncArgs(plan({ dryRun: true, progress: true }))
    expect(args).toContain('--checksum')
    for (const bad of [
      '--times',
      '-t',
      '-a',
      '--archive',
      '--inplace',
      '--append',
      '--partial',
      '--delete',
    ]) {
      expect(args).not.toContain(bad)
    }
    // the only short option is -e (whose value follows); no -a/-t hidden in a cluster like -rlt
    expect(args.filter((a) => /^-[^-]/.test(a))).toEqual(['-e'])
    expect(args.some((a) => /inplace|--times|--archive/.test(a))).toBe(false)
  })

  it('keeps at most 20 link-dest directories, in the order given', () => {
    const dirs = Array.from({ length: 25 }, (_, i) => `../d${i}`)
    const got = rsyncArgs(plan({ linkDest: dirs })).filter((a) => a.startsWith('--link-dest='))
    expect(got).toEqual(dirs.slice(0, 20).map((d) => `--link-dest=${d}`))
  })

  it('passes every exclude and filter as one argv entry, even with spaces, quotes and newlines', () => {
    const exclude = ['a b', '  lead', "q'uote", '"dq"', '-rf', '--delete', 'x\ny']
    const args = rsyncArgs(plan({ exclude, filter: ['merge .rsync filter'] }))
    expect(args.filter((a) => a.startsWith('--exclude='))).toEqual(exclude.map((e) => `--exclude=${e}`))
    expect(args.filter((a) => a.startsWith('--filter='))).toEqual(['--filter=merge .rsync filter'])
  })

  it.each([
    ['/srv/build', '/srv/build/'],
    ['/srv/build/', '/srv/build/'],
    ['/srv/build///', '/srv/build/'],
    ["/srv/my build/it's", "/srv/my build/it's/"],
    ['/', '/'],
    ['/srv/./build/../build', '/srv/build/'],
  ])('source %j is sent as %j (its contents, one trailing slash)', (source, sent) => {
    const args = rsyncArgs(plan({ source }))
    expect(args.at(-2)).toBe(sent)
    expect(args.at(-1)).toBe('rad-0:/srv/www/.deploy/incoming/r2.tok/')
  })

  it.each(['build:v2', 'public', './public', 'host:/etc'])(
    'makes a relative source %j absolute, so rsync never takes it for host:path',
    (source) => {
      const sent = rsyncArgs(plan({ source })).at(-2) as string
      expect(sent).toBe(`${path.resolve(source)}/`)
      expect(sent.startsWith('/')).toBe(true)
    },
  )
})

describe('rsyncArgs with the real rsync', () => {
  const root = tempDir('radunit-rsync-')
  const src = path.join(root, 'build')
  const files: Record<string, string> = {
    'index.html': '<h1>v1</h1>\n',
    'assets/app.js': 'console.log(1)\n'.repeat(100),
    'assets/big.bin': 'x'.repeat(200_000),
    'my dir/it\'s "odd" $(name).txt': 'odd\n',
    'bin/run.sh': '#!/bin/sh\necho run\n',
  }
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, rel)), { recursive: true })
    writeFileSync(path.join(src, rel), text)
  }
  chmodSync(path.join(src, 'index.html'), 0o600) // private in the build; must be readable once deployed
  chmodSync(path.join(src, 'bin/run.sh'), 0o700)
  mkdirSync(path.join(root, 'releases'))

  const sync = (dest: string, over: Partial<UploadPlan>) =>
    execFileSync(
      'rsync',
      rsyncArgs(plan({ source: src, destination: dest, rsh: 'ssh -F /nonexistent', ...over })),
      {
        encoding: 'utf8',
        cwd: root,
      },
    )

  const r1 = path.join(root, 'releases/r1')
  const r2 = path.join(root, 'releases/r2')
  const first = sync(`${r1}/`, { linkDest: [] })

  // a CI rebuild: same content, every mtime new; one file really changed
  const later = new Date(Date.now() + 3_600_000)
  for (const rel of Object.keys(files)) utimesSync(path.join(src, rel), later, later)
  writeFileSync(path.join(src, 'index.html'), '<h1>v2</h1>\n')
  const dry = sync(`${r2}/`, { linkDest: ['../r1'], dryRun: true })
  const second = sync(`${r2}/`, { linkDest: ['../r1'] })
  const ino = (p: string) => statSync(p).ino
  const mode = (p: string) => statSync(p).mode & 0o777

  it('the first upload sends every file', () => {
    expect(parseStats(first)).toMatchObject({ files: 5, filesTransferred: 5, filesLinked: 0 })
    expect(parseStats(first).totalSize).toBe(
      Object.values(files).reduce((n, t) => n + Buffer.byteLength(t), 0),
    )
    expect(parseStats(first).bytesSent).toBeGreaterThan(200_000)
  })

  it('after a rebuild with new mtimes, unchanged files become hard links to the previous release', () => {
    expect(parseStats(second)).toMatchObject({ files: 5, filesTransferred: 1, filesLinked: 4 })
    expect(parseStats(second).bytesSent).toBeLessThan(10_000)
    for (const rel of Object.keys(files)) {
      const same = ino(path.join(r1, rel)) === ino(path.join(r2, rel))
      expect([rel, same]).toEqual([rel, rel !== 'index.html'])
    }
    expect(readFileSync(path.join(r1, 'index.html'), 'utf8')).toBe('<h1>v1</h1>\n')
    expect(readFileSync(path.join(r2, 'index.html'), 'utf8')).toBe('<h1>v2</h1>\n')
  })

  it('forces readable modes during the transfer', () => {
    expect(mode(path.join(r2, 'index.html'))).toBe(0o644)
    expect(mode(path.join(r2, 'bin/run.sh'))).toBe(0o755)
    expect(mode(path.join(r2, 'assets'))).toBe(0o755)
  })

  it('the dry run itemizes only the changed file and reports the same numbers', () => {
    const lines = itemizedFiles(dry)
    expect(lines.map((l) => l.slice(0, 2))).toEqual(['>f'])
    expect(lines.map((l) => l.slice(12))).toEqual(['index.html'])
    expect(parseStats(dry)).toMatchObject({ files: 5, filesTransferred: 1, filesLinked: 4 })
  })

  it('itemizes every file of a first upload', () => {
    const out = sync(path.join(root, 'releases/r3/'), { linkDest: [], dryRun: true })
    const names = itemizedFiles(out).map((l) => l.slice(12))
    expect(names.sort()).toEqual(
      [
        './',
        'assets/',
        'assets/app.js',
        'assets/big.bin',
        'bin/',
        'bin/run.sh',
        'index.html',
        'my dir/',
        `my dir/it's "odd" $(name).txt`,
      ].sort(),
    )
  })
})

describe('parseStats', () => {
  it('reads a sample with thousands separators', () => {
    const text = `
Number of files: 12,345 (reg: 10,001, dir: 2,343, link: 1)
Number of created files: 12,345 (reg: 10,001, dir: 2,343, link: 1)
Number of deleted files: 0
Number of regular files transferred: 1,234
Total file size: 1,234,567,890 bytes
Total transferred file size: 98,765,432 bytes
Literal data: 98,765,432 bytes
Matched data: 0 bytes
File list size: 262,101
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 99,001,234
Total bytes received: 212,345

sent 99,001,234 bytes  received 212,345 bytes  1,234,567.89 bytes/sec
total size is 1,234,567,890  speedup is 12.44
`
    expect(parseStats(text)).toEqual<RsyncStats>({
      files: 10001,
      filesTransferred: 1234,
      filesLinked: 8767,
      links: 1,
      bytesSent: 99001234,
      bytesReceived: 212345,
      totalSize: 1234567890,
      transferredSize: 98765432,
    })
  })

  it('reads a plain sample (no separators) with progress output before it', () => {
    const text = [
      '         32,768 100%   31.25MB/s    0:00:00 (xfr#1, to-chk=3/5)\r      1,024 100%    0.98MB/s',
      'Number of files: 7 (reg: 4, dir: 2, link: 1)',
      'Number of created files: 0',
      'Number of deleted files: 0',
      'Number of regular files transferred: 1',
      'Total file size: 26 bytes',
      'Total transferred file size: 8 bytes',
      'Literal data: 8 bytes',
      'Matched data: 0 bytes',
      'Total bytes sent: 274',
      'Total bytes received: 41',
    ].join('\n')
    expect(parseStats(text)).toEqual<RsyncStats>({
      files: 4,
      filesTransferred: 1,
      filesLinked: 3,
      links: 1,
      bytesSent: 274,
      bytesReceived: 41,
      totalSize: 26,
      transferredSize: 8,
    })
  })

  it('counts no files when there are only directories', () => {
    expect(parseStats('Number of files: 1 (dir: 1)\nNumber of regular files transferred: 0\n')).toMatchObject(
      {
        files: 0,
        filesTransferred: 0,
        filesLinked: 0,
      },
    )
  })

  it('is all zeros for text without stats', () => {
    expect(parseStats('rsync error: some files could not be transferred (code 23)')).toEqual<RsyncStats>({
      files: 0,
      filesTransferred: 0,
      filesLinked: 0,
      links: 0,
      bytesSent: 0,
      bytesReceived: 0,
      totalSize: 0,
      transferredSize: 0,
    })
  })

  it('never reports a negative number of linked files', () => {
    expect(
      parseStats('Number of files: 2 (reg: 1)\nNumber of regular files transferred: 3\n').filesLinked,
    ).toBe(0)
  })
})

describe('itemizedFiles', () => {
  it('keeps the itemized lines and drops everything else', () => {
    const text = [
      'sending incremental file list',
      'cd+++++++++ assets/',
      '>f+++++++++ assets/app.js',
      '>fcsT...... index.html',
      '>f..T...... same.txt',
      'cL+++++++++ latest -> assets/app.js',
      'hf+++++++++ copy.js => assets/app.js',
      '.d..t...... ./',
      '*deleting   old.txt',
      '',
      'Number of files: 3 (reg: 2, dir: 1)',
      'sent 100 bytes  received 20 bytes  240.00 bytes/sec',
      'total size is 26  speedup is 0.10 (DRY RUN)',
    ].join('\n')
    expect(itemizedFiles(text)).toEqual([
      'cd+++++++++ assets/',
      '>f+++++++++ assets/app.js',
      '>fcsT...... index.html',
      '>f..T...... same.txt',
      'cL+++++++++ latest -> assets/app.js',
      'hf+++++++++ copy.js => assets/app.js',
      '.d..t...... ./',
    ])
  })

  it('finds nothing in empty output', () => {
    expect(itemizedFiles('')).toEqual([])
  })
})
