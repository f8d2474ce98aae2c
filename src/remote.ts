import { shAssignments } from './quote.js'

/**
 * The server side. Every script here is constant text run by `sh -s` (the remote command never
 * changes, whatever the user's login shell); values arrive as quoted assignments in front of it.
 * Scripts talk back with lines starting `@@rad `, so a chatty shell startup file cannot confuse us.
 */

export const MARK = '@@rad'

/**
 * Tag for shell text: raw (backslashes stay as written) and `\${` stands for the shell's `${`,
 * which a template literal would otherwise take for its own interpolation.
 */
function sh(strings: TemplateStringsArray): string {
  return strings.raw.join('').replace(/\\\$\{/g, '${')
}

const LIB = sh`
set -u
umask 022
D="$T/.deploy"
LOCKED=0
say() { printf '@@rad %s\n' "$*"; }
warn() { printf '@@rad-warning %s\n' "$*"; }
fail() {
  [ "$LOCKED" = 1 ] && lock_release
  printf '@@rad-error %s %s\n' "$1" "$2"
  exit 3
}

# rename(2) of $1 over $2, never "into" $2 when $2 is a link to a directory (plain mv would do that).
mv_kind() {
  if mv --version 2>/dev/null | grep -q GNU; then echo gnu
  else
    case "$(uname -s 2>/dev/null)" in
      Darwin|FreeBSD|OpenBSD|NetBSD|DragonFly) echo bsd; return ;;
    esac
    if command -v perl >/dev/null 2>&1; then echo perl
    elif command -v python3 >/dev/null 2>&1; then echo python
    else echo none
    fi
  fi
}
swap() {
  case "$MVKIND" in
    gnu) mv -fT -- "$1" "$2" ;;
    bsd) mv -fh -- "$1" "$2" ;;
    perl) perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' -- "$1" "$2" ;;
    python) python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$1" "$2" ;;
    *) return 1 ;;
  esac
}
MVKIND=$(mv_kind)

# Our process group, for stopping this script with everything it started (hooks included). Only
# under sshd, which starts each session as a group and session of its own (setsid); elsewhere
# (a test's sh -s) the group may be someone else's, and nothing is ever sent to it.
field() { sed 's/^.*) [A-Za-z] \(.*\)$/\1/' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f "$2"; }
own_group() {
  if [ -r "/proc/$$/stat" ]; then g=$(field $$ 2) s=$(field $$ 3)
  else g=$(ps -o pgid= -p $$ 2>/dev/null | tr -d ' ') s=$g
  fi
  case "$g" in ''|*[!0-9]*|0|1) return 0 ;; esac
  [ "$g" = "$s" ] && { [ "$g" = $$ ] || [ "$g" = "$PPID" ]; } || return 0
  if [ -r "/proc/$g/stat" ]; then pp=$(field "$g" 1); c=$(cat "/proc/$pp/comm" 2>/dev/null)
  else pp=$(ps -o ppid= -p "$g" 2>/dev/null | tr -d ' '); c=$(ps -o comm= -p "$pp" 2>/dev/null)
  fi
  case "\${c##*/}" in sshd*) echo "$g" ;; esac
}
PG=$(own_group)
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
  [ "$MARKED" = 1 ] && [ "$(cat "$D/lock/pg" 2>/dev/null)" = "$PG" ] && rm -f -- "$D/lock/pg"
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
  p=$(cat "$D/lock/pg" 2>/dev/null)
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
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in sshd*) echo "$p"; return ;; esac
    p=$(sed 's/^.*) [A-Za-z] \([0-9]*\).*/\1/' "/proc/$p/stat"); i=$((i + 1))
  done
  echo 0
}
lock_owner() { cat "$D/lock/owner.json" 2>/dev/null || echo '(no owner recorded)'; }
lock_is_stale() {
  if [ ! -f "$D/lock/holder" ]; then
    [ -n "$(find "$D/lock" -maxdepth 0 -mmin +2 2>/dev/null)" ]
    return
  fi
  read -r h_token h_host h_pid h_exp < "$D/lock/holder" || return 1
  [ "$(date +%s)" -gt "$h_exp" ] && return 0
  if [ "$h_host" = "$(hostname)" ] && [ "$h_pid" != 0 ] && [ -d /proc/self ]; then
    [ -d "/proc/$h_pid" ] || return 0
  fi
  return 1
}
lock_take() {
  waited=0
  while ! mkdir "$D/lock" 2>/dev/null; do
    [ -d "$D" ] || fail target-unwritable "cannot create $D"
    if lock_is_stale; then
      warn "taking over a stale deploy lock (its holder is gone): $(lock_owner)"
      stale="$D/lock.stale.$$"
      swap "$D/lock" "$stale" 2>/dev/null && rm -rf -- "$stale"
      continue
    fi
    if [ "$waited" -ge "$LOCK_WAIT" ]; then
      fail locked "another deploy holds the lock on $T for \${LOCK_WAIT}s or more: $(lock_owner)"
    fi
    [ "$waited" = 0 ] && say waiting "$(lock_owner)"
    sleep 2
    waited=$((waited + 2))
  done
  LOCKED=1
  printf '%s\n' "$LOCK_OWNER" > "$D/lock/owner.json"
  printf '%s %s %s %s\n' "$TOKEN" "$(hostname)" "$(conn_pid)" "$(($(date +%s) + LOCK_TTL))" > "$D/lock/holder.tmp"
  swap "$D/lock/holder.tmp" "$D/lock/holder"
  run_mark
}
lock_mine() { [ -f "$D/lock/holder" ] && read -r h_token _rest < "$D/lock/holder" && [ "$h_token" = "$TOKEN" ]; }
lock_release() { lock_mine && rm -rf -- "$D/lock"; LOCKED=0; }
lock_check() { lock_mine || fail lock-lost "the deploy lock on $T was taken over by: $(lock_owner)"; LOCKED=1; kill_run; run_mark; }
# Every change to the target runs right after this check: a run whose lock was taken over or
# revoked (the client gave up) changes nothing more.
fence() {
  lock_mine || { LOCKED=0; fail lock-lost "the deploy lock on $T is no longer ours (now: $(lock_owner)); nothing more was changed"; }
}

# Points the link at $1 (relative to T) by renaming a fresh temporary link over it, then checks.
switch_link() {
  tmp="$D/$LINK.tmp.$TOKEN.$$"
  fence
  rm -f -- "$tmp"
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
report_state() {
  say live "$(live_id)"
  for d in "$T/releases"/*; do [ -d "$d" ] && say release "\${d##*/}"; done
  [ -f "$D/log" ] && tail -n 5000 "$D/log" | grep '^{' | sed 's/^/@@rad log /'
  say free-kb "$(df -Pk "$T" 2>/dev/null | awk 'NR == 2 { print $4 }')"
}
# Deletes the releases named in $PRUNE (chosen from the log by the caller) and uploads abandoned
# for more than a day. A failure here is a warning: the deploy itself has succeeded.
prune_releases() {
  for old in $PRUNE; do
    [ "$old" = "$(live_id)" ] && continue
    lock_mine || return 0
    if rm -rf -- "$T/releases/$old" 2>/dev/null; then say pruned "$old"; else warn "could not delete old release $old"; fi
  done
  lock_mine || return 0
  find "$D/incoming" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf -- {} + 2>/dev/null
  return 0
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
    say disk-kb "$(du -sk "$@" 2>/dev/null | tail -n 1 | awk '{ print $1 }')"
  fi
}
log_append() { printf '%s\n' "$1" >> "$D/log" || warn "could not append to $D/log"; }
`

const PREPARE = sh`
command -v rsync >/dev/null 2>&1 || fail rsync-missing "rsync is not installed on the server (or not in PATH for this user)"
[ "$MVKIND" = none ] && fail no-rename "the server has neither GNU mv, BSD mv, perl nor python3 to rename a link atomically"
if [ ! -d "$T" ]; then
  mkdir -p -- "$T" 2>/dev/null || fail target-unwritable "cannot create $T"
fi
[ -w "$T" ] || fail target-unwritable "$T is not writable by $(id -un)"
if [ -e "$T/$LINK" ] && [ ! -L "$T/$LINK" ]; then
  fail link-not-symlink "$T/$LINK is a real directory or file, not a symlink"
fi
mkdir -p -- "$T/releases" "$D/incoming" 2>/dev/null || fail target-unwritable "cannot create $T/releases and $D"
lock_take
[ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
report_state
ls -1t "$D/incoming" 2>/dev/null | head -n 3 | while IFS= read -r l; do say leftover "$l"; done
if [ -n "$STAGED" ] && [ ! -d "$D/incoming/$STAGED" ]; then
  fail not-uploaded "release $ID was not uploaded to this host (no $D/incoming/$STAGED)"
fi
if [ -n "$INCOMING" ]; then
  fence
  mkdir -- "$D/incoming/$INCOMING" || fail target-unwritable "cannot create $D/incoming/$INCOMING"
fi
say rsync-version "$(rsync --version 2>/dev/null | head -n 1)"
if [ -n "$SHARED" ]; then
  printf '%s\n' "$SHARED" | while IFS= read -r p; do [ -e "$T/shared/$p" ] && say shared-exists "$p"; done
fi
say ok
`

const PUBLISH_AND_SWITCH = sh`
lock_check
[ -d "$D/incoming/$INCOMING" ] || fail upload-missing "the upload $D/incoming/$INCOMING is gone"
[ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
# From here on the release is complete and visible in releases/, but not yet served.
fence
swap "$D/incoming/$INCOMING" "$T/releases/$ID" || fail publish-failed "cannot rename the upload into $T/releases/$ID"
unpublish() { lock_mine && swap "$T/releases/$ID" "$D/incoming/$INCOMING" 2>/dev/null; }
fence
link_shared || { unpublish; fail shared-failed "cannot link the shared paths into $T/releases/$ID"; }
if [ -n "$BEFORE_SWITCH" ]; then
  run_hook before-switch "$BEFORE_SWITCH" "$T/releases/$ID"
  if [ "$HOOK_RC" != 0 ]; then
    unpublish
    fail hook-failed "before-switch exited with status $HOOK_RC; nothing was switched"
  fi
fi
if [ "$SWITCH" = 1 ]; then
  go_live
else
  say published "$ID"
fi
[ "$KEEP_LOCK" = 1 ] || lock_release
say ok
`

// command: upload: the finished upload waits, complete, for command: activate.
const STAGE = sh`
lock_check
[ -e "$D/incoming/$STAGED" ] && fail release-exists "release $ID was already uploaded to this host"
swap "$D/incoming/$INCOMING" "$D/incoming/$STAGED" || fail publish-failed "cannot rename the upload to $D/incoming/$STAGED"
lock_release
say ok
`

const AFTER_SWITCH = sh`
lock_check
run_hook after-switch "$AFTER_SWITCH" "$T/releases/$ID"
# On failure the lock stays ours: the caller switches back (or releases it) next.
[ "$HOOK_RC" = 0 ] || { LOCKED=0; fail hook-failed "after-switch exited with status $HOOK_RC"; }
say ok
`

const PRUNE = sh`
lock_check
prune_releases
lock_release
say ok
`

const SWITCH_TO = sh`
if [ "$TAKE" = 1 ]; then lock_take; else lock_check; fi
[ -d "$T/releases/$ID" ] || fail release-missing "release $ID is not in $T/releases"
go_live
[ "$KEEP_LOCK" = 1 ] || lock_release
say ok
`

const INSPECT = sh`
if [ "$CHECK_DEPLOY" = 1 ]; then
  # a dry run: every check a deploy makes, without writing anything
  command -v rsync >/dev/null 2>&1 || fail rsync-missing "rsync is not installed on the server (or not in PATH for this user)"
  [ "$MVKIND" = none ] && fail no-rename "the server has neither GNU mv, BSD mv, perl nor python3 to rename a link atomically"
  p="$T"
  while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done
  [ -w "$p" ] || fail target-unwritable "$p is not writable by $(id -un)"
  if [ -e "$T/$LINK" ] && [ ! -L "$T/$LINK" ]; then
    fail link-not-symlink "$T/$LINK is a real directory or file, not a symlink"
  fi
  [ -e "$T/releases/$ID" ] && fail release-exists "release $ID already exists in $T/releases"
  [ -d "$D/lock" ] && say locked-by "$(lock_owner)"
else
  [ -d "$T" ] || fail no-target "$T does not exist: nothing was deployed there yet"
fi
if [ "$TAKE_LOCK" = 1 ]; then
  mkdir -p -- "$D" 2>/dev/null || fail target-unwritable "cannot create $D"
  lock_take
fi
report_state
say ok
`

const RELEASE_LOCK = sh`
if [ "$FORCE" = 1 ]; then
  if [ -d "$D/lock" ]; then say unlocked "$(lock_owner)"; rm -rf -- "$D/lock"; else say not-locked; fi
else
  # A process of ours still at work (a call the client gave up on) stops before anything goes.
  lock_mine && kill_run
  # Our own upload (its name holds our token): no other run uses it, lock or not.
  [ -n "$DISCARD" ] && rm -rf -- "$D/incoming/$DISCARD"
  # A fleet whose other hosts failed before the switch: our published, never-live release goes.
  if [ -n "$UNPUBLISH" ] && lock_mine && [ -d "$T/releases/$UNPUBLISH" ] && [ "$(live_id)" != "$UNPUBLISH" ]; then
    rm -rf -- "$T/releases/$UNPUBLISH"
  fi
  lock_release
fi
say ok
`

// After the client gave up on a call (timeout, cancel) or lost its connection in the middle of one:
// stop what of this run still runs there, then say what the server serves. A release of ours that
// went live has its log line (the history must say so); one published but never served goes back
// to incoming/ (a re-run resumes from it). The lock is released unless our release is live and
// the caller goes on (KEEP_LOCK: after-switch, the health check).
const RECOVER = sh`
if lock_mine; then
  kill_run
  live=$(live_id)
  if [ -n "$ID" ] && [ "$live" = "$ID" ]; then
    say switched "$ID"
    if [ -n "$LOGLINE" ] && ! grep -qxF -- "$LOGLINE" "$D/log" 2>/dev/null; then
      fence
      log_append "$LOGLINE"
      say logged
    fi
  elif [ -n "$ID" ] && [ -n "$INCOMING" ] && [ -d "$T/releases/$ID" ] && [ ! -e "$D/incoming/$INCOMING" ]; then
    # Ours: prepare refused an id that existed, and the lock has been ours since.
    fence
    swap "$T/releases/$ID" "$D/incoming/$INCOMING" && say unpublished "$ID"
  fi
  if [ "$KEEP_LOCK" = 1 ] && [ -n "$ID" ] && [ "$live" = "$ID" ]; then say lock kept
  else lock_release; say lock released
  fi
else
  say lock not-ours "$(lock_owner)"
fi
say live "$(live_id)"
say ok
`

export type ScriptName =
  | 'prepare'
  | 'publishAndSwitch'
  | 'afterSwitch'
  | 'stage'
  | 'switchTo'
  | 'inspect'
  | 'releaseLock'
  | 'prune'
  | 'recover'

const SCRIPTS: Record<ScriptName, string> = {
  prepare: PREPARE,
  publishAndSwitch: PUBLISH_AND_SWITCH,
  afterSwitch: AFTER_SWITCH,
  stage: STAGE,
  switchTo: SWITCH_TO,
  inspect: INSPECT,
  releaseLock: RELEASE_LOCK,
  prune: PRUNE,
  recover: RECOVER,
}

/**
 * The exact text sent to `sh -s`: quoted values, the shared library, the constant script as a
 * function, called on the last line. sh has read every byte of the script by then, so the
 * watchdog may take over stdin (fd 9); everything else, hooks included, reads /dev/null.
 */
export function renderScript(name: ScriptName, vars: Record<string, string | number>): string {
  return `${shAssignments(vars)}\n${LIB}\nrad_main() {\n${SCRIPTS[name]}\n}\n${RUN}\n`
}

const RUN = 'exec 9<&0 </dev/null; watch_client; rad_main; exit $?'

export interface ScriptReply {
  /** key → values, in order (a key such as `release` repeats). */
  values: Map<string, string[]>
  warnings: string[]
  error: { code: string; message: string } | undefined
  /** Everything else the server printed (hook output, a login banner…). */
  other: string[]
  ok: boolean
}

export function parseReply(stdout: string): ScriptReply {
  const reply: ScriptReply = { values: new Map(), warnings: [], error: undefined, other: [], ok: false }
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@@rad-error ')) {
      const rest = line.slice('@@rad-error '.length)
      const sp = rest.indexOf(' ')
      reply.error = { code: sp < 0 ? rest : rest.slice(0, sp), message: sp < 0 ? '' : rest.slice(sp + 1) }
    } else if (line.startsWith('@@rad-warning ')) {
      reply.warnings.push(line.slice('@@rad-warning '.length))
    } else if (line.startsWith('@@rad ')) {
      const rest = line.slice('@@rad '.length)
      const sp = rest.indexOf(' ')
      const key = sp < 0 ? rest : rest.slice(0, sp)
      const value = sp < 0 ? '' : rest.slice(sp + 1)
      if (key === 'ok') reply.ok = true
      const list = reply.values.get(key) ?? []
      list.push(value)
      reply.values.set(key, list)
    } else if (line !== '') {
      reply.other.push(line)
    }
  }
  return reply
}

export function first(reply: ScriptReply, key: string): string {
  return reply.values.get(key)?.[0] ?? ''
}

export function all(reply: ScriptReply, key: string): string[] {
  return reply.values.get(key) ?? []
}
