/**
 * The server library's ways of doing without a process (src/remote-lib.ts), run by a real sh on
 * local directories: each must say exactly what the longer way said. Under the system's userland
 * and, where busybox is installed, under busybox only.
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { describe, expect, it } from 'vitest'
import { shAssignments } from '../../src/quote.js'
import { parseReply, renderScript, SERVER_LIB } from '../../src/remote.js'
import { BUSYBOX, busyboxPath, tempDir } from './helpers.js'

type Userland = 'system' | 'busybox'
const USERLANDS: Userland[] = BUSYBOX ? ['system', 'busybox'] : ['system']

function run(userland: Userland, T: string, body: string, vars: Record<string, string | number> = {}) {
  const script = `${shAssignments({ T, LINK: 'current', TOKEN: 'tok', LEFT: 600, ...vars })}\n${SERVER_LIB}\n${body}\n`
  const bb = userland === 'busybox'
  const r = spawnSync(bb ? BUSYBOX : 'sh', bb ? ['sh', '-s'] : ['-s'], {
    input: script,
    encoding: 'utf8',
    env: { PATH: bb ? busyboxPath() : (process.env.PATH ?? '') },
    // A script that hangs (a write to a fifo) fails the test instead of holding it.
    timeout: 20_000,
  })
  return { ...r, reply: parseReply(r.stdout) }
}

describe.each(USERLANDS)('the server library without its processes (%s userland)', (userland) => {
  it('numbers the log from 1 when tail sent all of it, and from the file’s own count at 5,000 lines', () => {
    const T = tempDir('radlog-')
    mkdirSync(`${T}/.deploy`, { recursive: true })
    const long = 'x'.repeat(16_385)
    writeFileSync(`${T}/.deploy/log`, `{"a":1}\n${long}\nnul\0here\n{"b":2}`)
    const few = run(userland, T, 'send_log')
    expect(few.stderr).toBe('')
    expect(few.reply.values.get('log')).toEqual(['1 {"a":1}', '3 nul\\x01here', '4 {"b":2}'])
    expect(few.reply.values.get('log-long')).toEqual(['2'])
    // 5,003 lines, the last without its newline: the last 5,000 are sent, numbered 4 to 5,003.
    const lines = Array.from({ length: 5003 }, (_, i) => `{"n":${i + 1}}`)
    writeFileSync(`${T}/.deploy/log`, lines.join('\n'))
    const many = run(userland, T, 'send_log').reply.values.get('log') ?? []
    expect(many.length).toBe(5000)
    expect(many[0]).toBe('4 {"n":4}')
    expect(many.at(-1)).toBe('5003 {"n":5003}')
    // Exactly 5,000 lines: all of them, from 1.
    writeFileSync(`${T}/.deploy/log`, `${lines.slice(0, 5000).join('\n')}\n`)
    const all = run(userland, T, 'send_log').reply.values.get('log') ?? []
    expect([all.length, all[0], all.at(-1)]).toEqual([5000, '1 {"n":1}', '5000 {"n":5000}'])
  })

  it('report_state leaves out the log lines of releases no longer on disk (as release and as from), numbered as in the file', () => {
    const T = tempDir('radlogfor-')
    mkdirSync(`${T}/.deploy`, { recursive: true })
    for (const r of ['r7', 'r9']) mkdirSync(`${T}/releases/${r}`, { recursive: true })
    const line = (release: string, event: string, from?: string) =>
      JSON.stringify({ release, event, time: 't', ...(from ? { from } : {}) })
    const lines = [
      ...Array.from({ length: 6000 }, (_, i) => line(`old${i}`, 'deploy')),
      line('r7', 'deploy'),
      line('r8', 'deploy'),
      line('r9', 'deploy'),
      line('r8', 'rollback', 'r9'),
      line('r7', 'rollback', 'r8'),
      line('gone', 'revert', 'gone2'),
      'not json at all',
      // Not in our form (a control byte; no closing brace; not JSON; an event not ours; no id; two
      // from, of which JSON.parse keeps the last; an escape): sent, so the client judges them.
      `{"release":"gone3",\u0001"event":"deploy"}`,
      '{"release":"gone4","event":"deploy"',
      '{"release":"gone","event":"deploy", oops}',
      '{"release":"gone","event":"bogus"}',
      '{"release":"","event":"deploy"}',
      '{"release":"gone","event":"rollback","from":"x","from":"r7"}',
      '{"release":"gone","event":"rollback","from":"r\\u0037"}',
      // The release this run deploys, used before: its lines count though it is not on disk yet.
      line('r10', 'deploy'),
    ]
    writeFileSync(`${T}/.deploy/log`, `${lines.join('\n')}\n`)
    const r = run(userland, T, 'report_state', { ID: 'r10' })
    expect(r.stderr).toBe('')
    expect(r.reply.values.get('release')).toEqual(['r7', 'r9'])
    // Of the last 5,000 lines (1,016 to 6,015): those naming r7, r9 or r10, and what is not ours to read.
    expect(r.reply.values.get('log')).toEqual([
      `6001 ${line('r7', 'deploy')}`,
      `6003 ${line('r9', 'deploy')}`,
      `6004 ${line('r8', 'rollback', 'r9')}`,
      `6005 ${line('r7', 'rollback', 'r8')}`,
      '6007 not json at all',
      '6008 {"release":"gone3",\\x01"event":"deploy"}',
      '6009 {"release":"gone4","event":"deploy"',
      '6010 {"release":"gone","event":"deploy", oops}',
      '6011 {"release":"gone","event":"bogus"}',
      '6012 {"release":"","event":"deploy"}',
      '6013 {"release":"gone","event":"rollback","from":"x","from":"r7"}',
      '6014 {"release":"gone","event":"rollback","from":"r\\u0037"}',
      `6015 ${line('r10', 'deploy')}`,
    ])
    // send_log without report_state's list: every line, as before.
    expect(run(userland, T, 'send_log').reply.values.get('log')?.length).toBe(5000)
  })

  it('names its pid namespace as tr -cd did (a holder written by an older version still matches)', () => {
    const T = tempDir('radspace-')
    const r = run(
      userland,
      T,
      `new=$(pid_space)
old=$(printf 'm=%s,b=%s,n=%s' "$(cat /etc/machine-id 2>/dev/null)" "$(cat /proc/sys/kernel/random/boot_id)" "$(readlink /proc/self/ns/pid)" | tr -cd 'A-Za-z0-9=,-')
say space "$new"; say old "$old"`,
    )
    const space = r.reply.values.get('space')?.[0] ?? ''
    expect(space).toMatch(/^m=[0-9a-f]*,b=[0-9a-f-]+,n=pid[0-9]+$/)
    expect(space).toBe(r.reply.values.get('old')?.[0])
  })

  it('keeps what mv and find can do in .deploy/caps, under the lock only, and trusts only a file it can read', () => {
    const T = tempDir('radcaps-')
    mkdirSync(`${T}/.deploy/lock`, { recursive: true })
    writeFileSync(`${T}/.deploy/lock/holder`, 'tok h 0 9999999999\n')
    const kind = run(userland, T, 'MVKIND=$(mv_kind); say kind "$MVKIND"').reply.values.get('kind')?.[0]
    expect(['gnu', 'perl', 'python']).toContain(kind)
    const save = 'caps_load; mv_known; find_printf; caps_save; say kind "$MVKIND" "$FIND_PRINTF"'
    // Not holding the lock: nothing written.
    run(userland, T, save)
    expect(existsSync(`${T}/.deploy/caps`)).toBe(false)
    // Past the run's time (what fence refuses): nothing written either.
    run(userland, T, `LOCKED=1; DL=0; ${save}`)
    expect(existsSync(`${T}/.deploy/caps`)).toBe(false)
    const saved = run(userland, T, `LOCKED=1; ${save}`)
    expect(saved.stderr).toBe('')
    if (userland === 'system') {
      expect(saved.reply.values.get('kind')).toEqual([`${kind} 1`])
      expect(readFileSync(`${T}/.deploy/caps`, 'utf8')).toBe(`rad-caps 1 ${kind} 1\n`)
    } else {
      // What does not work (busybox find has no -printf) is never kept: found out each time.
      expect(saved.reply.values.get('kind')).toEqual([`${kind} 0`])
      expect(existsSync(`${T}/.deploy/caps`)).toBe(false)
    }
    expect(readdirSync(`${T}/.deploy`).sort()).toEqual(userland === 'system' ? ['caps', 'lock'] : ['lock'])
    // Read back without a probe; anything else in the file is ignored.
    const load = 'caps_load; say kind "$MVKIND" "$FIND_PRINTF" "$CAPS_KEPT"'
    writeFileSync(`${T}/.deploy/caps`, 'rad-caps 1 bsd 1\n')
    expect(run(userland, T, load).reply.values.get('kind')).toEqual(['bsd 1 bsd 1'])
    for (const bad of [
      'rad-caps 2 gnu 1\n',
      'rad-caps 1 $(touch x) 1\n',
      'rad-caps 1 gnu yes\n',
      'rad-caps 1 gnu 0\n',
      'rad-caps 1 none 1\n',
      'rad-caps 1 python 1\n',
      '',
    ]) {
      writeFileSync(`${T}/.deploy/caps`, bad)
      expect(run(userland, T, load).reply.values.get('kind')).toEqual(['  '])
    }
    // Whatever someone put in its place is replaced, never written through: a symlink, a hard
    // link to a file elsewhere, a fifo (which would block a write for ever).
    const outside = tempDir('radcapsout-')
    writeFileSync(`${outside}/f`, 'precious\n')
    writeFileSync(`${outside}/g`, 'precious\n')
    const planted: [string, () => void][] = [
      ['symlink', () => symlinkSync(`${outside}/f`, `${T}/.deploy/caps`)],
      ['hard link', () => linkSync(`${outside}/g`, `${T}/.deploy/caps`)],
      ['fifo', () => spawnSync('mkfifo', [`${T}/.deploy/caps`])],
    ]
    for (const [what, plant] of planted) {
      rmSync(`${T}/.deploy/caps`, { force: true })
      plant()
      const again = run(userland, T, `LOCKED=1; ${save}`)
      expect(again.status, what).toBe(0)
      if (userland === 'system')
        expect(readFileSync(`${T}/.deploy/caps`, 'utf8'), what).toBe(`rad-caps 1 ${kind} 1\n`)
    }
    expect([readFileSync(`${outside}/f`, 'utf8'), readFileSync(`${outside}/g`, 'utf8')]).toEqual([
      'precious\n',
      'precious\n',
    ])
  })

  it('walks a tree with a newline in a name as one line no reader takes for an entry', () => {
    const T = tempDir('radnl-')
    mkdirSync(`${T}/tree/a\nf 1 2 3 644 .`, { recursive: true })
    writeFileSync(`${T}/tree/a\nf 1 2 3 644 ./b`, 'x')
    writeFileSync(`${T}/tree/c`, 'c')
    const r = run(userland, T, 'tree_stat "$T/tree" | while IFS= read -r l; do say line "$l"; done')
    const lines = r.reply.values.get('line') ?? []
    expect(lines).toContain('! newline')
    // Only whole entries otherwise: nothing the names say.
    const paths = lines.filter((l) => l !== '! newline').map((l) => l.split(' ').slice(5).join(' '))
    expect(paths.sort()).toEqual(['.', './c'])
  })

  it('a kept mv kind that fails is found out afresh, and the link still renamed over', () => {
    const T = tempDir('radcapsmv-')
    mkdirSync(`${T}/.deploy`, { recursive: true })
    mkdirSync(`${T}/a`)
    mkdirSync(`${T}/b`)
    symlinkSync('a', `${T}/cur`)
    symlinkSync('b', `${T}/new`)
    // BSD's mv -h is no option of GNU or busybox mv: the rename fails, then works as probed, the
    // file goes. Not while the lock is someone else's: then the failure stands.
    writeFileSync(`${T}/.deploy/caps`, 'rad-caps 1 bsd 1\n')
    const swap = 'caps_load; LOCKED=1; swap "$T/new" "$T/cur" && say kind "$MVKIND"'
    expect(run(userland, T, swap).reply.values.get('kind')).toBeUndefined()
    expect(readlinkSync(`${T}/cur`)).toBe('a')
    mkdirSync(`${T}/.deploy/lock`)
    writeFileSync(`${T}/.deploy/lock/holder`, 'tok h 0 9999999999\n')
    const r = run(userland, T, swap)
    expect(r.reply.values.get('kind')?.[0]).not.toBe('bsd')
    expect(readlinkSync(`${T}/cur`)).toBe('b')
    expect(existsSync(`${T}/a/new`) || existsSync(`${T}/new`)).toBe(false)
    expect(existsSync(`${T}/.deploy/caps`)).toBe(false)
  })

  it('a kept find -printf that find refuses: the walk falls back to stat, whole', () => {
    const T = tempDir('radcapsfind-')
    mkdirSync(`${T}/.deploy`, { recursive: true })
    mkdirSync(`${T}/tree/d`, { recursive: true })
    writeFileSync(`${T}/tree/d/f`, 'f\n')
    writeFileSync(`${T}/.deploy/caps`, 'rad-caps 1 gnu 1\n')
    const r = run(
      userland,
      T,
      'caps_load; tree_stat "$T/tree" | while IFS= read -r l; do say line "$l"; done',
    )
    const paths = (r.reply.values.get('line') ?? []).map((l) => l.split(' ').slice(5).join(' ')).sort()
    expect(paths).toEqual(['.', './d', './d/f'])
  })

  it('prune looks in incoming/ and manifests/ only when they hold something, and then removes what is over a day old', () => {
    const T = tempDir('radprune-')
    for (const d of ['incoming/old.tok/x', 'incoming/new.tok', 'manifests'])
      mkdirSync(`${T}/.deploy/${d}`, { recursive: true })
    mkdirSync(`${T}/.deploy/lock`)
    writeFileSync(`${T}/.deploy/lock/holder`, 'tok h 0 9999999999\n')
    writeFileSync(`${T}/.deploy/manifests/.w.old.tok.now`, '')
    writeFileSync(`${T}/.deploy/manifests/.w.new.tok.now`, '')
    writeFileSync(`${T}/.deploy/manifests/r1`, '')
    const old = new Date(Date.now() - 2 * 86_400_000)
    for (const p of ['incoming/old.tok', 'manifests/.w.old.tok.now', 'manifests/r1'])
      utimesSync(`${T}/.deploy/${p}`, old, old)
    const r = run(userland, T, 'prune_releases; say done', { PRUNE: '' })
    expect(r.reply.values.get('done')).toEqual([''])
    expect(existsSync(`${T}/.deploy/incoming/old.tok`)).toBe(false)
    expect(existsSync(`${T}/.deploy/incoming/new.tok`)).toBe(true)
    expect(existsSync(`${T}/.deploy/manifests/.w.old.tok.now`)).toBe(false)
    expect(existsSync(`${T}/.deploy/manifests/.w.new.tok.now`)).toBe(true)
    // A release's manifest is the release's, whatever its age.
    expect(existsSync(`${T}/.deploy/manifests/r1`)).toBe(true)
  })
})

describe('doctor finds out what mv can do today', () => {
  it('whatever .deploy/caps says', () => {
    const T = tempDir('raddoc-')
    mkdirSync(`${T}/.deploy`, { recursive: true })
    writeFileSync(`${T}/.deploy/caps`, 'rad-caps 1 bsd 1\n')
    const vars = { T, LINK: 'current', TOKEN: 'tok', LEFT: 600 }
    const r = spawnSync('sh', ['-s'], { input: renderScript('doctor', vars as never), encoding: 'utf8' })
    const kind = parseReply(r.stdout).values.get('mv-kind')?.[0]
    // (GNU coreutils here, as on the machines the suite runs on.)
    expect(kind).toBe('gnu')
    expect(lstatSync(`${T}/.deploy/caps`).isFile()).toBe(true)
  })
})
