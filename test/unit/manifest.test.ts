import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  applyChmod,
  buildManifest,
  comparePaths,
  diffManifests,
  type Entry,
  escapePath,
  formatManifest,
  manifestDigest,
  parseChmod,
  parseManifest,
  unescapePath,
} from '../../src/manifest.js'
import { chmodSpec } from '../../src/rsync.js'
import { tempDir } from './helpers.js'

const H = 'a'.repeat(64)
const f = (p: string, over: Partial<Entry> = {}): Entry => ({
  type: 'f',
  mode: 0o644,
  size: 3,
  hash: H,
  path: p,
  ...over,
})
const d = (p: string): Entry => ({ type: 'd', mode: 0o755, size: -1, hash: '', path: p })

describe('comparePaths', () => {
  it('orders as the UTF-8 bytes do, above U+FFFF and between U+E000 and U+FFFF included', () => {
    const chars = [
      'a',
      'b',
      '/',
      ' ',
      '\u00e9',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffee',
      '\u{10000}',
      '\u{1f600}',
      '\u{10ffff}',
    ]
    const names: string[] = []
    for (const x of chars) for (const y of chars) names.push(x + y, x, `${x}${y}z`)
    const bytes = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))
    // Every pair (~250,000), the pairs that disagree collected: one expect, not one a pair.
    const wrong: string[][] = []
    for (const a of names)
      for (const b of names) if (Math.sign(comparePaths(a, b)) !== bytes(a, b)) wrong.push([a, b])
    expect(wrong).toEqual([])
    expect(names.length).toBeGreaterThan(500)
  })
})

describe('path escapes', () => {
  it('escapes exactly backslash and newline, and reverses it', () => {
    expect(escapePath('a\\b\nc d\te')).toBe('a\\\\b\\nc d\te')
    for (const p of ['a\\b\nc', '\\n', 'x\\\\n\n', '-rf', ' lead'])
      expect(unescapePath(escapePath(p))).toBe(p)
  })
  it('refuses any other escape and a lone trailing backslash', () => {
    expect(() => unescapePath('a\\t')).toThrow(/bad escape/)
    expect(() => unescapePath('a\\')).toThrow(/bad escape/)
  })
})

describe('formatManifest / parseManifest', () => {
  const entries: Entry[] = [
    f('b.txt'),
    d('a'),
    f('a/x y', { mode: 0o755, size: 0, hash: 'b'.repeat(64) }),
    { type: 'l', mode: -1, size: -1, hash: H, path: 'a/link' },
    f('a/new\nline\\'),
  ]
  const text = formatManifest(entries)
  it('writes the exact text: header, sorted by bytes, escapes, final newline', () => {
    expect(text).toBe(
      [
        'rad-manifest 1',
        'd 0755 - - a',
        `l - - ${H} a/link`,
        `f 0644 3 ${H} a/new\\nline\\\\`,
        `f 0755 0 ${'b'.repeat(64)} a/x y`,
        `f 0644 3 ${H} b.txt`,
        '',
      ].join('\n'),
    )
  })
  it('round-trips', () => {
    expect(parseManifest(text)).toEqual(parseManifest(formatManifest(parseManifest(text))))
    expect(formatManifest(parseManifest(text))).toBe(text)
  })
  it('sorts by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF5E (3 bytes, ef bd 9e) sorts before U+1F600 (f0 …) by bytes; UTF-16 says the opposite.
    const t = formatManifest([f('\u{1F600}'), f('\uFF5E')])
    expect(t.split('\n')[1]?.endsWith('\uFF5E')).toBe(true)
    expect(() => parseManifest(t)).not.toThrow()
  })
  it('digest is sha256 of the whole text', () => {
    expect(manifestDigest('rad-manifest 1\n')).toBe(
      `sha256:${execFileSync('sha256sum', { input: 'rad-manifest 1\n' }).toString().slice(0, 64)}`,
    )
  })
  const bad: [string, string, RegExp][] = [
    ['no header', 'f 0644 3 x a\n', /not a manifest/],
    ['no final newline', 'rad-manifest 1', /newline/],
    ['unsorted', `rad-manifest 1\nf 0644 1 ${H} b\nf 0644 1 ${H} a\n`, /not sorted/],
    ['duplicate', `rad-manifest 1\nf 0644 1 ${H} a\nf 0644 1 ${H} a\n`, /duplicate/],
    ['parent missing', `rad-manifest 1\nf 0644 1 ${H} a/b\n`, /parent/],
    ['parent is a file', `rad-manifest 1\nf 0644 1 ${H} a\nf 0644 1 ${H} a/b\n`, /parent/],
    ['dotdot', `rad-manifest 1\nd 0755 - - ..\n`, /'\.\.'/],
    ['dot', `rad-manifest 1\nf 0644 1 ${H} .\n`, /'\.'/],
    ['absolute', `rad-manifest 1\nf 0644 1 ${H} /etc\n`, /absolute/],
    ['trailing slash', `rad-manifest 1\nd 0755 - - a/\n`, /empty component/],
    ['empty path', `rad-manifest 1\nf 0644 1 ${H} \n`, /empty path/],
    ['bad type', `rad-manifest 1\np 0644 1 ${H} a\n`, /not "/],
    ['bad mode', `rad-manifest 1\nf 0648 1 ${H} a\n`, /mode/],
    ['mode on symlink', `rad-manifest 1\nl 0777 - ${H} a\n`, /mode/],
    ['size on dir', 'rad-manifest 1\nd 0755 0 - a\n', /size/],
    ['leading zero size', `rad-manifest 1\nf 0644 01 ${H} a\n`, /size/],
    ['huge size', `rad-manifest 1\nf 0644 99999999999999999 ${H} a\n`, /size/],
    ['upper hex', `rad-manifest 1\nf 0644 1 ${H.toUpperCase()} a\n`, /hash/],
    ['hash on dir', `rad-manifest 1\nd 0755 - ${H} a\n`, /hash/],
    ['bad escape', `rad-manifest 1\nf 0644 1 ${H} a\\x\n`, /escape/],
    ['NUL', `rad-manifest 1\nf 0644 1 ${H} a\0b\n`, /NUL/],
    ['blank line', 'rad-manifest 1\n\n', /line 2/],
  ]
  for (const [name, t, re] of bad) it(`refuses: ${name}`, () => expect(() => parseManifest(t)).toThrow(re))
})

describe('diffManifests', () => {
  it('splits into added, removed, changed and same', () => {
    const old = [f('a'), f('b'), f('c'), d('dir')]
    const next = [f('a'), f('b', { mode: 0o755 }), { ...d('c') }, f('e')]
    const r = diffManifests(old, next)
    expect(r.same.map((e) => e.path)).toEqual(['a'])
    expect(r.changed.map((e) => e.path)).toEqual(['b', 'c'])
    expect(r.added.map((e) => e.path)).toEqual(['e'])
    expect(r.removed.map((e) => e.path)).toEqual(['dir'])
  })
})

describe('rsync --chmod semantics', () => {
  const c = (spec: string, mode: number, dir = false, umask = 0o022) =>
    applyChmod(mode, dir, parseChmod(spec, umask) ?? [])
  it('applies the default spec', () => {
    const spec = chmodSpec('u+rwX,go+rX,go-w')
    expect(c(spec, 0o600).toString(8)).toBe('644')
    expect(c(spec, 0o700).toString(8)).toBe('755')
    expect(c(spec, 0o700, true).toString(8)).toBe('755')
    expect(c(spec, 0o6777).toString(8)).toBe('755')
    expect(c(spec, 0o1666).toString(8)).toBe('1644')
  })
  it('knows D/F, octal, =, s, t and the umask for clauses without who', () => {
    expect(c('D750,F640', 0o777, true).toString(8)).toBe('750')
    expect(c('D750,F640', 0o777).toString(8)).toBe('640')
    expect(c('u=rw', 0o777).toString(8)).toBe('677')
    expect(c('+w', 0o444, false, 0o022).toString(8)).toBe('644')
    expect(c('u+s,g+s', 0o755).toString(8)).toBe('6755')
    expect(c('+t', 0o755, true).toString(8)).toBe('1755')
    expect(c('F4755', 0o644).toString(8)).toBe('4755')
    expect(c('ug=rwX', 0o600).toString(8)).toBe('660')
  })
  it('refuses what rsync refuses', () => {
    for (const s of ['u+r-w', 'DF+x', 'u+q', '8', '17777', 'u', ',', 'a+r,', 'go=u-w'])
      expect(parseChmod(s, 0o022)).toBeNull()
  })
  it('matches what the real rsync does on a tree (every spec, every mode)', async () => {
    const specs = ['u+rwX,go+rX,go-w', 'D750,F640', 'a=rX,u+w', 'g+s,o-rwx', '+x', 'u=,Fo+X', 'F4755,D+t']
    const src = tempDir()
    const modes = [0o600, 0o644, 0o700, 0o755, 0o444, 0o111, 0o6711, 0o1777, 0o070, 0o000]
    for (const m of modes) {
      writeFileSync(path.join(src, `f${m.toString(8)}`), 'x')
      chmodSync(path.join(src, `f${m.toString(8)}`), m)
      mkdirSync(path.join(src, `d${m.toString(8)}`))
      chmodSync(path.join(src, `d${m.toString(8)}`), m | 0o700)
    }
    symlinkSync('f600', path.join(src, 'ln'))
    for (const spec of specs) {
      const dst = tempDir()
      execFileSync('rsync', ['-r', '-l', '-p', `--chmod=${chmodSpec(spec)}`, `${src}/`, `${dst}/`])
      const want = await buildManifest(src, { chmod: chmodSpec(spec) })
      const got = await buildManifest(dst, { chmod: '' })
      expect(formatManifest(got), spec).toBe(formatManifest(want))
    }
  })
})

describe('buildManifest', () => {
  it('lists files, dirs, symlinks (not followed), hostile names; hashes content and targets', async () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'sub/empty'), { recursive: true })
    writeFileSync(path.join(root, 'sub/a\nb'), 'hello')
    writeFileSync(path.join(root, '-rf'), '')
    writeFileSync(path.join(root, 'back\\slash'), 'x'.repeat(2 << 20))
    symlinkSync('../nowhere', path.join(root, 'sub/dangling'))
    symlinkSync('sub', path.join(root, 'dirlink'))
    execFileSync('mkfifo', [path.join(root, 'fifo')])
    const got = await buildManifest(root, { chmod: 'D755,F644' })
    const sha = (s: string | Buffer) => execFileSync('sha256sum', { input: s }).toString().slice(0, 64)
    expect(formatManifest(got)).toBe(
      [
        'rad-manifest 1',
        `f 0644 0 ${sha('')} -rf`,
        `f 0644 ${2 << 20} ${sha('x'.repeat(2 << 20))} back\\\\slash`,
        `l - - ${sha('sub')} dirlink`,
        'd 0755 - - sub',
        `f 0644 5 ${sha('hello')} sub/a\\nb`,
        `l - - ${sha('../nowhere')} sub/dangling`,
        'd 0755 - - sub/empty',
        '',
      ].join('\n'),
    )
  })
  it('counts the special files it skips, keeps a name holding U+FFFD, refuses one that is not UTF-8', async () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'run'))
    execFileSync('mkfifo', [path.join(root, 'run/app.fifo'), path.join(root, 'b.fifo')])
    writeFileSync(path.join(root, 'r\uFFFDsum\u00e9.txt'), 'x')
    const special = { count: 0, names: [] as string[] }
    // The root as a user may name it (a trailing slash): the same paths.
    const got = await buildManifest(`${root}/`, { chmod: '', special })
    expect(got.map((e) => e.path)).toEqual(['run', 'r\uFFFDsum\u00e9.txt'])
    expect(special.count).toBe(2)
    expect([...special.names].sort()).toEqual(['FIFO "b.fifo"', 'FIFO "run/app.fifo"'])
    // A byte that is not UTF-8 (0xff) beside the real U+FFFD: the manifest cannot hold that name.
    writeFileSync(Buffer.concat([Buffer.from(`${root}/run/bad`), Buffer.from([0xff])]), 'y')
    await expect(buildManifest(root, { chmod: '' })).rejects.toThrow(/file name is not UTF-8: .* in run/)
  })
  it('keeps only what the keep predicate keeps (a dropped directory drops its contents)', async () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'skip/deep'), { recursive: true })
    writeFileSync(path.join(root, 'skip/deep/x'), '1')
    writeFileSync(path.join(root, 'keep'), '1')
    const got = await buildManifest(root, { chmod: '', keep: (p) => p !== 'skip' })
    expect(got.map((e) => e.path)).toEqual(['keep'])
  })
})

describe('buildManifest on a big build (2,100 files)', () => {
  it('hashes every file, with its size and mode, as sha256sum does', async () => {
    const dir = tempDir('radbig-')
    const want = new Map<string, string>()
    for (let i = 0; i < 2100; i++) {
      const p = `d${i % 7}/f${i}.txt`
      mkdirSync(path.join(dir, `d${i % 7}`), { recursive: true })
      writeFileSync(path.join(dir, p), `file ${i}\n`.repeat(i % 50))
      want.set(p, '')
    }
    chmodSync(path.join(dir, 'd6/f2099.txt'), 0o755)
    const sums = execFileSync('sh', ['-c', 'cd "$1" && find . -type f -exec sha256sum {} +', 'sh', dir], {
      encoding: 'utf8',
    })
    for (const line of sums.trim().split('\n')) want.set(line.slice(68), line.slice(0, 64))
    const entries = await buildManifest(dir, { chmod: '' })
    const files = entries.filter((e) => e.type === 'f')
    expect(files).toHaveLength(2100)
    for (const e of files) expect(e.hash, e.path).toBe(want.get(e.path))
    expect(files.find((e) => e.path === 'd6/f2099.txt')?.mode).toBe(0o755)
    expect(files.find((e) => e.path === 'd6/f1000.txt')?.size).toBe(Buffer.byteLength('file 1000\n') * 0)
    expect(files.find((e) => e.path === 'd4/f1999.txt')?.size).toBe(Buffer.byteLength('file 1999\n') * 49)
  })
})
