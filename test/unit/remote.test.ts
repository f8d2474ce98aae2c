import { spawnSync } from 'node:child_process'
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { wireAssignments } from '../../src/quote.js'
import {
  type AnyScriptVars,
  all,
  first,
  MARK,
  parseReply,
  renderAhead,
  renderCall,
  renderScript,
  SCRIPTS,
  type ScriptName,
  SERVER_LIB,
  withoutAheadLine,
} from '../../src/remote.js'
import { LIB } from '../../src/remote-lib.js'
import { tempDir } from './helpers.js'

// A Record keyed by ScriptName: tsc fails here when a script is added and not listed.
const SCRIPT_NAMES: Record<ScriptName, true> = {
  prepare: true,
  publishAndSwitch: true,
  afterSwitch: true,
  stage: true,
  resetUpload: true,
  switchTo: true,
  inspect: true,
  releaseLock: true,
  prune: true,
  recover: true,
  doctor: true,
  keepPlan: true,
  verify: true,
}
const NAMES = Object.keys(SCRIPT_NAMES) as ScriptName[]

const root = tempDir('radunit-remote-')
const canary = path.join(root, 'canary')
const HOSTILE = `it's "odd" $(touch ${canary}) \`touch ${canary}\`; touch ${canary} \\ $HOME *`

/** Every variable any script reads, with values a shell would love to misread. */
function vars(over: Partial<AnyScriptVars> = {}): AnyScriptVars {
  return {
    T: `${root}/${HOSTILE}`,
    LINK: 'current',
    LEFT: 600,
    TOKEN: 'tok123',
    LOCK_WAIT: 4,
    LOCK_TTL: 720,
    LOCK_OWNER: JSON.stringify({ actor: HOSTILE, run: 'https://x/runs/1' }),
    ID: 'r1',
    INCOMING: 'r1.tok123',
    STAGED: '',
    SHARED: '',
    MANIFEST: '',
    DIGEST: '',
    FAST: 0,
    ROOT_MODE: '',
    LOGLINE: JSON.stringify({ release: 'r1', event: 'deploy', time: 't', actor: HOSTILE }),
    PRUNE: '',
    PREV: '',
    MEASURE: 0,
    KEEP_PATHS: './assets/*\n./*.js',
    KEEP_FROM: '',
    TAKE: 0,
    KEEP_LOCK: 0,
    SWITCH: 1,
    CHECK_DEPLOY: 0,
    TAKE_LOCK: 0,
    FORCE: 0,
    DISCARD: '',
    UNPUBLISH: '',
    BEFORE_SWITCH: '',
    AFTER_SWITCH: '',
    VERIFY_MAX: 1_000_000,
    VERIFY_MAX_ENTRIES: 100_000,
    ...over,
  }
}

/** Runs a rendered script the way the server does (`sh -s`, script on stdin). */
function runScript(name: ScriptName, v: AnyScriptVars) {
  const r = spawnSync('sh', ['-s'], { input: renderScript(name, v), encoding: 'utf8', cwd: root })
  return { code: r.status, reply: parseReply(r.stdout), stderr: r.stderr }
}

describe('renderScript', () => {
  it.each(NAMES)('%s passes a real sh -n syntax check, with hostile values', (name) => {
    const script = renderScript(name, vars())
    const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(spawnSync('bash', ['--posix', '-n'], { input: script }).status).toBe(0)
  })

  it.each(NAMES)('%s starts with the values in the wire form, one line each', (name) => {
    const v = vars()
    const script = renderScript(name, v)
    expect(script.startsWith(`${wireAssignments(v)}\n`)).toBe(true)
    // A value with a quote goes as printf octal escapes: no quote of its own reaches the line.
    expect(script).toContain(`T=$(printf '${root}/it\\047s "odd" $(touch ${canary})`)
  })

  it.each(NAMES)('%s is constant text: the values appear only in the assignments', (name) => {
    const a = renderScript(name, vars({ T: '/srv/aaa' }))
      .split('\n')
      .slice(Object.keys(vars()).length + 1)
    const b = renderScript(name, vars({ T: '/srv/bbb' }))
      .split('\n')
      .slice(Object.keys(vars()).length + 1)
    expect(a).toEqual(b)
    expect(a.join('\n')).not.toContain('/srv/aaa')
  })

  it('refuses a variable name that is not a plain shell name', () => {
    expect(() => renderScript('inspect', { 'T; touch x': '1' } as never)).toThrow(/bad shell variable name/)
  })

  it('sets every value byte for byte in a real sh', () => {
    const v = vars()
    const names = Object.keys(v)
    const script = `${wireAssignments(v)}\nprintf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}\n`
    const out = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8', cwd: root }).stdout
    expect(out.split('\0').slice(0, -1)).toEqual(names.map((n) => String(v[n as keyof AnyScriptVars])))
  })
})

describe('the wire text (renderScript, renderAhead, renderCall)', () => {
  const constant = (name: ScriptName) => [
    ...SERVER_LIB.split('\n'),
    'rad_main() {',
    ...SCRIPTS[name].split('\n'),
  ]

  it.each(NAMES)('%s goes without its comment lines, and with every other line in order', (name) => {
    const v = vars({ BEFORE_SWITCH: '# a value keeps its comment-like lines\necho x' })
    const script = renderScript(name, v)
    expect(script.startsWith(`${wireAssignments(v)}\n`)).toBe(true)
    const sent = script.slice(wireAssignments(v).length + 1).split('\n')
    expect(sent.filter((l) => /^\s*#/.test(l))).toEqual([])
    expect(sent.slice(0, -3)).toEqual(constant(name).filter((l) => !/^\s*#/.test(l)))
  })

  it('drops a comment line inside quotes only in an awk program (where it is a comment too)', () => {
    // Where each dropped line is: outside quotes, or in a single-quoted text that an awk takes.
    let sq = false
    let dq = false
    let opened = ''
    const inside: string[] = []
    for (const line of [SERVER_LIB, ...Object.values(SCRIPTS)].join('\n').split('\n')) {
      if (/^\s*#/.test(line)) {
        if (dq) inside.push(`(double quotes) ${line}`)
        if (sq && !/awk|AWK_[A-Z_]+='/.test(opened)) inside.push(`${opened} | ${line}`)
        if (sq || dq) continue
        continue
      }
      for (let i = 0; i < line.length; i++) {
        const c = line[i]
        if (c === '\\' && !sq) i++
        else if (c === "'" && !dq) {
          sq = !sq
          if (sq) opened = line
        } else if (c === '"' && !sq) dq = !dq
        else if (c === '#' && !sq && !dq && (i === 0 || /\s/.test(line[i - 1] ?? ''))) break
      }
    }
    expect([sq, dq]).toEqual([false, false])
    expect(inside).toEqual([])
  })

  it("a session opened ahead: only its own first line is taken out of the reply, the login shell's text stays", () => {
    expect(withoutAheadLine('@@rad ahead\n@@rad ok\n')).toBe('@@rad ok\n')
    expect(withoutAheadLine('Welcome\n@@rad ahead\n@@rad ok\n')).toBe('Welcome\n@@rad ok\n')
    // Not a line of its own (a banner without its newline ran into it): left, read as other text.
    expect(withoutAheadLine('Welcome@@rad ahead\n@@rad ok\n')).toBe('Welcome@@rad ahead\n@@rad ok\n')
    // Once: a second one is the script's (or the server's) own text.
    expect(withoutAheadLine('@@rad ahead\n@@rad ahead\n')).toBe('@@rad ahead\n')
    expect(parseReply(withoutAheadLine('@@rad ahead\n@@rad ok\n')).values.has('ahead')).toBe(false)
  })

  it('a session opened ahead runs nothing until its call, then runs what renderScript runs', () => {
    const base = `${tempDir('radunit-ahead-')}/${HOSTILE}`
    // The ahead part alone (the call never came): sh defines its functions, reads the end, exits.
    const alone = spawnSync('sh', ['-s'], { input: renderAhead('prepare'), encoding: 'utf8', cwd: root })
    expect([alone.status, alone.stdout, alone.stderr]).toEqual([0, '@@rad ahead\n', ''])
    const results = []
    for (const way of ['whole', 'ahead'] as const) {
      const v = vars({ T: `${base}-${way}` })
      const input =
        way === 'whole' ? renderScript('prepare', v) : `${renderAhead('prepare')}${renderCall<'prepare'>(v)}`
      const r = spawnSync('sh', ['-s'], { input, encoding: 'utf8', cwd: root })
      // Opened ahead, its first line says it runs (before its call), and is not part of the reply.
      if (way === 'ahead') expect(r.stdout.startsWith('@@rad ahead\n')).toBe(true)
      const reply = parseReply(way === 'ahead' ? withoutAheadLine(r.stdout) : r.stdout)
      expect(r.stderr).toBe('')
      results.push({
        code: r.status,
        ok: reply.ok,
        keys: [...reply.values.keys()],
        lock: readFileSync(`${base}-${way}/.deploy/lock/holder`, 'utf8').split(' ')[0],
        incoming: existsSync(`${base}-${way}/.deploy/incoming/r1.tok123`),
      })
    }
    expect(results[0]).toMatchObject({ code: 0, ok: true, lock: 'tok123', incoming: true })
    expect(results[1]).toEqual(results[0])
  })
})

describe('the scripts, run by a real sh against a local directory with a hostile name', () => {
  const T = `${root}/${HOSTILE}`

  it('inspect reports a missing target as no-target, naming it', () => {
    const { code, reply } = runScript('inspect', vars())
    expect(code).toBe(3)
    expect(reply.ok).toBe(false)
    expect(reply.error).toEqual({
      code: 'no-target',
      message: `${T} does not exist: nothing was deployed there yet`,
    })
  })

  it('prepare creates the layout, takes the lock and the incoming directory', () => {
    const { code, reply, stderr } = runScript('prepare', vars())
    expect(stderr).toBe('')
    expect(reply.error).toBeUndefined()
    expect(code).toBe(0)
    expect(reply.ok).toBe(true)
    expect(first(reply, 'live')).toBe('')
    expect(all(reply, 'release')).toEqual([])
    expect(Number(first(reply, 'free-kb'))).toBeGreaterThan(0)
    expect(existsSync(`${T}/releases`)).toBe(true)
    expect(existsSync(`${T}/.deploy/incoming/r1.tok123`)).toBe(true)
    expect(readFileSync(`${T}/.deploy/lock/holder`, 'utf8')).toMatch(
      /^tok123 \S+ \d+ \d+ m=[0-9a-f]*,b=[0-9a-f-]*,n=[a-z0-9]*\n$/,
    )
    expect(JSON.parse(readFileSync(`${T}/.deploy/lock/owner.json`, 'utf8'))).toEqual({
      actor: HOSTILE,
      run: 'https://x/runs/1',
    })
  })

  it('a second prepare with another token waits for the lock, then fails naming the holder', () => {
    const { code, reply } = runScript('prepare', vars({ TOKEN: 'other', LOCK_WAIT: 0, INCOMING: 'r1.other' }))
    expect(code).toBe(3)
    expect(reply.error?.code).toBe('locked')
    expect(reply.error?.message).toContain(`another deploy holds the lock on ${T}`)
  })

  it('publishAndSwitch publishes the upload and points the link at it by rename', () => {
    writeFileSync(`${T}/.deploy/incoming/r1.tok123/index.html`, 'v1\n')
    const { code, reply } = runScript('publishAndSwitch', vars())
    expect(reply.error).toBeUndefined()
    expect(code).toBe(0)
    expect(all(reply, 'switched')).toEqual(['r1'])
    expect(lstatSync(`${T}/current`).isSymbolicLink()).toBe(true)
    expect(readlinkSync(`${T}/current`)).toBe('releases/r1')
    expect(readFileSync(`${T}/current/index.html`, 'utf8')).toBe('v1\n')
    expect(readFileSync(`${T}/.deploy/log`, 'utf8')).toBe(`${vars().LOGLINE}\n`)
    expect(existsSync(`${T}/.deploy/lock`)).toBe(false)
    expect(readdirSync(`${T}/.deploy/incoming`)).toEqual([])
  })

  it('inspect then reads back the live release, the releases and the log', () => {
    mkdirSync(`${T}/releases/r0`)
    const { code, reply } = runScript('inspect', vars())
    expect(code).toBe(0)
    expect(first(reply, 'live')).toBe('r1')
    expect(all(reply, 'release').sort()).toEqual(['r0', 'r1'])
    // numbered as in the file (send_log), so a skipped line can be named
    expect(all(reply, 'log')).toEqual([`1 ${String(vars().LOGLINE)}`])
  })

  it('never ran any of the hostile text', () => {
    expect(existsSync(canary)).toBe(false)
    // (the canary path inside HOSTILE makes T a few directories deep)
    expect(readdirSync(root)).toEqual([HOSTILE.split('/')[0]])
  })
})

describe('giving up: fenced changes and recover', () => {
  const base = tempDir('radunit-giveup-')
  let n = 0
  /** A fresh target where prepare has taken the lock (token tok123) and made the upload dir. */
  function prepared(): { T: string; v: AnyScriptVars } {
    const T = `${base}/t${n++}`
    const v = vars({ T })
    expect(runScript('prepare', v).reply.ok).toBe(true)
    writeFileSync(`${T}/.deploy/incoming/r1.tok123/index.html`, 'r1\n')
    return { T, v }
  }

  it('says what becomes of the lock: taken, released, not-ours (the client tracks it from these lines)', () => {
    const T = `${base}/t${n++}`
    const v = vars({ T })
    expect(all(runScript('prepare', v).reply, 'lock')).toEqual(['taken'])
    expect(all(runScript('releaseLock', v).reply, 'lock')).toEqual(['released'])
    expect(existsSync(`${T}/.deploy/lock`)).toBe(false)
    expect(all(runScript('releaseLock', v).reply, 'lock')).toEqual(['not-ours'])
    // A refusal after the lock was taken gives it back, and says so before the error.
    mkdirSync(`${T}/releases/r1`)
    const refused = runScript('prepare', v)
    expect(refused.reply.error?.code).toBe('release-exists')
    expect(all(refused.reply, 'lock')).toEqual(['taken', 'released'])
    expect(existsSync(`${T}/.deploy/lock`)).toBe(false)
    // A refusal before the lock: no lock line at all.
    mkdirSync(`${T}/current`)
    const early = runScript('prepare', v)
    expect(early.reply.error?.code).toBe('link-not-symlink')
    expect(all(early.reply, 'lock')).toEqual([])
    expect(all(runScript('inspect', { ...v, TAKE_LOCK: 1 }).reply, 'lock')).toEqual(['taken'])
    expect(existsSync(`${T}/.deploy/lock/holder`)).toBe(true)
  })

  it("past the run's end (LEFT), even with the lock still ours, nothing is switched or logged", () => {
    const { T, v } = prepared()
    // The client is gone without a word (a partition): only the deadline can stop the switch.
    // The publish (at once) is within the time; the switch (after the 3 s hook) is not.
    const { reply } = runScript('publishAndSwitch', { ...v, LEFT: 2, BEFORE_SWITCH: 'sleep 3' })
    expect(reply.error?.code).toBe('gave-up')
    expect(existsSync(`${T}/current`)).toBe(false)
    expect(existsSync(`${T}/.deploy/log`)).toBe(false)
    // Published in time, and complete; moving it back would itself be a change past the end.
    expect(readFileSync(`${T}/releases/r1/index.html`, 'utf8')).toBe('r1\n')
  })

  it('a lock taken over while before-switch runs: nothing is switched, logged or pruned', () => {
    const { T, v } = prepared()
    const takeOver = `printf 'other h 0 9999999999\\n' > '${T}/.deploy/lock/holder'`
    const { reply } = runScript('publishAndSwitch', { ...v, BEFORE_SWITCH: takeOver })
    expect(reply.error?.code).toBe('lock-lost')
    expect(existsSync(`${T}/current`)).toBe(false)
    expect(existsSync(`${T}/.deploy/log`)).toBe(false)
    // The other run's lock stays.
    expect(readFileSync(`${T}/.deploy/lock/holder`, 'utf8')).toMatch(/^other /)
  })

  it('recover after a switch whose reply was lost: logs it once, reports it live, releases the lock', () => {
    const { T, v } = prepared()
    const sw = runScript('publishAndSwitch', { ...v, KEEP_LOCK: 1 })
    expect(all(sw.reply, 'switched')).toEqual(['r1'])
    // As if the script was killed between the switch and the log line.
    writeFileSync(`${T}/.deploy/log`, '')
    const r = runScript('recover', v)
    expect(r.reply.ok).toBe(true)
    expect(all(r.reply, 'switched')).toEqual(['r1'])
    expect(all(r.reply, 'logged')).toEqual([''])
    expect(first(r.reply, 'lock')).toBe('released')
    expect(first(r.reply, 'live')).toBe('r1')
    expect(readFileSync(`${T}/.deploy/log`, 'utf8')).toBe(`${v.LOGLINE}\n`)
    expect(existsSync(`${T}/.deploy/lock`)).toBe(false)
    // Once the lock is not ours, recover changes nothing and says so.
    const again = runScript('recover', v)
    expect(first(again.reply, 'lock')).toMatch(/^not-ours/)
    expect(readFileSync(`${T}/.deploy/log`, 'utf8')).toBe(`${v.LOGLINE}\n`)
  })

  it('recover after a publish that never went live: the release goes back to incoming', () => {
    const { T, v } = prepared()
    expect(runScript('publishAndSwitch', { ...v, SWITCH: 0, KEEP_LOCK: 1 }).reply.ok).toBe(true)
    expect(existsSync(`${T}/releases/r1`)).toBe(true)
    const r = runScript('recover', { ...v, KEEP_LOCK: 1 })
    expect(all(r.reply, 'unpublished')).toEqual(['r1'])
    expect(first(r.reply, 'lock')).toBe('released')
    expect(existsSync(`${T}/releases/r1`)).toBe(false)
    expect(readFileSync(`${T}/.deploy/incoming/r1.tok123/index.html`, 'utf8')).toBe('r1\n')
  })
})

describe('parseReply', () => {
  const out = [
    'Welcome to example.com!', // a chatty login script
    `${MARK} live r2`,
    `${MARK} release r1`,
    `${MARK} release r2`,
    `${MARK} release `,
    `${MARK}-warning taking over a stale deploy lock: {"actor":"x"}`,
    `${MARK} log {"release":"r2","event":"deploy","time":"t"}`,
    `${MARK} free-kb 123456`,
    `${MARK} novalue`,
    '@@radical not ours',
    '@@rad',
    '  @@rad indented is not ours',
    '',
    `${MARK}-warning second warning`,
    `${MARK} ok`,
    '',
  ].join('\n')
  const reply = parseReply(out)

  it('collects values by key, in order, repeated keys kept', () => {
    expect([...reply.values.keys()]).toEqual(['live', 'release', 'log', 'free-kb', 'novalue', 'ok'])
    expect(reply.values.get('release')).toEqual(['r1', 'r2', ''])
    expect(reply.values.get('log')).toEqual(['{"release":"r2","event":"deploy","time":"t"}'])
    expect(reply.values.get('novalue')).toEqual([''])
  })

  it('collects warnings and everything else, and sees ok', () => {
    expect(reply.warnings).toEqual(['taking over a stale deploy lock: {"actor":"x"}', 'second warning'])
    expect(reply.other).toEqual([
      'Welcome to example.com!',
      '@@radical not ours',
      '@@rad',
      '  @@rad indented is not ours',
    ])
    expect(reply.ok).toBe(true)
    expect(reply.error).toBeUndefined()
  })

  it('first and all', () => {
    expect(first(reply, 'live')).toBe('r2')
    expect(first(reply, 'release')).toBe('r1')
    expect(first(reply, 'missing')).toBe('')
    expect(all(reply, 'release')).toEqual(['r1', 'r2', ''])
    expect(all(reply, 'missing')).toEqual([])
    expect(first(reply, 'free-kb')).toBe('123456')
  })

  it.each<[string, { code: string; message: string }]>([
    [
      '@@rad-error locked another deploy holds the lock on /srv for 200s',
      { code: 'locked', message: 'another deploy holds the lock on /srv for 200s' },
    ],
    ['@@rad-error no-target', { code: 'no-target', message: '' }],
    ['@@rad-error code  two spaces', { code: 'code', message: ' two spaces' }],
  ])('reads the error %j', (line, error) => {
    const r = parseReply(`${MARK} live r1\n${line}\n`)
    expect(r.error).toEqual(error)
    expect(r.ok).toBe(false)
    expect(first(r, 'live')).toBe('r1')
  })

  it('is not ok without an ok line, and empty for empty output', () => {
    const r = parseReply('')
    expect(r).toEqual({ values: new Map(), warnings: [], error: undefined, other: [], ok: false })
    expect(parseReply(`${MARK} live r1\n`).ok).toBe(false)
  })
})

/** The lock as our run holds it: the scripts' fences pass (the tests leave out lock_check). */
function holdLock(T: string): void {
  mkdirSync(`${T}/.deploy/lock`, { recursive: true })
  writeFileSync(`${T}/.deploy/lock/holder`, `${vars().TOKEN} h 0 9999999999\n`)
}

describe('count_linked: files-linked measured by the server, on GNU and busybox userlands', () => {
  const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim()
  // busybox find has no -printf: with its applets first in PATH the stat fallback runs.
  const bbDir = tempDir('radunit-bb-')
  if (busybox) for (const c of ['find', 'stat', 'awk']) symlinkSync(busybox, path.join(bbDir, c))
  const cases: [string, string, string][] = [
    ['dash, GNU find', 'dash', ''],
    ['bash, GNU find', 'bash', ''],
    ...(busybox ? ([['busybox sh and applets', `${busybox}`, bbDir]] as [string, string, string][]) : []),
  ]
  it.each(cases)('%s: counts the files that share an inode with the live release', (_n, shell, pathFirst) => {
    const T = tempDir('radunit-count-')
    mkdirSync(`${T}/releases/r0/sub`, { recursive: true })
    mkdirSync(`${T}/.deploy/incoming/r1.tok/sub`, { recursive: true })
    for (const f of ['a', 'sub/b', 'c']) writeFileSync(`${T}/releases/r0/${f}`, `${f}\n`)
    linkSync(`${T}/releases/r0/a`, `${T}/.deploy/incoming/r1.tok/a`)
    linkSync(`${T}/releases/r0/sub/b`, `${T}/.deploy/incoming/r1.tok/sub/b`)
    writeFileSync(`${T}/.deploy/incoming/r1.tok/c`, 'c\n') // same content, not a link
    symlinkSync('a', `${T}/.deploy/incoming/r1.tok/l`)
    holdLock(T)
    const args = shell.endsWith('busybox') ? ['sh', '-s'] : ['-s']
    const r = spawnSync(shell, args, {
      input: renderScript(
        'publishAndSwitch',
        vars({ T, INCOMING: 'r1.tok', PREV: 'r0', SWITCH: 0, KEEP_LOCK: 1 }),
      ).replace('lock_check\n', ''),
      encoding: 'utf8',
      env: { ...process.env, PATH: pathFirst ? `${pathFirst}:${process.env.PATH}` : process.env.PATH },
    })
    const reply = parseReply(r.stdout)
    expect(reply.error).toBeUndefined()
    expect(first(reply, 'linked')).toBe('2')
  })

  it('counts 0 when nothing was live', () => {
    const T = tempDir('radunit-count0-')
    mkdirSync(`${T}/.deploy/incoming/r1.tok`, { recursive: true })
    mkdirSync(`${T}/releases`)
    writeFileSync(`${T}/.deploy/incoming/r1.tok/a`, 'a\n')
    holdLock(T)
    const script = renderScript('publishAndSwitch', vars({ T, INCOMING: 'r1.tok', SWITCH: 0, KEEP_LOCK: 1 }))
    const r = spawnSync('sh', ['-s'], { input: script.replace('lock_check\n', ''), encoding: 'utf8' })
    expect(first(parseReply(r.stdout), 'linked')).toBe('0')
  })
})

describe('keep_assets: old assets hard-linked by the server, on dash, bash and busybox userlands', () => {
  const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim()
  const bbDir = tempDir('radunit-bbkeep-')
  if (busybox) {
    for (const c of ['find', 'awk', 'sed', 'ln', 'mkdir', 'rm', 'cat', 'date'])
      symlinkSync(busybox, path.join(bbDir, c))
  }
  const cases: [string, string, string][] = [
    ['dash, GNU userland', 'dash', ''],
    ['bash, GNU userland', 'bash', ''],
    ...(busybox ? ([['busybox sh and applets', busybox, bbDir]] as [string, string, string][]) : []),
  ]
  it.each(cases)(
    '%s: links what the new release lacks from its own sources, under a hostile target path',
    (_n, shell, pathFirst) => {
      const T = path.join(tempDir('radunit-keep-'), HOSTILE)
      const up = `${T}/.deploy/incoming/r3.tok`
      const file = (p: string, text = `${p}\n`) => {
        mkdirSync(path.dirname(p), { recursive: true })
        writeFileSync(p, text)
      }
      // r2 (live) built app.r2.js and kept app.r1.js; r1 built app.r1.js and a chunk with a space.
      file(`${T}/releases/r2/assets/app.r2.js`)
      file(`${T}/releases/r2/assets/app.r1.js`)
      file(`${T}/releases/r2/assets/both.css`, 'r2\n')
      file(`${T}/releases/r1/assets/app.r1.js`)
      file(`${T}/releases/r1/assets/deep dir/chunk $x*.js`)
      file(`${T}/releases/r1/other.txt`)
      file(`${T}/.deploy/kept/r2`, './assets/app.r1.js\n')
      symlinkSync('/etc/passwd', `${T}/releases/r1/assets/evil.js`)
      // The new build: both.css of its own, and a symlink where r2 has nothing.
      file(`${up}/assets/both.css`, 'r3\n')
      file(`${up}/index.html`)
      holdLock(T)
      const r = spawnSync(shell, shell.endsWith('busybox') ? ['sh', '-s'] : ['-s'], {
        input: renderScript(
          'publishAndSwitch',
          vars({
            T,
            ID: 'r3',
            INCOMING: 'r3.tok',
            PREV: 'r2',
            SWITCH: 0,
            KEEP_LOCK: 1,
            KEEP_PATHS: './assets/*',
            KEEP_FROM: 'r2 r1',
          }),
        ).replace('lock_check\n', ''),
        encoding: 'utf8',
        env: { ...process.env, PATH: pathFirst ? `${pathFirst}:${process.env.PATH}` : process.env.PATH },
      })
      const reply = parseReply(r.stdout)
      expect(reply.error, r.stderr).toBeUndefined()
      // app.r2.js (r2's own), app.r1.js from r1 (r2 only kept it), the chunk; not both.css, evil.js, other.txt.
      expect(first(reply, 'kept')).toBe('3')
      const ino = (p: string) => lstatSync(p).ino
      const r3 = `${T}/releases/r3`
      expect(ino(`${r3}/assets/app.r2.js`)).toBe(ino(`${T}/releases/r2/assets/app.r2.js`))
      expect(ino(`${r3}/assets/app.r1.js`)).toBe(ino(`${T}/releases/r1/assets/app.r1.js`))
      expect(ino(`${r3}/assets/deep dir/chunk $x*.js`)).toBe(
        ino(`${T}/releases/r1/assets/deep dir/chunk $x*.js`),
      )
      expect(readFileSync(`${r3}/assets/both.css`, 'utf8')).toBe('r3\n')
      expect(existsSync(`${r3}/other.txt`) || existsSync(`${r3}/assets/evil.js`)).toBe(false)
      expect(readFileSync(`${T}/.deploy/kept/r3`, 'utf8').split('\n').sort()).toEqual(
        ['', './assets/app.r1.js', './assets/app.r2.js', './assets/deep dir/chunk $x*.js'].sort(),
      )
      expect(existsSync(canary)).toBe(false)
    },
  )

  it('recover counts what our live release kept, from its record and what is there', () => {
    const T = tempDir('radunit-keeprec-')
    mkdirSync(`${T}/releases/r2/assets`, { recursive: true })
    writeFileSync(`${T}/releases/r2/assets/a.js`, 'a\n')
    symlinkSync('releases/r2', `${T}/current`)
    mkdirSync(`${T}/.deploy/kept`, { recursive: true })
    // b.js was recorded, but its link failed: it is not counted.
    writeFileSync(`${T}/.deploy/kept/r2`, './assets/a.js\n./assets/b.js\n')
    holdLock(T)
    const r = runScript('recover', vars({ T, ID: 'r2', INCOMING: 'r2.tok', LOGLINE: '' }))
    expect(r.reply.error, r.stderr).toBeUndefined()
    expect(all(r.reply, 'kept')).toEqual(['1'])
  })

  it('links nothing once the lock is no longer ours (the fence)', () => {
    const T = tempDir('radunit-keepfence-')
    mkdirSync(`${T}/releases/r1/assets`, { recursive: true })
    writeFileSync(`${T}/releases/r1/assets/a.js`, 'a\n')
    mkdirSync(`${T}/releases/r2`, { recursive: true })
    mkdirSync(`${T}/.deploy/lock`, { recursive: true })
    writeFileSync(`${T}/.deploy/lock/holder`, 'someone-else h 0 9999999999\n')
    // keep_assets alone, as publish-and-switch calls it, with the lock taken over.
    const script = `${wireAssignments(vars({ T, ID: 'r2', KEEP_PATHS: './assets/*', KEEP_FROM: 'r1' }))}\n${LIB}\nkeep_assets "$T/releases/r2"\n`
    const r = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8' })
    expect(parseReply(r.stdout).error?.code).toBe('lock-lost')
    expect(readdirSync(`${T}/releases/r2`)).toEqual([])
  })
})
