# Shared by scripts/test.sh and scripts/demo.sh: install what a fresh Debian/Ubuntu machine lacks.

# Root already (a container, a fresh VM): go on, sudo may not even exist. Otherwise re-run with sudo.
ensure_root() {
  if [ "$(id -u)" = 0 ]; then
    return 0
  fi
  if ! command -v sudo >/dev/null; then
    echo "This needs root (it starts sshd and creates a throwaway user), and sudo is not installed: run it as root, e.g. su -c 'bash $0'." >&2
    exit 1
  fi
  echo "This needs root (it starts sshd and creates a throwaway user): re-running with sudo." >&2
  exec sudo -E bash "$0" "$@"
}

ensure_packages() {
  local missing=()
  command -v rsync >/dev/null || missing+=(rsync)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh >/dev/null || missing+=(openssh-client)
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v curl >/dev/null || missing+=(curl)
  # The tests run the server scripts under a busybox userland too (trust-lock.test.ts).
  [ -x /bin/busybox ] || missing+=(busybox)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing ${missing[*]} (apt-get)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Node 20 or newer; Debian's own is older, so then Node 24 comes from the npm package node@24.
ensure_node() {
  if ! command -v npm >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  fi
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    ensure_node24
    export PATH="$PWD/.cache/node24/node_modules/.bin:$PATH"
  fi
}

ensure_npm_deps() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund >/dev/null
  fi
}

# The runtime GitHub uses (runs.using: node24): the integration tests run the bundle with it too.
ensure_node24() {
  if [ ! -x .cache/node24/node_modules/.bin/node ]; then
    mkdir -p .cache/node24
    (cd .cache/node24 && echo '{"private":true}' >package.json &&
      npm install --no-audit --no-fund --foreground-scripts node@24 >/dev/null)
  fi
}
