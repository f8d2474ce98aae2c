export const id = 217;
export const ids = [217];
export const modules = {

/***/ 1056:
/***/ ((module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   reportOutcome: () => (/* binding */ reportOutcome)
/* harmony export */ });
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1938);
/* harmony import */ var _doctor_action_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5291);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6264);
/* harmony import */ var _outputs_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(7729);
/* harmony import */ var _summary_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(8855);
/* harmony import */ var _verify_render_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(8463);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__, _doctor_action_js__WEBPACK_IMPORTED_MODULE_1__, _summary_js__WEBPACK_IMPORTED_MODULE_3__]);
([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__, _doctor_action_js__WEBPACK_IMPORTED_MODULE_1__, _summary_js__WEBPACK_IMPORTED_MODULE_3__] = __webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__);
/**
 * What the action's main step shows of an outcome once the command has ended: the tables, the way
 * back, the outputs and the job summary. Loaded with the commands (main.ts), not before the
 * connection opens.
 */






async function reportOutcome(settings, outcome, reporter) {
    // The core returns the releases; the log shows them as a table too (the CLI prints its own).
    if (settings.command === 'list' && outcome.releases.length > 0) {
        reporter.info((0,_format_js__WEBPACK_IMPORTED_MODULE_2__/* .releaseLines */ .xe)(outcome.releases).join('\n'));
    }
    if (outcome.verify)
        reporter.info((0,_verify_render_js__WEBPACK_IMPORTED_MODULE_4__/* .verifyText */ .B)(outcome).trimEnd());
    const back = (0,_summary_js__WEBPACK_IMPORTED_MODULE_3__/* .wayBack */ .lZ)(settings, outcome);
    if (back)
        reporter.info((0,_summary_js__WEBPACK_IMPORTED_MODULE_3__/* .actionRollbackText */ .AN)(back));
    _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .setOutputs */ .n0((0,_outputs_js__WEBPACK_IMPORTED_MODULE_5__/* .actionOutputs */ .dr)(outcome));
    if (outcome.doctor)
        await (0,_doctor_action_js__WEBPACK_IMPORTED_MODULE_1__/* .reportDoctor */ .u)(outcome.doctor); // command: doctor (doctor-action.ts)
    else
        await (0,_summary_js__WEBPACK_IMPORTED_MODULE_3__/* .writeSummary */ .Sy)(settings, outcome).catch((e) => _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .warning */ .$e(`Could not write the job summary: ${e}`));
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } });

/***/ }),

/***/ 6441:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   W8: () => (/* binding */ noteSpecial),
/* harmony export */   Z8: () => (/* binding */ specialFilesWarning),
/* harmony export */   p9: () => (/* binding */ specialFiles)
/* harmony export */ });
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6264);



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

/***/ 1676:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  dispatch: () => (/* binding */ dispatch)
});

// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(3916);
// EXTERNAL MODULE: ./src/format.ts
var format = __webpack_require__(6264);
// EXTERNAL MODULE: ./src/history.ts
var src_history = __webpack_require__(8155);
// EXTERNAL MODULE: ./src/outcome.ts
var src_outcome = __webpack_require__(4671);
// EXTERNAL MODULE: ./src/remote.ts + 1 modules
var src_remote = __webpack_require__(4769);
// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __webpack_require__(7975);
// EXTERNAL MODULE: ./src/spec.ts
var spec = __webpack_require__(6188);
;// CONCATENATED MODULE: ./src/cli/parse.ts
/**
 * The command line, step 1: argv → a command and flag values (node:util parseArgs). The flags
 * that feed inputs come from src/spec.ts; the CLI's own (--json, --verbose…) are listed here.
 */


const BIN = 'rsync-atomic-deploy';
/** Kept equal to package.json's version (a test checks). */
const parse_VERSION = '0.1.0';
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
    ...spec/* INPUTS */.mc.flatMap((input) => (input.flags ?? []).map((f) => ({
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
const BOOLEAN_INPUTS = new Set(spec/* INPUTS */.mc.filter((i) => i.kind === 'boolean').map((i) => i.name));
/** The naming rule: input `known-hosts` ↔ variable `RAD_KNOWN_HOSTS`. */
function envName(input) {
    return `RAD_${input.toUpperCase().replace(/-/g, '_')}`;
}
const SEE_HELP = (/* unused pure expression or super */ null && (`See: ${BIN} --help`));
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
        parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
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

// EXTERNAL MODULE: ./src/quote.ts
var quote = __webpack_require__(4519);
// EXTERNAL MODULE: ./src/remote-lib.ts
var remote_lib = __webpack_require__(4095);
;// CONCATENATED MODULE: ./src/gate.ts
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
    const ours = `this rsync-atomic-deploy (${parse_VERSION}) speaks protocol ${src_remote/* GATE_PROTOCOL */.nc}`;
    if (!gate) {
        return new errors/* DeployError */.s(`${label}: the key is gated and the gate does not speak ${ours}.`, 'Install the gate of this version on the server: rsync-atomic-deploy gate > rsync-atomic-deploy-gate.', 'gate-protocol');
    }
    const theirs = `protocol ${gate.min === gate.max ? gate.min : `${gate.min} to ${gate.max}`}`;
    if (gate.min <= src_remote/* GATE_PROTOCOL */.nc && src_remote/* GATE_PROTOCOL */.nc <= gate.max) {
        // The same protocol, but a script or value this gate does not know: it is an older build.
        return new errors/* DeployError */.s(`${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) does not know a script or value that this rsync-atomic-deploy (${parse_VERSION}) sends${why ? `: ${why}` : ''}.`, 'Update the gate on the server to this version: `rsync-atomic-deploy gate > /usr/local/bin/rsync-atomic-deploy-gate` (as root).', 'gate-protocol');
    }
    const older = gate.max < src_remote/* GATE_PROTOCOL */.nc;
    return new errors/* DeployError */.s(`${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) is ${older ? 'older' : 'newer'} than this client: it speaks ${theirs}, ${ours}.`, older
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
    target: (0,remote_lib.sh) `[ "\${2%/}" = "$gate_target" ] || gate_refuse gate-refused "this key deploys to $gate_target only: another target ($1) was asked for"`,
    link: (0,remote_lib.sh) `case $2 in releases|shared|.deploy|[!A-Za-z0-9_]*|*[!A-Za-z0-9._-]*) gate_bad "$1" "a plain name" ;; esac
  [ "\${#2}" -le 100 ] || gate_bad "$1" "a plain name"`,
    token: (0,remote_lib.sh) `case $2 in '' | *[!A-Za-z0-9]*) gate_bad "$1" "letters and digits" ;; esac
  [ "\${#2}" -le 64 ] || gate_bad "$1" "letters and digits"`,
    uint: (0,remote_lib.sh) `case $2 in '' | *[!0-9]*) gate_bad "$1" "a whole number" ;; esac
  [ "\${#2}" -le 9 ] || gate_bad "$1" "a whole number"`,
    flag: (0,remote_lib.sh) `case $2 in '' | 0 | 1) ;; *) gate_bad "$1" "0 or 1" ;; esac`,
    name: (0,remote_lib.sh) `[ -z "$2" ] || gate_name "$1" "$2"`,
    names: (0,remote_lib.sh) `case $2 in *[!A-Za-z0-9._\ -]*) gate_bad "$1" "release ids" ;; esac
  set -f
  for gw in $2; do gate_name "$1" "$gw"; done
  set +f`,
    shared: (0,remote_lib.sh) `gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case "/$gp/" in //* | */./* | */../* | *//*) IFS=$gs_ifs; gate_bad "$1" "relative paths inside the release" ;; esac
    case $gp in *[[:cntrl:]]*) IFS=$gs_ifs; gate_bad "$1" "paths without control characters" ;; esac
  done
  IFS=$gs_ifs; set +f`,
    text: (0,remote_lib.sh) `case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of text" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
    json: (0,remote_lib.sh) `case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of JSON" ;; '{'*'}') ;; *) gate_bad "$1" "a JSON object" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
    // keep-assets (keep-assets.ts findPathPattern): ./ then the input's charset, no . or .. part.
    patterns: (0,remote_lib.sh) `gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case $gp in ./*) ;; *) IFS=$gs_ifs; gate_bad "$1" "find -path patterns starting ./" ;; esac
    case "\${gp#./}/" in */./* | */../* | ./* | ../* | *//* | *[!A-Za-z0-9._~@+*?/-]*) IFS=$gs_ifs; gate_bad "$1" "patterns of letters, digits and . _ - ~ @ + * ? /" ;; esac
  done
  IFS=$gs_ifs; set +f
  [ "\${#2}" -le 30000 ] || gate_bad "$1" "at most 30000 characters"`,
    // The build's manifest (manifest.ts), or the fast path's delta (fast-path.ts): its lines are
    // only written to the manifest area and compared with the server's own find; every path removed
    // or linked comes from that find, never from it.
    manifest: (0,remote_lib.sh) `case $2 in '' | 'rad-manifest 1' | "rad-manifest 1$NL"*) ;; *) gate_bad "$1" "a release manifest" ;; esac`,
    mode: (0,remote_lib.sh) `case $2 in '' | [0-7][0-7][0-7][0-7]) ;; *) gate_bad "$1" "4 octal digits" ;; esac`,
    digest: (0,remote_lib.sh) `case $2 in '' | sha256:????????????????????????????????????????????????????????????????) ;; *) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac
  case \${2#sha256:} in *[!0-9a-f]*) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac`,
    hook: (0,remote_lib.sh) `[ -z "$2" ] || gate_refuse hook-refused "the client sent a $1 command, and through this key only hooks the server's owner installed run (executable files in $gate_target/.deploy/hooks/ that the deploy user cannot change); nothing was changed"`,
};
/** The gate's own functions, before the generated tables and the library. */
const GATE_HEAD = (0,remote_lib.sh) `
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
const GATE_SCRIPT = (0,remote_lib.sh) `
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
    const names = Object.keys(SCRIPTS);
    const vars = Object.entries(VAR_RULES);
    const out = [
        '#!/bin/sh',
        `# rsync-atomic-deploy-gate ${VERSION} (protocol ${GATE_PROTOCOL}). GENERATED by \`rsync-atomic-deploy gate\``,
        '# from the same scripts the tool sends (src/gate.ts, src/remote.ts): do not edit, regenerate.',
        '# A forced command for a deploy key that can only deploy, in ~/.ssh/authorized_keys:',
        '#   command="/usr/local/bin/rsync-atomic-deploy-gate /var/www/example.com",restrict ssh-ed25519 AAAA...',
        `GATE_VERSION='${VERSION}'`,
        `GATE_PROTO_MIN=${GATE_PROTOCOL}`,
        `GATE_PROTO_MAX=${GATE_PROTOCOL}`,
        `GATE_WIRE_END='${WIRE_END}'`,
        `GATE_RUN='${RUN}'`,
        'gate_target=${1:-}',
        body(GATE_HEAD),
        ...Object.entries(RULES).map(([rule, text]) => `gate_rule_${rule}() {\n  ${text}\n}`),
        `gate_defaults() {\n${vars.map(([n, r]) => `  ${n}=${r === 'uint' ? 0 : "''"}`).join('\n')}\n}`,
        // An unknown name: a newer client's (or a thief's); either way refused, saying to update the gate.
        `gate_set() {\n  case $1 in\n${vars.map(([n, r]) => `    ${n}) gate_rule_${r} "$1" "$2"; ${n}=$2 ;;`).join('\n')}\n    *) gate_refuse gate-protocol "this gate ($GATE_VERSION) does not know the value $1: update the gate" ;;\n  esac\n}`,
        `gate_known() {\n  case $1 in ${names.join(' | ')}) return 0 ;; esac\n  return 1\n}`,
        `rad_lib() {\n${body(SERVER_LIB)}\n}`,
        ...names.map((n) => `rad_s_${n}() {\n${body(SCRIPTS[n])}\n}`),
        body(GATE_SCRIPT),
        '',
    ];
    return out.join('\n');
}

// EXTERNAL MODULE: ./src/hints.ts
var hints = __webpack_require__(9957);
// EXTERNAL MODULE: ./src/ssh.ts + 3 modules
var src_ssh = __webpack_require__(8679);
// EXTERNAL MODULE: ./src/untrusted.ts
var untrusted = __webpack_require__(873);
// EXTERNAL MODULE: ./src/words.ts
var src_words = __webpack_require__(5846);
;// CONCATENATED MODULE: ./src/session.ts







/** How this run's messages name inputs and commands. */
function wordsOf(ctx) {
    return ctx.words ?? src_words/* ACTION_WORDS */.d;
}
/** A short-lived signal for clean-up after the main one was aborted (timeout, cancel). */
function cleanupSignal() {
    return AbortSignal.timeout(30_000);
}
/** The bound of the clean-up after giving up (stop, read back, unlock): the step ends within timeout + 10 s. */
function giveUpSignal() {
    return AbortSignal.timeout(6_000);
}
/**
 * What the lock lines of a reply (`lock taken|kept|released|not-ours`, in order) leave the lock
 * as; `complete` when the script ran to its end (a reply that says ok or names its error): then a
 * lock that was only maybe ours was never taken.
 */
function lockAfter(before, said, complete) {
    const last = said.at(-1)?.split(' ')[0];
    if (last === 'taken' || last === 'kept')
        return 'held';
    if (last === 'released' || last === 'not-ours')
        return 'free';
    return before === 'maybe' && complete ? 'free' : before;
}
/** Seconds a deploy waits for another one's lock before it fails naming the holder. */
function lockWaitSeconds(timeoutSeconds) {
    return Math.max(4, Math.min(300, Math.floor(timeoutSeconds / 3)));
}
/** One server, reached over its one multiplexed connection. */
class HostSession {
    ctx;
    index;
    spec;
    /** Set once the shared connection dropped: later calls each open a connection of their own. */
    fresh = false;
    /**
     * The gate this host's key is forced through (gate.ts), as its first reply said; undefined for
     * a key with a shell. rsync then goes without --protect-args (the gate checks its command line).
     */
    gate;
    /** Learned from what the scripts report; every change is told to ctx.onLock (the post step). */
    lockState = 'free';
    /** A session opened ahead of its call (openAhead), waiting for its script. */
    ahead;
    /** Sessions opened ahead so far (at most two: see openAhead). */
    aheadOpened = 0;
    /**
     * The server refused a session opened ahead: it allows one at a time. A session asked for just
     * after the last one ended may then be refused too (the server not yet done closing it), and ssh
     * would connect on its own: from then on every session and upload is over the master only, and
     * asked again after a refusal (nothing ran).
     */
    oneSession = false;
    constructor(ctx, index, spec) {
        this.ctx = ctx;
        this.index = index;
        this.spec = spec;
    }
    /** Whether the lock is ours as far as the server told us (`maybe`: a call cut short may have taken it). */
    get lock() {
        return this.lockState;
    }
    setLock(next) {
        const was = this.lockState !== 'free';
        this.lockState = next;
        if (was !== (next !== 'free'))
            this.ctx.onLock?.(this.index, next !== 'free');
    }
    get label() {
        return this.spec.label;
    }
    /** Values every script gets: the target, the link, our lock token and who we are. */
    baseVars() {
        const s = this.ctx.settings;
        return {
            T: s.target,
            LINK: s.linkName,
            TOKEN: this.ctx.token,
            LEFT: Math.max(1, Math.ceil((this.ctx.deadline - Date.now()) / 1000)),
            LOCK_WAIT: lockWaitSeconds(s.timeoutSeconds),
            LOCK_TTL: s.timeoutSeconds + 120,
            LOCK_OWNER: JSON.stringify({
                run: s.meta.runUrl,
                actor: s.meta.actor,
                ref: s.meta.ref,
                sha: s.meta.sha,
                command: s.command,
                release: s.releaseId,
                since: new Date().toISOString(),
            }),
        };
    }
    /**
     * Opens the session of a call that comes later (publish, while rsync uploads): its channel, the
     * login shell and `sh -s` are ready when the call comes, which saves their round trips. sh reads
     * its script from stdin, so nothing runs until the call gives it; a session never called gets
     * none (dropAhead ends its stdin: sh reads an empty script and exits). Not through a gate (which
     * would log the empty call as refused), nor once the connection is in doubt.
     */
    openAhead(name) {
        // One that ended unused (refused by a server that allows one session at a time) is retried
        // once, beside rsync; never more (each refusal can cost the server a failed login).
        if ((this.ahead && !this.ahead.settled) || this.aheadOpened >= 2)
            return;
        // A server known to allow one session refuses it (its refusal still costs the server a try).
        if (this.oneSession)
            return;
        if (this.fresh || this.gate || this.ctx.signal.aborted)
            return;
        this.aheadOpened++;
        this.ahead?.give(null);
        let give = () => { };
        const input = new Promise((resolve) => {
            give = resolve;
        });
        const hooks = {};
        const state = { settled: false };
        let opened = () => { };
        const open = new Promise((resolve) => {
            opened = resolve;
        });
        const settle = () => {
            state.settled = true;
            opened(false);
        };
        const exec = this.ctx.ssh.exec(this.index, input, {
            command: (0,src_remote/* remoteCommand */.S2)(name),
            // The library and the script, read and defined by sh while it waits for the call.
            preface: (0,src_remote/* renderAhead */.Op)(name),
            // Refused (a server that allows one session), it ends: it never connects on its own.
            muxOnly: true,
            signal: this.ctx.signal,
            // Its first byte (AHEAD_OPEN, or a login shell's text) says the server took the session.
            onStdout: (c) => {
                opened(true);
                hooks.onStdout?.(c);
            },
            onStderr: (c) => hooks.onStderr?.(c),
            // Known at its exit, not after its output is drained: a call never gives it its script then.
            onExit: settle,
        });
        // Refused: this server allows one session at a time (see oneSession), known to whoever awaits it.
        const result = exec.then((r) => {
            if ((0,src_ssh/* refusedSession */.V0)(r, true))
                this.oneSession = true;
            return r;
        });
        result.then(settle, settle);
        const ahead = {
            name,
            give,
            get settled() {
                return state.settled;
            },
            open,
            result,
            hooks,
        };
        this.ahead = ahead;
    }
    /**
     * Before rsync opens a session of its own: a session opened ahead that no call took is ended
     * first (and waited for, briefly). On a server that allows one session, it would otherwise hold
     * rsync's place, and ssh would take rsync around the master (a second connection, which fails
     * where the key needs its passphrase). (prepare opens one only when nothing is to be uploaded.)
     */
    async makeRoom() {
        const a = this.ahead;
        this.ahead = undefined;
        if (a)
            await endAhead(a);
    }
    /** Ends a session opened ahead that no call took (the run failed or went another way). */
    dropAhead() {
        this.ahead?.give(null);
        this.ahead = undefined;
    }
    /** Runs a remote script; a reported error becomes a DeployError with its hint. */
    async call(name, vars, opts = {}) {
        const all = { ...this.baseVars(), ...vars };
        // Said before the call: if we are killed before its reply, the post step still looks.
        if (this.lockState === 'free' && (0,src_remote/* mayTakeLock */.UO)(name, vars))
            this.setLock('maybe');
        // Said while it happens: a wait for another run's lock can last minutes.
        // Linear however long a line the server sends; only a bounded start of each line is kept.
        const lines = new untrusted/* LineSplitter */.g3((l) => {
            if (l.startsWith(`${src_remote/* MARK */.M$} waiting `)) {
                this.ctx.reporter.info(`${this.label}: waiting for the deploy lock, held by ${(0,untrusted/* untrusted */.bp)(l.slice(src_remote/* MARK */.M$.length + 9))}`);
            }
        });
        const onStdout = (chunk) => {
            lines.push(chunk);
            opts.onStdout?.(chunk);
        };
        // After a timeout or cancel only clean-up calls remain: they get a connection of their own,
        // as the shared one may be what hung (a stalled link keeps it open and silent).
        const fresh = this.ctx.signal.aborted || this.fresh;
        // The session opened ahead for this script, if it is still there and nothing else is asked.
        const ahead = this.ahead;
        this.ahead = undefined;
        const useAhead = ahead?.name === name && !ahead.settled && !fresh && opts.signal === undefined;
        // Any other call first ends it: a server that allows one session per connection (MaxSessions
        // 1) has no room for both.
        if (ahead && !useAhead)
            await endAhead(ahead);
        // Given its script only once the server has taken it: one not yet answered may still be refused
        // (exit 255, a session that never ran), and the call would read that as the connection lost.
        const taken = ahead !== undefined && useAhead && (await ahead.open);
        // Ended with nothing run: refused (then oneSession is set once its result is in) or its
        // connection dropped (the call finds out).
        if (ahead && useAhead && !taken)
            await ahead.result.catch(() => undefined);
        let result;
        if (ahead && taken) {
            ahead.hooks.onStdout = onStdout;
            ahead.hooks.onStderr = opts.onStderr;
            ahead.give((0,src_remote/* renderCall */.Jy)(all));
            result = await ahead.result;
            result = { ...result, stdout: (0,src_remote/* withoutAheadLine */.Gv)(result.stdout) };
        }
        else {
            const script = (0,src_remote/* renderScript */.y9)(name, all);
            result = await overMaster(this, fresh, (muxOnly) => this.ctx.ssh.exec(this.index, script, {
                command: (0,src_remote/* remoteCommand */.S2)(name),
                signal: opts.signal ?? this.ctx.signal,
                onStdout,
                onStderr: opts.onStderr,
                fresh,
                muxOnly,
            }), true);
        }
        // Refused every time (a server that allows one session, slow to close the last): nothing ran.
        if ((0,src_ssh/* refusedSession */.V0)(result, true))
            throw sessionRefused(this.label, name);
        const reply = (0,src_remote/* parseReply */.UV)(result.stdout);
        // Every reply through a gate starts by naming it: no round trip of its own.
        const gate = parseGateLine((0,src_remote/* first */.$1)(reply, 'gate'));
        if (gate)
            this.gate = gate;
        if (reply.error?.code === 'gate-protocol')
            throw gateProtocolError(this.label, gate, reply.error.message);
        // What the script said of the lock, even in a reply cut short (all of it that arrived).
        const complete = !result.aborted && (reply.ok || reply.error !== undefined);
        this.setLock(lockAfter(this.lockState, reply.values.get('lock') ?? [], complete));
        for (const w of reply.warnings)
            this.ctx.reporter.warning(`${this.label}: ${w}`);
        for (const l of reply.other)
            opts.onOther?.(l);
        if (result.aborted)
            throw new errors/* DeployError */.s(`${this.label}: cancelled during ${name}.`, '', 'cancelled');
        if (reply.error) {
            const s = this.ctx.settings;
            // A hook's own output (stderr) is what explains its failure: keep its end in the message.
            const output = reply.error.code === 'hook-failed'
                ? (0,untrusted/* untrustedLines */.mU)(result.stderr)
                    .map((l) => `${this.label} | ${l}`)
                    .join('\n')
                : '';
            throw new errors/* DeployError */.s(`${this.label}: ${reply.error.message}${output ? `\n${output}` : ''}`, gateHint(reply.error.code) ||
                (0,hints/* remoteErrorHint */.yj)(reply.error.code, {
                    target: s.target,
                    linkName: s.linkName,
                    user: this.spec.user,
                    words: this.ctx.words,
                }), reply.error.code);
        }
        const saidNothing = reply.values.size === 0 && reply.warnings.length === 0;
        if (!reply.ok && saidNothing && result.code !== 255) {
            // Not one line from our script: the login shell never ran it, or a startup file ended it.
            throw (0,hints/* loginShellFailure */.Iu)({
                label: this.label,
                user: this.spec.user,
                code: result.code,
                said: [...reply.other, ...(result.stderr.trim() ? (0,untrusted/* untrustedLines */.mU)(result.stderr, 5) : [])].slice(0, 5),
            });
        }
        if (result.code !== 0 || !reply.ok) {
            const stderr = result.stderr.trim() ? (0,untrusted/* untrustedLines */.mU)(result.stderr, 6).join('\n') : '';
            const lost = result.code === 255;
            const why = lost ? 'the SSH connection failed or dropped' : `exit code ${result.code}`;
            throw new errors/* DeployError */.s(`${this.label}: the server step '${name}' failed (${why}).${stderr ? `\n${stderr}` : ''}`, '', 
            // No complete reply over a dead connection: what the server did is unknown (see recover).
            lost ? 'connection-lost' : 'remote');
        }
        return reply;
    }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());
/** A session the server refused at every try: what did not run, and what to change. */
function sessionRefused(label, step) {
    return new errors/* DeployError */.s(`${label}: the server refused a new SSH session at every try (it allows one at a time and had not closed the last); '${step}' did not run.`, 'Allow a few sessions per connection on the server (MaxSessions in sshd_config, the default is 10), then deploy again.', 'session-refused');
}
/**
 * Runs `attempt` (a session or an upload over host `session`'s master). On a server that allows one
 * session at a time (session.oneSession), over the master only, and again after a refusal, a few
 * times, waiting longer each time (~1.5 s in all): the server was still closing the last session.
 */
async function overMaster(session, fresh, attempt, 
/** `attempt` runs ssh itself (see refusedSession). */
ssh = false) {
    for (let i = 0;; i++) {
        const one = session.oneSession && !fresh;
        const result = await attempt(one);
        if (!one || i >= 5 || !(0,src_ssh/* refusedSession */.V0)(result, ssh))
            return result;
        await sleep(50 * 2 ** i);
    }
}
/** Ends a session opened ahead with nothing run, and waits (briefly) for its channel to close. */
async function endAhead(a) {
    a.give(null);
    if (!a.settled)
        await Promise.race([a.result.catch(() => { }), sleep(3000)]);
}
/** Runs `fn` over items with at most `limit` at once; resolves with every result in order. */
async function pool(items, limit, fn) {
    const results = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

;// CONCATENATED MODULE: ./src/host.ts




/** A release or upload name from the server that may be used in a path: plain, bounded. */
const SAFE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** `warn` is told about log lines that were skipped (by line number). */
function readServerState(reply, warn) {
    const live = (0,src_remote/* first */.$1)(reply, 'live');
    const log = (0,src_history/* parseNumberedLog */._9)((0,src_remote/* all */.Q7)(reply, 'log'), (0,src_remote/* all */.Q7)(reply, 'log-long'));
    const problems = (0,src_history/* logProblemsWarning */.dD)(log.problems);
    if (problems)
        warn?.(problems);
    return {
        live: SAFE_NAME_RE.test(live) ? live : '',
        releases: (0,src_remote/* all */.Q7)(reply, 'release').filter((r) => SAFE_NAME_RE.test(r)),
        log: log.entries,
        freeKb: Number((0,src_remote/* first */.$1)(reply, 'free-kb')) || 0,
    };
}
/** A run for every host of the settings; `attempted` is the release the command tries to make live. */
function hostRuns(ctx, attempted) {
    return ctx.settings.hosts.map((spec, i) => ({
        session: new HostSession(ctx, i, spec),
        start: Date.now(),
        state: undefined,
        result: (0,src_outcome/* blankResult */.mE)(spec.label, attempted),
    }));
}
/** The deploy log line of an event on one host, with who and what caused it. */
function newEntry(ctx, host, release, event, from) {
    const m = ctx.settings.meta;
    return {
        release,
        event,
        time: new Date().toISOString(),
        from: from || undefined,
        sha: m.sha,
        ref: m.ref,
        actor: m.actor,
        run: m.runUrl,
        host,
    };
}

;// CONCATENATED MODULE: ./src/switch.ts


/** go_live's variables for a plan, and the log line they carry (recover looks for it). */
function goLiveVars(ctx, host, plan) {
    const entry = newEntry(ctx, host.session.label, plan.id, plan.event, plan.from);
    if (plan.digest)
        entry.digest = plan.digest;
    return {
        ID: plan.id,
        PREV: plan.prev ?? '',
        LOGLINE: (0,src_history/* logLine */.BP)(entry),
        PRUNE: plan.prune ? plan.prune(entry).join(' ') : '',
        MEASURE: plan.measure ? 1 : 0,
        KEEP_FROM: (plan.keepFrom ?? []).join(' '),
    };
}
const flag = (b) => (b ? 1 : 0);
/**
 * Switches one host's link (the switchTo script) to what `vars` say (see goLiveVars). `take`: take
 * the lock first (we no longer hold it); `keepLock`: keep it past the switch (more steps follow).
 * The session learns the lock's state from the reply.
 */
function switchTo(host, vars, lock, signal) {
    return host.session.call('switchTo', { ...vars, TAKE: flag(lock.take), KEEP_LOCK: flag(lock.keepLock) }, { signal });
}

;// CONCATENATED MODULE: ./src/commands.ts









/** rollback, list, prune and unlock: each one short remote call per host over its one connection. */
function setup(ctx) {
    const s = ctx.settings;
    return hostRuns(ctx, s.command === 'rollback' ? s.rollbackTo : '');
}
/** Connects and reads each host's state (taking the lock when asked); collects failures. */
async function inspectAll(ctx, hosts, takeLock) {
    const failures = [];
    await pool(hosts, ctx.settings.maxParallel, async (h) => {
        try {
            await ctx.ssh.connect(h.session.index, h.session.label, ctx.signal);
            const reply = await h.session.call('inspect', {
                TAKE_LOCK: takeLock ? 1 : 0,
                // A rollback renames the link: the server must be able to, before the lock is taken.
                NEED_SWAP: takeLock && ctx.settings.command === 'rollback' ? 1 : 0,
                CHECK_DEPLOY: 0,
                ID: '',
            });
            h.state = readServerState(reply, (m) => ctx.reporter.warning(`${h.session.label}: ${m}`));
            const lock = (0,src_remote/* first */.$1)(reply, 'locked-by');
            if (lock)
                ctx.reporter.info(`${h.session.label}: locked by ${lock}`);
            (0,src_outcome/* setLive */.jN)(h.result, ctx.settings.target, h.state.live);
            h.result.freeKb = h.state.freeKb;
            h.result.status = 'not-switched';
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            h.result.error = err.message;
            failures.push(err);
        }
        h.result.durationMs = Date.now() - h.start;
    });
    return failures;
}
async function unlockAll(ctx, hosts) {
    await Promise.all(hosts
        .filter((h) => h.session.lock === 'held')
        .map(async (h) => {
        try {
            await h.session.call('releaseLock', { FORCE: 0, DISCARD: '', UNPUBLISH: '' }, 
            // After a timeout or cancel: within the bound the step promises (timeout + 10 s).
            { signal: ctx.signal.aborted ? giveUpSignal() : cleanupSignal() });
        }
        catch (e) {
            ctx.reporter.warning(`${h.session.label}: could not release the lock: ${(0,src_outcome/* toDeployError */.pH)(e).message}`);
        }
    }));
}
function outcome(hosts, releases, error) {
    const first = hosts[0]?.result;
    return {
        releaseId: first?.releaseId ?? '',
        hosts: hosts.map((h) => h.result),
        rolledBack: false,
        error,
        releases,
    };
}
/** Hosts that serve different releases are worth a loud word. */
function reportDisagreement(ctx, hosts) {
    const lives = new Set(hosts.map((h) => h.state?.live ?? ''));
    if (hosts.length > 1 && lives.size > 1) {
        ctx.reporter.warning(`The hosts do not serve the same release: ${hosts.map((h) => `${h.session.label}=${h.state?.live || '(none)'}`).join(', ')}`);
    }
}
/** Which release a host rolls back to, or why it cannot. */
function chooseRollback(state, rollbackTo, words = src_words/* ACTION_WORDS */.d) {
    const existing = new Set(state.releases);
    if (rollbackTo) {
        if (!existing.has(rollbackTo)) {
            return {
                problem: `release ${rollbackTo} is not on the server`,
                hint: `Releases there: ${state.releases.join(', ') || '(none)'}. Run ${words.command('list')} to see them.`,
            };
        }
        if (rollbackTo === state.live)
            return { problem: `release ${rollbackTo} is already live`, hint: '' };
        return { target: rollbackTo };
    }
    if (!state.live)
        return { problem: 'nothing is live, so there is nothing to roll back from', hint: '' };
    const target = (0,src_history/* rollbackTarget */.es)(state.log, state.live, existing);
    if (!target) {
        return {
            problem: `the deploy log knows no good release that was live before ${state.live}`,
            hint: `Give ${words.input('rollback-to')} with a release id (${words.command('list')} shows them).`,
        };
    }
    return { target };
}
async function runRollback(ctx) {
    const s = ctx.settings;
    const hosts = setup(ctx);
    const failures = await inspectAll(ctx, hosts, true);
    if (failures.length > 0) {
        await unlockAll(ctx, hosts);
        return outcome(hosts, [], (0,src_outcome/* fleetFailure */.BV)(failures, hosts.length, 'Rollback'));
    }
    reportDisagreement(ctx, hosts);
    // A fleet that disagreed (some hosts already on rollback-to) is brought together: those stay.
    const already = s.rollbackTo ? hosts.filter((h) => h.state?.live === s.rollbackTo) : [];
    const moving = already.length < hosts.length ? hosts.filter((h) => !already.includes(h)) : hosts;
    for (const h of moving === hosts ? [] : already) {
        ctx.reporter.info(`${h.session.label}: already on ${s.rollbackTo}`);
    }
    const choices = moving.map((h) => chooseRollback(h.state, s.rollbackTo, ctx.words));
    const problems = choices.flatMap((c, i) => 'problem' in c ? [`${moving[i]?.session.label}: ${c.problem}`] : []);
    const targets = new Set(choices.flatMap((c) => ('target' in c ? [c.target] : [])));
    if (problems.length > 0 || targets.size > 1) {
        await unlockAll(ctx, hosts);
        const first = choices.find((c) => 'problem' in c);
        const msg = problems.length > 0
            ? `Rollback refused: ${problems.join('; ')}`
            : `Rollback refused: the hosts would go to different releases (${moving.map((h, i) => `${h.session.label} -> ${'target' in (choices[i] ?? {}) ? choices[i].target : '?'}`).join(', ')}).`;
        const hint = first && 'hint' in first ? first.hint : 'Give rollback-to to choose one release for every host.';
        return outcome(hosts, [], new errors/* DeployError */.s(msg, hint, 'rollback-refused'));
    }
    const target = [...targets][0];
    const switchFailures = [];
    await Promise.all(moving.map(async (h) => {
        const from = h.state?.live ?? '';
        h.result.attemptedReleaseId = target;
        try {
            await switchTo(h, goLiveVars(ctx, h, { id: target, event: 'rollback', from }), {
                take: false,
                keepLock: false,
            });
            (0,src_outcome/* setLive */.jN)(h.result, s.target, target);
            Object.assign(h.result, { previousReleaseId: from, status: 'rolled-back' });
            ctx.reporter.info(`${h.session.label}: ${s.linkName} -> releases/${target} (rolled back from ${from}, now marked bad)`);
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            (0,src_outcome/* settleFailedSwitch */.$A)(h.result, s.target, from, err);
            h.result.error = err.message;
            switchFailures.push(err);
        }
        h.result.durationMs = Date.now() - h.start;
    }));
    await unlockAll(ctx, hosts);
    return outcome(hosts, [], (0,src_outcome/* fleetFailure */.BV)(switchFailures, hosts.length, 'Rollback'));
}
async function runList(ctx) {
    const hosts = setup(ctx);
    const failures = await inspectAll(ctx, hosts, false);
    reportDisagreement(ctx, hosts);
    const firstOk = hosts.find((h) => h.state);
    const releases = firstOk?.state
        ? (0,src_history/* listReleases */.tH)(firstOk.state.log, firstOk.state.releases, firstOk.state.live)
        : [];
    for (const h of hosts) {
        if (!h.state)
            continue;
        h.result.status = 'not-switched';
        // Progress only: each front end renders outcome.releases itself.
        const rows = (0,src_history/* listReleases */.tH)(h.state.log, h.state.releases, h.state.live);
        ctx.reporter.info(`${h.session.label}: ${(0,format/* plural */.LS)(rows.length, 'release')}`);
    }
    return outcome(hosts, releases, (0,src_outcome/* fleetFailure */.BV)(failures, hosts.length, 'List'));
}
async function runPrune(ctx) {
    const s = ctx.settings;
    const hosts = setup(ctx);
    const failures = await inspectAll(ctx, hosts, true);
    await Promise.all(hosts
        .filter((h) => h.session.lock === 'held' && h.state)
        .map(async (h) => {
        const st = h.state;
        const prune = (0,src_history/* releasesToPrune */.W3)(st.log, st.releases, st.live, s.keepReleases);
        try {
            const reply = await h.session.call('prune', { PRUNE: prune.join(' ') });
            h.result.pruned = (0,src_remote/* all */.Q7)(reply, 'pruned');
            ctx.reporter.info(`${h.session.label}: pruned ${h.result.pruned.length ? h.result.pruned.join(', ') : 'nothing'} (keeping ${s.keepReleases || 'all'} good releases; ${(0,src_history/* badReleases */.Gj)(st.log).size} marked bad)`);
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            h.result.error = err.message;
            failures.push(err);
        }
    }));
    await unlockAll(ctx, hosts);
    return outcome(hosts, [], (0,src_outcome/* fleetFailure */.BV)(failures, hosts.length, 'Prune'));
}
async function runUnlock(ctx) {
    const hosts = setup(ctx);
    const failures = [];
    await pool(hosts, ctx.settings.maxParallel, async (h) => {
        try {
            await ctx.ssh.connect(h.session.index, h.session.label, ctx.signal);
            const reply = await h.session.call('releaseLock', { FORCE: 1, DISCARD: '', UNPUBLISH: '' });
            const was = (0,src_remote/* first */.$1)(reply, 'unlocked');
            h.result.status = 'not-switched';
            ctx.reporter.info(was ? `${h.session.label}: removed the lock held by ${was}` : `${h.session.label}: was not locked`);
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            h.result.error = err.message;
            failures.push(err);
        }
    });
    return outcome(hosts, [], (0,src_outcome/* fleetFailure */.BV)(failures, hosts.length, 'Unlock'));
}

// EXTERNAL MODULE: ./src/build-scan.ts
var build_scan = __webpack_require__(6441);
// EXTERNAL MODULE: ./src/incoming.ts
var incoming = __webpack_require__(4227);
;// CONCATENATED MODULE: ./src/deploy-host.ts




/** Where rsync keeps partly sent files for the next attempt (hidden from the leftover listing). */
const PARTIAL_DIR = '.rsync-partial';
/** A deploy's record for every host. */
function deployHosts(ctx) {
    const s = ctx.settings;
    return hostRuns(ctx, s.releaseId).map((h) => ({
        ...h,
        incoming: `${s.releaseId}.${ctx.token.slice(0, 8)}`,
        leftovers: [],
        sharedExisting: [],
        touched: false,
        ownsUpload: false,
        logLine: '',
        unconfirmed: false,
        published: false,
        switched: false,
        unchanged: 0,
    }));
}
/** files-linked as the server counted it (a `linked` reply), and a word when it differs from rsync's. */
function recordLinked(ctx, run, reply) {
    const counted = (0,src_remote/* first */.$1)(reply, 'linked');
    if (counted === '')
        return;
    const linked = Number(counted) || 0;
    const unchanged = run.unchanged;
    run.result.filesLinked = linked;
    if (linked < unchanged) {
        ctx.reporter.warning(`${run.session.label}: rsync found ${unchanged} files unchanged, but only ${linked} share an inode with the live release (counted on the server); the rest were copied.`);
    }
}
/** Gives the lock back and deletes this attempt's upload dir, when nothing in it is worth resuming. */
async function dropUpload(run) {
    // Nothing of ours may still write into it: an rsync started early ends first.
    await run.early?.cancel();
    try {
        await run.session.call('releaseLock', { FORCE: 0, DISCARD: run.incoming, UNPUBLISH: '' }, { signal: cleanupSignal() });
        run.ownsUpload = false;
    }
    catch {
        // releaseLocks tries the lock again at the end.
    }
}
/** What publish (or stage) sends of the build's manifest: the fast path's delta, or all of it. */
async function manifestVars(run) {
    const m = await run.manifest;
    const built = m instanceof Error ? undefined : m;
    if (run.fast)
        return { FAST: 1, MANIFEST: run.fast.delta, DIGEST: run.digest ?? '', ROOT_MODE: built?.rootMode ?? '' };
    return { FAST: 0, MANIFEST: built?.text ?? '', DIGEST: '', ROOT_MODE: '' };
}

// EXTERNAL MODULE: ./src/keep-assets.ts
var keep_assets = __webpack_require__(3602);
;// CONCATENATED MODULE: ./src/go-live.ts











/**
 * Streams what a hook prints on the server into the log, line by line, prefixed with the host and
 * escaped (it is the server's text); linear in its length however long a line is. Each chunk's
 * lines go out together, so the action can fence them from the runner's command parser.
 */
function hookOutput(ctx, label) {
    let batch = [];
    const splitter = new untrusted/* LineSplitter */.g3((line, dropped) => batch.push(`${label} | ${(0,untrusted/* shownLine */.QN)(line, dropped)}`));
    return (chunk) => {
        splitter.push(chunk);
        if (batch.length === 0)
            return;
        const lines = batch;
        batch = [];
        if (ctx.reporter.output)
            ctx.reporter.output(lines);
        else
            for (const l of lines)
                ctx.reporter.info(l);
    };
}
/**
 * Step 3: one remote call: publish (rename), link shared paths, before-switch, switch (rename a
 * fresh link over the old one), log, prune; the lock is kept when more steps follow.
 */
async function publishAndSwitch(ctx, run, keepLock, doSwitch) {
    const s = ctx.settings;
    let reply;
    try {
        reply = await run.session.call('publishAndSwitch', {
            ...deployGoLive(ctx, run),
            INCOMING: run.incoming,
            SHARED: s.shared.join('\n'),
            BEFORE_SWITCH: s.beforeSwitch,
            SWITCH: doSwitch ? 1 : 0,
            KEEP_LOCK: keepLock ? 1 : 0,
            KEEP_PATHS: (0,keep_assets/* keepPathsValue */.$Z)(s.keepAssets),
            ...(await manifestVars(run)),
        }, { onStderr: hookOutput(ctx, run.session.label) });
    }
    catch (e) {
        await afterLostConnection(ctx, run, keepLock && doSwitch, e);
        return;
    }
    run.published = true;
    recordLinked(ctx, run, reply);
    run.result.assetsKept = (0,keep_assets/* keptCount */.O8)((0,src_remote/* all */.Q7)(reply, 'kept')[0]);
    if (doSwitch)
        wentLive(ctx, run, reply);
    else
        ctx.reporter.info(`${run.session.label}: release ${s.releaseId} published; waiting for every host before the switch`);
}
/** go_live's values for this deploy: our release, logged as deployed, pruning what retention drops. */
function deployGoLive(ctx, run) {
    const s = ctx.settings;
    const state = run.state;
    const vars = goLiveVars(ctx, run, {
        id: s.releaseId,
        event: 'deploy',
        from: '',
        prev: state.live,
        prune: (entry) => (0,src_history/* releasesToPrune */.W3)([...state.log, entry], [...state.releases, s.releaseId], s.releaseId, s.keepReleases),
        // The fast path's publish measured the disk from its own walk (fast_finish).
        measure: !run.fast,
        keepFrom: deployKeepSources(ctx, state),
        digest: run.digest,
    });
    run.logLine = vars.LOGLINE;
    return vars;
}
/** The releases keep-assets links old files from on this host ('' when it is off). */
function deployKeepSources(ctx, state) {
    const s = ctx.settings;
    if (s.keepAssets.length === 0)
        return [];
    return (0,keep_assets/* keepSources */.qT)(state.log, state.releases, state.live, s.releaseId, s.keepAssetsReleases);
}
/** The log's words for the kept old assets: counted on the server, never sent, never "linked". */
function keptWords(ctx, run) {
    if (ctx.settings.keepAssets.length === 0)
        return '';
    return `; kept ${(0,format/* plural */.LS)(run.result.assetsKept, 'old asset')} (keep-assets, hard links from the last releases: nothing sent)`;
}
function wentLive(ctx, run, reply) {
    const s = ctx.settings;
    run.switched = (0,src_remote/* first */.$1)(reply, 'switched') === s.releaseId;
    if (run.switched)
        (0,src_outcome/* setLive */.jN)(run.result, s.target, s.releaseId);
    else
        (0,src_outcome/* liveUnknown */.Nn)(run.result);
    run.result.pruned = (0,src_remote/* all */.Q7)(reply, 'pruned');
    run.result.diskKb = Number((0,src_remote/* first */.$1)(reply, 'disk-kb')) || 0;
    run.result.status = 'deployed';
    ctx.reporter.info(`${run.session.label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); ${(0,format/* plural */.LS)(run.result.filesLinked, 'file')} hard-linked to the previous release (counted on the server); the new release added ${(0,format/* bytes */.ee)(run.result.diskKb * 1024)} on disk${keptWords(ctx, run)}${run.result.pruned.length ? `; pruned ${run.result.pruned.join(', ')}` : ''}`);
}
/** Fleets, phase 2b: every host published; now each switches (the lock is still ours). */
async function switchHost(ctx, run) {
    let reply;
    try {
        reply = await switchTo(run, deployGoLive(ctx, run), { take: false, keepLock: true });
    }
    catch (e) {
        await afterLostConnection(ctx, run, true, e);
        return;
    }
    wentLive(ctx, run, reply);
}
/** Step 4 on one host: the after-switch hook, in the live release. */
async function afterSwitch(ctx, run) {
    const s = ctx.settings;
    await run.session.call('afterSwitch', { ID: s.releaseId, PREV: run.state?.live ?? '', AFTER_SWITCH: s.afterSwitch }, { onStderr: hookOutput(ctx, run.session.label) });
}
/** Puts the link back on the release that was live before, marking ours bad. */
async function revert(ctx, run, why) {
    const s = ctx.settings;
    const previous = run.state?.live ?? '';
    if (!previous) {
        ctx.reporter.warning(`${run.session.label}: nothing was live before ${s.releaseId}; it stays live`);
        return;
    }
    const reply = await switchTo(run, goLiveVars(ctx, run, { id: previous, event: 'revert', from: s.releaseId }), 
    // A failed check after the switch leaves the lock ours: take it only when we no longer hold it.
    { take: run.session.lock !== 'held', keepLock: false }, 
    // After a timeout or cancel, within the bound the step promises (timeout + 10 s).
    ctx.signal.aborted ? giveUpSignal() : cleanupSignal());
    if ((0,src_remote/* first */.$1)(reply, 'switched') === previous)
        (0,src_outcome/* setLive */.jN)(run.result, s.target, previous);
    else
        (0,src_outcome/* liveUnknown */.Nn)(run.result);
    run.result.status = 'reverted';
    ctx.reporter.warning(`${run.session.label}: switched back to ${previous} (${why})`);
}
/**
 * After a call we gave up on or lost: over a new connection, stop what of ours still runs there,
 * then read what the server serves and whether the lock is ours (see RECOVER in remote.ts).
 */
async function recover(ctx, run, keepLock) {
    const s = ctx.settings;
    run.session.fresh = true;
    const reply = await run.session.call('recover', {
        ID: s.command === 'deploy' || s.command === 'activate' ? s.releaseId : '',
        INCOMING: run.incoming,
        LOGLINE: run.logLine,
        KEEP_LOCK: keepLock ? 1 : 0,
    }, { signal: giveUpSignal() });
    const live = readServerState(reply).live;
    // What the link serves, as the server says now: the outputs name it.
    (0,src_outcome/* setLive */.jN)(run.result, s.target, live);
    const word = (0,src_remote/* first */.$1)(reply, 'lock').split(' ')[0];
    // The session has taken the lock's state from the same line.
    const lock = word === 'kept' || word === 'released' ? word : 'not-ours';
    const switched = s.releaseId !== '' && live === s.releaseId;
    if (switched) {
        run.published = true;
        run.switched = true;
    }
    run.unconfirmed = false;
    return { live, switched, lock, assetsKept: (0,keep_assets/* keptCount */.O8)((0,src_remote/* first */.$1)(reply, 'kept')) };
}
/** A sentence on what the server serves after recover. */
function serving(ctx, found) {
    const s = ctx.settings;
    const lock = found.lock === 'not-ours'
        ? 'the deploy lock is no longer ours'
        : found.lock === 'kept'
            ? 'the lock is still ours'
            : 'the lock was released';
    return `${s.target}/${s.linkName} serves ${found.live ? `releases/${found.live}` : 'nothing'}${found.switched ? ` (the new release ${s.releaseId})` : ''}; ${lock}`;
}
/**
 * The connection dropped during publish/switch: the reply is lost, not what the server did. Find
 * out over a new connection, then go on as if the reply had come (switched: after-switch and the
 * health check follow) or fail saying exactly what is served.
 */
async function afterLostConnection(ctx, run, keepLock, e) {
    const err = (0,src_outcome/* toDeployError */.pH)(e);
    const s = ctx.settings;
    if (err.code !== 'connection-lost' || ctx.signal.aborted) {
        (0,src_outcome/* settleFailedSwitch */.$A)(run.result, s.target, run.state?.live ?? '', err);
        throw err;
    }
    const label = run.session.label;
    ctx.reporter.warning(`${label}: the connection dropped during the switch; reconnecting to see what the server did`);
    let found;
    try {
        found = await recover(ctx, run, keepLock);
    }
    catch (e2) {
        run.unconfirmed = true;
        (0,src_outcome/* liveUnknown */.Nn)(run.result);
        throw new errors/* DeployError */.s(`${label}: the connection dropped during the switch and reconnecting failed (${(0,src_outcome/* toDeployError */.pH)(e2).message}): ${s.target}/${s.linkName} may serve ${s.releaseId} or ${run.state?.live || 'nothing'}.`, 'Run command: list (and command: unlock if needed) to see what is live before deploying again.', 'connection-lost');
    }
    ctx.reporter.info(`${label}: after reconnecting: ${serving(ctx, found)}`);
    if (found.switched) {
        run.result.status = 'deployed';
        run.result.assetsKept = found.assetsKept;
        ctx.reporter.info(`${label}: ${s.linkName} -> releases/${s.releaseId} (was ${run.state?.live || 'nothing'}); the switch completed before the connection dropped`);
        return;
    }
    throw new errors/* DeployError */.s(`${label}: the connection dropped before the switch; nothing was switched: ${serving(ctx, found)}.`, 'Check the network to the server, then deploy again (the upload is kept and resumes).', 'connection-lost');
}

// EXTERNAL MODULE: ./src/healthcheck.ts
var healthcheck = __webpack_require__(6689);
// EXTERNAL MODULE: external "node:module"
var external_node_module_ = __webpack_require__(8995);
// EXTERNAL MODULE: ./src/manifest.ts
var manifest = __webpack_require__(5546);
;// CONCATENATED MODULE: ./src/fast-path.ts
/**
 * The fast path's client side, pure. prepare's reply offers the live release (fast_offer in
 * remote-manifest.ts): every entry of its manifest that the server still has as recorded, with its
 * type, mode, size and hash (cut to 16 hex digits where the server can check the digest at
 * publish). The plan compares the build's manifest with it: an entry the same in both is kept (the
 * server's hard-linked copy already holds it), everything else is sent by rsync; and it says the
 * new manifest in terms of the live one (the delta), so only the changed lines travel.
 */



/** node:zlib, loaded when an offer comes zipped: most runs never need it (a few ms of every start). */
const zlib = () => (0,external_node_module_.createRequire)(import.meta.url)('node:zlib');
/** The offer's decompressed size at most: a reply that inflates beyond it is refused (a zip bomb). */
const MAX_OFFER_BYTES = 256 * 1024 * 1024;
const OFFER_LINE = /^t ([fld]) (-|[0-7]{4}) (-|0|[1-9][0-9]{0,15}) (-|[0-9a-f]{16}|[0-9a-f]{64}) (.*)$/s;
function parseOfferLine(line, n) {
    if (line === 'u')
        return undefined;
    const m = OFFER_LINE.exec(line);
    const fail = () => new manifest/* ManifestError */.Sh(`the server's fast-path offer, line ${n}: not an entry`);
    if (!m)
        throw fail();
    const [, type, mode, size, hash, raw] = m;
    if ((type === 'l') !== (mode === '-') ||
        (type === 'f') === (size === '-') ||
        (type === 'd') !== (hash === '-'))
        throw fail();
    return {
        type,
        mode: type === 'l' ? -1 : Number.parseInt(mode, 8),
        size: type === 'f' ? Number(size) : -1,
        hash: type === 'd' ? '' : hash,
        path: (0,manifest/* unescapePath */.a3)(raw),
    };
}
/**
 * An offer (prepare's, or a dry run's), from its `fz` (gzip, base64) or `fp` (plain) lines: "r
 * MODE" (the live root's mode), then a line per live manifest entry. Throws when unreadable.
 */
function readOffer(reply, maxBytes = MAX_OFFER_BYTES, 
/** Whether the kept offer (fk) holds: the server said offer-kept (EarlyPlan asks before it does). */
keptHolds = reply.values.has('offer-kept')) {
    // The offer the walk found (fz or fp) wins over the kept one sent before the walk (fk), which
    // counts only where the server then said it holds (offer-kept): silence is no offer.
    const found = (0,src_remote/* all */.Q7)(reply, 'fz');
    const plain = (0,src_remote/* all */.Q7)(reply, 'fp');
    const kept = found.length === 0 && plain.length === 0 && keptHolds;
    const z = kept ? (0,src_remote/* all */.Q7)(reply, 'fk') : found;
    // The server's text: bounded before anything is decoded (a 1M-entry manifest is ~100 MB).
    let given = 0;
    for (const l of z.length > 0 ? z : plain)
        given += l.length + 1;
    if (given > maxBytes)
        throw new manifest/* ManifestError */.Sh(`the server's fast-path offer is over ${maxBytes} bytes`);
    let text;
    if (z.length > 0) {
        const packed = Buffer.from(z.join(''), 'base64');
        try {
            text = zlib().gunzipSync(packed, { maxOutputLength: maxBytes }).toString('utf8');
        }
        catch (e) {
            throw new manifest/* ManifestError */.Sh(`the server's fast-path offer does not decompress: ${e.message}`);
        }
        if (text.endsWith('\n'))
            text = text.slice(0, -1);
    }
    else
        text = plain.join('\n');
    const lines = text === '' ? [] : text.split('\n');
    const root = /^r ([0-7]{1,4})$/.exec(lines[0] ?? '');
    if (!root)
        throw new manifest/* ManifestError */.Sh(`the server's fast-path offer has no root mode`);
    return { entries: lines.slice(1).map((l, i) => parseOfferLine(l, i + 1)), rootMode: root[1] };
}
function same(e, o) {
    if (!o || o.type !== e.type || o.mode !== e.mode || o.size !== e.size)
        return false;
    return e.type === 'd' || (o.hash.length >= 16 && e.hash.startsWith(o.hash));
}
/** Whether the defined entries' paths strictly ascend (the manifests' order: path bytes). */
function ascending(list) {
    let prev;
    for (const e of list) {
        if (!e)
            continue;
        if (prev !== undefined && (0,manifest/* comparePaths */.cD)(prev, e.path) >= 0)
            return false;
        prev = e.path;
    }
    return true;
}
/**
 * The offer's index of each build path, asked in the build's order: one pass over both when both
 * are in path order (every manifest is: a fifth of the time of a Map of 50,000 paths), else a Map
 * (an offer from a server that reordered it is still read right).
 */
function matcher(build, offer) {
    if (!ascending(build) || !ascending(offer)) {
        const live = new Map();
        offer.forEach((o, i) => {
            if (o)
                live.set(o.path, i);
        });
        return (p) => live.get(p);
    }
    let j = 0;
    return (p) => {
        for (; j < offer.length; j++) {
            const o = offer[j];
            if (!o)
                continue;
            const c = (0,manifest/* comparePaths */.cD)(o.path, p);
            if (c === 0)
                return j++;
            if (c > 0)
                return undefined;
        }
        return undefined;
    };
}
/**
 * What to send and how to say the new manifest. Entries are matched by path; a kept entry names
 * its live line, consecutive ones as one run. A directory is sent when it is new or its mode
 * changed (rsync makes it or sets its mode; what it holds is decided entry by entry).
 */
function planFast(build, offer) {
    // The server reads its trees with find, a line a name: such a name would break its check.
    const nl = build.entries.find((e) => e.path.includes('\n'));
    if (nl)
        throw new manifest/* ManifestError */.Sh(`a name in the build has a newline (${JSON.stringify(nl.path)})`);
    const liveLine = matcher(build.entries, offer.entries);
    const lines = [manifest/* HEADER */.El];
    const send = [];
    if (Number.parseInt(offer.rootMode, 8) !== Number.parseInt(build.rootMode, 8))
        send.push('.');
    let keptFiles = 0;
    let runStart = -1;
    let runEnd = -1;
    const flush = () => {
        if (runStart < 0)
            return;
        lines.push(runStart === runEnd ? `=${runStart + 1}` : `=${runStart + 1}-${runEnd + 1}`);
        runStart = -1;
    };
    for (const e of build.entries) {
        const i = liveLine(e.path);
        if (i !== undefined && same(e, offer.entries[i])) {
            if (runStart >= 0 && i === runEnd + 1)
                runEnd = i;
            else {
                flush();
                runStart = i;
                runEnd = i;
            }
            if (e.type === 'f')
                keptFiles++;
            continue;
        }
        flush();
        lines.push((0,manifest/* formatLine */.IL)(e));
        send.push(e.path);
    }
    flush();
    return { send, delta: `${lines.join('\n')}\n`, keptFiles };
}

// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
var external_node_path_default = /*#__PURE__*/__webpack_require__.n(external_node_path_);
// EXTERNAL MODULE: ./src/proc.ts + 1 modules
var proc = __webpack_require__(7684);
;// CONCATENATED MODULE: ./src/rsync.ts


/**
 * The --chmod rsync applies: setuid and setgid are cleared first, so the build's bits never reach
 * the server (a root deploy would make root-owned setuid programs of whatever the build holds);
 * the user's own clauses come after and may set them again on purpose (u+s, g+s, F4755).
 */
function chmodSpec(userChmod) {
    return `ug-s,${userChmod}`;
}
/**
 * The rsync argv, pure so a test can read it.
 * - `-c` and no `-t`: after a CI rebuild every mtime is new, and rsync hard-links a file into the
 *   new release only when every preserved attribute matches: preserving times would link nothing.
 * - `--chmod` during the transfer, never a chmod after: linked inodes are shared with old releases.
 * - never `--inplace` (it would write through those hard links into old releases).
 * - `--protect-args` (-s) sends paths over the protocol: no remote-shell quoting, any file name
 *   survives. Its old name, not `--secluded-args`: that one exists only since rsync 3.2.6.
 */
function rsyncArgs(plan) {
    const args = [
        ...(plan.filesFrom ? [`--files-from=${plan.filesFrom}`, '--from0'] : ['--recursive']),
        '--links',
        '--perms',
        `--chmod=${chmodSpec(plan.chmod)}`,
        ...(plan.filesFrom ? ['--ignore-times', '--force', '--compress'] : ['--checksum']),
        ...(plan.protectArgs === false ? [] : ['--protect-args']),
        '--stats',
        '--no-human-readable',
        `--timeout=${plan.ioTimeout}`,
        '-e',
        plan.rsh,
    ];
    if (plan.progress)
        args.push('--info=progress2', '--no-inc-recursive');
    if (plan.dryRun)
        args.push('--dry-run', '--itemize-changes');
    if (plan.partialDir)
        args.push(`--partial-dir=${plan.partialDir}`);
    for (const d of plan.linkDest.slice(0, 20))
        args.push(`--link-dest=${d}`);
    for (const f of plan.filter)
        args.push(`--filter=${f}`);
    for (const e of plan.exclude)
        args.push(`--exclude=${e}`);
    // Absolute source: a relative one with ':' before any '/' would be taken for host:path.
    args.push(`${external_node_path_default().resolve(plan.source).replace(/\/+$/, '')}/`, plan.destination);
    return args;
}
function num(text, label) {
    const m = new RegExp(`^${label}:\\s*([0-9][0-9,.]*)`, 'm').exec(text);
    return m?.[1] ? Number(m[1].replace(/[,.]/g, '')) : 0;
}
/** Parses `--stats --no-human-readable` output. */
function parseStats(text) {
    const reg = /^Number of files:.*\breg: ([0-9,.]+)/m.exec(text);
    const files = reg?.[1] ? Number(reg[1].replace(/[,.]/g, '')) : 0;
    const filesTransferred = num(text, 'Number of regular files transferred');
    return {
        files,
        filesTransferred,
        filesLinked: Math.max(0, files - filesTransferred),
        links: Number(/^Number of files:.*\blink: ([0-9,.]+)/m.exec(text)?.[1]?.replace(/[,.]/g, '') ?? 0),
        bytesSent: num(text, 'Total bytes sent'),
        bytesReceived: num(text, 'Total bytes received'),
        totalSize: num(text, 'Total file size'),
        transferredSize: num(text, 'Total transferred file size'),
    };
}
/** Lines of `--itemize-changes` output that name a file to send (dry run). */
function itemizedFiles(text) {
    return text.split('\n').filter((l) => /^[<>ch.*][fdLDS][.+?a-zA-Z]{9,10} /.test(l));
}
/** The one place rsync runs. */
function runRsync(rsyncPath, plan, opts) {
    return (0,proc/* run */.e)(rsyncPath, rsyncArgs(plan), opts);
}

;// CONCATENATED MODULE: ./src/upload-rsync.ts
/**
 * The upload's rsync: what it is told, its progress, its result checked. And the fast path's
 * rsync started early (EarlyUpload), beside prepare.
 */







/** The fast path's list for rsync --files-from --from0. */
function fastList(plan) {
    return Buffer.from(fastListText(plan), 'utf8');
}
function fastListText(plan) {
    return plan.send.map((p) => `${p}\0`).join('');
}
/** The upload's rsync into our incoming dir: all of the build, or the fast path's list. */
function uploadPlan(ctx, run, linkDest, filesFrom, how) {
    const s = ctx.settings;
    const remote = ctx.ssh.rsyncRemote(run.session.index, `${s.target}/.deploy/incoming/${run.incoming}/`, how.muxOnly);
    return {
        source: s.source,
        destination: remote.destination,
        linkDest,
        chmod: s.chmod,
        exclude: [...s.exclude, ...how.shared.map((p) => `/${p}`)],
        filter: s.filter,
        rsh: remote.rsh,
        dryRun: false,
        ioTimeout: 120,
        progress: true,
        // Basename-keyed (an absolute --partial-dir): a re-run resumes a big file whatever its id.
        partialDir: `${s.target}/.deploy/incoming/${PARTIAL_DIR}`,
        protectArgs: !how.gated,
        filesFrom,
    };
}
/** What the upload's rsync prints, as it comes: its progress, and the moment it has its session. */
function onUploadStdout(ctx, run) {
    const s = ctx.settings;
    let lastProgress = 0;
    const started = Date.now();
    return (chunk) => {
        // rsync has its session now: publish's opens beside it, its round trips not waited for
        // later (see openAhead; a server allowing one session refuses it, and publish opens its own).
        if (s.command === 'deploy')
            run.session.openAhead('publishAndSwitch');
        const line = chunk
            .split(/[\r\n]/)
            .filter((l) => /%/.test(l))
            .pop();
        // A live progress line where the caller can draw one (the CLI on a terminal).
        if (line)
            ctx.reporter.progress?.(run.session.label, line.trim());
        const now = Date.now();
        if (now - lastProgress < 10_000 || now - started < 10_000)
            return;
        if (line) {
            lastProgress = now;
            ctx.reporter.info(`${run.session.label}: ${(0,format/* progressText */.l_)(line)}`);
        }
    };
}
/** The upload's rsync result, checked: its figures, or the error that says what went wrong. */
async function uploadStats(ctx, run, result) {
    if (result.aborted)
        throw new errors/* DeployError */.s(`${run.session.label}: upload cancelled.`, '', 'cancelled');
    if (result.code !== 0) {
        // A partial upload on a full disk would keep it full (and the live site with it): delete it.
        const full = /No space left on device|Disk quota exceeded/i.test(result.stderr);
        if (full)
            await dropUpload(run);
        throw new errors/* DeployError */.s(`${run.session.label}: upload failed. ${(0,hints/* explainRsyncExit */.Z4)(result.code, result.stderr, ctx.words)}${full ? '\nThe partial upload was deleted to give the space back.' : ''}`, '', 'rsync');
    }
    return parseStats(result.stdout);
}
/** The upload's rsync into our incoming dir (all of the build, or the fast path's list file), checked. */
async function uploadRsync(ctx, run, linkDest, filesFrom) {
    await run.session.makeRoom();
    // On a server that allows one session at a time, over the master only, and asked again when
    // refused (session.ts overMaster): never a second connection.
    const result = await overMaster(run.session, false, (muxOnly) => runRsync(ctx.rsyncPath, uploadPlan(ctx, run, linkDest, filesFrom, {
        gated: run.session.gate !== undefined,
        shared: run.sharedExisting,
        muxOnly,
    }), { signal: ctx.signal, env: ctx.ssh.childEnv(), onStdout: onUploadStdout(ctx, run) }));
    if (run.session.oneSession && (0,src_ssh/* refusedSession */.V0)(result))
        throw sessionRefused(run.session.label, 'upload');
    return uploadStats(ctx, run, result);
}
/**
 * The fast path's rsync, started while prepare still runs (once the server holds the lock and has
 * begun its copy of the live release): its session, the server's rsync and their handshake are
 * ready by the time the plan is, which takes rsync's start (~0.1 s on the benchmark's WAN) off the
 * deploy's path. It reads its list from stdin (--files-from=-) and does nothing before it has it:
 * the server's rsync looks at its destination only once the list arrives, and the list is given
 * only after prepare said "fast ok" (the copy is whole). Never given one, it is stopped with its
 * stdin left open (an ended stdin would read as an empty list, still a transfer) and waited for.
 * Over the master only: a server that allows one session refuses it, and it ends; the upload then
 * runs the usual way, after prepare.
 */
class EarlyUpload {
    ctx;
    run;
    /** The plan whose list it was given (then it is the upload). */
    given;
    ended = false;
    give = () => { };
    stop = new AbortController();
    result;
    /** rsync itself has exited (its ssh may still be closing the session). */
    exited;
    constructor(ctx, run, gated) {
        this.ctx = ctx;
        this.run = run;
        const list = new Promise((resolve) => {
            this.give = resolve;
        });
        // Every shared path is left out, as the list does (the manifest holds none of them; prepare
        // takes the fast path only when all of them are already in shared/).
        const plan = uploadPlan(ctx, run, [], '-', { gated, shared: ctx.settings.shared, muxOnly: true });
        let exited = () => { };
        this.exited = new Promise((resolve) => {
            exited = resolve;
        });
        const ended = () => {
            this.ended = true;
            exited();
        };
        this.result = runRsync(ctx.rsyncPath, plan, {
            signal: (0,src_ssh/* anySignal */.JG)(ctx.signal, this.stop.signal),
            env: ctx.ssh.childEnv(),
            input: list,
            abortKeepsStdin: true,
            // Never given its list, it has done nothing: SIGKILL (on SIGTERM rsync lingers ~0.4 s,
            // waiting on its peer). Given one, SIGTERM: rsync ends its transfer as on any cancel.
            abortWith: () => (this.given && this.given !== CANCELLED ? 'SIGTERM' : 'SIGKILL'),
            onExit: ended,
            onStdout: onUploadStdout(ctx, run),
        });
        this.result.then(ended, ended);
    }
    /**
     * Gives it the plan's list, once prepare has said "fast ok" (the copy is whole): the transfer
     * begins. False when it cannot take one (it ended: refused, or its connection dropped).
     */
    begin(plan) {
        if (this.given)
            return this.given === plan;
        if (this.ended)
            return false;
        this.given = plan;
        this.give(fastListText(plan));
        return true;
    }
    /**
     * The upload of the plan: its figures, checked; undefined when this rsync cannot be it (it
     * ended before its list), and the caller uploads the usual way.
     */
    async send(plan) {
        if (this.given === CANCELLED)
            return undefined;
        if (this.given && this.given !== plan) {
            await this.cancel();
            throw new errors/* DeployError */.s(`${this.run.session.label}: the server's fast-path offer changed after the upload had begun; nothing was published`, '', 'fast-mismatch');
        }
        if (!this.begin(plan))
            return undefined;
        const result = await this.result;
        // The master could not open its session (a server that allows one at a time, still holding
        // prepare's when the list was given): no rsync ran there, so nothing was written.
        if ((0,src_ssh/* refusedSession */.V0)(result)) {
            // The server allows one session at a time: the upload that follows is over the master only.
            this.run.session.oneSession = true;
            return undefined;
        }
        return uploadStats(this.ctx, this.run, result);
    }
    /** Stops it if it still runs (given its list or not) and waits for it to end. */
    async cancel() {
        if (!this.given)
            this.given = CANCELLED;
        if (!this.ended)
            this.stop.abort();
        // Never given a list, rsync is all that could have written; its ssh only closes the session
        // (the server's rsync reads its end and exits, having done nothing). Given one: all of it.
        if (this.given === CANCELLED)
            await this.exited;
        else
            await this.result.catch(() => { });
    }
}
/** What a cancelled EarlyUpload was "given": never a plan. */
const CANCELLED = { send: [], delta: '', keptFiles: 0 };

;// CONCATENATED MODULE: ./src/prepare.ts












/**
 * RAD_FAST_PATH=0 forces the checksum path (the tests compare both paths' releases with it; an
 * escape hatch should the fast path ever misjudge a server).
 */
function fastPathAllowed(env = process.env) {
    return env.RAD_FAST_PATH !== '0';
}
/** The build's manifest for this host's prepare, or undefined (said once, as information). */
async function buildManifestOf(ctx, run) {
    const m = await run.manifest;
    if (m instanceof Error) {
        if (run.session.index === 0)
            ctx.reporter.info(`No release manifest (so no release-digest, and the checksum path): ${m.message}`);
        return undefined;
    }
    return m;
}
/** Why prepare did not take the fast path (its `fast` reply). */
function fastWhy(code) {
    const why = {
        'no-live': 'nothing is live yet',
        'no-manifest': 'the live release has no manifest or trust record (deployed before them, or it has names with a newline)',
        untrusted: 'the live release could not be read or does not match its manifest',
        'no-link': 'the live release cannot be hard-linked into the upload (another filesystem, files of another user, or no cp -al)',
        'no-remove': 'what the server could not trust could not be removed from the linked copy',
        resume: 'an upload that failed since the live release went live holds files this one reuses',
    };
    return why[code] ?? 'the server did not say why';
}
async function connect(ctx, run) {
    await ctx.ssh.connect(run.session.index, run.session.label, ctx.signal);
    if (ctx.settings.acceptUnknownHostKey && ctx.settings.trusted.lines.length === 0) {
        const learned = await ctx.ssh.learnedHostKeys();
        if (learned.trim()) {
            ctx.reporter.warning(`Trusted ${run.session.label} on first use (${wordsOf(ctx).input('accept-unknown-host-key')}). Pin its key: set ${wordsOf(ctx).input('known-hosts')} to\n${learned.trim()}`);
        }
    }
}
/**
 * The live release's entries from which the upload's rsync starts during prepare. Below, the
 * server's copy and its offer end within rsync's own start (~0.1 s on the benchmark's WAN), and a
 * deploy that changed nothing would pay for an rsync it never uses (~0.06 s of a small site's
 * 0.5 s on 2 cores).
 */
const EARLY_UPLOAD_MIN = 2000;
/** Step 1: one remote call: layout, checks, lock, live release, free space, a fresh upload dir. */
async function prepare(ctx, run) {
    // The session marks the lock "maybe ours" before the call, so a killed prepare is still covered.
    run.touched = true;
    // The fast path's rsync starts as soon as the server is copying the live release, and is given
    // its list once the server said "fast ok" (the copy is whole) and the plan is made: the rest of
    // prepare's reply is read while it uploads (see EarlyUpload). Through a gate (whose line comes
    // first) it goes without --protect-args.
    let gated = false;
    let fastOk = false;
    let planned;
    const begin = () => {
        if (fastOk && planned && planned.send.length > 0)
            run.early?.begin(planned);
    };
    // Nothing to upload (known from the offer, before prepare ends): publish's session opens now,
    // beside prepare's end, so its round trips and its library are not waited for later. Not through
    // a gate (whose reply names it first), and never when rsync is to run (a server that allows one
    // session would give it rsync's place).
    const early = new EarlyPlan(run, (plan, viaGate) => {
        planned = plan;
        begin();
        if (plan.send.length > 0)
            return;
        void run.early?.cancel();
        if (ctx.settings.command === 'deploy' && !viaGate)
            run.session.openAhead('publishAndSwitch');
    });
    const watch = new untrusted/* LineSplitter */.g3((l) => {
        if (l.startsWith(`${src_remote/* MARK */.M$} gate `))
            gated = true;
        else if (l.startsWith(`${src_remote/* MARK */.M$} copying `)) {
            const entries = Number(l.slice(src_remote/* MARK */.M$.length + 9).trim());
            if (!run.early && entries >= EARLY_UPLOAD_MIN && ctx.settings.command !== 'activate')
                run.early = new EarlyUpload(ctx, run, gated);
        }
        else if (l === `${src_remote/* MARK */.M$} fast ok`) {
            fastOk = true;
            begin();
        }
    });
    // A failure stops it where it must (dropUpload) and at the end of the host's steps (deploy.ts).
    await prepareCall(ctx, run, early, (c) => {
        watch.push(c);
        early.push(c);
    });
    // The checksum path: the early rsync ends with nothing done, before another rsync takes its
    // place (a server allowing few sessions). Nothing to send: it was stopped at the plan, and is
    // waited for at the end of the host's steps (deploy.ts), not here.
    if (!run.fast)
        await run.early?.cancel();
}
async function prepareCall(ctx, run, early, onStdout) {
    const other = [];
    const activate = ctx.settings.command === 'activate';
    const reply = await run.session.call('prepare', {
        ID: ctx.settings.releaseId,
        // activate uploads nothing: it checks that command: upload left the release waiting.
        INCOMING: activate ? '' : run.incoming,
        STAGED: activate ? (0,incoming/* stagedName */.w)(ctx.settings.releaseId) : '',
        SHARED: ctx.settings.shared.join('\n'),
        // The server copies the live release while the build is still being hashed here.
        FAST: !activate && fastPathAllowed() ? 1 : 0,
    }, {
        onOther: (l) => other.push(l),
        onStdout: activate ? undefined : onStdout,
    });
    const fast = (0,src_remote/* first */.$1)(reply, 'fast');
    if (fast && fast !== 'ok')
        ctx.reporter.info(`${run.session.label}: checksum path: ${fastWhy(fast)}`);
    run.sharedExisting = (0,src_remote/* all */.Q7)(reply, 'shared-exists');
    run.ownsUpload = ctx.settings.command !== 'activate';
    run.state = readServerState(reply, (m) => ctx.reporter.warning(`${run.session.label}: ${m}`));
    run.leftovers = (0,src_remote/* all */.Q7)(reply, 'leftover').filter((l) => SAFE_NAME_RE.test(l) && l !== run.incoming);
    run.result.previousReleaseId = run.state.live;
    (0,src_outcome/* setLive */.jN)(run.result, ctx.settings.target, run.state.live);
    run.result.freeKb = run.state.freeKb;
    if (other.length > 0) {
        // Text printed by a shell startup file corrupts rsync's protocol stream (exit 12): say so now.
        await dropUpload(run);
        throw new errors/* DeployError */.s(`${run.session.label}: the login shell prints text for non-interactive sessions, which breaks rsync: ${other.slice(0, 3).join(' | ')}`, (0,hints/* startupFileHint */.r1)((0,src_remote/* first */.$1)(reply, 'shell'), 'prints'), 'shell-not-clean');
    }
    const gate = run.session.gate;
    if (gate && (ctx.settings.beforeSwitch || ctx.settings.afterSwitch)) {
        // The gate would refuse them at the switch: say so before anything is uploaded.
        await dropUpload(run);
        const w = wordsOf(ctx);
        throw new errors/* DeployError */.s(`${run.session.label}: the key is gated (rsync-atomic-deploy-gate ${gate.version}): it runs no ${w.input('before-switch')} or ${w.input('after-switch')} command sent by the client; nothing was changed.`, gateHint('hook-refused'), 'hook-refused');
    }
    ctx.reporter.info(`${run.session.label}: live release ${run.state.live || '(none yet)'}; ${(0,format/* plural */.LS)(run.state.releases.length, 'release')} on disk; ${(0,format/* bytes */.ee)(run.state.freeKb * 1024)} free${gate ? `; the key is gated (rsync-atomic-deploy-gate ${gate.version})` : ''}`);
    warnFsSplit(ctx, run.session.label, (0,src_remote/* all */.Q7)(reply, 'fs-split'), run.state.live);
    if (activate)
        return;
    const manifest = await buildManifestOf(ctx, run);
    run.digest = manifest?.digest ?? '';
    if (fast === 'ok')
        await planUpload(ctx, run, reply, manifest, await early.plan(reply));
}
/**
 * Watches prepare's stdout for "@@rad offer-sent" (the offer is whole) and plans from the reply
 * up to it while the server's copy ends. A kept offer comes before the server's walk, marked
 * "@@rad offer-early": planned from at once, and used if the server then says "offer-kept" (the
 * walk found the release as recorded) and sends no other. At 10,000 files, 1% changed, on the WAN
 * model, that plan is made while the server still copies. Used only when the whole reply carries
 * the same offer.
 */
class EarlyPlan {
    run;
    onPlanned;
    /** stdout so far, in pieces (joined at a mark: no copy of it all a chunk). */
    chunks = [];
    /** The end of what came, enough to find a mark cut across two chunks. */
    tail = '';
    planned;
    offerLines = 0;
    /** The plan from the kept offer (fk lines), and how many lines it was made from. */
    kept;
    constructor(run, 
    /** Told the early plan (and whether a gate answered), as soon as it is made. */
    onPlanned = () => { }) {
        this.run = run;
        this.onPlanned = onPlanned;
    }
    push(chunk) {
        if (this.planned)
            return;
        const seen = this.tail + chunk;
        this.chunks.push(chunk);
        // The reply up to a mark found at `at` in `seen` (what came before this chunk, less the tail).
        const upTo = (at) => {
            const text = this.chunks.join('');
            return (0,src_remote/* parseReply */.UV)(text.slice(0, text.length - seen.length + at + 1));
        };
        if (!this.kept) {
            const e = seen.indexOf(EARLY_LINE);
            if (e >= 0) {
                const reply = upTo(e);
                // Planned as if it holds; used only once the server says it does.
                this.kept = { lines: (0,src_remote/* all */.Q7)(reply, 'fk').length, planned: this.make(reply, false, true) };
            }
        }
        const at = seen.indexOf(MARK_LINE);
        if (at < 0) {
            this.tail = seen.slice(-EARLY_LINE.length);
            return;
        }
        const reply = upTo(at);
        this.chunks = [];
        this.tail = '';
        this.offerLines = offerLineCount(reply);
        const found = (0,src_remote/* all */.Q7)(reply, 'fz').length + (0,src_remote/* all */.Q7)(reply, 'fp').length;
        // The kept offer holds (the server said so, and sent nothing in its place): its plan, made
        // while the server walked.
        if (this.kept && found === 0 && reply.values.has('offer-kept') && this.kept.lines === this.offerLines) {
            const gated = (0,src_remote/* first */.$1)(reply, 'gate') !== '';
            this.planned = this.kept.planned.then((p) => {
                if (p && 'plan' in p)
                    this.onPlanned(p.plan, gated);
                return p;
            });
        }
        else
            this.planned = this.make(reply, true);
    }
    /** The plan from the offer in `reply`; `tell`: onPlanned hears of it; `kept`: from its fk lines. */
    make(reply, tell, kept) {
        return Promise.resolve(this.run.manifest).then((m) => {
            if (!m || m instanceof Error)
                return undefined;
            let plan;
            try {
                plan = planFast(m, readOffer(reply, undefined, kept));
            }
            catch (e) {
                return { error: e };
            }
            if (tell)
                this.onPlanned(plan, (0,src_remote/* first */.$1)(reply, 'gate') !== '');
            return { plan };
        });
    }
    /** The plan made early, if the whole reply's offer is the one it was made from. */
    async plan(reply) {
        if (!this.planned || offerLineCount(reply) !== this.offerLines)
            return undefined;
        return this.planned;
    }
}
const MARK_LINE = `\n${src_remote/* MARK */.M$} offer-sent\n`;
const EARLY_LINE = `\n${src_remote/* MARK */.M$} offer-early\n`;
const offerLineCount = (r) => (0,src_remote/* all */.Q7)(r, 'fz').length + (0,src_remote/* all */.Q7)(r, 'fp').length + (0,src_remote/* all */.Q7)(r, 'fk').length;
/**
 * The fast path's plan from the server's offer and the build's manifest. Without a manifest, or
 * with an offer that cannot be read, the server's copy of the live release goes and an empty
 * upload dir takes its place: the checksum path (rsync compares with the live release itself).
 */
async function planUpload(ctx, run, reply, manifest, early) {
    let why = 'the build has no manifest';
    if (manifest && early) {
        if ('plan' in early) {
            run.fast = early.plan;
            return;
        }
        why = early.error.message;
    }
    else if (manifest) {
        try {
            run.fast = planFast(manifest, readOffer(reply));
            return;
        }
        catch (e) {
            why = e.message;
        }
    }
    ctx.reporter.info(`${run.session.label}: checksum path: ${why}`);
    await run.session.call('resetUpload', { INCOMING: run.incoming });
}
/** Says, before the upload, why no file can be hard-linked on this server (fs-split replies). */
function fsSplitWarnings(target, split, live) {
    const out = [];
    if (split.includes('incoming')) {
        out.push(`${target}/releases and ${target}/.deploy/incoming are on different filesystems (is a disk mounted on ${target}/releases?): hard links are impossible there, every file is copied in full, and the publish is a copy instead of a rename. Mount the disk on ${target} itself, so releases/ and .deploy/ share one filesystem.`);
    }
    if (split.includes('live')) {
        out.push(`the live release ${live} is on another filesystem than the upload area (restored onto a mount?): no file can be hard-linked to it, so this upload copies every file. Copy it back onto ${target}'s filesystem (cp -a) to share files again, or accept this one full copy.`);
    }
    return out;
}
function warnFsSplit(ctx, label, split, live) {
    for (const w of fsSplitWarnings(ctx.settings.target, split, live))
        ctx.reporter.warning(`${label}: ${w}`);
}
/** command: upload: leave the finished upload waiting under a name activate knows. */
async function stage(ctx, run) {
    const reply = await run.session.call('stage', {
        ID: ctx.settings.releaseId,
        INCOMING: run.incoming,
        STAGED: (0,incoming/* stagedName */.w)(ctx.settings.releaseId),
        PREV: run.state?.live ?? '',
        ...(await manifestVars(run)),
    });
    recordLinked(ctx, run, reply);
    ctx.reporter.info(`${run.session.label}: release ${ctx.settings.releaseId} uploaded; run ${wordsOf(ctx).command('activate')} to make it live`);
}

// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(8161);
var external_node_os_default = /*#__PURE__*/__webpack_require__.n(external_node_os_);
;// CONCATENATED MODULE: ./src/release-manifest.ts






/** rsync's `\#ooo` escapes of --out-format names, back to the bytes (a `\` alone stays). */
function unescapeRsyncName(line) {
    if (!line.includes('\\#'))
        return line;
    const parts = [];
    let last = 0;
    for (const m of line.matchAll(/\\#([0-7]{3})/g)) {
        parts.push(Buffer.from(line.slice(last, m.index), 'utf8'), Buffer.from([Number.parseInt(m[1], 8)]));
        last = m.index + m[0].length;
    }
    parts.push(Buffer.from(line.slice(last), 'utf8'));
    return Buffer.concat(parts).toString('utf8');
}
/** The excludes of the upload as rsync gets them: the user's, and the shared paths. */
function uploadExcludes(s) {
    return [...s.exclude, ...s.shared.map((p) => `/${p}`)];
}
/**
 * The set of paths rsync sends under the exclude/filter rules, from a local dry run with the same
 * rules: the rules are rsync's own (anchoring, `**`, merge files, per-directory rules), so only
 * rsync applies them exactly. Directories end in '/' in its listing.
 */
async function rsyncSelection(s, rsyncPath, signal) {
    const empty = await (0,promises_.mkdtemp)(external_node_path_default().join(external_node_os_default().tmpdir(), 'rad-list-'));
    try {
        const args = ['--recursive', '--links', '--dry-run', '--out-format=%n'];
        for (const f of s.filter)
            args.push(`--filter=${f}`);
        for (const e of uploadExcludes(s))
            args.push(`--exclude=${e}`);
        args.push(`${external_node_path_default().resolve(s.source).replace(/\/+$/, '')}/`, `${empty}/`);
        const r = await (0,proc/* run */.e)(rsyncPath, args, { signal });
        if (r.code !== 0)
            throw new manifest/* ManifestError */.Sh(`rsync could not list the build (exit ${r.code}): ${r.stderr.trim()}`);
        const out = new Set();
        for (const l of r.stdout.split('\n'))
            if (l)
                out.add(unescapeRsyncName(l).replace(/\/$/, ''));
        return out;
    }
    finally {
        await (0,promises_.rm)(empty, { recursive: true, force: true });
    }
}
/** The manifest of the build; the error says why there is none (the deploy goes on without). */
async function buildReleaseManifest(s, rsyncPath, signal, 
/** Told the FIFOs, sockets and devices of the build that the walk meets. */
special) {
    const chmod = chmodSpec(s.chmod);
    const umask = (0,manifest/* currentUmask */.zF)();
    const rules = s.exclude.length + s.filter.length + s.shared.length > 0;
    const selected = rules ? await rsyncSelection(s, rsyncPath, signal) : undefined;
    const entries = await (0,manifest/* buildManifest */.u1)(s.source, {
        chmod,
        umask,
        keep: selected ? (p) => selected.has(p) : undefined,
        signal,
        special,
    });
    const clauses = (0,manifest/* parseChmod */.VS)(chmod, umask) ?? [];
    const root = (0,manifest/* applyChmod */.qI)((await (0,promises_.stat)(s.source)).mode, true, clauses);
    const text = (0,manifest/* formatManifest */.L_)(entries);
    return { entries, text, digest: (0,manifest/* manifestDigest */.It)(text), rootMode: root.toString(8).padStart(4, '0') };
}

;// CONCATENATED MODULE: ./src/upload.ts















/** Step 2: rsync into .deploy/incoming/<id>.<token>, hard-linking what the live release already has. */
async function upload(ctx, run) {
    if (run.fast) {
        await fastUpload(ctx, run, run.fast);
        return;
    }
    const s = ctx.settings;
    const live = run.state?.live ?? '';
    // Absolute paths (prepare checked that they exist): rsync 3.4+ walks a relative --link-dest from
    // the destination for every file, which cost ~0.2 s per 10,000 files in the benchmark.
    const linkDest = [];
    // A --link-dest that does not exist only makes rsync warn and send everything: say so ourselves.
    if (live && !run.state?.releases.includes(live)) {
        ctx.reporter.warning(`${run.session.label}: the live release ${live} is missing from releases/; uploading everything`);
    }
    else if (live)
        linkDest.push(`${s.target}/releases/${live}`);
    // A leftover from an attempt that failed half-way (a re-run): what it already holds is not sent again.
    for (const l of run.leftovers)
        linkDest.push(`${s.target}/.deploy/incoming/${l}`);
    const stats = await uploadRsync(ctx, run, linkDest, undefined);
    if (stats.files + stats.links === 0 && !s.allowEmpty) {
        // Refused before the publish: the empty upload goes, the lock is given back, nothing changed.
        await dropUpload(run);
        throw emptyReleaseError(s, run.session.label, run.sharedExisting.length > 0);
    }
    Object.assign(run.result, { bytesSent: stats.bytesSent, filesTransferred: stats.filesTransferred });
    // rsync's "not sent" is not "hard-linked" (a split filesystem copies them): the server counts
    // the links at publish, and files-linked is that count, 0 until then (a failed publish links
    // nothing that is served).
    run.unchanged = stats.filesLinked;
    ctx.reporter.info(`${run.session.label}: uploaded ${(0,format/* plural */.LS)(stats.files, 'file')}: ${stats.filesTransferred} sent, ${stats.files - stats.filesTransferred} unchanged; ${(0,format/* bytes */.ee)(stats.bytesSent)} on the wire`);
}
/**
 * Step 2, fast path: the upload dir is already the server's hard-linked copy of the live release,
 * less what it could not trust; rsync sends what the plan lists into it (each listed file written
 * anew, never through a link: --ignore-times), or does not run at all.
 */
async function fastUpload(ctx, run, plan) {
    const s = ctx.settings;
    const m = (await run.manifest);
    const files = m.entries.filter((e) => e.type === 'f').length;
    if (m.entries.every((e) => e.type === 'd') && !s.allowEmpty) {
        await dropUpload(run);
        throw emptyReleaseError(s, run.session.label, run.sharedExisting.length > 0);
    }
    let stats;
    // The rsync started during prepare, when it can take the list; else one of its own.
    if (plan.send.length > 0)
        stats = await run.early?.send(plan);
    if (plan.send.length > 0 && !stats) {
        const dir = await (0,promises_.mkdtemp)(external_node_path_default().join(external_node_os_default().tmpdir(), 'rad-send-'));
        try {
            const file = external_node_path_default().join(dir, 'list');
            await (0,promises_.writeFile)(file, fastList(plan));
            stats = await uploadRsync(ctx, run, [], file);
        }
        finally {
            await (0,promises_.rm)(dir, { recursive: true, force: true });
        }
    }
    const sent = stats?.filesTransferred ?? 0;
    Object.assign(run.result, { bytesSent: stats?.bytesSent ?? 0, filesTransferred: sent });
    run.unchanged = files - sent;
    ctx.reporter.info(`${run.session.label}: uploaded ${(0,format/* plural */.LS)(files, 'file')}: ${sent} sent, ${files - sent} unchanged (${plan.keptFiles} linked on the server from the manifest, checked at publish); ${(0,format/* bytes */.ee)(stats?.bytesSent ?? 0)} on the wire${stats ? '' : ' (nothing to send: rsync did not run)'}`);
}
/** The build has files, but what the inputs leave of it is nothing: name those inputs. */
function emptyReleaseError(s, label, sharedExcluded) {
    const inputs = [
        s.exclude.length > 0 ? 'exclude' : '',
        s.filter.length > 0 ? 'filter' : '',
        sharedExcluded ? 'shared (paths already in TARGET/shared are not uploaded)' : '',
    ].filter(Boolean);
    return new errors/* DeployError */.s(`${label}: the release would be empty: ${inputs.length ? inputs.join(' and ') : 'the rsync rules'} leave no file of ${s.source}. Nothing was changed; ${s.linkName} serves what it served.`, `Check the ${inputs.length ? inputs.join(', ') : 'exclude and filter'} lines (a pattern such as * or /** excludes everything). To deploy an empty release on purpose, set allow-empty: true.`, 'empty-release');
}
/** Dry run: the same checks without the lock or any write, and what would be sent. */
async function dryRun(ctx, run) {
    const s = ctx.settings;
    const reply = await run.session.call('inspect', {
        TAKE_LOCK: 0,
        CHECK_DEPLOY: 1,
        ID: s.releaseId,
        FAST: s.command === 'deploy' && fastPathAllowed() ? 1 : 0,
    });
    run.state = readServerState(reply, (m) => ctx.reporter.warning(`${run.session.label}: ${m}`));
    run.result.previousReleaseId = run.state.live;
    // A dry run changes nothing: what is live is what was live.
    (0,src_outcome/* setLive */.jN)(run.result, s.target, run.state.live);
    run.result.freeKb = run.state.freeKb;
    const lock = (0,src_remote/* first */.$1)(reply, 'locked-by');
    if (lock)
        ctx.reporter.warning(`${run.session.label}: the target is locked by ${lock}; a deploy would wait for it`);
    const live = run.state.live;
    if (await fastDryRun(ctx, run, reply))
        return;
    // Compared by checksum against the live release: exactly what a deploy would send.
    const dest = live ? `${s.target}/releases/${live}/` : `${s.target}/.deploy/incoming/dry-run.${ctx.token}/`;
    const remote = ctx.ssh.rsyncRemote(run.session.index, dest);
    const result = await runRsync(ctx.rsyncPath, {
        source: s.source,
        destination: remote.destination,
        linkDest: [],
        chmod: s.chmod,
        exclude: [...s.exclude, ...s.shared.map((p) => `/${p}`)],
        filter: s.filter,
        rsh: remote.rsh,
        dryRun: true,
        ioTimeout: 120,
        progress: false,
        protectArgs: run.session.gate === undefined,
    }, { signal: ctx.signal, env: ctx.ssh.childEnv() });
    if (result.code !== 0) {
        throw new errors/* DeployError */.s(`${run.session.label}: dry run failed. ${(0,hints/* explainRsyncExit */.Z4)(result.code, result.stderr, ctx.words)}`);
    }
    const items = itemizedFiles(result.stdout).filter((l) => l[1] === 'f');
    const stats = parseStats(result.stdout);
    if (stats.files + stats.links === 0 && !s.allowEmpty) {
        throw emptyReleaseError(s, run.session.label, s.shared.length > 0);
    }
    await dryRunResult(ctx, run, reply, items, stats.files);
}
/** A dry run's counts and words, whichever way it found what a deploy would send. */
async function dryRunResult(ctx, run, reply, items, files) {
    const s = ctx.settings;
    const live = run.state?.live ?? '';
    run.result.filesTransferred = items.length;
    const split = (0,src_remote/* all */.Q7)(reply, 'fs-split');
    warnFsSplit(ctx, run.session.label, split, live);
    // Unchanged files become links only where one filesystem holds them all.
    run.result.filesLinked = split.length > 0 ? 0 : Math.max(0, files - items.length);
    run.result.status = 'dry-run';
    run.result.assetsKept = await (0,keep_assets/* dryRunKept */.bU)(ctx, run);
    ctx.reporter.info(`${run.session.label}: dry run: would send ${items.length} of ${(0,format/* plural */.LS)(files, 'file')}, hard-link ${run.result.filesLinked}, and switch ${s.linkName} from ${live || '(nothing)'} to releases/${s.releaseId}${(0,keep_assets/* keptNote */.Hl)(s, run.result.assetsKept)}\n${items.slice(0, 200).join('\n')}${items.length > 200 ? `\n… and ${items.length - 200} more` : ''}`);
}
/**
 * A dry run on the fast path: the server offered the live release (read only), and the plan says
 * what a deploy would send, without rsync walking both trees. False (the rsync way) without an
 * offer or a manifest.
 */
async function fastDryRun(ctx, run, reply) {
    if ((0,src_remote/* all */.Q7)(reply, 'fz').length + (0,src_remote/* all */.Q7)(reply, 'fp').length === 0)
        return false;
    const m = await run.manifest;
    if (!m || m instanceof Error)
        return false;
    let plan;
    let offer;
    try {
        offer = readOffer(reply);
        plan = planFast(m, offer);
    }
    catch (e) {
        ctx.reporter.debug(`${run.session.label}: dry run without the offer: ${e.message}`);
        return false;
    }
    const types = new Map(m.entries.map((e) => [e.path, e.type]));
    const offered = new Set(offer.entries.map((o) => o?.path));
    // As rsync --itemize-changes writes them: a new file, or one whose content (or mode) changed.
    const sent = plan.send
        .filter((p) => types.get(p) === 'f')
        .map((p) => `${offered.has(p) ? '>fc........' : '>f+++++++++'} ${p}`);
    const files = m.entries.filter((e) => e.type === 'f').length;
    if (files + m.entries.filter((e) => e.type === 'l').length === 0 && !ctx.settings.allowEmpty) {
        throw emptyReleaseError(ctx.settings, run.session.label, ctx.settings.shared.length > 0);
    }
    await dryRunResult(ctx, run, reply, sent, files);
    return true;
}

;// CONCATENATED MODULE: ./src/deploy.ts










/** Releases our lock where we still hold it; a fleet also drops its uploads (all or nothing). */
async function releaseLocks(ctx, runs, discardUploads) {
    if (ctx.signal.aborted) {
        await giveUp(ctx, runs);
        return;
    }
    await Promise.all(runs
        // A failed call may have given the lock back (the session knows); its upload is still ours to drop.
        .filter((r) => r.session.lock === 'held' || (discardUploads && r.ownsUpload))
        .map(async (r) => {
        try {
            await r.session.call('releaseLock', {
                FORCE: 0,
                DISCARD: discardUploads ? r.incoming : '',
                UNPUBLISH: discardUploads && r.published && !r.switched ? ctx.settings.releaseId : '',
            }, { signal: cleanupSignal() });
        }
        catch (e) {
            ctx.reporter.warning(`${r.session.label}: could not release the deploy lock: ${(0,src_outcome/* toDeployError */.pH)(e).message}`);
        }
    }));
}
/**
 * Timeout or cancel: on every host where the lock may be ours, stop what still runs, read back
 * what is served and release the lock, within a short bound. What is reported is what was found.
 */
async function giveUp(ctx, runs) {
    const s = ctx.settings;
    await Promise.all(runs
        // Held, or maybe ours (a call that takes it was cut short); a prepare that never finished too.
        .filter((r) => r.session.lock !== 'free' || (r.touched && r.state === undefined))
        .map(async (r) => {
        const label = r.session.label;
        try {
            const found = await recover(ctx, r, false);
            if (found.switched) {
                r.result.status = 'deployed';
                ctx.reporter.warning(`${label}: ${s.releaseId} had gone live before the step was stopped (after-switch and the health check did not run): ${serving(ctx, found)}`);
            }
            else {
                if (r.result.status === 'deployed')
                    r.result.status = 'failed';
                r.switched = false;
                ctx.reporter.info(`${label}: stopped on the server: ${serving(ctx, found)}`);
            }
        }
        catch (e) {
            r.unconfirmed = true;
            ctx.reporter.warning(`${label}: could not reach the server to stop the deploy and release the lock (${(0,src_outcome/* toDeployError */.pH)(e).message}); the post step (or command: unlock) tries again`);
        }
    }));
}
/**
 * The deploy of DESIGN §3 over every host: connect, prepare and upload everywhere (bounded
 * parallelism); only if all of that succeeded, publish and switch everywhere; if any switch fails,
 * the hosts already switched go back. All hosts end on the same release, or on the one they had.
 */
async function runDeploy(ctx) {
    const runs = deployHosts(ctx);
    try {
        return await deployRuns(ctx, runs);
    }
    finally {
        // A session opened ahead that no call took gets no script: it ends having run nothing.
        for (const r of runs)
            r.session.dropAhead();
    }
}
async function deployRuns(ctx, runs) {
    const s = ctx.settings;
    const outcome = {
        releaseId: s.releaseId,
        hosts: runs.map((r) => r.result),
        rolledBack: false,
        error: undefined,
        get unconfirmed() {
            return runs.filter((r) => r.unconfirmed).map((r) => r.session.label);
        },
        // Only beside release-id when that is ours: the digest of what the link serves, never of an attempt.
        get releaseDigest() {
            const h = runs[0];
            return h?.result.liveKnown && h.result.releaseId === s.releaseId ? (h.digest ?? '') : '';
        },
    };
    const failures = [];
    const stamp = (r) => {
        r.result.durationMs = Date.now() - r.start;
    };
    // Log groups do not nest: with hosts in parallel, lines carry the host name instead.
    const group = (name, fn) => runs.length === 1 ? ctx.reporter.group(name, fn) : fn();
    // Runs one step on one host; a failure is recorded on the host and collected, never thrown.
    const step = async (r, name, fn) => {
        let ok = true;
        try {
            await group(`${r.session.label}: ${name}`, fn);
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            r.result.status = 'failed';
            r.result.error = err.message;
            failures.push(err);
            ok = false;
        }
        stamp(r);
        return ok;
    };
    if (s.command === 'deploy' || s.command === 'upload') {
        // Read and hashed while the connections open and the servers prepare (each host's plan waits
        // for it); started after this turn, so the first ssh is spawned before the build is walked.
        const manifest = new Promise((resolve) => setImmediate(resolve)).then(async () => {
            // The walk that hashes the build counts its special files; one that did not finish, or
            // never began (a build without a manifest), leaves them to a walk of their own (none once
            // the run is cancelled or timed out: nothing would read the warning in time).
            const special = { count: 0, names: [] };
            const m = await buildReleaseManifest(s, ctx.rsyncPath, ctx.signal, special).catch((e) => e instanceof Error ? e : new Error(String(e)));
            const counted = m instanceof Error && !ctx.signal.aborted ? (0,build_scan/* specialFiles */.p9)(s.source) : special;
            const warning = (0,build_scan/* specialFilesWarning */.Z8)(counted);
            if (warning)
                ctx.reporter.warning(warning);
            return m;
        });
        for (const r of runs)
            r.manifest = manifest;
    }
    await pool(runs, s.maxParallel, async (r) => {
        r.start = Date.now();
        if (!(await step(r, 'connect and check', () => connect(ctx, r))))
            return;
        if (s.dryRun) {
            await step(r, 'dry run', () => dryRun(ctx, r));
            return;
        }
        try {
            if (!(await step(r, 'prepare', () => prepare(ctx, r))))
                return;
            if (s.command === 'activate')
                r.incoming = (0,incoming/* stagedName */.w)(s.releaseId);
            else if (!(await step(r, 'upload', () => upload(ctx, r))))
                return;
            r.result.status = 'uploaded';
        }
        finally {
            // An rsync started during prepare never outlives its step, whatever happened.
            await r.early?.cancel();
        }
    });
    if (s.dryRun || failures.length > 0) {
        await releaseLocks(ctx, runs, s.hosts.length > 1 && s.command === 'deploy');
        for (const r of runs)
            if (r.result.status === 'uploaded')
                r.result.status = 'not-switched';
        outcome.error = (0,src_outcome/* noHostSwitched */.VM)(failures, s.hosts.length);
        return outcome;
    }
    if (s.command === 'upload') {
        await Promise.all(runs.map((r) => stage(ctx, r).catch((e) => failures.push((0,src_outcome/* toDeployError */.pH)(e)))));
        await releaseLocks(ctx, runs, false);
        outcome.error = (0,src_outcome/* fleetFailure */.BV)(failures, s.hosts.length, 'Upload');
        return outcome;
    }
    // Hold the lock past the switch when more steps follow, so nothing else deploys in between.
    const after = s.afterSwitch !== '' || s.healthcheckUrl !== '';
    const fleet = runs.length > 1;
    if (!fleet) {
        const r = runs[0];
        await step(r, 'publish and switch', () => publishAndSwitch(ctx, r, after, true));
    }
    else {
        // A fleet publishes (and runs before-switch) everywhere first: one failure and no host switches.
        await Promise.all(runs.map((r) => step(r, 'publish', () => publishAndSwitch(ctx, r, true, false))));
        if (failures.length > 0) {
            await releaseLocks(ctx, runs, s.command === 'deploy');
            for (const r of runs)
                if (r.result.status !== 'failed')
                    r.result.status = 'not-switched';
            outcome.error = (0,src_outcome/* noHostSwitched */.VM)(failures, s.hosts.length);
            return outcome;
        }
        await Promise.all(runs.map((r) => step(r, 'switch', () => switchHost(ctx, r))));
    }
    if (failures.length === 0 && after) {
        await Promise.all(runs.map(async (r) => {
            if (!s.afterSwitch)
                return;
            try {
                await group(`${r.session.label}: after-switch`, () => afterSwitch(ctx, r));
            }
            catch (e) {
                const err = (0,src_outcome/* toDeployError */.pH)(e);
                r.result.error = err.message;
                failures.push(err);
            }
        }));
        if (failures.length === 0 && s.healthcheckUrl) {
            try {
                await (0,healthcheck/* healthcheck */.j3)(s.healthcheckUrl, { signal: ctx.signal, reporter: ctx.reporter });
            }
            catch (e) {
                failures.push((0,src_outcome/* toDeployError */.pH)(e));
            }
        }
        if (failures.length > 0 && !s.rollbackOnFailure) {
            ctx.reporter.warning(`The new release stays live (${wordsOf(ctx).input('rollback-on-failure', 'false')}) although a check after the switch failed (the error says which).`);
        }
    }
    const switchFailed = runs.some((r) => r.result.status === 'failed');
    if (failures.length > 0 && (switchFailed || s.rollbackOnFailure)) {
        // All or nothing: hosts that did switch go back to what they served before.
        for (const r of runs.filter((x) => x.switched)) {
            try {
                await revert(ctx, r, 
                // The reason is the run's error, said once (the annotation), not again in this warning.
                switchFailed ? 'another host failed to switch' : 'a check after the switch failed');
                outcome.rolledBack = true;
            }
            catch (e) {
                // Refused before its switch, the revert left our release live; anything else: unknown.
                (0,src_outcome/* settleFailedSwitch */.$A)(r.result, s.target, s.releaseId, (0,src_outcome/* toDeployError */.pH)(e));
                ctx.reporter.warning(`${r.session.label}: could not switch back: ${(0,src_outcome/* toDeployError */.pH)(e).message}`);
            }
        }
    }
    await releaseLocks(ctx, runs, false);
    for (const r of runs)
        stamp(r);
    if (failures.length > 0) {
        const what = switchFailed ? 'The switch' : 'A check after the switch';
        const back = outcome.rolledBack ? '; the hosts were switched back' : '';
        outcome.error = (0,src_outcome/* failedOn */.L7)(failures, s.hosts.length, (n, m) => `${what} failed on ${n} of ${m} hosts${back}.`);
        if (s.hosts.length === 1 && outcome.rolledBack && outcome.error) {
            outcome.error = new errors/* DeployError */.s(`${outcome.error.message}\nThe previous release ${runs[0]?.state?.live} is live again.`, outcome.error.hint, outcome.error.code);
        }
    }
    return outcome;
}

// EXTERNAL MODULE: ./src/runner-platform.ts
var runner_platform = __webpack_require__(9005);
;// CONCATENATED MODULE: ./src/doctor.ts
/**
 * command: doctor. Connects to every host and checks what a deploy needs, changing nothing there:
 * the remote script (remote.ts DOCTOR) only reads and reports facts, and `doctorChecks` (pure)
 * turns the server's reply into one check per line, each ✓ or ✗ with its fix. The core returns
 * them as data (CommandOutcome.doctor); the CLI and the action render them.
 */









/** Below these a deploy is likely to fail half-way (a release needs room for what changed). */
const MIN_FREE_KB = 100 * 1024;
const MIN_FREE_INODES = 1000;
/** Codes of a connection that failed at the host key, and at the login (hints.ts explainSshFailure). */
const HOST_KEY_CODES = new Set(['host-key-changed', 'host-key-unknown']);
const LOGIN_CODES = new Set(['auth', 'passphrase', 'key-format']);
const ok = (name, detail) => ({ name, ok: true, detail, fix: '' });
const bad = (name, detail, fix) => ({ name, ok: false, detail, fix });
/** `part NAME KIND OWNER W DEV` lines → their facts, by name. */
function readParts(reply) {
    const parts = new Map();
    for (const v of (0,src_remote/* all */.Q7)(reply, 'part')) {
        const [name = '', kind = 'missing', owner = '', w = '0', dev = ''] = v.split(' ');
        const k = ['missing', 'dir', 'symlink', 'file'].find((x) => x === kind) ?? 'missing';
        parts.set(name, { kind: k, owner, writable: w === '1', dev });
    }
    return parts;
}
function localRsyncCheck(local) {
    if ('problem' in local)
        return bad('rsync here', local.problem.message, local.problem.hint);
    return ok('rsync here', `${local.version} (${local.path})`);
}
function serverRsyncCheck(reply) {
    const name = 'rsync on the server';
    if (reply.values.has('rsync-missing')) {
        return bad(name, 'rsync is not installed on the server (or not in PATH for this user)', (0,hints/* remoteErrorHint */.yj)('rsync-missing', { target: '', linkName: '', user: '' }));
    }
    const line = (0,src_remote/* first */.$1)(reply, 'rsync-version');
    const v = (0,runner_platform/* parseRsyncVersion */.PC)(line);
    if (v.kind === 'rsync' && v.version[0] >= 3)
        return ok(name, line.replace(/\s+/g, ' ').trim());
    return bad(name, `${line || '(no version)'}: rsync 3.0 or later is needed on the server`, 'Install a current rsync on the server (Debian/Ubuntu: apt-get install rsync; RHEL: dnf install rsync; Alpine: apk add rsync).');
}
function shellCheck(reply) {
    const name = 'login shell';
    const shell = (0,src_remote/* first */.$1)(reply, 'shell');
    if (reply.other.length === 0)
        return ok(name, `${shell || '(unknown)'} prints nothing before our reply`);
    return bad(name, `${shell || 'the login shell'} printed ${(0,format/* plural */.LS)(reply.other.length, 'line')} before our reply (first: "${reply.other[0]?.slice(0, 120)}"); rsync's data stream breaks on that`, (0,hints/* startupFileHint */.r1)(shell, 'prints'));
}
function targetCheck(parts, reply, ctx, me) {
    const name = 'target';
    const t = parts.get('target');
    const fix = (0,hints/* remoteErrorHint */.yj)('target-unwritable', { target: ctx.target, linkName: ctx.linkName, user: me });
    if (!t || t.kind === 'missing') {
        const near = parts.get('nearest');
        const where = (0,src_remote/* first */.$1)(reply, 'nearest-path') || '/';
        if (near?.writable)
            return ok(name, `${ctx.target} does not exist yet; ${me} can create it in ${where}`);
        return bad(name, `${ctx.target} does not exist, and ${me} cannot create it in ${where} (owned by ${near?.owner ?? '?'})`, fix);
    }
    if (t.kind !== 'dir')
        return bad(name, `${ctx.target} is a ${t.kind}, not a directory`, fix);
    if (!t.writable)
        return bad(name, `${ctx.target} is owned by ${t.owner} and not writable by ${me}`, fix);
    const chown = `On the server, as root: chown -R ${me}:${(0,src_remote/* first */.$1)(reply, 'user').split(' ')[1] || me} ${ctx.target}`;
    for (const [p, label] of [
        ['releases', 'releases/'],
        ['deploy', '.deploy/'],
        ['incoming', '.deploy/incoming/'],
        ['lock', '.deploy/lock'],
    ]) {
        const part = parts.get(p);
        if (!part || part.kind === 'missing')
            continue;
        if (part.kind === 'symlink') {
            return bad(name, `${ctx.target}/${label} is a symlink: a deploy refuses to work through it`, (0,hints/* remoteErrorHint */.yj)('unsafe-path', { target: ctx.target, linkName: ctx.linkName, user: me }));
        }
        if (p !== 'lock' && (part.kind !== 'dir' || !part.writable)) {
            return bad(name, `${ctx.target}/${label} is owned by ${part.owner} and not writable by ${me}`, chown);
        }
    }
    return ok(name, `${ctx.target} is writable by ${me}${t.owner === me ? ' and owned by it' : ` (owned by ${t.owner})`}`);
}
function filesystemCheck(parts, ctx) {
    const name = 'one filesystem';
    const dev = (...names) => {
        for (const n of names) {
            const p = parts.get(n);
            if (p && p.kind !== 'missing' && p.dev)
                return p.dev;
        }
        return '';
    };
    const releases = dev('releases', 'target', 'nearest');
    const incoming = dev('incoming', 'deploy', 'target', 'nearest');
    if (releases && incoming && releases !== incoming) {
        return bad(name, `releases/ (device ${releases}) and .deploy/incoming/ (device ${incoming}) are on different filesystems: nothing can be hard-linked, every upload is sent and stored in full`, `Keep ${ctx.target}/releases and ${ctx.target}/.deploy on one filesystem (do not mount either of them separately).`);
    }
    return ok(name, 'releases/ and the upload directory .deploy/incoming/ are on one filesystem');
}
/** Free space (KiB, as df -k says it) in format.ts's units. */
function kib(n) {
    return (0,format/* bytes */.ee)(n * 1024);
}
function spaceCheck(reply, ctx) {
    const name = 'free space';
    const [kb = '', total = '', free = ''] = (0,src_remote/* first */.$1)(reply, 'df').split(' ');
    const freeKb = Number(kb);
    if (kb === '' || !Number.isFinite(freeKb))
        return bad(name, `df could not measure ${ctx.target}`, 'Check that df works on the server.');
    const noTable = Number(total) === 0;
    const inodes = Number(free);
    const detail = `${kib(freeKb)} and ${noTable ? 'no inode limit' : `${inodes} inodes`} free`;
    const fix = `Free space on the server: prune old releases (${(ctx.words ?? src_words/* ACTION_WORDS */.d).command('prune')}) or grow the disk.`;
    if (freeKb < MIN_FREE_KB)
        return bad(name, `only ${detail} (at least ${kib(MIN_FREE_KB)} needed)`, fix);
    if (!noTable && Number.isFinite(inodes) && inodes < MIN_FREE_INODES) {
        return bad(name, `only ${detail} (at least ${MIN_FREE_INODES} inodes needed)`, fix);
    }
    return ok(name, detail);
}
const RENAME_TOOLS = {
    gnu: 'mv -T',
    bsd: 'mv -h',
    perl: 'perl rename()',
    python: 'python3 os.rename()',
};
function renameCheck(reply) {
    const name = 'atomic switch';
    const tool = RENAME_TOOLS[(0,src_remote/* first */.$1)(reply, 'mv-kind')];
    if (tool)
        return ok(name, `renames the link with ${tool}`);
    return bad(name, 'the server cannot rename a link over another atomically: its mv has no -T or -h, and there is neither perl nor python3', `${(0,hints/* remoteErrorHint */.yj)('no-rename', { target: '', linkName: '', user: '' })} Install one of them on the server (e.g. apt-get install coreutils, apk add coreutils, or perl).`);
}
function linkCheck(parts, reply, ctx) {
    const name = ctx.linkName;
    const link = parts.get('link');
    const path = `${ctx.target}/${ctx.linkName}`;
    if (!link || link.kind === 'missing')
        return ok(name, `${path} does not exist yet: the first deploy creates it`);
    if (link.kind === 'symlink') {
        const to = (0,src_remote/* first */.$1)(reply, 'link-to');
        const inReleases = /^releases\/[^/]+$/.test(to) || to.startsWith(`${ctx.target}/releases/`);
        return ok(name, `${path} -> ${to}${inReleases ? '' : ' (outside releases/: the next deploy replaces it)'}`);
    }
    return bad(name, `${path} is a real ${link.kind === 'dir' ? 'directory' : 'file'}, not a symlink: a deploy cannot switch it`, (0,hints/* remoteErrorHint */.yj)('link-not-symlink', { target: ctx.target, linkName: ctx.linkName, user: ctx.user }));
}
function lockCheck(reply, ctx) {
    const name = 'lock';
    const owner = (0,src_remote/* first */.$1)(reply, 'lock-owner').trim();
    if (reply.values.has('lock-held')) {
        return bad(name, `held by another run: ${owner}`, (0,hints/* remoteErrorHint */.yj)('locked', {
            target: ctx.target,
            linkName: ctx.linkName,
            user: ctx.user,
            words: ctx.words,
        }));
    }
    if (reply.values.has('lock-stale')) {
        return ok(name, `a stale lock (${(0,src_remote/* first */.$1)(reply, 'lock-stale')}): the next deploy takes it over (${owner})`);
    }
    return ok(name, 'free');
}
/** The server's reply to the DOCTOR script → its checks, in the order a deploy meets them. Pure. */
function doctorChecks(reply, ctx) {
    const parts = readParts(reply);
    const me = (0,src_remote/* first */.$1)(reply, 'user').split(' ')[0] || ctx.user || 'the deploy user';
    return [
        shellCheck(reply),
        localRsyncCheck(ctx.local),
        serverRsyncCheck(reply),
        targetCheck(parts, reply, ctx, me),
        filesystemCheck(parts, ctx),
        spaceCheck(reply, ctx),
        renameCheck(reply),
        linkCheck(parts, reply, ctx),
        lockCheck(reply, ctx),
    ];
}
/** A connection (or a call) that failed → the checks it answers: host key, login, login shell. */
function connectionChecks(err, trustedBy) {
    const say = (e) => e.message.replace(/\n[\s\S]*$/, '');
    if (HOST_KEY_CODES.has(err.code))
        return [bad('host key', say(err), err.hint)];
    const hostKey = ok('host key', `matches ${trustedBy}`);
    if (LOGIN_CODES.has(err.code))
        return [hostKey, bad('login', say(err), err.hint)];
    if (err.code === 'login-shell')
        return [hostKey, ok('login', 'the key was accepted'), bad('login shell', say(err), err.hint)];
    return [bad('connection', say(err), err.hint)];
}
async function localRsync() {
    try {
        const p = await (0,runner_platform/* findRsync */.Zz)((0,runner_platform/* onPath */.L)('rsync'));
        const r = await (0,proc/* run */.e)(p, ['--version'], { signal: AbortSignal.timeout(10_000) });
        return { path: p, version: (r.stdout.split('\n')[0] ?? '').replace(/\s+/g, ' ').trim() };
    }
    catch (e) {
        return { problem: (0,src_outcome/* toDeployError */.pH)(e) };
    }
}
/** How many checks failed, over all hosts; and the error a front end reports (its code sets the exit code). */
function doctorFailure(report, connectionErrors) {
    const failed = report.flatMap((h) => h.checks.filter((c) => !c.ok).map((c) => `${h.host}: ${c.name}`));
    if (failed.length === 0)
        return undefined;
    const message = `doctor: ${failed.length} check${failed.length > 1 ? 's' : ''} failed (${failed.join(', ')}).`;
    const hint = 'Fix what each ✗ line says, then run doctor again.';
    // A host we could not reach or log in to is the worst: its code (a connection error) decides.
    return new errors/* DeployError */.s(message, hint, connectionErrors[0]?.code ?? 'doctor-failed');
}
/**
 * Whether the key is gated (a forced command, gate.ts): a fact, not a fault, so ✓ either way; the
 * detail says what a stolen key could do.
 */
function accessCheck(gate, target) {
    return gate
        ? ok('access', `key is gated: rsync-atomic-deploy-gate ${gate.version} lets it only deploy to ${target}`)
        : ok('access', 'key is not gated: it can run any command as the deploy user (README "Least privilege": init --gate)');
}
/** command: doctor on every host; never throws for a host's problem (it becomes a ✗). */
async function runDoctor(core) {
    const s = core.settings;
    const local = await localRsync();
    const ownSetup = s.key === '' || (s.trusted.lines.length === 0 && s.trusted.fingerprints.length === 0);
    const trustedBy = s.acceptUnknownHostKey
        ? 'the key learned on first use (accept-unknown-host-key)'
        : ownSetup
            ? 'your known_hosts'
            : (core.words ?? src_words/* ACTION_WORDS */.d).input('known-hosts');
    const connectionErrors = [];
    const results = await pool(s.hosts, s.maxParallel, async (spec, i) => {
        const start = Date.now();
        const session = new HostSession(core, i, spec);
        const result = (0,src_outcome/* blankResult */.mE)(spec.label, '');
        let checks;
        try {
            await core.ssh.connect(i, spec.label, core.signal);
            const reply = await session.call('doctor', { ID: '' });
            checks = [
                ok('host key', `matches ${trustedBy}`),
                ok('login', `as ${(0,src_remote/* first */.$1)(reply, 'user').split(' ')[0] || spec.user}`),
                accessCheck(session.gate, s.target),
                ...doctorChecks(reply, {
                    target: s.target,
                    linkName: s.linkName,
                    user: spec.user,
                    trustedBy,
                    local,
                    words: core.words,
                }),
            ];
            const to = (0,src_remote/* first */.$1)(reply, 'link-to');
            const id = /^releases\/([^/]+)$/.exec(to)?.[1] ?? '';
            (0,src_outcome/* setLive */.jN)(result, s.target, id);
            result.status = 'not-switched';
        }
        catch (e) {
            const err = (0,src_outcome/* toDeployError */.pH)(e);
            if (err.code === 'cancelled')
                throw err;
            if (err.code !== 'login-shell')
                connectionErrors.push(err);
            checks = [...connectionChecks(err, trustedBy), localRsyncCheck(local)];
            result.error = err.message;
        }
        result.durationMs = Date.now() - start;
        return { result, checks: { host: spec.label, checks } };
    });
    const doctor = results.map((r) => r.checks);
    return {
        releaseId: results[0]?.result.releaseId ?? '',
        hosts: results.map((r) => r.result),
        rolledBack: false,
        error: doctorFailure(doctor, connectionErrors),
        releases: [],
        doctor,
    };
}

// EXTERNAL MODULE: ./src/verify.ts
var verify = __webpack_require__(5538);
;// CONCATENATED MODULE: ./src/verify-command.ts






/** A release that cannot be verified without a manifest and no expected-digest is said, not failed. */
function unverifiable(r) {
    return r.manifest === 'missing' && !r.expectedDigest && r.differences.length === 0;
}
/**
 * command: verify. One read-only call per host (no lock: it changes nothing): the server re-hashes
 * the release (default: the live one) and sends its tree; the comparison runs here.
 */
async function runVerify(ctx) {
    const s = ctx.settings;
    const w = wordsOf(ctx);
    const wanted = s.releaseIdGiven ? s.releaseId : '';
    const hosts = hostRuns(ctx, '');
    const failures = [];
    const reports = [];
    await pool(hosts, s.maxParallel, async (h) => {
        const label = h.session.label;
        try {
            await ctx.ssh.connect(h.session.index, label, ctx.signal);
            const reply = await h.session.call('verify', {
                ID: wanted,
                VERIFY_MAX: verify/* VERIFY_MAX_BYTES */.jH,
                VERIFY_MAX_ENTRIES: verify/* VERIFY_MAX_ENTRIES */.UQ,
            });
            h.state = readServerState(reply, (m) => ctx.reporter.warning(`${label}: ${m}`));
            (0,src_outcome/* setLive */.jN)(h.result, s.target, h.state.live);
            h.result.status = 'not-switched';
            const release = (0,src_remote/* first */.$1)(reply, 'verifying');
            if (!SAFE_NAME_RE.test(release) || (wanted && release !== wanted)) {
                throw new verify/* VerifyReplyError */.yF(`it names the release ${JSON.stringify(release)}`);
            }
            const report = (0,verify/* compareRelease */.DT)({
                release,
                manifest: (0,verify/* hexSection */.j5)(reply, 'manifest'),
                kept: (0,verify/* hexSection */.j5)(reply, 'kept'),
                tree: (0,verify/* hexSection */.j5)(reply, 'tree') ?? Buffer.alloc(0),
                links: (0,verify/* hexSection */.j5)(reply, 'links') ?? Buffer.alloc(0),
                sums: (0,verify/* hexSection */.j5)(reply, 'sums') ?? Buffer.alloc(0),
                logLines: (0,src_remote/* all */.Q7)(reply, 'log'),
                expectedDigest: s.expectedDigest,
                expectedName: w.input('expected-digest'),
            });
            reports.push({ host: label, report });
            const verdict = (0,verify/* verdictLine */.MT)(report);
            if (report.verified)
                ctx.reporter.info(`${label}: ${release}: ${verdict}`);
            else if (unverifiable(report)) {
                ctx.reporter.warning(`${label}: ${release}: ${verdict}. Give ${w.input('expected-digest')} (the release-digest its deploy printed) to check it against that.`);
            }
            else {
                const lines = (0,verify/* differenceLines */.Ze)(report.differences);
                const err = new errors/* DeployError */.s(`${label}: release ${release} is ${verdict}${lines.length ? `\n${lines.map((l) => `  ${l}`).join('\n')}` : ''}`, report.differences.length
                    ? `A release is never changed after it is published: something else wrote to ${s.target}/releases/${release}. Deploy the build again (a new release), or roll back, and find out what changed it.`
                    : report.manifest === 'missing'
                        ? `Release ${release} has no manifest (deployed before manifests were written), so which files differ cannot be said.`
                        : '', 'verify-failed');
                h.result.error = err.message;
                h.result.status = 'failed';
                failures.push(err);
            }
            if (report.kept.length)
                ctx.reporter.info(`${label}: ${report.kept.length} asset(s) kept from older releases (keep-assets), not part of this build`);
        }
        catch (e) {
            const err = e instanceof verify/* VerifyReplyError */.yF
                ? new errors/* DeployError */.s(`${label}: ${e.message}`, '', 'remote')
                : (0,src_outcome/* toDeployError */.pH)(e);
            h.result.error = err.message;
            failures.push(err);
        }
        h.result.durationMs = Date.now() - h.start;
    });
    // In the hosts' order, whatever order they answered in.
    const order = new Map(hosts.map((h, i) => [h.session.label, i]));
    reports.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
    return {
        releaseId: hosts[0]?.result.releaseId ?? '',
        hosts: hosts.map((h) => h.result),
        rolledBack: false,
        error: (0,src_outcome/* fleetFailure */.BV)(failures, hosts.length, 'Verify'),
        releases: [],
        // The digest recorded for the release checked on the first host ('' when it has none).
        releaseDigest: reports.find((v) => v.host === hosts[0]?.session.label)?.report.recordedDigest ?? '',
        verify: reports,
    };
}

;// CONCATENATED MODULE: ./src/dispatch.ts
/**
 * The commands, by name: loaded by run-command.ts once the first connection is opening (a chunk of
 * the bundle of its own), so none of their code is parsed or run before the handshake starts.
 */




/** Runs one command with a ready connection setup. */
async function dispatch(c) {
    switch (c.settings.command) {
        case 'deploy':
        case 'upload':
        case 'activate':
            return { ...(await runDeploy(c)), releases: [] };
        case 'rollback':
            return runRollback(c);
        case 'list':
            return runList(c);
        case 'prune':
            return runPrune(c);
        case 'unlock':
            return runUnlock(c);
        case 'doctor':
            return runDoctor(c);
        case 'verify':
            return runVerify(c);
    }
}


/***/ }),

/***/ 5291:
/***/ ((module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   u: () => (/* binding */ reportDoctor)
/* harmony export */ });
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1938);
/* harmony import */ var _doctor_render_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5849);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__]);
_actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = (__webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__)[0];


/** command: doctor in the action: one log line per check, and the checks in the job summary. */
async function reportDoctor(report) {
    // doctorText has escaped every server text; a line of it is never read as a workflow command.
    for (const line of (0,_doctor_render_js__WEBPACK_IMPORTED_MODULE_1__/* .doctorText */ .l)(report).trimEnd().split('\n'))
        _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(line);
    if (!process.env.GITHUB_STEP_SUMMARY)
        return;
    await _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .summary */ .z
        .addRaw((0,_doctor_render_js__WEBPACK_IMPORTED_MODULE_1__/* .doctorMarkdown */ .t)(report))
        .write()
        .catch((e) => _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .warning */ .$e(`Could not write the job summary: ${e}`));
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } });

/***/ }),

/***/ 5849:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   l: () => (/* binding */ doctorText),
/* harmony export */   t: () => (/* binding */ doctorMarkdown)
/* harmony export */ });
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(873);

const PLAIN = { green: (s) => s, red: (s) => s, bold: (s) => s };
/** One line per check, ✓ or ✗, the fix indented under a ✗. Server text is escaped. */
function doctorText(report, paint = PLAIN) {
    const out = [];
    for (const h of report) {
        out.push(paint.bold(`checks on ${(0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .safeMessage */ .N5)(h.host)}:`));
        for (const c of h.checks) {
            const mark = c.ok ? paint.green('✓') : paint.red('✗');
            out.push(`  ${mark} ${c.name}: ${(0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .safeMessage */ .N5)(c.detail)}`);
            if (!c.ok && c.fix)
                out.push(`      fix: ${(0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .safeMessage */ .N5)(c.fix).replace(/\n/g, '\n           ')}`);
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
    const cell = (s) => escapeHtml((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .safeMessage */ .N5)(s));
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


/***/ }),

/***/ 5546:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
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
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _build_scan_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6441);
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

/***/ 7729:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   dr: () => (/* binding */ actionOutputs)
/* harmony export */ });
/* unused harmony exports totals, hostsJson, releasesJson */
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


/***/ }),

/***/ 8855:
/***/ ((module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   AN: () => (/* binding */ actionRollbackText),
/* harmony export */   Sy: () => (/* binding */ writeSummary),
/* harmony export */   lZ: () => (/* binding */ wayBack)
/* harmony export */ });
/* unused harmony exports liveNow, cell, htmlTable, resultWord, HOST_DETAILS, hostDetails, releasesHtml, actionRollbackHint, summaryHtml */
/* harmony import */ var _actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1938);
/* harmony import */ var _format_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(6264);
/* harmony import */ var _history_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(8155);
/* harmony import */ var _keep_assets_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(3602);
/* harmony import */ var _spec_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(6188);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(873);
/* harmony import */ var _verify_render_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(8463);
var __webpack_async_dependencies__ = __webpack_handle_async_dependencies__([_actions_core_js__WEBPACK_IMPORTED_MODULE_0__]);
_actions_core_js__WEBPACK_IMPORTED_MODULE_0__ = (__webpack_async_dependencies__.then ? (await __webpack_async_dependencies__)() : __webpack_async_dependencies__)[0];
/**
 * The action's job summary (the outputs are outputs.ts's). It must read on a 1000 px wide page:
 * a short table per host (what happened, what is live now, one figure), the rest of each host's
 * facts folded into a <details> section, and for `list` the releases with who deployed them.
 * summaryHtml is pure (a unit test reads its text); writeSummary only hands it to the runner.
 */







/** The "live now" cell: the release the link serves, or why we cannot say. */
function liveNow(h) {
    if (!h.liveKnown)
        return '(unknown: see the error)';
    return h.releaseId || '(nothing)';
}
// HTML (the toolkit writes cell text into the HTML as it is, and ours holds server text) and the
// characters markdown acts on, so no value becomes a link, markup or a table cell boundary.
const ENTITIES = {
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '"': '&quot;',
    "'": '&#39;',
    '[': '&#91;',
    ']': '&#93;',
    '\\': '&#92;',
    '`': '&#96;',
    '*': '&#42;',
    _: '&#95;',
    '|': '&#124;',
    '~': '&#126;',
};
function escapeHtml(text) {
    return text.replace(/[&<>"'[\]\\`*_|~]/g, (c) => ENTITIES[c] ?? c);
}
/** Text for the page: control characters escaped, HTML and markdown inert, lines kept as <br>. */
function cell(text) {
    return escapeHtml((0,_untrusted_js__WEBPACK_IMPORTED_MODULE_5__/* .safeMessage */ .N5)(text)).split('\n').join('<br>');
}
/** A table of cells that are HTML already (escaped by `cell`). One line: no blank line ends the HTML block. */
function htmlTable(header, rows) {
    const tr = (tag, cells) => `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
    return `<table>${tr('th', header)}${rows.map((r) => tr('td', r)).join('')}</table>`;
}
/** A host's result in words, with ✓/✗ (its error, if any, is said once, under the tables). */
function resultWord(command, h) {
    // A reverted host has an error too (the check that failed): its result is the switch back.
    if (h.status === 'reverted')
        return '✗ switched back';
    if (h.error || h.status === 'failed')
        return '✗ failed';
    switch (h.status) {
        case 'deployed':
            return '✓ deployed';
        case 'uploaded':
            return '✓ uploaded';
        case 'dry-run':
            return '✓ dry run';
        case 'rolled-back':
            return '✓ rolled back';
        default:
            // not-switched: a command that reads or changes no link (list, prune, unlock), a rollback
            // already there, or a deploy stopped because another host failed.
            if ((0,_spec_js__WEBPACK_IMPORTED_MODULE_4__/* .commandSpec */ .Lx)(command).switches)
                return '✗ not switched';
            return command === 'rollback' ? '✓ already live' : '✓ done';
    }
}
/** Commands whose hosts sent files: only they show transfer figures (a rollback sends nothing). */
function transfers(settings) {
    return (0,_spec_js__WEBPACK_IMPORTED_MODULE_4__/* .commandSpec */ .Lx)(settings.command).uploads === true;
}
/** The top table's one figure: files sent and linked where files were sent, else the time taken. */
function figure(settings) {
    if (!transfers(settings))
        return { header: 'time', value: (h) => (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .seconds */ .YA)(h.durationMs) };
    // A host that failed before its upload finished measured nothing: an empty cell, not "0 files".
    const measured = (h) => !(h.status === 'failed' && h.bytesSent === 0);
    if (settings.dryRun) {
        return {
            header: 'files',
            value: (h) => measured(h)
                ? `${(0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .plural */ .LS)(h.filesTransferred, 'file')} to send, ${h.filesLinked} to link${(0,_keep_assets_js__WEBPACK_IMPORTED_MODULE_3__/* .keptNote */ .Hl)(settings, h.assetsKept)}`
                : '',
        };
    }
    return {
        header: 'files',
        value: (h) => measured(h)
            ? `${(0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .plural */ .LS)(h.filesTransferred, 'file')} sent, ${h.filesLinked} hard-linked${(0,_keep_assets_js__WEBPACK_IMPORTED_MODULE_3__/* .keptNote */ .Hl)(settings, h.assetsKept)}`
            : '',
    };
}
const HOST_DETAILS = [
    { label: 'live now', value: (h) => liveNow(h) },
    { label: 'attempted', value: (h) => (h.attemptedReleaseId !== h.releaseId ? h.attemptedReleaseId : '') },
    { label: 'live before', value: (h) => h.previousReleaseId },
    { label: 'files sent', only: transfers, value: (h) => String(h.filesTransferred) },
    { label: 'files hard-linked', only: transfers, value: (h) => String(h.filesLinked) },
    { label: 'bytes sent', only: transfers, value: (h) => (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .bytes */ .ee)(h.bytesSent) },
    { label: 'disk added', only: transfers, value: (h) => (h.diskKb ? (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .bytes */ .ee)(h.diskKb * 1024) : '') },
    {
        label: 'old assets kept',
        only: (s) => transfers(s) && s.keepAssets.length > 0,
        value: (h) => String(h.assetsKept),
    },
    { label: 'pruned', value: (h) => h.pruned.join(', ') },
    { label: 'time', value: (h) => (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .seconds */ .YA)(h.durationMs) },
];
/** The rows of one host's details (label, value), as the page shows them. */
function hostDetails(settings, h, rows = HOST_DETAILS) {
    return rows
        .filter((r) => !r.only || r.only(settings))
        .map((r) => [r.label, r.value(h, settings)])
        .filter(([, v]) => v !== '');
}
/** The short table: host, result, live now (with what was attempted when that differs), one figure. */
function hostTable(settings, outcome) {
    const fig = figure(settings);
    return htmlTable(['host', 'result', 'live now', fig.header], outcome.hosts.map((h) => {
        const note = (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .attemptNote */ .Qg)(h);
        return [
            cell(h.host),
            cell(resultWord(settings.command, h)),
            cell(`${liveNow(h)}${note ? ` (${note})` : ''}`),
            cell(fig.value(h)),
        ];
    }));
}
function detailsSection(settings, outcome) {
    const tables = outcome.hosts.map((h) => htmlTable([cell(h.host), ''], hostDetails(settings, h).map(([k, v]) => [cell(k), cell(v)])));
    return `<details><summary>Details per host</summary>${tables.join('')}</details>`;
}
/** A release's run as a link, only when the log's URL is a plain https URL ('' otherwise). */
function runCell(r) {
    const url = (0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .runLink */ .ut)(r.run);
    return url ? `<a href="${escapeHtml(url)}">${cell((0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .runLabel */ .Az)(url))}</a>` : '';
}
/** `list`: five columns, newest first; times and refs as people read them, the run linked. */
function releasesHtml(releases) {
    return htmlTable(['release', 'deployed', 'by', 'ref', 'run'], releases.map((r) => [
        cell(`${r.id}${r.current ? ' (live)' : ''}${r.bad ? ' (bad)' : ''}`),
        cell((0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .when */ .z7)(r.deployedAt)),
        cell(r.actor),
        cell([(0,_format_js__WEBPACK_IMPORTED_MODULE_1__/* .shortRef */ .m3)(r.ref), r.sha.slice(0, 7)].filter(Boolean).join(' @ ')),
        runCell(r),
    ]));
}
/** After a deploy that went live: the release to roll back to ('' when there is none to offer). */
function wayBack(settings, outcome) {
    const back = outcome.hosts[0]?.previousReleaseId ?? '';
    // Only a release id (a plain name) goes into the code block as it is.
    const offer = settings.command === 'deploy' && !settings.dryRun && !outcome.error;
    return offer && _history_js__WEBPACK_IMPORTED_MODULE_2__/* .RELEASE_ID_RE */ ._J.test(back) ? back : '';
}
/**
 * The way back after a deploy, as the action says it: there is no command to type on a runner, so
 * it names the manual run (workflow_dispatch) of a rollback and the inputs to give it.
 */
function actionRollbackText(back) {
    return `To roll back to ${back}, the release that was live before: run your rollback workflow by hand (workflow_dispatch; the README's "Roll back from a manual run") with command: rollback and rollback-to: ${back}`;
}
/** actionRollbackText for the page, with the inputs as a block to copy. */
function actionRollbackHint(back) {
    return `<p>${cell(actionRollbackText(back))}</p>\n\n\`\`\`yaml\ncommand: rollback\nrollback-to: ${back}\n\`\`\`\n`;
}
/** The whole summary, as it goes into GITHUB_STEP_SUMMARY. */
function summaryHtml(settings, outcome) {
    const title = settings.dryRun ? `Dry run: ${settings.command}` : `rsync-atomic-deploy: ${settings.command}`;
    const out = [`<h3>${cell(title)}</h3>`];
    // The releases are those of the first host read (as the CLI says): name it, a fleet's hosts may differ.
    const from = outcome.hosts.find((h) => !h.error);
    if (settings.command === 'list' && from && outcome.releases.length > 0) {
        const of = outcome.hosts.length > 1 ? ` (1 of ${outcome.hosts.length} hosts)` : '';
        out.push(`<p>${cell(`Releases in ${settings.target} on ${from.host}${of}, newest first:`)}</p>`);
        out.push(releasesHtml(outcome.releases));
    }
    out.push(hostTable(settings, outcome), detailsSection(settings, outcome));
    // The content digest of the build (manifest.ts): what a user compares with `verify` later.
    if (outcome.releaseDigest)
        out.push(`<p>Release digest: <code>${cell(outcome.releaseDigest)}</code></p>`);
    // command: verify: per host what was found (the paths are the server's: escaped, preformatted).
    if (outcome.verify)
        out.push(`<pre>${escapeHtml((0,_verify_render_js__WEBPACK_IMPORTED_MODULE_6__/* .verifyText */ .B)(outcome).trimEnd())}</pre>`);
    const back = wayBack(settings, outcome);
    if (back)
        out.push(actionRollbackHint(back));
    // The one place the page says why the run failed (the host rows say only ✗).
    if (outcome.error)
        out.push(`<p><b>Failed:</b> ${cell(outcome.error.message)}</p>`);
    return `${out.join('\n')}\n`;
}
async function writeSummary(settings, outcome) {
    if (!process.env.GITHUB_STEP_SUMMARY)
        return;
    await _actions_core_js__WEBPACK_IMPORTED_MODULE_0__/* .summary */ .z.addRaw(summaryHtml(settings, outcome)).write();
}

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } });

/***/ }),

/***/ 8463:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   B: () => (/* binding */ verifyText)
/* harmony export */ });
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(873);
/* harmony import */ var _verify_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5538);


const PLAIN = { green: (s) => s, red: (s) => s, bold: (s) => s };
/**
 * command: verify, for people: per host the release checked and the verdict ("verified: N files
 * match sha256:…", or what differs, capped), shared paths and kept assets said apart. Server text
 * (paths) was escaped by verify.ts; safeMessage once more for the whole.
 */
function verifyText(outcome, paint = PLAIN) {
    const out = [];
    const reports = new Map((outcome.verify ?? []).map((v) => [v.host, v.report]));
    for (const h of outcome.hosts) {
        const r = reports.get(h.host);
        if (!r) {
            out.push(`${paint.red('✗')} ${h.host}: could not verify (see the error)`);
            continue;
        }
        const mark = r.verified ? paint.green('✓') : paint.red('✗');
        out.push(`${mark} ${h.host}: ${paint.bold(r.release)}${r.release === h.releaseId ? ' (live)' : ''}: ${(0,_verify_js__WEBPACK_IMPORTED_MODULE_1__/* .verdictLine */ .MT)(r)}`);
        for (const l of (0,_verify_js__WEBPACK_IMPORTED_MODULE_1__/* .differenceLines */ .Ze)(r.differences))
            out.push(`    ${l}`);
        if (r.shared.length)
            out.push(`    ${r.shared.length} shared path(s) not compared (links into shared/)`);
        if (r.kept.length)
            out.push(`    ${r.kept.length} asset(s) kept from older releases (keep-assets), not compared`);
    }
    return `${(0,_untrusted_js__WEBPACK_IMPORTED_MODULE_0__/* .safeMessage */ .N5)(out.join('\n'))}\n`;
}


/***/ }),

/***/ 5538:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DT: () => (/* binding */ compareRelease),
/* harmony export */   MT: () => (/* binding */ verdictLine),
/* harmony export */   UQ: () => (/* binding */ VERIFY_MAX_ENTRIES),
/* harmony export */   Ze: () => (/* binding */ differenceLines),
/* harmony export */   j5: () => (/* binding */ hexSection),
/* harmony export */   jH: () => (/* binding */ VERIFY_MAX_BYTES),
/* harmony export */   yF: () => (/* binding */ VerifyReplyError)
/* harmony export */ });
/* unused harmony exports DIGEST_RE, parseLinks, parseTree, parseSums, parseKept, shownPath, sharedLinkTarget, differenceOf, actualTree, loggedDigest, SHOWN_DIFFERENCES, differenceLine */
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _manifest_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5546);
/* harmony import */ var _remote_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(4769);
/* harmony import */ var _untrusted_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(873);
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


/***/ })

};
