#!/usr/bin/env node
import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 441:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   W8: () => (/* binding */ noteSpecial),
/* harmony export */   Z8: () => (/* binding */ specialFilesWarning),
/* harmony export */   p9: () => (/* binding */ specialFiles)
/* harmony export */ });
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(24);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(264);



const KEEP = 10;
function kind(e) {
    if (e.isFIFO())
        return 'FIFO';
    if (e.isSocket())
        return 'socket';
    if (e.isCharacterDevice())
        return 'character device';
    if (e.isBlockDevice())
        return 'block device';
    return '';
}
/** Counts `e` (at `rel`) in `found` when it is a FIFO, socket or device. */
function noteSpecial(found, e, rel) {
    const k = kind(e);
    if (!k)
        return;
    found.count++;
    if (found.names.length < KEEP)
        found.names.push(`${k} ${JSON.stringify(rel)}`);
}
/** Walks `source` (symlinks are not followed) and collects what is neither file, dir nor link. */
function specialFiles(source) {
    const found = { count: 0, names: [] };
    const stack = [''];
    while (stack.length > 0) {
        const rel = stack.pop();
        let entries;
        try {
            entries = (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.readdirSync)(node_path__WEBPACK_IMPORTED_MODULE_1___default().join(source, rel), { withFileTypes: true });
        }
        catch {
            continue; // rsync reports what it cannot read
        }
        for (const e of entries) {
            const p = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory())
                stack.push(p);
            else
                noteSpecial(found, e, p);
        }
    }
    return found;
}
/** One bounded warning; names are JSON-quoted, so a name with a newline or escape shows as text. */
function specialFilesWarning(found) {
    if (found.count === 0)
        return '';
    const more = found.count > found.names.length ? `, and ${found.count - found.names.length} more` : '';
    return `The build holds ${(0,_format_js__WEBPACK_IMPORTED_MODULE_2__/* .plural */ .LS)(found.count, 'special file')} that are not deployed (rsync skips FIFOs, sockets and devices): ${found.names.join(', ')}${more}. Remove them from the build if they are not meant to be there.`;
}


/***/ }),

/***/ 581:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var node_util__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(975);
/* harmony import */ var node_util__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_util__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _cli_main_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(615);
// The command-line front end (bin: rsync-atomic-deploy), bundled on its own into dist/cli.


// stdout holds results only (`--json | jq`): what a library prints through console never goes
// there. Its chatter (log, info, debug) is shown on stderr with --verbose only; its warnings and
// errors always.
const verbose = process.argv.slice(2).some((a) => a === '--verbose' || /^-[a-z]*v[a-z]*$/.test(a));
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace']) {
    const chatter = name === 'log' || name === 'info' || name === 'debug';
    console[name] = (...args) => {
        if (!chatter || verbose)
            process.stderr.write(`${(0,node_util__WEBPACK_IMPORTED_MODULE_0__.format)(...args)}\n`);
    };
}
// A reader that stops early (`… | head -1`) closes the pipe: end quietly, no EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e) => {
        if (e.code !== 'EPIPE')
            throw e;
    });
}
process.exitCode = await (0,_cli_main_js__WEBPACK_IMPORTED_MODULE_1__/* .main */ .iW)(process.argv.slice(2), process.env);

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 615:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  iW: () => (/* binding */ main)
});

// UNUSED EXPORTS: EXIT, exitCodeFor

// EXTERNAL MODULE: ./src/errors.ts
var errors = __nccwpck_require__(916);
// EXTERNAL MODULE: ./src/gate.ts
var gate = __nccwpck_require__(956);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __nccwpck_require__(24);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __nccwpck_require__(161);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __nccwpck_require__(760);
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_);
// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __nccwpck_require__(975);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __nccwpck_require__(455);
// EXTERNAL MODULE: ./src/proc.ts + 1 modules
var proc = __nccwpck_require__(684);
// EXTERNAL MODULE: ./src/quote.ts
var quote = __nccwpck_require__(519);
// EXTERNAL MODULE: ./src/remote.ts + 1 modules
var remote = __nccwpck_require__(769);
// EXTERNAL MODULE: ./src/ssh-facts.ts
var ssh_facts = __nccwpck_require__(551);
// EXTERNAL MODULE: ./src/untrusted.ts
var untrusted = __nccwpck_require__(873);
;// CONCATENATED MODULE: ./src/init.ts
/**
 * `rsync-atomic-deploy init`: a fresh deploy key, the line that authorizes it on the server, the
 * server's host keys with their fingerprints, the gh commands that store both in the repository and
 * the workflow that uses them. The texts are pure functions (unit-tested); the few actions (ssh-keygen,
 * ssh-keyscan, the one ssh call of --install) are small functions below them.
 */








/** A word as a person pastes it into a shell: plain when it can be, else quoted. */
function shWord(s) {
    return /^[A-Za-z0-9_./@:,=+-]+$/.test(s) ? s : (0,quote/* shQuote */.US)(s);
}
/** `ssh-ed25519 AAAA… comment` → its key type and base64 blob, or undefined when it is not a key. */
function publicKeyParts(pub) {
    const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/.exec(pub.trim());
    return m ? { type: m[1], blob: m[2] } : undefined;
}
/**
 * The authorized_keys line: `restrict` turns off everything a deploy does not use (pty, port, agent
 * and X11 forwarding, ~/.ssh/rc) and leaves what it does (running `sh -s`, rsync over the session).
 */
function authorizedKeysLine(pub, from = '') {
    const p = publicKeyParts(pub);
    if (!p)
        throw new errors/* DeployError */.s(`not an OpenSSH public key: ${(0,untrusted/* untrusted */.bp)(pub, 80)}`);
    const comment = pub.trim().split(' ').slice(2).join(' ');
    return `${from ? `from="${from}",` : ''}restrict ${p.type} ${p.blob}${comment ? ` ${comment}` : ''}`;
}
/** Where the README and `init --gate` put the gate (as root); `init --install --gate` uses ~/.local/bin. */
const GATE_PATH = '/usr/local/bin/rsync-atomic-deploy-gate';
/** Stands for the gate's path in a line that --install completes on the server (the home is known there). */
const GATE_PATH_MARK = '@GATE_PATH@';
/**
 * The authorized_keys line of a gated key: its forced command is the gate with the target (gate.ts),
 * so whoever holds the key can deploy there and do nothing else.
 */
function gatedKeysLine(pub, target, gatePath = GATE_PATH, from = '') {
    if (!/^\/[A-Za-z0-9._/@+-]+$/.test(target)) {
        throw new errors/* DeployError */.s(`--gate: the target ${(0,untrusted/* untrusted */.bp)(target, 200)} holds characters the gate does not allow`, 'A gated target may hold only letters, digits and . _ / @ + - (no spaces or quotes).');
    }
    return `command="${gatePath} ${target}",${authorizedKeysLine(pub, from)}`;
}
/** Only well-formed `host type key` lines of an ssh-keyscan reply (the server's text is untrusted). */
function knownHostsLines(scan) {
    const out = [];
    for (const raw of scan.split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('#'))
            continue;
        const [host = '', ...key] = line.split(/\s+/);
        if (!/^[A-Za-z0-9.:[\]_-]+$/.test(host) || !publicKeyParts(key.join(' ')))
            continue;
        out.push(`${host} ${key.slice(0, 2).join(' ')}`);
    }
    return [...new Set(out)];
}
/** `ssh -G` output → the host, port, user and ProxyJump ssh would use (aliases of ~/.ssh/config resolved). */
function resolvedHost(sshG) {
    const get = (k) => new RegExp(`^${k} (.*)$`, 'm').exec(sshG)?.[1]?.trim() ?? '';
    const pj = get('proxyjump');
    return {
        hostname: get('hostname'),
        port: Number(get('port')) || 22,
        user: get('user'),
        proxyJump: pj === 'none' ? '' : pj,
    };
}
/** A YAML scalar that holds any text: a JSON string is a YAML double-quoted string. */
function yamlString(s) {
    return JSON.stringify(s);
}
/** .github/workflows/deploy.yml for this server. */
function workflowText(p) {
    return `# .github/workflows/deploy.yml, made by rsync-atomic-deploy init
name: deploy
on:
  push:
    tags: ['v*']
  workflow_dispatch:
concurrency:
  group: deploy-production # queue deploys of one target, never cancel one half-way
  cancel-in-progress: false
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: npm ci && npm run build # your build; its output is in ./${p.source}
      - uses: rsync-atomic-deploy/rsync-atomic-deploy@v1
        with:
          host: ${yamlString(p.host)}
${p.jumpHost ? `          jump-host: ${yamlString(p.jumpHost)}\n` : ''}          key: \${{ secrets.DEPLOY_KEY }}
          known-hosts: \${{ vars.DEPLOY_KNOWN_HOSTS }}
          source: ${yamlString(p.source)}
          target: ${yamlString(p.target)}
`;
}
/** The gh commands that store the key (a secret) and the host keys (a variable) in the repository. */
function ghCommands(keyFile, knownHostsFile) {
    return [
        `gh secret set DEPLOY_KEY < ${shWord(keyFile)}`,
        `gh variable set DEPLOY_KNOWN_HOSTS < ${shWord(knownHostsFile)}`,
    ];
}
/** A fresh ed25519 key with no passphrase (a CI secret cannot type one): private and public text. */
async function generateKey(comment, keygen = 'ssh-keygen') {
    const dir = await (0,promises_.mkdtemp)('/tmp/rad-init-');
    try {
        const file = external_node_path_default().join(dir, 'key');
        const r = await (0,proc/* run */.e)(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
            signal: AbortSignal.timeout(20_000),
        });
        if (r.code !== 0)
            throw new errors/* DeployError */.s(`ssh-keygen failed: ${r.stderr.trim()}`, 'Install OpenSSH (ssh-keygen).');
        return { privateKey: await (0,promises_.readFile)(file, 'utf8'), publicKey: await (0,promises_.readFile)(`${file}.pub`, 'utf8') };
    }
    finally {
        await (0,promises_.rm)(dir, { recursive: true, force: true });
    }
}
/** Writes a new file, never over an existing one (O_EXCL: no check-then-write race). */
async function writeNew(file, text, mode) {
    await (0,promises_.writeFile)(file, text, { mode, flag: 'wx' });
}
/** `ssh-keygen -lf -` of known_hosts lines: `256 SHA256:… host (ED25519)` each. */
async function fingerprints(lines, keygen = 'ssh-keygen') {
    const r = await (0,proc/* run */.e)(keygen, ['-lf', '-'], {
        input: `${lines.join('\n')}\n`,
        signal: AbortSignal.timeout(10_000),
    });
    return r.stdout
        .split('\n')
        .map((l) => (0,untrusted/* untrusted */.bp)(l.trim(), 400))
        .filter(Boolean);
}
/**
 * The server's host keys. Directly: ssh-keyscan (every key type). Through a jump host: ssh itself
 * (ssh-keyscan cannot use one), recording the key it is offered in a scratch file and offering no
 * authentication at all; the jump host is checked by the person's own known_hosts.
 */
async function scanHostKeys(host, jump, sshPath) {
    if (!jump) {
        const r = await (0,proc/* run */.e)(sshPath.replace(/ssh$/, 'ssh-keyscan'), ['-T', '10', '-p', String(host.port), host.hostname], {
            signal: AbortSignal.timeout(30_000),
        });
        return knownHostsLines(r.stdout);
    }
    const dir = await (0,promises_.mkdtemp)('/tmp/rad-init-');
    const file = external_node_path_default().join(dir, 'known_hosts');
    try {
        await (0,proc/* run */.e)(sshPath, [
            '-o',
            `ProxyJump=${jump}`,
            ...(0,ssh_facts/* scanOnlyOptions */.yE)(file),
            '-o',
            'HashKnownHosts=no',
            '-o',
            'ControlPath=none',
            '-o',
            'ConnectTimeout=10',
            '-p',
            String(host.port),
            host.hostname,
            'true',
        ], { signal: AbortSignal.timeout(30_000) });
        return knownHostsLines(await (0,promises_.readFile)(file, 'utf8').catch(() => ''));
    }
    finally {
        await (0,promises_.rm)(dir, { recursive: true, force: true });
    }
}
/**
 * --install, on the server: appends LINE to the login user's ~/.ssh/authorized_keys unless a line
 * with its key (BLOB) is there already; creates ~/.ssh (0700) and the file (0600) when missing.
 * Constant text; the line arrives as a quoted assignment, never as part of a command.
 */
const INSTALL = `
set -u
umask 077
say() { printf '@@rad %s\\n' "$*"; }
fail() { printf '@@rad-error %s %s\\n' "$1" "$2"; exit 3; }
rad_install() {
  h=\${HOME:-}
  [ -n "$h" ] && [ -d "$h" ] || fail no-home "the user $(id -un) has no home directory ($h)"
  if [ ! -d "$h/.ssh" ]; then
    mkdir -m 700 -- "$h/.ssh" || fail install-failed "cannot create $h/.ssh"
    say created "$h/.ssh"
  fi
  if [ -n "$GATE" ]; then
    # The gate in the user's own bin: outside every target, so the gated key cannot change it.
    gp="$h/.local/bin/rsync-atomic-deploy-gate"
    case $gp in *[!A-Za-z0-9._/@+-]*) fail install-failed "the home directory $h holds characters the gate's path cannot" ;; esac
    mkdir -p -- "$h/.local/bin" && printf '%s' "$GATE" > "$gp.tmp" && chmod 755 "$gp.tmp" && mv -f -- "$gp.tmp" "$gp" ||
      fail install-failed "cannot write $gp"
    say gate "$gp"
    LINE=$(printf '%s\n' "$LINE" | sed "s|@GATE_PATH@|$gp|")
  fi
  f="$h/.ssh/authorized_keys"
  if [ -f "$f" ] && grep -v '^[[:space:]]*#' "$f" | grep -qF -- " $BLOB"; then say already "$f"; return 0; fi
  if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf '\\n' >> "$f" || fail install-failed "cannot write $f"; fi
  printf '%s\\n' "$LINE" >> "$f" || fail install-failed "cannot write $f"
  grep -qF -- " $BLOB" "$f" || fail install-failed "the line is not in $f after writing it"
  say added "$f"
}
`;
/** The --install script; with `gate` (its text) it installs the gate too, and LINE names it (GATE_PATH_MARK). */
function installScript(line, gate = '') {
    const p = publicKeyParts(line.replace(/^(command="[^"]*",)?(from="[^"]*",)?restrict /, ''));
    if (!p)
        throw new errors/* DeployError */.s('not an authorized_keys line');
    return `${(0,quote/* shAssignments */.KM)({ LINE: line, BLOB: p.blob, GATE: gate })}\n${INSTALL}\nexec </dev/null; rad_install; exit $?\n`;
}
/** What --install did on the server, as it said; throws with its reason when it could not. */
async function installKey(ssh, host, line, gate = '', onGate = () => { }) {
    await ssh.connect(0, host.label);
    const r = await ssh.exec(0, installScript(line, gate), { signal: AbortSignal.timeout(60_000) });
    const reply = (0,remote/* parseReply */.UV)(r.stdout);
    if (reply.error)
        throw new errors/* DeployError */.s(`${host.label}: ${reply.error.message}`, '', reply.error.code);
    // Where the gate went (the server's text: only a plain absolute path is shown).
    const gatePath = reply.values.get('gate')?.[0] ?? '';
    if (/^\/[A-Za-z0-9._/@+-]+$/.test(gatePath))
        onGate(gatePath);
    if (reply.values.has('added'))
        return 'added';
    if (reply.values.has('already'))
        return 'already';
    throw new errors/* DeployError */.s(`${host.label}: installing the key failed (exit code ${r.code}): ${(0,untrusted/* untrusted */.bp)(r.stderr.trim(), 300) || 'no message'}`, 'Check that your own `ssh HOST` logs in as the deploy user, or add the line by hand.', 'install-failed');
}

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __nccwpck_require__(598);
// EXTERNAL MODULE: ./src/healthcheck.ts
var healthcheck = __nccwpck_require__(689);
;// CONCATENATED MODULE: ./src/hosts.ts

const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;
function parsePort(input, value) {
    if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
        throw new errors/* InputError */.d(input, `'${value}' is not a port number`, 'Give a whole number from 1 to 65535, e.g. 22.');
    }
    return Number(value);
}
function parseUser(input, value) {
    if (!USER_RE.test(value)) {
        throw new errors/* InputError */.d(input, `'${value}' is not a valid user name`, 'Use letters, digits, ".", "_" and "-" only, not starting with "-", e.g. deploy.');
    }
    return value;
}
function formatHost(user, host, port) {
    const h = host.includes(':') ? `[${host}]` : host;
    return `${user ? `${user}@` : ''}${h}${port === 22 ? '' : `:${port}`}`;
}
/** Parses one `[user@]host[:port]` (IPv6 in brackets: `[::1]:2222`). */
function parseHost(input, raw, defaultUser, defaultPort) {
    const value = raw.trim();
    const example = 'Write [user@]host[:port], e.g. deploy@example.com:2222 or [2001:db8::1]:22.';
    if (value === '')
        throw new errors/* InputError */.d(input, 'a host is empty', example);
    if (value.startsWith('-'))
        throw new errors/* InputError */.d(input, `'${value}' starts with "-"`, example);
    let rest = value;
    let user = defaultUser;
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
        user = parseUser(input, rest.slice(0, at));
        rest = rest.slice(at + 1);
    }
    let host;
    let port = defaultPort;
    if (rest.startsWith('[')) {
        const close = rest.indexOf(']');
        if (close < 0)
            throw new errors/* InputError */.d(input, `'${value}' has "[" without "]"`, example);
        host = rest.slice(1, close);
        const after = rest.slice(close + 1);
        if (after !== '') {
            if (!after.startsWith(':'))
                throw new errors/* InputError */.d(input, `'${value}' has text after "]"`, example);
            port = parsePort(input, after.slice(1));
        }
        if (!IPV6_RE.test(host) || !host.includes(':')) {
            throw new errors/* InputError */.d(input, `'${host}' in brackets is not an IPv6 address`, example);
        }
    }
    else {
        const colons = rest.split(':').length - 1;
        if (colons > 1) {
            throw new errors/* InputError */.d(input, `'${value}' looks like an IPv6 address without brackets`, example);
        }
        if (colons === 1) {
            const i = rest.indexOf(':');
            port = parsePort(input, rest.slice(i + 1));
            rest = rest.slice(0, i);
        }
        host = rest;
        if (!HOSTNAME_RE.test(host))
            throw new errors/* InputError */.d(input, `'${host}' is not a valid host name or address`, example);
    }
    return { user, host, port, label: formatHost(user, host, port) };
}
/** Splits a list input on newlines and commas, dropping blanks and `#` comments. */
function splitList(value) {
    return value
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter((s) => s !== '' && !s.startsWith('#'));
}

// EXTERNAL MODULE: ./src/keep-assets.ts
var keep_assets = __nccwpck_require__(602);
;// CONCATENATED MODULE: ./src/key.ts

const FIX_PRIVATE = 'Store the whole private key (the file without .pub, from "-----BEGIN OPENSSH PRIVATE KEY-----" to "-----END …-----") in a secret and pass it as key: ${{ secrets.DEPLOY_KEY }}.';
/**
 * Normalises pasted key text: CRLF and a missing final newline make ssh fail with
 * "error in libcrypto", so we fix those; we explain what cannot be fixed.
 */
function normalizeKey(value) {
    // Trim every line first: an indented "-----BEGIN" line must still count as the marker.
    const text = value
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .map((l) => l.trim())
        .join('\n')
        .trim();
    if (text === '')
        throw new errors/* InputError */.d('key', 'is empty', FIX_PRIVATE);
    if (/^PuTTY-User-Key-File-/m.test(text)) {
        throw new errors/* InputError */.d('key', 'is a PuTTY key (.ppk), which OpenSSH cannot read', 'Convert it: `puttygen key.ppk -O private-openssh -o id_deploy` (or PuTTYgen → Conversions → Export OpenSSH key), and store that file instead.');
    }
    if (/^(ssh-|ecdsa-|sk-)\S+ AAAA/.test(text)) {
        throw new errors/* InputError */.d('key', 'is a public key (it starts with "ssh-…  AAAA"), not the private key', FIX_PRIVATE);
    }
    if (/^---- BEGIN SSH2 PUBLIC KEY ----/.test(text)) {
        throw new errors/* InputError */.d('key', 'is a public key in SSH2 format, not the private key', FIX_PRIVATE);
    }
    const begin = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----$/m.exec(text);
    if (!begin || !/^-----END ([A-Z0-9 ]*)PRIVATE KEY-----$/m.test(text)) {
        throw new errors/* InputError */.d('key', 'does not look like a private key (no "-----BEGIN … PRIVATE KEY-----" block)', FIX_PRIVATE);
    }
    // Lines pasted with stray indentation break the base64 body; the markers themselves must stay whole.
    return `${text
        .split('\n')
        .map((l) => l.trim())
        .join('\n')}\n`;
}
/** Every line of the key, for core.setSecret (a multi-line secret is masked line by line). */
function secretLines(key) {
    return key
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length >= 8 && !l.startsWith('-----'));
}

// EXTERNAL MODULE: ./src/knownhosts.ts
var knownhosts = __nccwpck_require__(41);
// EXTERNAL MODULE: ./src/spec.ts
var spec = __nccwpck_require__(188);
;// CONCATENATED MODULE: ./src/settings.ts

/** In the order the help and messages list them (spec.ts says what each one does). */
const COMMANDS = Object.keys(spec/* COMMAND_SPECS */.fH);

// EXTERNAL MODULE: ./src/words.ts
var words = __nccwpck_require__(846);
;// CONCATENATED MODULE: ./src/inputs.ts












const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const LINK_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const RESERVED_NAMES = new Set(['releases', 'shared', '.deploy']);
// chmod(1) symbolic clauses with rsync's D/F prefixes, or D/F + octal: "D755,F644", "u+rwX,go+rX,go-w".
const CHMOD_CLAUSE_RE = /^([DF]?[ugoa]*[-+=][rwxXst]*|[DF]?[0-7]{3,4})$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
/** Inputs that can never hold a private key (hooks might write one on the server, on purpose). */
const NEVER_A_KEY = spec/* INPUTS */.mc.filter((i) => !i.mayHoldKey).map((i) => i.name);
/** Owner may write; everyone may read (and enter directories / run what was executable). */
const DEFAULT_CHMOD = 'u+rwX,go+rX,go-w';
// Empty means the default action.yml gives (spec.ts): the CLI passes '' for what it was not given.
function bool(get, name) {
    const dflt = (0,spec/* defaultOf */.HA)(name) === 'true';
    const v = get(name).trim().toLowerCase();
    if (v === '')
        return dflt;
    if (['true', 'yes', '1', 'on'].includes(v))
        return true;
    if (['false', 'no', '0', 'off'].includes(v))
        return false;
    throw new errors/* InputError */.d(name, `'${v}' is not a boolean`, 'Use true or false.');
}
function wholeNumber(get, name, min, max) {
    const dflt = Number((0,spec/* defaultOf */.HA)(name));
    const v = get(name).trim();
    if (v === '')
        return dflt;
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
        throw new errors/* InputError */.d(name, `'${v}' is not a whole number from ${min} to ${max}`, `e.g. ${dflt}.`);
    }
    return Number(v);
}
function noControl(name, value, what = 'value') {
    if (CONTROL_RE.test(value)) {
        throw new errors/* InputError */.d(name, `the ${what} contains control characters (newline, tab, escape…)`, 'Remove them.');
    }
    return value;
}
// Every non-empty line counts, '#' ones too: `#*#` (editor autosaves) is a common exclude pattern,
// and a line dropped as a "comment" would change what is uploaded without a word.
function lines(get, name) {
    return get(name)
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .map((l) => noControl(name, l, 'line'));
}
// How an rsync filter rule starts: a rule name, then its modifiers or the separator before the
// pattern. rsync checks the rest itself (before it sends anything); this only keeps out what is
// no rule at all — it accepts every rule rsync 3.x accepts.
const FILTER_RULE_RE = /^(?:[-+.:HSPR!]|exclude|include|merge|dir-merge|hide|show|protect|risk|clear)(?:[,/!Csrpxenw+\- _].*)?$/s;
function filterRule(rule) {
    if (!FILTER_RULE_RE.test(rule)) {
        throw new errors/* InputError */.d('filter', `'${rule}' is not an rsync filter rule`, 'Start each line with a rule and a space, e.g. "- *.log", "+ /keep/***" or "P /uploads/" (FILTER RULES in man rsync). Every line is a rule: there are no comment lines.');
    }
    return rule;
}
/** True at the first entry that is not a directory (a file, a symlink…): stops early on real builds. */
function hasAnyFile(dir) {
    let entries;
    try {
        entries = (0,external_node_fs_.readdirSync)(dir, { withFileTypes: true });
    }
    catch {
        return true; // unreadable: let rsync say why
    }
    for (const e of entries)
        if (!e.isDirectory())
            return true;
    return entries.some((e) => hasAnyFile(external_node_path_default().join(dir, e.name)));
}
function parseTarget(name, value) {
    const v = value.trim();
    const good = 'Give an absolute path like /var/www/example.com, without "." or ".." parts or a trailing "/".';
    if (v === '')
        throw new errors/* InputError */.d(name, 'is required', good);
    noControl(name, v, 'path');
    if (v.length > 1024)
        throw new errors/* InputError */.d(name, 'is longer than 1024 characters', good);
    if (!v.startsWith('/'))
        throw new errors/* InputError */.d(name, `'${v}' is not an absolute path`, good);
    const parts = v.slice(1).split('/');
    if (v === '/') {
        throw new errors/* InputError */.d(name, "'/' is the root of the server's file system", `${good} ${OWN_DIR}`);
    }
    if (parts.some((p) => p === '' || p === '.' || p === '..')) {
        throw new errors/* InputError */.d(name, `'${v}' is not a normalised path`, good);
    }
    const system = systemDirectory(v);
    if (system)
        throw new errors/* InputError */.d(name, `'${v}' is ${system}`, OWN_DIR);
    return v;
}
const OWN_DIR = 'Deploy into a directory of its own, e.g. /var/www/example.com or /srv/example.com: the tool creates releases/, shared/, .deploy/ and the link in it.';
// The system's own directories: a deploy root there would mix releases/, .deploy/ and the link
// into what the OS owns (and a mistyped variable, e.g. target: /${{ vars.SITE }}, lands here).
const SYSTEM_DIRS = new Set([
    '/bin',
    '/boot',
    '/dev',
    '/etc',
    '/home',
    '/lib',
    '/lib32',
    '/lib64',
    '/libx32',
    '/media',
    '/mnt',
    '/opt',
    '/proc',
    '/root',
    '/run',
    '/sbin',
    '/srv',
    '/sys',
    '/tmp',
    '/usr',
    '/var',
    '/usr/bin',
    '/usr/include',
    '/usr/lib',
    '/usr/lib64',
    '/usr/libexec',
    '/usr/local',
    '/usr/sbin',
    '/usr/share',
    '/usr/src',
    '/var/backups',
    '/var/cache',
    '/var/lib',
    '/var/local',
    '/var/lock',
    '/var/log',
    '/var/mail',
    '/var/opt',
    '/var/run',
    '/var/spool',
    '/var/tmp',
]);
/** Trees that hold no files of anyone's: the kernel's and the boot loader's, and programs' own. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/run', '/boot', '/bin', '/sbin', '/lib', '/lib64', '/etc'];
/** What a system directory is, in words, or '' for a path that may be a deploy root. */
function systemDirectory(p) {
    if (SYSTEM_DIRS.has(p))
        return 'a system directory';
    const tree = SYSTEM_TREES.find((t) => p.startsWith(`${t}/`));
    return tree ? `inside ${tree}, a system directory` : '';
}
function parseReleaseId(name, value) {
    if (!RELEASE_ID_RE.test(value)) {
        throw new errors/* InputError */.d(name, `'${value}' is not a valid release id`, 'Use 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. 20261121T235501Z-v1.2.3.');
    }
    return value;
}
function parseSharedPath(value) {
    const good = 'Give paths relative to the release, e.g. storage or public/uploads.';
    const p = value.replace(/\/+$/, '');
    if (p.startsWith('/'))
        throw new errors/* InputError */.d('shared', `'${value}' is absolute`, good);
    const parts = p.split('/');
    if (parts.some((s) => s === '' || s === '.' || s === '..')) {
        throw new errors/* InputError */.d('shared', `'${value}' is not a normalised relative path`, good);
    }
    return p;
}
/** `storage` with `storage/logs` would replace the inner one, through the outer one's link, by a link to itself. */
function sharedPaths(list) {
    const unique = [...new Set(list)];
    for (const p of unique) {
        const outer = unique.find((o) => p.startsWith(`${o}/`));
        if (outer) {
            throw new errors/* InputError */.d('shared', `'${p}' is inside '${outer}'`, `List only ${outer}: what is inside it is shared with it.`);
        }
    }
    return unique;
}
/** Where ssh.ts makes its private directory (the key, known_hosts): /tmp/rad-XXXXXX. */
const PRIVATE_DIR_PARENT = '/tmp';
/**
 * The private directory's parent when `dir` contains it ('/' and /tmp do), else ''. Compared
 * after resolving symlinks, so a link to /tmp (or macOS's /tmp → /private/tmp) counts too.
 */
function holdsPrivateDir(dir, parent = PRIVATE_DIR_PARENT) {
    let real = dir;
    let tmp = parent;
    try {
        real = (0,external_node_fs_.realpathSync)(dir);
        tmp = (0,external_node_fs_.realpathSync)(parent);
    }
    catch { }
    const inside = (a, b) => a === b || b.startsWith(a === '/' ? '/' : `${a}/`);
    return inside(real, tmp) || inside(dir, parent) ? parent : '';
}
/**
 * `YYYYMMDDTHHMMSSZ-<tag or short sha>-<6 hex>`: sorts by time and says what was deployed; the
 * random end keeps two runs started in the same second (a re-run, two tags pushed at once) apart.
 */
function defaultReleaseId(now, env, unique = (0,external_node_crypto_.randomBytes)(3).toString('hex')) {
    const stamp = now
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z');
    const tag = env.GITHUB_REF_TYPE === 'tag' ? (env.GITHUB_REF_NAME ?? '') : '';
    // 16 + 1 + 76 + 1 + 6: within the 100 characters of a release id.
    const label = (tag || (env.GITHUB_SHA ?? '').slice(0, 7)).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 76);
    return [stamp, label, unique].filter((p) => p !== '').join('-');
}
function runMeta(env) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    return {
        sha: env.GITHUB_SHA ?? '',
        ref: env.GITHUB_REF ?? '',
        actor: env.GITHUB_ACTOR ?? env.USER ?? '',
        runUrl: env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
            ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
            : '',
    };
}
function parseHosts(get) {
    const user = get('user').trim() === '' ? '' : parseUser('user', get('user').trim());
    const port = parsePort('port', get('port').trim() || (0,spec/* defaultOf */.HA)('port'));
    const raw = splitList(get('host'));
    if (raw.length === 0) {
        throw new errors/* InputError */.d('host', 'is required', 'Give the server as [user@]host[:port], e.g. deploy@example.com.');
    }
    const hosts = raw.map((h) => parseHost('host', h, user, port));
    const seen = new Set();
    for (const h of hosts) {
        if (seen.has(h.label))
            throw new errors/* InputError */.d('host', `${h.label} is listed twice`, 'List each host once.');
        seen.add(h.label);
    }
    const jump = get('jump-host').trim();
    return { hosts, jumpHost: jump === '' ? undefined : parseHost('jump-host', jump, user, 22) };
}
function parseTrust(get, accept) {
    const trusted = (0,knownhosts/* parseKnownHosts */.uJ)('known-hosts', get('known-hosts'));
    if (!accept && trusted.lines.length === 0 && trusted.fingerprints.length === 0) {
        throw new errors/* InputError */.d('known-hosts', 'is required: without it we cannot tell your server from an impostor', 'Run `ssh-keyscan -p PORT HOST` on a machine you trust, check the fingerprint against the server (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), and store the lines in a secret or variable. Or set accept-unknown-host-key: true to trust on first use (not recommended).');
    }
    return trusted;
}
/** Reads and validates every input. Pure apart from checking that `source` is a directory. */
function parseSettings(get, env = process.env, now = new Date(), options = {}) {
    // A private key pasted into another input would be echoed by that input's error (before it is
    // masked) or even used (a shared path, an exclude pattern): refuse it, without repeating it.
    for (const name of NEVER_A_KEY) {
        if (/PRIVATE KEY-----/.test(get(name))) {
            throw new errors/* InputError */.d(name, 'holds a private key', 'Only key takes the private key. Check which secret this input is given.');
        }
    }
    const w = options.words ?? words/* ACTION_WORDS */.d;
    const command = (get('command').trim() || (0,spec/* defaultOf */.HA)('command'));
    if (!COMMANDS.includes(command)) {
        throw new errors/* InputError */.d('command', `'${command}' is not a command`, `Use one of: ${COMMANDS.join(', ')}.`);
    }
    const { hosts, jumpHost } = parseHosts(get);
    const keyText = get('key');
    const key = keyText.trim() === '' ? '' : normalizeKey(keyText);
    if (key === '' && !options.allowOwnSsh) {
        throw new errors/* InputError */.d('key', 'is required', 'Pass the private deploy key from a secret: key: ${{ secrets.DEPLOY_KEY }}.');
    }
    const keyPassphrase = get('key-passphrase');
    if (/[\r\n]/.test(keyPassphrase)) {
        throw new errors/* InputError */.d('key-passphrase', 'contains a newline', 'Store the passphrase alone, without a trailing newline.');
    }
    const acceptUnknownHostKey = bool(get, 'accept-unknown-host-key');
    const trusted = parseTrust(get, acceptUnknownHostKey || options.allowOwnSsh === true);
    const target = parseTarget('target', get('target'));
    const linkName = get('link-name').trim() || (0,spec/* defaultOf */.HA)('link-name');
    if (!LINK_NAME_RE.test(linkName) || RESERVED_NAMES.has(linkName)) {
        throw new errors/* InputError */.d('link-name', `'${linkName}' is not a usable link name`, 'Use a plain name without "/", other than releases, shared or .deploy, e.g. current.');
    }
    const needsSource = (0,spec/* commandSpec */.Lx)(command).uploads === true;
    let source = '';
    if (needsSource) {
        const s = get('source').trim();
        if (s === '')
            throw new errors/* InputError */.d('source', 'is required', `Give the build directory, e.g. ${w.input('source', 'public')}.`);
        noControl('source', s, 'path');
        source = external_node_path_default().resolve(env.GITHUB_WORKSPACE ?? process.cwd(), s);
        let isDir = false;
        try {
            isDir = (0,external_node_fs_.statSync)(source).isDirectory();
        }
        catch { }
        if (!isDir) {
            throw new errors/* InputError */.d('source', `'${s}' is not a directory (looked at ${source})`, 'Build first, then give the output directory relative to the workspace, e.g. dist or public.');
        }
        const holds = holdsPrivateDir(source);
        if (holds) {
            throw new errors/* InputError */.d('source', `'${s}' (${source}) contains ${holds}, where this tool keeps the deploy key while it runs: it would be uploaded`, 'Give the build directory itself, e.g. dist or public, not a parent of /tmp.');
        }
    }
    const allowEmpty = bool(get, 'allow-empty');
    // An empty build going live is a broken build step far more often than a wish: refuse it here,
    // before any connection (exclude/filter that leave nothing are caught after the upload).
    if (needsSource && !allowEmpty && !hasAnyFile(source)) {
        throw new errors/* InputError */.d('source', `'${get('source').trim()}' holds no files (looked at ${source})`, 'Check that the build ran and wrote there. To deploy an empty release on purpose, set allow-empty: true.');
    }
    const givenId = get('release-id').trim();
    if ((0,spec/* commandSpec */.Lx)(command).releaseId === 'required' && givenId === '') {
        throw new errors/* InputError */.d('release-id', `is required for command ${command}`, `Give the same release id to upload and activate, e.g. ${w.input('release-id', w === words/* ACTION_WORDS */.d ? '${{ github.run_id }}' : '"$CI_PIPELINE_ID"')}.`);
    }
    const releaseId = givenId === '' ? defaultReleaseId(now, env) : parseReleaseId('release-id', givenId);
    const rollbackTo = get('rollback-to').trim();
    if (rollbackTo !== '')
        parseReleaseId('rollback-to', rollbackTo);
    const expectedDigest = parseExpectedDigest(get('expected-digest'));
    const chmod = get('chmod').trim() || DEFAULT_CHMOD;
    if (!chmod.split(',').every((c) => CHMOD_CLAUSE_RE.test(c))) {
        throw new errors/* InputError */.d('chmod', `'${chmod}' is not an rsync --chmod spec`, `e.g. ${DEFAULT_CHMOD} or D755,F644.`);
    }
    const healthcheckUrl = get('healthcheck-url').trim();
    if (healthcheckUrl !== '') {
        // new URL() silently drops newlines and tabs; the raw text is still logged, so refuse them
        noControl('healthcheck-url', healthcheckUrl, 'URL');
        let ok = false;
        try {
            ok = ['http:', 'https:'].includes(new URL(healthcheckUrl).protocol);
        }
        catch { }
        if (!ok) {
            throw new errors/* InputError */.d('healthcheck-url', `'${(0,healthcheck/* maskUrl */.yP)(healthcheckUrl)}' is not an http(s) URL`, 'e.g. https://example.com/health.');
        }
    }
    const hook = (name) => {
        const v = get(name).replace(/\r\n?/g, '\n');
        if (v.length > 65536)
            throw new errors/* InputError */.d(name, 'is longer than 64 KiB', 'Put a long script in your release and call it.');
        if (v.includes('\u0000'))
            throw new errors/* InputError */.d(name, 'contains a NUL byte', 'Remove it.');
        return v.trim() === '' ? '' : v;
    };
    return {
        command,
        hosts,
        jumpHost,
        key,
        keyPassphrase,
        trusted,
        acceptUnknownHostKey,
        source,
        target,
        linkName,
        releaseId,
        releaseIdGiven: givenId !== '',
        rollbackTo,
        keepReleases: wholeNumber(get, 'keep-releases', 0, 10000),
        exclude: lines(get, 'exclude'),
        filter: lines(get, 'filter').map(filterRule),
        chmod,
        shared: sharedPaths(lines(get, 'shared').map(parseSharedPath)),
        keepAssets: (0,keep_assets/* parseKeepAssets */.UR)(get('keep-assets')),
        keepAssetsReleases: wholeNumber(get, 'keep-assets-releases', 1, 100),
        beforeSwitch: hook('before-switch'),
        afterSwitch: hook('after-switch'),
        healthcheckUrl,
        rollbackOnFailure: bool(get, 'rollback-on-failure'),
        dryRun: bool(get, 'dry-run'),
        allowEmpty,
        maxParallel: wholeNumber(get, 'max-parallel', 1, 256),
        timeoutSeconds: wholeNumber(get, 'timeout', 10, 6 * 3600),
        expectedDigest,
        meta: runMeta(env),
    };
}
/** expected-digest: '' or a release-digest as the tool prints it (`sha256:` + 64 lowercase hex). */
function parseExpectedDigest(value) {
    const v = value.trim();
    if (v === '')
        return '';
    if (/^sha256:[0-9a-fA-F]{64}$/.test(v))
        return v.toLowerCase();
    throw new errors/* InputError */.d('expected-digest', `'${noControl('expected-digest', v.length > 80 ? `${v.slice(0, 80)}…` : v)}' is not a release digest`, 'Give the release-digest the deploy of that build output: sha256: followed by 64 hex digits, e.g. sha256:3f2a…(64 digits).');
}

// EXTERNAL MODULE: ./src/outcome.ts
var src_outcome = __nccwpck_require__(671);
// EXTERNAL MODULE: ./src/runner-platform.ts
var runner_platform = __nccwpck_require__(5);
// EXTERNAL MODULE: ./src/ssh.ts + 2 modules
var src_ssh = __nccwpck_require__(444);
;// CONCATENATED MODULE: ./src/run-command.ts






/**
 * The glue both front ends share (the action's main.ts and the CLI): the connection setup from
 * Settings, the timeout and cancellation, one command, clean-up. No @actions/core here.
 */
/**
 * What ssh gets from Settings. With `allowOwnSsh` (the CLI), a missing key or missing known hosts
 * mean: the person's own ssh setup decides them (agent, ~/.ssh/config, ~/.ssh/known_hosts).
 */
function sshOptions(settings, allowOwnSsh = false, ownerPid) {
    const t = settings.trusted;
    const noTrust = t.lines.length === 0 && t.fingerprints.length === 0 && !settings.acceptUnknownHostKey;
    return {
        hosts: settings.hosts,
        jumpHost: settings.jumpHost,
        key: settings.key,
        keyPassphrase: settings.keyPassphrase,
        trusted: settings.trusted,
        acceptUnknownHostKey: settings.acceptUnknownHostKey,
        persistSeconds: 300,
        ownerPid,
        useOwnSshSetup: allowOwnSsh && (settings.key === '' || noTrust),
    };
}
/** After the timeout, the clean-up's share of the 10 s the step may still take. */
const GIVE_UP_GRACE_MS = 8_000;
/**
 * The runner's rsync, checked (findRsync): begun as early as the front end can, as nothing
 * connects before it is done. A rejection is left for the awaiting caller (never unhandled).
 */
function checkRsync() {
    const check = (0,runner_platform/* findRsync */.Zz)((0,runner_platform/* onPath */.L)('rsync'));
    check.catch(() => { });
    return check;
}
/** Connects, runs `settings.command` within `settings.timeoutSeconds`, always cleans up. */
async function runCommand(settings, opts) {
    const controller = new AbortController();
    let timedOut = false;
    let cancelled = false;
    const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
    }, settings.timeoutSeconds * 1000);
    // The step ends within timeout + 10 s: what the servers may still change ends before that.
    const deadline = Date.now() + settings.timeoutSeconds * 1000 + GIVE_UP_GRACE_MS;
    const onSignal = () => {
        cancelled = true;
        controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const token = opts.token ?? (0,external_node_crypto_.randomBytes)(8).toString('hex');
    let outcome;
    let failure;
    let ssh;
    let closed = Promise.resolve();
    try {
        // Windows, no ssh, openrsync or an old rsync: stop here, before anything connects.
        const unsupported = (0,runner_platform/* platformProblem */.J4)(process.platform);
        if (unsupported)
            throw unsupported;
        // rsync --version runs while the private ssh directory is written; caught here, so a failure
        // of either is the one reported, never unhandled.
        const rsync = (0,spec/* commandSpec */.Lx)(settings.command).uploads ? (opts.rsync ?? checkRsync()) : Promise.resolve('');
        const sshPath = (0,runner_platform/* findSsh */.Ar)();
        ssh = await src_ssh/* Ssh */.L1.create({ ...sshOptions(settings, opts.allowOwnSsh, opts.ownerPid), words: opts.words }, sshPath, opts.onSshDir ?? (() => { }));
        const rsyncPath = await rsync;
        // Every command but doctor connects to the first host first: its handshake (the longest wait
        // of a small deploy) starts now, while the rest of the run gets ready; its step awaits it.
        const first = settings.hosts[0];
        if (first && !(0,spec/* commandSpec */.Lx)(settings.command).probes)
            ssh.connect(0, first.label, controller.signal);
        // The commands themselves load now, while the handshake runs (a chunk of their own: parsing and
        // running it took ~30 ms of every start, before anything could connect).
        const [{ dispatch }] = await Promise.all([
            __nccwpck_require__.e(/* import() | commands */ 217).then(__nccwpck_require__.bind(__nccwpck_require__, 353)),
            opts.preload?.(),
        ]);
        outcome = await dispatch({
            settings,
            ssh,
            reporter: opts.reporter,
            signal: controller.signal,
            deadline,
            token,
            rsyncPath,
            onLock: opts.onLock,
            words: opts.words,
        });
        failure = outcome.error;
    }
    catch (e) {
        failure = (0,src_outcome/* toDeployError */.pH)(e);
    }
    finally {
        clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        // Never rejects: a directory that could not be deleted is said (the post step tries again).
        if (ssh)
            closed = ssh.dispose().catch((e) => {
                opts.reporter.warning(`Could not delete the private ssh directory: ${e instanceof Error ? e.message : String(e)}`);
            });
    }
    if (timedOut) {
        const flag = opts.timeoutFlag;
        failure = new errors/* DeployError */.s(`Stopped after ${settings.timeoutSeconds} s (${flag ?? 'input timeout'}). ${failure ? `Last error: ${failure.message}` : ''}`.trim(), `${outcome?.unconfirmed?.length
            ? `What ${outcome.unconfirmed.join(', ')} serves could not be checked (see above).`
            : outcome?.hosts.some((h) => h.status === 'deployed' || h.status === 'rolled-back')
                ? 'The switch had completed before the timeout (see above).'
                : 'Nothing was switched: the release served before is still live.'} Raise ${flag ?? 'timeout'} for large uploads, or check the link to the server.`, 'timeout');
    }
    return { outcome, failure, timedOut, cancelled, closed };
}

;// CONCATENATED MODULE: ./src/init-cli.ts
/**
 * The `init` subcommand of the CLI: its own flags (it makes files here; it deploys nothing), then
 * init.ts. Host, target and the connection flags go through parseSettings, so they are validated with
 * the same messages as every other command.
 */














const BIN = 'rsync-atomic-deploy';
const INIT_SUMMARY = 'set up: a deploy key, the host keys, the gh commands and the workflow';
const DOCTOR_ABOUT = {
    summary: 'check everything a deploy needs on the server; change nothing',
    usage: '--host HOST --target PATH',
    text: 'Connects and checks the host key, the key, that the login shell prints nothing, rsync on both ends, that the target is writable, that releases/ and the upload area share a filesystem, free space and inodes, a tool for the atomic rename, that the link is a symlink, and the lock. One line per check, ✓ or ✗ with the fix; exit code 0 when all pass.',
    examples: [
        `${BIN} doctor --host deploy@www1 --target /var/www/site`,
        `${BIN} doctor --host deploy@www1 --target /var/www/site --key deploy_key --known-hosts deploy_key.known_hosts`,
    ],
};
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
};
const INIT_HELP = `Usage: ${BIN} init --host [USER@]HOST[:PORT] --target PATH [options]

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
`;
/** Runs `init`; resolves with the exit code (0 done, 1 --install failed, 2 bad input, 3 no connection). */
async function initMain(argv, env, out, words) {
    const error = (message, hint = '') => {
        out.stderr.write(`error: ${(0,untrusted/* safeMessage */.N5)(message)}\n${hint ? `${(0,untrusted/* safeMessage */.N5)(hint)}\n` : ''}`);
    };
    let values;
    try {
        values = (0,external_node_util_.parseArgs)({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
    }
    catch (e) {
        error((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '', `See: ${BIN} init --help`);
        return 2;
    }
    if (values.help) {
        out.stdout.write(INIT_HELP);
        return 0;
    }
    const str = (k) => (typeof values[k] === 'string' ? values[k] : '');
    let settings;
    try {
        const read = (flag) => {
            const f = str(flag);
            if (!f)
                return '';
            try {
                return (0,external_node_fs_.readFileSync)(f, 'utf8');
            }
            catch (e) {
                throw new errors/* InputError */.d(flag, `cannot read ${f} (${e.code ?? e})`, `Give a readable file to --${flag}.`);
            }
        };
        const inputs = {
            command: 'doctor',
            host: str('host'),
            user: str('user'),
            port: str('port'),
            'jump-host': str('jump-host'),
            target: str('target'),
            key: read('key'),
            'known-hosts': read('known-hosts'),
        };
        settings = parseSettings((n) => inputs[n] ?? '', env, new Date(), { allowOwnSsh: true, words });
        if (settings.hosts.length !== 1)
            throw new errors/* InputError */.d('host', 'init sets up one server at a time', 'Give one --host; run init once per server.');
        if (/\$\{\{/.test(`${str('host')}${settings.target}${str('source')}`)) {
            throw new errors/* InputError */.d('target', 'holds ${{, which GitHub would read as an expression', 'Give plain values.');
        }
    }
    catch (e) {
        if (e instanceof errors/* InputError */.d)
            error(e.message.replace(`Input '${e.input}'`, `--${e.input}`), e.hint);
        else
            error((0,src_outcome/* toDeployError */.pH)(e).message);
        return 2;
    }
    const host = settings.hosts[0];
    const source = str('source') || 'public';
    const keyFile = external_node_path_default().resolve(str('deploy-key') || external_node_path_default().join((0,external_node_os_.homedir)(), '.ssh', `deploy_${host.host.replace(/[^A-Za-z0-9.-]/g, '_')}`));
    const files = { key: keyFile, pub: `${keyFile}.pub`, known: `${keyFile}.known_hosts` };
    const workflowFile = external_node_path_default().resolve('.github/workflows/deploy.yml');
    // Refused before anything is made: init never overwrites a key (nor the workflow).
    for (const f of [...Object.values(files), ...(values.write ? [workflowFile] : [])]) {
        if ((0,external_node_fs_.existsSync)(f)) {
            error(`${f} exists: init never overwrites a key or a workflow.`, 'Give --deploy-key a new path (or move the old files away yourself).');
            return 2;
        }
    }
    const sshPath = (0,runner_platform/* onPath */.L)('ssh');
    if (!sshPath) {
        error('ssh is not installed on this machine.', 'Install OpenSSH (apt-get install openssh-client).');
        return 2;
    }
    // What ssh makes of the host (an alias of ~/.ssh/config resolved): the name the workflow connects to.
    const g = await (0,proc/* run */.e)(sshPath, ['-G', ...(0,src_ssh/* ownHostArgs */.cH)(host, settings.jumpHost)], {
        signal: AbortSignal.timeout(10_000),
    });
    const r = resolvedHost(g.stdout);
    const real = { hostname: r.hostname || host.host, port: r.port || host.port, user: host.user || r.user };
    const jump = settings.jumpHost?.label ?? r.proxyJump;
    const lines = await scanHostKeys(real, jump, sshPath).catch(() => []);
    if (lines.length === 0) {
        error(`Could not read the host keys of ${real.hostname} port ${real.port}${jump ? ` through ${jump}` : ''}.`, 'Check the host name and port, that sshd runs there, and that this machine may reach it. Nothing was created.');
        return 3;
    }
    const prints = await fingerprints(lines);
    const hostInput = `${real.user ? `${real.user}@` : ''}${real.hostname.includes(':') ? `[${real.hostname}]` : real.hostname}${real.port !== 22 ? `:${real.port}` : ''}`;
    const comment = `${BIN}@${real.hostname}`.replace(/[^A-Za-z0-9._@-]/g, '_');
    let line;
    try {
        const key = await generateKey(comment);
        if (!(0,external_node_fs_.existsSync)(external_node_path_default().dirname(keyFile)))
            (0,external_node_fs_.mkdirSync)(external_node_path_default().dirname(keyFile), { recursive: true, mode: 0o700 });
        await writeNew(files.key, key.privateKey, 0o600);
        await writeNew(files.pub, key.publicKey, 0o644);
        await writeNew(files.known, `${lines.join('\n')}\n`, 0o644);
        line = values.gate
            ? gatedKeysLine(key.publicKey, settings.target, values.install ? GATE_PATH_MARK : GATE_PATH)
            : authorizedKeysLine(key.publicKey);
    }
    catch (e) {
        const why = e.code === 'EEXIST'
            ? 'it exists now (made by something else meanwhile)'
            : (0,src_outcome/* toDeployError */.pH)(e).message;
        error(`Could not write the new key to ${keyFile}: ${why}`);
        return 2;
    }
    const p = (s = '') => out.stdout.write(`${s}\n`);
    const user = real.user || 'the deploy user';
    p(`New deploy key (ed25519, no passphrase; keep it secret): ${keyFile}`);
    p(`  public key: ${files.pub}`);
    p();
    let code = 0;
    let installed = '';
    if (values.install) {
        let ssh;
        try {
            ssh = await src_ssh/* Ssh */.L1.create({ ...sshOptions(settings, true), words }, sshPath, () => { });
            const did = await installKey(ssh, host, line, values.gate ? (0,gate/* renderGate */.eh)() : '', (g) => {
                line = line.replace(GATE_PATH_MARK, g);
                p(`The gate: installed as ${g} on ${host.label}.`);
            });
            installed =
                did === 'added'
                    ? `added to ~${real.user}/.ssh/authorized_keys on ${host.label}`
                    : `already in ~${real.user}/.ssh/authorized_keys on ${host.label} (not added twice)`;
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            installed = '';
            code = err.code === 'install-failed' || err.code === 'no-home' ? 1 : 3;
            error(`--install: ${err.message}`, err.hint);
        }
        finally {
            await ssh?.dispose();
        }
    }
    p(`1. Authorize the key on the server${installed ? `: done, ${installed}.` : `: add this line to ~${real.user || 'USER'}/.ssh/authorized_keys of ${user} there:`}`);
    p(`   ${line.replace(GATE_PATH_MARK, '~/.local/bin/rsync-atomic-deploy-gate')}`);
    if (values.gate && !values.install) {
        p('   The key is gated: it can only deploy to the target. Install the gate on the server first, as root:');
        p(`     ${BIN} gate | ssh root@${shWord(real.hostname)} 'install -m 755 /dev/stdin ${GATE_PATH}'`);
        p('   (or copy dist/gate.sh of this package there). Hooks: see README "Least privilege".');
    }
    p('   `restrict` allows running commands (all a deploy needs) and no pty or forwarding. To accept it');
    p('   only from fixed addresses (self-hosted runners), prefix it: from="203.0.113.7",restrict ssh-ed25519 ...');
    p();
    p(`2. The server's host keys, scanned just now from ${real.hostname} port ${real.port}${jump ? ` through ${jump}` : ''}:`);
    for (const f of prints)
        p(`   ${f}`);
    p('   Compare them with what the server itself says before you trust them: run there');
    p('   `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (and the same for each ssh_host_*_key.pub).');
    p(`   The known_hosts lines are in ${files.known}.`);
    p();
    p('3. Store the key and the host keys in the GitHub repository (in its checkout, with the gh CLI):');
    for (const c of ghCommands(files.key, files.known))
        p(`   ${c}`);
    p();
    const workflow = workflowText({
        host: hostInput,
        jumpHost: settings.jumpHost?.label ?? '',
        target: settings.target,
        source,
    });
    if (values.write) {
        try {
            (0,external_node_fs_.mkdirSync)(external_node_path_default().dirname(workflowFile), { recursive: true });
            await writeNew(workflowFile, workflow, 0o644);
            p(`4. The workflow: written to ${workflowFile} (check the build step and commit it).`);
        }
        catch (e) {
            error(`Could not write ${workflowFile}: ${e.code ?? e}`);
            code = code || 1;
        }
    }
    else {
        p('4. The workflow, as .github/workflows/deploy.yml (or run init with --write):');
        p();
        out.stdout.write(workflow);
    }
    p();
    p('Then check the server (it changes nothing there):');
    p(`   ${BIN} doctor --host ${shWord(hostInput)} --target ${shWord(settings.target)} --key ${shWord(files.key)} --known-hosts ${shWord(files.known)}`);
    return code;
}

// EXTERNAL MODULE: ./src/cli/parse.ts
var parse = __nccwpck_require__(537);
;// CONCATENATED MODULE: ./src/cli/settings.ts
/**
 * The command line, step 2: flags and RAD_* variables → the action's inputs (one `get(name)` for
 * parseSettings, so the same validation and messages) → Settings. Secrets never come from argv:
 * SECRET_SOURCES says where each one may come from, and drives reading, messages and help.
 */








const SECRET_SOURCES = [
    {
        input: 'key',
        fileFlag: 'key',
        envFlag: 'key-env',
        textIs: 'the key text',
        varFile: true,
        fileIs: 'the private key file, e.g. ~/.ssh/id_deploy',
        varFileIs: 'the private key file (RAD_KEY_FILE)',
        fix: 'Put the private deploy key there. In CI: check that this job may read the secret (protected variables reach only protected branches and tags).',
        unset: 'Or unset RAD_KEY to use your own ssh setup.',
    },
    { input: 'key-passphrase', envFlag: 'key-passphrase-env' },
    {
        input: 'known-hosts',
        fileFlag: 'known-hosts',
        textIs: 'the lines',
        varFile: true,
        fileIs: 'a known_hosts file',
        varFileIs: 'a known_hosts file',
        fix: 'Put known_hosts lines there (from `ssh-keyscan -p PORT HOST`, checked against the server) or SHA256: fingerprints. In CI: check that this job may read the variable (protected variables reach only protected branches and tags).',
        unset: 'Or unset RAD_KNOWN_HOSTS to use your own known_hosts.',
    },
];
/** The variables of a secret: RAD_KEY, and RAD_KEY_FILE when it has one. */
function secretVars(s) {
    return { text: (0,parse/* envName */.pD)(s.input), file: s.varFile ? `${(0,parse/* envName */.pD)(s.input)}_FILE` : '' };
}
/** The help's `[…]` note for a flag of a secret: its variables, once, at the secret's first flag. */
function secretEnvNote(flag) {
    const s = SECRET_SOURCES.find((x) => x.fileFlag === flag || x.envFlag === flag);
    if (!s)
        return undefined;
    if (flag !== (s.fileFlag ?? s.envFlag))
        return '';
    const v = secretVars(s);
    return `${v.text}${s.textIs ? ` (${s.textIs})` : ''}${v.file ? ` or ${v.file}` : ''}`;
}
function readInputFile(input, file, what) {
    try {
        return (0,external_node_fs_.readFileSync)(file, 'utf8');
    }
    catch (e) {
        const why = e.code ?? String(e);
        throw new errors/* InputError */.d(input, `cannot read ${file} (${why})`, `Give the path of ${what}.`);
    }
}
/** A secret source that was given must hold something: a line that is neither blank nor a # comment. */
function mustHold(input, text, what, fix) {
    if (text.split(/\r?\n/).some((l) => l.trim() !== '' && !l.trim().startsWith('#')))
        return;
    throw new errors/* InputError */.d(input, `${what} is empty (nothing but blank or # lines)`, fix);
}
/**
 * A secret from the first source given: the file flag, the variable flag, RAD_<INPUT> (unless it
 * is empty and RAD_<INPUT>_FILE is set), RAD_<INPUT>_FILE. A source that is given but holds
 * nothing (a CI secret withheld from an unprotected tag comes out as '') is an error, never a
 * silent fall back to the person's own ssh setup.
 */
function readSecret(s, cli, env, command) {
    const file = s.fileFlag ? cli.values[s.fileFlag] : undefined;
    const named = s.envFlag ? cli.values[s.envFlag] : undefined;
    if (file !== undefined && named !== undefined) {
        throw new parse/* UsageError */.eb(`give --${s.fileFlag} or --${s.envFlag}, not both`, seeHelp(command));
    }
    const held = (text, what, fix = s.fix) => {
        if (fix !== undefined)
            mustHold(s.input, text, what, fix);
        return text;
    };
    if (file !== undefined) {
        return held(readInputFile(s.input, file, s.fileIs ?? ''), `the file ${file} (--${s.fileFlag})`);
    }
    if (named !== undefined)
        return held(env[named] ?? '', `the variable ${named} (--${s.envFlag})`);
    const v = secretVars(s);
    const text = env[v.text];
    const path = v.file ? env[v.file] : undefined;
    if (text !== undefined && (text !== '' || path === undefined)) {
        return held(text, v.text, s.fix && `${s.fix} ${s.unset}`);
    }
    if (path !== undefined) {
        held(path, v.file);
        return held(readInputFile(s.input, path, s.varFileIs ?? ''), `the file ${path} (${v.file})`);
    }
    return '';
}
function seeHelp(command) {
    return `See: ${parse/* BIN */.Ay} ${command} --help`;
}
/**
 * The action's inputs from flags, then RAD_* variables: what `get(name)` answers for parseSettings.
 * Throws UsageError for a flag that does not apply to the command, InputError for unreadable files.
 */
function cliInputs(cli, command, env) {
    const out = { command };
    const given = (flag) => cli.values[flag] !== undefined || cli.boolValues[flag] !== undefined;
    for (const o of parse/* OPTIONS */.lw) {
        if (!given(o.flag) || (0,spec/* inScope */.SB)(o.scope, command))
            continue;
        throw new parse/* UsageError */.eb(`--${o.flag} does not apply to ${command}`, seeHelp(command));
    }
    for (const o of parse/* OPTIONS */.lw) {
        if (!o.input || o.input.kind === 'secret' || o.sets !== undefined || !given(o.flag))
            continue;
        const v = cli.boolValues[o.flag] ?? cli.values[o.flag];
        out[o.input.name] = Array.isArray(v) ? v.join('\n') : v === true ? 'true' : String(v);
    }
    // --no-rollback-on-failure: a value of its own, so not together with the flag that gives one.
    for (const o of parse/* OPTIONS */.lw) {
        if (!o.input || o.sets === undefined || !cli.values[o.flag])
            continue;
        if (out[o.input.name] !== undefined) {
            throw new parse/* UsageError */.eb(`give --${o.input.flags?.[0]?.flag} or --${o.flag}, not both`, seeHelp(command));
        }
        out[o.input.name] = o.sets;
    }
    // Everything not given as a flag may come from its variable.
    for (const i of spec/* INPUTS */.mc) {
        if (!i.flags || i.kind === 'secret' || out[i.name] !== undefined)
            continue;
        out[i.name] = env[(0,parse/* envName */.pD)(i.name)] ?? '';
    }
    for (const s of SECRET_SOURCES)
        out[s.input] = readSecret(s, cli, env, command);
    return out;
}
async function git(args) {
    try {
        const r = await (0,proc/* run */.e)('git', args, { signal: AbortSignal.timeout(5000) });
        return r.code === 0 ? r.stdout.trim() : '';
    }
    catch {
        return '';
    }
}
/**
 * What the deploy log records (sha, ref, actor, run URL) and the default release id read: the
 * GITHUB_* variables. GitHub Actions sets them; GitLab CI's are translated; on a laptop a deploy
 * takes the commit of the current git checkout, if any.
 */
async function runEnv(env, command) {
    const out = { ...env };
    // A relative --source is relative to the current directory, wherever this runs.
    delete out.GITHUB_WORKSPACE;
    if (out.GITHUB_SHA)
        return out;
    const ref = (type, name) => {
        out.GITHUB_REF = `refs/${type === 'tag' ? 'tags' : 'heads'}/${name}`;
        out.GITHUB_REF_TYPE = type;
        out.GITHUB_REF_NAME = name;
    };
    if (env.CI_COMMIT_SHA) {
        out.GITHUB_SHA = env.CI_COMMIT_SHA;
        if (env.CI_COMMIT_TAG)
            ref('tag', env.CI_COMMIT_TAG);
        else if (env.CI_COMMIT_REF_NAME)
            ref('branch', env.CI_COMMIT_REF_NAME);
        out.GITHUB_ACTOR = env.GITLAB_USER_LOGIN ?? env.USER;
        return out;
    }
    if (!(0,spec/* commandSpec */.Lx)(command).uploads)
        return out;
    const sha = await git(['rev-parse', '--verify', '-q', 'HEAD']);
    if (!/^[0-9a-f]{40,64}$/.test(sha))
        return out;
    out.GITHUB_SHA = sha;
    const tag = await git(['describe', '--tags', '--exact-match', 'HEAD']);
    const branch = tag ? '' : await git(['symbolic-ref', '--short', '-q', 'HEAD']);
    if (tag)
        ref('tag', tag);
    else if (branch)
        ref('branch', branch);
    return out;
}
/** Flags and variables → validated Settings, exactly as the action validates its inputs. */
async function cliSettings(cli, env, now = new Date()) {
    const command = cli.command;
    const inputs = cliInputs(cli, command, env);
    const e = await runEnv(env, command);
    const settings = parseSettings((name) => inputs[name] ?? '', e, now, {
        allowOwnSsh: true,
        words: CLI_WORDS,
    });
    if (!settings.meta.runUrl && env.CI_JOB_URL)
        settings.meta.runUrl = env.CI_JOB_URL;
    if (!settings.meta.actor) {
        try {
            settings.meta.actor = (0,external_node_os_.userInfo)().username;
        }
        catch { }
    }
    return settings;
}
/** `A, B or C`. */
function either(items) {
    return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
/** The flags that name an input in messages: not aliases, not `--no-…`. */
function namingFlags(input) {
    return parse/* OPTIONS */.lw.filter((o) => o.input?.name === input && !o.hidden && o.sets === undefined);
}
/** How a message names where an input comes from on the command line: `--target or RAD_TARGET`. */
function flagsFor(input) {
    if (input === 'command')
        return `the command: ${COMMANDS.join(', ')}`;
    const secret = SECRET_SOURCES.find((s) => s.input === input);
    if (secret) {
        const v = secretVars(secret);
        return either([...namingFlags(input).map((o) => `--${o.flag} ${o.value}`), v.text, v.file].filter(Boolean));
    }
    return [...namingFlags(input).map((o) => `--${o.flag}`), (0,parse/* envName */.pD)(input)].join(' or ');
}
/** The CLI's words for messages of the shared core: flags and RAD_* variables, `rsync-atomic-deploy unlock`. */
const CLI_WORDS = {
    input(name, value) {
        if (value === undefined)
            return flagsFor(name);
        const o = namingFlags(name)[0];
        if (!o)
            return `${(0,parse/* envName */.pD)(name)}=${value}`;
        // A secret's value is never repeated: the flag and its placeholder.
        if (o.input?.kind === 'secret')
            return `--${o.flag} ${o.value}`;
        if (o.type === 'boolean') {
            const no = parse/* OPTIONS */.lw.find((x) => x.input === o.input && x.sets === 'false');
            return value === 'false' ? (no ? `--${no.flag}` : `--${o.flag}=false`) : `--${o.flag}`;
        }
        return `--${o.flag} ${value}`;
    },
    command: (name) => `\`${parse/* BIN */.Ay} ${name}\``,
};
/** An InputError as the CLI says it: the action's message, naming the flag and the variable too. */
function cliInputMessage(e) {
    return e.message.replace(`Input '${e.input}'`, `Input '${e.input}' (${flagsFor(e.input)})`);
}

;// CONCATENATED MODULE: ./src/cli/help.ts
/**
 * The command line's help: per command what it does and its examples; the flags, their order,
 * sections and variables come from the options table (src/spec.ts and cli/parse.ts).
 */





const ABOUT = {
    deploy: {
        summary: 'upload --source and make it live with one atomic switch',
        usage: '--host HOST --target PATH --source DIR [options]',
        text: 'Uploads DIR next to the live release (unchanged files become hard links to it, so a release costs only what changed), then makes it live by renaming one symlink. Nothing that is served changes before that rename.',
        examples: [
            `${parse/* BIN */.Ay} deploy --host www1 --target /var/www/site --source dist`,
            `${parse/* BIN */.Ay} deploy --host deploy@www1:2222,deploy@www2:2222 --target /var/www/site --source public --dry-run`,
        ],
    },
    rollback: {
        summary: 'make the release that was live before live again (or --to ID)',
        usage: '--host HOST --target PATH [--to ID]',
        text: 'Points the link back at the good release that was live before the current one (from the deploy log, whoever deployed it: the action or this command) and marks the current one bad, so a later rollback skips it. Nothing is deleted.',
        examples: [
            `${parse/* BIN */.Ay} rollback --host www1 --target /var/www/site`,
            `${parse/* BIN */.Ay} rollback --host www1 --target /var/www/site --to 20261121T235501Z-v1.2.3`,
        ],
    },
    list: {
        summary: 'show the releases on the server, the live one marked',
        usage: '--host HOST --target PATH [--json]',
        text: 'Lists the releases on disk, newest first by the deploy log: when and by whom each was deployed, which one is live and which are marked bad.',
        examples: [
            `${parse/* BIN */.Ay} list --host www1 --target /var/www/site`,
            `${parse/* BIN */.Ay} list --host www1 --target /var/www/site --json | jq -r '.[] | select(.current) | .id'`,
        ],
    },
    prune: {
        summary: 'delete old releases, keeping --keep-releases good ones',
        usage: '--host HOST --target PATH [--keep-releases N]',
        text: 'Deletes releases beyond the newest N good ones. The live release and its rollback target are never deleted.',
        examples: [`${parse/* BIN */.Ay} prune --host www1 --target /var/www/site --keep-releases 3`],
    },
    unlock: {
        summary: 'remove a deploy lock left behind by a run that died',
        usage: '--host HOST --target PATH',
        text: 'Removes TARGET/.deploy/lock whoever holds it, and says who that was. Only for a lock whose run is dead: a running deploy would lose it.',
        examples: [`${parse/* BIN */.Ay} unlock --host www1 --target /var/www/site`],
    },
    upload: {
        summary: 'fleets split in jobs, step 1: upload a release without switching',
        usage: '--host HOST --target PATH --source DIR --release-id ID [options]',
        text: 'Uploads the release and leaves it waiting on the server; run activate with the same --release-id (on every host at once) to make it live.',
        examples: [
            `${parse/* BIN */.Ay} upload --host www3 --target /var/www/site --source dist --release-id "$CI_PIPELINE_ID"`,
        ],
    },
    activate: {
        summary: 'fleets split in jobs, step 2: make an uploaded release live everywhere',
        usage: '--host HOST[,HOST…] --target PATH --release-id ID [options]',
        text: 'Publishes and switches the release that upload left on every host: all hosts go live on it, or none does.',
        examples: [`${parse/* BIN */.Ay} activate --host www1,www2,www3 --target /var/www/site --release-id "$CI_PIPELINE_ID"`],
    },
    doctor: DOCTOR_ABOUT,
    verify: {
        summary: 'prove a release (default: the live one) is byte for byte what was deployed',
        usage: '--host HOST --target PATH [--release ID] [--expected-digest sha256:…]',
        text: "Re-hashes the release on the server (reading only: no lock, no change) and compares every file, directory and link, with its mode, against the manifest recorded when it was published, that manifest's digest against the deploy log, and with --expected-digest against the release-digest your CI printed. Exits 1 naming what differs: changed content, added, removed, a mode or a type changed.",
        examples: [
            `${parse/* BIN */.Ay} verify --host www1,www2 --target /var/www/site`,
            `${parse/* BIN */.Ay} verify --host www1 --target /var/www/site --release 20261121T235501Z-v1.2.3 --expected-digest sha256:…`,
        ],
    },
};
function wrap(text, width, indent) {
    const words = text.split(' ');
    const lines = [];
    let cur = '';
    for (const w of words) {
        if (cur && cur.length + 1 + w.length > width) {
            lines.push(cur);
            cur = w;
        }
        else
            cur = cur ? `${cur} ${w}` : w;
    }
    if (cur)
        lines.push(cur);
    return lines.join(`\n${indent}`);
}
/** The variables a flag's input also comes from, shown as `[RAD_…]` (none: the CLI's own flags). */
function envNote(o) {
    if (!o.input || o.sets !== undefined)
        return '';
    return secretEnvNote(o.flag) ?? (0,parse/* envName */.pD)(o.input.name);
}
function optionHelp(o) {
    const name = `  ${o.short ? `-${o.short}, ` : ''}--${o.flag}${o.value ? ` ${o.value}` : ''}`;
    const note = envNote(o);
    const indent = ' '.repeat(34);
    return `${name.padEnd(33)} ${wrap(`${o.help}${note ? ` [${note}]` : ''}`, 66, indent)}`;
}
const LISTS = spec/* INPUTS */.mc.filter((i) => i.kind === 'list' || i.kind === 'lines').map((i) => (0,parse/* envName */.pD)(i.name));
/** Flags named otherwise than their input: `--to` is RAD_ROLLBACK_TO. */
const RENAMED = parse/* OPTIONS */.lw.filter((o) => o.input && !o.hidden && !o.sets && o.input.kind !== 'secret')
    .filter((o) => o.flag !== o.input?.name)
    .map((o) => `--${o.flag} is ${(0,parse/* envName */.pD)(o.input?.name ?? '')}`);
const ENV_RULE = `Environment: every option can come from a variable instead (for CI systems): RAD_ + the option's name in capitals with - as _ (--target: RAD_TARGET, --keep-releases: RAD_KEEP_RELEASES, --dry-run: RAD_DRY_RUN=true). A flag wins over its variable. Lists (${LISTS.join(', ')}) take one item a line. Secrets come as text: RAD_KEY (the private key itself), RAD_KNOWN_HOSTS (known_hosts lines), RAD_KEY_PASSPHRASE; RAD_KEY_FILE and RAD_KNOWN_HOSTS_FILE take paths. ${RENAMED.join(', ')}.`;
const SSH_NOTE = 'Without --key and --known-hosts it connects the way `ssh HOST` does for you: your ssh-agent, your ~/.ssh/config (Host aliases, User, Port, IdentityFile, ProxyJump) and your known_hosts. Host keys are always checked (StrictHostKeyChecking yes, whatever your config says), and nothing prompts (BatchMode): a key with a passphrase must be in your agent. With --key and --known-hosts (or RAD_KEY and RAD_KNOWN_HOSTS) it uses only those, as the GitHub Action does.';
const EXITS = 'Exit codes: 0 done, 1 the command failed, 2 bad input, 3 could not connect (or log in), 130 interrupted.';
function helpText(command) {
    const sections = (cmd) => {
        const fits = (o) => !o.hidden && (cmd === undefined ? o.scope === 'all' : (0,spec/* inScope */.SB)(o.scope, cmd));
        const pick = (section) => parse/* OPTIONS */.lw.filter((o) => o.section === section && fits(o)).map(optionHelp);
        const out = ['Connection (every command):', ...pick('connection')];
        const own = pick('command');
        if (own.length)
            out.push('', `For ${cmd}:`, ...own);
        out.push('', 'Output:', ...pick('output'));
        return out.join('\n');
    };
    if (command) {
        const a = ABOUT[command];
        return `Usage: ${parse/* BIN */.Ay} ${command} ${a.usage}

${wrap(a.text, 100, '')}

${sections(command)}

Examples:
${a.examples.map((e) => `  ${e}`).join('\n')}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`;
    }
    return `${parse/* BIN */.Ay} ${parse/* VERSION */.xv}: atomic, hard-linked, rollback-able deploys over SSH with rsync --link-dest.
The same deploys as the GitHub Action (one shared history on the server), from a terminal or any CI system.

Usage: ${parse/* BIN */.Ay} <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(10)} ${ABOUT[c].summary}`).join('\n')}
  ${'init'.padEnd(10)} ${INIT_SUMMARY}
  ${'gate'.padEnd(10)} print the server-side gate: a key that can only deploy (README "Least privilege")

Run \`${parse/* BIN */.Ay} <command> --help\` for the options of a command.

${sections(undefined)}

${wrap(SSH_NOTE, 100, '')}

${wrap(ENV_RULE, 100, '')}

${EXITS}
`;
}

;// CONCATENATED MODULE: ./src/cli/invocation.ts
/**
 * How a person runs this command line again, for the hints it prints ("to roll back: …"): the
 * way it was started, since the binary is on PATH only after a global install.
 */


/**
 * `env`: the process environment (npm sets npm_command and npm_lifecycle_event for what it runs);
 * `script`: process.argv[1], the file node was started with.
 * - npx from npm's cache (`…/_npx/<hash>/node_modules/.bin/…`): `npx rsync-atomic-deploy@VERSION`,
 *   the same version again, not whatever is newest by then;
 * - npx / npm exec of a local install, an npm script, `./node_modules/.bin/…` or the package's
 *   file in a project's node_modules: `npx rsync-atomic-deploy`;
 * - a file run with node (`node dist/cli/index.js`): `node <that file>`;
 * - otherwise (a global install's bin on PATH): `rsync-atomic-deploy`.
 */
function invocation(env, script = '') {
    const p = script.replace(/\\/g, '/');
    if (/\/_npx\//.test(p))
        return `npx ${parse/* BIN */.Ay}@${parse/* VERSION */.xv}`;
    const viaNpm = env.npm_command === 'exec' ||
        env.npm_command === 'run-script' ||
        env.npm_lifecycle_event === 'npx' ||
        /\/node_modules\/\.bin\//.test(p);
    if (viaNpm)
        return `npx ${parse/* BIN */.Ay}`;
    // The package's own file (a shim that resolved the link): a global install's bin is on PATH.
    if (p.includes(`/lib/node_modules/${parse/* BIN */.Ay}/`))
        return parse/* BIN */.Ay;
    if (p.includes(`/node_modules/${parse/* BIN */.Ay}/`))
        return `npx ${parse/* BIN */.Ay}`;
    if (p && !p.endsWith(`/${parse/* BIN */.Ay}`) && p !== parse/* BIN */.Ay) {
        return `node ${/^[A-Za-z0-9_./@+-]+$/.test(p) ? p : (0,quote/* shQuote */.US)(p)}`;
    }
    return parse/* BIN */.Ay;
}

;// CONCATENATED MODULE: ./src/doctor-render.ts

const PLAIN = { green: (s) => s, red: (s) => s, bold: (s) => s };
/** One line per check, ✓ or ✗, the fix indented under a ✗. Server text is escaped. */
function doctorText(report, paint = PLAIN) {
    const out = [];
    for (const h of report) {
        out.push(paint.bold(`checks on ${(0,untrusted/* safeMessage */.N5)(h.host)}:`));
        for (const c of h.checks) {
            const mark = c.ok ? paint.green('✓') : paint.red('✗');
            out.push(`  ${mark} ${c.name}: ${(0,untrusted/* safeMessage */.N5)(c.detail)}`);
            if (!c.ok && c.fix)
                out.push(`      fix: ${(0,untrusted/* safeMessage */.N5)(c.fix).replace(/\n/g, '\n           ')}`);
        }
    }
    const failed = report.reduce((n, h) => n + h.checks.filter((c) => !c.ok).length, 0);
    out.push(failed === 0 ? 'All checks passed: a deploy can run.' : `${failed} check${failed > 1 ? 's' : ''} failed.`);
    return `${out.join('\n')}\n`;
}
function escapeHtml(text) {
    return text.replace(/[&<>"'[\]`|*_\\]/g, (c) => ({
        '&': '&amp;',
        '<': '&lt;',
        '>': '&gt;',
        '"': '&quot;',
        "'": '&#39;',
        '[': '&#91;',
        ']': '&#93;',
        '`': '&#96;',
        '|': '&#124;',
        '*': '&#42;',
        _: '&#95;',
        '\\': '&#92;',
    })[c] ?? c);
}
/** The job summary: a table per host (check, result, fix). Every cell is escaped server text. */
function doctorMarkdown(report) {
    const cell = (s) => escapeHtml(safeMessage(s));
    const out = ['### rsync-atomic-deploy: doctor', ''];
    for (const h of report) {
        const failed = h.checks.filter((c) => !c.ok).length;
        out.push(`**${cell(h.host)}**: ${failed === 0 ? 'all checks passed' : `${failed} failed`}`, '');
        out.push('| | check | found | fix |', '|---|---|---|---|');
        for (const c of h.checks) {
            out.push(`| ${c.ok ? '✓' : '✗'} | ${cell(c.name)} | ${cell(c.detail)} | ${c.ok ? '' : cell(c.fix)} |`);
        }
        out.push('');
    }
    return `${out.join('\n')}\n`;
}

// EXTERNAL MODULE: ./src/format.ts
var format = __nccwpck_require__(264);
;// CONCATENATED MODULE: ./src/outputs.ts
/**
 * The action's outputs, free of @actions/core: main.ts sets each one, and the CLI's --json prints
 * the same text as the `hosts` and `releases` outputs.
 */
/** Sums over hosts for the scalar outputs (one host: its own figures). */
function totals(outcome) {
    const sum = (f) => outcome.hosts.reduce((a, h) => a + f(h), 0);
    return {
        bytesSent: sum((h) => h.bytesSent),
        filesTransferred: sum((h) => h.filesTransferred),
        filesLinked: sum((h) => h.filesLinked),
        assetsKept: sum((h) => h.assetsKept),
    };
}
function hostsJson(outcome) {
    const verified = new Map((outcome.verify ?? []).map((v) => [v.host, v.report]));
    return JSON.stringify(outcome.hosts.map((h) => ({
        host: h.host,
        'release-id': h.releaseId,
        // false: we could not learn what the link serves (release-id is then '').
        'live-known': h.liveKnown,
        ...(h.attemptedReleaseId ? { attempted: h.attemptedReleaseId } : {}),
        'previous-release-id': h.previousReleaseId,
        'bytes-sent': h.bytesSent,
        'files-transferred': h.filesTransferred,
        'files-linked': h.filesLinked,
        'assets-kept': h.assetsKept,
        'duration-ms': h.durationMs,
        status: h.status,
        // command: verify: whether this host's release was proven to be its record, and that record's digest.
        ...(verified.has(h.host)
            ? {
                verified: verified.get(h.host)?.verified,
                'release-digest': verified.get(h.host)?.recordedDigest,
            }
            : {}),
        ...(h.error ? { error: h.error } : {}),
    })));
}
function releasesJson(outcome) {
    return JSON.stringify(outcome.releases);
}
/** Every output action.yml declares, by name, as the step sets it. */
function actionOutputs(outcome) {
    const t = totals(outcome);
    const firstHost = outcome.hosts[0];
    return {
        // What the link serves now, as the server said (DESIGN §1): never the release we only attempted.
        'release-id': firstHost?.releaseId ?? '',
        'release-path': firstHost?.releasePath ?? '',
        'previous-release-id': firstHost?.previousReleaseId ?? '',
        'bytes-sent': String(t.bytesSent),
        'files-transferred': String(t.filesTransferred),
        'files-linked': String(t.filesLinked),
        'assets-kept': String(t.assetsKept),
        releases: releasesJson(outcome),
        hosts: hostsJson(outcome),
        'rolled-back': String(outcome.rolledBack),
        // command: verify sets it to the digest recorded for the release it checked (first host).
        'release-digest': outcome.releaseDigest ?? '',
    };
}

// EXTERNAL MODULE: ./src/verify.ts
var verify = __nccwpck_require__(538);
;// CONCATENATED MODULE: ./src/verify-render.ts


const verify_render_PLAIN = { green: (s) => s, red: (s) => s, bold: (s) => s };
/**
 * command: verify, for people: per host the release checked and the verdict ("verified: N files
 * match sha256:…", or what differs, capped), shared paths and kept assets said apart. Server text
 * (paths) was escaped by verify.ts; safeMessage once more for the whole.
 */
function verifyText(outcome, paint = verify_render_PLAIN) {
    const out = [];
    const reports = new Map((outcome.verify ?? []).map((v) => [v.host, v.report]));
    for (const h of outcome.hosts) {
        const r = reports.get(h.host);
        if (!r) {
            out.push(`${paint.red('✗')} ${h.host}: could not verify (see the error)`);
            continue;
        }
        const mark = r.verified ? paint.green('✓') : paint.red('✗');
        out.push(`${mark} ${h.host}: ${paint.bold(r.release)}${r.release === h.releaseId ? ' (live)' : ''}: ${(0,verify/* verdictLine */.MT)(r)}`);
        for (const l of (0,verify/* differenceLines */.Ze)(r.differences))
            out.push(`    ${l}`);
        if (r.shared.length)
            out.push(`    ${r.shared.length} shared path(s) not compared (links into shared/)`);
        if (r.kept.length)
            out.push(`    ${r.kept.length} asset(s) kept from older releases (keep-assets), not compared`);
    }
    return `${(0,untrusted/* safeMessage */.N5)(out.join('\n'))}\n`;
}

;// CONCATENATED MODULE: ./src/cli/render.ts
/**
 * The command line, the last step: what a person reads. Log lines and a live progress line on
 * stderr (CliReporter), the result on stdout (resultText). Colour only on a terminal, never with
 * NO_COLOR. Figures and tables come from src/format.ts, as the action's job summary's do.
 */








function style(enabled) {
    const sgr = (open, close) => (s) => enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s;
    return {
        bold: sgr(1, 22),
        dim: sgr(2, 22),
        red: sgr(31, 39),
        yellow: sgr(33, 39),
        green: sgr(32, 39),
        cyan: sgr(36, 39),
    };
}
/** https://no-color.org: NO_COLOR set and not empty turns colour off; FORCE_COLOR turns it on. */
function colorWanted(stream, env, noColorFlag) {
    if (noColorFlag || (env.NO_COLOR ?? '') !== '')
        return false;
    if ((env.FORCE_COLOR ?? '') !== '' && env.FORCE_COLOR !== '0')
        return true;
    return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Log lines on stderr; a progress line redrawn in place when stderr is a terminal. */
class CliReporter {
    err;
    s;
    opts;
    shown = false;
    lastDraw = 0;
    constructor(err, s, opts) {
        this.err = err;
        this.s = s;
        this.opts = opts;
    }
    clear() {
        if (this.shown)
            this.err.write('\r\u001b[K');
        this.shown = false;
    }
    line(text) {
        this.clear();
        this.err.write(`${text}\n`);
    }
    // Messages carry server text: safeMessage escapes any control character (colour comes only from us).
    info(message) {
        if (this.opts.info || this.opts.verbose)
            this.line((0,untrusted/* safeMessage */.N5)(message));
    }
    output(lines) {
        for (const l of lines)
            this.info(l);
    }
    warning(message) {
        this.line(`${this.s.yellow('warning:')} ${(0,untrusted/* safeMessage */.N5)(message)}`);
    }
    debug(message) {
        if (this.opts.verbose)
            this.line(this.s.dim((0,untrusted/* safeMessage */.N5)(message)));
    }
    async group(name, fn) {
        if (this.opts.info || this.opts.verbose)
            this.line(this.s.dim(`» ${name}`));
        return fn();
    }
    progress(host, line) {
        if (this.err.isTTY !== true)
            return;
        const now = Date.now();
        if (now - this.lastDraw < 100)
            return;
        this.lastDraw = now;
        const text = `${host}: ${(0,format/* progressText */.l_)(line)}`.slice(0, Math.max(20, (this.err.columns || 80) - 1));
        this.err.write(`\r\u001b[K${this.s.cyan(text)}`);
        this.shown = true;
    }
    /** Removes a progress line still on screen. */
    done() {
        this.clear();
    }
}
/** The `list` table: newest first, the live release marked, bad ones flagged, the run's link last. */
function releasesTable(releases, s) {
    const runs = releases.map((r) => (0,format/* runLink */.ut)(r.run));
    const withRuns = runs.some(Boolean);
    const rows = releases.map((r, n) => ({
        cells: [
            `${r.current ? '*' : ' '} ${r.id}`,
            (0,format/* when */.z7)(r.deployedAt),
            r.actor,
            (0,format/* shortRef */.m3)(r.ref),
            r.sha.slice(0, 7),
            [r.current ? 'live' : '', r.bad ? 'bad (rolled back from)' : ''].filter(Boolean).join(', '),
            ...(withRuns ? [runs[n] ?? ''] : []),
        ],
        paint: (i, c) => r.current && (i === 0 || i === 5) ? s.green(c) : r.bad && (i === 0 || i === 5) ? s.red(c) : c,
    }));
    return (0,format/* textTable */.ed)([
        {
            cells: ['  RELEASE', 'DEPLOYED', 'BY', 'REF', 'COMMIT', '', ...(withRuns ? ['RUN'] : [])],
            paint: (_i, c) => s.bold(c),
        },
        ...rows,
    ]);
}
/** What a host's link serves after a run that did not (or not only) go live, and what was attempted. */
function liveLine(settings, h, s) {
    const live = !h.liveKnown
        ? `could not tell what ${settings.linkName} serves now (see the error)`
        : h.releaseId
            ? `${settings.linkName} -> ${s.bold(h.releaseId)}`
            : `nothing is live (${settings.linkName} does not exist)`;
    const note = (0,format/* attemptNote */.Qg)(h);
    return `${live}${note ? ` (${note})` : ''}`;
}
/** `N files sent, M hard-linked, 1.2 MB on the wire` (`in all` for a fleet's sum). */
function sentText(files, linked, sent, where) {
    return `${(0,format/* plural */.LS)(files, 'file')} sent, ${linked} hard-linked, ${(0,format/* bytes */.ee)(sent)} ${where}`;
}
/** What a person reads on stdout after a command (the log lines went to stderr). */
function humanResult(settings, outcome, s, bin = parse/* BIN */.Ay) {
    const hosts = outcome.hosts;
    const out = [];
    const t = totals(outcome);
    switch (settings.command) {
        case 'list': {
            const from = hosts.find((h) => !h.error);
            if (!from)
                break;
            if (outcome.releases.length === 0) {
                out.push(`No releases in ${settings.target} on ${from.host} yet.`);
                break;
            }
            out.push(`Releases in ${settings.target} on ${from.host}${hosts.length > 1 ? ` (1 of ${hosts.length} hosts)` : ''}, newest first:`, '', releasesTable(outcome.releases, s));
            break;
        }
        case 'deploy':
        case 'activate': {
            if (settings.dryRun) {
                out.push(`Dry run: nothing was changed (${(0,format/* plural */.LS)(hosts.length, 'host')}).`);
                for (const h of hosts)
                    out.push(`  ${h.host}: ${liveLine(settings, h, s)}${(0,keep_assets/* keptNote */.Hl)(settings, h.assetsKept)}`);
                break;
            }
            for (const h of hosts) {
                if (h.status !== 'deployed') {
                    out.push(`${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`);
                    continue;
                }
                out.push(`${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)}${h.previousReleaseId ? ` (was ${h.previousReleaseId})` : ''}${(0,spec/* commandSpec */.Lx)(settings.command).uploads ? `; ${sentText(h.filesTransferred, h.filesLinked, h.bytesSent, 'on the wire')}` : ''}${(0,keep_assets/* keptNote */.Hl)(settings, h.assetsKept)}; ${(0,format/* seconds */.YA)(h.durationMs)}`);
            }
            if (outcome.releaseDigest)
                out.push(`Release digest: ${outcome.releaseDigest}`);
            if (outcome.error)
                break;
            if (hosts.length > 1 && (0,spec/* commandSpec */.Lx)(settings.command).uploads) {
                out.push(`${sentText(t.filesTransferred, t.filesLinked, t.bytesSent, 'in all')}.`);
            }
            const back = hosts[0]?.previousReleaseId;
            if (back)
                out.push(s.dim(`To roll back: ${bin} rollback --to ${back} (with the same --host and --target)`));
            break;
        }
        case 'upload':
            if (settings.dryRun) {
                out.push('Dry run: nothing was changed.');
                break;
            }
            out.push(`Uploaded ${settings.releaseId} to ${(0,format/* plural */.LS)(hosts.length, 'host')}; make it live with: ${bin} activate --release-id ${settings.releaseId}`);
            break;
        case 'rollback':
            for (const h of hosts) {
                out.push(h.status === 'rolled-back'
                    ? `${s.green('✓')} ${h.host}: ${settings.linkName} -> ${s.bold(h.releaseId)} (rolled back from ${h.previousReleaseId}, now marked bad)`
                    : outcome.error
                        ? `${s.red('✗')} ${h.host}: ${liveLine(settings, h, s)}`
                        : `${s.green('✓')} ${h.host}: already on ${h.releaseId}`);
            }
            break;
        case 'prune':
            for (const h of hosts) {
                out.push(`${s.green('✓')} ${h.host}: ${h.pruned.length ? `pruned ${h.pruned.join(', ')}` : 'nothing to prune'} (keeping ${settings.keepReleases ? (0,format/* plural */.LS)(settings.keepReleases, 'good release') : 'all good releases'})`);
            }
            break;
        case 'doctor':
            out.push(doctorText(outcome.doctor ?? [], s).trimEnd());
            break;
        case 'verify':
            out.push(verifyText(outcome, s).trimEnd());
            break;
        case 'unlock':
            out.push(`${s.green('✓')} No deploy lock is held in ${settings.target} now (${hosts.map((h) => h.host).join(', ')}).`);
            break;
    }
    return out.length ? `${out.join('\n')}\n` : '';
}
/** humanResult with our own colours kept and any other control character escaped (values are the server's). */
function safeResult(text) {
    return text
        .split(/(\u001b\[[0-9;]*m)/)
        .map((part, i) => (i % 2 === 1 ? part : (0,untrusted/* safeMessage */.N5)(part)))
        .join('');
}
/**
 * stdout after a run: with --json the action's output (list: `releases`, else `hosts`), else the
 * lines for people — after a failure too when the command changes what is live, since which
 * release each host serves now is a result.
 */
function resultText(settings, outcome, opts) {
    if (opts.json && settings.command === 'list') {
        // `[]` would say "no releases": a list that could not read any host prints nothing.
        return outcome.hosts.some((h) => !h.error) ? `${releasesJson(outcome)}\n` : '';
    }
    if (opts.json)
        return `${hostsJson(outcome)}\n`;
    const c = (0,spec/* commandSpec */.Lx)(settings.command);
    // doctor: the checks that failed are its result.
    // verify: what differs is its result.
    if (opts.failed && !c.switches && !c.picksRelease && !c.verifies && settings.command !== 'doctor')
        return '';
    return safeResult(humanResult(settings, outcome, opts.style, opts.bin));
}
/** An error on stderr: what went wrong, then what to do. */
function errorText(s, message, hint = '') {
    return `${s.red('error:')} ${(0,untrusted/* safeMessage */.N5)(message)}\n${hint ? `${(0,untrusted/* safeMessage */.N5)(hint)}\n` : ''}`;
}

;// CONCATENATED MODULE: ./src/cli/run.ts
/**
 * The command line, step 3: Settings → the shared core (run-command.ts, as the action runs it),
 * connecting through the person's own ssh setup where no key or known hosts were given.
 */



async function runCli(settings, opts) {
    // The log lines of list, rollback and prune say what their result on stdout says: --verbose only.
    const quiet = ['list', 'rollback', 'prune'].includes(settings.command);
    const reporter = new CliReporter(opts.stderr, opts.style, { verbose: opts.verbose, info: !quiet });
    try {
        const r = await runCommand(settings, {
            reporter,
            allowOwnSsh: true,
            timeoutFlag: '--timeout',
            words: CLI_WORDS,
        });
        await r.closed;
        return r;
    }
    finally {
        reporter.done();
    }
}

;// CONCATENATED MODULE: ./src/cli/main.ts
/**
 * The command line as one pipeline: parse → settings → run → render, and the one place where an
 * error becomes a message on stderr and an exit code. No @actions/core here.
 */











/** Exit codes: scripts can tell bad input from an unreachable server from a failed deploy. */
const EXIT = { ok: 0, failed: 1, badInput: 2, connection: 3, interrupted: 130 };
/** DeployError codes of a connection that could not be made (hints.ts explainSshFailure). */
const CONNECTION_CODES = new Set([
    'key-format',
    'passphrase',
    'host-key-changed',
    'host-key-unknown',
    'auth',
    'refused',
    'dns',
    'unreachable',
    'closed',
    'ssh',
    'ssh-config',
]);
function exitCodeFor(failure, cancelled = false) {
    if (!failure)
        return EXIT.ok;
    if (cancelled || failure.code === 'cancelled')
        return EXIT.interrupted;
    if (failure.code === 'bad-input')
        return EXIT.badInput;
    if (CONNECTION_CODES.has(failure.code))
        return EXIT.connection;
    return EXIT.failed;
}
/** A run that ended with an error, after its result was printed. */
class RunFailed extends Error {
    failure;
    cancelled;
    constructor(failure, cancelled) {
        super(failure.message);
        this.failure = failure;
        this.cancelled = cancelled;
    }
}
/** Every way the command line fails: its message, what to do, the exit code. */
function failureOf(e) {
    if (e instanceof RunFailed) {
        return { message: e.failure.message, hint: e.failure.hint, code: exitCodeFor(e.failure, e.cancelled) };
    }
    if (e instanceof parse/* UsageError */.eb)
        return { message: e.message, hint: e.hint, code: EXIT.badInput };
    if (e instanceof errors/* InputError */.d)
        return { message: cliInputMessage(e), hint: e.hint, code: EXIT.badInput };
    // Anything else was thrown while reading the inputs (nothing was contacted yet).
    return { message: (0,src_outcome/* toDeployError */.pH)(e).message, hint: '', code: EXIT.badInput };
}
function isCommand(c) {
    return COMMANDS.includes(c);
}
/** The whole command line; resolves with the exit code. */
async function main(argv, env, io = { stdout: process.stdout, stderr: process.stderr }) {
    if (argv[0] === 'init')
        return initMain(argv.slice(1), env, io, CLI_WORDS); // init.ts
    // The server-side forced command of a gated key (gate.ts), generated from this very version.
    if (argv[0] === 'gate' && argv.length === 1) {
        io.stdout.write((0,gate/* renderGate */.eh)());
        return EXIT.ok;
    }
    const noColor = argv.includes('--no-color');
    const es = style(colorWanted(io.stderr, env, noColor));
    try {
        await pipeline(argv, env, io, noColor);
        return EXIT.ok;
    }
    catch (e) {
        const f = failureOf(e);
        io.stderr.write(errorText(es, f.message, f.hint));
        return f.code;
    }
}
async function pipeline(argv, env, io, noColor) {
    const cli = (0,parse/* parseCli */.wE)(argv);
    if (cli.values.version) {
        io.stdout.write(`${parse/* VERSION */.xv}\n`);
        return;
    }
    const useOne = `Use one of: ${COMMANDS.join(', ')}.`;
    if (cli.command === 'help' || cli.values.help) {
        const about = cli.command === 'help' ? cli.helpFor : cli.command;
        if (about && !isCommand(about))
            throw new parse/* UsageError */.eb(`'${about}' is not a command`, useOne);
        io.stdout.write(helpText(about && isCommand(about) ? about : undefined));
        return;
    }
    if (!cli.command) {
        io.stderr.write(helpText());
        throw new parse/* UsageError */.eb('no command given', useOne);
    }
    if (!isCommand(cli.command)) {
        throw new parse/* UsageError */.eb(`'${cli.command}' is not a command`, `${useOne} See: ${parse/* BIN */.Ay} --help`);
    }
    const settings = await cliSettings(cli, env);
    const es = style(colorWanted(io.stderr, env, noColor));
    const { outcome, failure, cancelled } = await runCli(settings, {
        stderr: io.stderr,
        style: es,
        verbose: cli.values.verbose === true,
    });
    if (outcome) {
        io.stdout.write(resultText(settings, outcome, {
            json: cli.values.json === true,
            failed: failure !== undefined,
            style: style(colorWanted(io.stdout, env, noColor)),
            bin: invocation(env, process.argv[1]),
        }));
    }
    if (failure)
        throw new RunFailed(failure, cancelled);
}


/***/ }),

/***/ 537:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Ay: () => (/* binding */ BIN),
/* harmony export */   eb: () => (/* binding */ UsageError),
/* harmony export */   lw: () => (/* binding */ OPTIONS),
/* harmony export */   pD: () => (/* binding */ envName),
/* harmony export */   wE: () => (/* binding */ parseCli),
/* harmony export */   xv: () => (/* binding */ VERSION)
/* harmony export */ });
/* unused harmony export BOOLEAN_INPUTS */
/* harmony import */ var node_util__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(975);
/* harmony import */ var node_util__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_util__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _spec_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(188);
/**
 * The command line, step 1: argv → a command and flag values (node:util parseArgs). The flags
 * that feed inputs come from src/spec.ts; the CLI's own (--json, --verbose…) are listed here.
 */


const BIN = 'rsync-atomic-deploy';
/** Kept equal to package.json's version (a test checks). */
const VERSION = '0.1.0';
/** A mistake on the command line itself (unknown flag, missing value): exit 2. */
class UsageError extends Error {
    hint;
    constructor(message, 
    /** What to do, printed under the error (e.g. `See: rsync-atomic-deploy --help`). */
    hint = '') {
        super(message);
        this.hint = hint;
    }
}
/** The CLI's own flags: how it prints, not what it does. */
const OUTPUT_FLAGS = [
    {
        flag: 'json',
        help: "Print JSON on stdout: list prints the action's `releases` output, other commands its `hosts` output.",
    },
    { flag: 'verbose', short: 'v', help: 'Say more (every step, debug lines).' },
    { flag: 'no-color', help: 'No colour (also: NO_COLOR=1). Colour is only used on a terminal anyway.' },
    { flag: 'help', short: 'h', help: 'Show this help.' },
    { flag: 'version', help: 'Print the version.' },
].map((o) => ({ ...o, type: 'boolean', value: '', scope: 'all', section: 'output' }));
/** Every flag: the spec's inputs in their order (the help's order), then the output flags. */
const OPTIONS = [
    ..._spec_js__WEBPACK_IMPORTED_MODULE_1__/* .INPUTS */ .mc.flatMap((input) => (input.flags ?? []).map((f) => ({
        ...f,
        type: input.kind === 'boolean' ? 'boolean' : 'string',
        multiple: input.kind === 'list' || input.kind === 'lines' ? true : undefined,
        input,
        scope: input.scope ?? 'all',
        // Inputs of every command describe the connection; the others are the command's own.
        section: (input.scope ?? 'all') === 'all' ? 'connection' : 'command',
    }))),
    ...OUTPUT_FLAGS,
];
/** Inputs that take true/false (their flags also take `=value`). */
const BOOLEAN_INPUTS = new Set(_spec_js__WEBPACK_IMPORTED_MODULE_1__/* .INPUTS */ .mc.filter((i) => i.kind === 'boolean').map((i) => i.name));
/** The naming rule: input `known-hosts` ↔ variable `RAD_KNOWN_HOSTS`. */
function envName(input) {
    return `RAD_${input.toUpperCase().replace(/-/g, '_')}`;
}
const SEE_HELP = `See: ${BIN} --help`;
/** Parses argv (after node and the script). Throws UsageError. */
function parseCli(argv) {
    // Booleans also take =true/=false, like the action's inputs: `--rollback-on-failure=false`.
    const boolValues = {};
    const rest = [];
    let ended = false;
    for (const a of argv) {
        const m = ended ? null : /^--([a-z-]+)=(.*)$/s.exec(a);
        const spec = m
            ? OPTIONS.find((o) => o.flag === m[1] && o.input && !o.sets && BOOLEAN_INPUTS.has(o.input.name))
            : undefined;
        if (m && spec)
            boolValues[spec.flag] = m[2] ?? '';
        else
            rest.push(a);
        if (a === '--')
            ended = true;
    }
    const options = {};
    for (const o of OPTIONS) {
        options[o.flag] = {
            type: o.type,
            ...(o.multiple ? { multiple: true } : {}),
            ...(o.short ? { short: o.short } : {}),
        };
    }
    let parsed;
    try {
        parsed = (0,node_util__WEBPACK_IMPORTED_MODULE_0__.parseArgs)({ args: rest, options, allowPositionals: true, strict: true });
    }
    catch (e) {
        throw new UsageError((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '', SEE_HELP);
    }
    const [command = '', ...more] = parsed.positionals;
    let helpFor = '';
    if (command === 'help') {
        helpFor = more.shift() ?? '';
    }
    if (more.length > 0)
        throw new UsageError(`unexpected argument '${more[0]}'`, SEE_HELP);
    return {
        command,
        helpFor,
        values: parsed.values,
        boolValues,
    };
}


/***/ }),

/***/ 204:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   g: () => (/* binding */ childEnv)
/* harmony export */ });
/**
 * The environment child processes (ssh, rsync, ssh-keygen, git) get. The runner hands every
 * input to the action as INPUT_* (the key, its passphrase), and a CI job holds its secrets in
 * variables (RAD_KEY, tokens): a child, and whatever it runs (a ProxyCommand, a wrapper, a
 * debugger reading /proc/PID/environ), must not see them.
 */
/** What ssh and rsync need when we generate their whole setup (the action; the CLI with --key). */
const NEEDED = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/;
/** Names that carry secrets or the runner's credentials, whatever else is passed. */
const SECRET_NAME = /^(INPUT_.*|STATE_.*|RAD_KEY.*|RAD_KNOWN_HOSTS.*|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_.*|ACTIONS_CACHE_URL|ACTIONS_RESULTS_URL|GITHUB_TOKEN|GH_TOKEN|CI_JOB_TOKEN)$/i;
/** `env` without the secrets (and, unless `own`, without anything a child does not need). */
function childEnv(env, opts = {}) {
    const secrets = (opts.secrets ?? []).filter((s) => s !== '');
    const out = {};
    for (const [name, value] of Object.entries(env)) {
        if (value === undefined || SECRET_NAME.test(name))
            continue;
        if (!opts.own && !NEEDED.test(name))
            continue;
        // A key under another name (--key-env NAME) or pasted into some variable.
        if (/PRIVATE KEY-----/.test(value) || secrets.includes(value))
            continue;
        out[name] = value;
    }
    return out;
}


/***/ }),

/***/ 916:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   d: () => (/* binding */ InputError),
/* harmony export */   s: () => (/* binding */ DeployError)
/* harmony export */ });
/** A failure a user can act on: what went wrong and what to do about it. */
class DeployError extends Error {
    hint;
    code;
    constructor(message, hint = '', code = 'failed') {
        super(message);
        this.hint = hint;
        this.code = code;
        this.name = 'DeployError';
    }
    toString() {
        return this.hint ? `${this.message}\n${this.hint}` : this.message;
    }
}
/** A value given to an input that we refuse before anything touches the network. */
class InputError extends DeployError {
    input;
    constructor(input, problem, fix) {
        super(`Input '${input}': ${problem}`, fix, 'bad-input');
        this.input = input;
        this.name = 'InputError';
    }
}


/***/ }),

/***/ 264:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   LS: () => (/* binding */ plural),
/* harmony export */   Qg: () => (/* binding */ attemptNote),
/* harmony export */   YA: () => (/* binding */ seconds),
/* harmony export */   ed: () => (/* binding */ textTable),
/* harmony export */   ee: () => (/* binding */ bytes),
/* harmony export */   l_: () => (/* binding */ progressText),
/* harmony export */   m3: () => (/* binding */ shortRef),
/* harmony export */   ut: () => (/* binding */ runLink),
/* harmony export */   z7: () => (/* binding */ when)
/* harmony export */ });
/* unused harmony exports runLabel, markdownTable, releaseLines */
/**
 * How both front ends write figures and tables: the action's log and job summary, the CLI's
 * result lines and its `list` table, and the README's inputs table (scripts/gen-readme.ts).
 * Pure text: no colour (the CLI paints cells itself), no escaping (each sink escapes its own way).
 */
/**
 * A size as every front end says it: decimal units, as rsync and `df -H` do (`812 B`, `4.1 kB`,
 * `1.2 MB`, `3.40 GB`). One style everywhere: the CLI, the summary, the log and the progress line.
 */
function bytes(n) {
    if (n < 1000)
        return `${n} B`;
    if (n < 1000 ** 2)
        return `${(n / 1000).toFixed(1)} kB`;
    if (n < 1000 ** 3)
        return `${(n / 1000 ** 2).toFixed(1)} MB`;
    return `${(n / 1000 ** 3).toFixed(2)} GB`;
}
/** `1 file`, `2 files`, `0 files` (`many` for words that do not just take an s). */
function plural(n, one, many = `${one}s`) {
    return `${n} ${n === 1 ? one : many}`;
}
/** A duration as the results say it: `2.3 s`. */
function seconds(ms) {
    return `${(ms / 1000).toFixed(1)} s`;
}
// An ISO 8601 UTC time as the tool writes it (`new Date().toISOString()`), or with an offset.
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)$/;
/**
 * A deploy log time for people: `2026-11-21 10:00 UTC`. The log is the server's file: a time that
 * is not an ISO time is shown as the log has it (the caller escapes it), never guessed at.
 */
function when(iso) {
    if (!iso)
        return '(not in the log)';
    const t = ISO_TIME.test(iso) ? new Date(iso) : undefined;
    if (!t || Number.isNaN(t.getTime()))
        return iso;
    return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
/** A git ref as people name it: `v1.2.3` for refs/tags/v1.2.3, `main` for refs/heads/main. */
function shortRef(ref) {
    return ref.replace(/^refs\/(?:tags|heads)\/(?=.)/, '');
}
// https, a host name, an optional port, a path of plain characters; no user info, query or
// fragment: nothing a crafted log line could turn into another link, a script or markup.
const RUN_URL = /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?(?:\/[A-Za-z0-9._~-]+)*\/?$/;
/** The run URL of a log line when it is safe to render as a link (https, a sane shape), else ''. */
function runLink(url) {
    return url.length <= 512 && RUN_URL.test(url) ? url : '';
}
/** A link's text: `run 1234` for a GitHub run or a GitLab job, `run` for any other URL. */
function runLabel(url) {
    const id = /\/(?:runs|jobs)\/(\d{1,20})(?:\/|$)/.exec(url)?.[1];
    return id ? `run ${id}` : 'run';
}
/**
 * What this run tried, when it is not what is live now: said next to what is live, so nobody reads
 * the attempted release as the served one.
 */
function attemptNote(h) {
    const tried = h.attemptedReleaseId && h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : '';
    if (!tried)
        return '';
    const what = {
        'dry-run': `would switch to ${tried}`,
        reverted: `switched back from ${tried}`,
        failed: `${tried} is not live`,
        'not-switched': `${tried} is not live`,
        uploaded: `${tried} was uploaded, not made live`,
    };
    return what[h.status] ?? '';
}
// rsync's rate units (progress.c): powers of 1024, whatever the label says.
const RATE_UNIT = {
    B: 1,
    kB: 1024,
    KB: 1024,
    MB: 1024 ** 2,
    GB: 1024 ** 3,
    TB: 1024 ** 4,
};
/**
 * rsync --info=progress2 (--no-human-readable): `1234567  45%  12.34MB/s  0:00:03 (xfr#3, to-chk=10/20)`.
 * Files are counted by `xfr#`, the regular files sent so far: the figure the result line's
 * "N files sent" gives at the end. (`to-chk` counts directories and links too.) Sizes and rates in
 * format.ts's units, as every other figure.
 */
function progressText(line) {
    const m = /^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d\d:\d\d)(?:.*?xfr#(\d+))?/.exec(line);
    if (!m)
        return line.trim();
    const [, done = '0', pct, rate = '', time, sent] = m;
    const r = /^([\d.]+)([kKMGT]?B)\/s$/.exec(rate);
    const speed = r ? `${bytes(Math.round(Number(r[1]) * (RATE_UNIT[r[2]] ?? 1)))}/s` : rate;
    const files = sent !== undefined ? ` · ${plural(Number(sent), 'file')} sent` : '';
    return `uploading ${pct}% · ${bytes(Number(done.replace(/[,.]/g, '')))} · ${speed} · ${time}${files}`;
}
/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
function textTable(rows) {
    const widths = [];
    for (const r of rows) {
        r.cells.forEach((c, i) => {
            widths[i] = Math.max(widths[i] ?? 0, c.length);
        });
    }
    return rows
        .map((r) => r.cells
        .map((c, i) => {
        const padded = i === r.cells.length - 1 ? c : c.padEnd(widths[i] ?? 0);
        return r.paint ? r.paint(i, padded) : padded;
    })
        .join('  ')
        .trimEnd())
        .join('\n');
}
/** A markdown table (cells are markdown already; an empty cell is `| |`). */
function markdownTable(header, rows) {
    const line = (cells) => `|${cells.map((c) => (c ? ` ${c} ` : ' ')).join('|')}|`;
    return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}
/** The releases as the action's log shows them, a line each: newest first, the live one marked `*`. */
function releaseLines(releases) {
    return releases.map((r) => [
        `${r.current ? '*' : ' '} ${r.id}${r.bad ? '  (bad)' : ''} `,
        when(r.deployedAt),
        r.actor ? `by ${r.actor}` : '',
        shortRef(r.ref),
        r.sha.slice(0, 7),
        runLink(r.run),
    ]
        .filter(Boolean)
        .join(' '));
}


/***/ }),

/***/ 956:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Tr: () => (/* binding */ parseGateLine),
/* harmony export */   eh: () => (/* binding */ renderGate),
/* harmony export */   iM: () => (/* binding */ gateProtocolError),
/* harmony export */   jo: () => (/* binding */ gateHint)
/* harmony export */ });
/* harmony import */ var _cli_parse_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(537);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(916);
/* harmony import */ var _quote_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(519);
/* harmony import */ var _remote_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(769);
/* harmony import */ var _remote_lib_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(95);
/**
 * The gate: `rsync-atomic-deploy-gate`, one POSIX sh file for a key's forced command in
 * authorized_keys (`command="/usr/local/bin/rsync-atomic-deploy-gate /var/www/example.com",restrict`).
 * It is generated here from the very scripts the client sends (remote.ts, remote-lib.ts), so there
 * is no second copy of the deploy logic: LIB and every script become functions of the gate, and
 * what the client sends is only read for its values, each checked against its rule (remote.ts
 * VAR_RULES), never run. An rsync is let through only as a receiver into TARGET's upload area.
 * Anything else is refused, said on stderr (and as an @@rad-error line to a script call), and
 * logged to syslog (logger) and TARGET/.deploy/gate.log.
 */





/** The `gate` reply value, or undefined when there is none or it does not parse (server text). */
function parseGateLine(value) {
    const m = /^([0-9A-Za-z.+-]{1,40}) ([0-9]{1,6}) ([0-9]{1,6})$/.exec(value);
    if (!m)
        return undefined;
    return { version: m[1], min: Number(m[2]), max: Number(m[3]) };
}
/** Said when the gate cannot serve this client: which side is older, and what to update. */
function gateProtocolError(label, gate, why = '') {
    const ours = `this rsync-atomic-deploy (${_cli_parse_js__WEBPACK_IMPORTED_MODULE_0__/* .VERSION */ .xv}) speaks protocol ${_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc}`;
    if (!gate) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .DeployError */ .s(`${label}: the key is gated and the gate does not speak ${ours}.`, 'Install the gate of this version on the server: rsync-atomic-deploy gate > rsync-atomic-deploy-gate.', 'gate-protocol');
    }
    const theirs = `protocol ${gate.min === gate.max ? gate.min : `${gate.min} to ${gate.max}`}`;
    if (gate.min <= _remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc && _remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc <= gate.max) {
        // The same protocol, but a script or value this gate does not know: it is an older build.
        return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .DeployError */ .s(`${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) does not know a script or value that this rsync-atomic-deploy (${_cli_parse_js__WEBPACK_IMPORTED_MODULE_0__/* .VERSION */ .xv}) sends${why ? `: ${why}` : ''}.`, 'Update the gate on the server to this version: `rsync-atomic-deploy gate > /usr/local/bin/rsync-atomic-deploy-gate` (as root).', 'gate-protocol');
    }
    const older = gate.max < _remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .DeployError */ .s(`${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) is ${older ? 'older' : 'newer'} than this client: it speaks ${theirs}, ${ours}.`, older
        ? 'Update the gate on the server: `rsync-atomic-deploy gate > /usr/local/bin/rsync-atomic-deploy-gate` (as root), with this version of the tool.'
        : `Update rsync-atomic-deploy here (the action's version, or the CLI) to ${gate.version} or later.`, 'gate-protocol');
}
/** The hint for a refusal by the gate (its message says what was refused). */
function gateHint(code) {
    switch (code) {
        case 'gate-refused':
            return 'The key is gated (a forced command in authorized_keys): it can only deploy to its own target. Nothing was changed.';
        case 'hook-refused':
            return 'Through a gated key the server runs only hooks its owner installed: put the command in an executable file TARGET/.deploy/hooks/before-switch or after-switch, owned by root (or another user) and not writable by the deploy user, in a directory the deploy user cannot write; then remove the hook input.';
        case 'hook-unsafe':
            return 'A hook the deploy user could change is no protection: as root, chown root: the hooks directory and the file, and chmod 755 them.';
        default:
            return '';
    }
}
/** The sh function that checks a value of each rule ($1 the name, $2 the value). */
const RULES = {
    target: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `[ "\${2%/}" = "$gate_target" ] || gate_refuse gate-refused "this key deploys to $gate_target only: another target ($1) was asked for"`,
    link: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in releases|shared|.deploy|[!A-Za-z0-9_]*|*[!A-Za-z0-9._-]*) gate_bad "$1" "a plain name" ;; esac
  [ "\${#2}" -le 100 ] || gate_bad "$1" "a plain name"`,
    token: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | *[!A-Za-z0-9]*) gate_bad "$1" "letters and digits" ;; esac
  [ "\${#2}" -le 64 ] || gate_bad "$1" "letters and digits"`,
    uint: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | *[!0-9]*) gate_bad "$1" "a whole number" ;; esac
  [ "\${#2}" -le 9 ] || gate_bad "$1" "a whole number"`,
    flag: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | 0 | 1) ;; *) gate_bad "$1" "0 or 1" ;; esac`,
    name: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `[ -z "$2" ] || gate_name "$1" "$2"`,
    names: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in *[!A-Za-z0-9._\ -]*) gate_bad "$1" "release ids" ;; esac
  set -f
  for gw in $2; do gate_name "$1" "$gw"; done
  set +f`,
    shared: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case "/$gp/" in //* | */./* | */../* | *//*) IFS=$gs_ifs; gate_bad "$1" "relative paths inside the release" ;; esac
    case $gp in *[[:cntrl:]]*) IFS=$gs_ifs; gate_bad "$1" "paths without control characters" ;; esac
  done
  IFS=$gs_ifs; set +f`,
    text: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of text" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
    json: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of JSON" ;; '{'*'}') ;; *) gate_bad "$1" "a JSON object" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
    // keep-assets (keep-assets.ts findPathPattern): ./ then the input's charset, no . or .. part.
    patterns: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case $gp in ./*) ;; *) IFS=$gs_ifs; gate_bad "$1" "find -path patterns starting ./" ;; esac
    case "\${gp#./}/" in */./* | */../* | ./* | ../* | *//* | *[!A-Za-z0-9._~@+*?/-]*) IFS=$gs_ifs; gate_bad "$1" "patterns of letters, digits and . _ - ~ @ + * ? /" ;; esac
  done
  IFS=$gs_ifs; set +f
  [ "\${#2}" -le 30000 ] || gate_bad "$1" "at most 30000 characters"`,
    // The build's manifest (manifest.ts), or the fast path's delta (fast-path.ts): its lines are
    // only written to the manifest area and compared with the server's own find; every path removed
    // or linked comes from that find, never from it.
    manifest: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | 'rad-manifest 1' | "rad-manifest 1$NL"*) ;; *) gate_bad "$1" "a release manifest" ;; esac`,
    mode: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | [0-7][0-7][0-7][0-7]) ;; *) gate_bad "$1" "4 octal digits" ;; esac`,
    digest: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `case $2 in '' | sha256:????????????????????????????????????????????????????????????????) ;; *) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac
  case \${2#sha256:} in *[!0-9a-f]*) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac`,
    hook: (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `[ -z "$2" ] || gate_refuse hook-refused "the client sent a $1 command, and through this key only hooks the server's owner installed run (executable files in $gate_target/.deploy/hooks/ that the deploy user cannot change); nothing was changed"`,
};
/** The gate's own functions, before the generated tables and the library. */
const GATE_HEAD = (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `
LC_ALL=C
export LC_ALL
NL='
'
gate_ifs=$IFS
gate_mode=none
gate_cmd=\${SSH_ORIGINAL_COMMAND-}
# Printable text of at most 600 bytes: what the client sent is logged, never as raw bytes.
gate_clean() { printf '%s' "$1" | tr -c ' -~' '?' | cut -c 1-600; }
# syslog (auth) where logger exists, and TARGET/.deploy/gate.log when .deploy is a real directory.
gate_log() {
  gl=$(gate_clean "$1")
  gfrom=\${SSH_CONNECTION%% *}
  if command -v logger >/dev/null 2>&1; then
    logger -t rsync-atomic-deploy-gate -p auth.warning "\${gfrom:-local}: $gl" 2>/dev/null
  fi
  if [ -d "$gate_target/.deploy" ] && [ ! -L "$gate_target/.deploy" ] && [ ! -L "$gate_target/.deploy/gate.log" ]; then
    printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "\${gfrom:-local}" "$gl" >> "$gate_target/.deploy/gate.log" 2>/dev/null
  fi
  return 0
}
# Refuses, logs and stops: $1 a code, $2 the message (our text: it names, never echoes, a value).
gate_refuse() {
  if [ -n "\${SSH_ORIGINAL_COMMAND+x}" ]; then gate_log "refused ($1): $2; command: $(gate_clean "$gate_cmd")"
  else gate_log "refused ($1): $2"
  fi
  printf 'rsync-atomic-deploy-gate: refused: %s\n' "$2" >&2
  [ "$gate_mode" = script ] && printf '@@rad-error %s %s\n' "$1" "$2"
  exit 3
}
gate_bad() { gate_refuse gate-refused "the value of $1 is not $2"; }
# A release id, or a name in .deploy/incoming: what the action's release-id input allows.
gate_name() {
  case $2 in [!A-Za-z0-9]* | *[!A-Za-z0-9._-]*) gate_bad "$1" "a release id (letters, digits, . _ -)" ;; esac
  [ "\${#2}" -le 120 ] || gate_bad "$1" "a release id of at most 120 characters"
}
# A value line of quote.ts wireAssignment, parsed (never run): NAME='…' or NAME=$(printf 'FMT.'); NAME=\${NAME%.}
gate_value() {
  case $1 in [A-Z_]*=*) ;; *) gate_refuse gate-refused "a value line is not NAME=VALUE" ;; esac
  gn=\${1%%=*}
  case $gn in *[!A-Z0-9_]*) gate_refuse gate-refused "a value line is not NAME=VALUE" ;; esac
  gr=\${1#*=}
  gsuffix=".'); $gn="'\${'"$gn%.}"
  case $gr in
    "\$(printf '"*"$gsuffix")
      gf=\${gr#"\$(printf '"}
      gf=\${gf%"$gsuffix"}
      # Only printable bytes and \ooo escapes: printf sees no directive and no other escape.
      case $gf in *[!\ -~]* | *\'* | *%*) gate_refuse gate-refused "the value of $gn is not in the wire form" ;; esac
      gc=$gf
      while :; do
        case $gc in
          *\\*) gc=\${gc#*\\}
            case $gc in 000*) gate_refuse gate-refused "the value of $gn holds a NUL byte" ;; [0-3][0-7][0-7]*) gc=\${gc#???} ;; *) gate_refuse gate-refused "the value of $gn is not in the wire form" ;; esac ;;
          *) break ;;
        esac
      done
      # x first: a format starting with - is no option to any printf.
      gv=$(printf "x$gf.")
      gv=\${gv#x}
      gv=\${gv%.} ;;
    \'*\')
      gv=\${gr#\'}
      gv=\${gv%\'}
      case $gv in *\'*) gate_refuse gate-refused "the value of $gn is not in the wire form" ;; esac ;;
    *) gate_refuse gate-refused "the value of $gn is not in the wire form" ;;
  esac
  gate_set "$gn" "$gv"
}
# The owner's hook $1 ('' when there is none). The deploy user can write TARGET, so a hook it could
# change (or replace) would let the key run anything: the file and its directory must be real (no
# symlink), the file executable, and neither owned by nor writable by the deploy user.
gate_owner_hook() {
  gd="$gate_target/.deploy/hooks"
  gh="$gd/$1"
  gate_hook=''
  [ -e "$gh" ] || [ -L "$gh" ] || return 0
  gu=$(id -u)
  if [ -L "$gate_target/.deploy" ] || [ -L "$gd" ] || [ -L "$gh" ] || [ ! -f "$gh" ] || [ ! -x "$gh" ] ||
    [ -w "$gd" ] || [ -w "$gh" ] ||
    [ "$(ls -ldn -- "$gd" | awk '{ print $3 }')" = "$gu" ] || [ "$(ls -ldn -- "$gh" | awk '{ print $3 }')" = "$gu" ]; then
    gate_refuse hook-unsafe "$gh is not run: the deploy user could change it (it must be an executable file, not a symlink, that the deploy user neither owns nor can write, in a directory the same holds for)"
  fi
  gate_hook=$gh
}

# rsync: a receiver (no --sender) into TARGET/.deploy/incoming/NAME/ (a dry run: also into
# releases/ID/, where -n writes nothing), with the options the client uses and nothing that writes
# elsewhere. The words are checked as they are and then given to rsync as they are: no shell.
gate_inside() {
  gi=\${2%/}
  case "$gi/" in /*) ;; *) return 1 ;; esac
  case "$gi/" in *//* | */./* | */../*) return 1 ;; esac
  case $gi in "$gate_target/$1"/?*) return 0 ;; esac
  return 1
}
gate_no_symlinks() {
  for gl in "$gate_target/.deploy" "$gate_target/.deploy/incoming" "$gate_target/releases" "$@"; do
    [ -L "$gl" ] && gate_refuse gate-refused "$gl is a symlink: rsync would write outside $gate_target"
  done
  return 0
}
gate_rsync_dir() {
  case $1 in
    --partial-dir)
      case $2 in */*) gate_inside .deploy/incoming "$2" || gate_refuse gate-refused "--partial-dir outside $gate_target/.deploy/incoming"
          gate_no_symlinks "\${2%/}" ;;
        '' | . | ..) gate_refuse gate-refused "--partial-dir is not a directory name" ;; esac ;;
    *)
      gate_inside releases "$2" || gate_inside .deploy/incoming "$2" || gate_refuse gate-refused "$1 outside $gate_target"
      gate_no_symlinks "\${2%/}" ;;
  esac
}
gate_rsync_short() {
  gs=\${1#-}
  case $gs in
    *e*) gl=\${gs%%e*}
      # e: what the client's rsync can do (protocol flags), not options: -e.LsfxCIvu
      case \${gs#*e} in *[!0-9A-Za-z.]* | [!0-9.]*) gate_refuse gate-refused "rsync option $1 is not allowed through this key" ;; esac ;;
    *) gl=$gs ;;
  esac
  case $gl in *[!lprtgocRnvSWHxmduiIEyz]*) gate_refuse gate-refused "rsync option $1 is not allowed through this key (only the options rsync-atomic-deploy uses)" ;; esac
  case $gl in *n*) gdry=1 ;; esac
  return 0
}
gate_rsync() {
  case $gate_cmd in *[!A-Za-z0-9._/=%,:+@\ -]*) gate_refuse gate-refused "the rsync command has characters rsync-atomic-deploy never sends (quotes, escapes, globs)" ;; esac
  set -f
  IFS=' '
  # shellcheck disable=SC2086
  set -- $gate_cmd
  IFS=$gate_ifs
  shift
  [ "\${1:-}" = --server ] || gate_refuse gate-refused "not an rsync server command"
  gwant='' gdot=0 gdest='' gargs=0 gdry=0 gdel=0
  for ga in "$@"; do
    if [ -n "$gwant" ]; then
      case $gwant in --files-from) [ "$ga" = - ] || gate_refuse gate-refused "--files-from must be read from the client (-)" ;; *) gate_rsync_dir "$gwant" "$ga" ;; esac
      gwant=''
      continue
    fi
    if [ "$gdot" = 1 ]; then gargs=$((gargs + 1)); gdest=$ga; continue; fi
    case $ga in
      --server | --stats | --from0 | --files-from=- | --force) ;;
      .) gdot=1 ;;
      --sender) gate_refuse gate-refused "reading from the server (rsync --sender) is not allowed through this key" ;;
      --timeout=* | --max-delete=* | --bwlimit=*)
        case \${ga#*=} in '' | *[!0-9]*) gate_refuse gate-refused "\${ga%%=*} takes a number" ;; esac ;;
      --log-format=* | --out-format=*)
        case \${ga#*=} in *[!%A-Za-z]*) gate_refuse gate-refused "\${ga%%=*} may hold only %-codes" ;; esac ;;
      --delete | --delete-before | --delete-during | --delete-after | --delete-delay | --delete-excluded) gdel=1 ;;
      --partial-dir=* | --link-dest=* | --compare-dest=*) gate_rsync_dir "\${ga%%=*}" "\${ga#*=}" ;;
      --partial-dir | --link-dest | --compare-dest | --files-from) gwant=$ga ;;
      --*) gate_refuse gate-refused "rsync option \${ga%%=*} is not allowed through this key (only the options rsync-atomic-deploy uses)" ;;
      -*) gate_rsync_short "$ga" ;;
      *) gate_refuse gate-refused "an rsync server command has options, then '.', then the destination" ;;
    esac
  done
  [ -z "$gwant" ] && [ "$gdot" = 1 ] && [ "$gargs" = 1 ] || gate_refuse gate-refused "an rsync server command has options, then '.', then one destination"
  if gate_inside .deploy/incoming "$gdest"; then
    case \${gdest#"$gate_target/.deploy/incoming/"} in */?*) gate_refuse gate-refused "rsync writes only into a directory of $gate_target/.deploy/incoming" ;; esac
  elif [ "$gdry" = 1 ] && [ "$gdel" = 0 ] && gate_inside releases "$gdest"; then
    case \${gdest#"$gate_target/releases/"} in */?*) gate_refuse gate-refused "a dry run compares with a release directory only" ;; esac
  else
    gate_refuse gate-refused "rsync writes only into $gate_target/.deploy/incoming through this key"
  fi
  gate_no_symlinks "\${gdest%/}"
  command -v rsync >/dev/null 2>&1 || gate_refuse rsync-missing "rsync is not installed on the server (or not in PATH for this user)"
  exec rsync "$@"
}
`;
/** The script dispatch: the values, then the script's own text skipped, then our copy of it run. */
const GATE_SCRIPT = (0,_remote_lib_js__WEBPACK_IMPORTED_MODULE_4__.sh) `
gate_script() {
  gate_mode=script
  printf '@@rad gate %s %s %s\n' "$GATE_VERSION" "$GATE_PROTO_MIN" "$GATE_PROTO_MAX"
  case $gate_cmd in *[!A-Za-z0-9\ -]*) gate_refuse gate-refused "not a call of rsync-atomic-deploy" ;; esac
  set -f
  IFS=' '
  # shellcheck disable=SC2086
  set -- $gate_cmd
  IFS=$gate_ifs
  set +f
  [ "$#" = 5 ] || gate_refuse gate-refused "not a call of rsync-atomic-deploy"
  case $4 in '' | *[!0-9]*) gate_refuse gate-refused "not a call of rsync-atomic-deploy" ;; esac
  if [ "$4" -lt "$GATE_PROTO_MIN" ] || [ "$4" -gt "$GATE_PROTO_MAX" ]; then
    gate_refuse gate-protocol "this gate ($GATE_VERSION) speaks protocol $GATE_PROTO_MIN to $GATE_PROTO_MAX, the client $4"
  fi
  gate_known "$5" || gate_refuse gate-protocol "this gate ($GATE_VERSION) has no script $5: update the gate"
  gname=$5
  gate_defaults
  gcount=0 gend=0
  while IFS= read -r gline; do
    if [ "$gline" = "$GATE_WIRE_END" ]; then gend=1; break; fi
    gcount=$((gcount + 1))
    [ "$gcount" -le 200 ] || gate_refuse gate-refused "too many values"
    gate_value "$gline"
  done
  [ "$gend" = 1 ] || gate_refuse gate-refused "the call ended before its values did"
  # The script text the client sent (the same as ours, or not: it is never run) up to its last line.
  gend=0
  while IFS= read -r gline; do
    if [ "$gline" = "$GATE_RUN" ]; then gend=1; break; fi
  done
  [ "$gend" = 1 ] || gate_refuse gate-refused "the call ended before its script did"
  T=$gate_target
  gate_owner_hook before-switch
  gate_before=$gate_hook
  gate_owner_hook after-switch
  gate_after=$gate_hook
  gate_mode=lib
  rad_lib
  if [ -n "$gate_before" ]; then BEFORE_SWITCH="exec $(shq "$gate_before")"; fi
  if [ -n "$gate_after" ]; then
    # After a switch the release is live: a failing owner hook is said, and it stays live.
    after_live() {
      run_hook after-switch "exec $(shq "$gate_after")" "$T/releases/$ID"
      [ "$HOOK_RC" = 0 ] || warn "the server's after-switch hook exited with status $HOOK_RC; releases/$ID stays live"
    }
  fi
  exec 9<&0 </dev/null
  watch_client
  "rad_s_$gname"
  exit $?
}

case $gate_target in
  '' | [!/]* | */ | *//* | */./* | */../* | */. | */..) printf 'rsync-atomic-deploy-gate: the forced command must name the target, an absolute normalised path: command="%s /var/www/example.com",restrict ...\n' "$0" >&2; exit 2 ;;
  *[!A-Za-z0-9._/@+-]*) printf 'rsync-atomic-deploy-gate: the target may hold only letters, digits and . _ / @ + -\n' >&2; exit 2 ;;
esac
[ "$#" = 1 ] || { printf 'rsync-atomic-deploy-gate: one argument, the target\n' >&2; exit 2; }
if [ -z "\${SSH_ORIGINAL_COMMAND+x}" ]; then
  gate_refuse gate-refused "this key runs no shell: it only deploys to $gate_target with rsync-atomic-deploy"
fi
case $gate_cmd in
  'sh -s rad '*) gate_script ;;
  'rsync --server '*) gate_rsync ;;
  'sh -s')
    gate_mode=script
    gate_refuse gate-protocol "this gate ($GATE_VERSION) needs rsync-atomic-deploy $GATE_VERSION or later: the client is older" ;;
  *) gate_refuse gate-refused "this key only deploys to $gate_target with rsync-atomic-deploy: the command was refused" ;;
esac
`;
/** Shell text without its first and last newline (a function's body). */
function body(text) {
    return text.replace(/^\n/, '').replace(/\n$/, '');
}
/**
 * The whole gate, generated: its head, a rule function per value rule, the value table (which
 * variable has which rule, and its default), the library and every script as functions, and the
 * dispatch. A new script or variable in remote.ts reaches the gate with no change here.
 */
function renderGate() {
    const names = Object.keys(_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .SCRIPTS */ .dL);
    const vars = Object.entries(_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .VAR_RULES */ .YY);
    const out = [
        '#!/bin/sh',
        `# rsync-atomic-deploy-gate ${_cli_parse_js__WEBPACK_IMPORTED_MODULE_0__/* .VERSION */ .xv} (protocol ${_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc}). GENERATED by \`rsync-atomic-deploy gate\``,
        '# from the same scripts the tool sends (src/gate.ts, src/remote.ts): do not edit, regenerate.',
        '# A forced command for a deploy key that can only deploy, in ~/.ssh/authorized_keys:',
        '#   command="/usr/local/bin/rsync-atomic-deploy-gate /var/www/example.com",restrict ssh-ed25519 AAAA...',
        `GATE_VERSION='${_cli_parse_js__WEBPACK_IMPORTED_MODULE_0__/* .VERSION */ .xv}'`,
        `GATE_PROTO_MIN=${_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc}`,
        `GATE_PROTO_MAX=${_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .GATE_PROTOCOL */ .nc}`,
        `GATE_WIRE_END='${_quote_js__WEBPACK_IMPORTED_MODULE_2__/* .WIRE_END */ .UW}'`,
        `GATE_RUN='${_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .RUN */ .oq}'`,
        'gate_target=${1:-}',
        body(GATE_HEAD),
        ...Object.entries(RULES).map(([rule, text]) => `gate_rule_${rule}() {\n  ${text}\n}`),
        `gate_defaults() {\n${vars.map(([n, r]) => `  ${n}=${r === 'uint' ? 0 : "''"}`).join('\n')}\n}`,
        // An unknown name: a newer client's (or a thief's); either way refused, saying to update the gate.
        `gate_set() {\n  case $1 in\n${vars.map(([n, r]) => `    ${n}) gate_rule_${r} "$1" "$2"; ${n}=$2 ;;`).join('\n')}\n    *) gate_refuse gate-protocol "this gate ($GATE_VERSION) does not know the value $1: update the gate" ;;\n  esac\n}`,
        `gate_known() {\n  case $1 in ${names.join(' | ')}) return 0 ;; esac\n  return 1\n}`,
        `rad_lib() {\n${body(_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .SERVER_LIB */ .iR)}\n}`,
        ...names.map((n) => `rad_s_${n}() {\n${body(_remote_js__WEBPACK_IMPORTED_MODULE_3__/* .SCRIPTS */ .dL[n])}\n}`),
        body(GATE_SCRIPT),
        '',
    ];
    return out.join('\n');
}


/***/ }),

/***/ 689:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   j3: () => (/* binding */ healthcheck),
/* harmony export */   yP: () => (/* binding */ maskUrl)
/* harmony export */ });
/* unused harmony exports healthRequest, sameHost */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(916);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(264);


/**
 * The health check after the switch: GET a URL from the runner until it answers 2xx. The URL may
 * carry secrets (user:password@, ?token=…): they are sent (the userinfo as Basic auth, which fetch
 * would otherwise refuse) but never printed, and redirects are followed only on the URL's own host,
 * so neither the credentials nor the check itself wander off to another server.
 */
/** The URL as it may be printed: userinfo and query values replaced by ***, parseable or not. */
function maskUrl(text) {
    return text
        .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@')
        .replace(/([?&;][^=&;#]*=)[^&;#]*/g, '$1***')
        .replace(/#.+$/, '#***');
}
/** Splits `https://user:pass@host/…` into the URL fetch can take and a Basic auth header. */
function healthRequest(raw) {
    const u = new URL(raw);
    if (!u.username && !u.password)
        return { url: u.href, authorization: '' };
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    return { url: u.href, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}
/**
 * Where a redirect may go: the same host name (any port of it), and never from https down to
 * http (the Basic credentials would then cross the network in clear).
 */
function sameHost(from, to) {
    const a = new URL(from);
    const b = new URL(to);
    return a.hostname === b.hostname && !(a.protocol === 'https:' && b.protocol === 'http:');
}
const MAX_REDIRECTS = 5;
/** A redirect off the URL's host: a setting to fix, not a server still starting; no retry. */
class OffHostRedirect extends Error {
}
/** One GET, redirects followed by hand on the same host; resolves with the status or throws. */
async function getOnce(req, signal) {
    let url = req.url;
    for (let hop = 0;; hop++) {
        const res = await fetch(url, {
            signal,
            redirect: 'manual',
            headers: {
                'user-agent': 'rsync-atomic-deploy healthcheck',
                ...(req.authorization ? { authorization: req.authorization } : {}),
            },
        });
        await res.arrayBuffer().catch(() => undefined);
        const location = res.headers.get('location');
        if (res.status < 300 || res.status >= 400 || !location)
            return res.status;
        const next = new URL(location, url).href;
        if (!sameHost(req.url, next)) {
            throw new OffHostRedirect(`HTTP ${res.status}: redirected to another host (${maskUrl(next)}), not followed`);
        }
        if (hop >= MAX_REDIRECTS)
            throw new Error(`HTTP ${res.status}: more than ${MAX_REDIRECTS} redirects`);
        url = next;
    }
}
/**
 * A signal aborted by `outer` or after `ms`, and its clean-up. (AbortSignal.any needs Node 20.3;
 * package.json allows every Node 20.)
 */
function withTimeout(outer, ms) {
    const c = new AbortController();
    const abort = () => c.abort();
    const t = setTimeout(abort, ms);
    if (outer.aborted)
        c.abort();
    else
        outer.addEventListener('abort', abort, { once: true });
    return {
        signal: c.signal,
        done: () => {
            clearTimeout(t);
            outer.removeEventListener('abort', abort);
        },
    };
}
/** GETs the URL from the runner until it answers 2xx, backing off, within a bound. */
async function healthcheck(rawUrl, opts) {
    const shown = maskUrl(rawUrl);
    const req = healthRequest(rawUrl);
    const deadline = Date.now() + (opts.boundMs ?? 60_000);
    let wait = 1000;
    let last = '';
    for (let attempt = 1;; attempt++) {
        const t = withTimeout(opts.signal, 10_000);
        try {
            const status = await getOnce(req, t.signal);
            if (status >= 200 && status < 300) {
                opts.reporter.info(`Health check ${shown}: ${status} (attempt ${attempt})`);
                return;
            }
            last = `HTTP ${status}`;
        }
        catch (e) {
            if (e instanceof OffHostRedirect) {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Health check failed: ${shown} answered ${e.message}.`, 'Give the URL the check should end at as healthcheck-url: redirects are followed only on its own host, so credentials and the check never go elsewhere.', 'healthcheck');
            }
            // Stopped by the step's timeout: keep the server's last answer, not the abort.
            if (opts.signal.aborted && last)
                break;
            last = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
        }
        finally {
            t.done();
        }
        if (opts.signal.aborted || Date.now() + wait > deadline)
            break;
        opts.reporter.info(`Health check ${shown}: ${last}; trying again in ${(0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .seconds */ .YA)(wait)}`);
        // The wait ends early when the step times out or is cancelled.
        await new Promise((r) => {
            const t = setTimeout(r, wait);
            opts.signal.addEventListener('abort', () => {
                clearTimeout(t);
                r();
            }, { once: true });
        });
        wait = Math.min(wait * 2, 10_000);
    }
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Health check failed: ${shown} did not answer 2xx (last answer: ${last}).`, 'Check the URL and what the new release serves; the job log above shows the after-switch output. Redirects are followed only on the same host.', 'healthcheck');
}


/***/ }),

/***/ 957:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Iu: () => (/* binding */ loginShellFailure),
/* harmony export */   Z4: () => (/* binding */ explainRsyncExit),
/* harmony export */   cB: () => (/* binding */ explainSshFailure),
/* harmony export */   lI: () => (/* binding */ sshFactsNeeded),
/* harmony export */   r1: () => (/* binding */ startupFileHint),
/* harmony export */   yj: () => (/* binding */ remoteErrorHint)
/* harmony export */ });
/* unused harmony export shellFamily */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(916);
/* harmony import */ var _quote_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(519);
/* harmony import */ var _words_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(846);



/** A path as it must be typed into a shell: plain when it can be, else quoted. */
function shWord(s) {
    return /^[A-Za-z0-9_./-]+$/.test(s) ? s : (0,_quote_js__WEBPACK_IMPORTED_MODULE_1__/* .shQuote */ .US)(s);
}
/** Own setup: what to do about a host key ssh does not know, the way ssh users do it. */
function ownHostKeyHint(ctx) {
    const name = ctx.host?.host ?? 'HOST';
    return `Host keys are always checked, whatever your ~/.ssh/config says. Connect once with \`ssh ${ctx.host?.port && ctx.host.port !== 22 ? `-p ${ctx.host.port} ` : ''}${name}\`, check the fingerprint it shows against the server (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` there) and answer yes, so it is in your known_hosts; or pass --known-hosts FILE.`;
}
function lastLines(text, n = 6) {
    return text.trim().split('\n').slice(-n).join('\n');
}
/** What ssh said, by kind: the classifier below and the facts it needs agree on these. */
const KEY_FORMAT = /error in libcrypto|invalid format|Load key .*: (invalid|error)/i;
const BAD_PASSPHRASE = /incorrect passphrase|bad passphrase/i;
const HOST_KEY_CHANGED = /REMOTE HOST IDENTIFICATION HAS CHANGED/;
const HOST_KEY_UNKNOWN = /Host key verification failed|No .* host key is known|host key .* not in list/i;
const DENIED = /Permission denied \(/;
/** Which facts explaining `stderr` needs: a key scan for a host key failure, key checks for a refused login. */
function sshFactsNeeded(stderr, ctx) {
    const early = KEY_FORMAT.test(stderr) || ctx.passphraseRejected || BAD_PASSPHRASE.test(stderr);
    const hostKey = !early && (HOST_KEY_CHANGED.test(stderr) || HOST_KEY_UNKNOWN.test(stderr));
    return {
        offeredKeys: hostKey && !ctx.ownSetup && ctx.host !== undefined,
        keyChecks: !early && !hostKey && DENIED.test(stderr) && ctx.hasKey,
    };
}
/** What the server offers, as known_hosts lines with fingerprints: shown when verification fails. */
function offeredKeys(ctx, offered) {
    const host = ctx.host;
    if (!host || !offered)
        return '';
    if (offered.lines.length === 0) {
        return ctx.jump
            ? `\nIts key could not be read through the jump host (run \`ssh-keyscan -p ${host.port} ${host.host}\` on the jump host).`
            : '';
    }
    return `\nThe server offers (check these fingerprints against the server before you trust them):\n${offered.fingerprints}\nknown_hosts lines to pin:\n${offered.lines.join('\n')}`;
}
/** Turns ssh's stderr from a failed connection into a cause and a fix. */
function explainSshFailure(stderr, ctx, facts = {}) {
    const s = stderr;
    const who = `${ctx.label}`;
    const w = ctx.words ?? _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d;
    if (KEY_FORMAT.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`ssh could not read the private key for ${who}.`, 'The key text is damaged or not an OpenSSH/PEM private key. Paste the whole file (BEGIN to END lines) into the secret again.', 'key-format');
    }
    if (ctx.passphraseRejected || BAD_PASSPHRASE.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The key passphrase (${w.input('key-passphrase')}) does not decrypt the key (connecting to ${who}).`, 'Check the passphrase secret, or remove the passphrase: `ssh-keygen -p -f KEY`.', 'passphrase');
    }
    if (ctx.ownSetup && HOST_KEY_CHANGED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host key of ${who} is not the one in your known_hosts: it CHANGED. This may be an attack, or the server was reinstalled.`, 'Do not deploy until you know why. If the change is expected, remove the old key (`ssh-keygen -R HOST`, the line ssh named) and connect once with ssh to check and record the new one.', 'host-key-changed');
    }
    if (ctx.ownSetup && HOST_KEY_UNKNOWN.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Host key verification failed for ${who}: its key is not in your known_hosts.`, ownHostKeyHint(ctx), 'host-key-unknown');
    }
    if (HOST_KEY_CHANGED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host key of ${who} is not the one in ${w.input('known-hosts')}: it CHANGED. This may be an attack, or the server was reinstalled.`, `Do not deploy until you know why. If the change is expected, replace ${w.input('known-hosts')} with the new key.${offeredKeys(ctx, facts.offered)}`, 'host-key-changed');
    }
    if (HOST_KEY_UNKNOWN.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`Host key verification failed for ${who}: none of the keys in ${w.input('known-hosts')} matches the key the server offered.`, `Pin the server's key in ${w.input('known-hosts')} (run \`ssh-keyscan -p ${ctx.host?.port ?? 22} ${ctx.host?.host ?? 'HOST'}\`${ctx.jump ? ' on the jump host' : ''} and compare the fingerprint with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).${offeredKeys(ctx, facts.offered)}`, 'host-key-unknown');
    }
    if (ctx.ownSetup && !ctx.hasKey && DENIED.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the login${ctx.user ? ` as user ${ctx.user}` : ''}: Permission denied (publickey).`, 'No key your ssh offered was accepted (your agent and the IdentityFile of your ~/.ssh/config). A key with a passphrase must be in your agent (`ssh-add KEY`): nothing here asks for it. Check that `ssh HOST true` works, the user name, or pass --key FILE.', 'auth');
    }
    if (DENIED.test(s)) {
        // BatchMode skips an encrypted key silently and the login fails as if the key were not authorized.
        if (ctx.hasKey && !ctx.passphraseGiven && facts.keyNeedsPassphrase) {
            return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The key is protected by a passphrase and ${w.input('key-passphrase')} is not set, so ssh could not use it (connecting to ${who}).`, `Pass the passphrase from a secret as ${w.input('key-passphrase', '${{ secrets.DEPLOY_KEY_PASSPHRASE }}')}, or remove it from the key: \`ssh-keygen -p -f KEY\`.`, 'passphrase');
        }
        let fp = '';
        if (ctx.hasKey) {
            // `256 SHA256:… comment (ED25519)` → `SHA256:… (ED25519)`
            const f = facts.keyFingerprint ? facts.keyFingerprint.trim().split(' ') : [];
            if (f[1])
                fp = ` with the key ${f[1]}${/^\(.*\)$/.test(f.at(-1) ?? '') ? ` ${f.at(-1)}` : ''}`;
        }
        const user = ctx.user || `(the runner’s user name; set ${w.input('user')})`;
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the login as user ${user}${fp}: Permission denied (publickey).`, `Add the public key to ~${ctx.user || 'USER'}/.ssh/authorized_keys on the server (\`ssh-keygen -y -f KEY\` prints it), check the user name, and that the key is not restricted there (from=, command=).${ctx.passphraseGiven ? '' : ` If the key has a passphrase, give ${w.input('key-passphrase')}.`}`, 'auth');
    }
    if (/Connection refused/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} refused the connection: nothing listens for SSH on port ${ctx.host?.port ?? 22}.`, `Check the port (${w.input('port')} or host:port) and that sshd runs and the firewall lets the runner in.`, 'refused');
    }
    if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`The host name of ${who} does not resolve.`, `Check the spelling of ${w.input('host')}.`, 'dns');
    }
    if (/timed out during banner exchange/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} is unreachable: the TCP connection was accepted, but no SSH greeting came back before ssh timed out (${lastLines(s, 1)}).`, `Check that port ${ctx.host?.port ?? 22} is this server's SSH port (not another service or a proxy), that sshd is not overloaded (MaxStartups), and that no firewall swallows the connection after accepting it.`, 'unreachable');
    }
    if (/timed out|No route to host|Network is unreachable/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} is unreachable: ${lastLines(s, 1)}`, `Check the address, that the server is up, and that its firewall lets GitHub runners in (or use a self-hosted runner / ${w.input('jump-host')}).`, 'unreachable');
    }
    if (/kex_exchange_identification|Connection closed by|Connection reset/i.test(s)) {
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${who} closed the connection before login: ${lastLines(s, 1)}`, 'The server may limit connections (MaxStartups, fail2ban) or not be an SSH server on that port.', 'closed');
    }
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`ssh to ${who} failed: ${lastLines(s) || '(no message)'}`, '', 'ssh');
}
/** Hints for codes our remote scripts report with `@@rad-error CODE message`. */
function remoteErrorHint(code, ctx) {
    const w = ctx.words ?? _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d;
    switch (code) {
        case 'rsync-missing':
            return 'Install rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).';
        case 'target-unwritable':
            return `Create the target and give it to the deploy user, e.g. \`sudo install -d -o ${ctx.user || 'deploy'} ${shWord(ctx.target)}\`.`;
        case 'link-not-symlink':
            return `To migrate: move the directory into a release and point a symlink at it, e.g. \`cd ${shWord(ctx.target)} && mkdir -p releases && mv ${ctx.linkName} releases/initial && ln -s releases/initial ${ctx.linkName}\`. Serving continues from the same files.`;
        case 'release-exists':
            return `Release ids are never reused: give a new ${w.input('release-id')}, or leave it empty to generate one.`;
        case 'locked':
            return `Wait for the other deploy, or if it is dead run ${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? 'this action with ' : ''}${w.command('unlock')} (or \`rm -r TARGET/.deploy/lock\` on the server).${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? ' Use a `concurrency:` group in the workflow to queue deploys.' : ''}`;
        case 'lock-lost':
            return 'Another run took the lock over (it judged ours stale). Re-run this deploy.';
        case 'lock-failed':
            return 'This is not another deploy: the server refused to create the lock. Fix what the message names, then re-run.';
        case 'lock-stuck':
            return 'Remove the stale lock on the server (`rm -r TARGET/.deploy/lock`, as a user who may), then re-run.';
        case 'unlock-failed':
            return 'Remove it on the server as a user who may (`rm -r TARGET/.deploy/lock`).';
        case 'unsafe-path':
            return 'Nothing was changed. The deploy root must hold real directories releases/ and .deploy/ (and real release directories) of its own.';
        case 'no-rename':
            return 'A switch must rename one link over another in one step; without such a tool there is no atomic switch.';
        case 'not-uploaded':
            return `Run ${w.command('upload')} with the same ${w.input('release-id')} on every host first${w === _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d ? ' (a matrix job)' : ''}, then ${w.command('activate')}.`;
        case 'no-target':
            return `Check ${w.input('target')}: it must be the directory you deploy to.`;
        case 'nothing-live':
            return `Name the release to check with ${w.input('release-id')} (${w.command('list')} shows them).`;
        case 'release-missing':
            return `${w.command('list')} shows the releases on the server.`;
        case 'verify-tools':
            return 'Install GNU coreutils or busybox on the server (Debian/Ubuntu: apt-get install coreutils; Alpine: apk add coreutils).';
        case 'verify-too-large':
            return 'verify reads the whole release into memory on the runner: this one is beyond its bound.';
        default:
            return '';
    }
}
/** rsync's exit codes in words (rsync(1) EXIT VALUES), with the usual cause. */
function explainRsyncExit(code, stderr, words = _words_js__WEBPACK_IMPORTED_MODULE_2__/* .ACTION_WORDS */ .d) {
    const tail = lastLines(stderr, 4);
    const plain = {
        1: 'rsync refused its arguments (syntax or usage error)',
        2: 'the two rsyncs could not agree on a protocol (the server rsync is too old or is openrsync)',
        3: 'rsync could not select input/output files or directories',
        5: 'rsync could not start talking to the server',
        10: 'a socket I/O error',
        11: 'a file I/O error (is the server disk full?)',
        12: 'the data stream broke: often a shell startup file on the server (.bashrc, .profile) prints text; make it print nothing for non-interactive shells',
        14: 'an IPC error',
        20: 'rsync was interrupted',
        23: 'some files could not be transferred (permissions, unreadable files, or a full disk)',
        24: 'some source files vanished during the transfer (the build changed while uploading)',
        25: 'the --max-delete limit stopped deletions',
        30: 'the transfer stalled (timeout in data send/receive)',
        35: 'timeout waiting for the daemon connection',
        127: 'rsync is not installed on the server (or not in PATH)',
        255: 'the SSH connection failed or dropped',
    };
    const why = plain[code] ?? 'rsync failed';
    const disk = /No space left on device|disk quota exceeded/i.test(stderr)
        ? ` The server disk is full: free space (prune old releases, ${words.input('keep-releases')}) and re-run.`
        : '';
    return `rsync exited with code ${code}: ${why}.${disk}${tail ? `\n${tail}` : ''}`;
}
/** What a login shell's startup file must do to stay quiet, or to stop reading without ending the shell. */
const STARTUP_SYNTAX = {
    bash: { file: '~/.bashrc', quiet: 'start it with: [ -z "$PS1" ] && return' },
    zsh: { file: '~/.zshenv (and ~/.zshrc)', quiet: 'start it with: [[ -o interactive ]] || return' },
    sh: {
        file: '~/.profile (and the $ENV file)',
        quiet: 'start it with: case $- in *i*) ;; *) return ;; esac',
    },
    fish: {
        file: '~/.config/fish/config.fish',
        quiet: 'start it with: status is-interactive; or return (or put the rest inside: if status is-interactive … end)',
    },
    csh: {
        file: '~/.cshrc (or ~/.tcshrc)',
        quiet: 'put what is meant for a terminal inside: if ($?prompt) then … endif (csh has no return; exit there ends the session)',
    },
};
/** The family of a login shell path: /usr/bin/fish → fish, tcsh → csh, dash/ksh → sh; '' if unknown. */
function shellFamily(shell) {
    const name = shell.split('/').pop() ?? '';
    if (name === 'bash' || name === 'zsh' || name === 'fish')
        return name;
    if (name === 'csh' || name === 'tcsh')
        return 'csh';
    if (['sh', 'dash', 'ksh', 'mksh', 'ash', 'busybox'].includes(name))
        return 'sh';
    return '';
}
/**
 * The fix for a startup file that prints text (`prints`) or ends the session (`exits`) when the
 * shell is not interactive, in the syntax of the user's login shell (every common one when unknown).
 */
function startupFileHint(shell, problem) {
    const family = shellFamily(shell);
    const what = problem === 'prints'
        ? 'print nothing when the shell is not interactive'
        : 'stop reading (not end the shell) when the shell is not interactive: no `exit` for non-interactive shells';
    const one = (f) => {
        const s = STARTUP_SYNTAX[f];
        return `${s.file}: ${s.quiet}`;
    };
    if (family)
        return `Make the login shell's startup file ${what}. ${one(family)}.`;
    return `Make the login shell's startup file ${what}. ${['bash', 'zsh', 'fish', 'csh'].map(one).join('; ')}.`;
}
/**
 * The session ended before our script said a word: the login shell did not run it (nologin,
 * /bin/false) or a startup file ended the shell first. Relays what the shell printed.
 */
function loginShellFailure(ctx) {
    const who = ctx.user ? `user ${ctx.user}` : 'the deploy user';
    const said = ctx.said.length > 0 ? `; it printed: ${ctx.said.join(' | ')}` : '; it printed nothing';
    const message = `${ctx.label}: the login shell of ${who} ended the session before the deploy script ran (exit code ${ctx.code})${said}.`;
    const text = ctx.said.join('\n');
    if (/currently not available|nologin|not allowed|account is|no login/i.test(text) ||
        (ctx.code === 1 && text === '')) {
        const u = ctx.user || 'USER';
        return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(message, `${ctx.user ? ctx.user : 'The deploy user'}'s login shell does not run commands${text ? '' : ' (nologin or /bin/false?)'}. Give the account a real shell on the server, e.g. \`sudo usermod -s /bin/sh ${u}\` (or \`chsh -s /bin/bash ${u}\`), or deploy as a user that has one.${text ? '' : ` ${startupFileHint('', 'exits')}`}`, 'login-shell');
    }
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(message, startupFileHint('', 'exits'), 'login-shell');
}


/***/ }),

/***/ 155:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   BP: () => (/* binding */ logLine),
/* harmony export */   Gj: () => (/* binding */ badReleases),
/* harmony export */   W3: () => (/* binding */ releasesToPrune),
/* harmony export */   _9: () => (/* binding */ parseNumberedLog),
/* harmony export */   dD: () => (/* binding */ logProblemsWarning),
/* harmony export */   es: () => (/* binding */ rollbackTarget),
/* harmony export */   tH: () => (/* binding */ listReleases)
/* harmony export */ });
/* unused harmony exports parseLog, RELEASE_ID_RE, checkLogLine */
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(264);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(873);
/**
 * The release history, read from `.deploy/log` (one JSON object a line). What was live before,
 * what is bad and what may be pruned are decided here, from the log's order, never from release
 * names or mtimes (rsync copies mtimes, and names need not sort by time).
 */


function parseLog(lines) {
    const out = [];
    for (const line of lines) {
        try {
            const o = JSON.parse(line);
            if (typeof o.release === 'string' && typeof o.event === 'string')
                out.push(o);
        }
        catch {
            // a torn or foreign line: the log is advisory for what it cannot parse
        }
    }
    return out;
}
/** A release id as the tool makes and accepts them: a plain name, never a path or shell syntax. */
const RELEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const EVENTS = ['deploy', 'rollback', 'revert'];
const TEXT_FIELDS = ['time', 'sha', 'ref', 'actor', 'run', 'host', 'digest'];
/**
 * One log line as an entry, or why it is not one. The log is the server's file: ids must be
 * release names (no `../`, no shell syntax), every field a string; text fields come back escaped
 * (a JSON `\n` or `\u001b` is a real control character once parsed).
 */
function checkLogLine(line) {
    let o;
    try {
        o = JSON.parse(line);
    }
    catch {
        return 'not valid JSON';
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o))
        return 'not a JSON object';
    const r = o;
    if (typeof r.release !== 'string' || !RELEASE_ID_RE.test(r.release))
        return 'no valid release id';
    if (typeof r.event !== 'string' || !EVENTS.includes(r.event))
        return 'an unknown event';
    if (r.from !== undefined && (typeof r.from !== 'string' || !RELEASE_ID_RE.test(r.from))) {
        return 'an invalid "from" release id';
    }
    const entry = { release: r.release, event: r.event, time: '' };
    if (typeof r.from === 'string')
        entry.from = r.from;
    for (const f of TEXT_FIELDS) {
        const v = r[f];
        if (v === undefined)
            continue;
        if (typeof v !== 'string')
            return `a "${f}" that is not a string`;
        entry[f] = (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_1__/* .untrusted */ .bp)(v, 1024);
    }
    return entry;
}
/**
 * The log as the server sends it (remote.ts send_log): `N LINE` for each line, and the numbers of
 * lines too long to send. Bad lines are skipped and named; blank ones are skipped in silence.
 */
function parseNumberedLog(lines, tooLong = []) {
    const entries = [];
    const problems = tooLong.map((n) => ({
        line: Number(n) || 0,
        why: 'longer than 16384 bytes',
    }));
    for (const l of lines) {
        const sp = l.indexOf(' ');
        const n = Number(sp < 0 ? l : l.slice(0, sp));
        const text = sp < 0 ? '' : l.slice(sp + 1);
        if (text.trim() === '')
            continue;
        const e = checkLogLine(text);
        if (typeof e === 'string')
            problems.push({ line: n, why: e });
        else
            entries.push(e);
    }
    problems.sort((a, b) => a.line - b.line);
    return { entries, problems };
}
/** One warning for all skipped lines (a crafted log may have thousands): the first few named. */
function logProblemsWarning(problems) {
    if (problems.length === 0)
        return '';
    const named = problems.slice(0, 5).map((p) => `line ${p.line} (${p.why})`);
    const more = problems.length > 5 ? ` and ${problems.length - 5} more` : '';
    return `skipped ${(0,_format_js__WEBPACK_IMPORTED_MODULE_0__/* .plural */ .LS)(problems.length, 'bad line')} of .deploy/log: ${named.join(', ')}${more}. The history is read without them.`;
}
/** Fixed key order, one line, no newlines inside (JSON escapes them). */
function logLine(entry) {
    return JSON.stringify({
        release: entry.release,
        event: entry.event,
        time: entry.time,
        from: entry.from,
        sha: entry.sha,
        ref: entry.ref,
        actor: entry.actor,
        run: entry.run,
        host: entry.host,
        digest: entry.digest,
    });
}
/**
 * Releases that were rolled back from or reverted: later rollbacks skip them. One a rollback made
 * live again (rollback-to names it on purpose) is good again, or the next rollback would skip it.
 */
function badReleases(log) {
    const bad = new Set();
    for (const e of log) {
        if ((e.event === 'rollback' || e.event === 'revert') && e.from)
            bad.add(e.from);
        if (e.event === 'rollback' && e.release !== e.from)
            bad.delete(e.release);
    }
    return bad;
}
/** The release each entry made live, oldest first. */
function wentLive(log) {
    return log.map((e) => e.release);
}
/**
 * Where a rollback goes: the newest release that went live before, other than the live one,
 * not bad, still on disk.
 */
function rollbackTarget(log, live, existing) {
    const bad = badReleases(log);
    const seq = wentLive(log);
    for (let i = seq.length - 1; i >= 0; i--) {
        const id = seq[i];
        if (id !== live && !bad.has(id) && existing.has(id))
            return id;
    }
    return undefined;
}
/** Releases on disk, newest first by the log (ones the log does not know come last). */
function listReleases(log, existing, live) {
    const bad = badReleases(log);
    const firstDeploy = new Map();
    const deployIndex = new Map();
    log.forEach((e, i) => {
        if (e.event === 'deploy' && !firstDeploy.has(e.release))
            firstDeploy.set(e.release, e);
        if (e.event === 'deploy' && !deployIndex.has(e.release))
            deployIndex.set(e.release, i);
    });
    return existing
        .map((id) => {
        const d = firstDeploy.get(id);
        return {
            id,
            current: id === live,
            bad: bad.has(id),
            deployedAt: d?.time ?? '',
            sha: d?.sha ?? '',
            ref: d?.ref ?? '',
            actor: d?.actor ?? '',
            run: d?.run ?? '',
        };
    })
        .sort((a, b) => (deployIndex.get(b.id) ?? -1) - (deployIndex.get(a.id) ?? -1) || a.id.localeCompare(b.id));
}
/**
 * Which releases to delete so that `keep` good releases remain. Never the live one, never its
 * rollback target, never one the log does not know (we cannot tell how old it is).
 * Bad releases do not count; they go once they are older than the oldest good release kept.
 */
function releasesToPrune(log, existing, live, keep) {
    if (keep <= 0)
        return [];
    const protectedIds = new Set([live]);
    const back = rollbackTarget(log, live, new Set(existing));
    if (back)
        protectedIds.add(back);
    const ordered = listReleases(log, existing, live).filter((r) => r.deployedAt !== '' || r.current);
    const prune = [];
    let good = 0;
    for (const r of ordered) {
        if (good >= keep && !protectedIds.has(r.id)) {
            prune.push(r.id);
            continue;
        }
        if (!r.bad)
            good++;
    }
    return prune;
}


/***/ }),

/***/ 602:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $Z: () => (/* binding */ keepPathsValue),
/* harmony export */   Hl: () => (/* binding */ keptNote),
/* harmony export */   O8: () => (/* binding */ keptCount),
/* harmony export */   UR: () => (/* binding */ parseKeepAssets),
/* harmony export */   bU: () => (/* binding */ dryRunKept),
/* harmony export */   qT: () => (/* binding */ keepSources)
/* harmony export */ });
/* unused harmony exports MAX_PATTERNS, findPathPattern, countMissing */
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(24);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(916);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(264);
/* harmony import */ var _history_js__WEBPACK_IMPORTED_MODULE_4__ = __nccwpck_require__(155);
/* harmony import */ var _reply_js__WEBPACK_IMPORTED_MODULE_5__ = __nccwpck_require__(279);
/**
 * keep-assets: files of the last releases that match the patterns and that the new build lacks are
 * hard-linked into the new release before it goes live, so a page loaded just before a switch still
 * finds its hashed scripts (no ChunkLoadError). The pure parts live here: the patterns' validation
 * and translation, and which releases are the sources. The server side is keep_assets in
 * remote-lib.ts.
 */






/** A pattern's characters: plain file-name characters and the globs * and ?; nothing a shell or find reads otherwise. */
const SEGMENT_RE = /^[A-Za-z0-9._~@+*?-]+$/;
const FIX = 'Give patterns relative to the release, e.g. assets/**, _next/static/** or *.js (letters, digits, . _ - ~ @ + and the globs * and ?).';
/** At most this many patterns, each this long: a list is a handful of asset directories. */
const MAX_PATTERNS = 100;
const MAX_LENGTH = 200;
/**
 * The keep-assets input as patterns: newline or comma separated, each relative (no leading /, no
 * `.` or `..` part), of a safe charset. `name` is the input named in errors.
 */
function parseKeepAssets(value, name = 'keep-assets') {
    const items = value
        .replace(/\r\n?/g, '\n')
        .split(/[\n,]/)
        .map((p) => p.trim())
        .filter((p) => p !== '');
    if (items.length > MAX_PATTERNS) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `has ${items.length} patterns, more than ${MAX_PATTERNS}`, 'List the asset directories, e.g. assets/**.');
    }
    for (const p of items)
        checkPattern(name, p);
    return [...new Set(items)];
}
function checkPattern(name, p) {
    const shown = JSON.stringify(p);
    if (p.length > MAX_LENGTH)
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown.slice(0, 60)}… is longer than ${MAX_LENGTH} characters`, FIX);
    if (p.startsWith('/'))
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} is absolute`, FIX);
    const parts = p.replace(/\/$/, '').split('/');
    if (parts.some((s) => s === '.' || s === '..')) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has a . or .. part`, FIX);
    }
    if (parts.some((s) => s === ''))
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has an empty part (//)`, FIX);
    const bad = parts.find((s) => !SEGMENT_RE.test(s));
    if (bad !== undefined) {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .InputError */ .d(name, `the pattern ${shown} has a character that is not allowed`, FIX);
    }
}
/**
 * A pattern as a `find -path` pattern below the release (find prints `./path`). find's `*` matches
 * `/` too, so `**` becomes `*` and a `*` of the pattern matches across directories as well:
 * `assets/**` and `assets/*` are every file under assets/, `*.js` every .js file at any depth. A
 * pattern ending in `/` means everything under that directory.
 */
function findPathPattern(pattern) {
    let p = pattern.replace(/\*{2,}/g, '*');
    if (p.endsWith('/'))
        p += '*';
    return `./${p}`;
}
/** The find -path patterns, one a line, as the keep_assets script reads them (KEEP_PATHS). */
function keepPathsValue(patterns) {
    return patterns.map(findPathPattern).join('\n');
}
/**
 * The releases old assets are kept from, newest first: the live one, then the others in the log's
 * order (list's order), at most `n`, never the new release itself. Only releases on disk.
 */
function keepSources(log, existing, live, newId, n) {
    if (n <= 0)
        return [];
    const ordered = (0,_history_js__WEBPACK_IMPORTED_MODULE_4__/* .listReleases */ .tH)(log, existing, live).map((r) => r.id);
    const list = existing.includes(live) ? [live, ...ordered.filter((id) => id !== live)] : ordered;
    return list.filter((id) => id !== newId).slice(0, n);
}
/** The server's count of kept files (a `kept` reply): a whole number, else 0. */
function keptCount(value) {
    return value !== undefined && /^[0-9]{1,9}$/.test(value) ? Number(value) : 0;
}
/** "; kept N old assets" for a host's line (the CLI's, the summary's), when keep-assets is on. */
function keptNote(settings, kept) {
    if (settings.keepAssets.length === 0)
        return '';
    return settings.dryRun ? `; would keep ${(0,_format_js__WEBPACK_IMPORTED_MODULE_3__/* .plural */ .LS)(kept, 'old asset')}` : `; kept ${(0,_format_js__WEBPACK_IMPORTED_MODULE_3__/* .plural */ .LS)(kept, 'old asset')}`;
}
/**
 * How many of the server's candidates (`./path`, from keepPlan) the build lacks: the ones a deploy
 * would keep. A path the build has, or one under a file or a symlink of the build, is not kept.
 * (The build as it lies here: exclude and filter rules are not applied.)
 */
function countMissing(source, candidates) {
    let n = 0;
    for (const c of candidates) {
        const rel = c.startsWith('./') ? c.slice(2) : '';
        const parts = rel.split('/');
        if (rel === '' || parts.some((p) => p === '' || p === '.' || p === '..'))
            continue;
        if (placeFree(source, parts))
            n++;
    }
    return n;
}
/** Nothing at the path in `root`, and every part above it that exists is a real directory. */
function placeFree(root, parts) {
    let p = root;
    for (let i = 0; i < parts.length; i++) {
        p = node_path__WEBPACK_IMPORTED_MODULE_1___default().join(p, parts[i]);
        let st;
        try {
            st = (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.lstatSync)(p);
        }
        catch {
            return true;
        }
        if (i === parts.length - 1 || !st.isDirectory())
            return false;
    }
    return false;
}
/** A dry run: what keep-assets would link on this host, from the server's plan and the local build. */
async function dryRunKept(ctx, run) {
    const s = ctx.settings;
    if (s.keepAssets.length === 0 || !run.state)
        return 0;
    const reply = await run.session.call('keepPlan', {
        KEEP_PATHS: keepPathsValue(s.keepAssets),
        KEEP_FROM: keepSources(run.state.log, run.state.releases, run.state.live, s.releaseId, s.keepAssetsReleases).join(' '),
    });
    return countMissing(s.source, (0,_reply_js__WEBPACK_IMPORTED_MODULE_5__/* .all */ .Q7)(reply, 'keep-candidate'));
}


/***/ }),

/***/ 41:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   _d: () => (/* binding */ fingerprintCheckScript),
/* harmony export */   uJ: () => (/* binding */ parseKnownHosts),
/* harmony export */   vS: () => (/* binding */ renderKnownHosts)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(916);

const KEY_TYPE_RE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(-cert-v01@openssh\.com)?$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const FINGERPRINT_RE = /SHA256:([A-Za-z0-9+/]{43})=?/;
const HOW = 'Paste the output of `ssh-keyscan -p PORT HOST` (lines like "host ssh-ed25519 AAAA…"), or fingerprints like "SHA256:…" from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`, one per line.';
function parseKnownHosts(input, value) {
    const out = { lines: [], fingerprints: [] };
    value
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .forEach((raw, i) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            return;
        const where = `line ${i + 1}`;
        if (/[\u0000-\u001f\u007f]/.test(line.replace(/\t/g, ' '))) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} contains control characters`, HOW);
        }
        const fp = FINGERPRINT_RE.exec(line);
        if (fp && !/^(@\S+\s+)?\S+\s+\S+\s+AAAA/.test(line)) {
            out.fingerprints.push(`SHA256:${fp[1]}`);
            return;
        }
        if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}/i.test(line.split(/\s+/)[1] ?? line)) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} is an MD5 fingerprint`, `Give the SHA256 one instead. ${HOW}`);
        }
        const fields = line.split(/\s+/);
        let marker = '';
        if (fields[0]?.startsWith('@')) {
            marker = fields.shift() ?? '';
            if (marker !== '@cert-authority' && marker !== '@revoked') {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} has an unknown marker ${marker}`, HOW);
            }
        }
        let patterns;
        if (fields[0] !== undefined && KEY_TYPE_RE.test(fields[0])) {
            patterns = ['*']; // a bare public key (e.g. the server's ssh_host_ed25519_key.pub): trust it for every host
        }
        else {
            patterns = (fields.shift() ?? '').split(',');
        }
        const keyType = fields[0] ?? '';
        const key = fields[1] ?? '';
        if (!KEY_TYPE_RE.test(keyType) || !BASE64_RE.test(key) || key.length < 60) {
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .InputError */ .d(input, `${where} is neither a known_hosts line nor a SHA256 fingerprint`, HOW);
        }
        out.lines.push({ marker, patterns, keyType, key });
    });
    return out;
}
/**
 * The known_hosts file we write. ssh looks a non-22 port up as `[host]:port`, but people paste
 * `host key` lines (or ssh-keyscan with -p prints `[host]:port`); so each plain pattern is also
 * written with every port this deploy uses, and either form matches.
 */
function renderKnownHosts(trusted, ports) {
    const extraPorts = [...new Set(ports)].filter((p) => p !== 22);
    return trusted.lines
        .map(({ marker, patterns, keyType, key }) => {
        const all = new Set();
        for (const p of patterns) {
            all.add(p);
            if (p.startsWith('|') || p.startsWith('[') || p.startsWith('!'))
                continue;
            for (const port of extraPorts)
                all.add(`[${p}]:${port}`);
        }
        return [marker, [...all].join(','), keyType, key].filter(Boolean).join(' ');
    })
        .map((l) => `${l}\n`)
        .join('');
}
/**
 * ssh runs this (KnownHostsCommand) with the offered key's fingerprint, type, key and the name it
 * looks up; when the fingerprint is one the user pinned, it answers with a known_hosts line for it.
 * It must exit 0 even when it has nothing to say, or ssh drops the connection.
 */
function fingerprintCheckScript(fingerprintFile) {
    return `#!/bin/sh
# $1=%f fingerprint  $2=%t key type  $3=%K base64 key  $4=%H name looked up
[ -n "$1" ] && [ -n "$3" ] || exit 0
fp=$(printf '%s' "$1" | sed 's/=*$//')
if grep -qxF -- "$fp" '${fingerprintFile}'; then
  printf '%s %s %s\\n' "$4" "$2" "$3"
fi
exit 0
`;
}


/***/ }),

/***/ 546:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   El: () => (/* binding */ HEADER),
/* harmony export */   IL: () => (/* binding */ formatLine),
/* harmony export */   It: () => (/* binding */ manifestDigest),
/* harmony export */   L_: () => (/* binding */ formatManifest),
/* harmony export */   Ng: () => (/* binding */ parseManifest),
/* harmony export */   Sh: () => (/* binding */ ManifestError),
/* harmony export */   VS: () => (/* binding */ parseChmod),
/* harmony export */   a3: () => (/* binding */ unescapePath),
/* harmony export */   cD: () => (/* binding */ comparePaths),
/* harmony export */   ew: () => (/* binding */ diffManifests),
/* harmony export */   ol: () => (/* binding */ digestOf),
/* harmony export */   qI: () => (/* binding */ applyChmod),
/* harmony export */   u1: () => (/* binding */ buildManifest),
/* harmony export */   zF: () => (/* binding */ currentUmask)
/* harmony export */ });
/* unused harmony exports escapePath, sortEntries, pathProblem, sameEntry */
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(24);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _build_scan_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(441);
/**
 * The release manifest (see MANIFEST-SPEC): one line per file, symlink and directory of a
 * release, with the modes the server will have, and its digest (`release-digest`).
 * The pure part (escape, format, parse, digest, diff, rsync's --chmod) comes first; the builder
 * that reads a build tree is at the end.
 */




const HEADER = 'rad-manifest 1';
class ManifestError extends Error {
    constructor(message) {
        super(message);
        this.name = 'ManifestError';
    }
}
/** Backslash → `\\`, newline → `\n`: the only two escapes (as GNU sha256sum). */
function escapePath(p) {
    return p.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
/** The inverse of escapePath; any other backslash sequence is an error (untrusted text). */
function unescapePath(s) {
    // Most names have no backslash: the text itself (not a copy built a character at a time).
    if (!s.includes('\\'))
        return s;
    let out = '';
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (c !== '\\') {
            out += c;
            continue;
        }
        const n = s[i + 1];
        if (n === '\\')
            out += '\\';
        else if (n === 'n')
            out += '\n';
        else
            throw new ManifestError(`bad escape in path ${JSON.stringify(s)}`);
        i++;
    }
    return out;
}
/** The byte order of the spec (Buffer.compare of the UTF-8 bytes), not JS's UTF-16 order. */
function comparePaths(a, b) {
    // UTF-16 code units order as code points (so as UTF-8 bytes), except that a surrogate (half of
    // a code point above U+FFFF) sorts below U+E000-U+FFFF: lifted above them where two differ. No
    // Buffer per call: a tenth of the time, and a plan of 50,000 entries compares a path or two each.
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
        let x = a.charCodeAt(i);
        let y = b.charCodeAt(i);
        if (x === y)
            continue;
        if (x >= 0xd800 && y >= 0xd800) {
            x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
            y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
        }
        return x - y;
    }
    return a.length - b.length;
}
function sortEntries(entries) {
    return [...entries].sort((a, b) => comparePaths(a.path, b.path));
}
function modeText(e) {
    return e.type === 'l' ? '-' : e.mode.toString(8).padStart(4, '0');
}
function formatLine(e) {
    const size = e.type === 'f' ? String(e.size) : '-';
    const hash = e.type === 'd' ? '-' : e.hash;
    return `${e.type} ${modeText(e)} ${size} ${hash} ${escapePath(e.path)}`;
}
/** The manifest text: header, entries sorted by path bytes, every line ending in a newline. */
function formatManifest(entries) {
    const lines = [HEADER, ...sortEntries(entries).map(formatLine)];
    return `${lines.join('\n')}\n`;
}
/** `sha256:<hex>` of the manifest text: the release-digest. */
function manifestDigest(text) {
    return `sha256:${(0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256').update(text, 'utf8').digest('hex')}`;
}
function digestOf(entries) {
    return manifestDigest(formatManifest(entries));
}
/** A relative path as the spec allows it, or why not. */
function pathProblem(p) {
    if (p === '')
        return 'empty path';
    if (p.includes('\0'))
        return 'NUL in path';
    if (p.startsWith('/'))
        return 'absolute path';
    for (const part of p.split('/')) {
        if (part === '')
            return 'empty component (// or a trailing /)';
        if (part === '.' || part === '..')
            return `'${part}' component`;
    }
    return '';
}
const HEX64 = /^[0-9a-f]{64}$/;
const MODE4 = /^[0-7]{4}$/;
const SIZE = /^(0|[1-9][0-9]{0,15})$/;
function parseLine(line, n) {
    const fail = (why) => new ManifestError(`manifest line ${n}: ${why}`);
    const m = /^([fld]) (\S+) (\S+) (\S+) (.*)$/s.exec(line);
    if (!m)
        throw fail('not "<type> <mode> <size> <hash> <path>"');
    const [, type, mode, size, hash, raw] = m;
    if (type === 'l' ? mode !== '-' : !MODE4.test(mode))
        throw fail(`bad mode ${JSON.stringify(mode)}`);
    if (type === 'f' ? !SIZE.test(size) || !Number.isSafeInteger(Number(size)) : size !== '-')
        throw fail(`bad size ${JSON.stringify(size)}`);
    if (type === 'd' ? hash !== '-' : !HEX64.test(hash))
        throw fail(`bad hash ${JSON.stringify(hash)}`);
    let p;
    try {
        p = unescapePath(raw);
    }
    catch (e) {
        throw fail(e.message);
    }
    const problem = pathProblem(p);
    if (problem)
        throw fail(`${problem}: ${JSON.stringify(p)}`);
    return {
        type,
        mode: type === 'l' ? -1 : Number.parseInt(mode, 8),
        size: type === 'f' ? Number(size) : -1,
        hash: type === 'd' ? '' : hash,
        path: p,
    };
}
/**
 * Strict: a manifest from the server is untrusted. Header, one well-formed line each, a final
 * newline, sorted without duplicates, and every parent of an entry listed as a directory.
 */
function parseManifest(text) {
    if (!text.endsWith('\n'))
        throw new ManifestError('manifest does not end with a newline');
    const lines = text.slice(0, -1).split('\n');
    if (lines[0] !== HEADER)
        throw new ManifestError(`not a manifest (first line is not "${HEADER}")`);
    const entries = [];
    const dirs = new Set();
    for (let i = 1; i < lines.length; i++) {
        const e = parseLine(lines[i], i + 1);
        const prev = entries[entries.length - 1];
        if (prev && comparePaths(prev.path, e.path) >= 0)
            throw new ManifestError(`manifest line ${i + 1}: not sorted or a duplicate: ${JSON.stringify(e.path)}`);
        const slash = e.path.lastIndexOf('/');
        if (slash > 0 && !dirs.has(e.path.slice(0, slash)))
            throw new ManifestError(`manifest line ${i + 1}: parent of ${JSON.stringify(e.path)} is not a listed directory`);
        if (e.type === 'd')
            dirs.add(e.path);
        entries.push(e);
    }
    return entries;
}
/** Same type, mode, size and content. */
function sameEntry(a, b) {
    return a.type === b.type && a.mode === b.mode && a.size === b.size && a.hash === b.hash;
}
function diffManifests(old, next) {
    const byPath = new Map(old.map((e) => [e.path, e]));
    const d = { added: [], removed: [], changed: [], same: [] };
    for (const e of next) {
        const o = byPath.get(e.path);
        if (!o)
            d.added.push(e);
        else {
            byPath.delete(e.path);
            (sameEntry(o, e) ? d.same : d.changed).push(e);
        }
    }
    d.removed = sortEntries([...byPath.values()]);
    return d;
}
/**
 * Parses a --chmod value as rsync 3.1–3.4 does; null where rsync would refuse it.
 * `umask` matters for clauses without u/g/o/a ("+x" means "a+x minus the umask", as chmod(1)).
 */
function parseChmod(spec, umask) {
    if (spec === '')
        return [];
    const out = [];
    for (const item of spec.split(',')) {
        const m = /^([DF]?)(?:([0-7]+)|([ugoa]*)([-+=])([rwxXst]*))$/.exec(item);
        if (!m)
            return null;
        const only = (m[1] ?? '');
        if (m[2] !== undefined) {
            const v = Number.parseInt(m[2], 8);
            if (v > 0o7777)
                return null;
            out.push({ only, and: 0, or: v, keepX: false });
            continue;
        }
        let where = 0;
        let topbits = 0;
        for (const c of m[3] ?? '') {
            if (c === 'u') {
                where |= 0o100;
                topbits |= 0o4000;
            }
            else if (c === 'g') {
                where |= 0o010;
                topbits |= 0o2000;
            }
            else if (c === 'o')
                where |= 0o001;
            else
                where |= 0o111;
        }
        let what = 0;
        let topoct = 0;
        let keepX = false;
        for (const c of m[5] ?? '') {
            if (c === 'r')
                what |= 4;
            else if (c === 'w')
                what |= 2;
            else if (c === 'x')
                what |= 1;
            else if (c === 'X') {
                what |= 1;
                keepX = true;
            }
            else if (c === 's')
                topoct = topbits ? topoct | topbits : 0o4000;
            else
                topoct |= 0o1000;
        }
        let bits;
        if (where)
            bits = where * what;
        else {
            where = 0o111;
            bits = (where * what) & ~umask;
        }
        const op = m[4];
        if (op === '+')
            out.push({ only, and: 0o7777, or: bits + topoct, keepX });
        else if (op === '-')
            out.push({ only, and: 0o7777 - bits - topoct, or: 0, keepX });
        else
            out.push({ only, and: 0o7777 - where * 7 - (topoct ? topbits : 0), or: bits + topoct, keepX });
    }
    return out;
}
/** tweak_mode(): the permission bits rsync sends for a file or directory. */
function applyChmod(mode, isDir, clauses) {
    const isX = mode & 0o111;
    let m = mode & 0o7777;
    for (const c of clauses) {
        if ((c.only === 'D' && !isDir) || (c.only === 'F' && isDir))
            continue;
        m &= c.and;
        // rsync's `& ~0111` of the OR is a bitwise and of the (positive) OR value.
        m |= c.keepX && !isX && !isDir ? c.or & ~0o111 : c.or;
    }
    return m & 0o7777;
}
/** Throws for the first name in `dir` that is not UTF-8 (the manifest is text: the caller falls back). */
function notUtf8(dir, rel) {
    for (const raw of (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readdirSync)(dir, { encoding: 'buffer' })) {
        const name = raw.toString('utf8');
        if (!Buffer.from(name, 'utf8').equals(raw))
            throw new ManifestError(`file name is not UTF-8: ${JSON.stringify(name)} in ${rel || '.'}`);
    }
}
/** The umask of this process, which rsync (started by it) inherits. */
function currentUmask() {
    const old = process.umask(0o022);
    process.umask(old);
    return old;
}
/** crypto.hash (Node 20.12 and later; the CLI runs on any Node 20): one call, no Hash object. */
const hashOnce = typeof node_crypto__WEBPACK_IMPORTED_MODULE_0__.hash === 'function' ? node_crypto__WEBPACK_IMPORTED_MODULE_0__.hash : undefined;
/** Files hashed between two turns of the event loop (a cancel or a timeout is heard in between). */
const BATCH = 64;
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
/** Read at most this much at once (a bigger file is hashed in pieces). */
const CHUNK = 1 << 20;
/**
 * Hashes the regular file `full` through one descriptor (O_NOFOLLOW: a name that became a symlink
 * since the directory was read is not followed): its mode and size from that descriptor, its
 * bytes read into `buf`, reused from file to file. Undefined when it is not a regular file now.
 */
function hashFile(full, buf) {
    let fd;
    try {
        fd = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.openSync)(full, node_fs__WEBPACK_IMPORTED_MODULE_1__.constants.O_RDONLY | node_fs__WEBPACK_IMPORTED_MODULE_1__.constants.O_NOFOLLOW);
    }
    catch (e) {
        if (e.code === 'ELOOP')
            return undefined;
        throw e;
    }
    try {
        const st = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.fstatSync)(fd);
        if (!st.isFile())
            return undefined;
        // Most files of a site fit the buffer: read whole (as many bytes as fstat said, and short of
        // the buffer) in one read, hashed in one call (a third less CPU than a Hash object, here at
        // 50,000 files). Else (bigger, growing, or a filesystem that reads short) read on to the end.
        const n0 = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readSync)(fd, buf, 0, buf.length, null);
        if (n0 === st.size && n0 < buf.length && hashOnce)
            return { mode: st.mode, size: n0, hash: hashOnce('sha256', buf.subarray(0, n0), 'hex') };
        const h = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256').update(buf.subarray(0, n0));
        let size = n0;
        for (;;) {
            const n = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readSync)(fd, buf, 0, buf.length, null);
            if (n === 0)
                break;
            h.update(buf.subarray(0, n));
            size += n;
        }
        return { mode: st.mode, size, hash: h.digest('hex') };
    }
    finally {
        (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.closeSync)(fd);
    }
}
/**
 * The manifest of the tree under `root` as rsync -r -l -p --chmod would create it: a symlink is a
 * link, never followed; devices, fifos and sockets are skipped as rsync skips them without -D. A
 * name that is not UTF-8 throws (the manifest is text): the caller falls back. Synchronous reads
 * in small batches: on a busy 2-core runner they took a fifth of the time of the same reads
 * through libuv's thread pool, for 10,000 small files; one descriptor a file and one buffer for
 * all took 10,000 files from 0.27 to 0.17 s here.
 */
async function buildManifest(root, opts) {
    const clauses = parseChmod(opts.chmod, opts.umask ?? currentUmask());
    if (!clauses)
        throw new ManifestError(`rsync would refuse --chmod=${opts.chmod}`);
    const entries = [];
    const files = [];
    // Each file's full path, beside files[] (built once: no path.join per file, which normalises).
    const fulls = [];
    const link = (full, p) => {
        const hash = (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256')
            .update((0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readlinkSync)(full, { encoding: 'buffer' }))
            .digest('hex');
        entries.push({ type: 'l', mode: -1, size: -1, hash, path: p });
    };
    const walk = (dir, rel) => {
        // The entry types from the directory itself (d_type): no lstat of each file; its mode and
        // size come from the descriptor it is hashed through. Names as strings: a byte that is not
        // UTF-8 decodes to U+FFFD, so only a directory with one is read again as bytes to tell a
        // real U+FFFD from a name the manifest cannot hold (no Buffer a name otherwise).
        const list = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readdirSync)(dir, { withFileTypes: true });
        for (const d of list)
            if (d.name.includes('\uFFFD'))
                notUtf8(dir, rel);
        for (const d of list) {
            const name = d.name;
            const p = rel ? `${rel}/${name}` : name;
            const full = `${dir}/${name}`;
            const kind = d.isFile() || d.isDirectory() || d.isSymbolicLink() ? d : (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.lstatSync)(full);
            if (kind.isDirectory()) {
                if (opts.keep && !opts.keep(p, true))
                    continue;
                const st = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.lstatSync)(full);
                entries.push({ type: 'd', mode: applyChmod(st.mode, true, clauses), size: -1, hash: '', path: p });
                walk(full, p);
            }
            else if (kind.isFile()) {
                if (opts.keep && !opts.keep(p, false))
                    continue;
                const e = { type: 'f', mode: 0, size: 0, hash: '', path: p };
                entries.push(e);
                files.push(e);
                fulls.push(full);
            }
            else if (kind.isSymbolicLink()) {
                if (opts.keep && !opts.keep(p, false))
                    continue;
                link(full, p);
            }
            else if (opts.special) {
                // Neither file, directory nor link: rsync skips it (no --specials or --devices).
                (0,_build_scan_js__WEBPACK_IMPORTED_MODULE_2__/* .noteSpecial */ .W8)(opts.special, kind, p);
            }
        }
    };
    // (A root named with a trailing slash would give "a//b" paths: the same files, other text.)
    walk(root.replace(/\/+$/, '') || '/', '');
    // One thread: a second one took as long on 2 cores (10,000 and 50,000 files) and half as much
    // CPU again, which the server's side of a deploy to the same machine then lacks.
    const results = [];
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let i = 0; i < files.length; i++) {
        results.push(hashFile(fulls[i], buf));
        if (i % BATCH === BATCH - 1)
            await yieldToLoop();
        if (opts.signal?.aborted)
            throw new ManifestError('cancelled');
    }
    for (let i = 0; i < files.length; i++) {
        const e = files[i];
        const full = fulls[i];
        const got = results[i];
        if (got)
            Object.assign(e, { mode: applyChmod(got.mode, false, clauses), size: got.size, hash: got.hash });
        else {
            // Not a regular file any more (replaced while we read): what it is now, as rsync will see it.
            const at = entries.indexOf(e);
            entries.splice(at, 1);
            const st = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.lstatSync)(full, { throwIfNoEntry: false });
            if (st?.isSymbolicLink())
                link(full, e.path);
        }
    }
    return sortEntries(entries);
}


/***/ }),

/***/ 671:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $A: () => (/* binding */ settleFailedSwitch),
/* harmony export */   BV: () => (/* binding */ fleetFailure),
/* harmony export */   L7: () => (/* binding */ failedOn),
/* harmony export */   Nn: () => (/* binding */ liveUnknown),
/* harmony export */   VM: () => (/* binding */ noHostSwitched),
/* harmony export */   jN: () => (/* binding */ setLive),
/* harmony export */   mE: () => (/* binding */ blankResult),
/* harmony export */   pH: () => (/* binding */ toDeployError)
/* harmony export */ });
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(916);

function toDeployError(err) {
    if (err instanceof _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s)
        return err;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(err instanceof Error ? err.message : String(err));
}
/** A host before we heard from it: what it serves is not known yet. */
function blankResult(host, attempted) {
    return {
        host,
        releaseId: '',
        releasePath: '',
        liveKnown: false,
        attemptedReleaseId: attempted,
        previousReleaseId: '',
        bytesSent: 0,
        filesTransferred: 0,
        filesLinked: 0,
        durationMs: 0,
        status: 'failed',
        error: '',
        freeKb: 0,
        diskKb: 0,
        assetsKept: 0,
        pruned: [],
    };
}
/** Records what the server said its link serves now ('' = nothing is live). */
function setLive(result, target, id) {
    result.releaseId = id;
    result.releasePath = id ? `${target}/releases/${id}` : '';
    result.liveKnown = true;
}
/** We cannot tell what the link serves (a switch was cut off): say so, never guess. */
function liveUnknown(result) {
    result.releaseId = '';
    result.releasePath = '';
    result.liveKnown = false;
}
/**
 * Error codes of remote steps that stop before the link is renamed: after one of them the link
 * still serves what it served before. Any other failure of a switching step (a dropped
 * connection, a cancel, a link that reads back wrong) leaves it unknown.
 */
const REFUSED_BEFORE_SWITCH = new Set([
    'lock-lost',
    'upload-missing',
    'release-exists',
    'release-missing',
    'publish-failed',
    'shared-failed',
    'hook-failed',
    'locked',
    // The fence refused the change: the run's time was up.
    'gave-up',
]);
/** After a switching step failed: the old live release if the server said it stopped before the switch. */
function settleFailedSwitch(result, target, before, err) {
    if (REFUSED_BEFORE_SWITCH.has(err.code))
        setLive(result, target, before);
    else
        liveUnknown(result);
}
/**
 * The one "N of M hosts failed" error: a single host's own error as it is, else one message that
 * starts with `headline` (given the count and the total) and lists every host's error.
 */
function failedOn(failures, total, headline) {
    if (failures.length === 0)
        return undefined;
    if (total === 1)
        return failures[0];
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .DeployError */ .s(`${headline(failures.length, total)}\n${failures.map((f) => f.message).join('\n')}`, failures[0]?.hint ?? '', failures[0]?.code ?? 'failed');
}
/** `What failed on N of M hosts.` */
function fleetFailure(failures, total, what) {
    return failedOn(failures, total, (n, m) => `${what} failed on ${n} of ${m} hosts.`);
}
/** A fleet stopped before any switch: `N of M hosts failed before the switch; no host was switched.` */
function noHostSwitched(failures, total) {
    return failedOn(failures, total, (n, m) => `${n} of ${m} hosts failed before the switch; no host was switched.`);
}


/***/ }),

/***/ 684:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  e: () => (/* binding */ run)
});

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
// EXTERNAL MODULE: ./src/env.ts
var env = __nccwpck_require__(204);
;// CONCATENATED MODULE: ./src/proc.ts


const KILL_GRACE_MS = 3000;
function run(file, args, opts = {}) {
    return new Promise((resolve, reject) => {
        if (opts.signal?.aborted) {
            resolve({ code: -1, signal: null, stdout: '', stderr: '', aborted: true });
            return;
        }
        const child = (0,external_node_child_process_namespaceObject.spawn)(file, [...args], {
            // Never the runner's INPUT_* (the key) or a CI job's secrets: see env.ts.
            env: opts.env ?? (0,env/* childEnv */.g)(process.env, { own: true }),
            cwd: opts.cwd,
            stdio: ['pipe', 'pipe', opts.stderrFd ?? 'pipe'],
            shell: false,
        });
        let stdout = '';
        let stderr = '';
        let aborted = false;
        let killTimer;
        const onAbort = () => {
            aborted = true;
            if (!opts.abortKeepsStdin)
                child.stdin?.end();
            child.kill(opts.abortWith?.() ?? 'SIGTERM');
            killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
            killTimer.unref();
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.stdout?.setEncoding('utf8');
        child.stdout?.on('data', (d) => {
            stdout += d;
            opts.onStdout?.(d);
        });
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (d) => {
            stderr += d;
            opts.onStderr?.(d);
        });
        child.on('error', (err) => {
            opts.signal?.removeEventListener('abort', onAbort);
            reject(err);
        });
        let done = false;
        const finish = (code, signal) => {
            if (done)
                return;
            done = true;
            opts.signal?.removeEventListener('abort', onAbort);
            if (killTimer)
                clearTimeout(killTimer);
            resolve({ code: code ?? -1, signal, stdout, stderr, aborted });
        };
        child.on('close', finish);
        // Once aborted, the child's own exit is enough: a grandchild that inherited our pipes (rsync's
        // ssh, stuck on a stalled link) would otherwise hold 'close' back for as long as it lives.
        child.on('exit', (code, signal) => {
            opts.onExit?.();
            child.stdin?.end();
            if (!aborted)
                return;
            setTimeout(() => {
                child.stdout?.destroy();
                child.stderr?.destroy();
                finish(code, signal);
            }, 100);
        });
        // A closed stdin (EPIPE) is reported through the exit code; do not crash on it.
        child.stdin?.on('error', () => { });
        const write = (text) => {
            if (text === null)
                child.stdin?.end();
            else if (opts.keepStdinOpen)
                child.stdin?.write(text);
            else
                child.stdin?.end(text);
        };
        if (opts.preface)
            child.stdin?.write(opts.preface);
        const input = opts.input;
        if (typeof input === 'object')
            input.then(write, () => write(null));
        else
            write(input ?? '');
    });
}


/***/ }),

/***/ 519:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   KM: () => (/* binding */ shAssignments),
/* harmony export */   US: () => (/* binding */ shQuote),
/* harmony export */   UW: () => (/* binding */ WIRE_END),
/* harmony export */   eD: () => (/* binding */ wireAssignments)
/* harmony export */ });
/* unused harmony export wireAssignment */
/** POSIX single-quoting: the only way a value reaches a remote shell script. */
function shQuote(value) {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
/** `NAME='value'` lines prepended to a constant remote script. Names are ours, values are quoted. */
function shAssignments(vars) {
    return Object.entries(vars)
        .map(([name, value]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
            throw new Error(`bad shell variable name ${name}`);
        return `${name}=${shQuote(String(value))}`;
    })
        .join('\n');
}
/** Printable ASCII that stands for itself inside a single-quoted printf format: no ', \ or %. */
const PLAIN_BYTE = (b) => b >= 0x20 && b <= 0x7e && b !== 0x27 && b !== 0x5c && b !== 0x25;
/** What PLAIN_BYTE refuses, as characters (astral ones whole: the u flag). */
const NOT_PLAIN = /[^\x20-\x24\x26\x28-\x5b\x5d-\x7e]/gu;
/** Each byte as the printf format writes it: itself when plain, else `\\ooo`. */
const WIRE_BYTE = Array.from({ length: 256 }, (_, b) => PLAIN_BYTE(b) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`);
/**
 * One `NAME=…` line per value, in a form both a plain `sh -s` and the gate (gate.ts) read: the
 * shell runs it, the gate parses it with `case` and never evaluates it. Printable ASCII without
 * `'` is `NAME='value'`; anything else is `NAME=$(printf 'FMT.'); NAME=${NAME%.}`, FMT being
 * printable bytes and `\ooo` octal escapes only (no `%`: printf sees no directive). The `.` keeps
 * a trailing newline that `$(…)` would strip. A NUL cannot be a shell value: refused.
 */
function wireAssignment(name, value) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
        throw new Error(`bad shell variable name ${name}`);
    const v = String(value);
    if (/^[\x20-\x26\x28-\x7e]*$/.test(v))
        return `${name}='${v}'`;
    if (v.includes('\0'))
        throw new Error(`the value of ${name} holds a NUL byte`);
    // Only what is not plain is rewritten, each character as the octal escapes of its UTF-8 bytes
    // (a manifest of 10,000 files is ~1 MB: a byte at a time took a quarter of a second).
    let fmt = v.replace(NOT_PLAIN, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => WIRE_BYTE[b]).join(''));
    // A leading - goes escaped too: bash's printf would take it for an option.
    if (fmt.startsWith('-'))
        fmt = `\\055${fmt.slice(1)}`;
    return `${name}=$(printf '${fmt}.'); ${name}=\${${name}%.}`;
}
/** Every value as a wire line (see wireAssignment), then the line that ends them. */
function wireAssignments(vars) {
    return [...Object.entries(vars).map(([n, v]) => wireAssignment(n, v)), WIRE_END].join('\n');
}
/** The line after the last value: the gate stops reading values there (plain sh runs `:`). */
const WIRE_END = ': rad-values-end';


/***/ }),

/***/ 95:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   O: () => (/* binding */ LIB),
/* harmony export */   sh: () => (/* binding */ sh)
/* harmony export */ });
/**
 * The shell library in front of every remote script (see remote.ts): constant POSIX sh text for
 * dash, bash and busybox sh, GNU and busybox userlands.
 */
/**
 * Tag for shell text: raw (backslashes stay as written) and `\${` stands for the shell's `${`,
 * which a template literal would otherwise take for its own interpolation.
 */
function sh(strings) {
    return strings.raw.join('').replace(/\\\$\{/g, '${');
}
/** The shell functions every script uses: reply lines, the lock, the fence, the switch. */
const LIB = sh `
set -u
umask 022
D="$T/.deploy"
LOCKED=0
# Set by a script that read the live release before report_state (prepare): never from outside.
LIVE_READ=
# The run's end, from now: past it the client has given up and said so, even if it can no longer
# reach us to stop this script (a network partition), so fence lets no change through.
# The clock: seconds since boot from /proc/uptime (read, no process: fence asks it before every
# change), else date +%s. Only ever compared with DL, taken from the same clock.
clock() {
  if IFS=' ' read -r CLK _ 2>/dev/null < /proc/uptime; then CLK=\${CLK%%.*}; else CLK=$(date +%s); fi
}
clock
DL=$(( CLK + \${LEFT:-86400} ))
NL='
'
CR=$(printf '\r')
# One reply line per call, whatever the data in it holds: a newline or CR in a value (a crafted
# owner.json, a release dir's name, a link target) goes as the two characters \n or \r, so no data
# can ever start a reply line of its own (a fake "@@rad live" or "@@rad-error").
reply() {
  case "$2" in
    *"$NL"* | *"$CR"*)
      printf '%s%s' "$1" "$2" | awk 'BEGIN { ORS = "" } { gsub(/\r/, "\\r"); if (NR > 1) print "\\n"; print } END { print "\n" }' ;;
    *) printf '%s%s\n' "$1" "$2" ;;
  esac
}
say() { reply '@@rad ' "$*"; }
warn() { reply '@@rad-warning ' "$*"; }
fail() {
  # What prepare began early (fast_start) is stopped and gone before the lock is given back.
  [ -n "\${FS_CP:-}" ] && fast_stop
  # And what fast_finish runs beside its check (offer_keep), waited for and gone; the offer it
  # kept goes too, until manifest_publish has made it the release's.
  [ -n "\${FF_OFC:-}" ] && offer_stop
  [ -n "\${FF_OFW:-}" ] && rm -f -- "$FF_OFW"
  [ "$LOCKED" = 1 ] && lock_release
  reply '@@rad-error ' "$1 $2"
  exit 3
}

# rename(2) of $1 over $2, never "into" $2 when $2 is a link to a directory (plain mv would do that).
# GNU mv -T, BSD mv -h, busybox mv -T (tried for real: its usage text is no promise), perl, python3.
mv_kind() {
  if mv --version 2>/dev/null | grep -q GNU; then echo gnu; return; fi
  case "$(uname -s 2>/dev/null)" in
    Darwin|FreeBSD|OpenBSD|NetBSD|DragonFly) echo bsd; return ;;
  esac
  if mv_t_works; then echo gnu
  elif command -v perl >/dev/null 2>&1; then echo perl
  elif command -v python3 >/dev/null 2>&1; then echo python
  else echo none
  fi
}
# Renames a fresh link over a link to a directory in a scratch dir, and checks that it replaced it.
mv_t_works() {
  p=$(mktemp -d 2>/dev/null) || return 1
  mkdir -- "$p/a" "$p/b" && ln -s a "$p/cur" && ln -s b "$p/new" &&
    mv -fT -- "$p/new" "$p/cur" 2>/dev/null && [ "$(readlink "$p/cur")" = b ] &&
    [ ! -e "$p/new" ] && [ ! -e "$p/a/new" ] && [ ! -L "$p/a/new" ]
  r=$?
  rm -rf -- "$p"
  return "$r"
}
# Found out on first use (each probe is a process or two, and most scripts never rename a link),
# or read from $D/caps (caps_load).
MVKIND=
mv_known() { [ -n "$MVKIND" ] || MVKIND=$(mv_kind); }
swap_as() {
  case "$MVKIND" in
    gnu) mv -fT -- "$1" "$2" ;;
    bsd) mv -fh -- "$1" "$2" ;;
    perl) perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' -- "$1" "$2" ;;
    python) python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$1" "$2" ;;
    *) return 1 ;;
  esac
}
swap() {
  mv_known
  swap_as "$@" && return 0
  # A kind read from $D/caps that fails (mv replaced since): found out afresh, and tried once more
  # (still ours: the probe takes a few processes).
  [ -n "$CAPS_KEPT" ] && lock_mine || return 1
  CAPS_KEPT='' MVKIND=$(mv_kind)
  caps_forget
  swap_as "$@"
}
# What this server's mv and find can do costs processes to find out in every script: a script
# that holds the lock keeps it in $D/caps ("rad-caps 1 MVKIND 1") for the next ones. Only what
# works is kept (mv -T or -h, find -printf), and each is checked by its use: a kept fact that
# fails is found out afresh where it is used (swap, tree_stat) and the file goes; what does not
# work is found out again every time (so a tool installed later is seen). Server data: read only
# when every field is a value we know. Doctor always finds out afresh.
CAPS_KEPT=
caps_load() {
  [ -f "$D/caps" ] && [ ! -L "$D/caps" ] || return 0
  c_tag='' c_v='' c_mv='' c_find=''
  { read -r c_tag c_v c_mv c_find || :; } < "$D/caps" 2>/dev/null
  [ "$c_tag $c_v" = "rad-caps 1" ] && [ "$c_find" = 1 ] || return 0
  case "$c_mv" in gnu|bsd) ;; *) return 0 ;; esac
  MVKIND=$c_mv FIND_PRINTF=1 CAPS_KEPT="$c_mv 1"
}
# Written whole to a name of this run, then renamed over whatever is there (never written through
# a link, a fifo or a hard link someone put in its place); only while the lock is ours.
caps_save() {
  case "$MVKIND" in gnu|bsd) ;; *) return 0 ;; esac
  [ "\${FIND_PRINTF:-}" = 1 ] && [ "$CAPS_KEPT" != "$MVKIND 1" ] && caps_may_write || return 0
  c_tmp="$D/caps.$TOKEN.$$"
  { printf 'rad-caps 1 %s 1\n' "$MVKIND" > "$c_tmp"; } 2>/dev/null && mv -f -- "$c_tmp" "$D/caps" 2>/dev/null &&
    CAPS_KEPT="$MVKIND 1"
  [ ! -e "$c_tmp" ] || rm -f -- "$c_tmp" 2>/dev/null
  return 0
}
# A kept fact failed: the file goes (under the lock only: read-only scripts change nothing).
caps_forget() {
  [ -f "$D/caps" ] && [ ! -L "$D/caps" ] && caps_may_write && rm -f -- "$D/caps" 2>/dev/null
  return 0
}
# As fence, without failing (the file is a cache): the lock is still ours and the run's time not up.
caps_may_write() {
  [ "$LOCKED" = 1 ] && lock_mine || return 1
  clock
  [ "$CLK" -lt "$DL" ]
}
need_swap() {
  mv_known
  [ "$MVKIND" != none ] ||
    fail no-rename "the server cannot rename a link over another atomically: its mv has no -T (GNU coreutils or busybox) or -h (BSD), and there is neither perl nor python3. Install one of them on the server (e.g. apt-get install coreutils, apk add coreutils, or perl)"
}

# Our process group, for stopping this script with everything it started (hooks included). Only
# under sshd, which starts each session as a group and session of its own (setsid); elsewhere
# (a test's sh -s) the group may be someone else's, and nothing is ever sent to it.
# Sets SF_PPID, SF_PGRP, SF_SID of process $1 from /proc (read, no process started: this runs at
# the start of every script); the command name, in parentheses, may hold spaces and ')'.
stat_fields() {
  SF_PPID='' SF_PGRP='' SF_SID=''
  IFS= read -r sf_line 2>/dev/null < "/proc/$1/stat" || return 1
  # shellcheck disable=SC2086
  set -- \${sf_line##*) }
  SF_PPID=\${2:-} SF_PGRP=\${3:-} SF_SID=\${4:-}
}
own_group() {
  PG=''
  if [ -r "/proc/$$/stat" ]; then stat_fields $$; g=$SF_PGRP s=$SF_SID
  else g=$(ps -o pgid= -p $$ 2>/dev/null | tr -d ' ') s=$g
  fi
  case "$g" in ''|*[!0-9]*|0|1) return 0 ;; esac
  [ "$g" = "$s" ] && { [ "$g" = $$ ] || [ "$g" = "$PPID" ]; } || return 0
  c=''
  if [ -r "/proc/$g/stat" ]; then stat_fields "$g"; pp=$SF_PPID; IFS= read -r c 2>/dev/null < "/proc/$pp/comm" || c=''
  else pp=$(ps -o ppid= -p "$g" 2>/dev/null | tr -d ' '); c=$(ps -o comm= -p "$pp" 2>/dev/null)
  fi
  case "\${c##*/}" in sshd*) PG=$g ;; esac
}
own_group
# kill(1) of a whole group: dash needs "--" before "-PGID", busybox refuses it.
if kill -s 0 -- $$ 2>/dev/null; then KDD=1; else KDD=; fi
kill_group() { if [ -n "$KDD" ]; then kill -s "$1" -- "-$2"; else kill -s "$1" "-$2"; fi; }
# The client's ssh keeps our stdin open for the whole call: it ends when the client gives up, is
# killed or loses the connection (sshd signals nothing to a session without a tty then). This
# background reader then stops the whole group, so nothing of a run the client gave up on acts
# later. Started on the script's last line, once sh has read all of it; fd 9 is that stdin.
watch_client() {
  [ -n "$PG" ] || return 0
  { cat <&9 >/dev/null 2>&1; kill_group TERM "$PG"; } >/dev/null 2>&1 &
  WATCHDOG=$!
  trap 'kill "$WATCHDOG" 2>/dev/null; run_unmark' EXIT
}
# Recorded under the lock while a script of ours holds it, so giving up can stop it (kill_run).
MARKED=0
run_mark() { [ -n "$PG" ] && printf '%s\n' "$PG" > "$D/lock/pg" 2>/dev/null && MARKED=1; return 0; }
run_unmark() {
  um=''
  # Emptied, not removed (no process: this runs at the end of every script); an empty mark names
  # no run, and goes with the lock. (true, not ':': a failed redirection ends sh after a special builtin.)
  [ "$MARKED" = 1 ] && { IFS= read -r um 2>/dev/null < "$D/lock/pg" || :; } && [ "$um" = "$PG" ] && true 2>/dev/null > "$D/lock/pg"
  MARKED=0
}
# Whether group $1 has a live member. A zombie does not count (kill -0 would say yes until some
# parent reaps it, and in a container nobody may).
group_alive() {
  if [ -r /proc/self/stat ]; then
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$1" '{ sub(/^.*\) /, ""); if ($3 == g && $1 != "Z") n++ } END { exit n ? 0 : 1 }'
  else
    kill_group 0 "$1" 2>/dev/null
  fi
}
# Stops the script of this run that holds the lock (another call, maybe over a stalled link):
# TERM to its group, then KILL if it is still there after about 3 s.
kill_run() {
  p=''
  IFS= read -r p 2>/dev/null < "$D/lock/pg" || :
  case "$p" in ''|*[!0-9]*|0|1) return 0 ;; esac
  [ "$p" = "$PG" ] && return 0
  kill_group TERM "$p" 2>/dev/null || { rm -f -- "$D/lock/pg"; return 0; }
  i=0
  while group_alive "$p"; do
    i=$((i + 1))
    if [ "$i" -gt 30 ]; then kill_group KILL "$p" 2>/dev/null; break; fi
    sleep 0.1 2>/dev/null || { sleep 1; i=$((i + 9)); }
  done
  rm -f -- "$D/lock/pg"
  say stopped "$p"
}

# The sshd process that carries our connection: when it is gone, so is the lock's holder.
conn_pid() {
  p=$PPID; i=0
  while [ "$i" -lt 6 ] && [ -r "/proc/$p/stat" ]; do
    c=''
    IFS= read -r c 2>/dev/null < "/proc/$p/comm" || c=''
    case "$c" in sshd*) echo "$p"; return ;; esac
    stat_fields "$p" || break
    p=$SF_PPID; i=$((i + 1))
  done
  echo 0
}
host_name() {
  h=''
  IFS= read -r h 2>/dev/null < /proc/sys/kernel/hostname || h=''
  [ -n "$h" ] || h=$(hostname 2>/dev/null || uname -n)
  printf '%s\n' "$h"
}
# Bounded (a few short lines): the file is the server's to write, and it is only ever shown.
lock_owner() {
  o=$(head -n 5 "$D/lock/owner.json" 2>/dev/null | cut -c 1-1024)
  printf '%s\n' "\${o:-(no owner recorded)}"
}
# Which pids a holder's pid can be compared with: the same machine id, boot and pid namespace (two
# containers share a host name, and a boot id when they share a kernel, but not a pid namespace).
pid_space() {
  m='' b=''
  IFS= read -r m 2>/dev/null < /etc/machine-id || IFS= read -r m 2>/dev/null < /var/lib/dbus/machine-id || :
  IFS= read -r b 2>/dev/null < /proc/sys/kernel/random/boot_id || :
  n=$(readlink /proc/self/ns/pid 2>/dev/null)
  # Only these characters (as tr -cd would leave them), without a process in the usual case.
  case "$n" in 'pid:['*']') n=\${n#pid:\[} n=pid\${n%]} ;; esac
  ps_s="m=$m,b=$b,n=$n"
  case "$ps_s" in
    *[!A-Za-z0-9=,-]*) printf '%s' "$ps_s" | tr -cd 'A-Za-z0-9=,-' ;;
    *) printf '%s' "$ps_s" ;;
  esac
}
# Found out when the lock is taken or judged (only the scripts that take it need it).
MY_SPACE=
space_known() { [ -n "$MY_SPACE" ] || MY_SPACE=$(pid_space); }
# The holder record, one line: token host pid expiry pid-space. Written to holder.tmp and renamed,
# so a holder file is always whole; one that is empty or does not parse was never written by a
# live run (a full disk under an older version): nobody holds that lock. Sets STALE_WHY.
lock_is_stale() {
  if [ ! -e "$D/lock/holder" ]; then
    # Between a run's mkdir and its holder rename, or a lock from another tool: give it minutes.
    STALE_WHY="it has no holder record and is over 2 minutes old"
    [ -n "$(find "$D/lock" -maxdepth 0 -mmin +2 2>/dev/null)" ]
    return
  fi
  h_token='' h_host='' h_pid='' h_exp='' h_space=''
  { read -r h_token h_host h_pid h_exp h_space || :; } < "$D/lock/holder" 2>/dev/null
  STALE_WHY="its holder record is empty or unreadable"
  [ -n "$h_token" ] && [ -n "$h_host" ] || return 0
  case "$h_pid" in '' | *[!0-9]*) return 0 ;; esac
  case "$h_exp" in '' | *[!0-9]*) return 0 ;; esac
  STALE_WHY="it expired"
  [ "$(date +%s)" -gt "$h_exp" ] && return 0
  # A pid says something only where it was taken: never judge another machine's (or container's).
  space_known
  case "$MY_SPACE" in *b=,* | *n= | '') return 1 ;; esac
  if [ "$h_space" = "$MY_SPACE" ] && [ "$h_pid" != 0 ] && [ ! -d "/proc/$h_pid" ]; then
    STALE_WHY="its process $h_pid on $h_host is gone"
    return 0
  fi
  return 1
}
# Quotes $1 for sh, for a command we tell a person to paste.
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
free_space() {
  printf '%s KiB and %s inodes free' "$(df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }')" \
    "$(df -Pi "$1" 2>/dev/null | awk 'NR == 2 { print $4 }')"
}
# mkdir failed and no lock exists: not another deploy, so waiting would not help.
lock_cannot() {
  me=$(id -un 2>/dev/null)
  if [ -d "$D" ] && [ ! -w "$D" ]; then
    fail lock-failed "cannot create the deploy lock in $D: it belongs to $(ls -ld -- "$D" | awk '{ print $3 }'), and the deploy user $me cannot write there ($1). On the server, as root: chown -R $me:$(id -gn 2>/dev/null) $(shq "$T")"
  fi
  fail lock-failed "cannot create the deploy lock $D/lock: $1 ($(free_space "$D"))"
}
lock_take() {
  waited=0 misses=0 moves=0 said_waiting=
  while ! mkerr=$(mkdir -- "$D/lock" 2>&1); do
    [ -d "$D" ] || fail target-unwritable "cannot create $D"
    if [ ! -e "$D/lock" ] && [ ! -L "$D/lock" ]; then
      # Not "exists" (or its holder has just released it): try once more, then say why.
      misses=$((misses + 1))
      [ "$misses" -ge 2 ] && lock_cannot "$mkerr"
      continue
    fi
    misses=0
    if lock_is_stale; then
      moves=$((moves + 1))
      [ "$moves" -gt 5 ] && fail lock-stuck "the stale deploy lock $D/lock keeps coming back after being moved aside: $(lock_owner)"
      warn "taking over a stale deploy lock ($STALE_WHY): $(lock_owner)"
      stale="$D/lock.stale.$TOKEN.$$"
      if mverr=$(mv -- "$D/lock" "$stale" 2>&1); then
        rm -rf -- "$stale"
      elif [ -e "$D/lock" ]; then
        # Another run may have just moved it aside; if it is still there, we cannot.
        [ -w "$D" ] || lock_cannot "$mverr"
        fail lock-stuck "the stale deploy lock $D/lock cannot be moved aside: $mverr"
      fi
      continue
    fi
    if [ "$waited" -ge "$LOCK_WAIT" ]; then
      fail locked "another deploy holds the lock on $T for \${LOCK_WAIT}s or more: $(lock_owner)"
    fi
    # Said once: the first time its owner is written (a lock seen between its holder's mkdir and
    # owner.json would name no one), or after the first wait whatever it holds.
    if [ -z "\${said_waiting:-}" ] && { [ -e "$D/lock/owner.json" ] || [ "$waited" -gt 0 ]; }; then
      say waiting "$(lock_owner)"
      said_waiting=1
    fi
    sleep 2
    waited=$((waited + 2))
  done
  LOCKED=1
  space_known
  # Whole or not at all: a lock we cannot describe would block every later run.
  if ! { printf '%s\n' "$LOCK_OWNER" > "$D/lock/owner.json" &&
    printf '%s %s %s %s %s\n' "$TOKEN" "$(host_name)" "$(conn_pid)" "$(($(date +%s) + LOCK_TTL))" "$MY_SPACE" > "$D/lock/holder.tmp" &&
    mv -f -- "$D/lock/holder.tmp" "$D/lock/holder"; } 2>/dev/null; then
    rm -rf -- "$D/lock"
    LOCKED=0
    fail lock-failed "cannot write the deploy lock's holder record in $D/lock ($(free_space "$D")): is the disk full? Nothing was changed"
  fi
  run_mark
  # The client tracks the lock from these lines (lock taken / released / kept / not-ours).
  say lock taken
}
lock_mine() { [ -f "$D/lock/holder" ] && read -r h_token _rest < "$D/lock/holder" && [ "$h_token" = "$TOKEN" ]; }
# Says what became of the lock: released (ours, removed) or not-ours (nothing of ours to remove).
lock_release() {
  if [ ! -L "$D" ] && [ ! -L "$D/lock" ] && lock_mine; then
    rm -rf -- "$D/lock" && say lock released
  elif ! lock_mine; then
    say lock not-ours
  fi
  LOCKED=0
}
lock_check() { lock_mine || fail lock-lost "the deploy lock on $T was taken over by: $(lock_owner)"; LOCKED=1; kill_run; run_mark; }
# Every change to the target runs right after this check: a run whose lock was taken over or
# revoked (the client gave up) changes nothing more.
fence() {
  lock_mine || { LOCKED=0; fail lock-lost "the deploy lock on $T is no longer ours (now: $(lock_owner)); nothing more was changed"; }
  clock
  [ "$CLK" -lt "$DL" ] || fail gave-up "the run's time ran out (timeout) while this step was still running on the server; nothing more was changed"
}

# Points the link at $1 (relative to T) by renaming a fresh temporary link over it, then checks.
switch_link() {
  tmp="$D/$LINK.tmp.$TOKEN.$$"
  fence
  { [ ! -e "$tmp" ] && [ ! -L "$tmp" ]; } || rm -f -- "$tmp"
  ln -s -- "$1" "$tmp" || fail switch-failed "cannot create a symlink in $D"
  lock_mine || { rm -f -- "$tmp"; fence; }
  if ! swap "$tmp" "$T/$LINK"; then
    rm -f -- "$tmp"
    fail switch-failed "cannot rename the new link over $T/$LINK"
  fi
  [ "$(readlink "$T/$LINK")" = "$1" ] || fail switch-failed "$T/$LINK does not point at $1 after the switch"
}
live_id() {
  [ -L "$T/$LINK" ] || return 0
  l=$(readlink "$T/$LINK")
  case "$l" in
    releases/*) echo "\${l#releases/}" ;;
    "$T"/releases/*) echo "\${l#"$T"/releases/}" ;;
    *) warn "$T/$LINK points at $l, outside releases/: it will be replaced" ;;
  esac
}
# Sets LIVE too (the caller's next question, without another readlink).
report_state() {
  [ "\${LIVE_READ:-}" = 1 ] || LIVE=$(live_id)
  say live "$LIVE"
  LOG_FOR=''
  for d in "$T/releases"/*; do
    if [ -L "$d" ]; then warn "$d is a symlink (to $(readlink "$d")), not a release: ignored"
    elif [ -d "$d" ]; then say release "\${d##*/}"; LOG_FOR="$LOG_FOR\${d##*/}$NL"
    fi
  done
  # The release this run makes live (or activates) may be a name used before: its lines count.
  LOG_FOR="$LOG_FOR\${ID:-}$NL\${STAGED:-}$NL"
  send_log
  say free-kb "$(df -Pk "$T" 2>/dev/null | { read -r _ && read -r _ _ _ fk _ && printf '%s' "$fk"; })"
}
# The log's last 5000 lines as "@@rad log N LINE", N its line number in the file, so the client can
# name a line it skips. No line passes whole when it could hurt: a NUL byte becomes \001 (invalid
# JSON, so skipped, instead of grep calling the file binary and hiding all of it), and a line longer
# than LOG_MAX is sent as "@@rad log-long N" only (a 300 MB line costs the server one linear pass).
LOG_MAX=16384
# Fewer than 5000 lines: tail sent them all, so they are numbered from 1 (no count of the whole
# file, which is two more processes); 5000: the file's own count says where they start.
send_log() {
  [ -f "$D/log" ] || return 0
  tail -n 5000 "$D/log" | tr '\000' '\001' | cut -c "1-$((LOG_MAX + 1))" |
    RAD_LOG="$D/log" RAD_FOR="\${LOG_FOR:-}" LC_ALL=C awk -v max="$LOG_MAX" '
      BEGIN { only = ENVIRON["RAD_FOR"]; n = split(only, r, "\n"); for (i = 1; i <= n; i++) if (r[i] != "") E[r[i]] = 1 }
      length($0) > max { L[NR] = ""; X[NR] = 1; next }
      # With the releases on disk (report_state sets RAD_FOR): a line of ours about a release no
      # longer on disk, as release and as from, is left out (what is live, bad or pruned is decided
      # among the releases there are):
      # the reply follows the releases kept, not the years of deploys behind them. Only a line the
      # client would read as the same entry: a flat object of plain strings (no escape, no control
      # byte), release first, an event of ours, release and from each once. Any other goes, for
      # the client to judge (and name, when it skips it).
      only != "" && $0 !~ /[[:cntrl:]]/ && $0 ~ /^[{]"[a-z]+":"[^"\\]*"(,"[a-z]+":"[^"\\]*")*[}]$/ &&
      match($0, /^[{]"release":"[A-Za-z0-9][A-Za-z0-9._-]*","event":"(deploy|rollback|revert)"/) {
        t = $0
        if (gsub(/"release":/, "", t) == 1 && gsub(/"from":/, "", t) <= 1) {
          a = substr($0, 13, index(substr($0, 13), "\"") - 1)
          if (!(a in E) && !(match($0, /,"from":"[^"]*"/) && (substr($0, RSTART + 9, RLENGTH - 10) in E))) { S[NR] = 1; next }
        }
      }
      { L[NR] = $0 }
      END {
        first = 1
        if (NR >= 5000) {
          n = 0; c = ""
          cmd = "wc -l < \"$RAD_LOG\""; cmd | getline n; close(cmd)
          cmd = "tail -c 1 \"$RAD_LOG\" | tr \"\\000\" x"; cmd | getline c; close(cmd)
          n += (c != "")
          if (n > NR) first = n - NR + 1
        }
        for (i = 1; i <= NR; i++) {
          if (i in S) continue
          if (i in X) print "@@rad log-long " (i + first - 1)
          else print "@@rad log " (i + first - 1) " " L[i]
        }
      }'
}
# Deletes the releases named in $PRUNE (chosen from the log by the caller) and uploads abandoned
# for more than a day. A failure here is a warning: the deploy itself has succeeded.
prune_releases() {
  for old in $PRUNE; do
    [ "$old" = "$(live_id)" ] && continue
    lock_mine || return 0
    if rm -rf -- "$T/releases/$old" 2>/dev/null; then say pruned "$old"; kept_forget "$old"; manifest_drop "$old"; else warn "could not delete old release $old"; fi
  done
  lock_mine || return 0
  # Each find only when there is something to look at (after a deploy, usually nothing).
  any_in "$D/incoming" '*' '.[!.]*' '..?*' && find "$D/incoming" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf -- {} + 2>/dev/null
  [ -d "$D/manifests" ] && [ ! -L "$D/manifests" ] && any_in "$D/manifests" '.[!.]*' '..?*' &&
    find "$D/manifests" -mindepth 1 -maxdepth 1 -name '.*' -mmin +1440 -exec rm -f -- {} + 2>/dev/null
  return 0
}
# Whether directory $1 holds a name matching one of the patterns after it (a glob, no process).
any_in() {
  ai_d=$1
  shift
  for ai_p in "$@"; do
    for ai_e in "$ai_d"/$ai_p; do
      { [ -e "$ai_e" ] || [ -L "$ai_e" ]; } && return 0
    done
  done
  return 1
}
# Runs a user's hook with sh in the release directory. Its output goes to stderr, so nothing it
# prints can be mistaken for our replies; its text reaches sh as one argument, never as code of ours.
run_hook() {
  say hook "$1"
  HOOK_RC=0
  (
    cd -- "$3" &&
      RELEASE_ID="$ID" RELEASE_PATH="$T/releases/$ID" DEPLOY_TARGET="$T" \
      PREVIOUS_RELEASE_ID="$PREV" PREVIOUS_RELEASE_PATH="\${PREV:+$T/releases/$PREV}" \
      sh -c "$2" "$1" 1>&2 </dev/null 9<&-
  ) || HOOK_RC=$?
}
# Each path in $SHARED (one a line) lives in $T/shared and is a relative symlink in the release.
# The first release that brings a path seeds it (a copy); later uploads exclude it.
link_shared() {
  [ -n "$SHARED" ] || return 0
  printf '%s\n' "$SHARED" | while IFS= read -r p; do
    [ -n "$p" ] || continue
    rel="$T/releases/$ID/$p"
    mkdir -p -- "$(dirname -- "$T/shared/$p")" "$(dirname -- "$rel")" || exit 1
    if [ ! -e "$T/shared/$p" ] && [ ! -L "$T/shared/$p" ]; then
      # A copy, not a rename: the build's files may be hard links into older releases, and the
      # app will write here.
      if [ -e "$rel" ] && [ ! -L "$rel" ]; then cp -Rp -- "$rel" "$T/shared/$p" || exit 1
      else mkdir -p -- "$T/shared/$p" || exit 1
      fi
    fi
    rm -rf -- "$rel"
    up=$(printf '%s' "$p" | sed 's|[^/]*/|../|g; s|[^/]*$||')
    ln -s -- "../../\${up}shared/$p" "$rel" || exit 1
  done
}
# Makes releases/$ID live, logs it, prunes $PRUNE, and reports the disk the release added.
go_live() {
  switch_link "releases/$ID"
  fence
  log_append "$LOGLINE"
  say switched "$ID"
  prune_releases
  if [ "$MEASURE" = 1 ]; then
    # du counts a hard-linked inode once, at its first path: listed after the previous release,
    # the new one's figure is the disk it really added.
    if [ -n "$PREV" ] && [ -d "$T/releases/$PREV" ]; then set -- "$T/releases/$PREV" "$T/releases/$ID"; else set -- "$T/releases/$ID"; fi
    # Old assets kept from other releases (keep-assets) cost no disk either: list those first too.
    for r in \${KEEP_FROM:-}; do
      [ "$r" != "$PREV" ] && [ "$r" != "$ID" ] && [ -d "$T/releases/$r" ] && set -- "$T/releases/$r" "$@"
    done
    say disk-kb "$(du -sk "$@" 2>/dev/null | tail -n 1 | awk '{ print $1 }')"
  fi
  after_live
}
# Run after every switch. Nothing here; the gate (gate.ts) puts the owner's after-switch hook in.
after_live() { :; }
log_append() { printf '%s\n' "$1" >> "$D/log" || warn "could not append to $D/log"; }
# TARGET's own parts must be what they seem: through a symlink in their place a delete, a create
# or a serve would land outside TARGET.
contained() {
  [ "$#" -gt 0 ] || set -- "$D" "$D/incoming" "$D/lock" "$D/log" "$T/releases" "$T/shared" "$D/kept"
  for p in "$@"; do
    if [ -L "$p" ]; then
      fail unsafe-path "$p is a symlink (to $(readlink "$p")), not a part of $T: refusing to work through it. Replace it with a real \${p##*/}, or remove it"
    fi
  done
}
# A release is a real directory in releases/: one that is a symlink would serve what lies elsewhere.
release_dir_ok() {
  if [ -L "$T/releases/$1" ]; then
    fail unsafe-path "$T/releases/$1 is a symlink (to $(readlink "$T/releases/$1")), not a release: refusing to serve it"
  fi
}
# The first part of a path in $SHARED that is a symlink in the new release (from the build): linking
# or seeding through it would delete and create outside the release.
shared_symlink() {
  printf '%s\n' "$SHARED" | while IFS= read -r p; do
    q='' rest="$p"
    while [ -n "$rest" ]; do
      c=\${rest%%/*}
      if [ "$c" = "$rest" ]; then rest=''; else rest=\${rest#*/}; fi
      q=\${q:+$q/}$c
      if [ -L "$T/releases/$ID/$q" ]; then printf '%s -> %s\n' "$q" "$(readlink "$T/releases/$ID/$q")"; exit 0; fi
      [ -e "$T/releases/$ID/$q" ] || break
    done
  done
}
# "device:inode" of each regular file under $1 with more than one link (only those can be shared):
# GNU find -printf, else stat per file (busybox stat -c, BSD stat -f), batched by find -exec +.
file_inodes() {
  if find "$1" -maxdepth 0 -printf '' >/dev/null 2>&1; then find "$1" -type f -links +1 -printf '%D:%i\n'
  elif stat -c '%d:%i' "$1" >/dev/null 2>&1; then find "$1" -type f -links +1 -exec stat -c '%d:%i' {} +
  else find "$1" -type f -links +1 -exec stat -f '%d:%i' {} +
  fi
}
# files-linked, measured: how many regular files of $1 share an inode with a file of $2 (the live
# release). One pass over each tree, a hash in awk: linear in the number of files.
count_linked() {
  if [ -z "$2" ] || [ ! -d "$2" ]; then say linked 0; return 0; fi
  { file_inodes "$2"; echo --; file_inodes "$1"; } 2>/dev/null |
    awk '$0 == "--" { n = 1; next } !n { s[$0] = 1; next } ($0 in s) { c++ } END { printf "@@rad linked %d\n", c }'
}
dev_of() { stat -c %d "$1" 2>/dev/null || stat -f %d "$1" 2>/dev/null; }
# Hard links need one filesystem. Says fs-split incoming when the upload area is not on releases/'s
# filesystem (links impossible, the publish a copy), fs-split live when the live release $1 is not
# on the upload area's (restored onto another mount): nothing can be linked to it.
fs_split() {
  fr='' fin='' fl=''
  if [ -n "$1" ] && [ -d "$T/releases/$1" ]; then set -- "$T/releases" "$D/incoming" "$T/releases/$1"
  else set -- "$T/releases" "$D/incoming"
  fi
  # One stat for all (GNU/busybox -c, BSD -f); a part it cannot stat stays '' (never a split).
  devs=$(stat -c %d "$@" 2>/dev/null) || devs=$(stat -f %d "$@" 2>/dev/null) || devs=''
  { read -r fr; read -r fin; read -r fl; } <<FS_EOF
$devs
FS_EOF
  [ -n "$fr" ] && [ -n "$fin" ] && [ "$fr" != "$fin" ] && say fs-split incoming
  [ -n "$fl" ] && [ "$fl" != "\${fin:-$fr}" ] && say fs-split live
  return 0
}
# keep-assets. Files of the releases in $KEEP_FROM (newest first, the live one first) that match a
# pattern of $KEEP_PATHS (find -path patterns, one a line, each ./…) and that the new release $1
# lacks are hard-linked into it, so a page served just before the switch still finds its hashed
# scripts after it. Only a release's own files are sources, never what it kept itself (listed in
# .deploy/kept/<id>), so an asset lives at most N releases past the build that had it. Regular files
# only, found without following a symlink; a file whose place in the new release lies under a
# symlink or a file is left out (a link there would land outside the release). Every link is
# fenced; the count is what was linked. Says "kept N".
keep_assets() {
  KEPT=0
  if [ -z "\${KEEP_PATHS:-}" ] || [ -z "\${KEEP_FROM:-}" ]; then say kept 0; return 0; fi
  contained "$D/kept"
  fence
  mkdir -p -- "$D/kept" 2>/dev/null || { warn "cannot create $D/kept: no old assets were kept"; say kept 0; return 0; }
  rec="$D/kept/$ID" plan="$D/kept/.plan.$TOKEN.$$"
  # A record left by an earlier attempt at this id names files of another tree: start afresh.
  rm -f -- "$rec" "$plan"
  keep_plan "$1" > "$plan" 2>/dev/null
  missed=0
  while IFS= read -r line; do
    r=\${line%% *} p=\${line#* }
    case "$p" in ./*) ;; *) continue ;; esac
    case "$p/" in */../*) continue ;; esac
    src="$T/releases/$r/\${p#./}" dst="$1/\${p#./}"
    { [ -f "$src" ] && [ ! -L "$src" ]; } || continue
    # The new build (or a hook) has something there: it wins.
    { [ -e "$dst" ] || [ -L "$dst" ]; } && continue
    fence
    [ -d "\${dst%/*}" ] || mkdir -p -- "\${dst%/*}" 2>/dev/null || { missed=$((missed + 1)); continue; }
    # Recorded before it is linked: a record naming a file that is not there only keeps it from
    # being a source, never makes a kept file look like the build's own.
    printf '%s\n' "$p" >> "$rec" || { missed=$((missed + 1)); break; }
    if ln -- "$src" "$dst" 2>/dev/null; then KEPT=$((KEPT + 1)); else missed=$((missed + 1)); fi
  done < "$plan"
  rm -f -- "$plan"
  [ "$missed" -gt 0 ] && warn "keep-assets: $missed old file(s) could not be hard-linked into $ID (another filesystem, or no room)"
  say kept "$KEPT"
}
# The plan: "RELEASE ./path" for each file to keep into the release $1, from the newest source
# that has it ($1 empty: a dry run's, before there is a new release).
keep_plan() {
  {
    [ -z "$1" ] || (cd -- "$1" && find . ! -path "*$NL*" -type d | sed 's/^/d /' &&
      find . ! -path "*$NL*" ! -type d | sed 's/^/x /')
    for r in $KEEP_FROM; do
      case "$r" in '' | *[!A-Za-z0-9._-]* | .*) continue ;; esac
      { [ -d "$T/releases/$r" ] && [ ! -L "$T/releases/$r" ]; } || continue
      echo "s $r"
      [ -f "$D/kept/$r" ] && [ ! -L "$D/kept/$r" ] && sed 's/^/k /' "$D/kept/$r"
      keep_find "$T/releases/$r" | sed 's/^/f /'
    done
  } | awk '
    # Every existing part of the path is a real directory of the new release (or none exists).
    function under_dirs(p,   n, parts, i, q) {
      n = split(p, parts, "/"); q = parts[1]
      for (i = 2; i < n; i++) {
        q = q "/" parts[i]
        if (q in other) return 0
        if (!(q in dir)) return 1
      }
      return 1
    }
    { t = substr($0, 1, 1); v = substr($0, 3) }
    t == "d" { dir[v] = 1; next }
    t == "x" { other[v] = 1; next }
    t == "s" { src = v; next }
    t == "k" { own[src, v] = 1; next }
    t == "f" {
      if ((v in dir) || (v in other) || (v in taken) || ((src, v) in own)) next
      if (!under_dirs(v)) next
      taken[v] = 1
      print src " " v
    }'
}
# The regular files under $1 that match a pattern of $KEEP_PATHS, as ./paths (none with a newline).
keep_find() {
  kf_dir=$1
  set --
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    [ "$#" -gt 0 ] && set -- "$@" -o
    set -- "$@" -path "$p"
  done <<KEEP_EOF
$KEEP_PATHS
KEEP_EOF
  [ "$#" -gt 0 ] || return 0
  (cd -- "$kf_dir" && find . -type f ! -path "*$NL*" \( "$@" \) -print)
}
# How many of the files recorded as kept in release $1 are there: a file is recorded just before
# it is linked, into a place that was free, so one that is there was kept (recover's count).
kept_recorded() {
  { [ -f "$D/kept/$1" ] && [ ! -L "$D/kept/$1" ]; } || return 0
  n=0
  while IFS= read -r p; do
    case "$p" in ./*) [ -f "$T/releases/$1/\${p#./}" ] && n=$((n + 1)) ;; esac
  done < "$D/kept/$1"
  say kept "$n"
}
# The record of what release $1 kept goes with the release.
kept_forget() { [ -L "$D/kept" ] || rm -f -- "$D/kept/$1"; }
`;


/***/ }),

/***/ 769:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  nc: () => (/* binding */ GATE_PROTOCOL),
  M$: () => (/* binding */ MARK),
  oq: () => (/* binding */ RUN),
  dL: () => (/* binding */ SCRIPTS),
  iR: () => (/* binding */ SERVER_LIB),
  YY: () => (/* binding */ VAR_RULES),
  Q7: () => (/* reexport */ reply/* all */.Q7),
  $1: () => (/* reexport */ reply/* first */.$1),
  UO: () => (/* binding */ mayTakeLock),
  UV: () => (/* reexport */ reply/* parseReply */.UV),
  S2: () => (/* binding */ remoteCommand),
  Op: () => (/* binding */ renderAhead),
  Jy: () => (/* binding */ renderCall),
  y9: () => (/* binding */ renderScript),
  Gv: () => (/* binding */ withoutAheadLine)
});

// UNUSED EXPORTS: AHEAD_OPEN, wireText

// EXTERNAL MODULE: ./src/quote.ts
var quote = __nccwpck_require__(519);
// EXTERNAL MODULE: ./src/remote-lib.ts
var remote_lib = __nccwpck_require__(95);
;// CONCATENATED MODULE: ./src/remote-manifest.ts

/**
 * Server side of the release manifest (src/manifest.ts) and of the fast path. Constant POSIX sh
 * and awk (LC_ALL=C: bytes), for dash/bash/busybox and GNU/busybox/BSD userlands.
 *
 * Files in $D/manifests:
 * - `.in.<upload>`: the manifest the client sent with prepare, for the upload of that name;
 * - `<id>`: the manifest of release <id> (renamed from .in.* at publish, under the fence);
 * - `<id>.stat`: the trust record: `type inode size mtime mode ./path` of every entry of the
 *   release as it was at publish. A live file is trusted to still hold its manifest's content only
 *   while all of these are unchanged. What it cannot see: a hand edit that keeps the size, keeps
 *   the inode (written in place) and puts the mtime back (touch -d); ctime would see that, but
 *   every hard link and every prune changes ctime, so it would distrust every file after a prune.
 * - `<id>.offer`: the fast path's offer of release <id>, made at its publish (fast_finish, which
 *   checked its record against its manifest), as the reply lines prepare sends at once (fk, before
 *   its walk: fast_early) and stands by when the walk finds the release as recorded: a first line
 *   `rad-offer 1 sha256:<digest of the manifest it was made from>` (sent only with that
 *   manifest), then base64 lines, each checked as it is read. A release
 *   published the checksum way, or with shared paths or kept assets, has none.
 * - `.w.<upload>.*`: the fast path's work files, from prepare to publish (a run that fails in
 *   between leaves them to prune_releases, which deletes those older than a day).
 */
const MANIFEST_LIB = (0,remote_lib.sh) `
# awk functions of the fast path: manifest escapes (\\ and \n), modes without leading zeros
# (busybox awk reads "0644" as octal, others as decimal), the rest of a line after n fields, and a
# tree_stat path ("./a" or ".") in the manifest's form ("a" or ".").
AWK_FNS='
function esc(s,   o, i) { o = ""; while ((i = index(s, "\\")) > 0) { o = o substr(s, 1, i) "\\"; s = substr(s, i + 1) } return o s }
function unesc(s,   o, i) { o = ""; while ((i = index(s, "\\")) > 0) { o = o substr(s, 1, i - 1) substr(s, i + 1, 1); s = substr(s, i + 2) } return o s }
function oct(s) { sub(/^0+/, "", s); return s == "" ? "0" : s }
function rest(s, n) { while (n-- > 0) s = substr(s, index(s, " ") + 1); return s }
function treepath(s, n) { s = rest(s, n); return s == "." ? "." : esc(substr(s, 3)) }
function parent(p,   i, q) { q = p; i = 0; while (match(q, /\//)) { i += RSTART; q = substr(q, RSTART + 1) } return i ? substr(p, 1, i - 1) : "." }
'
# The offer (fast_offer, fast_peek): reads the live manifest, its trust record and the live tree
# now (tree_stat on stdin, which ends with "@@end" when it read the whole tree; copied to $now
# when set); the offer is "r MODE" (the root's mode now), then a line per manifest entry: "t type
# mode size hash path" (hash cut to $cut digits) when the tree still has it as recorded, else "u".
# Printed as it is without $zfile; with it, printed as "@@rad fp" reply lines when it is at most
# $plain bytes of printable ASCII (no gzip, base64, fold and sed to start), else written to $zfile.
# Writes to $rmlist what a copy of the tree must lose: every path that is not a trusted entry (a
# directory of the manifest stays).
AWK_DESCRIBE='
BEGIN { A = ARGV[1]; B = ARGV[2] }
FILENAME == A {
  if (FNR == 1) { if ($0 != "rad-manifest 1") bad = 1; next }
  match($0, /^[^ ]* [^ ]* [^ ]* [^ ]* /); p = substr($0, RLENGTH + 1)
  nl++; LP[nl] = p; LT[nl] = $1 " " oct($2); LX[nl] = $1 " " $2 " " $3 " " substr($4, 1, cut); if ($1 == "d") LD[p] = 1; next
}
{
  if (FILENAME != B) { if ($0 == "@@end") { ended = 1; next } ended = 0; if (now != "") print > now }
  if (FNR == 1 && FILENAME == B) { if ($0 != "rad-stat 1") bad = 1; next }
  if (!match($0, /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ [.]/)) { bad = 1; next }
  k = substr($0, 1, RLENGTH - 2); p = substr($0, RLENGTH)
  if (p == ".") ;
  else if (substr(p, 1, 2) != "./") { bad = 1; next }
  else { p = substr(p, 3); if (index(p, "\\")) p = esc(p) }
  if (FILENAME == B) { if (p in R) bad = 1; R[p] = k; next }
  if (p in N) bad = 1
  N[p] = k; NT[p] = $1 " " ($1 == "l" ? "-" : oct($5)); order[++n] = p
}
END {
  if (bad || !ended || !("." in N)) exit 1
  # Its own end mark: busybox awk does not fail on a write error (a full disk), so publish checks
  # that the listing it compares with is whole.
  if (now != "") { print "@@end" > now; close(now) }
  split(NT["."], rt, " "); O[1] = "r " rt[2]; no = 1; big = 0; size = 0
  for (i = 1; i <= nl; i++) {
    p = LP[i]
    if ((p in N) && NT[p] == LT[i] && (substr(LT[i], 1, 1) == "d" || R[p] == N[p])) { trusted[p] = 1; o = "t " LX[i] " " p }
    else o = "u"
    O[++no] = o
    if (!big) { size += length(o) + 10; if (size > plain || o !~ /^[ -~]*$/) big = 1 }
  }
  if (zfile == "") for (i = 1; i <= no; i++) print O[i]
  else if (big) { for (i = 1; i <= no; i++) print O[i] > zfile; close(zfile) }
  else for (i = 1; i <= no; i++) print "@@rad fp " O[i]
  printf "" > rmlist
  for (j = 1; j <= n; j++) {
    p = order[j]
    if (p == "." || (p in trusted) || ((p in LD) && substr(NT[p], 1, 1) == "d")) continue
    print unesc(p) > rmlist
  }
}
'
# The offer when the live tree walks now exactly as its trust record says (fast_offer checked that
# with cmp: the usual case): every recorded file is then trusted, so the offer needs only the walk's
# type and mode by path against the manifest (ARGV[1] the walk, ARGV[2] the manifest). The same
# offer, rm list and plain-or-file choice as AWK_DESCRIBE, at a quarter of its cost on a big site
# (it keeps one array, not five; and, as fast_finish, it splits at single spaces and takes a path
# without a regex match). The offer is held while it may still go as "@@rad fp" lines, and
# once it cannot, written to $zfile as it goes. A walk entry ends as "k" once the copy keeps it.
AWK_JOIN='
BEGIN { FS = "[ ]" }
FILENAME == ARGV[1] {
  if ($0 == "@@end") { ended = 1; next }
  ended = 0
  if ($0 !~ /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ [.]/) { bad = 1; next }
  p = NF == 6 ? $6 : rest($0, 5)
  if (p != ".") { if (substr(p, 1, 2) != "./") { bad = 1; next } p = substr(p, 3); if (index(p, "\\")) p = esc(p) }
  if (p in W) bad = 1
  W[p] = $1 " " ($1 == "l" ? "-" : oct($5)); next
}
FNR == 1 {
  if ($0 != "rad-manifest 1" || bad || !ended || !("." in W)) { bad = 1; exit }
  started = 1; split(W["."], rt, " "); O[1] = "r " rt[2]; no = 1; size = 0; next
}
{
  p = NF == 5 ? $5 : rest($0, 4); o = "u"; nu++
  if (p in W) {
    w = W[p]
    if (w == "k") { bad = 1; exit }
    if (w == $1 " " oct($2)) { W[p] = "k"; o = "t " $1 " " $2 " " $3 " " substr($4, 1, cut) " " p; nu-- }
    else if ($1 == "d" && substr(w, 1, 1) == "d") W[p] = "k"
  }
  if (big) { print o > zfile; next }
  O[++no] = o; size += length(o) + 10
  if (size > plain || o !~ /^[ -~]*$/) { big = 1; for (i = 1; i <= no; i++) print O[i] > zfile; split("", O) }
}
END {
  if (bad || !started) exit 1
  if (big) close(zfile)
  else for (i = 1; i <= no; i++) print "@@rad fp " O[i]
  printf "" > rmlist
  for (p in W) if (W[p] != "k" && p != ".") { print unesc(p) > rmlist; nrm++ }
  # Every entry trusted and the copy whole: the live walk is the manifest, entry for entry, which
  # lets publish check the upload in step with that walk (AWK_STEP).
  if (!nu && !nrm) printf "" > allt
}
'
# The offer of a release just checked at publish (fast_finish), kept for the next prepare
# ($m/<id>.offer): what AWK_JOIN sends when the release is found as its trust record says. That
# walk was then checked against this manifest at publish (every path with its type and mode,
# nothing else, "." with $root), so every entry is trusted and nothing is lost: the offer is "r
# MODE" and every manifest line as "t ..." with its hash cut to 16 digits. Exits 1 when the offer
# is small enough to go as plain lines (AWK_JOIN is cheap then: nothing is kept).
AWK_ALL='
BEGIN { FS = "[ ]" }
FNR == 1 { if ($0 != "rad-manifest 1") exit 1; print "r " oct(root); size = 0; next }
{
  o = "t " $1 " " $2 " " $3 " " substr($4, 1, 16) " " (NF == 5 ? $5 : rest($0, 4)); print o
  if (!big) { size += length(o) + 10; if (size > plain || o !~ /^[ -~]*$/) big = 1 }
}
END { exit big ? 0 : 1 }
'
# A kept offer (offer_keep) as reply lines ("fz", or "fk" with tag=fk: before the walk, see
# fast_early): its base64 lines after the first, each checked to be base64 and nothing else (a line
# of the file never starts a reply line of its own: a fake "@@rad live" or "@@rad-error"), sent
# only once all were read (nothing of a bad file goes out).
AWK_KEPT='
NR == 1 { next }
$0 !~ "^[A-Za-z0-9+/=]+$" { bad = 1; exit }
{ L[++n] = $0 }
END { if (bad || !n) exit 1; for (i = 1; i <= n; i++) print "@@rad " (tag == "fk" ? "fk" : "fz") " " L[i] }
'
# fast_finish's check in step (the usual case): the upload's walk (with blocks, ARGV[1]) against
# prepare's walk of the live release ($now), a line of each at a time, with no array of the whole
# release. Only the entries the build changed are looked up by path: $spf holds the manifest's
# lines that the client sent (new or changed entries: each must be in the upload as the manifest
# says, a file a new inode), $xpf the live manifest's lines the new one does not keep (each goes
# from the upload, or was replaced by an entry of $spf). Every other entry must be there as it was,
# in the same order: a file the same inode, size, mtime and mode (the live file, kept, not touched
# since prepare checked it); a directory or symlink the same type, size and mode (the copy's own
# inode; cp may not keep a symlink's mtime); "." with the mode $root. Writes the record ($rec) and
# what goes ($del) as it goes; at the end the linked count and what the release adds on disk.
# Exits 2 at the first doubt (another order, too: a filesystem that lists a copy otherwise); the
# check entry by entry then decides, and says why when it refuses.
# Used only when prepare trusted every entry of the live manifest and the copy lost nothing
# ($w.all, from AWK_JOIN): the live walk was then the manifest entry for entry (type and mode by
# prepare, size and content by the trust record, checked against the manifest when it was made).
AWK_STEP='
function mpath(raw,   p) { if (raw == ".") return "."; p = substr(raw, 3); return index(p, "\\") ? esc(p) : p }
BEGIN {
  FS = "[ ]"; print "rad-stat 1" > rec; printf "" > del
  while ((getline l < spf) > 0) {
    if (l == "@@no") exit 2
    if (substr(l, 1, 6) == "@@end ") { spend = substr(l, 7); break }
    split(l, a, " "); p = rest(l, 4)
    if (p == "." || (p in SP)) exit 2
    SP[p] = a[1] == "l" ? "l" : a[1] " " oct(a[2]) " " (a[1] == "f" ? a[3] : "-"); nsp++
  }
  while ((getline l < xpf) > 0) {
    if (l == "@@no") exit 2
    if (substr(l, 1, 6) == "@@end ") { xpend = substr(l, 7); break }
    p = rest(l, 4); if (p == ".") exit 2; XP[p] = 1; nxp++
  }
  # Each list whole: its end mark, with the count of the lines before it.
  if (spend == "" || spend != (nsp + 0) "" || xpend == "" || xpend != (nxp + 0) "") exit 2
  some = nsp + nxp
}
{
  if ($0 == "@@end") { ended = 1; exit }
  if ($0 !~ /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ [0-9]+ [.]/) { bad = 1; exit }
  raw = NF == 7 ? $7 : rest($0, 6)
  if (some) {
    p = mpath(raw)
    if (p in SP) {
      want = SP[p]
      if (want == "-") { bad = 1; exit }
      SP[p] = "-"; seen++
      if ($1 == "l") { if (want != "l") { bad = 1; exit } }
      else if (want != $1 " " oct($5) " " ($1 == "f" ? $3 : "-")) { bad = 1; exit }
      if ($1 == "f") { SENT[$2] = 1; nsent++ }
      kb += $6
      print $1 " " $2 " " $3 " " $4 " " $5 " " raw > rec
      next
    }
    if (p in XP) { if (!(parent(p) in gone)) { print unesc(p) > del; ndel++ } gone[p] = 1; next }
  }
  # A kept entry: the next line of the live walk that is not one the build changed.
  while (1) {
    if ((getline l < now) <= 0 || l == "@@end") { bad = 1; exit }
    if (!some) break
    q = mpath(rest(l, 5))
    if (!((q in SP) || (q in XP))) break
  }
  r = $1 " " $2 " " $3 " " $4 " " $5 " " raw
  if ($1 == "f") { if (r != l) { bad = 1; exit } linked++ }
  else if (substr(l, 1, 2) != $1 " " || substr(rest(l, 2), 1, length($3) + 1) != $3 " " || rest(l, 4) != rest(r, 4)) { bad = 1; exit }
  else if (raw == ".") { if (oct($5) != oct(root)) { bad = 1; exit } kb += $6 }
  else if ($1 == "d") kb += $6
  print r > rec
}
END {
  if (bad || !ended || seen != nsp) exit 2
  # The rest of the live walk: only entries the build changed, then its end mark.
  while ((getline l < now) > 0) {
    if (l == "@@end") { nowend = 1; break }
    if (!some) exit 2
    q = mpath(rest(l, 5))
    if (!((q in SP) || (q in XP))) exit 2
  }
  if (!nowend) exit 2
  # Each sent file a new inode: none of the live release (rsync wrote it, not a link to a live file).
  if (nsent) {
    close(now)
    while ((getline l < now) > 0) { i = substr(l, 3); i = substr(i, 1, index(i, " ") - 1); if (substr(l, 1, 2) == "f " && (i in SENT)) exit 2 }
  }
  printf "@@rad linked %d\n@@rad disk-kb %d\n@@rad del-lines %d\n", linked, int((kb + 1) / 2), ndel
}
'
# Whether find has -printf (GNU), asked once a script.
FIND_PRINTF=
find_printf() {
  [ -n "$FIND_PRINTF" ] || { if find / -maxdepth 0 -printf '' >/dev/null 2>&1; then FIND_PRINTF=1; else FIND_PRINTF=0; fi; }
  [ "$FIND_PRINTF" = 1 ]
}
# type inode size mtime mode path of every entry under $1, "." first-or-anywhere, paths as "./…";
# with $2 = blocks also the blocks each entry holds (512-byte units) before the path (publish).
# A directory's size and mtime are written as 0: nothing trusts them (a directory is trusted by
# type and mode), and a delete after the trust record was taken changes them, which would make the
# next prepare's walk differ from the record for nothing (fast_offer compares the two whole).
# GNU find -printf, else busybox stat -c or BSD stat -f, batched by find -exec + (never a fork a file).
tree_stat() {
  find_printf
  if [ "\${2:-}" = blocks ]; then ts_b=' %b'; else ts_b=''; fi
  (
    cd -- "$1" || exit 1
    # A path with a newline would be read as two lines (the second one anything the name says):
    # it is one line "! newline", which no reader takes for an entry.
    if find_printf; then
      find . -path "*$NL*" -printf '! newline\n' -o -type d -printf "d %i 0 0 %m$ts_b %p\n" -o -printf "%y %i %s %T@ %m$ts_b %p\n" && exit 0
      # -printf as $D/caps kept it, refused (find replaced since): found out afresh. A find that
      # has -printf failed for another reason, after writing some lines: that is a failure.
      [ -n "$CAPS_KEPT" ] || exit 1
      FIND_PRINTF=
      ! find_printf || exit 1
      caps_forget
    fi
    if stat -c %i . >/dev/null 2>&1; then
      for t in f l; do find . -type "$t" ! -path "*$NL*" -exec stat -c "$t %i %s %Y %a$ts_b %n" {} + || exit 1; done
      find . -type d ! -path "*$NL*" -exec stat -c "d %i 0 0 %a$ts_b %n" {} + || exit 1
    else
      for t in f l; do find . -type "$t" ! -path "*$NL*" -exec stat -f "$t %i %z %m %Lp$ts_b %N" {} + || exit 1; done
      find . -type d ! -path "*$NL*" -exec stat -f "d %i 0 0 %Lp$ts_b %N" {} + || exit 1
    fi
    find . -path "*$NL*" -exec printf '%s\n' '! newline' \; -prune
  )
}
# Reads tree_stat output; prints it with a header when every line parses and no path repeats
# (a name with a newline breaks a line: such a tree gets no record, so never the fast path).
stat_record() {
  LC_ALL=C awk 'BEGIN { print "rad-stat 1" }
    $0 !~ /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ [.](\/|$)/ { bad = 1 }
    { p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", p); if (p in seen) bad = 1; seen[p] = 1; print }
    END { exit bad }'
}
# At publish (under the fence): the upload's manifest becomes release $2's, with its trust record.
# $1 the upload's name. No manifest (an older client): nothing to keep, the next deploy checksums.
manifest_publish() {
  m="$D/manifests"
  [ -f "$m/.in.$1" ] || return 0
  contained "$m"
  fence
  mv -f -- "$m/.in.$1" "$m/$2" || { warn "could not keep the manifest of release $2"; rm -f -- "$m/.fstat.$1" "$m/.w.$1.ofc"; return 0; }
  # The fast path walked the upload at its finish (fast_finish): that walk is the record.
  if [ -f "$m/.fstat.$1" ]; then
    mv -f -- "$m/.fstat.$1" "$m/$2.stat" || rm -f -- "$m/.fstat.$1" "$m/$2.stat"
    # The offer fast_finish made of it, for the next prepare.
    if [ -f "$m/.w.$1.ofc" ] && [ -f "$m/$2.stat" ]; then
      mv -f -- "$m/.w.$1.ofc" "$m/$2.offer" || rm -f -- "$m/.w.$1.ofc" "$m/$2.offer"
    else
      rm -f -- "$m/.w.$1.ofc" "$m/$2.offer"
    fi
  else
    # (A walked record is not checked against the manifest: no kept offer goes with it.)
    rm -f -- "$m/$2.offer"
    if tree_stat "$T/releases/$2" 2>/dev/null | stat_record > "$m/.stat.$TOKEN"; then
      mv -f -- "$m/.stat.$TOKEN" "$m/$2.stat"
    else
      rm -f -- "$m/.stat.$TOKEN"
    fi
  fi
  return 0
}
# The manifest follows its upload: $1 → $2 (command: upload's staged name, or back on unpublish).
# The caller has just fenced (or checked the lock: an unpublish must not fail on its own).
manifest_rename() {
  [ -f "$D/manifests/$1" ] && [ ! -L "$D/manifests" ] || return 0
  mv -f -- "$D/manifests/$1" "$D/manifests/$2" 2>/dev/null
}
# Deletes what belongs to release or upload $1 (caller holds the lock).
manifest_drop() {
  [ -d "$D/manifests" ] && [ ! -L "$D/manifests" ] || return 0
  rm -f -- "$D/manifests/$1" "$D/manifests/$1.stat" "$D/manifests/$1.offer"
}
# Deletes what the manifest area holds for upload $1: its manifest, the fast path's work files.
manifest_discard() {
  [ -d "$D/manifests" ] && [ ! -L "$D/manifests" ] || return 0
  rm -f -- "$D/manifests/.in.$1" "$D/manifests/.fstat.$1" "$D/manifests/.w.$1".*
}
# The client's manifest of a checksum-path upload $1, kept as the release's at publish.
manifest_receive() {
  [ -n "$MANIFEST" ] || return 0
  contained "$D/manifests"
  { mkdir -p -- "$D/manifests" && printf '%s' "$MANIFEST" > "$D/manifests/.in.$1"; } 2>/dev/null ||
    fail target-unwritable "cannot write $D/manifests/.in.$1 ($(free_space "$D"))"
}

# sha256 of file $1 as bare hex (GNU/busybox sha256sum, BSD sha256, or openssl), or fails.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sh_h=$(sha256sum < "$1") && echo "\${sh_h%% *}"
  elif command -v sha256 >/dev/null 2>&1; then sha256 -q < "$1"
  elif command -v openssl >/dev/null 2>&1; then sh_h=$(openssl dgst -sha256 < "$1") && echo "\${sh_h##* }"
  else return 1
  fi
}
# Whether sha256_of works here (the hash of nothing, checked).
# (Found out once a script: prepare asks twice, fast_early and fast_send.)
HS_OK=''
have_sha256() {
  if [ -z "$HS_OK" ]; then
    HS_OK=0
    [ "$(sha256_of /dev/null 2>/dev/null)" = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ] && HS_OK=1
  fi
  [ "$HS_OK" = 1 ]
}

# The fast path, in prepare (the lock is ours). The new upload dir starts as a hard-linked copy
# (cp -al) of the live release $1, made while the live release is checked against its trust record
# and described to the client (AWK_DESCRIBE, as "@@rad fz" lines of gzip and base64, or "@@rad fp"
# lines of plain text): every entry of its manifest, in order, that the server still has as
# recorded, with its hash. Hashes are cut to 16 hex digits when the server can
# sha256 (publish then checks the digest of the manifest it rebuilds, which catches a cut hash
# that matched by chance). The copy then loses every entry that is not trusted or not in the
# manifest (a directory of the manifest stays). Says "fast ok". Returns 1
# (nothing left behind) when it cannot: the caller makes an empty upload dir (the checksum path).
# Work files for publish: $w.now (the live release as checked), $w.rm (what the copy lost).
# The copy and the walk of fast_offer, begun as soon as prepare holds the lock and knows the live
# release $1 (they are prepare's longest part; the rest of it runs beside them). Side by side: the
# copy, and the walk of what it copies. Publish checks every kept file of the release against that
# walk ($w.now: inode, size, mtime), so a file replaced in between is caught. Starts nothing (and
# fast_offer says why) unless the live release has a manifest and the upload dir is free.
FS_CP='' FS_WALK='' FS_FOR='' FS_COPY=''
fast_start() {
  [ -n "$1" ] && [ -d "$T/releases/$1" ] && [ ! -L "$T/releases/$1" ] || return 0
  [ ! -L "$D/manifests" ] && [ -f "$D/manifests/$1" ] && [ -f "$D/manifests/$1.stat" ] || return 0
  # cp -al into a directory that exists would nest the live release inside it: never a release.
  # (The name carries this run's token, so only a broken server has it; the caller's mkdir says so.)
  [ ! -e "$D/incoming/$INCOMING" ] && [ ! -L "$D/incoming/$INCOMING" ] || return 0
  fence
  cp -al -- "$T/releases/$1" "$D/incoming/$INCOMING" 2>/dev/null &
  FS_CP=$! FS_COPY=1
  # (find_printf here, in this shell: what it learns in the walk's subshell would be lost to caps_save.)
  find_printf
  { tree_stat "$T/releases/$1" && echo @@end; } > "$D/manifests/.w.$INCOMING.now" 2>/dev/null &
  FS_WALK=$! FS_FOR=$1
}
# Stops what fast_start began and deletes it (the checksum path after all, or a failure, until
# fast_offer has said "fast ok"): the copy is stopped; the walk, which only reads, is waited for;
# the copy and the work files go. Nothing of it is left running. A copy of a release with read-only
# directories (chmod D555) has its directories made writable to be deleted.
fast_stop() {
  if [ -n "$FS_CP" ]; then
    kill "$FS_CP" 2>/dev/null
    wait "$FS_CP" "$FS_WALK" 2>/dev/null
  fi
  if [ -n "$FS_COPY" ]; then
    fs_gone="$D/incoming/$INCOMING"
    # Only its directories are made writable: they are the copy's own, while its files are hard
    # links to the live release's (a chmod of one would change the live file).
    rm -rf -- "$fs_gone" 2>/dev/null || {
      find "$fs_gone" -type d -exec chmod u+rwx {} + 2>/dev/null
      rm -rf -- "$fs_gone" 2>/dev/null
    }
    rm -f -- "$D/manifests/.w.$INCOMING".now "$D/manifests/.w.$INCOMING".rm "$D/manifests/.w.$INCOMING".src \
      "$D/manifests/.w.$INCOMING".all "$D/manifests/.w.$INCOMING".offer
  fi
  FS_CP='' FS_WALK='' FS_FOR='' FS_COPY='' FE_KO=''
}
# Sets KH to the first line of the live release $1's kept offer when it names the live manifest's
# digest (where the server can sha256: else no kept offer counts); returns 1 when there is none.
kept_head() {
  KH=''
  [ -f "$D/manifests/$1.offer" ] && [ ! -L "$D/manifests/$1.offer" ] && have_sha256 || return 1
  { IFS= read -r KH || :; } < "$D/manifests/$1.offer" 2>/dev/null
  [ -n "$KH" ] && [ "$KH" = "rad-offer 1 sha256:$(sha256_of "$D/manifests/$1" 2>/dev/null)" ] || { KH=''; return 1; }
}
# The kept offer of the live release $1 sent at once, before the walk has checked the release
# ("fk" lines, then "offer-early"): the client decodes it and plans while the copy and the walk go
# on. fast_send then says "offer-kept" when the walk finds the release as recorded (the offer
# holds), or sends the offer it describes from the walk (fz/fp lines, which the client takes
# instead); without either the client has no offer.
FE_KO=''
fast_early() {
  FE_KO=''
  [ -n "$FS_COPY" ] && [ "$FS_FOR" = "$1" ] && kept_head "$1" || return 0
  LC_ALL=C awk -v tag=fk "$AWK_KEPT" "$D/manifests/$1.offer" 2>/dev/null || return 0
  FE_KO=$KH
  say offer-early
}
# The offer and the link of the copy in one (prepare runs them apart: see fast_send).
fast_offer() { fast_send "$1" && fast_link; }
# The offer of the live release $1 (the client plans from it), once the walk has checked it: it
# returns 1 (nothing begun is left, and "fast ..." says why) when there is none.
fast_send() {
  m="$D/manifests"
  w="$m/.w.$INCOMING"
  new="$D/incoming/$INCOMING"
  [ -n "$1" ] && [ -d "$T/releases/$1" ] && [ ! -L "$T/releases/$1" ] || { say fast no-live; return 1; }
  [ ! -L "$m" ] && [ -f "$m/$1" ] && [ -f "$m/$1.stat" ] || { say fast no-manifest; return 1; }
  # Begun here when prepare did not (fast_start says nothing of why it did not: it is said here).
  if [ -z "$FS_COPY" ] || [ "$FS_FOR" != "$1" ]; then
    fast_stop
    [ ! -e "$new" ] && [ ! -L "$new" ] || { say fast no-link; return 1; }
    fast_start "$1"
    [ -n "$FS_COPY" ] || { say fast no-link; return 1; }
  fi
  cpid=$FS_CP
  cut=64
  have_sha256 && cut=16
  # For publish: which release was copied, and whether the offer cut its hashes (then the digest
  # must be checked there).
  printf '%s %s\n' "$1" "$cut" > "$w.src" || { fast_stop; say fast no-link; return 1; }
  # The walk is kept as $w.now (publish checks against it). When it is the trust record to the byte
  # (the usual case: nothing touched since publish), the offer publish kept goes as it is, or
  # AWK_JOIN describes it; else AWK_DESCRIBE checks it entry by entry against the record.
  wait "$FS_WALK"
  rec_head='' ko=''
  { IFS= read -r rec_head || :; } < "$m/$1.stat" 2>/dev/null
  if [ "$rec_head" = 'rad-stat 1' ] &&
    { tail -n +2 "$m/$1.stat" && echo @@end; } 2>/dev/null | cmp -s - "$w.now" 2>/dev/null; then
    # The offer publish kept for this manifest (every entry trusted, nothing lost), else AWK_JOIN.
    # Sent already (fast_early): it holds, and goes no second time.
    if [ -n "$FE_KO" ]; then ko=$FE_KO
    elif kept_head "$1"; then ko=$KH
    fi
    if [ -n "$ko" ] && : > "$w.rm" && : > "$w.all" && { [ -n "$FE_KO" ] || LC_ALL=C awk "$AWK_KEPT" "$m/$1.offer" 2>/dev/null; }; then
      :
    else
      ko=''
      LC_ALL=C awk -v cut="$cut" -v rmlist="$w.rm" -v zfile="$w.offer" -v plain=32768 -v allt="$w.all" \
        "$AWK_FNS$AWK_JOIN" "$w.now" "$m/$1" 2>/dev/null
    fi
  else
    LC_ALL=C awk -v cut="$cut" -v rmlist="$w.rm" -v now='' -v zfile="$w.offer" -v plain=32768 \
      "$AWK_FNS$AWK_DESCRIBE" "$m/$1" "$m/$1.stat" "$w.now" 2>/dev/null
  fi
  described=$?
  if [ "$described" = 0 ]; then
    offer=1
    zo=''
    [ -z "$ko" ] || zo=k
    if [ -s "$w.offer" ]; then send_offer < "$w.offer"; rm -f -- "$w.offer"; zo=z; fi
    # A big offer (k: the kept one, z: written to be zipped): publish keeps the next one
    # (offer_keep), which a small one is not worth (an awk more for every small site); and a kept
    # one that publish finds wrong goes. A second line of $w.src, so a failed write loses only this hint.
    [ -z "$zo" ] || { echo "$zo" >> "$w.src"; } 2>/dev/null || :
    # The offer is whole: the client plans while the copy ends (fast_link). The kept one sent
    # early holds only when said so: silence (a described offer that came out empty, as busybox
    # awk leaves it on a full disk) is no offer, never the early one.
    [ -n "$FE_KO" ] && [ -n "$ko" ] && say offer-kept
    say offer-sent
    return 0
  fi
  offer=0
  kill "$cpid" 2>/dev/null
  fast_link
}
# After fast_send: waits for the copy, then takes from it what the client cannot rely on, and
# says "fast ok" (the upload may begin); returns 1, with nothing of the copy left, when it failed.
fast_link() {
  wait "$cpid"
  cprc=$?
  # Waited for: no pid to stop any more (it may be another process's soon); the copy is still ours
  # to delete on a failure (FS_COPY) until "fast ok".
  FS_CP='' FS_WALK=''
  if [ "$offer" = 0 ] || [ "$cprc" != 0 ]; then
    rm -rf -- "$new"
    rm -f -- "$w.now" "$w.rm" "$w.src" "$w.offer" "$w.all"
    [ "$offer" = 0 ] && say fast untrusted || say fast no-link
    return 1
  fi
  fence
  # What the client cannot rely on goes before the upload (so rsync meets only trusted entries).
  # The list is of the live tree as it was checked; a part of a path that is a symlink in the copy
  # now (changed in between) is never gone through: such a path is left, and publish's walk finds it.
  if [ -s "$w.rm" ] && ! (cd -- "$new" && while IFS= read -r p; do
      q=. r=$p
      while :; do
        case $r in */*) ;; *) break ;; esac
        q=$q/\${r%%/*} r=\${r#*/}
        [ -L "$q" ] && continue 2
      done
      printf '%s\000' "$p"
    done < "$w.rm" | xargs -0 rm -rf -- 2>/dev/null); then
    rm -rf -- "$new"
    rm -f -- "$w.now" "$w.rm" "$w.src" "$w.all"
    say fast no-remove
    return 1
  fi
  say fast ok
  FS_COPY='' FS_FOR=''
  return 0
}
# The offer on stdin as reply lines: gzip and base64 where the server has both (a third of the
# bytes), else plain. gzip -1: half the time of its default for a tenth more bytes (hex and names).
send_offer() {
  if can_zip; then
    gzip -1 -c | base64 | fold -w 76 | sed 's/^/@@rad fz /'
  else
    sed 's/^/@@rad fp /'
  fi
}
# Whether the server can zip an offer (gzip, base64 and fold: send_offer's fz lines).
can_zip() {
  command -v gzip >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1 && command -v fold >/dev/null 2>&1
}
# Writes $2: the kept offer (AWK_ALL) of the manifest $1, whose digest is $3: a first line
# "rad-offer 1 $3" (prepare sends it only for that manifest, and only a file of this format),
# then the offer zipped, as base64 lines (AWK_KEPT makes them reply lines). Nothing is left when
# it fails or the offer is small. Run beside fast_finish's check: it reads only $1.
offer_keep() {
  LC_ALL=C awk -v root="$ROOT_MODE" -v plain=32768 "$AWK_FNS$AWK_ALL" "$1" > "$2.p" 2>/dev/null &&
    # A line for every line of the manifest (busybox awk exits 0 when a write fails: a full disk).
    ok_n=$(wc -l < "$2.p") && ok_m=$(wc -l < "$1") && [ "$((ok_n))" -eq "$((ok_m))" ] &&
    gzip -1 -c < "$2.p" > "$2.z" 2>/dev/null &&
    base64 < "$2.z" > "$2.b" 2>/dev/null &&
    { printf 'rad-offer 1 %s\n' "$3" && fold -w 76 < "$2.b"; } > "$2.t" 2>/dev/null &&
    mv -f -- "$2.t" "$2" 2>/dev/null
  ok_rc=$?
  rm -f -- "$2.p" "$2.z" "$2.b" "$2.t"
  return "$ok_rc"
}
# After a failure in fast_finish: waits for offer_keep (a kill would stop its shell, not the awk or
# gzip it runs, which would then write after this call said it failed) and deletes what it wrote.
offer_stop() {
  [ -n "\${FF_OFC:-}" ] || return 0
  wait "$FF_OFC" 2>/dev/null
  rm -f -- "$FF_OFW" "$FF_OFW.p" "$FF_OFW.z" "$FF_OFW.b" "$FF_OFW.t"
  FF_OFC=''
}
# A dry run's offer of the live release $1: what fast_offer describes, read only (no lock, no
# copy, no file written). Whole hashes (nothing is published to check a cut one against). Says
# nothing when there is nothing to offer.
fast_peek() {
  m="$D/manifests"
  [ -n "$1" ] && [ -d "$T/releases/$1" ] && [ ! -L "$T/releases/$1" ] || return 0
  [ ! -L "$m" ] && [ -f "$m/$1" ] && [ -f "$m/$1.stat" ] || return 0
  if pk=$({ tree_stat "$T/releases/$1" && echo @@end; } 2>/dev/null |
    LC_ALL=C awk -v cut=64 -v rmlist=/dev/null -v now= -v zfile= "$AWK_FNS$AWK_DESCRIBE" "$m/$1" "$m/$1.stat" - 2>/dev/null); then
    printf '%s\n' "$pk" | send_offer
  fi
  return 0
}

# At publish or stage (under the fence) of a fast-path upload $1 copied from the live release $2:
# rebuilds the release's manifest from $MANIFEST (the client's: "=A-B" takes lines A to B of the
# live manifest, any other line is the client's own) and checks its digest against $DIGEST when
# the server can sha256; deletes what the copy holds that the new manifest does not; then walks the
# release once and checks it against the manifest: every path there with its type, mode and size,
# nothing else, "." with $ROOT_MODE, each kept file the inode the live release had when prepare
# checked it, each sent file a new one. That walk is the trust record ($m/.fstat.$1, taken by
# manifest_publish). Says "linked N" (files sharing an inode with the live release) and "disk-kb K"
# (what the release adds on disk). Fails, with nothing published, on any difference.
fast_finish() {
  m="$D/manifests"
  w="$m/.w.$1"
  up="$D/incoming/$1"
  contained "$m"
  src='' cut='' zo=''
  { { read -r src cut && read -r zo; } < "$w.src"; } 2>/dev/null || :
  FF_OFW="$w.ofc"
  [ -f "$w.now" ] && [ -f "$w.rm" ] && [ -f "$m/$2" ] && [ ! -L "$m/$2" ] && [ "$src" = "$2" ] ||
    fail fast-lost "the fast path's record of the live release $2 is gone from $m: run the deploy again"
  fence
  # One walk of the upload (find never descends through a symlink), read only, on another core
  # while the manifest is rebuilt and checked; "@@end" after it says it read the whole tree. A
  # failure before its end waits for it first (ff_fail): nothing of this call writes after it said so.
  find_printf
  { tree_stat "$up" blocks && echo @@end; } > "$w.pub" 2>/dev/null &
  walk=$!
  ff_fail() { wait "$walk" 2>/dev/null; rm -f -- "$w.pub"; ff_kept_bad; fail "$@"; }
  # The live release's kept offer, when prepare sent it and the upload does not match: it goes
  # (the next prepare describes the live release afresh), so a wrong one cannot fail every deploy.
  ff_live=$2
  ff_kept_bad() { [ "$zo" != k ] || { lock_mine && rm -f -- "$m/$ff_live.offer"; }; }
  # Beside it, for the check in step: the lines the client sent ($w.sp), and the live lines the new
  # manifest does not keep ($w.xp; "@@no" when its ranges are not in order); each ends "@@end COUNT".
  if ! printf '%s' "$MANIFEST" | LC_ALL=C awk -v live="$m/$2" -v kept="$w.kept" -v sp="$w.sp" -v xp="$w.xp" "$AWK_FNS"'
      BEGIN {
        while ((getline l < live) > 0) { if (++n == 1) { if (l != "rad-manifest 1") exit 1; continue } L[n - 1] = l }
        nl = n - 1; printf "" > kept; printf "" > sp; printf "" > xp; last = 0
      }
      NR == 1 { if ($0 != "rad-manifest 1") exit 1; print; next }
      /^=/ {
        s = substr($0, 2); a = s; b = s
        if ((k = index(s, "-")) > 0) { a = substr(s, 1, k - 1); b = substr(s, k + 1) }
        if (a !~ /^[0-9]+$/ || b !~ /^[0-9]+$/ || a + 0 < 1 || b + 0 > nl || a + 0 > b + 0) exit 1
        for (i = a + 0; i <= b + 0; i++) { print L[i]; print rest(L[i], 4) > kept }
        if (a + 0 <= last) unordered = 1
        else for (i = last + 1; i < a + 0; i++) { print L[i] > xp; nx++ }
        last = b + 0
        next
      }
      { print; print > sp; ns++ }
      END {
        if (unordered) print "@@no" > xp
        else for (i = last + 1; i <= nl; i++) { print L[i] > xp; nx++ }
        # End marks with the counts: busybox awk does not fail on a write error (a full disk), and
        # the check in step must not take a list cut short for a whole one.
        print "@@end " (ns + 0) > sp; print "@@end " (nx + 0) > xp
      }' > "$m/.in.$1" 2>/dev/null; then
    ff_fail fast-mismatch "the fast path's manifest of $1 could not be rebuilt on the server; nothing was published"
  fi
  # (Where the server cannot sha256, prepare sent whole hashes: the client compared them itself.)
  ff_sum=''
  if sh_d=$(sha256_of "$m/.in.$1" 2>/dev/null) && [ -n "$sh_d" ]; then
    [ "sha256:$sh_d" = "$DIGEST" ] ||
      ff_fail fast-mismatch "the manifest rebuilt on the server is not the build's (digest differs): nothing was published; deploy again, or set RAD_FAST_PATH=0 to take the checksum path"
    ff_sum=1
  elif [ "$cut" != 64 ]; then
    ff_fail fast-mismatch "the server could sha256 at prepare but not now: the rebuilt manifest cannot be checked; nothing was published"
  fi
  # Beside the check below, on the other core: the offer the next prepare sends when it finds this
  # release as recorded (manifest_publish keeps it), which spares that prepare its longest step.
  # Only where prepare's offer was big (z or k in $w.src: a small one is quick to describe), and not
  # where shared paths or kept assets are linked into the release after its record is taken (the
  # next walk is never the record: the kept offer would never go).
  FF_OFC=''
  if [ -n "$ff_sum" ] && { [ "$zo" = z ] || [ "$zo" = k ]; } && [ -z "\${SHARED:-}" ] && [ -z "\${KEEP_PATHS:-}" ] && can_zip; then
    offer_keep "$m/.in.$1" "$FF_OFW" "sha256:$sh_d" &
    FF_OFC=$!
  fi
  wait "$walk" || fail fast-mismatch "cannot read the upload $up back"
  # The upload walks as prepare's walk of the live release did, but for what the build changed
  # (AWK_STEP): checked and recorded without the arrays of the check entry by entry below, which,
  # on any doubt, decides, and says why when it refuses.
  if [ -f "$w.all" ] &&
    LC_ALL=C awk -v root="$ROOT_MODE" -v rec="$m/.fstat.$1" -v now="$w.now" -v spf="$w.sp" -v xpf="$w.xp" -v del="$w.del" \
      "$AWK_FNS$AWK_STEP" "$w.pub" > "$w.out" 2>/dev/null; then
    :
  # The walk against the new manifest: what is not in it goes (the topmost such path, whole), the
  # rest is checked against it and recorded.
  elif ! LC_ALL=C awk -v root="$ROOT_MODE" -v rec="$m/.fstat.$1" -v keptf="$w.kept" -v del="$w.del" "$AWK_FNS"'
      # FS "[ ]": a field per single space, so a path without a space is the last field, one with
      # spaces the rest of the line (no regex match a line: mawk took four times as long).
      BEGIN { FS = "[ ]"; while ((getline l < keptf) > 0) K[l] = 1; print "rad-stat 1" > rec; printf "" > del }
      FILENAME == ARGV[1] {
        if (FNR == 1) next
        p = NF == 5 ? $5 : rest($0, 4); MT[p] = $1 " " oct($2) " " $3; nm++; next
      }
      FILENAME == ARGV[2] {
        if ($0 == "@@end") { nowend = 1; next }
        p = substr(NF == 6 ? $6 : rest($0, 5), 3); if (index(p, "\\")) p = esc(p)
        WK[p] = $1 == "f" ? $2 " " $3 " " $4 : $3; next
      }
      $0 == "@@end" { ended = 1; next }
      { ended = 0; if (!nowend) { why = "the listing of the live release that prepare made is not whole"; exit 1 } }
      {
        if ($0 !~ /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ /) { why = "unreadable line"; exit 1 }
        h = $1 " " $2 " " $3 " " $4 " " $5 " "; raw = NF == 7 ? $7 : rest($0, 6)
        if (raw == ".") {
          if (oct($5) != oct(root)) { why = "the mode of the release root"; exit 1 }
          print h "." > rec; kb += $6; next
        }
        if (substr(raw, 1, 2) != "./") { why = "unreadable line"; exit 1 }
        p = substr(raw, 3); if (index(p, "\\")) p = esc(p)
        # What the manifest wants of the path ("" for none: it goes), then "-" (seen: a path the
        # walk gave twice fails the check below).
        want = MT[p]
        if (want == "") { if (!(parent(p) in gone)) { print unesc(p) > del; ndel++ } gone[p] = 1; next }
        print h raw > rec
        MT[p] = "-"; matched++; t = $1
        if (t == "l") { if (substr(want, 1, 1) != "l") { why = "another type: " p; exit 1 } }
        else if (want != t " " oct($5) " " (t == "f" ? $3 : "-")) { why = "another type, mode or size: " p; exit 1 }
        if (t == "d") { kb += $6; next }
        if (p in K) {
          # A copied symlink may be a new inode (busybox cp): its size (the length of the target) then.
          if (!(p in WK) || WK[p] != (t == "f" ? $2 " " $3 " " $4 : $3)) { why = "changed on the server while this deploy ran: " p; exit 1 }
          if (t == "f") linked++
          next
        }
        # Sent: checked at the end against every inode of the live release (few, so no array of those).
        if (t == "f") { SENT[$2] = p; nsent++ }
        kb += $6
      }
      END {
        if (why == "" && !ended) why = "cannot read the upload back"
        if (why == "" && !nowend) why = "the listing of the live release that prepare made is not whole"
        if (why == "" && nsent) for (q in WK) if (split(WK[q], a, " ") == 3 && (a[1] in SENT)) { why = "not sent again: " SENT[a[1]]; break }
        if (why != "") { print "@@rad fast-why " why; exit 1 }
        if (matched != nm) { for (p in MT) if (MT[p] != "-" && MT[p] != "") { print "@@rad fast-why missing: " p; exit 1 } }
        printf "@@rad linked %d\n@@rad disk-kb %d\n@@rad del-lines %d\n", linked, int((kb + 1) / 2), ndel
      }' "$m/.in.$1" "$w.now" "$w.pub" > "$w.out" 2>/dev/null; then
    why=''
    { IFS= read -r why || :; } < "$w.out" 2>/dev/null
    case "$why" in '@@rad fast-why '*) why=\${why#@@rad fast-why } ;; *) why='' ;; esac
    rm -f -- "$m/.fstat.$1" "$w.out" "$w.del" "$w.pub" "$w.sp" "$w.xp"
    ff_kept_bad
    fail fast-mismatch "the upload does not match its manifest (\${why:-unknown}): nothing was published; deploy again, or set RAD_FAST_PATH=0 to take the checksum path"
  fi
  # The check's lines (linked, disk-kb, del-lines), read by sh (no cat): what it counted of the
  # list of what goes is checked against the list (busybox awk exits 0 when a write fails: a list
  # cut short would leave in the release what the build removed).
  dl='' ff_out=''
  while IFS= read -r l; do
    case "$l" in '@@rad del-lines '*) dl=\${l#@@rad del-lines } ;; *) ff_out="$ff_out$l$NL" ;; esac
  done < "$w.out"
  case "$dl" in '' | *[!0-9]*) rm -f -- "$m/.fstat.$1" "$w.out" "$w.del" "$w.pub"; fail fast-mismatch "the check's result on the server is not whole (a full disk?): nothing was published" ;; esac
  # What the copy kept from the live release that the new release does not have.
  if [ "$dl" != 0 ]; then
    dn=$(wc -l < "$w.del" 2>/dev/null) || dn=''
    [ "$((\${dn:-0} + 0))" -eq "$dl" ] || {
      rm -f -- "$m/.fstat.$1" "$w.out" "$w.del" "$w.pub"
      fail fast-mismatch "the list of what the new release does not have was cut short on the server (a full disk?): nothing was published"
    }
    fence
    (cd -- "$up" && tr '\n' '\000' < "$w.del" | xargs -0 rm -rf -- 2>/dev/null) ||
      fail fast-mismatch "cannot delete what the new release does not have from $up"
  fi
  if [ -n "$FF_OFC" ]; then wait "$FF_OFC" || rm -f -- "$FF_OFW"; FF_OFC=''; fi
  printf '%s' "$ff_out"
  rm -f -- "$w.now" "$w.rm" "$w.del" "$w.pub" "$w.kept" "$w.out" "$w.src" "$w.offer" "$w.all" "$w.sp" "$w.xp"
}
`;

// EXTERNAL MODULE: ./src/reply.ts
var reply = __nccwpck_require__(279);
;// CONCATENATED MODULE: ./src/remote.ts



/**
 * The server side. Every script here is constant text run by `sh -s` (the remote command never
 * changes, whatever the user's login shell); values arrive as quoted assignments in front of it.
 * Scripts talk back with lines starting `@@rad `, so a chatty shell startup file cannot confuse us.
 */
/** Every script's library: the shared functions and the manifest's (the gate carries the same). */
const SERVER_LIB = `${remote_lib/* LIB */.O}\n${MANIFEST_LIB}`;
const MARK = '@@rad';
const PREPARE = (0,remote_lib.sh) `
OFFERED=0
command -v rsync >/dev/null 2>&1 || fail rsync-missing "rsync is not installed on the server (or not in PATH for this user)"
caps_load
need_swap
if [ ! -d "$T" ]; then
  mkdir -p -- "$T" 2>/dev/null || fail target-unwritable "cannot create $T"
fi
[ -w "$T" ] || fail target-unwritable "$T is not writable by $(id -un)"
contained
if [ -e "$T/$LINK" ] && [ ! -L "$T/$LINK" ]; then
  fail link-not-symlink "$T/$LINK is a real directory or file, not a symlink"
fi
{ [ -d "$T/releases" ] && [ -d "$D/incoming" ]; } || mkdir -p -- "$T/releases" "$D/incoming" 2>/dev/null ||
  fail target-unwritable "cannot create $T/releases and $D"
lock_take
[ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
LIVE=$(live_id) LIVE_READ=1
live=$LIVE
# Uploads left in incoming/ (the newest three), when there is any: usually none.
left=''
for e in "$D/incoming"/*; do
  [ "\${e##*/}" = "$INCOMING" ] && continue
  { [ -e "$e" ] || [ -L "$e" ]; } && left=1 && break
done
if [ -n "$STAGED" ] && [ ! -d "$D/incoming/$STAGED" ]; then
  fail not-uploaded "release $ID was not uploaded to this host (no $D/incoming/$STAGED)"
fi
if [ -n "$INCOMING" ]; then
  fence
  # A shared path not yet in shared/ is seeded from this upload, which the manifest leaves out:
  # only the checksum path uploads it.
  if [ -n "$SHARED" ] && [ -n "$(printf '%s\n' "$SHARED" | while IFS= read -r p; do [ -n "$p" ] && [ ! -e "$T/shared/$p" ] && [ ! -L "$T/shared/$p" ] && echo x; done)" ]; then
    FAST=0
  fi
  # An upload that failed since the live release went live: the checksum path reuses its files
  # (a second --link-dest), which the fast path cannot.
  # (Only when incoming/ holds an upload, as above: find, whose -newer sees sub-second mtimes.)
  if [ "$FAST" = 1 ] && [ -n "$live" ] && [ -d "$T/releases/$live" ] && [ -n "$left" ] &&
    [ -n "$(find "$D/incoming" -mindepth 1 -maxdepth 1 -type d ! -name .rsync-partial ! -name "$INCOMING" -newer "$T/releases/$live" 2>/dev/null | head -n 1)" ]; then
    say fast resume
    FAST=0
  fi
  # The fast path's copy and walk of the live release begin now, once the path is decided, and the
  # rest of prepare runs beside them (they are its longest part).
  [ "$FAST" = 1 ] && fast_start "$live"
  # The client may start the upload's rsync now (told how many entries the live release has).
  [ -n "$FS_COPY" ] && say copying "$(wc -l < "$D/manifests/$live" 2>/dev/null)"
  # A kept offer goes at once, before the walk (the client plans from it while the copy runs).
  [ -n "$FS_COPY" ] && fast_early "$live"
  # The offer goes as soon as the walk has checked it (the client plans from it, and its rsync
  # starts once the copy is whole); the rest of prepare runs beside the copy.
  [ "$FAST" = 1 ] && fast_send "$live" && OFFERED=1
fi
report_state
fs_split "$live"
if [ -n "$left" ]; then
  ls -1t "$D/incoming" 2>/dev/null | { i=0; while [ "$i" -lt 3 ] && IFS= read -r l; do [ "$l" = "$INCOMING" ] && continue; say leftover "$l"; i=$((i + 1)); done; }
fi
if [ -n "$INCOMING" ]; then
  if [ "$OFFERED" != 1 ] || ! fast_link; then
    fast_stop
    mkdir -- "$D/incoming/$INCOMING" || fail target-unwritable "cannot create $D/incoming/$INCOMING"
  fi
fi
# The login shell (sshd sets SHELL): a hint about its startup files names the right file and syntax.
say shell "\${SHELL:-}"
if [ -n "$SHARED" ]; then
  printf '%s\n' "$SHARED" | while IFS= read -r p; do [ -e "$T/shared/$p" ] && say shared-exists "$p"; done
fi
caps_save
say ok
`;
const PUBLISH_AND_SWITCH = (0,remote_lib.sh) `
caps_load
lock_check
contained
[ -d "$D/incoming/$INCOMING" ] || fail upload-missing "the upload $D/incoming/$INCOMING is gone"
[ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
# The fast path's upload is checked against its manifest (and gives its counts); the checksum
# path's manifest comes now.
if [ "$FAST" = 1 ]; then fast_finish "$INCOMING" "$PREV"; else manifest_receive "$INCOMING"; fi
# From here on the release is complete and visible in releases/, but not yet served.
fence
swap "$D/incoming/$INCOMING" "$T/releases/$ID" || fail publish-failed "cannot rename the upload into $T/releases/$ID"
unpublish() { lock_mine && swap "$T/releases/$ID" "$D/incoming/$INCOMING" 2>/dev/null && manifest_rename "$ID" ".in.$INCOMING" && rm -f -- "$D/manifests/$ID.stat" "$D/manifests/$ID.offer"; }
# Before shared paths and the hook: the record is of the release as uploaded.
manifest_publish "$INCOMING" "$ID"
bad=$(shared_symlink)
if [ -n "$bad" ]; then
  unpublish
  fail unsafe-path "the build has a symlink where a shared path goes ($bad): linking shared/ there would work outside the release; nothing was switched. Remove that symlink from the build"
fi
fence
link_shared || { unpublish; fail shared-failed "cannot link the shared paths into $T/releases/$ID"; }
if [ -n "$BEFORE_SWITCH" ]; then
  run_hook before-switch "$BEFORE_SWITCH" "$T/releases/$ID"
  if [ "$HOOK_RC" != 0 ]; then
    unpublish
    fail hook-failed "before-switch exited with status $HOOK_RC; nothing was switched"
  fi
fi
# Counted now, while $PREV is surely there (a prune after the switch may delete it); the fast
# path counted at its finish.
[ "$FAST" = 1 ] || count_linked "$T/releases/$ID" "\${PREV:+$T/releases/$PREV}"
# After the count: kept old assets are neither sent nor linked by the upload.
keep_assets "$T/releases/$ID"
if [ "$SWITCH" = 1 ]; then
  go_live
else
  say published "$ID"
fi
caps_save
[ "$KEEP_LOCK" = 1 ] || lock_release
say ok
`;
// command: upload: the finished upload waits, complete, for command: activate.
const STAGE = (0,remote_lib.sh) `
caps_load
lock_check
contained
[ -e "$D/incoming/$STAGED" ] && fail release-exists "release $ID was already uploaded to this host"
if [ "$FAST" = 1 ]; then fast_finish "$INCOMING" "$PREV"; else manifest_receive "$INCOMING"; fi
fence
swap "$D/incoming/$INCOMING" "$D/incoming/$STAGED" || fail publish-failed "cannot rename the upload to $D/incoming/$STAGED"
manifest_rename ".in.$INCOMING" ".in.$STAGED"
# activate walks the release for its trust record when it publishes it.
rm -f -- "$D/manifests/.fstat.$INCOMING" "$D/manifests/.w.$INCOMING.ofc"
[ "$FAST" = 1 ] || count_linked "$D/incoming/$STAGED" "\${PREV:+$T/releases/$PREV}"
lock_release
say ok
`;
// The fast path's copy of the live release cannot be used after all (the build has no manifest):
// an empty upload dir instead, for the checksum path.
const RESET_UPLOAD = (0,remote_lib.sh) `
lock_check
contained
fence
rm -rf -- "$D/incoming/$INCOMING"
manifest_discard "$INCOMING"
mkdir -- "$D/incoming/$INCOMING" || fail target-unwritable "cannot create $D/incoming/$INCOMING"
say ok
`;
// A dry run's keep-assets: what keep_assets would link, read only (no lock, no fence, no write),
// one "keep-candidate ./path" a file; the client leaves out what its build has.
const KEEP_PLAN = (0,remote_lib.sh) `
if [ -d "$T/releases" ] && [ -n "$KEEP_PATHS" ] && [ -n "$KEEP_FROM" ]; then
  contained "$T/releases" "$D/kept"
  keep_plan '' | while IFS= read -r line; do say keep-candidate "\${line#* }"; done
fi
say ok
`;
const AFTER_SWITCH = (0,remote_lib.sh) `
lock_check
run_hook after-switch "$AFTER_SWITCH" "$T/releases/$ID"
# On failure the lock stays ours: the caller switches back (or releases it) next.
[ "$HOOK_RC" = 0 ] || { LOCKED=0; fail hook-failed "after-switch exited with status $HOOK_RC"; }
say ok
`;
const PRUNE = (0,remote_lib.sh) `
lock_check
contained
prune_releases
lock_release
say ok
`;
const SWITCH_TO = (0,remote_lib.sh) `
caps_load
if [ "$TAKE" = 1 ]; then contained; need_swap; lock_take; else lock_check; contained; need_swap; fi
release_dir_ok "$ID"
[ -d "$T/releases/$ID" ] || fail release-missing "release $ID is not in $T/releases"
go_live
[ "$KEEP_LOCK" = 1 ] || lock_release
say ok
`;
const INSPECT = (0,remote_lib.sh) `
if [ "$CHECK_DEPLOY" = 1 ]; then
  # a dry run: every check a deploy makes, without writing anything
  command -v rsync >/dev/null 2>&1 || fail rsync-missing "rsync is not installed on the server (or not in PATH for this user)"
  need_swap
  p="$T"
  while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done
  [ -w "$p" ] || fail target-unwritable "$p is not writable by $(id -un)"
  if [ -e "$T/$LINK" ] && [ ! -L "$T/$LINK" ]; then
    fail link-not-symlink "$T/$LINK is a real directory or file, not a symlink"
  fi
  [ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
  [ -d "$D/lock" ] && say locked-by "$(lock_owner)"
  [ -d "$T/releases" ] && fs_split "$(live_id)"
  [ "\${FAST:-0}" = 1 ] && [ -d "$T/releases" ] && [ ! -L "$T/releases" ] && fast_peek "$(live_id)"
else
  [ -d "$T" ] || fail no-target "$T does not exist: nothing was deployed there yet"
fi
[ -d "$T" ] && contained
if [ "$TAKE_LOCK" = 1 ]; then
  # A rollback switches: know that we can before taking the lock.
  [ "\${NEED_SWAP:-0}" = 1 ] && need_swap
  mkdir -p -- "$D" 2>/dev/null || fail target-unwritable "cannot create $D"
  lock_take
fi
report_state
say ok
`;
const RELEASE_LOCK = (0,remote_lib.sh) `
[ -d "$T" ] && contained "$D" "$D/lock" "$D/incoming"
if [ "$FORCE" = 1 ]; then
  if [ -d "$D/lock" ]; then
    o=$(lock_owner)
    rm -rf -- "$D/lock" 2>/dev/null
    if [ -e "$D/lock" ]; then fail unlock-failed "cannot remove $D/lock (held by $o) as $(id -un)"; fi
    say unlocked "$o"
  else
    say not-locked
    # The truth about why deploys fail here, when it is not a lock.
    if [ -d "$D" ] && [ ! -w "$D" ]; then
      warn "$D belongs to $(ls -ld -- "$D" | awk '{ print $3 }') and $(id -un) cannot write there: deploys cannot take the lock. On the server, as root: chown -R $(id -un):$(id -gn) $(shq "$T")"
    fi
  fi
else
  # A process of ours still at work (a call the client gave up on) stops before anything goes.
  lock_mine && kill_run
  # Our own upload (its name holds our token): no other run uses it, lock or not.
  # A discarded upload takes the partly sent files (rsync --partial-dir) with it: on a full disk
  # they hold the space.
  [ -n "$DISCARD" ] && rm -rf -- "$D/incoming/$DISCARD"
  [ -n "$DISCARD" ] && manifest_discard "$DISCARD"
  # The partial dir is shared by every run's resume: only the lock's holder may empty it.
  [ -n "$DISCARD" ] && lock_mine && rm -rf -- "$D/incoming/.rsync-partial"
  # A fleet whose other hosts failed before the switch: our published, never-live release goes.
  if [ -n "$UNPUBLISH" ] && lock_mine && [ ! -L "$T/releases" ] && [ -d "$T/releases/$UNPUBLISH" ] && [ "$(live_id)" != "$UNPUBLISH" ]; then
    rm -rf -- "$T/releases/$UNPUBLISH" && kept_forget "$UNPUBLISH"
    manifest_drop "$UNPUBLISH"
  fi
  lock_release
fi
say ok
`;
// After the client gave up on a call (timeout, cancel) or lost its connection in the middle of one:
// stop what of this run still runs there, then say what the server serves. A release of ours that
// went live has its log line (the history must say so); one published but never served goes back
// to incoming/ (a re-run resumes from it). The lock is released unless our release is live and
// the caller goes on (KEEP_LOCK: after-switch, the health check).
const RECOVER = (0,remote_lib.sh) `
if lock_mine; then
  kill_run
  live=$(live_id)
  if [ -n "$ID" ] && [ "$live" = "$ID" ]; then
    say switched "$ID"
    kept_recorded "$ID"
    if [ -n "$LOGLINE" ] && ! grep -qxF -- "$LOGLINE" "$D/log" 2>/dev/null; then
      fence
      log_append "$LOGLINE"
      say logged
    fi
  elif [ -n "$ID" ] && [ -n "$INCOMING" ] && [ -d "$T/releases/$ID" ] && [ ! -e "$D/incoming/$INCOMING" ]; then
    # Ours: prepare refused an id that existed, and the lock has been ours since.
    fence
    swap "$T/releases/$ID" "$D/incoming/$INCOMING" && say unpublished "$ID" && kept_forget "$ID" && manifest_rename "$ID" ".in.$INCOMING" && manifest_drop "$ID"
  fi
  # lock_release says "lock released" itself.
  if [ "$KEEP_LOCK" = 1 ] && [ -n "$ID" ] && [ "$live" = "$ID" ]; then say lock kept
  else lock_release
  fi
else
  say lock not-ours "$(lock_owner)"
fi
say live "$(live_id)"
say ok
`;
// command: doctor. Reads, never writes: no mkdir, no lock, no fence (it changes nothing to fence).
// Each fact is one line; src/doctor.ts turns them into checks. Paths are the client's to name (it
// knows T): a line carries only a fixed name and fields without spaces.
const DOCTOR = (0,remote_lib.sh) `
say user "$(id -un 2>/dev/null)" "$(id -gn 2>/dev/null)"
say shell "\${SHELL:-}"
if command -v rsync >/dev/null 2>&1; then say rsync-version "$(rsync --version 2>/dev/null | head -n 1)"; else say rsync-missing; fi
# Found out now, never read from $D/caps: doctor says what the server can do today.
MVKIND=$(mv_kind)
say mv-kind "$MVKIND"
# kind owner writable device of each part of the deploy root that exists
part() {
  if [ -L "$2" ]; then k=symlink
  elif [ -d "$2" ]; then k=dir
  elif [ -e "$2" ]; then k=file
  else say part "$1" missing; return 0
  fi
  o=$(ls -ld -- "$2" 2>/dev/null | awk '{ print $3 }')
  if [ -w "$2" ]; then w=1; else w=0; fi
  say part "$1" "$k" "\${o:-?}" "$w" "$(dev_of "$2")"
}
# "$T/." follows a target that is a symlink to a directory (a deploy works through it).
part target "$T/."
part releases "$T/releases"
part deploy "$D"
part incoming "$D/incoming"
part lock "$D/lock"
part link "$T/$LINK"
[ -L "$T/$LINK" ] && say link-to "$(readlink "$T/$LINK")"
# The deepest directory that exists: where the first deploy creates the target.
p="$T"
while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname -- "$p"); done
part nearest "$p/."
[ "$p" = "$T" ] || say nearest-path "$p"
# free KiB, then total and free inodes (a filesystem without an inode table, btrfs, says 0 0)
say df "$(df -Pk "$p" 2>/dev/null | awk 'NR == 2 { print $4 }')" "$(df -Pi "$p" 2>/dev/null | awk 'NR == 2 { print $2, $4 }')"
if [ -d "$D/lock" ] && [ ! -L "$D/lock" ]; then
  say lock-owner "$(lock_owner | tr '\n' ' ')"
  if lock_is_stale; then say lock-stale "$STALE_WHY"; else say lock-held; fi
fi
say ok
`;
// command: verify. Reads, never writes: no lock, no fence, no mkdir (nothing to fence). Sends the
// release's recorded manifest, its kept-assets record, its tree (type, mode, size, path), its
// symlinks' targets and the sha256 of each regular file, each as hex (od) under its own key: names may hold
// any byte but NUL, so the data travels as bytes, never as text a reply line could misread.
const VERIFY = (0,remote_lib.sh) `
[ -d "$T" ] || fail no-target "$T does not exist: nothing was deployed there yet"
contained "$D" "$D/log" "$T/releases" "$D/manifests" "$D/kept"
command -v od >/dev/null 2>&1 || fail verify-tools "the server has no od (POSIX; GNU coreutils or busybox): cannot send what it reads"
if command -v sha256sum >/dev/null 2>&1; then H=sha256sum
elif command -v shasum >/dev/null 2>&1; then H='shasum -a 256'
else fail verify-tools "the server has neither sha256sum (GNU coreutils, busybox) nor shasum (perl): cannot hash the release"
fi
report_state
R=$ID
[ -n "$R" ] || R=$(live_id)
[ -n "$R" ] || fail nothing-live "nothing is live in $T ($T/$LINK is not a link into releases/), and no release was named"
release_dir_ok "$R"
[ -d "$T/releases/$R" ] || fail release-missing "release $R is not in $T/releases"
say verifying "$R"
# "KEY HEX…" reply lines of 2048 bytes each, for the bytes on stdin.
hexout() {
  od -An -v -tx1 | awk -v k="$1" '
    { gsub(/[^0-9a-f]/, ""); b = b $0; n++ }
    n == 128 { print "@@rad " k " " b; b = ""; n = 0 }
    END { if (b != "") print "@@rad " k " " b; print "@@rad " k "-end" }'
}
# A record at most VERIFY_MAX bytes, a real file (a link there could read outside TARGET).
record() {
  if [ -f "$2" ] && [ ! -L "$2" ]; then
    n=$(($(wc -c < "$2") + 0))
    [ "$n" -le "$VERIFY_MAX" ] || fail verify-too-large "$2 is $n bytes, more than $VERIFY_MAX"
    hexout "$1" < "$2"
  else
    say "no-$1"
  fi
}
record manifest "$D/manifests/$R"
record kept "$D/kept/$R"
cd -- "$T/releases/$R" || fail release-missing "cannot enter $T/releases/$R as $(id -un)"
n=$(find . | wc -l)
[ "$n" -le "$VERIFY_MAX_ENTRIES" ] || fail verify-too-large "release $R has $n entries, more than $VERIFY_MAX_ENTRIES"
# Each entry as one NUL-terminated record "<how><mode> <size> ./<path>": GNU find -printf (g: type
# letter, octal permissions), else stat in batches: busybox/GNU stat -c (x: raw mode in hex), BSD
# stat -f (o: raw mode in octal); a name with a newline (stat ends its lines there) one at a time.
# Then each symlink as two: its path and its target.
if find . -maxdepth 0 -printf '' >/dev/null 2>&1; then
  find . -mindepth 1 -printf 'g%y %m %s %p\0' | hexout tree
  find . -type l -printf '%p\0%l\0' | hexout links
else
  if stat -c %f . >/dev/null 2>&1; then sf=-c sfmt='x%f %s'; sn='%n'; else sf=-f sfmt='o%p %z'; sn='%N'; fi
  {
    find . -mindepth 1 ! -path "*$NL*" -exec stat "$sf" "$sfmt $sn" {} + | tr '\n' '\000'
    find . -mindepth 1 -path "*$NL*" -exec sh -c '
      sf=$1 fmt=$2; shift 2
      for f; do m=$(stat "$sf" "$fmt" "$f") && printf "%s %s\0" "$m" "$f"; done' sh "$sf" "$sfmt" {} +
  } | hexout tree
  find . -type l -exec sh -c '
    for f; do t=$(readlink "$f"; printf x); t=\${t%x}; printf "%s\0%s\0" "$f" "\${t%?}"; done' sh {} + | hexout links
fi
# "<sha256>  ./<path>" of each regular file, NUL-terminated. Names without a newline, CR or
# backslash in one batch (no hasher escapes or splits those); the others one by one from stdin.
{
  find . -type f ! -path "*$NL*" ! -path "*$CR*" ! -path '*\\*' -exec $H {} + | tr '\n' '\000'
  find . -type f \( -path "*$NL*" -o -path "*$CR*" -o -path '*\\*' \) -exec sh -c '
    h=$1; shift
    for f; do s=$($h < "$f") && printf "%s  %s\0" "\${s%% *}" "$f"; done' sh "$H" {} +
} | hexout sums
say ok
`;
const VAR_RULES = {
    T: 'target',
    LINK: 'link',
    TOKEN: 'token',
    LEFT: 'uint',
    LOCK_WAIT: 'uint',
    LOCK_TTL: 'uint',
    LOCK_OWNER: 'json',
    ID: 'name',
    PREV: 'name',
    INCOMING: 'name',
    STAGED: 'name',
    DISCARD: 'name',
    UNPUBLISH: 'name',
    PRUNE: 'names',
    SHARED: 'shared',
    LOGLINE: 'text',
    MEASURE: 'flag',
    SWITCH: 'flag',
    KEEP_LOCK: 'flag',
    TAKE: 'flag',
    TAKE_LOCK: 'flag',
    NEED_SWAP: 'flag',
    CHECK_DEPLOY: 'flag',
    FORCE: 'flag',
    BEFORE_SWITCH: 'hook',
    AFTER_SWITCH: 'hook',
    KEEP_PATHS: 'patterns',
    KEEP_FROM: 'names',
    MANIFEST: 'manifest',
    DIGEST: 'digest',
    FAST: 'flag',
    ROOT_MODE: 'mode',
    VERIFY_MAX: 'uint',
    VERIFY_MAX_ENTRIES: 'uint',
};
/** Whether a call of this script may take the lock (so the lock may be ours if it is cut short). */
function mayTakeLock(name, vars) {
    const v = vars;
    return (name === 'prepare' || (name === 'switchTo' && v.TAKE === 1) || (name === 'inspect' && v.TAKE_LOCK === 1));
}
const SCRIPTS = {
    prepare: PREPARE,
    publishAndSwitch: PUBLISH_AND_SWITCH,
    afterSwitch: AFTER_SWITCH,
    stage: STAGE,
    resetUpload: RESET_UPLOAD,
    switchTo: SWITCH_TO,
    inspect: INSPECT,
    releaseLock: RELEASE_LOCK,
    prune: PRUNE,
    recover: RECOVER,
    doctor: DOCTOR,
    keepPlan: KEEP_PLAN,
    verify: VERIFY,
};
/**
 * The exact text sent to `sh -s`: the values (quote.ts wireAssignments), the shared library, the
 * constant script as a function, called on the last line. sh has read every byte of the script by
 * then, so the watchdog may take over stdin (fd 9); everything else, hooks included, reads
 * /dev/null. A gated key's forced command (gate.ts) reads the values, checks each, skips the rest
 * up to the RUN line and runs its own copy of the same script.
 */
function renderScript(name, vars) {
    return `${(0,quote/* wireAssignments */.eD)(vars)}\n${WIRE_LIB}\nrad_main() {\n${wireScript(name)}\n}\n${RUN}\n`;
}
/**
 * The constant text as it travels: without its comment lines, a third of its bytes (each is a
 * round trip's worth on a slow link). Only constant text: a value (wireAssignments) is never
 * touched. A comment line inside a quoted string is one of an awk program (remote.test.ts checks).
 */
function wireText(text) {
    return text
        .split('\n')
        .filter((l) => !/^\s*#/.test(l))
        .join('\n');
}
const WIRE_LIB = wireText(SERVER_LIB);
const wired = new Map();
function wireScript(name) {
    let text = wired.get(name);
    if (text === undefined) {
        text = wireText(SCRIPTS[name]);
        wired.set(name, text);
    }
    return text;
}
/** The line a session opened ahead prints first: sh runs there (its channel was not refused). */
const AHEAD_OPEN = `${MARK} ahead`;
/**
 * A session opened ahead of its call (session.ts openAhead) is sent this at once: a first line
 * (AHEAD_OPEN), then the library and the script as functions, which sh reads and defines while
 * nothing runs. The call then sends only renderCall: the values, the library's start (rad_lib: its
 * top level, in the order renderScript has it), and the RUN line. sh given nothing more (the call
 * never comes) reads its end and exits.
 */
function renderAhead(name) {
    return `echo '${AHEAD_OPEN}'\nrad_lib() {\n${WIRE_LIB}\n}\nrad_main() {\n${wireScript(name)}\n}\n`;
}
/** A session opened ahead's stdout without its first line (AHEAD_OPEN), wherever a login shell's text left it. */
function withoutAheadLine(stdout) {
    return stdout.replace(AHEAD_LINE, '$1');
}
const AHEAD_LINE = new RegExp(`(^|\n)${AHEAD_OPEN}\n`);
/** The rest of a script whose session was opened ahead (renderAhead). */
function renderCall(vars) {
    return `${(0,quote/* wireAssignments */.eD)(vars)}\nrad_lib\n${RUN}\n`;
}
/** The last line of every script: the gate skips what the client sent up to this exact line. */
const RUN = 'exec 9<&0 </dev/null; watch_client; rad_main; exit $?';
/** The version of what a client sends (the remote command, the values' form) that a gate checks. */
const GATE_PROTOCOL = 1;
/**
 * The remote command of a script: `sh -s` with harmless positional arguments that tell a gate
 * which script this is and in which protocol (plain sh ignores them).
 */
function remoteCommand(name) {
    return `sh -s rad ${GATE_PROTOCOL} ${name}`;
}



/***/ }),

/***/ 279:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   $1: () => (/* binding */ first),
/* harmony export */   Q7: () => (/* binding */ all),
/* harmony export */   UV: () => (/* binding */ parseReply)
/* harmony export */ });
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(873);
/**
 * A remote script's reply, read (see remote.ts for the scripts): pure, and small, so what only
 * reads replies does not load the scripts' text.
 */

/** A reply line is cut here (a log line is at most LOG_MAX = 16384 characters, plus its prefix). */
const REPLY_LINE_MAX = 20_000;
/**
 * Reads a script's stdout. Every line is untrusted text (the values carry the server's data), so
 * each is escaped here, once, for all later uses: no control character survives, no value is longer
 * than a bound. The scripts never put data at the start of a line (remote `reply` encodes newlines).
 */
function parseReply(stdout) {
    const reply = { values: new Map(), warnings: [], error: undefined, other: [], ok: false };
    for (const raw of stdout.split('\n')) {
        const line = (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .untrusted */ .bp)(raw, REPLY_LINE_MAX);
        if (line.startsWith('@@rad-error ')) {
            const rest = line.slice('@@rad-error '.length);
            const sp = rest.indexOf(' ');
            reply.error = { code: sp < 0 ? rest : rest.slice(0, sp), message: sp < 0 ? '' : rest.slice(sp + 1) };
        }
        else if (line.startsWith('@@rad-warning ')) {
            reply.warnings.push(line.slice('@@rad-warning '.length));
        }
        else if (line.startsWith('@@rad ')) {
            const rest = line.slice('@@rad '.length);
            const sp = rest.indexOf(' ');
            const key = sp < 0 ? rest : rest.slice(0, sp);
            const value = sp < 0 ? '' : rest.slice(sp + 1);
            if (key === 'ok')
                reply.ok = true;
            const list = reply.values.get(key) ?? [];
            list.push(value);
            reply.values.set(key, list);
        }
        else if (line !== '') {
            reply.other.push(line);
        }
    }
    return reply;
}
function first(reply, key) {
    return reply.values.get(key)?.[0] ?? '';
}
function all(reply, key) {
    return reply.values.get(key) ?? [];
}


/***/ }),

/***/ 5:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Ar: () => (/* binding */ findSsh),
/* harmony export */   J4: () => (/* binding */ platformProblem),
/* harmony export */   L: () => (/* binding */ onPath),
/* harmony export */   PC: () => (/* binding */ parseRsyncVersion),
/* harmony export */   Zz: () => (/* binding */ findRsync)
/* harmony export */ });
/* unused harmony exports MIN_RSYNC, MAC_RSYNC_CANDIDATES, rsyncProblem, noRsyncError, rsyncCandidates */
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(24);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(916);
/* harmony import */ var _proc_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(684);




/**
 * What the machine running the deploy (the runner, or a laptop) must have, checked before anything
 * connects: not Windows, and a real rsync of at least MIN_RSYNC.
 *
 * Why 3.1.0: the transfer statistics are parsed from `--stats` as rsync 3.1 prints them
 * ("Number of files: N (reg: …)", "Number of regular files transferred"), and the terminal progress
 * line uses `--info=progress2`; both are 3.1.0. `--protect-args`, `--chmod`, `--link-dest` and
 * `--no-inc-recursive` are older. openrsync (macOS 15.4 and later ship it as /usr/bin/rsync) speaks
 * protocol 29 and lacks `--info`, `--protect-args` and `--no-inc-recursive`; the rsync 2.6.9 of
 * older macOS is too old as well.
 */
const MIN_RSYNC = [3, 1, 0];
/** Where a real rsync lives on macOS when the one on PATH is not: Homebrew (Apple silicon, Intel). */
const MAC_RSYNC_CANDIDATES = ['/opt/homebrew/bin/rsync', '/usr/local/bin/rsync'];
/**
 * Reads `rsync --version` output. Samba rsync: "rsync  version 3.2.7  protocol version 31".
 * openrsync: "openrsync: protocol version 29"; macOS adds a line "rsync version 2.6.9 compatible",
 * which must not be taken for a real rsync 2.6.9 (nor any other "compatible" claim).
 */
function parseRsyncVersion(text) {
    const open = /^openrsync:?\s.*?protocol version (\d+)/im.exec(text);
    if (open)
        return { kind: 'openrsync', protocol: Number(open[1]) };
    const m = /^rsync\s+version\s+v?(\d+)\.(\d+)(?:\.(\d+))?\S*\s+protocol version (\d+)/im.exec(text);
    if (!m)
        return { kind: 'unknown' };
    return {
        kind: 'rsync',
        version: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)],
        protocol: Number(m[4]),
    };
}
function atLeast(v, min) {
    for (let i = 0; i < min.length; i++) {
        const a = v[i] ?? 0;
        const b = min[i] ?? 0;
        if (a !== b)
            return a > b;
    }
    return true;
}
/** Why this rsync cannot be used, or '' when it can. */
function rsyncProblem(info) {
    const min = MIN_RSYNC.join('.');
    switch (info.kind) {
        case 'openrsync':
            return `it is openrsync (protocol ${info.protocol}), not rsync: it lacks options this tool needs (--info, --protect-args)`;
        case 'unknown':
            return `its --version output is not rsync's`;
        case 'rsync':
            return atLeast(info.version, MIN_RSYNC)
                ? ''
                : `it is rsync ${info.version.join('.')}; ${min} or later is needed`;
    }
}
/** The Windows check, pure so a test can give any platform. */
function platformProblem(platform) {
    if (platform !== 'win32')
        return undefined;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s('rsync-atomic-deploy does not run on Windows runners: it needs rsync, which Windows does not ship, ' +
        "and OpenSSH's connection sharing (ControlMaster, one SSH connection per deploy), which Windows' ssh lacks.", 'Run the deploy job on Linux (runs-on: ubuntu-latest) or macOS (with `brew install rsync`). A build made ' +
        'on Windows can reach it through actions/upload-artifact and actions/download-artifact.', 'runner');
}
/** The message when no usable rsync was found; `tried` is path → why not. */
function noRsyncError(tried, platform) {
    const why = tried.length ? tried.map(([p, w]) => `${p}: ${w}`).join('; ') : 'no rsync on PATH';
    const fix = platform === 'darwin'
        ? 'Install a real rsync: `brew install rsync` (it goes to /opt/homebrew/bin or /usr/local/bin, which are used before /usr/bin/rsync).'
        : `Install rsync ${MIN_RSYNC.join('.')} or later on this machine (e.g. \`apt-get install rsync\`) and make sure it is on PATH.`;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s(`No usable rsync on this machine (${why}). Nothing was contacted.`, fix, 'runner');
}
/**
 * The first `name` on PATH that is a file this process may execute, or '' when there is none: what
 * @actions/io's which() finds, looked up without awaiting a stat per PATH entry (7-8 ms of every
 * deploy's start, before the connection could open). Entries that cannot be read are skipped.
 */
function onPath(name, pathVar = process.env.PATH ?? '') {
    for (const dir of pathVar.split((node_path__WEBPACK_IMPORTED_MODULE_1___default().delimiter))) {
        if (!dir)
            continue;
        const p = node_path__WEBPACK_IMPORTED_MODULE_1___default().join(dir, name);
        try {
            if (!(0,node_fs__WEBPACK_IMPORTED_MODULE_0__.statSync)(p).isFile())
                continue;
            (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.accessSync)(p, node_fs__WEBPACK_IMPORTED_MODULE_0__.constants.X_OK);
            return p;
        }
        catch { }
    }
    return '';
}
/** ssh on PATH, or why not: checked before anything connects. */
function findSsh(pathVar) {
    const p = onPath('ssh', pathVar);
    if (p)
        return p;
    throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .DeployError */ .s('No ssh on this machine (none on PATH). Nothing was contacted.', "Install OpenSSH's client on this machine (e.g. `apt-get install openssh-client`) and make sure it is on PATH.", 'runner');
}
/** Candidates in order: the rsync on PATH first, then (macOS) Homebrew's. Duplicates dropped. */
function rsyncCandidates(onPath, platform) {
    const list = onPath ? [onPath] : [];
    if (platform === 'darwin')
        list.push(...MAC_RSYNC_CANDIDATES);
    return [...new Set(list)];
}
/**
 * The rsync to run: the first candidate whose `--version` is a real rsync ≥ MIN_RSYNC. Run once per
 * command that uploads, before connecting.
 */
async function findRsync(onPath, platform = process.platform, exists = node_fs__WEBPACK_IMPORTED_MODULE_0__.existsSync, versionOf = rsyncVersionText) {
    const tried = [];
    for (const p of rsyncCandidates(onPath, platform)) {
        if (p !== onPath && !exists(p))
            continue;
        let text;
        try {
            text = await versionOf(p);
        }
        catch (e) {
            tried.push([p, `could not run it (${e instanceof Error ? e.message : String(e)})`]);
            continue;
        }
        const problem = rsyncProblem(parseRsyncVersion(text));
        if (!problem)
            return p;
        tried.push([p, problem]);
    }
    throw noRsyncError(tried, platform);
}
async function rsyncVersionText(p) {
    const r = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(p, ['--version'], { signal: AbortSignal.timeout(10_000) });
    // openrsync may print its banner to stderr, and exit non-zero for --version.
    return `${r.stdout}\n${r.stderr}`;
}


/***/ }),

/***/ 188:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   HA: () => (/* binding */ defaultOf),
/* harmony export */   Lx: () => (/* binding */ commandSpec),
/* harmony export */   SB: () => (/* binding */ inScope),
/* harmony export */   fH: () => (/* binding */ COMMAND_SPECS),
/* harmony export */   mc: () => (/* binding */ INPUTS)
/* harmony export */ });
/* unused harmony exports namesUploadingCommand, inputSpec */
/**
 * Every input, written down once. The action's parser (inputs.ts: names and defaults), the CLI's
 * flags, scope checks and help (cli/), the inputs that may never hold a key and the README's inputs
 * table (`npm run docs`) are read from here; unit tests fail when action.yml or the README
 * disagree. No imports: both bundles and the docs script read it as plain data.
 */
/** In the order the help and messages list them. */
const COMMAND_SPECS = {
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
};
function commandSpec(command) {
    return COMMAND_SPECS[command];
}
/** Whether `word` (an input not yet checked) names a command that uploads. */
function namesUploadingCommand(word) {
    return Object.hasOwn(COMMAND_SPECS, word) && commandSpec(word).uploads === true;
}
function inScope(scope, command) {
    if (typeof scope !== 'string')
        return scope.some((one) => inScope(one, command));
    return scope === 'all' || commandSpec(command)[scope] !== undefined;
}
function flag(name, value, help, more = {}) {
    return { flag: name, value, help, ...more };
}
const TABLE = [
    {
        name: 'host',
        kind: 'list',
        required: true,
        description: 'One or more [user@]host[:port], separated by newlines or commas. IPv6 in brackets, e.g. [2001:db8::1]:2222.',
        docDefault: 'required',
        meaning: 'one or more `[user@]host[:port]`, separated by newlines or commas; IPv6 in brackets `[2001:db8::1]:2222`',
        scope: 'all',
        flags: [
            flag('host', '[USER@]HOST[:PORT]', 'Server to work on; repeat it or give a comma list for a fleet. Without --key, a Host alias of your ~/.ssh/config works.'),
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
        description: 'Private key text (OpenSSH or PEM). Pass it from a secret. CRLF and a missing final newline are tolerated.',
        docDefault: 'required',
        meaning: 'private key text (OpenSSH or PEM), from a secret; CRLF and a missing final newline are tolerated',
        mayHoldKey: true,
        scope: 'all',
        flags: [
            flag('key', 'FILE', 'Private key file. Without it: your ssh-agent and the IdentityFile of your ~/.ssh/config.'),
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
            flag('key-passphrase-env', 'NAME', "Read the key's passphrase from the environment variable NAME (never from the command line)."),
        ],
    },
    {
        name: 'known-hosts',
        kind: 'secret',
        description: 'known_hosts lines (as ssh-keyscan prints them) and/or SHA256 fingerprints, one per line. Required unless accept-unknown-host-key is true.',
        docDefault: 'required*',
        meaning: '`known_hosts` lines (as `ssh-keyscan` prints them; plain `host key` lines work for any port) and/or `SHA256:` fingerprints, one per line',
        scope: 'all',
        flags: [
            flag('known-hosts', 'FILE', 'known_hosts lines and/or SHA256: fingerprints to trust. Without it: your own known_hosts. Host keys are checked either way.'),
        ],
    },
    {
        name: 'accept-unknown-host-key',
        kind: 'boolean',
        default: 'false',
        description: 'Trust the host key on first use instead of known-hosts (prints the key to pin). Not recommended.',
        docDefault: '`false`',
        meaning: '*instead of `known-hosts`: trust on first use, with a warning that prints the key to pin',
        scope: 'all',
        flags: [
            flag('accept-unknown-host-key', '', "Trust a server's key on first use and print it to pin (not recommended)."),
        ],
    },
    {
        name: 'jump-host',
        kind: 'text',
        description: '[user@]host[:port] to connect through (ssh ProxyJump); its key is checked against known-hosts too.',
        docDefault: '',
        meaning: '`[user@]host[:port]` to connect through; its key is checked against `known-hosts` too',
        scope: 'all',
        flags: [
            flag('jump-host', '[USER@]HOST[:PORT]', 'Go through this host (ssh ProxyJump); its key is checked too.'),
        ],
    },
    {
        name: 'source',
        kind: 'text',
        description: 'Local directory to upload (relative to the workspace). Required for deploy.',
        docDefault: 'required for deploy/upload',
        meaning: "local directory to upload, relative to the workspace (not `/` or `/tmp`, which hold this tool's private directory with the key)",
        scope: 'uploads',
        flags: [
            flag('source', 'DIR', 'Local directory to upload, relative to the current directory (required).'),
        ],
    },
    {
        name: 'target',
        kind: 'text',
        required: true,
        description: 'Absolute path of the deploy root on the server (releases/, the link and .deploy/ live inside).',
        docDefault: 'required',
        meaning: 'absolute path of the deploy root on the server; a directory of its own, not a system one (`/`, `/etc`, `/usr`, `/var`, `/home`, `/proc/…` are refused)',
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
        description: 'Release directory name. Default UTC time + tag or short sha + a random part, e.g. 20261121T235501Z-v1.2.3-3f9a1c. For verify: the release to check (default: the live one).',
        docDefault: 'generated',
        meaning: '`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`; default UTC time + tag or short sha + 6 random hex digits (two runs in the same second never collide), e.g. `20261121T235501Z-v1.2.3-3f9a1c`; for `verify`: the release to check (default: the live one)',
        scope: ['releaseId', 'verifies'],
        flags: [
            flag('release-id', 'ID', 'Name of the new release (default: UTC time + tag or short commit). Required for upload and activate. For verify: the release to check (default: the live one).'),
            flag('release', 'ID', 'Same as --release-id.', { hidden: true }),
        ],
    },
    {
        name: 'command',
        kind: 'command',
        default: 'deploy',
        description: 'deploy, rollback, list, prune or unlock (doctor checks the server and changes nothing; verify proves what a release holds); for fleets split across jobs, upload (per host) then activate (all hosts).',
        docDefault: '`deploy`',
        meaning: '`deploy`, `rollback`, `list`, `prune`, `unlock`, `doctor`, `verify`; for fleets split across jobs: `upload`, `activate`',
    },
    {
        name: 'rollback-to',
        kind: 'text',
        description: 'Release id to roll back to. Empty means the release that was live before the current one.',
        docDefault: 'previous',
        meaning: 'release id to roll back to; empty means the release that was live before the current one',
        scope: 'picksRelease',
        flags: [
            flag('to', 'ID', 'Release to roll back to (default: the good one that was live before). Also --rollback-to.'),
            flag('rollback-to', 'ID', 'Same as --to.', { hidden: true }),
        ],
    },
    {
        name: 'keep-releases',
        kind: 'number',
        default: '5',
        description: 'Good releases kept after each deploy (0 keeps all). The live one and its rollback target are never deleted.',
        docDefault: '`5`',
        meaning: 'good releases kept after each deploy (`0` keeps all); the live one and its rollback target are never deleted',
        scope: 'prunes',
        flags: [
            flag('keep-releases', 'N', 'Good releases kept (default: 5; 0 keeps all). The live one and its rollback target always stay.'),
        ],
    },
    {
        name: 'exclude',
        kind: 'lines',
        description: 'rsync exclude patterns, one per line.',
        docDefault: '',
        meaning: 'rsync exclude patterns, one per line; every line counts, `#` ones too (`#*#` is a pattern, there are no comment lines)',
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
        description: 'rsync --chmod spec applied during the transfer. Default u+rwX,go+rX,go-w (readable by all, writable by owner only).',
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
        description: 'Paths (one per line, relative to the release) kept in target/shared and symlinked into every release, e.g. storage or public/uploads.',
        docDefault: '',
        meaning: 'paths (one per line) kept in `target/shared/` and symlinked into every release, e.g. `storage`',
        scope: 'releaseId',
        flags: [
            flag('shared', 'PATH', 'Path kept in TARGET/shared and linked into every release, e.g. storage (repeatable).'),
        ],
    },
    {
        name: 'keep-assets',
        kind: 'list',
        description: 'Patterns (newlines or commas, relative to the release, e.g. assets/** or _next/static/**) of files that stay reachable after a switch: those of the last keep-assets-releases releases that the new build lacks are hard-linked into it.',
        docDefault: '',
        meaning: 'patterns (newlines or commas, relative to the release: `assets/**`, `_next/static/**`, `*.js`) of old files kept reachable: those of the last `keep-assets-releases` releases that the new build lacks are hard-linked into it before it goes live (see [Old assets stay reachable](#old-assets-stay-reachable-keep-assets))',
        scope: 'switches',
        flags: [
            flag('keep-assets', 'PATTERN', 'Keep old files matching PATTERN (e.g. assets/**) reachable: hard-linked from the last releases when the new build lacks them (repeatable).'),
        ],
    },
    {
        name: 'keep-assets-releases',
        kind: 'number',
        default: '2',
        description: 'How many of the last releases keep-assets keeps files from (the live one first).',
        docDefault: '`2`',
        meaning: 'how many of the last releases `keep-assets` keeps files from (the live one first); a file lives at most that many releases past the build that had it',
        scope: 'switches',
        flags: [
            flag('keep-assets-releases', 'N', 'How many of the last releases --keep-assets keeps files from (default: 2).'),
        ],
    },
    {
        name: 'before-switch',
        kind: 'script',
        description: 'Shell script run on the server (sh, in the new release) before it goes live. If it fails nothing switches.',
        docDefault: '',
        meaning: 'shell script run on the server (`sh`, in the new release) before it goes live; failure = nothing switches',
        mayHoldKey: true,
        scope: 'switches',
        flags: [
            flag('before-switch', 'SCRIPT', 'Shell script run on the server in the new release before it goes live; failure = no switch.'),
        ],
    },
    {
        name: 'after-switch',
        kind: 'script',
        description: 'Shell script run on the server after the switch, e.g. reload a service or reset PHP opcache.',
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
        description: 'URL that must answer 2xx after the switch (retried with backoff for up to a minute), else the switch is reverted.',
        docDefault: '',
        meaning: "URL that must answer 2xx after the switch (retried for up to a minute), else the switch is reverted. `user:password@` is sent as Basic auth; the userinfo and query values are masked in every message; redirects are followed only on the URL's own host",
        scope: 'switches',
        flags: [
            flag('healthcheck-url', 'URL', 'URL that must answer 2xx after the switch, else the switch is reverted.'),
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
            flag('rollback-on-failure', '', 'Revert the switch when after-switch or the health check fails (the default).'),
            flag('no-rollback-on-failure', '', 'Keep the new release live even then.', { sets: 'false' }),
        ],
    },
    {
        name: 'dry-run',
        kind: 'boolean',
        default: 'false',
        description: 'Connect and check everything, show what would be sent and what would switch; change nothing.',
        docDefault: '`false`',
        meaning: 'connect and check everything, list what would be sent and what would switch; change nothing',
        scope: 'uploads',
        flags: [flag('dry-run', '', 'Show what would be sent and what would switch; change nothing.')],
    },
    {
        name: 'allow-empty',
        kind: 'boolean',
        default: 'false',
        description: 'Deploy a release with no files (an empty source, or exclude/filter that leave nothing) on purpose; without it such a release is refused.',
        docDefault: '`false`',
        meaning: 'deploy a release with no files on purpose; without it an empty `source`, or `exclude`/`filter` that leave nothing, is refused and nothing changes',
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
        description: 'For verify: the release-digest the release must have (sha256: and 64 hex digits, as the deploy that built it output).',
        docDefault: '',
        meaning: 'for `verify`: the `release-digest` the release must have (`sha256:` + 64 hex digits, as the deploy of that build output it)',
        scope: 'verifies',
        flags: [
            flag('expected-digest', 'DIGEST', 'The release-digest the release must have (sha256:…, as the deploy of that build printed it).'),
        ],
    },
];
/** Every input, in action.yml's order (the help's order too). */
const INPUTS = TABLE;
const BY_NAME = new Map(INPUTS.map((i) => [i.name, i]));
function inputSpec(name) {
    return BY_NAME.get(name);
}
/** The default action.yml passes for an input ('' = none). */
function defaultOf(name) {
    return inputSpec(name).default ?? '';
}


/***/ }),

/***/ 551:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Vj: () => (/* binding */ gatherSshFacts),
/* harmony export */   yE: () => (/* binding */ scanOnlyOptions)
/* harmony export */ });
/* unused harmony export jumpScanArgs */
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(24);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__nccwpck_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _hints_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(957);
/* harmony import */ var _proc_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(684);




/**
 * The facts explainSshFailure (hints.ts, pure) needs about a failed connection, gathered on this
 * machine with ssh-keyscan / ssh-keygen: only those the error calls for.
 */
async function gatherSshFacts(stderr, ctx) {
    const need = (0,_hints_js__WEBPACK_IMPORTED_MODULE_2__/* .sshFactsNeeded */ .lI)(stderr, ctx);
    const facts = {};
    if (need.offeredKeys)
        facts.offered = await offeredKeys(ctx);
    if (need.keyChecks) {
        const keygen = ctx.sshPath.replace(/ssh$/, 'ssh-keygen');
        if (!ctx.passphraseGiven) {
            const y = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(keygen, ['-y', '-P', '', '-f', ctx.keyPath]).catch(() => undefined);
            facts.keyNeedsPassphrase = y !== undefined && y.code !== 0 && /passphrase/i.test(y.stderr);
        }
        if (!facts.keyNeedsPassphrase) {
            const r = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(keygen, ['-lf', ctx.keyPath]).catch(() => undefined);
            facts.keyFingerprint = r?.code === 0 ? r.stdout : '';
        }
    }
    return facts;
}
/**
 * The key the server offers, read through the jump host the way the deploy connects (ssh-keyscan
 * cannot use a proxy): one ssh that records the key in a scratch file and then offers no
 * authentication at all, so nothing logs in to a server whose key is not trusted.
 */
function jumpScanArgs(jump, knownHostsFile) {
    return [
        '-F',
        jump.config,
        '-S',
        'none',
        '-o',
        'ControlMaster=no',
        ...scanOnlyOptions(knownHostsFile),
        '-o',
        'ConnectTimeout=5',
        jump.alias,
        'true',
    ];
}
/**
 * ssh options that make a connection only learn the server's key (into `knownHostsFile`) and then
 * offer no authentication at all: a key scan that can go through a jump host.
 */
function scanOnlyOptions(knownHostsFile) {
    return [
        '-o',
        'StrictHostKeyChecking=accept-new',
        '-o',
        `UserKnownHostsFile=${knownHostsFile}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'KnownHostsCommand=none',
        '-o',
        'PreferredAuthentications=none',
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'BatchMode=yes',
    ];
}
async function scanThroughJump(jump) {
    const file = node_path__WEBPACK_IMPORTED_MODULE_1___default().join(node_path__WEBPACK_IMPORTED_MODULE_1___default().dirname(jump.config), `scan-${jump.alias}`);
    try {
        await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(jump.sshPath, jumpScanArgs(jump, file), { signal: AbortSignal.timeout(15_000) });
        return (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.readFileSync)(file, 'utf8')
            .split('\n')
            .filter((l) => l && !l.startsWith('#'));
    }
    finally {
        (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.rmSync)(file, { force: true });
    }
}
/** What the server offers, as known_hosts lines and their fingerprints; undefined when the scan failed. */
async function offeredKeys(ctx) {
    const host = ctx.host;
    if (!host)
        return undefined;
    try {
        let lines;
        if (ctx.jump)
            lines = await scanThroughJump(ctx.jump);
        else {
            const keyscan = ctx.sshPath.replace(/ssh$/, 'ssh-keyscan');
            const scan = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(keyscan, ['-T', '5', '-p', String(host.port), host.host]);
            lines = scan.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
        }
        if (lines.length === 0)
            return { lines, fingerprints: '' };
        const fp = await (0,_proc_js__WEBPACK_IMPORTED_MODULE_3__/* .run */ .e)(ctx.sshPath.replace(/ssh$/, 'ssh-keygen'), ['-lf', '-'], {
            input: `${lines.join('\n')}\n`,
        });
        return { lines, fingerprints: fp.stdout.trim() };
    }
    catch {
        return undefined;
    }
}


/***/ }),

/***/ 444:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  L1: () => (/* binding */ Ssh),
  JG: () => (/* binding */ anySignal),
  cH: () => (/* binding */ ownHostArgs),
  V0: () => (/* binding */ refusedSession)
});

// UNUSED EXPORTS: CONNECT_TIMEOUT, aliasOf, removeOrphanDirs, removeSshDir, renderSshConfig, userConfigProblem

// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __nccwpck_require__(24);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __nccwpck_require__(455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __nccwpck_require__(161);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __nccwpck_require__(760);
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_);
// EXTERNAL MODULE: ./src/env.ts
var src_env = __nccwpck_require__(204);
// EXTERNAL MODULE: ./src/errors.ts
var errors = __nccwpck_require__(916);
// EXTERNAL MODULE: ./src/hints.ts
var hints = __nccwpck_require__(957);
// EXTERNAL MODULE: ./src/knownhosts.ts
var knownhosts = __nccwpck_require__(41);
;// CONCATENATED MODULE: external "node:net"
const external_node_net_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");
var external_node_net_default = /*#__PURE__*/__nccwpck_require__.n(external_node_net_namespaceObject);
;// CONCATENATED MODULE: ./src/mux.ts
/**
 * OpenSSH's control socket, spoken directly for the one request made of it at the end of a run:
 * a master is asked to exit, as `ssh -O exit` asks it (PROTOCOL.mux: each side says hello, then
 * MUX_C_TERMINATE, answered MUX_S_OK). A spawned ssh costs the last step of every deploy 15-20 ms
 * on a 2-core runner (the spawn blocks Node's event loop 3-8 ms, then ssh starts and reads its
 * config); this takes about one.
 */

const MUX_MSG_HELLO = 0x00000001;
const MUX_C_TERMINATE = 0x10000005;
const MUX_S_OK = 0x80000001;
const MUX_VERSION = 4;
/** Far above any reply to these two messages: a longer one is not a master speaking. */
const MAX_PACKET = 64 * 1024;
/** One packet: its length, then 32-bit words (big-endian). */
function muxPacket(...words) {
    const b = Buffer.alloc(4 + 4 * words.length);
    b.writeUInt32BE(4 * words.length, 0);
    for (const [i, w] of words.entries())
        b.writeUInt32BE(w >>> 0, 4 + 4 * i);
    return b;
}
/** Splits whole packets off `buf`; `rest` is an incomplete one (or undefined: not a master speaking). */
function muxPackets(buf) {
    const packets = [];
    let at = 0;
    while (buf.length - at >= 4) {
        const len = buf.readUInt32BE(at);
        if (len < 4 || len > MAX_PACKET)
            return undefined;
        if (buf.length - at - 4 < len)
            break;
        packets.push(buf.subarray(at + 4, at + 4 + len));
        at += 4 + len;
    }
    return { packets, rest: buf.subarray(at) };
}
/** Whether something still accepts on `socketPath` (a master that has not exited yet). */
function listening(socketPath) {
    return new Promise((resolve) => {
        const sock = external_node_net_default().connect({ path: socketPath });
        sock.on('connect', () => {
            sock.destroy();
            resolve(true);
        });
        // ENOENT (unlinked) or ECONNREFUSED (a socket file no one listens on): nothing is there.
        sock.on('error', () => resolve(false));
    });
}
/**
 * Asks the master listening at `socketPath` to exit, and answers whether it is gone: true when
 * nothing listens there any more (or never did), false when it may still run (another reply, or
 * `timeoutMs` passed). The master often exits before its MUX_S_OK leaves (as mux.c says), so a
 * close after the request is checked: the socket must stop accepting within the time left.
 */
async function terminateMaster(socketPath, timeoutMs) {
    const until = Date.now() + timeoutMs;
    const answer = await new Promise((resolve) => {
        let said = false;
        let buf = Buffer.alloc(0);
        const sock = external_node_net_default().connect({ path: socketPath });
        const end = (how) => {
            clearTimeout(timer);
            sock.destroy();
            resolve(how);
        };
        const timer = setTimeout(() => end('no'), timeoutMs);
        let connected = false;
        sock.on('error', () => end(!connected ? 'none' : said ? 'closed' : 'no'));
        sock.on('close', () => end(said ? 'closed' : 'no'));
        sock.on('connect', () => {
            connected = true;
            sock.write(muxPacket(MUX_MSG_HELLO, MUX_VERSION));
        });
        sock.on('data', (d) => {
            const got = muxPackets(Buffer.concat([buf, d]));
            if (!got)
                return end('no');
            buf = got.rest;
            for (const p of got.packets) {
                const type = p.readUInt32BE(0);
                if (!said) {
                    // The master's hello: version 4, then extensions we do not need.
                    if (type !== MUX_MSG_HELLO || p.length < 8 || p.readUInt32BE(4) !== MUX_VERSION)
                        return end('no');
                    said = true;
                    sock.write(muxPacket(MUX_C_TERMINATE, 0));
                }
                else {
                    // MUX_S_OK echoes our request id (0); a refusal (MUX_S_PERMISSION_DENIED) is anything else.
                    return end(type === MUX_S_OK && p.length >= 8 && p.readUInt32BE(4) === 0 ? 'ok' : 'no');
                }
            }
        });
    });
    if (answer === 'none')
        return true;
    if (answer === 'no')
        return false;
    // Said yes (or closed after the request): gone once the socket stops accepting.
    while (await listening(socketPath)) {
        if (Date.now() >= until)
            return false;
        await new Promise((r) => setTimeout(r, 10));
    }
    return true;
}

// EXTERNAL MODULE: ./src/proc.ts + 1 modules
var proc = __nccwpck_require__(684);
// EXTERNAL MODULE: ./src/ssh-facts.ts
var ssh_facts = __nccwpck_require__(551);
;// CONCATENATED MODULE: ./src/ssh.ts











/**
 * What ssh says of a ~/.ssh/config others could change ("Bad owner or permissions"), or '' when it
 * is fine or absent. ssh refuses such a file; through our Include it would not check, so we do.
 */
function userConfigProblem(file, uid) {
    let st;
    try {
        st = (0,external_node_fs_.statSync)(file);
    }
    catch {
        return '';
    }
    if ((st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) {
        return `Bad owner or permissions on ${file}: ssh itself refuses to use it (it must be yours and writable by you only).`;
    }
    return '';
}
/** Known hosts are ours (a file we write) unless the person's own setup decides them. */
function ourKnownHosts(opts) {
    const t = opts.trusted;
    return !opts.useOwnSshSetup || t.lines.length > 0 || t.fingerprints.length > 0 || opts.acceptUnknownHostKey;
}
/**
 * Own-setup mode: how host `h` is named on ssh's command line. A `Host` block of ours would hide
 * the person's `Host` blocks (ssh matches them against the name typed), so what was given
 * explicitly goes in `-o` options (argv wins over every config file) and the name is the one
 * they typed. Port 22 is the default: left to their config (or ssh's own default, 22).
 */
function ownHostArgs(h, jump) {
    const args = [];
    if (h.user)
        args.push('-o', `User=${h.user}`);
    if (h.port !== 22)
        args.push('-o', `Port=${h.port}`);
    if (jump)
        args.push('-o', `ProxyJump=${jump.label}`);
    return [...args, h.host];
}
const CONNECT_TIMEOUT = 15;
function aliasOf(index) {
    return `rad-${index}`;
}
/** The ssh_config we generate: pure, so a unit test can read every option. */
function renderSshConfig(opts, paths) {
    const out = ['# written by rsync-atomic-deploy; deleted when the step ends'];
    const hostBlock = (alias, h, jump) => {
        // ssh expands %-tokens in HostName: an IPv6 zone (fe80::1%eth0) must be written %%.
        out.push(`Host ${alias}`, `  HostName ${h.host.replace(/%/g, '%%')}`, `  Port ${h.port}`);
        if (h.user)
            out.push(`  User ${h.user}`);
        // ProxyJump would be simpler, but with ControlPersist ssh sends the jump's stderr to
        // /dev/null: the same hop as a ProxyCommand with -E keeps its errors (host key!) readable.
        if (jump)
            out.push(`  ProxyCommand ${paths.sshBinary} -F ${paths.config} -E ${paths.jumpLog} -W [%h]:%p rad-jump`);
    };
    const own = opts.useOwnSshSetup === true;
    // Own setup: no aliases of ours; hosts go by their own names (ownHostArgs).
    if (!own) {
        opts.hosts.forEach((h, i) => {
            hostBlock(aliasOf(i), h, opts.jumpHost !== undefined);
        });
        if (opts.jumpHost)
            hostBlock('rad-jump', opts.jumpHost, false);
    }
    out.push('Host *');
    if (!own || opts.key !== '') {
        out.push(`  IdentityFile ${paths.key}`, '  IdentitiesOnly yes', '  IdentityAgent none');
    }
    if (ourKnownHosts(opts)) {
        const t = opts.trusted;
        if (own && t.lines.length === 0 && t.fingerprints.length === 0) {
            // accept-unknown-host-key on a laptop: keys already known still count (a changed one is
            // refused); a new one is learned into our file only, to be printed for pinning.
            out.push(`  UserKnownHostsFile ${paths.knownHosts} ~/.ssh/known_hosts ~/.ssh/known_hosts2`);
        }
        else {
            out.push(`  UserKnownHostsFile ${paths.knownHosts}`, '  GlobalKnownHostsFile /dev/null');
        }
        if (t.fingerprints.length > 0) {
            out.push(`  KnownHostsCommand ${paths.fingerprintCheck} %f %t %K %H`);
        }
    }
    out.push(`  StrictHostKeyChecking ${opts.acceptUnknownHostKey ? 'accept-new' : 'yes'}`);
    // Own setup: CheckHostIP and the auth methods stay the person's choice (never weaker: BatchMode).
    if (!own)
        out.push('  CheckHostIP no');
    out.push('  UpdateHostKeys no', '  HashKnownHosts no', '  BatchMode yes', '  PasswordAuthentication no', '  KbdInteractiveAuthentication no');
    if (!own)
        out.push('  PreferredAuthentications publickey');
    out.push(`  ConnectTimeout ${CONNECT_TIMEOUT}`, '  ConnectionAttempts 1', '  ServerAliveInterval 15', '  ServerAliveCountMax 4', '  ForwardAgent no', '  ForwardX11 no', '  ClearAllForwardings yes', '  RequestTTY no', '  LogLevel ERROR', 
    // Our aliases name the sockets (rad-0: closeAll speaks to it); own setup: ssh's hash of the host.
    `  ControlPath ${paths.dir}/${own ? '%C' : '%n'}`, '  ControlMaster no', `  ControlPersist ${opts.persistSeconds}`);
    if (own) {
        // What `ssh HOST` reads without -F, in the same order, after ours (ssh keeps the first value).
        out.push('  Include ~/.ssh/config', '  Include /etc/ssh/ssh_config');
    }
    return `${out.join('\n')}\n`;
}
const ASKPASS = `#!/bin/sh
# ssh asks for the key's passphrase through here (SSH_ASKPASS), so it never reaches argv.
# Each call is counted: a second one means the first answer was wrong.
echo x >> "$RAD_ASKPASS_COUNT"
printf '%s\\n' "$RAD_KEY_PASSPHRASE"
`;
class Ssh {
    opts;
    paths;
    sshPath;
    /** Hosts whose master runs, with the words that name them to ssh. */
    masters = new Map();
    /** Each host's one attempt to connect, begun by whoever asked first (see connect). */
    connecting = new Map();
    /** Stops attempts still under way when the run ends before it needs them (dispose). */
    closing = new AbortController();
    /** Hosts whose attempt was stopped: ssh may have forked its master just before. */
    stopped = new Set();
    constructor(opts, paths, sshPath) {
        this.opts = opts;
        this.paths = paths;
        this.sshPath = sshPath;
    }
    get configPath() {
        return this.paths.config;
    }
    /**
     * Creates the private directory and its files. `onDir` is called before any secret is written,
     * so the post step can delete the directory even if we are killed right after.
     */
    static async create(opts, sshPath, onDir) {
        if (opts.useOwnSshSetup) {
            // Included from our config, ssh would not check it as it checks ~/.ssh/config itself.
            const problem = userConfigProblem(external_node_path_default().join((0,external_node_os_.userInfo)().homedir, '.ssh/config'), process.getuid?.() ?? 0);
            if (problem)
                throw new errors/* DeployError */.s(problem, 'Make it yours and private: chmod 600 ~/.ssh/config', 'ssh-config');
        }
        await removeOrphanDirs(sshPath);
        // Synchronous: a few small files the connection waits for (awaited one by one, ~15 ms of the start).
        const dir = (0,external_node_fs_.mkdtempSync)('/tmp/rad-');
        (0,external_node_fs_.chmodSync)(dir, 0o700);
        onDir(dir);
        (0,external_node_fs_.writeFileSync)(external_node_path_default().join(dir, OWNER_FILE), `${opts.ownerPid ?? process.pid}\n`, { mode: 0o600 });
        const paths = {
            dir,
            config: external_node_path_default().join(dir, 'config'),
            jumpLog: external_node_path_default().join(dir, 'jump.log'),
            sshBinary: sshPath,
            key: external_node_path_default().join(dir, 'key'),
            knownHosts: external_node_path_default().join(dir, 'known_hosts'),
            fingerprints: external_node_path_default().join(dir, 'fingerprints'),
            fingerprintCheck: external_node_path_default().join(dir, 'hostkey-check'),
        };
        const ssh = new Ssh(opts, paths, sshPath);
        if (!opts.useOwnSshSetup || opts.key !== '') {
            (0,external_node_fs_.writeFileSync)(paths.key, opts.key, { mode: 0o600 });
            if (opts.keyPassphrase) {
                (0,external_node_fs_.writeFileSync)(external_node_path_default().join(dir, 'askpass'), ASKPASS, { mode: 0o700 });
            }
        }
        if (ourKnownHosts(opts)) {
            const ports = [...opts.hosts, ...(opts.jumpHost ? [opts.jumpHost] : [])].map((h) => h.port);
            (0,external_node_fs_.writeFileSync)(paths.knownHosts, (0,knownhosts/* renderKnownHosts */.vS)(opts.trusted, ports), { mode: 0o600 });
            if (opts.trusted.fingerprints.length > 0) {
                (0,external_node_fs_.writeFileSync)(paths.fingerprints, `${opts.trusted.fingerprints.join('\n')}\n`, { mode: 0o600 });
                (0,external_node_fs_.writeFileSync)(paths.fingerprintCheck, (0,knownhosts/* fingerprintCheckScript */._d)(paths.fingerprints), { mode: 0o700 });
            }
        }
        (0,external_node_fs_.writeFileSync)(ssh.configPath, renderSshConfig(opts, paths), { mode: 0o600 });
        return ssh;
    }
    /** `ssh -F config`: what rsync gets as its -e (split on spaces by rsync: our paths have none). */
    get rshCommand() {
        return `${this.sshPath} -F ${this.configPath}`;
    }
    /** The words that name host `index` on ssh's command line, after `-F config`. */
    hostArgs(index) {
        const h = this.opts.hosts[index];
        if (!this.opts.useOwnSshSetup || !h)
            return [aliasOf(index)];
        return ownHostArgs(h, this.opts.jumpHost);
    }
    /**
     * rsync's -e and `host:path` destination for host `index` (no word of -e has a space).
     * `muxOnly`: over the master or not at all (as exec's muxOnly): an rsync started beside another
     * session, which a server allowing one session refuses, must fail rather than connect on its own.
     */
    rsyncRemote(index, remotePath, muxOnly = false) {
        const words = this.hostArgs(index);
        const name = words.pop() ?? '';
        return {
            rsh: [this.rshCommand, ...(muxOnly ? ['-o', 'ProxyCommand=false'] : []), ...words].join(' '),
            destination: `${name.includes(':') ? `[${name}]` : name}:${remotePath}`,
        };
    }
    /** The environment of ssh and of rsync (which runs ssh): no INPUT_*, no key, no passphrase. */
    childEnv() {
        const env = (0,src_env/* childEnv */.g)(process.env, {
            own: this.opts.useOwnSshSetup === true,
            secrets: [this.opts.keyPassphrase],
        });
        if (!this.opts.useOwnSshSetup)
            delete env.SSH_AUTH_SOCK;
        delete env.SSH_ASKPASS;
        return env;
    }
    baseEnv() {
        return this.childEnv();
    }
    /**
     * Opens the one connection every later step of this host shares. The first call starts it; a
     * later one (the command's own step, after runCommand began it while the rest got ready) gets
     * the same attempt and its outcome, never a second connection.
     */
    connect(index, label, signal) {
        let attempt = this.connecting.get(index);
        if (!attempt) {
            attempt = this.openMaster(index, label, anySignal(signal, this.closing.signal));
            // Awaited by the command's step; a run that ends first never asks (dispose closes it).
            attempt.catch(() => { });
            this.connecting.set(index, attempt);
        }
        return attempt;
    }
    async openMaster(index, label, signal) {
        const alias = aliasOf(index);
        const errFile = external_node_path_default().join(this.paths.dir, `${alias}.err`);
        const args = ['-F', this.configPath, '-M', '-N', '-f', '-o', 'ControlMaster=yes'];
        const env = this.baseEnv();
        const countFile = external_node_path_default().join(this.paths.dir, `${alias}.askpass`);
        if (this.opts.keyPassphrase) {
            // BatchMode forbids any prompt, the askpass one too; nothing else can prompt (no passwords).
            args.push('-o', 'BatchMode=no');
            env.SSH_ASKPASS = external_node_path_default().join(this.paths.dir, 'askpass');
            env.SSH_ASKPASS_REQUIRE = 'force';
            env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase;
            env.RAD_ASKPASS_COUNT = countFile;
            env.DISPLAY = env.DISPLAY ?? ':0';
        }
        args.push(...this.hostArgs(index));
        // The master daemonises (-f); its stderr goes to a file so no pipe of ours stays open behind it.
        const fd = (0,external_node_fs_.openSync)(errFile, 'w', 0o600);
        let result;
        try {
            result = await (0,proc/* run */.e)(this.sshPath, args, { env, signal, stderrFd: fd });
        }
        finally {
            (0,external_node_fs_.closeSync)(fd);
        }
        let stderr = (0,external_node_fs_.readFileSync)(errFile, 'utf8');
        let failedAt = label;
        let failedHost = this.opts.hosts[index];
        let through;
        if (this.opts.jumpHost && !this.opts.useOwnSshSetup) {
            through = { sshPath: this.sshPath, config: this.configPath, alias: aliasOf(index) };
        }
        try {
            const jumpLog = (0,external_node_fs_.readFileSync)(this.paths.jumpLog, 'utf8').trim();
            if (jumpLog && this.opts.jumpHost) {
                stderr = `${jumpLog}\n${stderr}`;
                failedAt = `the jump host ${this.opts.jumpHost.label}`;
                failedHost = this.opts.jumpHost;
                through = undefined;
            }
        }
        catch { }
        if (result.aborted) {
            this.stopped.add(index);
            throw new errors/* DeployError */.s(`Connecting to ${label} was cancelled.`);
        }
        if (result.code !== 0) {
            let askpassCalls = 0;
            try {
                askpassCalls = (0,external_node_fs_.readFileSync)(countFile, 'utf8').split('\n').filter(Boolean).length;
            }
            catch { }
            const why = {
                label: failedAt,
                user: failedHost?.user ?? '',
                keyPath: this.paths.key,
                hasKey: !this.opts.useOwnSshSetup || this.opts.key !== '',
                ownSetup: this.opts.useOwnSshSetup === true,
                passphraseGiven: this.opts.keyPassphrase !== '',
                passphraseRejected: askpassCalls > 1,
                host: failedHost,
                sshPath: this.sshPath,
                jump: through,
                words: this.opts.words,
            };
            // The facts (key scan, key fingerprint) gathered here; classifying is pure (hints.ts).
            throw (0,hints/* explainSshFailure */.cB)(stderr, why, await (0,ssh_facts/* gatherSshFacts */.Vj)(stderr, why));
        }
        this.masters.set(index, this.hostArgs(index));
    }
    /** The lines ssh wrote to known_hosts on first use (accept-unknown-host-key), to print for pinning. */
    async learnedHostKeys() {
        try {
            return await (0,promises_.readFile)(this.paths.knownHosts, 'utf8');
        }
        catch {
            return '';
        }
    }
    /**
     * Runs a constant script with `sh -s` over the host's master connection, or with `fresh` over a
     * new connection of its own (-S none), for when the master itself may be stuck.
     */
    exec(index, script, opts = {}) {
        const { fresh, command = 'sh -s', muxOnly, ...rest } = opts;
        const env = this.baseEnv();
        const own = [];
        if (muxOnly && !fresh)
            own.push('-o', 'ProxyCommand=false');
        if (fresh) {
            own.push('-S', 'none');
            if (this.opts.keyPassphrase) {
                // As in connect(): the passphrase reaches ssh through SSH_ASKPASS, never argv.
                own.push('-o', 'BatchMode=no');
                env.SSH_ASKPASS = external_node_path_default().join(this.paths.dir, 'askpass');
                env.SSH_ASKPASS_REQUIRE = 'force';
                env.RAD_KEY_PASSPHRASE = this.opts.keyPassphrase;
                env.RAD_ASKPASS_COUNT = external_node_path_default().join(this.paths.dir, `${aliasOf(index)}.askpass`);
                env.DISPLAY = env.DISPLAY ?? ':0';
            }
        }
        return (0,proc/* run */.e)(this.sshPath, ['-F', this.configPath, ...own, '-T', ...this.hostArgs(index), command], {
            env,
            input: script,
            // The script's watchdog stops it when this stdin ends: when we give up or the link drops.
            keepStdinOpen: true,
            ...rest,
        });
    }
    /**
     * The post step's way in: runs a script on host `index` through the private directory `dir` a
     * main step left, over a connection of its own (-S none: the master may be what hung).
     */
    static execInDir(dir, index, script, opts = {}) {
        return (0,proc/* run */.e)(opts.sshPath ?? 'ssh', ['-F', external_node_path_default().join(dir, 'config'), '-S', 'none', '-T', aliasOf(index), opts.command ?? 'sh -s'], {
            input: script,
            // As in exec(): the script's watchdog stops it when this stdin ends.
            keepStdinOpen: true,
            signal: opts.signal,
        });
    }
    /** Where host `index`'s master listens, when our alias names it (own setup: ssh's hash, %C). */
    socketOf(index) {
        return this.opts.useOwnSshSetup ? undefined : external_node_path_default().join(this.paths.dir, aliasOf(index));
    }
    /**
     * Closes every master: asked on its socket (mux.ts) where our alias names it, else by
     * `ssh -O exit`. Never throws. An attempt still under way is stopped first;
     * its master is asked to exit too, as ssh may have forked it just before it was stopped.
     */
    async closeAll() {
        this.closing.abort();
        await Promise.allSettled(this.connecting.values());
        this.connecting.clear();
        for (const index of this.stopped)
            this.masters.set(index, this.hostArgs(index));
        await Promise.all([...this.masters].map(async ([index, words]) => {
            const socket = this.socketOf(index);
            if (socket) {
                // Its socket is ours: asked there (a master deaf to it would be deaf to ssh -O exit too).
                await terminateMaster(socket, 3000);
                this.masters.delete(index);
                return;
            }
            try {
                // Bounded: a master stuck on a stalled link must not hold the end of the step back.
                await (0,proc/* run */.e)(this.sshPath, ['-F', this.configPath, '-O', 'exit', ...words], {
                    env: this.baseEnv(),
                    signal: AbortSignal.timeout(3000),
                });
            }
            catch { }
            this.masters.delete(index);
        }));
    }
    /** Closes our masters, then deletes the directory with the key (each master closed once). */
    async dispose() {
        await this.closeAll();
        // Synchronous: a few files, on the step's last path (awaited, rm took ~3 ms more).
        (0,external_node_fs_.rmSync)(this.paths.dir, { recursive: true, force: true });
    }
}
/**
 * The post step's clean-up: closes any master still listening in `dir` and deletes the directory
 * with the key (a cancelled main step may not have reached its own dispose()).
 */
async function removeSshDir(dir, sshPath = 'ssh') {
    if (!dir.startsWith('/tmp/rad-'))
        return;
    const config = external_node_path_default().join(dir, 'config');
    let aliases = [];
    try {
        aliases = [...(0,external_node_fs_.readFileSync)(config, 'utf8').matchAll(/^Host (rad-\d+|rad-jump)$/gm)].map((m) => m[1] ?? '');
    }
    catch { }
    for (const alias of aliases) {
        try {
            await (0,proc/* run */.e)(sshPath, ['-F', config, '-O', 'exit', alias], { signal: AbortSignal.timeout(3000) });
        }
        catch { }
    }
    await (0,promises_.rm)(dir, { recursive: true, force: true });
}
/**
 * ssh's words when the master's session request was refused: the remote command never ran. First
 * in stderr: the server's own text (a login shell's, a hook's) only comes once a session is open.
 */
const MUX_REFUSED = /^mux_client_request_session: session request failed/;
/**
 * Whether a run over the master was refused its session (a server that allows one at a time, not
 * yet done closing the last): nothing ran on the server, so it may be run again. Only ssh's own
 * refusal, before any output: never a script that ran and failed with those words in its stderr.
 */
function refusedSession(result, 
/** ssh itself (not rsync through it): it exits 255, which none of our scripts does. */
ssh = false) {
    if (ssh && result.code !== 255)
        return false;
    return result.code !== 0 && !result.aborted && result.stdout === '' && MUX_REFUSED.test(result.stderr);
}
/** Aborted when either is (AbortSignal.any is Node 20.3+). */
function anySignal(a, b) {
    if (!a)
        return b;
    const both = new AbortController();
    const stop = () => both.abort();
    if (a.aborted || b.aborted)
        stop();
    a.addEventListener('abort', stop, { once: true });
    b.addEventListener('abort', stop, { once: true });
    return both.signal;
}
/** Holds the pid of the process our private directory belongs to. */
const OWNER_FILE = 'owner';
/** Whether process `pid` exists (EPERM: it does, as another user's). */
function processExists(pid) {
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (e) {
        return e.code === 'EPERM';
    }
}
/**
 * Removes our private directories left by runs that were killed (SIGKILL, a lost runner): their
 * master first, whose persisting connection would otherwise keep the target's lock looking held
 * for its whole ControlPersist time, then the key. Only ours (same uid), only when the recorded
 * owner process is gone; a directory without an owner record is left alone.
 */
async function removeOrphanDirs(sshPath = 'ssh', tmp = '/tmp') {
    const removed = [];
    let names = [];
    try {
        names = (0,external_node_fs_.readdirSync)(tmp).filter((n) => /^rad-[A-Za-z0-9]{6}$/.test(n));
    }
    catch {
        return removed;
    }
    const uid = process.getuid?.();
    for (const name of names) {
        const dir = external_node_path_default().join(tmp, name);
        try {
            const st = (0,external_node_fs_.lstatSync)(dir);
            if (!st.isDirectory() || (uid !== undefined && st.uid !== uid))
                continue;
            const pid = Number((0,external_node_fs_.readFileSync)(external_node_path_default().join(dir, OWNER_FILE), 'utf8').trim());
            if (!Number.isInteger(pid) || pid <= 0 || processExists(pid))
                continue;
            await removeSshDir(dir, sshPath);
            removed.push(dir);
        }
        catch { }
    }
    return removed;
}


/***/ }),

/***/ 873:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   N5: () => (/* binding */ safeMessage),
/* harmony export */   QN: () => (/* binding */ shownLine),
/* harmony export */   bp: () => (/* binding */ untrusted),
/* harmony export */   g3: () => (/* binding */ LineSplitter),
/* harmony export */   mU: () => (/* binding */ untrustedLines)
/* harmony export */ });
/* unused harmony export MAX_SHOWN */
/**
 * Text from outside (what a server sends: replies, log fields, the lock's owner, hook output, a
 * login shell's words; names from a build) stays text. It never reaches a terminal as escape
 * sequences (colours, cursor moves, a window title, a hidden line) nor the runner as a workflow
 * command (`::add-mask::`, `::error::`, `::stop-commands::`): the runner reads a command from any
 * line that starts with `::` after white space, and it ends a line at `\n` or `\r`.
 */
/** Longest piece of one untrusted value we show (a hook's 300 MB line is cut, with its length said). */
const MAX_SHOWN = 4096;
// C0 controls, DEL, C1 controls (U+009B is a one-byte CSI on some terminals), the Unicode line and
// paragraph separators, and the bidi overrides that make a line read differently than it is.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const CONTROL_BUT_NL_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };
function escapeChar(c) {
    const named = NAMED[c];
    if (named)
        return named;
    const code = c.charCodeAt(0);
    return code < 0x100
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : `\\u${code.toString(16).padStart(4, '0')}`;
}
/**
 * THE escaping function for one untrusted value: one line, every control character shown as an
 * escape (`\n`, `\r`, `\e`, `\x07`, `\u202e`), cut to `max` characters (saying how much was cut).
 * Linear in the input; only the first `max` characters are examined.
 */
function untrusted(text, max = MAX_SHOWN) {
    const cut = text.length > max ? text.slice(0, max) : text;
    const shown = cut.replace(CONTROL, escapeChar);
    return text.length > max ? `${shown}… (${text.length - max} more characters)` : shown;
}
/** Several untrusted lines (a hook's stderr, a shell's words): each escaped, none empty at the end. */
function untrustedLines(text, maxLines = 20, max = MAX_SHOWN) {
    const lines = text.replace(/\n+$/, '').split('\n');
    return lines.slice(-maxLines).map((l) => untrusted(l, max));
}
/**
 * The last guard, at the front ends, for a whole message of ours (which may hold untrusted values
 * that an older path forgot to escape): our newlines stay, every other control character is
 * escaped, and neither a line that starts with `::` nor a `##[` anywhere can be read as a workflow
 * command.
 */
function safeMessage(message) {
    return (message
        .replace(CONTROL_BUT_NL_TAB, escapeChar)
        .split('\n')
        .map((l) => (/^\s*::/.test(l) ? `\\${l}` : l))
        // The runner also reads the older form `##[command]` anywhere in a line.
        .map((l) => l.replace(/##\[/g, '##\\['))
        .join('\n'));
}
/**
 * Splits a stream into lines in linear time however long a line gets: a chunk is scanned once, a
 * pending line is kept as pieces (never re-joined per chunk), and only its first `maxLine`
 * characters are kept (the rest is counted). `onLine` gets the kept text and how much was dropped.
 */
class LineSplitter {
    onLine;
    maxLine;
    parts = [];
    kept = 0;
    dropped = 0;
    constructor(onLine, maxLine = MAX_SHOWN) {
        this.onLine = onLine;
        this.maxLine = maxLine;
    }
    push(chunk) {
        let start = 0;
        for (;;) {
            const nl = chunk.indexOf('\n', start);
            if (nl < 0) {
                this.keep(chunk, start, chunk.length);
                return;
            }
            this.keep(chunk, start, nl);
            this.flush();
            start = nl + 1;
        }
    }
    /** The last line, when the stream ended without a newline. */
    end() {
        if (this.kept > 0 || this.dropped > 0)
            this.flush();
    }
    keep(chunk, from, to) {
        const room = this.maxLine - this.kept;
        const take = Math.min(room, to - from);
        if (take > 0) {
            this.parts.push(chunk.slice(from, from + take));
            this.kept += take;
        }
        this.dropped += to - from - take;
    }
    flush() {
        const line = this.parts.join('');
        const dropped = this.dropped;
        this.parts = [];
        this.kept = 0;
        this.dropped = 0;
        this.onLine(line, dropped);
    }
}
/** A line from a LineSplitter as shown: escaped, with what was cut said. */
function shownLine(line, dropped) {
    return `${untrusted(line, Number.MAX_SAFE_INTEGER)}${dropped > 0 ? `… (${dropped} more characters)` : ''}`;
}


/***/ }),

/***/ 538:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   DT: () => (/* binding */ compareRelease),
/* harmony export */   MT: () => (/* binding */ verdictLine),
/* harmony export */   UQ: () => (/* binding */ VERIFY_MAX_ENTRIES),
/* harmony export */   Ze: () => (/* binding */ differenceLines),
/* harmony export */   j5: () => (/* binding */ hexSection),
/* harmony export */   jH: () => (/* binding */ VERIFY_MAX_BYTES),
/* harmony export */   yF: () => (/* binding */ VerifyReplyError)
/* harmony export */ });
/* unused harmony exports DIGEST_RE, parseLinks, parseTree, parseSums, parseKept, shownPath, sharedLinkTarget, differenceOf, actualTree, loggedDigest, SHOWN_DIFFERENCES, differenceLine */
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__nccwpck_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _manifest_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(546);
/* harmony import */ var _remote_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(769);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_3__ = __nccwpck_require__(873);
/**
 * command: verify, the pure part: what the server sent (remote.ts VERIFY: the release's tree, the
 * sha256 of its files, its recorded manifest and kept-assets record, each as hex) read strictly,
 * turned into manifest entries (src/manifest.ts, the one format), and compared with the recorded
 * manifest, the digest in the deploy log and expected-digest. Everything here is untrusted input
 * from the server: a malformed record is an error, never a guess.
 */




/** `sha256:` and 64 lowercase hex digits: a release digest as the tool writes it. */
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
/** Bounds the server is told (and the client holds it to): the manifest's bytes, the tree's entries. */
const VERIFY_MAX_BYTES = 256 * 1024 * 1024;
const VERIFY_MAX_ENTRIES = 2_000_000;
class VerifyReplyError extends Error {
    constructor(message) {
        super(`the server's verify reply is malformed: ${message}`);
        this.name = 'VerifyReplyError';
    }
}
/**
 * The bytes sent under `key` (`@@rad KEY HEX` lines, then `@@rad KEY-end`), or undefined when the
 * server said `no-KEY` (no such record). A reply cut short (no end line) or not hex is an error.
 */
function hexSection(reply, key) {
    if (reply.values.has(`no-${key}`))
        return undefined;
    if (!reply.values.has(`${key}-end`))
        throw new VerifyReplyError(`the ${key} section is incomplete`);
    const chunks = (0,_remote_js__WEBPACK_IMPORTED_MODULE_2__/* .all */ .Q7)(reply, key);
    let total = 0;
    for (const c of chunks) {
        if (c.length % 2 !== 0 || !/^[0-9a-f]*$/.test(c))
            throw new VerifyReplyError(`the ${key} section is not hex`);
        total += c.length / 2;
        if (total > VERIFY_MAX_BYTES * 2)
            throw new VerifyReplyError(`the ${key} section is too large`);
    }
    return Buffer.from(chunks.join(''), 'hex');
}
/** Splits NUL-terminated fields; the last one must be terminated too. */
function nulFields(buf, what) {
    const out = [];
    let start = 0;
    for (;;) {
        const z = buf.indexOf(0, start);
        if (z < 0)
            break;
        out.push(buf.subarray(start, z));
        start = z + 1;
    }
    if (start !== buf.length)
        throw new VerifyReplyError(`the ${what} section does not end with a NUL`);
    return out;
}
const IFMT = 0o170000;
function typeOfMode(raw) {
    const t = raw & IFMT;
    return t === 0o100000 ? 'f' : t === 0o040000 ? 'd' : t === 0o120000 ? 'l' : 'o';
}
const SIZE_RE = /^(0|[1-9][0-9]{0,15})$/;
/** The type, permissions and `<size> <path>` of one record, by its kind (g, x, o). */
function treeRecord(text) {
    const g = /^g([a-zA-Z]) ([0-7]{1,5}) (.+)$/s.exec(text);
    if (g) {
        const y = g[1];
        const type = y === 'f' || y === 'd' || y === 'l' ? y : 'o';
        return { type, perm: Number.parseInt(g[2], 8) & 0o7777, rest: g[3] };
    }
    const r = /^x([0-9a-f]{1,8}) (.+)$/s.exec(text) ?? /^o([0-7]{1,11}) (.+)$/s.exec(text);
    if (!r)
        return undefined;
    const raw = Number.parseInt(r[1], text.startsWith('x') ? 16 : 8);
    return { type: typeOfMode(raw), perm: raw & 0o7777, rest: r[2] };
}
/** A path as the server's find gives it: `./a/b`; its bytes after `./` (latin1), or undefined. */
function relativePath(p) {
    if (!p.startsWith('./'))
        return undefined;
    const raw = p.slice(2);
    return raw === '' || raw.split('/').some((c) => c === '' || c === '.' || c === '..') ? undefined : raw;
}
/**
 * The links section: pairs of fields, a symlink's `./path` and its target's bytes.
 */
function parseLinks(buf) {
    const fields = nulFields(buf, 'links');
    if (fields.length % 2 !== 0)
        throw new VerifyReplyError('the links section has an odd number of fields');
    const out = new Map();
    for (let i = 0; i < fields.length; i += 2) {
        const p = fields[i].toString('latin1');
        const raw = relativePath(p);
        if (raw === undefined)
            throw new VerifyReplyError(`bad link record ${JSON.stringify((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(p, 200))}`);
        out.set(raw, fields[i + 1]);
    }
    return out;
}
/**
 * The tree section: one record a field, `<how><mode> <size> ./<path>`. `how` is g (GNU find: type
 * letter, space, octal permissions), x (stat -c %f: raw mode in hex) or o (BSD stat -f %p: raw
 * mode in octal). `links` gives each symlink's target (parseLinks).
 */
function parseTree(buf, links = new Map()) {
    const fields = nulFields(buf, 'tree');
    if (fields.length > VERIFY_MAX_ENTRIES)
        throw new VerifyReplyError('the tree has too many entries');
    const out = [];
    const seen = new Set();
    for (const field of fields) {
        const text = field.toString('latin1');
        const bad = () => new VerifyReplyError(`bad tree record ${JSON.stringify((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(text, 200))}`);
        const rec = treeRecord(text);
        if (!rec)
            throw bad();
        const { type, perm, rest } = rec;
        const sp = rest.indexOf(' ');
        if (sp < 0)
            throw bad();
        const size = rest.slice(0, sp);
        const raw = relativePath(rest.slice(sp + 1));
        if (!SIZE_RE.test(size) || raw === undefined)
            throw bad();
        if (seen.has(raw))
            throw new VerifyReplyError('the tree lists a path twice');
        seen.add(raw);
        const target = links.get(raw);
        if (type === 'l' && target === undefined)
            throw new VerifyReplyError('a symlink without its target');
        out.push({ type, perm, size: Number(size), raw, target: target ?? Buffer.alloc(0) });
    }
    return out;
}
/** GNU sha256sum's and shasum's escapes (a line that starts with `\`): `\\`, `\n`, `\r`. */
function unescapeSum(s) {
    let out = '';
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (c !== '\\') {
            out += c;
            continue;
        }
        const n = s[++i];
        if (n === '\\')
            out += '\\';
        else if (n === 'n')
            out += '\n';
        else if (n === 'r')
            out += '\r';
        else
            return undefined;
    }
    return out;
}
/**
 * The sums section: `<sha256>  ./<path>` (or ` *./` in binary mode) a record, NUL-terminated;
 * a record that starts with `\` has GNU's escapes in its path (busybox has none). Returns path
 * bytes (latin1) → hash.
 */
function parseSums(buf) {
    const out = new Map();
    for (const f of nulFields(buf, 'sums')) {
        let text = f.toString('latin1');
        const escaped = text.startsWith('\\');
        if (escaped)
            text = text.slice(1);
        const m = /^([0-9a-f]{64}) [ *]\.\/(.+)$/s.exec(text);
        const p = m && (escaped ? unescapeSum(m[2]) : m[2]);
        if (!m || p === undefined || p === null) {
            throw new VerifyReplyError(`bad checksum record ${JSON.stringify((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(text, 200))}`);
        }
        out.set(p, m[1]);
    }
    return out;
}
/** The kept-assets record (.deploy/kept/<id>, keep-assets): `./path` a line. Path bytes (latin1). */
function parseKept(buf) {
    const out = new Set();
    for (const line of buf.toString('latin1').split('\n')) {
        if (line.startsWith('./') && line.length > 2)
            out.add(line.slice(2));
    }
    return out;
}
/** A path's bytes as the manifest's text, or undefined when they are not UTF-8 (no manifest has it). */
function utf8Path(raw) {
    const bytes = Buffer.from(raw, 'latin1');
    const s = bytes.toString('utf8');
    return Buffer.from(s, 'utf8').equals(bytes) ? s : undefined;
}
/** How a path is shown: UTF-8 when it is, else its bytes escaped. */
function shownPath(raw) {
    return (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(utf8Path(raw) ?? raw, 300);
}
/** Where link_shared (remote-lib.ts) points a shared path p: `../../` + one `../` per `/` + `shared/p`. */
function sharedLinkTarget(p) {
    return `../../${'../'.repeat(p.split('/').length - 1)}shared/${p}`;
}
const TYPE_WORD = { f: 'file', d: 'directory', l: 'symlink', o: 'special file' };
function modeWord(m) {
    return m.toString(8).padStart(4, '0');
}
/** What differs between the recorded entry and the one on the server (same path). */
function differenceOf(recorded, actual) {
    const path = actual.path;
    if (recorded.type !== actual.type) {
        return { path, kind: 'type', detail: `${TYPE_WORD[recorded.type]} -> ${TYPE_WORD[actual.type]}` };
    }
    if (actual.type === 'f' && actual.hash === '')
        return { path, kind: 'unreadable', detail: '' };
    const mode = recorded.mode !== actual.mode ? `mode ${modeWord(recorded.mode)} -> ${modeWord(actual.mode)}` : '';
    if (recorded.hash !== actual.hash || recorded.size !== actual.size) {
        const size = recorded.size !== actual.size ? `size ${recorded.size} -> ${actual.size}` : 'same size';
        return { path, kind: 'content', detail: [size, mode].filter(Boolean).join(', ') };
    }
    return { path, kind: 'mode', detail: mode.replace(/^mode /, '') };
}
/**
 * Builds the release's entries from the tree and the checksums. Shared links and kept files are
 * set apart; a directory not in the manifest that holds nothing but those (made by mkdir -p for
 * them) goes with them. `recorded`: the manifest's paths, when there is one.
 */
function actualTree(tree, sums, kept, recorded) {
    const out = { entries: [], unreadable: new Set(), shared: [], kept: [], foreign: [] };
    const own = new Map();
    const covered = new Set();
    for (const t of tree) {
        const p = utf8Path(t.raw);
        if (p === undefined || t.type === 'o') {
            out.foreign.push({
                path: shownPath(t.raw),
                kind: 'added',
                detail: p === undefined ? 'name is not UTF-8' : 'not a file, directory or symlink',
            });
            continue;
        }
        const inManifest = recorded?.has(p) ?? false;
        if (!inManifest && t.type === 'l' && t.target.toString('latin1') === sharedLinkTarget(t.raw)) {
            out.shared.push(p);
            covered.add(p);
            continue;
        }
        if (!inManifest && t.type === 'f' && kept.has(t.raw)) {
            out.kept.push(p);
            covered.add(p);
            continue;
        }
        const hash = t.type === 'f'
            ? (sums.get(t.raw) ?? '')
            : t.type === 'l'
                ? (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)('sha256').update(t.target).digest('hex')
                : '';
        if (t.type === 'f' && hash === '')
            out.unreadable.add(p);
        own.set(p, {
            type: t.type,
            mode: t.type === 'l' ? -1 : t.perm,
            size: t.type === 'f' ? t.size : -1,
            hash,
            path: p,
        });
    }
    // Directories deepest first: one that holds only covered entries (and is not the build's) is covered.
    const ancestors = (p) => {
        const parts = p.split('/');
        return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
    };
    const holdsOwn = new Set();
    const holdsCovered = new Set();
    const holdsShared = new Set();
    for (const p of covered)
        for (const a of ancestors(p))
            holdsCovered.add(a);
    for (const p of out.shared)
        for (const a of ancestors(p))
            holdsShared.add(a);
    for (const e of own.values())
        if (e.type !== 'd')
            for (const a of ancestors(e.path))
                holdsOwn.add(a);
    const dirs = [...own.values()]
        .filter((e) => e.type === 'd')
        .sort((a, b) => b.path.split('/').length - a.path.split('/').length);
    for (const d of dirs) {
        if (!(recorded?.has(d.path) ?? false) && !holdsOwn.has(d.path) && holdsCovered.has(d.path)) {
            own.delete(d.path);
            (holdsShared.has(d.path) ? out.shared : out.kept).push(d.path);
        }
        else
            for (const a of ancestors(d.path))
                holdsOwn.add(a);
    }
    // Unsorted: digestOf sorts, diffManifests needs no order.
    out.entries = [...own.values()];
    out.shared.sort();
    out.kept.sort();
    return out;
}
/** The digest in the deploy log for this release: of its last line that has one. */
function loggedDigest(logLines, release) {
    let found = '';
    for (const l of logLines) {
        const sp = l.indexOf(' ');
        try {
            const o = JSON.parse(l.slice(sp + 1));
            if (o && o.release === release && typeof o.digest === 'string' && DIGEST_RE.test(o.digest)) {
                found = o.digest;
            }
        }
        catch {
            // not JSON: the log's other readers name such lines
        }
    }
    return found;
}
/** Compares a release as the server has it with its record, the log and expected-digest. */
function compareRelease(input) {
    const tree = parseTree(input.tree, parseLinks(input.links));
    const sums = parseSums(input.sums);
    const kept = input.kept ? parseKept(input.kept) : new Set();
    const report = {
        release: input.release,
        manifest: 'missing',
        manifestProblem: '',
        recordedDigest: '',
        actualDigest: '',
        loggedDigest: loggedDigest(input.logLines, input.release),
        expectedDigest: input.expectedDigest,
        entries: 0,
        differences: [],
        digestProblems: [],
        shared: [],
        kept: [],
        verified: false,
    };
    let recorded;
    if (input.manifest) {
        const text = input.manifest.toString('utf8');
        try {
            if (!Buffer.from(text, 'utf8').equals(input.manifest))
                throw new _manifest_js__WEBPACK_IMPORTED_MODULE_1__/* .ManifestError */ .Sh('it is not UTF-8 text');
            recorded = (0,_manifest_js__WEBPACK_IMPORTED_MODULE_1__/* .parseManifest */ .Ng)(text);
            report.manifest = 'ok';
            report.recordedDigest = (0,_manifest_js__WEBPACK_IMPORTED_MODULE_1__/* .manifestDigest */ .It)(text);
        }
        catch (e) {
            report.manifest = 'corrupt';
            report.manifestProblem = (0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(e instanceof Error ? e.message : String(e), 500);
        }
    }
    const actual = actualTree(tree, sums, kept, recorded ? new Set(recorded.map((e) => e.path)) : undefined);
    report.actualDigest = (0,_manifest_js__WEBPACK_IMPORTED_MODULE_1__/* .digestOf */ .ol)(actual.entries);
    report.shared = actual.shared;
    report.kept = actual.kept;
    report.entries = actual.entries.length;
    if (recorded) {
        const byPath = new Map(recorded.map((e) => [e.path, e]));
        const d = (0,_manifest_js__WEBPACK_IMPORTED_MODULE_1__/* .diffManifests */ .ew)(recorded, actual.entries);
        report.differences = [
            ...d.changed.map((e) => differenceOf(byPath.get(e.path), e)),
            ...d.added.map((e) => ({ path: e.path, kind: 'added', detail: TYPE_WORD[e.type] ?? '' })),
            ...d.removed.map((e) => ({ path: e.path, kind: 'removed', detail: TYPE_WORD[e.type] ?? '' })),
        ];
        report.entries = recorded.length;
    }
    report.differences.push(...actual.foreign);
    report.differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const { recordedDigest: rec, loggedDigest: logged, expectedDigest: exp } = report;
    if (rec && logged && rec !== logged) {
        report.digestProblems.push(`the recorded manifest's digest is ${rec}, not the ${logged} the deploy log says it was published with: the manifest itself was changed`);
    }
    if (exp) {
        // The digest of what was built: the recorded one, else (no manifest) the tree's own.
        const against = rec || report.actualDigest;
        if (against !== exp) {
            report.digestProblems.push(`${rec ? 'its recorded digest' : 'the digest of its files'} is ${against}, not the expected ${exp} (${input.expectedName})`);
        }
    }
    report.verified =
        report.digestProblems.length === 0 &&
            report.differences.length === 0 &&
            (report.manifest === 'ok' || (report.manifest === 'missing' && exp !== ''));
    return report;
}
/** How many differing paths a message names before it says "and N more". */
const SHOWN_DIFFERENCES = 20;
function differenceLine(d) {
    const what = {
        content: 'content changed',
        mode: 'mode changed',
        type: 'type changed',
        added: 'added',
        removed: 'removed',
        unreadable: 'cannot be read on the server',
    };
    return `${what[d.kind]}: ${(0,_untrusted_js__WEBPACK_IMPORTED_MODULE_3__/* .untrusted */ .bp)(d.path, 300)}${d.detail ? ` (${d.detail})` : ''}`;
}
/** The differences as lines, at most `max`, then how many more. */
function differenceLines(ds, max = SHOWN_DIFFERENCES) {
    const lines = ds.slice(0, max).map(differenceLine);
    if (ds.length > max)
        lines.push(`… and ${ds.length - max} more`);
    return lines;
}
/** One line for a host's result: verified, or what stops it being so. */
function verdictLine(r) {
    if (r.verified) {
        return r.manifest === 'ok'
            ? `verified: ${r.entries} files match ${r.recordedDigest}`
            : `verified: ${r.entries} files match the expected ${r.expectedDigest} (no manifest was recorded for this release)`;
    }
    const parts = [];
    if (r.manifest === 'missing' && !r.expectedDigest && r.differences.length === 0) {
        return `not verified: release ${r.release} has no manifest (deployed by a version before manifests); its files' digest is ${r.actualDigest}`;
    }
    if (r.manifest === 'corrupt')
        parts.push(`its manifest cannot be read (${r.manifestProblem})`);
    if (r.differences.length)
        parts.push(`${r.differences.length} path(s) differ from its manifest`);
    parts.push(...r.digestProblems);
    return `NOT verified: ${parts.join('; ')}`;
}


/***/ }),

/***/ 846:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   d: () => (/* binding */ ACTION_WORDS)
/* harmony export */ });
const ACTION_WORDS = {
    input: (name, value) => (value === undefined ? name : `${name}: ${value}`),
    command: (name) => `command: ${name}`,
};


/***/ }),

/***/ 598:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");

/***/ }),

/***/ 24:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");

/***/ }),

/***/ 455:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs/promises");

/***/ }),

/***/ 995:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:module");

/***/ }),

/***/ 161:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");

/***/ }),

/***/ 760:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");

/***/ }),

/***/ 975:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");

/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/******/ // expose the modules object (__webpack_modules__)
/******/ __nccwpck_require__.m = __webpack_modules__;
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/compat get default export */
/******/ (() => {
/******/ 	// getDefaultExport function for compatibility with non-harmony modules
/******/ 	__nccwpck_require__.n = (module) => {
/******/ 		var getter = module && module.__esModule ?
/******/ 			() => (module['default']) :
/******/ 			() => (module);
/******/ 		__nccwpck_require__.d(getter, { a: getter });
/******/ 		return getter;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/ensure chunk */
/******/ (() => {
/******/ 	__nccwpck_require__.f = {};
/******/ 	// This file contains only the entry chunk.
/******/ 	// The chunk loading function for additional chunks
/******/ 	__nccwpck_require__.e = (chunkId) => {
/******/ 		return Promise.all(Object.keys(__nccwpck_require__.f).reduce((promises, key) => {
/******/ 			__nccwpck_require__.f[key](chunkId, promises);
/******/ 			return promises;
/******/ 		}, []));
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/get javascript chunk filename */
/******/ (() => {
/******/ 	// This function allow to reference async chunks
/******/ 	__nccwpck_require__.u = (chunkId) => {
/******/ 		// return url for filenames based on template
/******/ 		return "" + chunkId + ".index.js";
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/make namespace object */
/******/ (() => {
/******/ 	// define __esModule on exports
/******/ 	__nccwpck_require__.r = (exports) => {
/******/ 		if(typeof Symbol !== 'undefined' && Symbol.toStringTag) {
/******/ 			Object.defineProperty(exports, Symbol.toStringTag, { value: 'Module' });
/******/ 		}
/******/ 		Object.defineProperty(exports, '__esModule', { value: true });
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/import chunk loading */
/******/ (() => {
/******/ 	// no baseURI
/******/ 	
/******/ 	// object to store loaded and loading chunks
/******/ 	// undefined = chunk not loaded, null = chunk preloaded/prefetched
/******/ 	// [resolve, Promise] = chunk loading, 0 = chunk loaded
/******/ 	var installedChunks = {
/******/ 		792: 0
/******/ 	};
/******/ 	
/******/ 	var installChunk = (data) => {
/******/ 		var {ids, modules, runtime} = data;
/******/ 		// add "modules" to the modules object,
/******/ 		// then flag all "ids" as loaded and fire callback
/******/ 		var moduleId, chunkId, i = 0;
/******/ 		for(moduleId in modules) {
/******/ 			if(__nccwpck_require__.o(modules, moduleId)) {
/******/ 				__nccwpck_require__.m[moduleId] = modules[moduleId];
/******/ 			}
/******/ 		}
/******/ 		if(runtime) runtime(__nccwpck_require__);
/******/ 		for(;i < ids.length; i++) {
/******/ 			chunkId = ids[i];
/******/ 			if(__nccwpck_require__.o(installedChunks, chunkId) && installedChunks[chunkId]) {
/******/ 				installedChunks[chunkId][0]();
/******/ 			}
/******/ 			installedChunks[ids[i]] = 0;
/******/ 		}
/******/ 	
/******/ 	}
/******/ 	
/******/ 	__nccwpck_require__.f.j = (chunkId, promises) => {
/******/ 			// import() chunk loading for javascript
/******/ 			var installedChunkData = __nccwpck_require__.o(installedChunks, chunkId) ? installedChunks[chunkId] : undefined;
/******/ 			if(installedChunkData !== 0) { // 0 means "already installed".
/******/ 	
/******/ 				// a Promise means "currently loading".
/******/ 				if(installedChunkData) {
/******/ 					promises.push(installedChunkData[1]);
/******/ 				} else {
/******/ 					if(true) { // all chunks have JS
/******/ 						// setup Promise in chunk cache
/******/ 						var promise = import("./" + __nccwpck_require__.u(chunkId)).then(installChunk, (e) => {
/******/ 							if(installedChunks[chunkId] !== 0) installedChunks[chunkId] = undefined;
/******/ 							throw e;
/******/ 						});
/******/ 						var promise = Promise.race([promise, new Promise((resolve) => (installedChunkData = installedChunks[chunkId] = [resolve]))])
/******/ 						promises.push(installedChunkData[1] = promise);
/******/ 					}
/******/ 				}
/******/ 			}
/******/ 	};
/******/ 	
/******/ 	// no prefetching
/******/ 	
/******/ 	// no preloaded
/******/ 	
/******/ 	// no external install chunk
/******/ 	
/******/ 	// no on chunks loaded
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(581);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
