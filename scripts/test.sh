#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: installs what it needs, builds the bundle,
# then runs unit and integration tests (a real sshd on 127.0.0.1, real rsync, nginx; dist/ run
# under Node 20 and Node 24). Needs root: it starts sshd and creates a throwaway user.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_root "$@"
ensure_packages
ensure_node
ensure_npm_deps
ensure_node24

npm run -s build >/dev/null
mkdir -p .cache
status=0
RAD_CLEAN_TMP=1 npx vitest run --reporter=default --reporter=json --outputFile=.cache/vitest.json "$@" || status=$?
# One plain closing line, whatever the runner printed above.
node -e '
  const r = JSON.parse(require("fs").readFileSync(".cache/vitest.json", "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit "$status"
