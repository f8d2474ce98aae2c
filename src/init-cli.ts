/**
 * The `init` subcommand of the CLI: its own flags (it makes files here; it deploys nothing), then
 * init.ts. Host, target and the connection flags go through parseSettings, so they are validated with
 * the same messages as every other command.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { InputError } from './errors.js'
import { renderGate } from './gate.js'
import {
  authorizedKeysLine,
  fingerprints,
  GATE_PATH,
  GATE_PATH_MARK,
  gatedKeysLine,
  generateKey,
  ghCommands,
  installKey,
  resolvedHost,
  scanHostKeys,
  shWord,
  workflowText,
  writeNew,
} from './init.js'
import { parseSettings } from './inputs.js'
import { toDeployError } from './outcome.js'
import { run } from './proc.js'
import { sshOptions } from './run-command.js'
import { onPath } from './runner-platform.js'
import type { Settings } from './settings.js'
import { ownHostArgs, Ssh } from './ssh.js'
import { safeMessage } from './untrusted.js'
import type { Words } from './words.js'

const BIN = 'rsync-atomic-deploy'

export const INIT_SUMMARY = 'set up: a deploy key, the host keys, the gh commands and the workflow'

export const DOCTOR_ABOUT = {
  summary: 'check everything a deploy needs on the server; change nothing',
  usage: '--host HOST --target PATH',
  text: 'Connects and checks the host key, the key, that the login shell prints nothing, rsync on both ends, that the target is writable, that releases/ and the upload area share a filesystem, free space and inodes, a tool for the atomic rename, that the link is a symlink, and the lock. One line per check, ✓ or ✗ with the fix; exit code 0 when all pass.',
  examples: [
    `${BIN} doctor --host deploy@www1 --target /var/www/site`,
    `${BIN} doctor --host deploy@www1 --target /var/www/site --key deploy_key --known-hosts deploy_key.known_hosts`,
  ],
}

const FLAGS = {
  host: { type: 'string' },
  user: { type: 'string' },
  port: { type: 'string' },
  'jump-host': { type: 'string' },
  target: { type: 'string' },
  source: { type: 'string' },
  key: { type: 'string' },
  'known-hosts': { type: 'string' },
  'deploy-key': { type: 'string' },
  install: { type: 'boolean' },
  gate: { type: 'boolean' },
  write: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'no-color': { type: 'boolean' },
} as const

export const INIT_HELP = `Usage: ${BIN} init --host [USER@]HOST[:PORT] --target PATH [options]

Sets up deploys to one server: generates a new ed25519 deploy key (never over an existing file),
prints the authorized_keys line for the server, scans the server's host keys and prints their
fingerprints to compare, and prints the gh commands and the workflow file that use them.

  --host [USER@]HOST[:PORT]  The server (a Host alias of your ~/.ssh/config works).
  --target PATH              The deploy root on the server, e.g. /var/www/example.com.
  --jump-host HOST           Reach the server through this host (its key is checked by your known_hosts).
  --user USER, --port PORT   For a host that names none.
  --source DIR               The build directory the workflow uploads (default: public).
  --deploy-key FILE          Where the new key goes (default: ~/.ssh/deploy_HOST); FILE.pub and
                             FILE.known_hosts go next to it. Existing files are never overwritten.
  --install                  Add the key to the deploy user's ~/.ssh/authorized_keys over your own
                             ssh access (your agent and ~/.ssh/config, or --key and --known-hosts).
  --gate                     A key that can only deploy to --target: its authorized_keys line runs
                             the gate (rsync-atomic-deploy gate prints it) as a forced command.
                             With --install, the gate goes to ~/.local/bin/ of the deploy user.
  --key FILE                 For --install: the key you log in with now (default: your ssh setup).
  --known-hosts FILE         For --install: known_hosts lines (default: your ~/.ssh/known_hosts).
  --write                    Write .github/workflows/deploy.yml (never over an existing one).
`

interface Stream {
  write(text: string): unknown
}

/** Runs `init`; resolves with the exit code (0 done, 1 --install failed, 2 bad input, 3 no connection). */
export async function initMain(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: { stdout: Stream; stderr: Stream },
  words: Words,
): Promise<number> {
  const error = (message: string, hint = '') => {
    out.stderr.write(`error: ${safeMessage(message)}\n${hint ? `${safeMessage(hint)}\n` : ''}`)
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values
  } catch (e) {
    error((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '', `See: ${BIN} init --help`)
    return 2
  }
  if (values.help) {
    out.stdout.write(INIT_HELP)
    return 0
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : '')
  let settings: Settings
  try {
    const read = (flag: string) => {
      const f = str(flag)
      if (!f) return ''
      try {
        return readFileSync(f, 'utf8')
      } catch (e) {
        throw new InputError(
          flag,
          `cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? e})`,
          `Give a readable file to --${flag}.`,
        )
      }
    }
    const inputs: Record<string, string> = {
      command: 'doctor',
      host: str('host'),
      user: str('user'),
      port: str('port'),
      'jump-host': str('jump-host'),
      target: str('target'),
      key: read('key'),
      'known-hosts': read('known-hosts'),
    }
    settings = parseSettings((n) => inputs[n] ?? '', env, new Date(), { allowOwnSsh: true, words })
    if (settings.hosts.length !== 1)
      throw new InputError(
        'host',
        'init sets up one server at a time',
        'Give one --host; run init once per server.',
      )
    if (/\$\{\{/.test(`${str('host')}${settings.target}${str('source')}`)) {
      throw new InputError(
        'target',
        'holds ${{, which GitHub would read as an expression',
        'Give plain values.',
      )
    }
  } catch (e) {
    if (e instanceof InputError) error(e.message.replace(`Input '${e.input}'`, `--${e.input}`), e.hint)
    else error(toDeployError(e).message)
    return 2
  }
  const host = settings.hosts[0] as (typeof settings.hosts)[number]
  const source = str('source') || 'public'
  const keyFile = path.resolve(
    str('deploy-key') || path.join(homedir(), '.ssh', `deploy_${host.host.replace(/[^A-Za-z0-9.-]/g, '_')}`),
  )
  const files = { key: keyFile, pub: `${keyFile}.pub`, known: `${keyFile}.known_hosts` }
  const workflowFile = path.resolve('.github/workflows/deploy.yml')
  // Refused before anything is made: init never overwrites a key (nor the workflow).
  for (const f of [...Object.values(files), ...(values.write ? [workflowFile] : [])]) {
    if (existsSync(f)) {
      error(
        `${f} exists: init never overwrites a key or a workflow.`,
        'Give --deploy-key a new path (or move the old files away yourself).',
      )
      return 2
    }
  }

  const sshPath = onPath('ssh')
  if (!sshPath) {
    error('ssh is not installed on this machine.', 'Install OpenSSH (apt-get install openssh-client).')
    return 2
  }
  // What ssh makes of the host (an alias of ~/.ssh/config resolved): the name the workflow connects to.
  const g = await run(sshPath, ['-G', ...ownHostArgs(host, settings.jumpHost)], {
    signal: AbortSignal.timeout(10_000),
  })
  const r = resolvedHost(g.stdout)
  const real = { hostname: r.hostname || host.host, port: r.port || host.port, user: host.user || r.user }
  const jump = settings.jumpHost?.label ?? r.proxyJump
  const lines = await scanHostKeys(real, jump, sshPath).catch(() => [] as string[])
  if (lines.length === 0) {
    error(
      `Could not read the host keys of ${real.hostname} port ${real.port}${jump ? ` through ${jump}` : ''}.`,
      'Check the host name and port, that sshd runs there, and that this machine may reach it. Nothing was created.',
    )
    return 3
  }
  const prints = await fingerprints(lines)

  const hostInput = `${real.user ? `${real.user}@` : ''}${real.hostname.includes(':') ? `[${real.hostname}]` : real.hostname}${real.port !== 22 ? `:${real.port}` : ''}`
  const comment = `${BIN}@${real.hostname}`.replace(/[^A-Za-z0-9._@-]/g, '_')
  let line: string
  try {
    const key = await generateKey(comment)
    if (!existsSync(path.dirname(keyFile))) mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 })
    await writeNew(files.key, key.privateKey, 0o600)
    await writeNew(files.pub, key.publicKey, 0o644)
    await writeNew(files.known, `${lines.join('\n')}\n`, 0o644)
    line = values.gate
      ? gatedKeysLine(key.publicKey, settings.target, values.install ? GATE_PATH_MARK : GATE_PATH)
      : authorizedKeysLine(key.publicKey)
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'EEXIST'
        ? 'it exists now (made by something else meanwhile)'
        : toDeployError(e).message
    error(`Could not write the new key to ${keyFile}: ${why}`)
    return 2
  }

  const p = (s = '') => out.stdout.write(`${s}\n`)
  const user = real.user || 'the deploy user'
  p(`New deploy key (ed25519, no passphrase; keep it secret): ${keyFile}`)
  p(`  public key: ${files.pub}`)
  p()
  let code = 0
  let installed = ''
  if (values.install) {
    let ssh: Ssh | undefined
    try {
      ssh = await Ssh.create({ ...sshOptions(settings, true), words }, sshPath, () => {})
      const did = await installKey(ssh, host, line, values.gate ? renderGate() : '', (g) => {
        line = line.replace(GATE_PATH_MARK, g)
        p(`The gate: installed as ${g} on ${host.label}.`)
      })
      installed =
        did === 'added'
          ? `added to ~${real.user}/.ssh/authorized_keys on ${host.label}`
          : `already in ~${real.user}/.ssh/authorized_keys on ${host.label} (not added twice)`
    } catch (e) {
      const err = toDeployError(e)
      installed = ''
      code = err.code === 'install-failed' || err.code === 'no-home' ? 1 : 3
      error(`--install: ${err.message}`, err.hint)
    } finally {
      await ssh?.dispose()
    }
  }
  p(
    `1. Authorize the key on the server${installed ? `: done, ${installed}.` : `: add this line to ~${real.user || 'USER'}/.ssh/authorized_keys of ${user} there:`}`,
  )
  p(`   ${line.replace(GATE_PATH_MARK, '~/.local/bin/rsync-atomic-deploy-gate')}`)
  if (values.gate && !values.install) {
    p('   The key is gated: it can only deploy to the target. Install the gate on the server first, as root:')
    p(`     ${BIN} gate | ssh root@${shWord(real.hostname)} 'install -m 755 /dev/stdin ${GATE_PATH}'`)
    p('   (or copy dist/gate.sh of this package there). Hooks: see README "Least privilege".')
  }
  p('   `restrict` allows running commands (all a deploy needs) and no pty or forwarding. To accept it')
  p(
    '   only from fixed addresses (self-hosted runners), prefix it: from="203.0.113.7",restrict ssh-ed25519 ...',
  )
  p()
  p(
    `2. The server's host keys, scanned just now from ${real.hostname} port ${real.port}${jump ? ` through ${jump}` : ''}:`,
  )
  for (const f of prints) p(`   ${f}`)
  p('   Compare them with what the server itself says before you trust them: run there')
  p('   `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (and the same for each ssh_host_*_key.pub).')
  p(`   The known_hosts lines are in ${files.known}.`)
  p()
  p('3. Store the key and the host keys in the GitHub repository (in its checkout, with the gh CLI):')
  for (const c of ghCommands(files.key, files.known)) p(`   ${c}`)
  p()
  const workflow = workflowText({
    host: hostInput,
    jumpHost: settings.jumpHost?.label ?? '',
    target: settings.target,
    source,
  })
  if (values.write) {
    try {
      mkdirSync(path.dirname(workflowFile), { recursive: true })
      await writeNew(workflowFile, workflow, 0o644)
      p(`4. The workflow: written to ${workflowFile} (check the build step and commit it).`)
    } catch (e) {
      error(`Could not write ${workflowFile}: ${(e as NodeJS.ErrnoException).code ?? e}`)
      code = code || 1
    }
  } else {
    p('4. The workflow, as .github/workflows/deploy.yml (or run init with --write):')
    p()
    out.stdout.write(workflow)
  }
  p()
  p('Then check the server (it changes nothing there):')
  p(
    `   ${BIN} doctor --host ${shWord(hostInput)} --target ${shWord(settings.target)} --key ${shWord(files.key)} --known-hosts ${shWord(files.known)}`,
  )
  return code
}
