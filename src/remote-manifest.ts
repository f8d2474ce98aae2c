import { sh } from './remote-lib.js'

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
export const MANIFEST_LIB = sh`
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
`
