/**
 * The gate (src/gate.ts) and the values' wire form (quote.ts wireAssignment): the pure pieces, and
 * the generated sh run for real in dash, bash and busybox sh, with SSH_ORIGINAL_COMMAND set as sshd
 * would and a fake rsync that records what it was given (the sshd end to end is in
 * test/integration/gate.test.ts).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { gateProtocolError, parseGateLine, renderGate } from '../../src/gate.js'
import { gatedKeysLine } from '../../src/init.js'
import { WIRE_END, wireAssignment, wireAssignments } from '../../src/quote.js'
import { remoteCommand, renderScript, SCRIPTS, VAR_RULES } from '../../src/remote.js'
import { tempDir } from './helpers.js'

const root = tempDir('radunit-gate-')
const gateFile = path.join(root, 'gate.sh')
writeFileSync(gateFile, renderGate())
const SHELLS = [['dash'], ['bash', '--posix'], ['busybox', 'sh']].filter(
  ([c]) => spawnSync(c as string, ['-c', 'true']).status === 0,
)

/** A fake rsync first in PATH: it writes its arguments, one a line, to `args`. */
const bin = path.join(root, 'bin')
mkdirSync(bin)
writeFileSync(path.join(bin, 'rsync'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${root}/args"\n`)
chmodSync(path.join(bin, 'rsync'), 0o755)

function gate(
  target: string,
  command: string | undefined,
  input = '',
  shell = SHELLS[0] as string[],
): { code: number; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: root }
  if (command !== undefined) env.SSH_ORIGINAL_COMMAND = command
  const [cmd, ...pre] = shell
  const r = spawnSync(cmd as string, [...pre, gateFile, target], { env, input, encoding: 'utf8', cwd: root })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('wireAssignment', () => {
  const values = [
    '/var/www/example.com',
    "it's",
    'two\nlines\n',
    '-v leading dash',
    '%s %d \\n \\ back',
    'ünïcode ✓',
    '$(touch x) `id` ;|&<>*?[',
    '',
    '\r\t\u001b',
  ]
  it('plain printable text without a quote is a plain quoted word; the rest printf octal escapes', () => {
    expect(wireAssignment('T', '/srv/www')).toBe("T='/srv/www'")
    expect(wireAssignment('X', "a'b")).toBe("X=$(printf 'a\\047b.'); X=${X%.}")
    expect(wireAssignment('X', '-x\n')).toBe("X=$(printf '\\055x\\012.'); X=${X%.}")
    expect(wireAssignment('X', '50%')).toBe("X='50%'")
    expect(wireAssignment('X', "50%'")).toBe("X=$(printf '50\\045\\047.'); X=${X%.}")
    expect(() => wireAssignment('X; id', 'a')).toThrow(/bad shell variable name/)
    expect(() => wireAssignment('X', 'a\u0000b')).toThrow(/NUL/)
  })

  it.each(SHELLS)('%s sets every value byte for byte', (...shell) => {
    const vars = Object.fromEntries(values.map((v, i) => [`V${i}`, v]))
    const script = `${wireAssignments(vars)}\nprintf '%s\\0' ${values.map((_, i) => `"$V${i}"`).join(' ')}\n`
    const r = spawnSync(shell[0] as string, [...shell.slice(1), '-s'], {
      input: script,
      encoding: 'utf8',
      cwd: root,
    })
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(values)
    expect(existsSync(path.join(root, 'x'))).toBe(false)
  })

  it('ends with the line the gate stops at', () => {
    expect(wireAssignments({ A: 1 })).toBe(`A='1'\n${WIRE_END}`)
  })
})

describe('renderGate', () => {
  const text = renderGate()
  it.each(SHELLS)('passes %s -n', (...shell) => {
    const r = spawnSync(shell[0] as string, [...shell.slice(1), '-n', gateFile], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('holds every script as a function and a rule for every variable: one table each', () => {
    for (const name of Object.keys(SCRIPTS)) expect(text).toContain(`rad_s_${name}() {`)
    for (const [name, rule] of Object.entries(VAR_RULES)) {
      expect(text).toContain(`    ${name}) gate_rule_${rule} "$1" "$2"; ${name}=$2 ;;`)
    }
    expect(text.startsWith('#!/bin/sh\n')).toBe(true)
  })

  it('is the same text every time (dist/gate.sh equals a fresh build)', () => {
    expect(renderGate()).toBe(text)
  })
})

describe('the gate, run as sshd would run it', () => {
  const target = path.join(root, 'site')
  const base = {
    T: target,
    LINK: 'current',
    TOKEN: 'abcdef0123456789',
    LEFT: 60,
    LOCK_WAIT: 4,
    LOCK_TTL: 180,
    LOCK_OWNER: JSON.stringify({ actor: "o'brien ✓", run: 'x' }),
    ID: 'r1',
    INCOMING: 'r1.abcdef01',
    STAGED: '',
    SHARED: 'storage\npublic/up loads',
    MANIFEST:
      'rad-manifest 1\nf 0644 2 0000000000000000000000000000000000000000000000000000000000000000 a b\n',
    FAST: 0 as const,
    ROOT_MODE: '0755',
  }

  it.each(SHELLS)(
    '%s: runs its own prepare with the values as sent (a quote, unicode), after its gate line',
    (...shell) => {
      const t = `${target}-${shell[0]}`
      const r = gate(t, remoteCommand('prepare'), renderScript('prepare', { ...base, T: t }), shell)
      expect(r.stdout.split('\n')[0]).toMatch(/^@@rad gate \S+ 1 1$/)
      expect(r.stdout).toContain('@@rad lock taken')
      expect(r.stdout).toContain('@@rad ok')
      expect(readFileSync(`${t}/.deploy/lock/owner.json`, 'utf8')).toBe(`${base.LOCK_OWNER}\n`)
      expect(existsSync(`${t}/.deploy/incoming/r1.abcdef01`)).toBe(true)
    },
  )

  it('refuses a shell, other commands, unknown scripts and protocols, and logs each', () => {
    const t = `${target}-refuse`
    mkdirSync(`${t}/.deploy`, { recursive: true })
    for (const c of [
      undefined,
      'id',
      'sh -c id',
      'sh -s',
      'sh -s rad 1 evil',
      'sh -s rad 1 prepare; id',
      'bash',
    ]) {
      const r = gate(t, c, 'id\n')
      expect(r.code, String(c)).toBe(3)
      expect(r.stderr).toContain('rsync-atomic-deploy-gate: refused')
    }
    const log = readFileSync(`${t}/.deploy/gate.log`, 'utf8')
    expect(log.split('\n').filter((l) => l.includes('refused')).length).toBe(7)
    expect(log).toContain('this key runs no shell')
    const r = gate(t, 'sh -s rad 2 doctor', '')
    expect(r.stdout).toContain('@@rad-error gate-protocol this gate')
  })

  it('refuses a forced command without a plain absolute target', () => {
    for (const t of ['', 'relative', '/a/../b', '/a b', "/a'b", '/']) {
      expect(gate(t, remoteCommand('doctor')).code, t).toBe(2)
    }
  })

  const up = `${target}/.deploy/incoming`
  const ACCEPTED = [
    `rsync --server -lprce.LsfxCIvu --timeout=120 --stats --partial-dir ${up}/.rsync-partial --link-dest ${target}/releases/r1 . ${up}/r2.abcdef01/`,
    `rsync --server -nlprcRe.iLsfxCIvu --log-format=%i --timeout=120 --stats . ${target}/releases/r1/`,
    `rsync --server -lprce.LsfxCIvu --files-from=- --from0 --delete . ${up}/r2.abcdef01/`,
    `rsync --server -lprce.LsfxCIvu --partial-dir=.rsync-partial --compare-dest=${target}/releases/r1 . ${up}/x`,
  ]
  it.each(ACCEPTED)('lets through, word for word: %s', (cmd) => {
    const r = gate(target, cmd)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(readFileSync(path.join(root, 'args'), 'utf8')).toBe(`${cmd.split(' ').slice(1).join('\n')}\n`)
  })

  const REFUSED = [
    `rsync --server --sender -lr . ${target}/releases/r1/`,
    `rsync --server -lprce.LsfxCIvu . ${target}/releases/r1/`,
    `rsync --server -lprce.LsfxCIvu . ${target}/`,
    `rsync --server -lprce.LsfxCIvu . /tmp/elsewhere/`,
    `rsync --server -lprce.LsfxCIvu . ${up}/../../releases/r1/`,
    `rsync --server -lprce.LsfxCIvu . ${up}/a/b/`,
    `rsync --server -nlprce.LsfxCIvu --delete . ${target}/releases/r1/`,
    `rsync --server -slprce.LsfxCIvu . ${up}/x/`,
    `rsync --server -Klprce.LsfxCIvu . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --log-file=/tmp/x . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --temp-dir=/tmp . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --backup-dir=/tmp . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --write-batch=/tmp/b . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --only-write-batch=/tmp/b . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --remove-source-files . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --link-dest /etc . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --partial-dir /tmp/p . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu --files-from=/etc/passwd . ${up}/x/`,
    `rsync --server -lprce.LsfxCIvu . ${up}/x/ ${up}/y/`,
    `rsync --server -lprce.LsfxCIvu . ${up}/x\\ y/`,
    `rsync --server -lprce.LsfxCIvu . ${up}/$(id)/`,
    `rsync --server -lprce.LsfxCIvu --timeout=1;id . ${up}/x/`,
    `rsync --daemon`,
  ]
  it.each(REFUSED)('refuses: %s', (cmd) => {
    writeFileSync(path.join(root, 'args'), '')
    const r = gate(target, cmd)
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('rsync-atomic-deploy-gate: refused')
    expect(readFileSync(path.join(root, 'args'), 'utf8')).toBe('')
  })
})

describe('the handshake, client side', () => {
  it('reads the gate line, and nothing that does not parse', () => {
    expect(parseGateLine('0.1.0 1 2')).toEqual({ version: '0.1.0', min: 1, max: 2 })
    for (const bad of ['', '0.1.0 1', '0.1.0 x 1', '$(id) 1 1', '0.1.0 1 1 extra']) {
      expect(parseGateLine(bad)).toBeUndefined()
    }
  })

  it('says which side is older and what to update', () => {
    const older = gateProtocolError('h', { version: '0.0.9', min: 0, max: 0 })
    expect(older.message).toMatch(
      /gate \(rsync-atomic-deploy-gate 0\.0\.9\) is older than this client: it speaks protocol 0, this rsync-atomic-deploy .* speaks protocol 1/,
    )
    expect(older.hint).toMatch(/Update the gate on the server/)
    const newer = gateProtocolError('h', { version: '9.0.0', min: 5, max: 7 })
    expect(newer.message).toMatch(/is newer than this client: it speaks protocol 5 to 7/)
    expect(newer.hint).toMatch(/Update rsync-atomic-deploy here .* to 9\.0\.0 or later/)
    const skew = gateProtocolError(
      'h',
      { version: '0.1.0', min: 1, max: 1 },
      'this gate (0.1.0) has no script verify: update the gate',
    )
    expect(skew.message).toMatch(
      /does not know a script or value that this rsync-atomic-deploy .* sends: this gate .* has no script verify/,
    )
    expect(skew.hint).toMatch(/Update the gate on the server/)
  })

  it('the gated authorized_keys line: the gate with the target, then restrict', () => {
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@x'
    expect(gatedKeysLine(pub, '/var/www/example.com')).toBe(
      'command="/usr/local/bin/rsync-atomic-deploy-gate /var/www/example.com",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@x',
    )
    expect(() => gatedKeysLine(pub, '/var/www/my site')).toThrow(/the gate does not allow/)
    expect(() => gatedKeysLine(pub, '/var/www/x"y')).toThrow(/the gate does not allow/)
  })
})
