import { describe, expect, it } from 'vitest'
import { checkLogLine, logLine } from '../../src/history.js'
import type { Entry } from '../../src/manifest.js'
import { fastPlan, fastWhy } from '../../src/prepare.js'
import { unescapeRsyncName, uploadExcludes } from '../../src/release-manifest.js'
import { parseReply } from '../../src/remote.js'
import { rsyncArgs } from '../../src/rsync.js'
import { fastList } from '../../src/upload.js'

const e = (p: string): Entry => ({ type: 'f', mode: 0o644, size: 1, hash: 'a'.repeat(64), path: p })

describe('fastPlan', () => {
  it('reads the indices to send, the root and the count, ignoring anything that is not a number', () => {
    const reply = parseReply(
      [
        '@@rad send 0 2 5',
        '@@rad send 7 x -1 ../etc',
        '@@rad send-root',
        '@@rad fast-linked 12',
        '@@rad fast ok',
      ].join('\n'),
    )
    expect(fastPlan(reply)).toEqual({ send: [0, 2, 5, 7], root: true, linked: 12 })
    expect(fastPlan(parseReply('@@rad fast ok\n'))).toEqual({ send: [], root: false, linked: 0 })
  })
  it('names every reason for the checksum path, and an unknown one as such', () => {
    for (const c of ['no-live', 'no-manifest', 'untrusted', 'no-link', 'no-remove'])
      expect(fastWhy(c)).not.toMatch(/did not say/)
    expect(fastWhy('$(evil)')).toBe('the server did not say why')
  })
})

describe('fastList', () => {
  it('lists the named entries NUL-separated, "." first when the root changed; hostile names as they are', () => {
    const entries = [e('a'), e('new\nline'), e('-rf'), e('dir/b')]
    expect(fastList(entries, { send: [1, 2], root: true, linked: 0 }, 'h').toString()).toBe(
      '.\0new\nline\0-rf\0',
    )
    expect(fastList(entries, { send: [], root: false, linked: 4 }, 'h').length).toBe(0)
  })
  it('refuses an index the manifest does not have (the reply is the server’s)', () => {
    expect(() => fastList([e('a')], { send: [1], root: false, linked: 0 }, 'web1')).toThrow(/web1: .*entry 1/)
  })
})

describe('the fast path rsync', () => {
  it('reads the list with --from0 and does not recurse', () => {
    const args = rsyncArgs({
      source: '/b',
      destination: 'h:/t/',
      linkDest: ['/t/releases/r1'],
      chmod: 'u+rwX',
      exclude: [],
      filter: [],
      rsh: 'ssh',
      dryRun: false,
      ioTimeout: 60,
      progress: false,
      filesFrom: '/tmp/list',
    })
    expect(args.slice(0, 3)).toEqual(['--files-from=/tmp/list', '--from0', '--links'])
    expect(args).not.toContain('--recursive')
    expect(args).toContain('--checksum')
    expect(args).toContain('--protect-args')
  })
})

describe('the build listing', () => {
  it("decodes rsync's \\#ooo escapes to bytes, and leaves other backslashes", () => {
    expect(unescapeRsyncName('a\\#012b')).toBe('a\nb')
    expect(unescapeRsyncName('c\\#134#012d')).toBe('c\\#012d')
    expect(unescapeRsyncName('\\#303\\#251t\\#303\\#251')).toBe('été')
    expect(unescapeRsyncName('back\\slash')).toBe('back\\slash')
  })
  it('excludes the shared paths, anchored, after the user’s excludes', () => {
    expect(uploadExcludes({ exclude: ['*.map'], shared: ['uploads', 'var/log'] })).toEqual([
      '*.map',
      '/uploads',
      '/var/log',
    ])
  })
})

describe('the log line', () => {
  it('carries the digest, and lines without one still read', () => {
    const d = `sha256:${'0'.repeat(64)}`
    const line = logLine({ release: 'r1', event: 'deploy', time: 't', digest: d })
    expect(JSON.parse(line).digest).toBe(d)
    expect(checkLogLine(line)).toMatchObject({ release: 'r1', digest: d })
    expect(checkLogLine('{"release":"r0","event":"deploy","time":"t"}')).toEqual({
      release: 'r0',
      event: 'deploy',
      time: 't',
    })
  })
})
