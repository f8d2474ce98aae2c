/**
 * The command line's help: per command what it does and its examples; the flags, their order,
 * sections and variables come from the options table (src/spec.ts and cli/parse.ts).
 */
import { DOCTOR_ABOUT, INIT_SUMMARY } from '../init-cli.js'
import { COMMANDS, type Command } from '../settings.js'
import { INPUTS, inScope } from '../spec.js'
import { BIN, envName, OPTIONS, type OptSpec, VERSION } from './parse.js'
import { secretEnvNote } from './settings.js'

const ABOUT: Record<Command, { summary: string; usage: string; text: string; examples: string[] }> = {
  deploy: {
    summary: 'upload --source and make it live with one atomic switch',
    usage: '--host HOST --target PATH --source DIR [options]',
    text: 'Uploads DIR next to the live release (unchanged files become hard links to it, so a release costs only what changed), then makes it live by renaming one symlink. Nothing that is served changes before that rename.',
    examples: [
      `${BIN} deploy --host www1 --target /var/www/site --source dist`,
      `${BIN} deploy --host deploy@www1:2222,deploy@www2:2222 --target /var/www/site --source public --dry-run`,
    ],
  },
  rollback: {
    summary: 'make the release that was live before live again (or --to ID)',
    usage: '--host HOST --target PATH [--to ID]',
    text: 'Points the link back at the good release that was live before the current one (from the deploy log, whoever deployed it: the action or this command) and marks the current one bad, so a later rollback skips it. Nothing is deleted.',
    examples: [
      `${BIN} rollback --host www1 --target /var/www/site`,
      `${BIN} rollback --host www1 --target /var/www/site --to 20261121T235501Z-v1.2.3`,
    ],
  },
  list: {
    summary: 'show the releases on the server, the live one marked',
    usage: '--host HOST --target PATH [--json]',
    text: 'Lists the releases on disk, newest first by the deploy log: when and by whom each was deployed, which one is live and which are marked bad.',
    examples: [
      `${BIN} list --host www1 --target /var/www/site`,
      `${BIN} list --host www1 --target /var/www/site --json | jq -r '.[] | select(.current) | .id'`,
    ],
  },
  prune: {
    summary: 'delete old releases, keeping --keep-releases good ones',
    usage: '--host HOST --target PATH [--keep-releases N]',
    text: 'Deletes releases beyond the newest N good ones. The live release and its rollback target are never deleted.',
    examples: [`${BIN} prune --host www1 --target /var/www/site --keep-releases 3`],
  },
  unlock: {
    summary: 'remove a deploy lock left behind by a run that died',
    usage: '--host HOST --target PATH',
    text: 'Removes TARGET/.deploy/lock whoever holds it, and says who that was. Only for a lock whose run is dead: a running deploy would lose it.',
    examples: [`${BIN} unlock --host www1 --target /var/www/site`],
  },
  upload: {
    summary: 'fleets split in jobs, step 1: upload a release without switching',
    usage: '--host HOST --target PATH --source DIR --release-id ID [options]',
    text: 'Uploads the release and leaves it waiting on the server; run activate with the same --release-id (on every host at once) to make it live.',
    examples: [
      `${BIN} upload --host www3 --target /var/www/site --source dist --release-id "$CI_PIPELINE_ID"`,
    ],
  },
  activate: {
    summary: 'fleets split in jobs, step 2: make an uploaded release live everywhere',
    usage: '--host HOST[,HOST…] --target PATH --release-id ID [options]',
    text: 'Publishes and switches the release that upload left on every host: all hosts go live on it, or none does.',
    examples: [`${BIN} activate --host www1,www2,www3 --target /var/www/site --release-id "$CI_PIPELINE_ID"`],
  },
  doctor: DOCTOR_ABOUT,
  verify: {
    summary: 'prove a release (default: the live one) is byte for byte what was deployed',
    usage: '--host HOST --target PATH [--release ID] [--expected-digest sha256:…]',
    text: "Re-hashes the release on the server (reading only: no lock, no change) and compares every file, directory and link, with its mode, against the manifest recorded when it was published, that manifest's digest against the deploy log, and with --expected-digest against the release-digest your CI printed. Exits 1 naming what differs: changed content, added, removed, a mode or a type changed.",
    examples: [
      `${BIN} verify --host www1,www2 --target /var/www/site`,
      `${BIN} verify --host www1 --target /var/www/site --release 20261121T235501Z-v1.2.3 --expected-digest sha256:…`,
    ],
  },
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(' ')
  const lines: string[] = []
  let cur = ''
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur)
      cur = w
    } else cur = cur ? `${cur} ${w}` : w
  }
  if (cur) lines.push(cur)
  return lines.join(`\n${indent}`)
}

/** The variables a flag's input also comes from, shown as `[RAD_…]` (none: the CLI's own flags). */
function envNote(o: OptSpec): string {
  if (!o.input || o.sets !== undefined) return ''
  return secretEnvNote(o.flag) ?? envName(o.input.name)
}

function optionHelp(o: OptSpec): string {
  const name = `  ${o.short ? `-${o.short}, ` : ''}--${o.flag}${o.value ? ` ${o.value}` : ''}`
  const note = envNote(o)
  const indent = ' '.repeat(34)
  return `${name.padEnd(33)} ${wrap(`${o.help}${note ? ` [${note}]` : ''}`, 66, indent)}`
}

const LISTS = INPUTS.filter((i) => i.kind === 'list' || i.kind === 'lines').map((i) => envName(i.name))
/** Flags named otherwise than their input: `--to` is RAD_ROLLBACK_TO. */
const RENAMED = OPTIONS.filter((o) => o.input && !o.hidden && !o.sets && o.input.kind !== 'secret')
  .filter((o) => o.flag !== o.input?.name)
  .map((o) => `--${o.flag} is ${envName(o.input?.name ?? '')}`)

const ENV_RULE = `Environment: every option can come from a variable instead (for CI systems): RAD_ + the option's name in capitals with - as _ (--target: RAD_TARGET, --keep-releases: RAD_KEEP_RELEASES, --dry-run: RAD_DRY_RUN=true). A flag wins over its variable. Lists (${LISTS.join(', ')}) take one item a line. Secrets come as text: RAD_KEY (the private key itself), RAD_KNOWN_HOSTS (known_hosts lines), RAD_KEY_PASSPHRASE; RAD_KEY_FILE and RAD_KNOWN_HOSTS_FILE take paths. ${RENAMED.join(', ')}.`

const SSH_NOTE =
  'Without --key and --known-hosts it connects the way `ssh HOST` does for you: your ssh-agent, your ~/.ssh/config (Host aliases, User, Port, IdentityFile, ProxyJump) and your known_hosts. Host keys are always checked (StrictHostKeyChecking yes, whatever your config says), and nothing prompts (BatchMode): a key with a passphrase must be in your agent. With --key and --known-hosts (or RAD_KEY and RAD_KNOWN_HOSTS) it uses only those, as the GitHub Action does.'

const EXITS =
  'Exit codes: 0 done, 1 the command failed, 2 bad input, 3 could not connect (or log in), 130 interrupted.'

export function helpText(command?: Command): string {
  const sections = (cmd: Command | undefined) => {
    const fits = (o: OptSpec) => !o.hidden && (cmd === undefined ? o.scope === 'all' : inScope(o.scope, cmd))
    const pick = (section: OptSpec['section']) =>
      OPTIONS.filter((o) => o.section === section && fits(o)).map(optionHelp)
    const out = ['Connection (every command):', ...pick('connection')]
    const own = pick('command')
    if (own.length) out.push('', `For ${cmd}:`, ...own)
    out.push('', 'Output:', ...pick('output'))
    return out.join('\n')
  }
  if (command) {
    const a = ABOUT[command]
    return `Usage: ${BIN} ${command} ${a.usage}

${wrap(a.text, 100, '')}

${sections(command)}

Examples:
${a.examples.map((e) => `  ${e}`).join('\n')}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`
  }
  return `${BIN} ${VERSION}: atomic, hard-linked, rollback-able deploys over SSH with rsync --link-dest.
The same deploys as the GitHub Action (one shared history on the server), from a terminal or any CI system.

Usage: ${BIN} <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(10)} ${ABOUT[c].summary}`).join('\n')}
  ${'init'.padEnd(10)} ${INIT_SUMMARY}
  ${'gate'.padEnd(10)} print the server-side gate: a key that can only deploy (README "Least privilege")

Run \`${BIN} <command> --help\` for the options of a command.

${sections(undefined)}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`
}
