#!/usr/bin/env bash
# A real deploy of an example site to a throwaway sshd on 127.0.0.1, run exactly as the GitHub
# runner runs the action (INPUT_* variables, outputs from GITHUB_OUTPUT). Shows the releases,
# what hard links saved, and a rollback. Needs root (it starts sshd and a throwaway user).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_root "$@"
ensure_packages
ensure_node
ensure_npm_deps
[ -f dist/index.js ] || npm run -s build >/dev/null

USER_NAME=raddemo
work=$(mktemp -d /tmp/raddemo-XXXXXX)
chmod 755 "$work"
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
  rm -rf "$work"
  userdel -r "$USER_NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

bold "1. A throwaway server: sshd on 127.0.0.1 with its own host key, a user '$USER_NAME', a client key"
id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$USER_NAME"
usermod -p '*' "$USER_NAME" # unlocked, no password: keys only
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C deploy@demo -f "$work/deploy_key"
install -m 644 "$work/deploy_key.pub" "$work/authorized_keys"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p /run/sshd
cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $USER_NAME
CONF
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do ssh-keyscan -p "$port" 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
known_hosts=$(ssh-keyscan -p "$port" -t ed25519 127.0.0.1 2>/dev/null)
echo "sshd listens on 127.0.0.1:$port; its key, pinned as known-hosts:"
echo "  $known_hosts" | cut -c1-100
target=/home/$USER_NAME/www

bold "2. An example site: 2,000 files"
site="$work/site"
mkdir -p "$site/assets"
for i in $(seq 1 2000); do printf 'asset %s\n%0512d\n' "$i" 0 >"$site/assets/file-$i.txt"; done
echo '<h1>Example v1</h1>' >"$site/index.html"
du -sh "$site" | sed 's/^/  /'

# Runs dist/index.js the way the runner does: inputs as INPUT_* variables, then the post step.
action() {
  local out="$work/output" state="$work/state"
  : >"$out"
  : >"$state"
  env -i PATH="$PATH" HOME="$HOME" GITHUB_OUTPUT="$out" GITHUB_STATE="$state" \
    GITHUB_WORKSPACE="$work" GITHUB_SHA=0123456789abcdef GITHUB_REF=refs/tags/demo GITHUB_ACTOR=demo \
    "INPUT_HOST=$USER_NAME@127.0.0.1:$port" "INPUT_KEY=$(cat "$work/deploy_key")" \
    "INPUT_KNOWN-HOSTS=$known_hosts" "INPUT_TARGET=$target" "INPUT_SOURCE=site" "$@" \
    node dist/index.js | grep -v '^::add-mask::' | sed -e 's/^::group::/  ▸ /' -e '/^::endgroup::/d' -e 's/^/    /'
  # the post step: closes the SSH connection, deletes the key
  env -i PATH="$PATH" "STATE_isPost=true" "STATE_sshDir=$(sed -n '/^sshDir<</{n;p}' "$state")" node dist/index.js >/dev/null
}
output() { sed -n "/^$1<</{n;p}" "$work/output"; }

bold "3. First deploy (release v1): everything is sent"
t0=$(date +%s%N)
action INPUT_RELEASE-ID=v1
echo "  took $((($(date +%s%N) - t0) / 1000000)) ms; files sent: $(output files-transferred), linked: $(output files-linked), bytes sent: $(output bytes-sent)"

bold "4. A CI rebuild: every file gets a new mtime, 1% of the files change; deploy v2"
touch "$site"/assets/* "$site/index.html"
for i in $(seq 1 20); do echo "changed" >>"$site/assets/file-$i.txt"; done
echo '<h1>Example v2</h1>' >"$site/index.html"
t0=$(date +%s%N)
action INPUT_RELEASE-ID=v2
echo "  took $((($(date +%s%N) - t0) / 1000000)) ms; files sent: $(output files-transferred), hard-linked instead: $(output files-linked), bytes sent: $(output bytes-sent)"

bold "5. On the server"
echo "  $target/current -> $(readlink "$target/current")"
echo "  disk used (du counts each hard-linked file once):"
du -sh "$target/releases/v1" "$target/releases/v2" | sed 's/^/    /'
f="$target/releases/v2/assets/file-500.txt"
echo "  an unchanged file has $(stat -c %h "$f") names (one inode shared by v1 and v2): inode $(stat -c %i "$target/releases/v1/assets/file-500.txt") = $(stat -c %i "$f")"

bold "6. command: list"
action INPUT_COMMAND=list

bold "7. command: rollback (to the release that was live before, from the deploy log)"
action INPUT_COMMAND=rollback
echo "  $target/current -> $(readlink "$target/current"); served: $(cat "$target/current/index.html")"
echo "  list again: the release rolled back from is marked bad, skipped by later rollbacks"
action INPUT_COMMAND=list
echo "  sshd accepted $(grep -c 'Accepted publickey' "$work/sshd.log" 2>/dev/null || echo '?') logins for 5 runs: one connection per run."
bold "Done. Everything above ran against a real sshd and rsync; the server, user and keys are removed now."
