import { readdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'

/** Temp dirs the tests make (sites, targets, sshds, runner files): removed when the whole run ends. */
const PREFIXES = ['radsrc-', 'radsrv-', 'radit-', 'radrun-', 'radfleet-', 'radunit-']

export default function setup(): () => void {
  const started = Date.now() - 1000
  return () => {
    // scripts/test.sh asks for it; two runs side by side (a developer's) would delete each other's.
    if (process.env.RAD_CLEAN_TMP !== '1') return
    for (const name of readdirSync('/tmp')) {
      if (!PREFIXES.some((p) => name.startsWith(p))) continue
      const p = path.join('/tmp', name)
      try {
        // Only what this run made: a developer's other runs are not ours to delete.
        if (statSync(p).ctimeMs >= started) rmSync(p, { recursive: true, force: true })
      } catch {}
    }
  }
}
