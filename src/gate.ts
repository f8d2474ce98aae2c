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
import { VERSION } from './cli/parse.js'
import { DeployError } from './errors.js'
import { WIRE_END } from './quote.js'
import {
  GATE_PROTOCOL,
  RUN,
  SCRIPTS,
  type ScriptName,
  SERVER_LIB,
  VAR_RULES,
  type VarRule,
} from './remote.js'
import { sh } from './remote-lib.js'

/** What a gate announces first on every script call: `@@rad gate VERSION MIN MAX`. */
export interface GateInfo {
  version: string
  /** The protocols (remote.ts GATE_PROTOCOL) it understands. */
  min: number
  max: number
}

/** The `gate` reply value, or undefined when there is none or it does not parse (server text). */
export function parseGateLine(value: string): GateInfo | undefined {
  const m = /^([0-9A-Za-z.+-]{1,40}) ([0-9]{1,6}) ([0-9]{1,6})$/.exec(value)
  if (!m) return undefined
  return { version: m[1] as string, min: Number(m[2]), max: Number(m[3]) }
}

/** Said when the gate cannot serve this client: which side is older, and what to update. */
export function gateProtocolError(label: string, gate: GateInfo | undefined, why = ''): DeployError {
  const ours = `this rsync-atomic-deploy (${VERSION}) speaks protocol ${GATE_PROTOCOL}`
  if (!gate) {
    return new DeployError(
      `${label}: the key is gated and the gate does not speak ${ours}.`,
      'Install the gate of this version on the server: rsync-atomic-deploy gate > rsync-atomic-deploy-gate.',
      'gate-protocol',
    )
  }
  const theirs = `protocol ${gate.min === gate.max ? gate.min : `${gate.min} to ${gate.max}`}`
  if (gate.min <= GATE_PROTOCOL && GATE_PROTOCOL <= gate.max) {
    // The same protocol, but a script or value this gate does not know: it is an older build.
    return new DeployError(
      `${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) does not know a script or value that this rsync-atomic-deploy (${VERSION}) sends${why ? `: ${why}` : ''}.`,
      'Update the gate on the server to this version: `rsync-atomic-deploy gate > /usr/local/bin/rsync-atomic-deploy-gate` (as root).',
      'gate-protocol',
    )
  }
  const older = gate.max < GATE_PROTOCOL
  return new DeployError(
    `${label}: the server's gate (rsync-atomic-deploy-gate ${gate.version}) is ${older ? 'older' : 'newer'} than this client: it speaks ${theirs}, ${ours}.`,
    older
      ? 'Update the gate on the server: `rsync-atomic-deploy gate > /usr/local/bin/rsync-atomic-deploy-gate` (as root), with this version of the tool.'
      : `Update rsync-atomic-deploy here (the action's version, or the CLI) to ${gate.version} or later.`,
    'gate-protocol',
  )
}

/** The hint for a refusal by the gate (its message says what was refused). */
export function gateHint(code: string): string {
  switch (code) {
    case 'gate-refused':
      return 'The key is gated (a forced command in authorized_keys): it can only deploy to its own target. Nothing was changed.'
    case 'hook-refused':
      return 'Through a gated key the server runs only hooks its owner installed: put the command in an executable file TARGET/.deploy/hooks/before-switch or after-switch, owned by root (or another user) and not writable by the deploy user, in a directory the deploy user cannot write; then remove the hook input.'
    case 'hook-unsafe':
      return 'A hook the deploy user could change is no protection: as root, chown root: the hooks directory and the file, and chmod 755 them.'
    default:
      return ''
  }
}

/** The sh function that checks a value of each rule ($1 the name, $2 the value). */
const RULES: Record<VarRule, string> = {
  target: sh`[ "\${2%/}" = "$gate_target" ] || gate_refuse gate-refused "this key deploys to $gate_target only: another target ($1) was asked for"`,
  link: sh`case $2 in releases|shared|.deploy|[!A-Za-z0-9_]*|*[!A-Za-z0-9._-]*) gate_bad "$1" "a plain name" ;; esac
  [ "\${#2}" -le 100 ] || gate_bad "$1" "a plain name"`,
  token: sh`case $2 in '' | *[!A-Za-z0-9]*) gate_bad "$1" "letters and digits" ;; esac
  [ "\${#2}" -le 64 ] || gate_bad "$1" "letters and digits"`,
  uint: sh`case $2 in '' | *[!0-9]*) gate_bad "$1" "a whole number" ;; esac
  [ "\${#2}" -le 9 ] || gate_bad "$1" "a whole number"`,
  flag: sh`case $2 in '' | 0 | 1) ;; *) gate_bad "$1" "0 or 1" ;; esac`,
  name: sh`[ -z "$2" ] || gate_name "$1" "$2"`,
  names: sh`case $2 in *[!A-Za-z0-9._\ -]*) gate_bad "$1" "release ids" ;; esac
  set -f
  for gw in $2; do gate_name "$1" "$gw"; done
  set +f`,
  shared: sh`gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case "/$gp/" in //* | */./* | */../* | *//*) IFS=$gs_ifs; gate_bad "$1" "relative paths inside the release" ;; esac
    case $gp in *[[:cntrl:]]*) IFS=$gs_ifs; gate_bad "$1" "paths without control characters" ;; esac
  done
  IFS=$gs_ifs; set +f`,
  text: sh`case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of text" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
  json: sh`case $2 in *[[:cntrl:]]*) gate_bad "$1" "one line of JSON" ;; '{'*'}') ;; *) gate_bad "$1" "a JSON object" ;; esac
  [ "\${#2}" -le 8192 ] || gate_bad "$1" "at most 8192 characters"`,
  // keep-assets (keep-assets.ts findPathPattern): ./ then the input's charset, no . or .. part.
  patterns: sh`gs_ifs=$IFS; IFS=$NL; set -f
  for gp in $2; do
    case $gp in ./*) ;; *) IFS=$gs_ifs; gate_bad "$1" "find -path patterns starting ./" ;; esac
    case "\${gp#./}/" in */./* | */../* | ./* | ../* | *//* | *[!A-Za-z0-9._~@+*?/-]*) IFS=$gs_ifs; gate_bad "$1" "patterns of letters, digits and . _ - ~ @ + * ? /" ;; esac
  done
  IFS=$gs_ifs; set +f
  [ "\${#2}" -le 30000 ] || gate_bad "$1" "at most 30000 characters"`,
  // The build's manifest (manifest.ts), or the fast path's delta (fast-path.ts): its lines are
  // only written to the manifest area and compared with the server's own find; every path removed
  // or linked comes from that find, never from it.
  manifest: sh`case $2 in '' | 'rad-manifest 1' | "rad-manifest 1$NL"*) ;; *) gate_bad "$1" "a release manifest" ;; esac`,
  mode: sh`case $2 in '' | [0-7][0-7][0-7][0-7]) ;; *) gate_bad "$1" "4 octal digits" ;; esac`,
  digest: sh`case $2 in '' | sha256:????????????????????????????????????????????????????????????????) ;; *) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac
  case \${2#sha256:} in *[!0-9a-f]*) gate_bad "$1" "a release digest (sha256:<64 hex digits>)" ;; esac`,
  hook: sh`[ -z "$2" ] || gate_refuse hook-refused "the client sent a $1 command, and through this key only hooks the server's owner installed run (executable files in $gate_target/.deploy/hooks/ that the deploy user cannot change); nothing was changed"`,
}

/** The gate's own functions, before the generated tables and the library. */
const GATE_HEAD = sh`
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
`

/** The script dispatch: the values, then the script's own text skipped, then our copy of it run. */
const GATE_SCRIPT = sh`
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
`

/** Shell text without its first and last newline (a function's body). */
function body(text: string): string {
  return text.replace(/^\n/, '').replace(/\n$/, '')
}

/**
 * The whole gate, generated: its head, a rule function per value rule, the value table (which
 * variable has which rule, and its default), the library and every script as functions, and the
 * dispatch. A new script or variable in remote.ts reaches the gate with no change here.
 */
export function renderGate(): string {
  const names = Object.keys(SCRIPTS) as ScriptName[]
  const vars = Object.entries(VAR_RULES) as [string, VarRule][]
  const out: string[] = [
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
  ]
  return out.join('\n')
}
