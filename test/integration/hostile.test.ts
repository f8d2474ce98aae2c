/**
 * Hostile input through the whole bundle, against a real sshd: every input given bad and
 * malicious values (shell metacharacters, command substitution, quotes, newlines, a leading "-",
 * "..", overlong values, odd IPv6 forms, ids with "/"): each is refused before any connection with
 * an ::error:: naming the input, and nothing runs — a canary file is never created, here or on the
 * server. Odd but legal values (spaces and quotes in paths, exclude patterns with quotes, a
 * passphrase full of shell syntax) are used literally. Hostile file names in the build arrive byte
 * for byte. The key never shows up in any output, log or file on the server.
 *
 * (Which exact values each parser accepts is unit-tested in test/unit/inputs.test.ts; hooks that run
 * as written are in hooks.test.ts. This is about the bundle and the server end to end.)
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { expectOk, printed } from '../support/expect.js'
import {
  type ActionRun,
  baseInputs,
  errorText,
  isSymlink,
  linkTarget,
  listDir,
  makeKey,
  makeTargetRoot,
  readTree,
  runAction,
  TEST_USER,
  writeSite,
} from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, removeAfter, sourceDir } = useSshd()
/** Every run of the bundle in this file: none may show the key. */
const runs: ActionRun[] = []
/** Deploy roots used here: no file in them may hold the key. */
const targets: string[] = []

// Absolute canary (world-writable dir, so the deploy user could create it if anything ran) and a
// relative one (created in whatever directory a command would run in: ours, the workspace, the
// deploy user's home, a release).
const canaryDir = mkdtempSync('/tmp/radcanary-')
removeAfter(canaryDir)
chmodSync(canaryDir, 0o777)
const CANARY = path.join(canaryDir, 'pwned')
const REL = 'radpwned'
const SUB = `$(touch ${CANARY})`
const TICK = `\`touch ${CANARY}\``

/** A fresh target whose root is also searched for canaries and the key. */
function newTarget(name = 'site'): string {
  const root = makeTargetRoot(sshd)
  removeAfter(root)
  targets.push(root)
  return `${root}/${name}`
}

function site(version: string, extra: Record<string, string> = {}): string {
  return sourceDir({ 'index.html': `<h1>${version}</h1>\n`, 'css/app.css': 'body{}\n', ...extra })
}

async function act(
  inputs: Record<string, string>,
  opts: Parameters<typeof runAction>[1] = {},
): Promise<ActionRun> {
  const run = await runAction(inputs, opts)
  runs.push(run)
  return run
}

/** Paths of any canary: the absolute one, or a relative one in the places a command could run. */
function canariesFound(extra: string[] = []): string[] {
  const found: string[] = []
  if (existsSync(CANARY)) found.push(CANARY)
  const dirs = [process.cwd(), `/home/${TEST_USER}`, '/tmp', ...extra]
  for (const d of dirs) if (existsSync(path.join(d, REL))) found.push(path.join(d, REL))
  for (const root of targets) {
    try {
      const hits = execFileSync('find', [root, '-name', REL], { encoding: 'utf8' }).trim()
      if (hits) found.push(...hits.split('\n'))
    } catch {}
  }
  return found
}

/** The base64 body lines of the deploy key. */
function keyLines(): string[] {
  return sshd.client.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))
}

interface Refused {
  input: string
  value: string
  /** Inputs to set along with it (e.g. the command it applies to). */
  with?: Record<string, string>
}

const long = (n: number, c = 'a') => c.repeat(n)
/** Stands for the deploy key's text (known once sshd runs): pasted into an input it does not belong in. */
const THE_KEY = '\u0000the deploy key'

/** Bad and malicious values for every input: each must be refused before anything connects. */
const REFUSED: Refused[] = [
  // host (and user, port inside it), IPv4, names and IPv6 forms
  { input: 'host', value: `127.0.0.1;touch ${CANARY}` },
  { input: 'host', value: SUB },
  { input: 'host', value: TICK },
  { input: 'host', value: `"127.0.0.1"` },
  { input: 'host', value: `'127.0.0.1'` },
  { input: 'host', value: `127.0.0.1\n${SUB}` },
  { input: 'host', value: `-oProxyCommand=touch ${CANARY}` },
  { input: 'host', value: `${TEST_USER}@-oProxyCommand=sh` },
  { input: 'host', value: `${TEST_USER}${SUB}@127.0.0.1` },
  { input: 'host', value: `-l${TEST_USER}@127.0.0.1` },
  { input: 'host', value: '127.0.0.1:22;touch x' },
  { input: 'host', value: '127.0.0.1:-22' },
  { input: 'host', value: '127.0.0.1:99999' },
  { input: 'host', value: '..' },
  { input: 'host', value: '../../etc/passwd' },
  { input: 'host', value: `${long(250)}.${long(10)}` },
  { input: 'host', value: '::1' },
  { input: 'host', value: '[::1' },
  { input: 'host', value: '[::1]x' },
  { input: 'host', value: '[::1]:0' },
  { input: 'host', value: `[::1%${SUB}]` },
  { input: 'host', value: '[::1 -oProxyCommand=sh]:22' },
  { input: 'host', value: '[127.0.0.1]' },
  { input: 'host', value: `[${SUB}]:22` },
  { input: 'user', value: `${TEST_USER};touch ${CANARY}` },
  { input: 'user', value: '-oProxyCommand=sh' },
  { input: 'user', value: SUB },
  { input: 'user', value: 'rad test' },
  { input: 'user', value: long(65) },
  { input: 'port', value: '22;touch x' },
  { input: 'port', value: SUB },
  { input: 'port', value: '0' },
  { input: 'port', value: '65536' },
  { input: 'port', value: '-1' },
  { input: 'port', value: '22 -oProxyCommand=sh' },
  { input: 'jump-host', value: SUB },
  { input: 'jump-host', value: '-oProxyCommand=sh' },
  { input: 'jump-host', value: '[::1' },
  { input: 'jump-host', value: `127.0.0.1\n${SUB}` },
  // key and trust
  { input: 'key', value: SUB },
  { input: 'key', value: `-----BEGIN OPENSSH PRIVATE KEY-----\n${SUB}\n` },
  { input: 'key-passphrase', value: `pass\n${SUB}` },
  { input: 'known-hosts', value: SUB },
  { input: 'known-hosts', value: `127.0.0.1 ssh-ed25519 ${SUB}` },
  { input: 'known-hosts', value: `@cert-authority\n${SUB}` },
  { input: 'known-hosts', value: `@revoked${SUB} * ssh-ed25519 AAAA` },
  { input: 'accept-unknown-host-key', value: `true;touch ${CANARY}` },
  { input: 'accept-unknown-host-key', value: SUB },
  // paths and names
  { input: 'source', value: SUB },
  { input: 'source', value: `dist\n${SUB}` },
  { input: 'target', value: 'srv/www' },
  { input: 'target', value: '/srv/www/../../etc' },
  { input: 'target', value: '/srv/./www' },
  { input: 'target', value: '/srv//www' },
  { input: 'target', value: '/srv/www/' },
  { input: 'target', value: '/' },
  { input: 'target', value: `/srv/www\n${SUB}` },
  { input: 'target', value: '/srv/www\u001b[2J' },
  { input: 'target', value: `/${long(1100)}` },
  { input: 'target', value: `-rf /${SUB}` },
  { input: 'link-name', value: '../current' },
  { input: 'link-name', value: 'cur/rent' },
  { input: 'link-name', value: SUB },
  { input: 'link-name', value: TICK },
  { input: 'link-name', value: '-current' },
  { input: 'link-name', value: '.current' },
  { input: 'link-name', value: "cur'rent" },
  { input: 'link-name', value: 'cur rent' },
  { input: 'link-name', value: 'releases' },
  { input: 'link-name', value: '.deploy' },
  { input: 'link-name', value: long(101) },
  { input: 'release-id', value: 'r1/../../x' },
  { input: 'release-id', value: 'a/b' },
  { input: 'release-id', value: '..' },
  { input: 'release-id', value: '.hidden' },
  { input: 'release-id', value: '-rf' },
  { input: 'release-id', value: `r1${SUB}` },
  { input: 'release-id', value: `r1${TICK}` },
  { input: 'release-id', value: 'r1;touch x' },
  { input: 'release-id', value: "r1'" },
  { input: 'release-id', value: 'r1"' },
  { input: 'release-id', value: 'r1 r2' },
  { input: 'release-id', value: `r1\n${SUB}` },
  { input: 'release-id', value: long(101) },
  { input: 'rollback-to', value: '../r1', with: { command: 'rollback' } },
  { input: 'rollback-to', value: `r1${SUB}`, with: { command: 'rollback' } },
  { input: 'rollback-to', value: 'releases/r1', with: { command: 'rollback' } },
  { input: 'command', value: `deploy;touch ${CANARY}` },
  { input: 'command', value: SUB },
  { input: 'command', value: 'deploy\nrollback' },
  { input: 'shared', value: '../outside' },
  { input: 'shared', value: '/etc' },
  { input: 'shared', value: 'a/../../b' },
  { input: 'shared', value: `data\u0007${SUB}` },
  { input: 'shared', value: 'storage\nstorage/logs' },
  // rsync options
  { input: 'exclude', value: `*.log\u0009${SUB}` },
  { input: 'filter', value: SUB },
  { input: 'filter', value: '-*.log' },
  { input: 'filter', value: `- x\n+\u0009${SUB}` },
  { input: 'chmod', value: `u+rwX;touch ${CANARY}` },
  { input: 'chmod', value: SUB },
  { input: 'chmod', value: '755 -R' },
  // hooks are scripts by design; only their size and NUL are limited
  { input: 'before-switch', value: `${long(70_000, '#')}\ntouch ${CANARY}` },
  { input: 'after-switch', value: `${long(70_000, '#')}\ntouch ${CANARY}` },
  // the rest
  { input: 'healthcheck-url', value: 'file:///etc/passwd' },
  { input: 'healthcheck-url', value: 'javascript:alert(1)' },
  { input: 'healthcheck-url', value: SUB },
  { input: 'healthcheck-url', value: 'http://127.0.0.1/\n::error::injected' },
  { input: 'keep-releases', value: `5;touch ${CANARY}` },
  { input: 'keep-releases', value: '-1' },
  { input: 'keep-releases', value: '1e3' },
  { input: 'rollback-on-failure', value: `yes;touch ${CANARY}` },
  { input: 'keep-assets', value: '../r1/assets/**' },
  { input: 'keep-assets', value: '/etc/**' },
  { input: 'keep-assets', value: `assets/${SUB}` },
  { input: 'keep-assets', value: `assets/*;touch ${CANARY}` },
  { input: 'keep-assets-releases', value: '0' },
  { input: 'keep-assets-releases', value: `2${SUB}` },
  { input: 'expected-digest', value: `sha256:${SUB}`, with: { command: 'verify' } },
  { input: 'expected-digest', value: 'md5:0123456789abcdef', with: { command: 'verify' } },
  {
    input: 'expected-digest',
    value: `sha256:${'a'.repeat(64)}\n::error::injected`,
    with: { command: 'verify' },
  },
  { input: 'dry-run', value: `true && touch ${CANARY}` },
  { input: 'allow-empty', value: `true;touch ${CANARY}` },
  { input: 'max-parallel', value: SUB },
  { input: 'max-parallel', value: '0' },
  { input: 'timeout', value: `600${SUB}` },
  { input: 'timeout', value: '5' },
  { input: 'timeout', value: '-1' },
  // the private key pasted into the wrong input: refused, and never repeated
  ...[
    'host',
    'user',
    'port',
    'known-hosts',
    'jump-host',
    'source',
    'target',
    'link-name',
    'release-id',
    'command',
    'chmod',
    'shared',
    'exclude',
    'filter',
    'timeout',
  ].map((input) => ({ input, value: THE_KEY })),
]

describe('every input, given bad and malicious values: refused before any connection, naming the input', () => {
  let target = ''
  let src = ''
  beforeAll(() => {
    target = newTarget()
    src = site('v1')
  })

  it('covers every input of action.yml', () => {
    const yml = readFileSync(path.resolve(import.meta.dirname, '../../action.yml'), 'utf8')
    const declared = [...(yml.split(/^outputs:/m)[0] ?? '').matchAll(/^ {2}([a-z-]+):\s*$/gm)].map(
      (m) => m[1],
    )
    const covered = new Set(REFUSED.map((r) => r.input))
    // The key-passphrase is free text (any byte but a newline); see the legal values below.
    expect(declared.filter((d) => !covered.has(d as string))).toEqual([])
  })

  // All at once (a few at a time): each is refused before connecting, so no run sees another's.
  it.concurrent.for(
    REFUSED.map((r) => ({
      ...r,
      shown: r.value === THE_KEY ? 'the private key' : JSON.stringify(r.value).slice(0, 70),
    })),
  )('$input = $shown', async ({ input, value, with: also }, { expect }) => {
    const c0 = sshd.connections()
    // A run refused at its inputs leaves the post step nothing to do (no state): it is run for the
    // rows with the key only, where its output is checked too.
    const run = await act(
      {
        ...baseInputs(sshd, target, src),
        'release-id': 'r1',
        ...(also ?? {}),
        [input]: value === THE_KEY ? sshd.client.privateKey : value,
      },
      { post: value === THE_KEY },
    )
    const err = errorText(run)
    expect(run.code, run.stdout).not.toBe(0)
    expect(err).toContain(`Input '${input}'`)
    expect(err.split('\n')[0]).toContain(`Input '${input}'`)
    // A value can never start a workflow command of its own.
    expect(
      run.stdout.split('\n').filter((l) => l.startsWith('::') && !/^::(add-mask|error)::/.test(l)),
    ).toEqual([])
    if (run.post) expect(run.post.code).toBe(0)
    expect(sshd.connections()).toBe(c0)
    expect(canariesFound([path.dirname(src)])).toEqual([])
    for (const l of keyLines()) expect(printed(run)).not.toContain(l)
  })

  it('nothing was deployed by any of them', () => {
    expect(existsSync(target)).toBe(false)
  })
})

describe('odd but legal values are used literally', () => {
  it('a target with spaces, quotes, $(…), backticks, a "-" segment, ~, *, \\ and unicode: deploy, list, rollback, prune, unlock', async () => {
    const root = makeTargetRoot(sshd)
    removeAfter(root)
    targets.push(root)
    const target = `${root}/-rf it's "q" ${SUB} ${TICK} ;touch ${REL}; ~ * ? \\ ü ☃ end`
    const v1 = site('v1')
    const v2 = site('v2')
    const inputs = (src: string, extra: Record<string, string>) => ({
      ...baseInputs(sshd, target, src),
      ...extra,
    })
    expectOk(await act(inputs(v1, { 'release-id': 'r1' })))
    expectOk(await act(inputs(v2, { 'release-id': 'r2' })))
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(readTree(`${target}/current`)).toEqual(readTree(v2))
    const list = await act(inputs('', { command: 'list' }))
    expectOk(list)
    expect(JSON.parse(list.outputs.releases ?? '[]').map((r: { id: string }) => r.id)).toEqual(['r2', 'r1'])
    const back = await act(inputs('', { command: 'rollback' }))
    expectOk(back)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readTree(`${target}/current`)).toEqual(readTree(v1))
    expectOk(await act(inputs('', { command: 'prune', 'keep-releases': '1' })))
    expectOk(await act(inputs('', { command: 'unlock' })))
    expect(listDir(`${target}/releases`)).toEqual(['r1', 'r2'])
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(canariesFound()).toEqual([])
  })

  it('link-name and release ids at the edge of what is legal; rollback-to a 100-character id', async () => {
    const target = newTarget()
    const longId = `A${long(99, 'z')}`
    const ids = ['1.0.0-rc.1_build-7', longId, '0-._']
    for (const id of ids) {
      expectOk(
        await act({ ...baseInputs(sshd, target, site(id)), 'link-name': '_live.2-x', 'release-id': id }),
      )
    }
    expect(linkTarget(`${target}/_live.2-x`)).toBe('releases/0-._')
    expect(existsSync(`${target}/current`)).toBe(false)
    const back = await act({
      ...baseInputs(sshd, target, ''),
      'link-name': '_live.2-x',
      command: 'rollback',
      'rollback-to': longId,
    })
    expectOk(back)
    expect(linkTarget(`${target}/_live.2-x`)).toBe(`releases/${longId}`)
    expect(readFileSync(`${target}/_live.2-x/index.html`, 'utf8')).toBe(`<h1>${longId}</h1>\n`)
    expect(listDir(`${target}/releases`)).toEqual([...ids].sort())
  })

  it('exclude patterns and filter rules with quotes, spaces and $(…) match file names literally', async () => {
    const target = newTarget()
    const src = site('v1', {
      '"quoted name".txt': 'q\n',
      "it's.txt": 's\n',
      [`$(touch ${REL}).log`]: 'sub\n',
      'a b.secret': 'secret\n',
      'x;y.txt': 'semi\n',
      'keep.txt': 'keep\n',
      [`\`touch ${REL}\`.txt`]: 'tick\n',
    })
    const run = await act({
      ...baseInputs(sshd, target, src),
      'release-id': 'r1',
      exclude: `"quoted name".txt\nit's.txt\n$(touch ${REL}).log\n*.secret`,
      filter: `- x;y.txt\n- \`touch ${REL}\`.txt`,
    })
    expectOk(run)
    expect(Object.keys(readTree(`${target}/current`))).toEqual(['css/app.css', 'index.html', 'keep.txt'])
    expect(canariesFound()).toEqual([])
  })

  it('a source directory named with "-", quotes, $(…), ":" and unicode, relative to the workspace', async () => {
    const target = newTarget()
    const workspace = tmp('radsrc-')
    const name = `-rf build $(touch ${REL}) 'q' "dq" ü:v2`
    const src = path.join(workspace, name)
    mkdirSync(src)
    writeSite(src, { 'index.html': '<h1>odd source</h1>\n', '-e.txt': 'dash\n' })
    expectOk(await act({ ...baseInputs(sshd, target, name), 'release-id': 'r1' }, { workspace }))
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(canariesFound([workspace])).toEqual([])
  })

  it('shared paths named with "-", quotes, spaces and unicode live in shared/ and are linked into each release', async () => {
    const target = newTarget()
    const shared = `-rf uploads/it's "x" ü $(touch ${REL})`
    const first = site('v1', { [`${shared}/seed.txt`]: 'seed\n' })
    expectOk(await act({ ...baseInputs(sshd, target, first), 'release-id': 'r1', shared }))
    expectOk(await act({ ...baseInputs(sshd, target, site('v2')), 'release-id': 'r2', shared }))
    expect(readFileSync(`${target}/shared/${shared}/seed.txt`, 'utf8')).toBe('seed\n')
    expect(isSymlink(`${target}/releases/r2/${shared}`)).toBe(true)
    expect(readFileSync(`${target}/current/${shared}/seed.txt`, 'utf8')).toBe('seed\n')
    expect(canariesFound()).toEqual([])
  })

  it('a key passphrase full of shell syntax is only ever a passphrase', async () => {
    const dir = tmp('radkey-')
    const passphrase = `p${SUB}${TICK}'";|&<>\\ !#*$HOME`
    const key = makeKey(dir, 'hostile', passphrase)
    writeFileSync(
      path.join(sshd.dir, 'authorized_keys'),
      `${sshd.client.publicKey.trim()}\n${key.publicKey.trim()}\n`,
    )
    const target = newTarget()
    const run = await act({
      ...baseInputs(sshd, target, site('v1')),
      key: key.privateKey,
      'key-passphrase': passphrase,
      'release-id': 'r1',
    })
    expectOk(run)
    expect(run.stdout.split('\n')).toContain(`::add-mask::${passphrase}`)
    expect(printed(run)).not.toContain(passphrase)
    for (const l of key.privateKey.split('\n').filter((x) => x.length > 20 && !x.startsWith('-----'))) {
      expect(printed(run)).not.toContain(l)
    }
    expect(canariesFound()).toEqual([])
  })
})

describe('hostile file names in the build', () => {
  it('arrive byte for byte, and nothing runs; a dry run lists them without starting a workflow command', async () => {
    const target = newTarget()
    const src = tmp('radsrc-')
    const names = [
      `it's "quoted" $(touch ${REL}) \`touch ${REL}\`.txt`,
      'new\nline.txt',
      'tab\there.txt',
      '-rf',
      '--delete',
      `-e sh -c 'touch ${REL}'`,
      'EOF',
      "'EOF'",
      'back\\slash\\n.txt',
      'ünïcödé ☃ 日本語.txt',
      'evil\u202etxt.exe',
      ' leading space',
      'trailing space ',
      '*',
      '?',
      '[a-z]',
      '~',
      ';',
      '|',
      '&',
      '>out',
      '<in',
      '#hash',
      '%s%n%x',
      '.hidden',
      '::error::pwned',
      '::add-mask::x',
      '@@rad-error locked pwned',
    ]
    const files: Record<string, string> = { 'index.html': '<h1>hostile</h1>\n' }
    for (const [i, n] of names.entries()) files[n] = `file ${i}: ${n}\n$(touch ${REL})\n`
    files[`$(touch ${REL})/EOF`] = 'in a dir named $(…)\n'
    files[`-rf dir/${TICK.replace(/\//g, '_')}`] = 'nested\n'
    writeSite(src, files)
    symlinkSync(`../../../../$(touch ${REL})`, path.join(src, `link $(touch ${REL})`))

    expectOk(await act({ ...baseInputs(sshd, target, src), 'release-id': 'r1' }))
    expect(readTree(`${target}/current`)).toEqual(readTree(src))
    expect(readdirSync(`${target}/current`).sort()).toEqual(readdirSync(src).sort())
    // A second release: every file unchanged, so every one is a hard link to the first.
    const again = await act({ ...baseInputs(sshd, target, src), 'release-id': 'r2' })
    expectOk(again)
    expect(Number(again.outputs['files-linked'])).toBe(names.length + 3)
    expect(readTree(`${target}/releases/r2`)).toEqual(readTree(src))

    writeFileSync(path.join(src, 'EOF'), 'changed\n')
    writeFileSync(path.join(src, '::error::pwned'), 'changed\n')
    const dry = await act({ ...baseInputs(sshd, target, src), 'release-id': 'r3', 'dry-run': 'true' })
    expectOk(dry)
    expect(dry.stdout).toContain('::error::pwned')
    const commands = dry.stdout.split('\n').filter((l) => l.startsWith('::'))
    const keyMasks = new Set(keyLines().map((l) => `::add-mask::${l}`))
    for (const c of commands) {
      expect(/^::(group|endgroup|debug)::/.test(c) || keyMasks.has(c), c).toBe(true)
    }
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
    expect(canariesFound()).toEqual([])
  })
})

/** Every regular file under dir. */
function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

describe('the key', () => {
  it('never appears in any output, the sshd log, or any file on the server', () => {
    expect(runs.length).toBeGreaterThan(REFUSED.length)
    const lines = keyLines()
    for (const run of runs) {
      const text = printed(run)
      for (const l of lines) expect(text).not.toContain(l)
    }
    for (const l of lines) expect(sshd.log()).not.toContain(l)
    const serverFiles = [...targets, `/home/${TEST_USER}`].flatMap((d) =>
      existsSync(d) ? filesUnder(d) : [],
    )
    expect(serverFiles.length).toBeGreaterThan(10)
    for (const f of serverFiles) {
      const content = readFileSync(f).toString('latin1')
      for (const l of lines) expect(content.includes(l), f).toBe(false)
    }
    expect(canariesFound()).toEqual([])
  })
})
