/**
 * Every input, written down once. The action's parser (inputs.ts: names and defaults), the CLI's
 * flags, scope checks and help (cli/), the inputs that may never hold a key and the README's inputs
 * table (`npm run docs`) are read from here; unit tests fail when action.yml or the README
 * disagree. No imports: both bundles and the docs script read it as plain data.
 */

/** What each command does, so code asks `uploads` instead of listing `deploy || upload`. */
export interface CommandSpec {
  /** Sends --source with rsync (needs source, rsync, the commit of a local checkout). */
  readonly uploads?: true
  /** Makes a new release live: before-switch, after-switch, the health check and a revert apply. */
  readonly switches?: true
  /** The new release's id: 'made' (given or generated) or 'required' (upload and activate share it). */
  readonly releaseId?: 'made' | 'required'
  /** Takes the deploy lock on the server while it works. */
  readonly locks?: true
  /** Deletes releases beyond keep-releases. */
  readonly prunes?: true
  /** Goes back to a release of the history (rollback-to). */
  readonly picksRelease?: true
  /** Re-hashes a release on the server and compares it with its manifest (release-id, expected-digest). */
  readonly verifies?: true
  /** Connects step by step on its own, to say where it fails (doctor.ts): nothing connects ahead. */
  readonly probes?: true
}

/** In the order the help and messages list them. */
export const COMMAND_SPECS = {
  deploy: { uploads: true, switches: true, releaseId: 'made', locks: true, prunes: true },
  rollback: { locks: true, picksRelease: true },
  list: {},
  prune: { locks: true, prunes: true },
  // removes the lock whoever holds it, without taking it
  unlock: {},
  upload: { uploads: true, releaseId: 'required', locks: true },
  activate: { switches: true, releaseId: 'required', locks: true, prunes: true },
  // checks the server read-only (doctor.ts): no lock, no change
  doctor: { probes: true },
  // reads only (verify-command.ts): no lock, no change
  verify: { verifies: true },
} as const satisfies Record<string, CommandSpec>

export type Command = keyof typeof COMMAND_SPECS

export function commandSpec(command: Command): CommandSpec {
  return COMMAND_SPECS[command]
}

/** Whether `word` (an input not yet checked) names a command that uploads. */
export function namesUploadingCommand(word: string): boolean {
  return Object.hasOwn(COMMAND_SPECS, word) && commandSpec(word as Command).uploads === true
}

/**
 * The commands an input applies to: every one, or those with this trait ('releaseId': a command
 * that names a new release). The CLI refuses a flag out of its scope, and its help lists the
 * inputs of scope 'all' under "Connection (every command)", the others under "For <command>".
 */
export type Scope = 'all' | Exclude<keyof CommandSpec, 'locks'>

/** One scope, or several (an input of each of their commands). */
export type Scopes = Scope | readonly Scope[]

export function inScope(scope: Scopes, command: Command): boolean {
  if (typeof scope !== 'string') return scope.some((one) => inScope(one, command))
  return scope === 'all' || commandSpec(command)[scope] !== undefined
}

/** A command-line flag that feeds an input. */
export interface FlagSpec {
  readonly flag: string
  /** Placeholder in the help ('' for a boolean). */
  readonly value: string
  readonly help: string
  /** An alias: accepted, never listed in the help or named in messages. */
  readonly hidden?: boolean
  /** A boolean flag that sets its input to this value (`--no-rollback-on-failure`: 'false'). */
  readonly sets?: string
}

function flag(name: string, value: string, help: string, more: Partial<FlagSpec> = {}): FlagSpec {
  return { flag: name, value, help, ...more }
}

export interface InputSpec {
  /** The action.yml name; the CLI's variable is RAD_ + it in capitals, - as _. */
  readonly name: string
  /**
   * list: hosts, newlines or commas; lines: one item a line; script: sh text run on the server;
   * secret: the CLI reads it from a file or a variable (cli/settings.ts), never from argv;
   * command: the CLI's first word.
   */
  readonly kind: 'text' | 'number' | 'boolean' | 'list' | 'lines' | 'script' | 'secret' | 'command'
  /** The default action.yml gives (none: ''); the parser applies the same to an empty input. */
  readonly default?: string
  /** `required: true` in action.yml (what the runner checks; the parser checks more, e.g. source). */
  readonly required?: true
  /** action.yml's description, word for word. */
  readonly description: string
  /** The README inputs table: its default column (markdown: `22`, required, generated)… */
  readonly docDefault: string
  /** …and its meaning column. */
  readonly meaning: string
  /** A hook may write a key on the server on purpose; every other input refuses a private key. */
  readonly mayHoldKey?: true
  /** The commands it applies to on the command line (absent: not a flag). */
  readonly scope?: Scopes
  /** Its flags; the first that is not hidden names it in messages. */
  readonly flags?: readonly FlagSpec[]
}

const TABLE = [
  {
    name: 'host',
    kind: 'list',
    required: true,
    description:
      'One or more [user@]host[:port], separated by newlines or commas. IPv6 in brackets, e.g. [2001:db8::1]:2222.',
    docDefault: 'required',
    meaning:
      'one or more `[user@]host[:port]`, separated by newlines or commas; IPv6 in brackets `[2001:db8::1]:2222`',
    scope: 'all',
    flags: [
      flag(
        'host',
        '[USER@]HOST[:PORT]',
        'Server to work on; repeat it or give a comma list for a fleet. Without --key, a Host alias of your ~/.ssh/config works.',
      ),
    ],
  },
  {
    name: 'user',
    kind: 'text',
    description: 'SSH user for hosts that name none.',
    docDefault: '',
    meaning: 'SSH user for hosts that name none',
    scope: 'all',
    flags: [flag('user', 'USER', 'SSH user for hosts that name none (default: what ssh chooses).')],
  },
  {
    name: 'port',
    kind: 'number',
    default: '22',
    description: 'SSH port for hosts that name none.',
    docDefault: '`22`',
    meaning: 'SSH port for hosts that name none',
    scope: 'all',
    flags: [flag('port', 'PORT', 'SSH port for hosts that name none (default: 22, or your ~/.ssh/config).')],
  },
  {
    name: 'key',
    kind: 'secret',
    required: true,
    description:
      'Private key text (OpenSSH or PEM). Pass it from a secret. CRLF and a missing final newline are tolerated.',
    docDefault: 'required',
    meaning:
      'private key text (OpenSSH or PEM), from a secret; CRLF and a missing final newline are tolerated',
    mayHoldKey: true,
    scope: 'all',
    flags: [
      flag(
        'key',
        'FILE',
        'Private key file. Without it: your ssh-agent and the IdentityFile of your ~/.ssh/config.',
      ),
      flag('key-env', 'NAME', 'Read the private key text from the environment variable NAME (a CI secret).'),
    ],
  },
  {
    name: 'key-passphrase',
    kind: 'secret',
    description: 'Passphrase of key. Given to ssh through SSH_ASKPASS, never on a command line.',
    docDefault: '',
    meaning: 'passphrase of `key`, given to ssh through `SSH_ASKPASS`, never on a command line',
    scope: 'all',
    flags: [
      flag(
        'key-passphrase-env',
        'NAME',
        "Read the key's passphrase from the environment variable NAME (never from the command line).",
      ),
    ],
  },
  {
    name: 'known-hosts',
    kind: 'secret',
    description:
      'known_hosts lines (as ssh-keyscan prints them) and/or SHA256 fingerprints, one per line. Required unless accept-unknown-host-key is true.',
    docDefault: 'required*',
    meaning:
      '`known_hosts` lines (as `ssh-keyscan` prints them; plain `host key` lines work for any port) and/or `SHA256:` fingerprints, one per line',
    scope: 'all',
    flags: [
      flag(
        'known-hosts',
        'FILE',
        'known_hosts lines and/or SHA256: fingerprints to trust. Without it: your own known_hosts. Host keys are checked either way.',
      ),
    ],
  },
  {
    name: 'accept-unknown-host-key',
    kind: 'boolean',
    default: 'false',
    description:
      'Trust the host key on first use instead of known-hosts (prints the key to pin). Not recommended.',
    docDefault: '`false`',
    meaning: '*instead of `known-hosts`: trust on first use, with a warning that prints the key to pin',
    scope: 'all',
    flags: [
      flag(
        'accept-unknown-host-key',
        '',
        "Trust a server's key on first use and print it to pin (not recommended).",
      ),
    ],
  },
  {
    name: 'jump-host',
    kind: 'text',
    description:
      '[user@]host[:port] to connect through (ssh ProxyJump); its key is checked against known-hosts too.',
    docDefault: '',
    meaning: '`[user@]host[:port]` to connect through; its key is checked against `known-hosts` too',
    scope: 'all',
    flags: [
      flag(
        'jump-host',
        '[USER@]HOST[:PORT]',
        'Go through this host (ssh ProxyJump); its key is checked too.',
      ),
    ],
  },
  {
    name: 'source',
    kind: 'text',
    description: 'Local directory to upload (relative to the workspace). Required for deploy.',
    docDefault: 'required for deploy/upload',
    meaning:
      "local directory to upload, relative to the workspace (not `/` or `/tmp`, which hold this tool's private directory with the key)",
    scope: 'uploads',
    flags: [
      flag('source', 'DIR', 'Local directory to upload, relative to the current directory (required).'),
    ],
  },
  {
    name: 'target',
    kind: 'text',
    required: true,
    description:
      'Absolute path of the deploy root on the server (releases/, the link and .deploy/ live inside).',
    docDefault: 'required',
    meaning:
      'absolute path of the deploy root on the server; a directory of its own, not a system one (`/`, `/etc`, `/usr`, `/var`, `/home`, `/proc/…` are refused)',
    scope: 'all',
    flags: [
      flag('target', 'PATH', 'Absolute deploy root on the server, e.g. /var/www/example.com (required).'),
    ],
  },
  {
    name: 'link-name',
    kind: 'text',
    default: 'current',
    description: 'Name of the symlink inside target that the web server serves from.',
    docDefault: '`current`',
    meaning: 'name of the symlink inside `target` that the web server serves',
    scope: 'all',
    flags: [
      flag('link-name', 'NAME', 'The symlink in the target the web server serves from (default: current).'),
    ],
  },
  {
    name: 'release-id',
    kind: 'text',
    description:
      'Release directory name. Default UTC time + tag or short sha + a random part, e.g. 20261121T235501Z-v1.2.3-3f9a1c. For verify: the release to check (default: the live one).',
    docDefault: 'generated',
    meaning:
      '`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`; default UTC time + tag or short sha + 6 random hex digits (two runs in the same second never collide), e.g. `20261121T235501Z-v1.2.3-3f9a1c`; for `verify`: the release to check (default: the live one)',
    scope: ['releaseId', 'verifies'],
    flags: [
      flag(
        'release-id',
        'ID',
        'Name of the new release (default: UTC time + tag or short commit). Required for upload and activate. For verify: the release to check (default: the live one).',
      ),
      flag('release', 'ID', 'Same as --release-id.', { hidden: true }),
    ],
  },
  {
    name: 'command',
    kind: 'command',
    default: 'deploy',
    description:
      'deploy, rollback, list, prune or unlock (doctor checks the server and changes nothing; verify proves what a release holds); for fleets split across jobs, upload (per host) then activate (all hosts).',
    docDefault: '`deploy`',
    meaning:
      '`deploy`, `rollback`, `list`, `prune`, `unlock`, `doctor`, `verify`; for fleets split across jobs: `upload`, `activate`',
  },
  {
    name: 'rollback-to',
    kind: 'text',
    description: 'Release id to roll back to. Empty means the release that was live before the current one.',
    docDefault: 'previous',
    meaning: 'release id to roll back to; empty means the release that was live before the current one',
    scope: 'picksRelease',
    flags: [
      flag(
        'to',
        'ID',
        'Release to roll back to (default: the good one that was live before). Also --rollback-to.',
      ),
      flag('rollback-to', 'ID', 'Same as --to.', { hidden: true }),
    ],
  },
  {
    name: 'keep-releases',
    kind: 'number',
    default: '5',
    description:
      'Good releases kept after each deploy (0 keeps all). The live one and its rollback target are never deleted.',
    docDefault: '`5`',
    meaning:
      'good releases kept after each deploy (`0` keeps all); the live one and its rollback target are never deleted',
    scope: 'prunes',
    flags: [
      flag(
        'keep-releases',
        'N',
        'Good releases kept (default: 5; 0 keeps all). The live one and its rollback target always stay.',
      ),
    ],
  },
  {
    name: 'exclude',
    kind: 'lines',
    description: 'rsync exclude patterns, one per line.',
    docDefault: '',
    meaning:
      'rsync exclude patterns, one per line; every line counts, `#` ones too (`#*#` is a pattern, there are no comment lines)',
    scope: 'uploads',
    flags: [flag('exclude', 'PATTERN', 'rsync exclude pattern (repeatable).')],
  },
  {
    name: 'filter',
    kind: 'lines',
    description: 'rsync filter rules, one per line.',
    docDefault: '',
    meaning: 'rsync filter rules, one per line (no comment lines)',
    scope: 'uploads',
    flags: [flag('filter', 'RULE', 'rsync filter rule (repeatable).')],
  },
  {
    name: 'chmod',
    kind: 'text',
    description:
      'rsync --chmod spec applied during the transfer. Default u+rwX,go+rX,go-w (readable by all, writable by owner only).',
    docDefault: '`u+rwX,go+rX,go-w`',
    meaning: 'rsync `--chmod` applied during the transfer (readable by all, writable by the owner only)',
    scope: 'uploads',
    flags: [
      flag('chmod', 'SPEC', 'rsync --chmod spec applied during the transfer (default: u+rwX,go+rX,go-w).'),
    ],
  },
  {
    name: 'shared',
    kind: 'lines',
    description:
      'Paths (one per line, relative to the release) kept in target/shared and symlinked into every release, e.g. storage or public/uploads.',
    docDefault: '',
    meaning: 'paths (one per line) kept in `target/shared/` and symlinked into every release, e.g. `storage`',
    scope: 'releaseId',
    flags: [
      flag(
        'shared',
        'PATH',
        'Path kept in TARGET/shared and linked into every release, e.g. storage (repeatable).',
      ),
    ],
  },
  {
    name: 'keep-assets',
    kind: 'list',
    description:
      'Patterns (newlines or commas, relative to the release, e.g. assets/** or _next/static/**) of files that stay reachable after a switch: those of the last keep-assets-releases releases that the new build lacks are hard-linked into it.',
    docDefault: '',
    meaning:
      'patterns (newlines or commas, relative to the release: `assets/**`, `_next/static/**`, `*.js`) of old files kept reachable: those of the last `keep-assets-releases` releases that the new build lacks are hard-linked into it before it goes live (see [Old assets stay reachable](#old-assets-stay-reachable-keep-assets))',
    scope: 'switches',
    flags: [
      flag(
        'keep-assets',
        'PATTERN',
        'Keep old files matching PATTERN (e.g. assets/**) reachable: hard-linked from the last releases when the new build lacks them (repeatable).',
      ),
    ],
  },
  {
    name: 'keep-assets-releases',
    kind: 'number',
    default: '2',
    description: 'How many of the last releases keep-assets keeps files from (the live one first).',
    docDefault: '`2`',
    meaning:
      'how many of the last releases `keep-assets` keeps files from (the live one first); a file lives at most that many releases past the build that had it',
    scope: 'switches',
    flags: [
      flag(
        'keep-assets-releases',
        'N',
        'How many of the last releases --keep-assets keeps files from (default: 2).',
      ),
    ],
  },
  {
    name: 'before-switch',
    kind: 'script',
    description:
      'Shell script run on the server (sh, in the new release) before it goes live. If it fails nothing switches.',
    docDefault: '',
    meaning:
      'shell script run on the server (`sh`, in the new release) before it goes live; failure = nothing switches',
    mayHoldKey: true,
    scope: 'switches',
    flags: [
      flag(
        'before-switch',
        'SCRIPT',
        'Shell script run on the server in the new release before it goes live; failure = no switch.',
      ),
    ],
  },
  {
    name: 'after-switch',
    kind: 'script',
    description:
      'Shell script run on the server after the switch, e.g. reload a service or reset PHP opcache.',
    docDefault: '',
    meaning: 'shell script run on the server after the switch, e.g. reload a service',
    mayHoldKey: true,
    scope: 'switches',
    flags: [
      flag('after-switch', 'SCRIPT', 'Shell script run on the server after the switch (reload a service).'),
    ],
  },
  {
    name: 'healthcheck-url',
    kind: 'text',
    description:
      'URL that must answer 2xx after the switch (retried with backoff for up to a minute), else the switch is reverted.',
    docDefault: '',
    meaning:
      "URL that must answer 2xx after the switch (retried for up to a minute), else the switch is reverted. `user:password@` is sent as Basic auth; the userinfo and query values are masked in every message; redirects are followed only on the URL's own host",
    scope: 'switches',
    flags: [
      flag(
        'healthcheck-url',
        'URL',
        'URL that must answer 2xx after the switch, else the switch is reverted.',
      ),
    ],
  },
  {
    name: 'rollback-on-failure',
    kind: 'boolean',
    default: 'true',
    description: 'Switch back when after-switch or the health check fails.',
    docDefault: '`true`',
    meaning: 'revert the switch when `after-switch` or the health check fails',
    scope: 'switches',
    flags: [
      flag(
        'rollback-on-failure',
        '',
        'Revert the switch when after-switch or the health check fails (the default).',
      ),
      flag('no-rollback-on-failure', '', 'Keep the new release live even then.', { sets: 'false' }),
    ],
  },
  {
    name: 'dry-run',
    kind: 'boolean',
    default: 'false',
    description:
      'Connect and check everything, show what would be sent and what would switch; change nothing.',
    docDefault: '`false`',
    meaning: 'connect and check everything, list what would be sent and what would switch; change nothing',
    scope: 'uploads',
    flags: [flag('dry-run', '', 'Show what would be sent and what would switch; change nothing.')],
  },
  {
    name: 'allow-empty',
    kind: 'boolean',
    default: 'false',
    description:
      'Deploy a release with no files (an empty source, or exclude/filter that leave nothing) on purpose; without it such a release is refused.',
    docDefault: '`false`',
    meaning:
      'deploy a release with no files on purpose; without it an empty `source`, or `exclude`/`filter` that leave nothing, is refused and nothing changes',
    scope: 'uploads',
    flags: [
      flag('allow-empty', '', 'Deploy a release with no files on purpose (else an empty one is refused).'),
    ],
  },
  {
    name: 'max-parallel',
    kind: 'number',
    default: '8',
    description: 'Hosts worked on at once.',
    docDefault: '`8`',
    meaning: 'hosts worked on at once',
    scope: 'all',
    flags: [flag('max-parallel', 'N', 'Hosts worked on at once (default: 8).')],
  },
  {
    name: 'timeout',
    kind: 'number',
    default: '600',
    description: 'Seconds for the whole step before it gives up cleanly (the live release stays as it was).',
    docDefault: '`600`',
    meaning: 'seconds for the whole step before it gives up cleanly',
    scope: 'all',
    flags: [flag('timeout', 'SECONDS', 'For the whole command, then it stops cleanly (default: 600).')],
  },
  {
    name: 'expected-digest',
    kind: 'text',
    description:
      'For verify: the release-digest the release must have (sha256: and 64 hex digits, as the deploy that built it output).',
    docDefault: '',
    meaning:
      'for `verify`: the `release-digest` the release must have (`sha256:` + 64 hex digits, as the deploy of that build output it)',
    scope: 'verifies',
    flags: [
      flag(
        'expected-digest',
        'DIGEST',
        'The release-digest the release must have (sha256:…, as the deploy of that build printed it).',
      ),
    ],
  },
] as const satisfies readonly InputSpec[]

export type InputName = (typeof TABLE)[number]['name']

/** Every input, in action.yml's order (the help's order too). */
export const INPUTS: readonly (InputSpec & { name: InputName })[] = TABLE

const BY_NAME = new Map<string, InputSpec>(INPUTS.map((i) => [i.name, i]))

export function inputSpec(name: InputName): InputSpec {
  return BY_NAME.get(name) as InputSpec
}

/** The default action.yml passes for an input ('' = none). */
export function defaultOf(name: InputName): string {
  return inputSpec(name).default ?? ''
}
