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
 * - `.w.<upload>.*`: the fast path's work files, removed before prepare replies.
 */
export const MANIFEST_LIB = sh`
# type inode size mtime mode path of every entry under $1, "." first-or-anywhere, paths as "./…".
# GNU find -printf, else busybox stat -c or BSD stat -f, batched by find -exec + (never a fork a file).
tree_stat() {
  (
    cd -- "$1" || exit 1
    if find . -maxdepth 0 -printf '' >/dev/null 2>&1; then
      find . -printf '%y %i %s %T@ %m %p\n'
    elif stat -c %i . >/dev/null 2>&1; then
      for t in f l d; do find . -type "$t" -exec stat -c "$t %i %s %Y %a %n" {} + || exit 1; done
    else
      for t in f l d; do find . -type "$t" -exec stat -f "$t %i %z %m %Lp %N" {} + || exit 1; done
    fi
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
  mv -f -- "$m/.in.$1" "$m/$2" || { warn "could not keep the manifest of release $2"; return 0; }
  if tree_stat "$T/releases/$2" 2>/dev/null | stat_record > "$m/.stat.$TOKEN"; then
    mv -f -- "$m/.stat.$TOKEN" "$m/$2.stat"
  else
    rm -f -- "$m/.stat.$TOKEN"
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
  rm -f -- "$D/manifests/$1" "$D/manifests/$1.stat"
}

# The fast path, in prepare (the lock is ours): the new upload dir starts as hard links of the
# live release $1 (cp -al), minus every entry the new manifest ($D/manifests/.in.$INCOMING) does
# not have as it is there: same path, type, mode, size and hash in the live manifest, and a live
# file that still matches its trust record. Replies "send N N …" (indices of the new manifest's
# entries still to upload), "send-root" when the release root's mode ($ROOT_MODE) differs, and
# "fast-linked N". Returns 1 (after cleaning up, nothing created) when it cannot: the caller
# makes an empty upload dir, and the client uses the checksum path.
fast_start() {
  m="$D/manifests"
  w="$m/.w.$INCOMING"
  new="$D/incoming/$INCOMING"
  [ -n "$1" ] && [ -d "$T/releases/$1" ] && [ ! -L "$T/releases/$1" ] || { say fast no-live; return 1; }
  [ -f "$m/$1" ] && [ -f "$m/$1.stat" ] || { say fast no-manifest; return 1; }
  # cp -al into a directory that exists would nest the live release inside it: never a release.
  # (The name carries this run's token, so only a broken server has it; the caller's mkdir says so.)
  [ ! -e "$new" ] && [ ! -L "$new" ] || { say fast no-link; return 1; }
  fence
  if ! { tree_stat "$T/releases/$1" > "$w.now" 2>/dev/null && : > "$w.rm" &&
    LC_ALL=C awk -v rmlist="$w.rm" -v root="$ROOT_MODE" '
      function esc(s,   o, i) { o = ""; while ((i = index(s, "\\")) > 0) { o = o substr(s, 1, i) "\\"; s = substr(s, i + 1) } return o s }
      function unesc(s,   o, i) { o = ""; while ((i = index(s, "\\")) > 0) { o = o substr(s, 1, i - 1) substr(s, i + 1, 1); s = substr(s, i + 2) } return o s }
      # Modes as text without leading zeros: busybox awk reads "0644" as octal, others as decimal.
      function oct(s) { sub(/^0+/, "", s); return s == "" ? "0" : s }
      function rest(s, n) { while (n-- > 0) s = substr(s, index(s, " ") + 1); return s }
      BEGIN { A = ARGV[1]; B = ARGV[2]; C = ARGV[3] }
      FILENAME == A {
        if (FNR == 1) { if ($0 != "rad-manifest 1") bad = 1; next }
        L[rest($0, 4)] = $1 " " $2 " " $3 " " $4; next
      }
      FILENAME == B || FILENAME == C {
        if (FNR == 1 && FILENAME == B) { if ($0 != "rad-stat 1") bad = 1; next }
        if ($0 !~ /^[a-zA-Z] [0-9]+ [0-9]+ [0-9.]+ [0-7]+ [.](\/|$)/) { bad = 1; next }
        p = rest($0, 5); p = (p == ".") ? "." : esc(substr(p, 3))
        k = $1 " " $2 " " $3 " " $4 " " $5
        if (FILENAME == B) { if (p in R) bad = 1; R[p] = k }
        else { if (p in N) bad = 1; N[p] = k; Y[p] = $1; M[p] = $5; order[++n] = p }
        next
      }
      FNR == 1 { if ($0 != "rad-manifest 1") bad = 1; next }
      {
        i = FNR - 2; p = rest($0, 4)
        same = (p in L) && L[p] == $1 " " $2 " " $3 " " $4 && (p in N) && Y[p] == $1 && ($1 == "l" || oct(M[p]) == oct($2))
        if ($1 == "d") { if (same) keep[p] = 1; else send[++s] = i; want[p] = 1; next }
        if (same && (p in R) && R[p] == N[p]) { keep[p] = 1; if ($1 == "f") linked++ } else send[++s] = i
      }
      END {
        if (bad || !("." in N)) exit 1
        for (j = 1; j <= n; j++) {
          p = order[j]
          if (p == "." || (p in keep) || (Y[p] == "d" && (p in want))) continue
          print unesc(p) > rmlist
        }
        line = ""
        for (j = 1; j <= s; j++) { line = line " " send[j]; if (j % 200 == 0) { print "@@rad send" line; line = "" } }
        if (line != "") print "@@rad send" line
        if (oct(M["."]) != oct(root)) print "@@rad send-root"
        printf "@@rad fast-linked %d\n", linked
      }' "$m/$1" "$m/$1.stat" "$w.now" "$m/.in.$INCOMING" > "$w.out"; } 2>/dev/null; then
    rm -f -- "$w.now" "$w.rm" "$w.out"
    say fast untrusted
    return 1
  fi
  fence
  # Every link in one process; then what differs goes, in batches (xargs), never a fork a file.
  if ! cp -al -- "$T/releases/$1" "$new" 2>/dev/null ||
    ! { [ ! -s "$w.rm" ] || (cd -- "$new" && tr '\n' '\000' < "$w.rm" | xargs -0 rm -rf -- 2>/dev/null); }; then
    rm -rf -- "$new" "$w.now" "$w.rm" "$w.out"
    say fast no-link
    return 1
  fi
  # Whatever went wrong with a removal, a stale entry would be a wrong release: check each one.
  while IFS= read -r p; do
    if [ -e "$new/$p" ] || [ -L "$new/$p" ]; then
      rm -rf -- "$new" "$w.now" "$w.rm" "$w.out"
      say fast no-remove
      return 1
    fi
  done < "$w.rm"
  cat -- "$w.out"
  rm -f -- "$w.now" "$w.rm" "$w.out"
  say fast ok
  return 0
}
`
