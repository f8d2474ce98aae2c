import { wireAssignments } from './quote.js'
import { LIB, sh } from './remote-lib.js'
import { MANIFEST_LIB } from './remote-manifest.js'

/**
 * The server side. Every script here is constant text run by `sh -s` (the remote command never
 * changes, whatever the user's login shell); values arrive as quoted assignments in front of it.
 * Scripts talk back with lines starting `@@rad `, so a chatty shell startup file cannot confuse us.
 */

/** Every script's library: the shared functions and the manifest's (the gate carries the same). */
export const SERVER_LIB = `${LIB}\n${MANIFEST_LIB}`

export const MARK = '@@rad'

const PREPARE = sh`
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
`

const PUBLISH_AND_SWITCH = sh`
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
`

// command: upload: the finished upload waits, complete, for command: activate.
const STAGE = sh`
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
`

// The fast path's copy of the live release cannot be used after all (the build has no manifest):
// an empty upload dir instead, for the checksum path.
const RESET_UPLOAD = sh`
lock_check
contained
fence
rm -rf -- "$D/incoming/$INCOMING"
manifest_discard "$INCOMING"
mkdir -- "$D/incoming/$INCOMING" || fail target-unwritable "cannot create $D/incoming/$INCOMING"
say ok
`

// A dry run's keep-assets: what keep_assets would link, read only (no lock, no fence, no write),
// one "keep-candidate ./path" a file; the client leaves out what its build has.
const KEEP_PLAN = sh`
if [ -d "$T/releases" ] && [ -n "$KEEP_PATHS" ] && [ -n "$KEEP_FROM" ]; then
  contained "$T/releases" "$D/kept"
  keep_plan '' | while IFS= read -r line; do say keep-candidate "\${line#* }"; done
fi
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
contained
prune_releases
lock_release
say ok
`

const SWITCH_TO = sh`
caps_load
if [ "$TAKE" = 1 ]; then contained; need_swap; lock_take; else lock_check; contained; need_swap; fi
release_dir_ok "$ID"
[ -d "$T/releases/$ID" ] || fail release-missing "release $ID is not in $T/releases"
go_live
[ "$KEEP_LOCK" = 1 ] || lock_release
say ok
`

const INSPECT = sh`
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
`

const RELEASE_LOCK = sh`
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
`

// command: doctor. Reads, never writes: no mkdir, no lock, no fence (it changes nothing to fence).
// Each fact is one line; src/doctor.ts turns them into checks. Paths are the client's to name (it
// knows T): a line carries only a fixed name and fields without spaces.
const DOCTOR = sh`
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
`

// command: verify. Reads, never writes: no lock, no fence, no mkdir (nothing to fence). Sends the
// release's recorded manifest, its kept-assets record, its tree (type, mode, size, path), its
// symlinks' targets and the sha256 of each regular file, each as hex (od) under its own key: names may hold
// any byte but NUL, so the data travels as bytes, never as text a reply line could misread.
const VERIFY = sh`
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
`

export type ScriptName =
  | 'prepare'
  | 'publishAndSwitch'
  | 'afterSwitch'
  | 'stage'
  | 'resetUpload'
  | 'switchTo'
  | 'inspect'
  | 'releaseLock'
  | 'prune'
  | 'recover'
  | 'doctor'
  | 'keepPlan'
  | 'verify'

/** A yes/no value as the scripts test it (`[ "$X" = 1 ]`). */
export type Flag = 0 | 1

/** What every script needs: the deploy root, the link, our lock token. */
/** LEFT: seconds until the run's end (its timeout and clean-up); past it no fence lets a change by. */
export type TargetVars = { T: string; LINK: string; TOKEN: string; LEFT: number }

/** What a script that may take or check the lock needs besides (see lock_take). */
export type LockVars = TargetVars & { LOCK_WAIT: number; LOCK_TTL: number; LOCK_OWNER: string }

/**
 * go_live: the release to serve, the one it replaces (measured against), its log line, what to
 * prune; KEEP_FROM: the releases keep-assets linked from (measured against too).
 */
export type GoLiveVars = {
  ID: string
  PREV: string
  LOGLINE: string
  PRUNE: string
  MEASURE: Flag
  KEEP_FROM: string
}

/**
 * The build's manifest at publish (or stage). FAST=1: the upload is prepare's fast-path copy of
 * release PREV, and MANIFEST says the new manifest in terms of the live one (fast-path.ts
 * manifestDelta); DIGEST its release-digest, checked on the server; ROOT_MODE the release root's
 * mode (4 octal digits). FAST=0: MANIFEST is the whole manifest ('' for none).
 */
export type ManifestVars = { FAST: Flag; MANIFEST: string; DIGEST: string; ROOT_MODE: string }

/**
 * The variables each script reads, so a missing one is a compile error here, not a `set -u`
 * failure on the server. Keep in step with the script text above.
 */
export type ScriptVars = {
  prepare: LockVars & {
    ID: string
    INCOMING: string
    STAGED: string
    SHARED: string
    /** Offer the fast path (fast_offer: a hard-linked copy of the live release, described). */
    FAST: Flag
  }
  publishAndSwitch: LockVars &
    GoLiveVars & {
      INCOMING: string
      SHARED: string
      BEFORE_SWITCH: string
      SWITCH: Flag
      KEEP_LOCK: Flag
      /** keep-assets: find -path patterns, one a line ('' = off); see keep-assets.ts. */
      KEEP_PATHS: string
    } & ManifestVars
  afterSwitch: LockVars & { ID: string; PREV: string; AFTER_SWITCH: string }
  stage: LockVars & { ID: string; INCOMING: string; STAGED: string; PREV: string } & ManifestVars
  resetUpload: LockVars & { INCOMING: string }
  switchTo: LockVars & GoLiveVars & { TAKE: Flag; KEEP_LOCK: Flag }
  // FAST (a dry run): offer the live release as prepare would (fast_peek), read only.
  inspect: LockVars & { TAKE_LOCK: Flag; NEED_SWAP?: Flag; CHECK_DEPLOY: Flag; ID: string; FAST?: Flag }
  releaseLock: LockVars & { FORCE: Flag; DISCARD: string; UNPUBLISH: string }
  prune: LockVars & { PRUNE: string }
  // Also run by the post step, which knows the target and the token only (recover takes no lock).
  recover: TargetVars & { ID: string; INCOMING: string; LOGLINE: string; KEEP_LOCK: Flag }
  // Reads only: no lock, no fence.
  doctor: LockVars & { ID: string }
  // Reads only (a dry run of keep-assets).
  keepPlan: LockVars & { KEEP_PATHS: string; KEEP_FROM: string }
  // Reads only: no lock, no fence. ID: the release to verify ('' = the live one).
  verify: LockVars & { ID: string; VERIFY_MAX: number; VERIFY_MAX_ENTRIES: number }
}

/**
 * What the gate (gate.ts, the server-side forced command) lets through for each variable: every
 * value a client sends is checked there against its rule before any script sees it, so a
 * hand-written client that skips the action's own input checks gets no further. A new variable
 * needs its rule here (tsc says so); the rules are sh functions `gate_rule_<rule>` in gate.ts.
 * - target: the gate's own TARGET, nothing else; link: a plain name (the link input's rule);
 * - token: letters and digits; uint: a whole number; flag: 0, 1 or empty;
 * - name: a release id or a name in .deploy/incoming (letters, digits . _ -, starting with a
 *   letter or digit) or empty; names: such names separated by spaces;
 * - shared: lines of normalised relative paths; text: one line without control characters;
 * - patterns: keep-assets' find -path patterns, one a line, each `./…` of the input's charset;
 * - manifest: a release manifest (manifest.ts: header, entry lines, safe relative paths);
 * - mode: 4 octal digits; digest: `sha256:` and 64 hex digits, or empty;
 * - json: one line that is a JSON object; hook: must be empty (the client's own hook commands
 *   are refused through the gate: the owner installs hooks on the server).
 */
export type VarRule =
  | 'target'
  | 'link'
  | 'token'
  | 'uint'
  | 'flag'
  | 'name'
  | 'names'
  | 'shared'
  | 'text'
  | 'json'
  | 'hook'
  | 'patterns'
  | 'manifest'
  | 'mode'
  | 'digest'

export const VAR_RULES: { [K in keyof AnyScriptVars]-?: VarRule } = {
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
}

/** Every variable of every script (a test that runs them all with one set of values). */
export type AnyScriptVars = ScriptVars['prepare'] &
  ScriptVars['publishAndSwitch'] &
  ScriptVars['afterSwitch'] &
  ScriptVars['stage'] &
  ScriptVars['resetUpload'] &
  ScriptVars['switchTo'] &
  ScriptVars['inspect'] &
  ScriptVars['releaseLock'] &
  ScriptVars['prune'] &
  ScriptVars['recover'] &
  ScriptVars['doctor'] &
  ScriptVars['keepPlan'] &
  ScriptVars['verify']

/** Whether a call of this script may take the lock (so the lock may be ours if it is cut short). */
export function mayTakeLock<N extends ScriptName>(name: N, vars: Partial<ScriptVars[N]>): boolean {
  const v = vars as Partial<Record<string, string | number>>
  return (
    name === 'prepare' || (name === 'switchTo' && v.TAKE === 1) || (name === 'inspect' && v.TAKE_LOCK === 1)
  )
}

export const SCRIPTS: Record<ScriptName, string> = {
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
}

/**
 * The exact text sent to `sh -s`: the values (quote.ts wireAssignments), the shared library, the
 * constant script as a function, called on the last line. sh has read every byte of the script by
 * then, so the watchdog may take over stdin (fd 9); everything else, hooks included, reads
 * /dev/null. A gated key's forced command (gate.ts) reads the values, checks each, skips the rest
 * up to the RUN line and runs its own copy of the same script.
 */
export function renderScript<N extends ScriptName>(name: N, vars: ScriptVars[N]): string {
  return `${wireAssignments(vars)}\n${WIRE_LIB}\nrad_main() {\n${wireScript(name)}\n}\n${RUN}\n`
}

/**
 * The constant text as it travels: without its comment lines, a third of its bytes (each is a
 * round trip's worth on a slow link). Only constant text: a value (wireAssignments) is never
 * touched. A comment line inside a quoted string is one of an awk program (remote.test.ts checks).
 */
export function wireText(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
}

const WIRE_LIB = wireText(SERVER_LIB)
const wired = new Map<ScriptName, string>()
function wireScript(name: ScriptName): string {
  let text = wired.get(name)
  if (text === undefined) {
    text = wireText(SCRIPTS[name])
    wired.set(name, text)
  }
  return text
}

/** The line a session opened ahead prints first: sh runs there (its channel was not refused). */
export const AHEAD_OPEN = `${MARK} ahead`

/**
 * A session opened ahead of its call (session.ts openAhead) is sent this at once: a first line
 * (AHEAD_OPEN), then the library and the script as functions, which sh reads and defines while
 * nothing runs. The call then sends only renderCall: the values, the library's start (rad_lib: its
 * top level, in the order renderScript has it), and the RUN line. sh given nothing more (the call
 * never comes) reads its end and exits.
 */
export function renderAhead(name: ScriptName): string {
  return `echo '${AHEAD_OPEN}'\nrad_lib() {\n${WIRE_LIB}\n}\nrad_main() {\n${wireScript(name)}\n}\n`
}

/** A session opened ahead's stdout without its first line (AHEAD_OPEN), wherever a login shell's text left it. */
export function withoutAheadLine(stdout: string): string {
  return stdout.replace(AHEAD_LINE, '$1')
}
const AHEAD_LINE = new RegExp(`(^|\n)${AHEAD_OPEN}\n`)

/** The rest of a script whose session was opened ahead (renderAhead). */
export function renderCall<N extends ScriptName>(vars: ScriptVars[N]): string {
  return `${wireAssignments(vars)}\nrad_lib\n${RUN}\n`
}

/** The last line of every script: the gate skips what the client sent up to this exact line. */
export const RUN = 'exec 9<&0 </dev/null; watch_client; rad_main; exit $?'

/** The version of what a client sends (the remote command, the values' form) that a gate checks. */
export const GATE_PROTOCOL = 1

/**
 * The remote command of a script: `sh -s` with harmless positional arguments that tell a gate
 * which script this is and in which protocol (plain sh ignores them).
 */
export function remoteCommand(name: ScriptName): string {
  return `sh -s rad ${GATE_PROTOCOL} ${name}`
}

export { all, first, parseReply, type ScriptReply } from './reply.js'
