/**
 * command: verify. The pure part (verify.ts: the server's records read strictly, the comparison
 * with the manifest, the log's digest and expected-digest), and the server script itself run as
 * the server runs it (`sh -s`) on dash, bash and busybox sh with busybox's applets, its reply fed
 * to the comparison: hostile names survive every userland.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildManifest, type Entry, formatManifest, manifestDigest } from '../../src/manifest.js'
import { parseReply, renderScript } from '../../src/remote.js'
import {
  actualTree,
  compareRelease,
  differenceLines,
  hexSection,
  parseKept,
  parseLinks,
  parseSums,
  parseTree,
  sharedLinkTarget,
  type VerifyInput,
  verdictLine,
} from '../../src/verify.js'
import { treeSnapshot } from '../support/tree.js'
import { tempDir } from './helpers.js'

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')
const nul = (...fields: string[]) => Buffer.from(fields.map((f) => `${f}\0`).join(''), 'latin1')

type Row = [string, string, number, string, string?]

/** A tree section as GNU find -printf sends it. */
function gnuTree(rows: Row[]): Buffer {
  return nul(...rows.map(([y, mode, size, p]) => `g${y} ${mode} ${size} ./${p}`))
}

/** The links section of the same rows: each symlink's path and target. */
function linksOf(rows: Row[]): Buffer {
  return nul(...rows.flatMap(([y, , , p, target]) => (y === 'l' ? [`./${p}`, target ?? ''] : [])))
}

/** tree and links of the rows. */
function listing(rows: Row[]): { tree: Buffer; links: Buffer } {
  return { tree: gnuTree(rows), links: linksOf(rows) }
}

function sums(files: Record<string, string>): Buffer {
  return nul(...Object.entries(files).map(([p, c]) => `${sha(c)}  ./${p}`))
}

const FILES = { 'index.html': '<h1>v1</h1>\n', 'assets/app.js': 'console.log(1)\n' }
const ENTRIES: Entry[] = [
  { type: 'd', mode: 0o755, size: -1, hash: '', path: 'assets' },
  { type: 'f', mode: 0o644, size: 15, hash: sha(FILES['assets/app.js']), path: 'assets/app.js' },
  { type: 'f', mode: 0o644, size: 12, hash: sha(FILES['index.html']), path: 'index.html' },
  { type: 'l', mode: -1, size: -1, hash: sha('index.html'), path: 'home.html' },
]
const MANIFEST = formatManifest(ENTRIES)
const DIGEST = manifestDigest(MANIFEST)

function input(over: Partial<VerifyInput> = {}): VerifyInput {
  return {
    release: 'r1',
    manifest: Buffer.from(MANIFEST),
    kept: undefined,
    ...listing([
      ['d', '755', 4096, 'assets'],
      ['f', '644', 15, 'assets/app.js'],
      ['f', '644', 12, 'index.html'],
      ['l', '777', 10, 'home.html', 'index.html'],
    ]),
    sums: sums(FILES),
    logLines: [`1 ${JSON.stringify({ release: 'r1', event: 'deploy', time: 't', digest: DIGEST })}`],
    expectedDigest: '',
    expectedName: 'expected-digest',
    ...over,
  }
}

describe('parseTree, parseSums, parseKept: the server records, strictly', () => {
  it('reads the three userlands: GNU find (g), stat -c %f (x), BSD stat -f %p (o)', () => {
    const t = parseTree(
      Buffer.concat([
        gnuTree([['f', '4755', 3, 'a b']]),
        nul('x81a4 5 ./-x', 'xa1ff 3 ./l', 'o40755 64 ./d', 'o10644 0 ./fifo'),
      ]),
      parseLinks(nul('./l', 'abc')),
    )
    expect(t.map((e) => [e.type, e.perm.toString(8), e.size, e.raw, e.target.toString()])).toEqual([
      ['f', '4755', 3, 'a b', ''],
      ['f', '644', 5, '-x', ''],
      ['l', '777', 3, 'l', 'abc'],
      ['d', '755', 64, 'd', ''],
      ['o', '644', 0, 'fifo', ''],
    ])
  })

  it.each([
    ['no final NUL', Buffer.from('gf 644 1 ./a\0gf 644 1 ./b')],
    ['a record of another shape', nul('zf 644 1 ./a')],
    ['an absolute path', nul('gf 644 1 /etc/passwd')],
    ['a .. component', nul('gf 644 1 ./a/../../b')],
    ['a path twice', nul('gf 644 1 ./a', 'gf 644 1 ./a')],
    ['a symlink whose target was not sent', nul('gl 777 1 ./a')],
  ])('refuses %s', (_what, buf) => {
    expect(() => parseTree(buf)).toThrow(/malformed/)
  })

  it('reads GNU-escaped sums (a leading backslash) and busybox raw ones alike', () => {
    const m = parseSums(
      nul(
        `\\${sha('x')}  ./a\\\\b\\nc\\rd`,
        `${sha('y')}  ./a\\b`,
        `${sha('z')} *./bin ary`,
        `${sha('n')}  ./n\nl`,
      ),
    )
    expect([...m]).toEqual([
      ['a\\b\nc\rd', sha('x')],
      ['a\\b', sha('y')],
      ['bin ary', sha('z')],
      ['n\nl', sha('n')],
    ])
    expect(() => parseSums(nul(`\\${sha('x')}  ./a\\tb`))).toThrow(/malformed/)
    expect(() => parseSums(nul('0123  ./short'))).toThrow(/malformed/)
  })

  it('hexSection: the bytes, none when the server said no-KEY, an error when cut short or not hex', () => {
    const reply = (s: string) => parseReply(s)
    expect(hexSection(reply('@@rad tree 6162\n@@rad tree 00\n@@rad tree-end\n'), 'tree')).toEqual(
      Buffer.from('ab\0'),
    )
    expect(hexSection(reply('@@rad no-manifest\n'), 'manifest')).toBeUndefined()
    expect(() => hexSection(reply('@@rad tree 6162\n'), 'tree')).toThrow(/incomplete/)
    expect(() => hexSection(reply('@@rad tree 6g\n@@rad tree-end\n'), 'tree')).toThrow(/not hex/)
  })

  it('parseKept: the ./paths of the record', () => {
    expect([...parseKept(Buffer.from('./assets/old.js\n./a b.css\nnoise\n'))]).toEqual([
      'assets/old.js',
      'a b.css',
    ])
  })
})

describe('compareRelease', () => {
  it('verifies a tree that is its manifest, digest as in the log', () => {
    const r = compareRelease(input())
    expect(r).toMatchObject({ verified: true, recordedDigest: DIGEST, actualDigest: DIGEST, entries: 4 })
    expect(verdictLine(r)).toBe(`verified: 4 files match ${DIGEST}`)
  })

  it('names changed content (same size), added, removed, mode and type changes', () => {
    const r = compareRelease(
      input({
        ...listing([
          ['d', '755', 4096, 'assets'],
          ['f', '600', 15, 'assets/app.js'],
          ['f', '644', 12, 'home.html'],
          ['f', '644', 12, 'index.html'],
          ['f', '644', 1, 'new.txt'],
        ]),
        sums: sums({
          'assets/app.js': FILES['assets/app.js'],
          'home.html': 'x',
          'index.html': '<h1>v2</h1>\n',
          'new.txt': 'n',
        }),
      }),
    )
    expect(r.verified).toBe(false)
    expect(r.differences).toEqual([
      { path: 'assets/app.js', kind: 'mode', detail: '0644 -> 0600' },
      { path: 'home.html', kind: 'type', detail: 'symlink -> file' },
      { path: 'index.html', kind: 'content', detail: 'same size' },
      { path: 'new.txt', kind: 'added', detail: 'file' },
    ])
    const gone = compareRelease(input({ ...listing([['d', '755', 1, 'assets']]), sums: Buffer.alloc(0) }))
    expect(gone.differences.map((d) => `${d.kind} ${d.path}`)).toEqual([
      'removed assets/app.js',
      'removed home.html',
      'removed index.html',
    ])
  })

  it('caps the list it shows and says how many more', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ path: `f${i}`, kind: 'added' as const, detail: '' }))
    const lines = differenceLines(many)
    expect(lines).toHaveLength(21)
    expect(lines.at(-1)).toBe('… and 5 more')
  })

  it('a manifest changed on the server: its digest is not the log’s', () => {
    const forged = MANIFEST.replace(sha(FILES['index.html']), sha('evil'))
    const r = compareRelease(input({ manifest: Buffer.from(forged) }))
    expect(r.verified).toBe(false)
    expect(r.digestProblems.join()).toMatch(/not the sha256:[0-9a-f]{64} the deploy log says/)
  })

  it('expected-digest: a mismatch fails naming the input; a match passes', () => {
    const other = `sha256:${'0'.repeat(64)}`
    const bad = compareRelease(input({ expectedDigest: other, expectedName: '--expected-digest' }))
    expect(bad.verified).toBe(false)
    expect(verdictLine(bad)).toContain(
      `its recorded digest is ${DIGEST}, not the expected ${other} (--expected-digest)`,
    )
    expect(compareRelease(input({ expectedDigest: DIGEST })).verified).toBe(true)
  })

  it('no manifest: not verified and said so; with expected-digest the tree’s own digest decides', () => {
    const none = compareRelease(input({ manifest: undefined, logLines: [] }))
    expect(none).toMatchObject({ verified: false, manifest: 'missing', actualDigest: DIGEST })
    expect(verdictLine(none)).toMatch(/^not verified: release r1 has no manifest/)
    expect(compareRelease(input({ manifest: undefined, expectedDigest: DIGEST })).verified).toBe(true)
    const wrong = compareRelease(input({ manifest: undefined, expectedDigest: `sha256:${'1'.repeat(64)}` }))
    expect(wrong.verified).toBe(false)
    expect(verdictLine(wrong)).toContain('the digest of its files is')
  })

  it('a manifest that does not parse is corrupt, never trusted', () => {
    const r = compareRelease(input({ manifest: Buffer.from('rad-manifest 1\nf 0644 1 zz a\n') }))
    expect(r).toMatchObject({ verified: false, manifest: 'corrupt' })
    expect(verdictLine(r)).toMatch(/its manifest cannot be read/)
  })
})

describe('actualTree: shared paths and kept assets are not the build', () => {
  it('skips links into shared/ (and directories made only for them); reports kept files apart', () => {
    expect(sharedLinkTarget('storage')).toBe('../../shared/storage')
    expect(sharedLinkTarget('public/uploads')).toBe('../../../shared/public/uploads')
    const rows: Row[] = [
      ['f', '644', 1, 'a'],
      ['l', '777', 20, 'storage', '../../shared/storage'],
      ['d', '755', 1, 'public'],
      ['l', '777', 30, 'public/uploads', '../../../shared/public/uploads'],
      ['l', '777', 5, 'evil', '../../shared/other'],
      ['d', '755', 1, 'assets'],
      ['f', '644', 1, 'assets/old.js'],
    ]
    const tree = parseTree(gnuTree(rows), parseLinks(linksOf(rows)))
    const t = actualTree(
      tree,
      parseSums(sums({ a: 'a', 'assets/old.js': 'o' })),
      parseKept(Buffer.from('./assets/old.js\n')),
      new Set(['a', 'assets']),
    )
    expect(t.shared).toEqual(['public', 'public/uploads', 'storage'])
    expect(t.kept).toEqual(['assets/old.js'])
    // A link into shared/ at another path is the release's own: it is compared.
    expect(t.entries.map((e) => e.path).sort()).toEqual(['a', 'assets', 'evil'])
  })
})

describe('the verify script on the server userlands, read-only', () => {
  const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim()
  // busybox find has no -printf: with its applets first in PATH the stat fallback runs.
  const bbDir = tempDir('radunit-vbb-')
  if (busybox) {
    for (const c of ['find', 'stat', 'awk', 'od', 'sha256sum', 'readlink', 'tr', 'wc', 'sh']) {
      symlinkSync(busybox, path.join(bbDir, c))
    }
  }
  const cases: [string, string, string][] = [
    ['dash, GNU coreutils', 'dash', ''],
    ['bash, GNU coreutils', 'bash', ''],
    ...(busybox ? ([['busybox sh and applets', busybox, bbDir]] as [string, string, string][]) : []),
  ]
  const HOSTILE = ['new\nline', 'back\\slash', 'sp ace', '-dash', 'cr\rname', 'tab\tname', 'ünï']

  function release(): string {
    const T = tempDir('radunit-verify-')
    const R = `${T}/releases/r1`
    mkdirSync(`${R}/sub dir`, { recursive: true })
    for (const n of HOSTILE) writeFileSync(`${R}/${n}`, `content of ${n}\n`)
    writeFileSync(`${R}/sub dir/x`, 'x')
    chmodSync(`${R}/sub dir/x`, 0o755)
    symlinkSync('../sp ace', `${R}/sub dir/link\nto`)
    symlinkSync('releases/r1', `${T}/current`)
    mkdirSync(`${T}/.deploy/manifests`, { recursive: true })
    return T
  }

  async function verify(T: string, shell: string, pathFirst: string, expected = '') {
    const script = renderScript('verify', {
      T,
      LINK: 'current',
      TOKEN: 't',
      LEFT: 60,
      LOCK_WAIT: 4,
      LOCK_TTL: 60,
      LOCK_OWNER: '{}',
      ID: '',
      VERIFY_MAX: 1_000_000,
      VERIFY_MAX_ENTRIES: 10_000,
    })
    const r = spawnSync(shell, shell.endsWith('busybox') ? ['sh', '-s'] : ['-s'], {
      input: script,
      encoding: 'utf8',
      env: { ...process.env, PATH: pathFirst ? `${pathFirst}:${process.env.PATH}` : process.env.PATH },
    })
    const reply = parseReply(r.stdout)
    expect(reply.error, r.stderr).toBeUndefined()
    expect(reply.ok).toBe(true)
    return compareRelease({
      release: reply.values.get('verifying')?.[0] ?? '',
      manifest: hexSection(reply, 'manifest'),
      kept: hexSection(reply, 'kept'),
      tree: hexSection(reply, 'tree') ?? Buffer.alloc(0),
      links: hexSection(reply, 'links') ?? Buffer.alloc(0),
      sums: hexSection(reply, 'sums') ?? Buffer.alloc(0),
      logLines: reply.values.get('log') ?? [],
      expectedDigest: expected,
      expectedName: 'expected-digest',
    })
  }

  it.each(cases)('%s: verifies hostile names, then names every change', async (_n, shell, pathFirst) => {
    const T = release()
    const R = `${T}/releases/r1`
    const text = formatManifest(await buildManifest(R, { chmod: '' }))
    writeFileSync(`${T}/.deploy/manifests/r1`, text)
    const before = treeSnapshot(T)
    const ok = await verify(T, shell, pathFirst, manifestDigest(text))
    expect(ok.differences).toEqual([])
    expect(ok).toMatchObject({ verified: true, release: 'r1', entries: HOSTILE.length + 3 })
    // Read-only: the whole target, to the inode and mtime, as it was.
    expect(treeSnapshot(T)).toEqual(before)

    writeFileSync(`${R}/new\nline`, 'CONTENT of new\nline\n') // same size
    writeFileSync(`${R}/added\\one`, 'a')
    unlinkSync(`${R}/-dash`)
    chmodSync(`${R}/sp ace`, 0o600)
    const bad = await verify(T, shell, pathFirst)
    expect(bad.verified).toBe(false)
    expect(bad.differences).toEqual([
      { path: '-dash', kind: 'removed', detail: 'file' },
      { path: 'added\\one', kind: 'added', detail: 'file' },
      { path: 'new\nline', kind: 'content', detail: 'same size' },
      { path: 'sp ace', kind: 'mode', detail: '0644 -> 0600' },
    ])
  })
})
