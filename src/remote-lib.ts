/**
 * The shell library in front of every remote script (see remote.ts): constant POSIX sh text for
 * dash, bash and busybox sh, GNU and busybox userlands.
 */

/**
 * Tag for shell text: raw (backslashes stay as written) and `\${` stands for the shell's `${`,
 * which a template literal would otherwise take for its own interpolation.
 */
export function sh(strings: TemplateStringsArray): string {
  return strings.raw.join('').replace(/\\\$\{/g, '${')
}

/** The shell functions every script uses: reply lines, the lock, the fence, the switch. */
export const LIB = sh`
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
`
