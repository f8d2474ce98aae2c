/**
 * The environment child processes (ssh, rsync, ssh-keygen, git) get. The runner hands every
 * input to the action as INPUT_* (the key, its passphrase), and a CI job holds its secrets in
 * variables (RAD_KEY, tokens): a child, and whatever it runs (a ProxyCommand, a wrapper, a
 * debugger reading /proc/PID/environ), must not see them.
 */

/** What ssh and rsync need when we generate their whole setup (the action; the CLI with --key). */
const NEEDED = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/

/** Names that carry secrets or the runner's credentials, whatever else is passed. */
const SECRET_NAME =
  /^(INPUT_.*|STATE_.*|RAD_KEY.*|RAD_KNOWN_HOSTS.*|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_.*|ACTIONS_CACHE_URL|ACTIONS_RESULTS_URL|GITHUB_TOKEN|GH_TOKEN|CI_JOB_TOKEN)$/i

export interface ChildEnvOptions {
  /**
   * The person's own ssh setup decides (the CLI without --key): their ~/.ssh/config may run a
   * ProxyCommand that needs anything (SSH_AUTH_SOCK, AWS_PROFILE…), so only secrets are removed.
   * Otherwise only the variables ssh and rsync need are kept.
   */
  own?: boolean
  /** Values never passed on, under any name (the key text, its passphrase). */
  secrets?: string[]
}

/** `env` without the secrets (and, unless `own`, without anything a child does not need). */
export function childEnv(env: NodeJS.ProcessEnv, opts: ChildEnvOptions = {}): NodeJS.ProcessEnv {
  const secrets = (opts.secrets ?? []).filter((s) => s !== '')
  const out: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || SECRET_NAME.test(name)) continue
    if (!opts.own && !NEEDED.test(name)) continue
    // A key under another name (--key-env NAME) or pasted into some variable.
    if (/PRIVATE KEY-----/.test(value) || secrets.includes(value)) continue
    out[name] = value
  }
  return out
}
