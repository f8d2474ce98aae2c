/**
 * How a person runs this command line again, for the hints it prints ("to roll back: …"): the
 * way it was started, since the binary is on PATH only after a global install.
 */
import { shQuote } from '../quote.js'
import { BIN, VERSION } from './parse.js'

/**
 * `env`: the process environment (npm sets npm_command and npm_lifecycle_event for what it runs);
 * `script`: process.argv[1], the file node was started with.
 * - npx from npm's cache (`…/_npx/<hash>/node_modules/.bin/…`): `npx rsync-atomic-deploy@VERSION`,
 *   the same version again, not whatever is newest by then;
 * - npx / npm exec of a local install, an npm script, `./node_modules/.bin/…` or the package's
 *   file in a project's node_modules: `npx rsync-atomic-deploy`;
 * - a file run with node (`node dist/cli/index.js`): `node <that file>`;
 * - otherwise (a global install's bin on PATH): `rsync-atomic-deploy`.
 */
export function invocation(env: NodeJS.ProcessEnv, script = ''): string {
  const p = script.replace(/\\/g, '/')
  if (/\/_npx\//.test(p)) return `npx ${BIN}@${VERSION}`
  const viaNpm =
    env.npm_command === 'exec' ||
    env.npm_command === 'run-script' ||
    env.npm_lifecycle_event === 'npx' ||
    /\/node_modules\/\.bin\//.test(p)
  if (viaNpm) return `npx ${BIN}`
  // The package's own file (a shim that resolved the link): a global install's bin is on PATH.
  if (p.includes(`/lib/node_modules/${BIN}/`)) return BIN
  if (p.includes(`/node_modules/${BIN}/`)) return `npx ${BIN}`
  if (p && !p.endsWith(`/${BIN}`) && p !== BIN) {
    return `node ${/^[A-Za-z0-9_./@+-]+$/.test(p) ? p : shQuote(p)}`
  }
  return BIN
}
