import type { HostSpec } from './hosts.js'
import type { TrustedKeys } from './knownhosts.js'
import { COMMAND_SPECS, type Command } from './spec.js'

export type { Command }
/** In the order the help and messages list them (spec.ts says what each one does). */
export const COMMANDS = Object.keys(COMMAND_SPECS) as readonly Command[]

/** Who deployed what: written to the server's log and shown in summaries. */
export interface RunMeta {
  sha: string
  ref: string
  actor: string
  runUrl: string
}

/** Every input, validated and typed. Nothing downstream reads inputs itself. */
export interface Settings {
  command: Command
  hosts: HostSpec[]
  jumpHost: HostSpec | undefined
  /** Private key text, normalised; '' means: use the user's own ssh setup (CLI only). */
  key: string
  keyPassphrase: string
  trusted: TrustedKeys
  acceptUnknownHostKey: boolean
  /** Absolute local directory to upload. */
  source: string
  /** Absolute, normalised deploy root on the server. */
  target: string
  linkName: string
  releaseId: string
  /** True when release-id was given (not generated). */
  releaseIdGiven: boolean
  rollbackTo: string
  keepReleases: number
  exclude: string[]
  filter: string[]
  chmod: string
  shared: string[]
  /** keep-assets patterns as given (keep-assets.ts translates them for the server). */
  keepAssets: string[]
  keepAssetsReleases: number
  beforeSwitch: string
  afterSwitch: string
  healthcheckUrl: string
  rollbackOnFailure: boolean
  dryRun: boolean
  /** A release with no files may go live (allow-empty). */
  allowEmpty: boolean
  maxParallel: number
  timeoutSeconds: number
  /** For verify: the digest the release must have ('' = none given). */
  expectedDigest: string
  meta: RunMeta
}

/** A small logging surface, so the deploy core does not depend on @actions/core. */
export interface Reporter {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
  /**
   * Lines of a server's output streamed as they come (hook output), already escaped; optional
   * (default: info per line). The action fences them with ::stop-commands::.
   */
  output?(lines: string[]): void
  /** rsync's latest progress line for a host during an upload (as often as it prints one); optional. */
  progress?(host: string, line: string): void
}
