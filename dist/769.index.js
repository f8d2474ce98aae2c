export const id = 769;
export const ids = [769];
export const modules = {

/***/ 4095:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
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

/***/ 4769:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  nc: () => (/* binding */ GATE_PROTOCOL),
  M$: () => (/* binding */ MARK),
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

// UNUSED EXPORTS: AHEAD_OPEN, RUN, SCRIPTS, SERVER_LIB, VAR_RULES, wireText

// EXTERNAL MODULE: ./src/quote.ts
var quote = __webpack_require__(4519);
// EXTERNAL MODULE: ./src/remote-lib.ts
var remote_lib = __webpack_require__(4095);
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
var reply = __webpack_require__(6279);
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



/***/ })

};
