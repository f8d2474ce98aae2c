import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import {
  DEFAULT_CHMOD,
  defaultReleaseId,
  type InputGetter,
  parseReleaseId,
  parseSettings,
  parseTarget,
  RELEASE_ID_RE,
  runMeta,
} from '../../src/inputs.js'
import type { Settings } from '../../src/settings.js'
import { INPUTS } from '../../src/spec.js'
import { inputError, inputsWorkspace, tempDir } from './helpers.js'

const { ws, key, hostKey, base: BASE } = inputsWorkspace('radunit-inputs-')
writeFileSync(path.join(ws, 'a-file'), 'not a dir\n')

const NOW = new Date('2026-11-21T23:55:01.789Z')
const ENV: Record<string, string> = {
  GITHUB_WORKSPACE: ws,
  GITHUB_REF_TYPE: 'tag',
  GITHUB_REF_NAME: 'v1.2.3',
  GITHUB_REF: 'refs/tags/v1.2.3',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  GITHUB_ACTOR: 'octocat',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'o/r',
  GITHUB_RUN_ID: '42',
}

/** The inputs action.yml declares, with their defaults (what the runner passes when unset). */
const ACTION = (() => {
  const text = readFileSync(path.resolve(import.meta.dirname, '../../action.yml'), 'utf8')
  const section = text.slice(text.indexOf('\ninputs:\n'), text.indexOf('\noutputs:\n'))
  const inputs = new Map<string, string>()
  let name = ''
  for (const l of section.split('\n')) {
    const n = /^ {2}([a-z-]+):\s*$/.exec(l)
    if (n?.[1]) {
      name = n[1]
      inputs.set(name, '')
    }
    const d = /^ {4}default:\s*(.*)$/.exec(l)
    if (d?.[1] !== undefined && name) inputs.set(name, d[1].replace(/^(['"])(.*)\1$/, '$2'))
  }
  return inputs
})()

/** A getter over plain values that also records which inputs were read. */
function getter(values: Record<string, string>, read?: Set<string>): InputGetter {
  return (name) => {
    read?.add(name)
    return values[name] ?? ''
  }
}

function parse(over: Record<string, string> = {}, env: Record<string, string | undefined> = ENV): Settings {
  return parseSettings(getter({ ...BASE, ...over }), env, NOW)
}

function refused(over: Record<string, string>, env: Record<string, string | undefined> = ENV): InputError {
  return inputError(() => parse(over, env))
}

describe('parseSettings defaults', () => {
  it('fills every default from the few required inputs', () => {
    expect(parse()).toEqual<Settings>({
      command: 'deploy',
      hosts: [{ user: 'deploy', host: 'example.com', port: 22, label: 'deploy@example.com' }],
      jumpHost: undefined,
      key: key.privateText,
      keyPassphrase: '',
      trusted: {
        lines: [{ marker: '', patterns: ['example.com'], keyType: hostKey.type, key: hostKey.base64 }],
        fingerprints: [],
      },
      acceptUnknownHostKey: false,
      source: path.join(ws, 'public'),
      target: '/var/www/site',
      linkName: 'current',
      releaseId: expect.stringMatching(/^20261121T235501Z-v1\.2\.3-[0-9a-f]{6}$/),
      releaseIdGiven: false,
      rollbackTo: '',
      keepReleases: 5,
      exclude: [],
      filter: [],
      chmod: 'u+rwX,go+rX,go-w',
      shared: [],
      keepAssets: [],
      keepAssetsReleases: 2,
      beforeSwitch: '',
      afterSwitch: '',
      healthcheckUrl: '',
      rollbackOnFailure: true,
      dryRun: false,
      allowEmpty: false,
      maxParallel: 8,
      timeoutSeconds: 600,
      expectedDigest: '',
      meta: {
        sha: '0123456789abcdef0123456789abcdef01234567',
        ref: 'refs/tags/v1.2.3',
        actor: 'octocat',
        runUrl: 'https://github.com/o/r/actions/runs/42',
      },
    })
    expect(DEFAULT_CHMOD).toBe('u+rwX,go+rX,go-w')
  })

  it('the defaults action.yml passes give the same settings as empty inputs', () => {
    const defaults = Object.fromEntries([...ACTION].filter(([, v]) => v !== ''))
    // src/spec.ts names the defaults the parser applies (spec.test.ts checks it against action.yml).
    expect(Object.keys(defaults)).toEqual(INPUTS.filter((i) => i.default).map((i) => i.name))
    // (the generated release id ends in a random part of its own each time)
    expect({ ...parse(defaults), releaseId: '' }).toEqual({ ...parse(), releaseId: '' })
  })

  it('reads only inputs that action.yml declares, and every one of them', () => {
    const read = new Set<string>()
    parseSettings(getter({ ...BASE, 'jump-host': 'bastion.example' }, read), ENV, NOW)
    expect([...read].filter((n) => !ACTION.has(n))).toEqual([])
    expect([...ACTION.keys()].filter((n) => !read.has(n))).toEqual([])
  })

  it('action.yml declares exactly the inputs of src/spec.ts (a contract)', () => {
    expect([...ACTION.keys()]).toEqual(INPUTS.map((i) => i.name))
  })
})

describe('defaultReleaseId', () => {
  const sha = { GITHUB_SHA: '0123456789abcdef' }
  it.each<[string, string, Record<string, string>, string]>([
    [
      'a tag',
      '2026-11-21T23:55:01.789Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v1.2.3', ...sha },
      '20261121T235501Z-v1.2.3-a1b2c3',
    ],
    [
      'a branch: short sha',
      '2026-11-21T23:55:01.789Z',
      { GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main', ...sha },
      '20261121T235501Z-0123456-a1b2c3',
    ],
    ['no ref type: short sha', '2026-11-21T23:55:01.000Z', sha, '20261121T235501Z-0123456-a1b2c3'],
    [
      'nothing known: the stamp and the random part',
      '2026-01-02T03:04:05.000Z',
      {},
      '20260102T030405Z-a1b2c3',
    ],
    [
      'a tag with a slash',
      '2026-11-21T23:55:01Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'release/v2' },
      '20261121T235501Z-release-v2-a1b2c3',
    ],
    [
      'a tag with shell text',
      '2026-11-21T23:55:01Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: "v1 $(x)'`" },
      '20261121T235501Z-v1---x----a1b2c3',
    ],
    [
      'an empty tag: short sha',
      '2026-11-21T23:55:01Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: '', ...sha },
      '20261121T235501Z-0123456-a1b2c3',
    ],
    [
      'a unicode tag',
      '2026-11-21T23:55:01Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'vé' },
      '20261121T235501Z-v--a1b2c3',
    ],
    [
      'a long tag, cut to 76',
      '2026-11-21T23:55:01Z',
      { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v'.repeat(200) },
      `20261121T235501Z-${'v'.repeat(76)}-a1b2c3`,
    ],
  ])('%s', (_name, when, env, id) => {
    const got = defaultReleaseId(new Date(when), env, 'a1b2c3')
    expect(got).toBe(id)
    expect(got).toMatch(RELEASE_ID_RE)
  })

  it('two ids made in the same second differ, keep the shape and sort by time', () => {
    const when = new Date('2026-11-21T23:55:01.100Z')
    const env = { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v1.2.3' }
    const ids = Array.from({ length: 50 }, () => defaultReleaseId(when, env))
    expect(new Set(ids).size).toBe(50)
    for (const id of ids) {
      expect(id).toMatch(/^20261121T235501Z-v1\.2\.3-[0-9a-f]{6}$/)
      expect(id).toMatch(RELEASE_ID_RE)
    }
    const later = defaultReleaseId(new Date('2026-11-21T23:55:02Z'), env)
    expect(ids.every((id) => id < later)).toBe(true)
    expect(defaultReleaseId(when, { GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v'.repeat(200) })).toHaveLength(
      100,
    )
  })

  it('is what parseSettings uses when release-id is empty', () => {
    const s = parse({}, { ...ENV, GITHUB_REF_TYPE: 'branch' })
    expect(s.releaseId).toMatch(/^20261121T235501Z-0123456-[0-9a-f]{6}$/)
    expect(s.releaseIdGiven).toBe(false)
  })

  it('a given release-id wins', () => {
    const s = parse({ 'release-id': ' 2026-hotfix.1 ' })
    expect(s.releaseId).toBe('2026-hotfix.1')
    expect(s.releaseIdGiven).toBe(true)
  })
})

describe('runMeta', () => {
  it('reads the run from the environment', () => {
    expect(runMeta(ENV)).toEqual({
      sha: ENV.GITHUB_SHA,
      ref: 'refs/tags/v1.2.3',
      actor: 'octocat',
      runUrl: 'https://github.com/o/r/actions/runs/42',
    })
  })

  it('is empty outside Actions, with the local user as actor', () => {
    expect(runMeta({ USER: 'alice' })).toEqual({ sha: '', ref: '', actor: 'alice', runUrl: '' })
    expect(
      runMeta({ GITHUB_SERVER_URL: 'https://ghe.example', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7' })
        .runUrl,
    ).toBe('https://ghe.example/o/r/actions/runs/7')
  })
})

describe('parseSettings: values accepted', () => {
  it('hosts, user and port', () => {
    const s = parse({
      host: 'a.example.com, b.example.com:2200\nroot@c.example.com\n# d.example.com\n[::1]:2222\n[fe80::1%eth0]',
      user: 'www',
      port: '2222',
    })
    expect(s.hosts.map((h) => h.label)).toEqual([
      'www@a.example.com:2222',
      'www@b.example.com:2200',
      'root@c.example.com:2222',
      'www@[::1]:2222',
      'www@[fe80::1%eth0]:2222',
    ])
    expect(s.hosts[4]).toEqual({
      user: 'www',
      host: 'fe80::1%eth0',
      port: 2222,
      label: 'www@[fe80::1%eth0]:2222',
    })
  })

  it('the jump host takes the user but not the port of the hosts', () => {
    const s = parse({ host: 'example.com', user: 'www', port: '2222', 'jump-host': 'bastion.example' })
    expect(s.jumpHost).toEqual({
      user: 'www',
      host: 'bastion.example',
      port: 22,
      label: 'www@bastion.example',
    })
    expect(parse({ 'jump-host': 'j@[2001:db8::9]:2200' }).jumpHost).toEqual({
      user: 'j',
      host: '2001:db8::9',
      port: 2200,
      label: 'j@[2001:db8::9]:2200',
    })
  })

  it('the same host as two users is two hosts', () => {
    expect(parse({ host: 'a@example.com,b@example.com' }).hosts.map((h) => h.label)).toEqual([
      'a@example.com',
      'b@example.com',
    ])
  })

  it.each<[string, string, (s: Settings) => unknown, unknown]>([
    ['target', "/srv/my site/it's", (s) => s.target, "/srv/my site/it's"],
    ['target', '/srv/$(touch /tmp/x)/`id`/a;b', (s) => s.target, '/srv/$(touch /tmp/x)/`id`/a;b'],
    ['target', '/srv/"quoted"/-rf/a\\b', (s) => s.target, '/srv/"quoted"/-rf/a\\b'],
    ['target', '/srv/ünïcode/网站', (s) => s.target, '/srv/ünïcode/网站'],
    ['target', '/srv/...', (s) => s.target, '/srv/...'],
    ['target', '/srv/.hidden/a..b', (s) => s.target, '/srv/.hidden/a..b'],
    ['target', `/${'a'.repeat(1023)}`, (s) => s.target.length, 1024],
    ['target', '  /srv/www  ', (s) => s.target, '/srv/www'],
    ['link-name', 'public_html', (s) => s.linkName, 'public_html'],
    ['link-name', '_live-2.0', (s) => s.linkName, '_live-2.0'],
    ['link-name', 'a'.repeat(100), (s) => s.linkName, 'a'.repeat(100)],
    ['release-id', 'a', (s) => s.releaseId, 'a'],
    ['release-id', 'v1..2', (s) => s.releaseId, 'v1..2'],
    ['release-id', 'A'.repeat(100), (s) => s.releaseId, 'A'.repeat(100)],
    ['release-id', '0_9.a-Z', (s) => s.releaseId, '0_9.a-Z'],
    ['rollback-to', '20261120T101010Z-v1.2.2', (s) => s.rollbackTo, '20261120T101010Z-v1.2.2'],
    [
      'key-passphrase',
      'p\'a"ss $(touch /tmp/x) `id` ; \\',
      (s) => s.keyPassphrase,
      'p\'a"ss $(touch /tmp/x) `id` ; \\',
    ],
    ['key-passphrase', ' spaces kept ', (s) => s.keyPassphrase, ' spaces kept '],
    [
      'exclude',
      "*.map\n# a comment\n\n  /secret dir/  \r\n'quoted' $(x) `y`\n-rf",
      (s) => s.exclude,
      // '#' lines are patterns too (#*# is a common one): nothing is dropped as a comment.
      ['*.map', '# a comment', '/secret dir/', "'quoted' $(x) `y`", '-rf'],
    ],
    ['filter', '- *.tmp\n+ /keep me/\nP .env', (s) => s.filter, ['- *.tmp', '+ /keep me/', 'P .env']],
    [
      'shared',
      "storage\npublic/uploads/\nstorage\nmy files/it's",
      (s) => s.shared,
      ['storage', 'public/uploads', "my files/it's"],
    ],
    ['shared', 'a;b/$(x)', (s) => s.shared, ['a;b/$(x)']],
    [
      'shared',
      'storage\nstorage-old\nstorage.d/x',
      (s) => s.shared,
      ['storage', 'storage-old', 'storage.d/x'],
    ],
    ['chmod', 'D755,F644', (s) => s.chmod, 'D755,F644'],
    ['chmod', 'u+rwX,go+rX,go-w', (s) => s.chmod, 'u+rwX,go+rX,go-w'],
    ['chmod', 'Dg+s,ug+w,Fo-w,+X', (s) => s.chmod, 'Dg+s,ug+w,Fo-w,+X'],
    ['chmod', 'F0644,D2775', (s) => s.chmod, 'F0644,D2775'],
    ['chmod', 'a=r', (s) => s.chmod, 'a=r'],
    ['chmod', ' 644 ', (s) => s.chmod, '644'],
    [
      'healthcheck-url',
      'https://example.com/health?x=$(id)&y=1',
      (s) => s.healthcheckUrl,
      'https://example.com/health?x=$(id)&y=1',
    ],
    ['healthcheck-url', 'http://[::1]:8080/up', (s) => s.healthcheckUrl, 'http://[::1]:8080/up'],
    [
      'before-switch',
      'echo "$RELEASE_ID" $(date)\r\nphp artisan migrate --force\r\n',
      (s) => s.beforeSwitch,
      'echo "$RELEASE_ID" $(date)\nphp artisan migrate --force\n',
    ],
    ['after-switch', '  \n\t\n', (s) => s.afterSwitch, ''],
    ['after-switch', 'x'.repeat(65536), (s) => s.afterSwitch.length, 65536],
    ['keep-releases', '0', (s) => s.keepReleases, 0],
    ['keep-releases', ' 12 ', (s) => s.keepReleases, 12],
    ['keep-releases', '10000', (s) => s.keepReleases, 10000],
    ['max-parallel', '1', (s) => s.maxParallel, 1],
    ['max-parallel', '256', (s) => s.maxParallel, 256],
    ['timeout', '10', (s) => s.timeoutSeconds, 10],
    ['timeout', '21600', (s) => s.timeoutSeconds, 21600],
    ['timeout', '0600', (s) => s.timeoutSeconds, 600],
    ['command', ' rollback ', (s) => s.command, 'rollback'],
  ])('%s %j is taken literally', (input, value, pick, expected) => {
    expect(pick(parse({ [input]: value }))).toEqual(expected)
  })

  it.each([
    ['true', true],
    ['TRUE', true],
    [' True ', true],
    ['yes', true],
    ['1', true],
    ['on', true],
    ['false', false],
    ['False', false],
    ['no', false],
    ['0', false],
    ['off', false],
  ])('boolean %j is %s', (value, b) => {
    expect(parse({ 'dry-run': value }).dryRun).toBe(b)
    expect(parse({ 'rollback-on-failure': value }).rollbackOnFailure).toBe(b)
    expect(parse({ 'accept-unknown-host-key': value }).acceptUnknownHostKey).toBe(b)
  })

  it('normalises the key (CRLF, indentation, no final newline)', () => {
    const mangled = key.privateText.replace(/^/gm, '  ').replace(/\n/g, '\r\n').trimEnd()
    expect(parse({ key: mangled }).key).toBe(key.privateText)
  })

  it('takes SHA256 fingerprints instead of known_hosts lines', () => {
    const s = parse({ 'known-hosts': `${hostKey.fingerprint}\n` })
    expect(s.trusted).toEqual({ lines: [], fingerprints: [hostKey.fingerprint] })
  })

  it('accept-unknown-host-key: true needs no known-hosts', () => {
    const s = parse({ 'known-hosts': '', 'accept-unknown-host-key': 'true' })
    expect(s.acceptUnknownHostKey).toBe(true)
    expect(s.trusted).toEqual({ lines: [], fingerprints: [] })
  })

  it('allowOwnSsh (the CLI) needs neither key nor known-hosts', () => {
    const s = parseSettings(getter({ ...BASE, key: '', 'known-hosts': '' }), ENV, NOW, { allowOwnSsh: true })
    expect(s.key).toBe('')
    expect(s.trusted).toEqual({ lines: [], fingerprints: [] })
  })

  it('without allowOwnSsh (the action) key and known-hosts stay required, whatever the environment says', () => {
    const env = { ...ENV, RAD_ALLOW_AGENT: '1' }
    expect(refused({ key: '' }, env).input).toBe('key')
    expect(refused({ 'known-hosts': '' }, env).input).toBe('known-hosts')
  })

  describe('source', () => {
    const odd = `it's $(touch x) \`id\` "q"; rm -rf`
    mkdirSync(path.join(ws, odd))
    writeFileSync(path.join(path.join(ws, odd), 'index.html'), 'a build\n')
    mkdirSync(path.join(ws, 'build:v2'))
    writeFileSync(path.join(path.join(ws, 'build:v2'), 'index.html'), 'a build\n')

    it.each([
      ['public', path.join(ws, 'public')],
      ['public/', path.join(ws, 'public')],
      ['./public', path.join(ws, 'public')],
      [`  ${'public'}  `, path.join(ws, 'public')],
      [odd, path.join(ws, odd)],
      ['build:v2', path.join(ws, 'build:v2')],
      [path.join(ws, 'public'), path.join(ws, 'public')],
      ['.', ws],
    ])('%j resolves to the absolute directory %j', (source, abs) => {
      expect(parse({ source }).source).toBe(abs)
    })

    it('resolves against GITHUB_WORKSPACE, not the current directory', () => {
      const other = tempDir('radunit-ws2-')
      mkdirSync(path.join(other, 'public'))
      writeFileSync(path.join(path.join(other, 'public'), 'index.html'), 'a build\n')
      expect(parse({}, { ...ENV, GITHUB_WORKSPACE: other }).source).toBe(path.join(other, 'public'))
    })

    it.each(['list', 'rollback', 'prune', 'unlock', 'activate'])(
      'is not needed for command %s',
      (command) => {
        const s = parse({ command, source: '', 'release-id': 'r1' })
        expect(s.source).toBe('')
        expect(s.command).toBe(command)
      },
    )

    it('an empty build (no files, only empty directories) is refused naming source, unless allow-empty', () => {
      mkdirSync(path.join(ws, 'empty/a/b'), { recursive: true })
      for (const command of ['deploy', 'upload']) {
        const err = refused({ command, 'release-id': 'r1', source: 'empty' })
        expect(err.input).toBe('source')
        expect(err.message).toMatch(/'empty' holds no files/)
        expect(err.hint).toMatch(/allow-empty: true/)
      }
      expect(parse({ source: 'empty', 'allow-empty': 'true' }).allowEmpty).toBe(true)
      // One symlink is content (rsync sends it).
      symlinkSync('index.html', path.join(ws, 'empty/a/b/link'))
      expect(parse({ source: 'empty' }).source).toBe(path.join(ws, 'empty'))
    })

    it.each(['', 'missing', 'a-file', 'public/a-file', 'public\nx', `${ws}/missing`])(
      '%j is refused for upload',
      (source) => {
        const err = refused({ command: 'upload', 'release-id': 'r1', source })
        expect(err.input).toBe('source')
      },
    )
  })
})

const HINT = {
  host: /\[user@\]host\[:port\], e\.g\. deploy@example\.com/,
  user: /Use letters, digits, "\.", "_" and "-" only, not starting with "-", e\.g\. deploy\./,
  port: /whole number from 1 to 65535, e\.g\. 22\./,
  target:
    /Give an absolute path like \/var\/www\/example\.com, without "\." or "\.\." parts or a trailing "\/"\./,
  control: /^Remove them\.$/,
  link: /Use a plain name without "\/", other than releases, shared or \.deploy, e\.g\. current\./,
  release:
    /Use 1–100 letters, digits, "\.", "_" or "-", starting with a letter or digit, e\.g\. 20261121T235501Z-v1\.2\.3\./,
  command: /^Use one of: deploy, rollback, list, prune, unlock, upload, activate, doctor, verify\.$/,
  bool: /^Use true or false\.$/,
  chmod: /^e\.g\. u\+rwX,go\+rX,go-w or D755,F644\.$/,
  url: /^e\.g\. https:\/\/example\.com\/health\.$/,
  shared: /^Give paths relative to the release, e\.g\. storage or public\/uploads\.$/,
  source: /Build first, then give the output directory relative to the workspace/,
  keyFix: /secrets\.DEPLOY_KEY/,
  knownHosts: /ssh-keyscan -p PORT HOST/,
  passphrase: /without a trailing newline/,
  hook: /./,
} as const

describe('parseSettings: values refused', () => {
  const H = HINT
  it.each<[string, string, RegExp, RegExp]>([
    // host
    ['host', '', /is required/, H.host],
    ['host', '; rm -rf /', /not a valid host name/, H.host],
    ['host', '$(touch /tmp/x)', /not a valid host name/, H.host],
    ['host', '`touch /tmp/x`', /not a valid host name/, H.host],
    ['host', "it's.example.com", /not a valid host name/, H.host],
    ['host', 'ex"ample.com', /not a valid host name/, H.host],
    ['host', 'example.com\n; rm -rf /', /not a valid host name/, H.host],
    ['host', '-oProxyCommand=touch /tmp/x', /starts with "-"/, H.host],
    ['host', 'example.com/../x', /not a valid host name/, H.host],
    ['host', `${'a'.repeat(300)}.com`, /not a valid host name/, H.host],
    ['host', '::1', /IPv6 address without brackets/, H.host],
    ['host', '[::1]:99999', /not a port number/, H.port],
    [
      'host',
      'example.com, example.com:22',
      /'host': example\.com is listed twice/,
      /^List each host once\.$/,
    ],
    ['host', '[::1]:2222\n[::1]:2222', /\[::1\]:2222 is listed twice/, /^List each host once\.$/],
    // user and port
    ['user', '; rm -rf /', /not a valid user name/, H.user],
    ['user', '$(id)', /not a valid user name/, H.user],
    ['user', '-oProxyCommand=x', /not a valid user name/, H.user],
    ['user', "o'neil", /not a valid user name/, H.user],
    ['user', 'a\nb', /not a valid user name/, H.user],
    ['user', 'a'.repeat(65), /not a valid user name/, H.user],
    // expected-digest (verify)
    ['expected-digest', 'sha256:abc', /is not a release digest/, /sha256: followed by 64 hex digits/],
    [
      'expected-digest',
      `md5:${'0'.repeat(32)}`,
      /is not a release digest/,
      /sha256: followed by 64 hex digits/,
    ],
    ['expected-digest', `sha256:${'0'.repeat(64)}\nx`, /control characters/, H.control],
    ['port', '0', /not a port number/, H.port],
    ['port', '65536', /not a port number/, H.port],
    ['port', '-22', /not a port number/, H.port],
    ['port', '22; rm -rf /', /not a port number/, H.port],
    ['port', '$(id)', /not a port number/, H.port],
    ['port', '2e3', /not a port number/, H.port],
    // jump-host
    ['jump-host', '; rm -rf /', /not a valid host name/, H.host],
    ['jump-host', '-J evil', /starts with "-"/, H.host],
    ['jump-host', '2001:db8::1', /IPv6 address without brackets/, H.host],
    ['jump-host', 'a,b', /not a valid host name/, H.host],
    // key, passphrase, known-hosts
    ['key', '', /is required/, H.keyFix],
    ['key', 'garbage', /does not look like a private key/, H.keyFix],
    ['key-passphrase', 'secret\n', /contains a newline/, H.passphrase],
    ['key-passphrase', 'sec\rret', /contains a newline/, H.passphrase],
    ['known-hosts', '', /is required/, H.knownHosts],
    ['known-hosts', '# only a comment', /is required/, H.knownHosts],
    [
      'known-hosts',
      '; rm -rf /',
      /line 1 is neither a known_hosts line nor a SHA256 fingerprint/,
      H.knownHosts,
    ],
    ['accept-unknown-host-key', 'maybe', /'maybe' is not a boolean/, H.bool],
    // target
    ['target', '', /is required/, H.target],
    ['target', '/', /'\/' is the root of the server's file system/, H.target],
    ['target', 'srv/www', /is not an absolute path/, H.target],
    ['target', './srv', /is not an absolute path/, H.target],
    ['target', '~/www', /is not an absolute path/, H.target],
    ['target', '$HOME/www', /is not an absolute path/, H.target],
    ['target', '-rf', /is not an absolute path/, H.target],
    ['target', '; rm -rf /', /is not an absolute path/, H.target],
    ['target', '//srv', /is not a normalised path/, H.target],
    ['target', '/srv//www', /is not a normalised path/, H.target],
    ['target', '/srv/www/', /is not a normalised path/, H.target],
    ['target', '/srv/./www', /is not a normalised path/, H.target],
    ['target', '/srv/../etc', /is not a normalised path/, H.target],
    ['target', '/srv/..', /is not a normalised path/, H.target],
    ['target', '/srv/.', /is not a normalised path/, H.target],
    ['target', '/srv/a; rm -rf /', /is not a normalised path/, H.target],
    ['target', '/srv/a\nb', /control characters/, H.control],
    ['target', '/srv/a\tb', /control characters/, H.control],
    ['target', '/srv/\u001b[31m', /control characters/, H.control],
    ['target', '/srv/\u0000x', /control characters/, H.control],
    ['target', '/srv/\u007f', /control characters/, H.control],
    ['target', `/${'a'.repeat(1024)}`, /longer than 1024 characters/, H.target],
    // link-name
    ['link-name', 'releases', /'releases' is not a usable link name/, H.link],
    ['link-name', 'shared', /not a usable link name/, H.link],
    ['link-name', '.deploy', /not a usable link name/, H.link],
    ['link-name', 'a/b', /not a usable link name/, H.link],
    ['link-name', '/current', /not a usable link name/, H.link],
    ['link-name', '..', /not a usable link name/, H.link],
    ['link-name', '.', /not a usable link name/, H.link],
    ['link-name', '.hidden', /not a usable link name/, H.link],
    ['link-name', '-rf', /not a usable link name/, H.link],
    ['link-name', 'current; rm -rf /', /not a usable link name/, H.link],
    ['link-name', '$(id)', /not a usable link name/, H.link],
    ['link-name', '`id`', /not a usable link name/, H.link],
    ['link-name', "it's", /not a usable link name/, H.link],
    ['link-name', 'a"b', /not a usable link name/, H.link],
    ['link-name', 'a b', /not a usable link name/, H.link],
    ['link-name', 'a\nb', /not a usable link name/, H.link],
    ['link-name', 'a'.repeat(101), /not a usable link name/, H.link],
    // release-id and rollback-to
    ['release-id', 'a/b', /'a\/b' is not a valid release id/, H.release],
    ['release-id', '../x', /not a valid release id/, H.release],
    ['release-id', '..', /not a valid release id/, H.release],
    ['release-id', '.', /not a valid release id/, H.release],
    ['release-id', '.hidden', /not a valid release id/, H.release],
    ['release-id', '-rf', /not a valid release id/, H.release],
    ['release-id', 'v1; rm -rf /', /not a valid release id/, H.release],
    ['release-id', '$(touch /tmp/x)', /not a valid release id/, H.release],
    ['release-id', '`id`', /not a valid release id/, H.release],
    ['release-id', "v'1", /not a valid release id/, H.release],
    ['release-id', 'v"1', /not a valid release id/, H.release],
    ['release-id', 'v1\nv2', /not a valid release id/, H.release],
    ['release-id', 'v1 2', /not a valid release id/, H.release],
    ['release-id', 'vé', /not a valid release id/, H.release],
    ['release-id', 'a'.repeat(101), /not a valid release id/, H.release],
    ['rollback-to', 'a/b', /'a\/b' is not a valid release id/, H.release],
    ['rollback-to', '../../etc', /not a valid release id/, H.release],
    ['rollback-to', '$(id)', /not a valid release id/, H.release],
    ['rollback-to', '-rf', /not a valid release id/, H.release],
    // command
    ['command', 'destroy', /'destroy' is not a command/, H.command],
    ['command', 'Deploy', /not a command/, H.command],
    ['command', 'deploy; rm -rf /', /not a command/, H.command],
    ['command', '$(id)', /not a command/, H.command],
    // numbers
    ['keep-releases', '-1', /'-1' is not a whole number from 0 to 10000/, /^e\.g\. 5\.$/],
    ['keep-releases', '1.5', /not a whole number from 0 to 10000/, /^e\.g\. 5\.$/],
    ['keep-releases', 'five', /not a whole number/, /^e\.g\. 5\.$/],
    ['keep-releases', '1e3', /not a whole number/, /^e\.g\. 5\.$/],
    ['keep-releases', '0x5', /not a whole number/, /^e\.g\. 5\.$/],
    ['keep-releases', '10001', /not a whole number/, /^e\.g\. 5\.$/],
    ['keep-releases', '5; rm -rf /', /not a whole number/, /^e\.g\. 5\.$/],
    ['keep-releases', '5 5', /not a whole number/, /^e\.g\. 5\.$/],
    ['max-parallel', '0', /'0' is not a whole number from 1 to 256/, /^e\.g\. 8\.$/],
    ['max-parallel', '257', /not a whole number from 1 to 256/, /^e\.g\. 8\.$/],
    ['max-parallel', 'all', /not a whole number/, /^e\.g\. 8\.$/],
    ['timeout', '9', /'9' is not a whole number from 10 to 21600/, /^e\.g\. 600\.$/],
    ['timeout', '21601', /not a whole number from 10 to 21600/, /^e\.g\. 600\.$/],
    ['timeout', '60s', /not a whole number/, /^e\.g\. 600\.$/],
    ['timeout', '1.5', /not a whole number/, /^e\.g\. 600\.$/],
    // booleans
    ['dry-run', 'maybe', /'maybe' is not a boolean/, H.bool],
    ['dry-run', 'tru', /not a boolean/, H.bool],
    ['dry-run', 'y', /not a boolean/, H.bool],
    ['dry-run', 'true; rm -rf /', /not a boolean/, H.bool],
    ['rollback-on-failure', '2', /not a boolean/, H.bool],
    // chmod
    ['chmod', '777; rm', /'777; rm' is not an rsync --chmod spec/, H.chmod],
    ['chmod', 'D755,F644;', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'D755 F644', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'D755,', /not an rsync --chmod spec/, H.chmod],
    ['chmod', ',', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'u+rwX,$(id)', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'D888', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'D75', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'Z755', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'u+q', /not an rsync --chmod spec/, H.chmod],
    ['chmod', 'u+rwX\ngo-w', /not an rsync --chmod spec/, H.chmod],
    ['chmod', '--inplace', /not an rsync --chmod spec/, H.chmod],
    // healthcheck-url
    [
      'healthcheck-url',
      'ftp://example.com/health',
      /'ftp:\/\/example\.com\/health' is not an http\(s\) URL/,
      H.url,
    ],
    ['healthcheck-url', 'javascript:alert(1)', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', 'file:///etc/passwd', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', 'example.com/health', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', '/health', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', 'http//example.com', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', '$(curl evil)', /not an http\(s\) URL/, H.url],
    ['healthcheck-url', 'https://exa\nmple.com/health', /control characters/, H.control],
    ['healthcheck-url', 'https://example.com/\u001b]0;x\u0007', /control characters/, H.control],
    // shared
    ['shared', '../etc', /'\.\.\/etc' is not a normalised relative path/, H.shared],
    ['shared', 'a/../../etc', /not a normalised relative path/, H.shared],
    ['shared', '..', /not a normalised relative path/, H.shared],
    ['shared', '.', /not a normalised relative path/, H.shared],
    ['shared', './storage', /not a normalised relative path/, H.shared],
    ['shared', 'a//b', /not a normalised relative path/, H.shared],
    ['shared', '/etc', /'\/etc' is absolute/, H.shared],
    ['shared', '/', /is absolute|not a normalised/, H.shared],
    ['shared', 'storage\n/var/lib', /'\/var\/lib' is absolute/, H.shared],
    ['shared', 'a\u001bb', /control characters/, H.control],
    [
      'shared',
      'storage\nstorage/logs',
      /'storage\/logs' is inside 'storage'/,
      /^List only storage: what is inside it is shared with it\.$/,
    ],
    [
      'shared',
      'public/uploads/a\npublic/uploads/',
      /'public\/uploads\/a' is inside 'public\/uploads'/,
      /List only public\/uploads/,
    ],
    // exclude and filter: any text, one rule a line, but no control characters inside a line
    ['exclude', '*.map\n\u001b[2Jx', /the line contains control characters/, H.control],
    ['exclude', 'a\tb', /the line contains control characters/, H.control],
    ['filter', '- *.tmp\n+ \u0000x', /the line contains control characters/, H.control],
    // hooks
    [
      'before-switch',
      'x'.repeat(65537),
      /longer than 64 KiB/,
      /Put a long script in your release and call it\./,
    ],
    ['after-switch', 'echo \u0000', /contains a NUL byte/, /Remove it\./],
    // release-id is required to split upload and activate
  ])('%s %j is refused', (input, value, problem, hint) => {
    const err = refused({ [input]: value })
    expect(err).toBeInstanceOf(InputError)
    expect(err.input).toBe(input)
    expect(err.code).toBe('bad-input')
    expect(err.message.startsWith(`Input '${input}': `)).toBe(true)
    expect(err.message).toMatch(problem)
    expect(err.hint).toMatch(hint)
    expect(String(err)).toBe(`${err.message}\n${err.hint}`)
  })

  it('a host named with and without the default user is listed twice', () => {
    const err = refused({ host: 'example.com,deploy@example.com', user: 'deploy' })
    expect(err.input).toBe('host')
    expect(err.message).toBe("Input 'host': deploy@example.com is listed twice")
  })

  it('refuses a source directory whose name has a newline, even when it exists', () => {
    mkdirSync(path.join(ws, 'new\nline'))
    writeFileSync(path.join(path.join(ws, 'new\nline'), 'index.html'), 'a build\n')
    const err = refused({ source: 'new\nline' })
    expect(err.input).toBe('source')
    expect(err.message).toMatch(/control characters/)
  })

  it.each(['upload', 'activate'])('command %s needs a release-id', (command) => {
    const err = refused({ command })
    expect(err.input).toBe('release-id')
    expect(err.message).toBe(`Input 'release-id': is required for command ${command}`)
    expect(err.hint).toMatch(/same release id to upload and activate/)
  })

  it('expected-digest: a digest as the deploy printed it, in any case, is taken as lowercase', () => {
    const d = `sha256:${'Ab'.repeat(32)}`
    expect(parse({ command: 'verify', 'expected-digest': ` ${d} ` }).expectedDigest).toBe(d.toLowerCase())
  })

  it('never repeats a private key in an error', () => {
    const body = key.privateText.split('\n')[1] as string
    const err = refused({ key: key.privateText.replace(/-----END[^\n]*\n$/, '') })
    expect(err.input).toBe('key')
    expect(String(err)).not.toContain(body)
  })

  it('validates before anything else: the first bad input is the one named', () => {
    // command is checked first, then hosts; nothing downstream runs with a bad value
    expect(refused({ command: 'nope', host: ';' }).input).toBe('command')
    expect(refused({ host: ';', target: 'relative' }).input).toBe('host')
  })
})

describe('parseTarget / parseReleaseId', () => {
  it('name the input they were given', () => {
    expect(inputError(() => parseTarget('jump-target', 'x')).input).toBe('jump-target')
    expect(inputError(() => parseReleaseId('rollback-to', 'a/b')).input).toBe('rollback-to')
  })

  it.each(['/srv/www', '/a', "/srv/my site/it's"])('parseTarget keeps %j', (t) => {
    expect(parseTarget('target', t)).toBe(t)
  })

  it('RELEASE_ID_RE is the documented pattern', () => {
    expect(RELEASE_ID_RE.source).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$')
  })
})
