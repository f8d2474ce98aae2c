import type { CommandOutcome } from './outcome.js'

/**
 * The action's outputs, free of @actions/core: main.ts sets each one, and the CLI's --json prints
 * the same text as the `hosts` and `releases` outputs.
 */

/** Sums over hosts for the scalar outputs (one host: its own figures). */
export function totals(outcome: CommandOutcome) {
  const sum = (f: (h: (typeof outcome.hosts)[number]) => number) =>
    outcome.hosts.reduce((a, h) => a + f(h), 0)
  return {
    bytesSent: sum((h) => h.bytesSent),
    filesTransferred: sum((h) => h.filesTransferred),
    filesLinked: sum((h) => h.filesLinked),
    assetsKept: sum((h) => h.assetsKept),
  }
}

export function hostsJson(outcome: CommandOutcome): string {
  const verified = new Map((outcome.verify ?? []).map((v) => [v.host, v.report]))
  return JSON.stringify(
    outcome.hosts.map((h) => ({
      host: h.host,
      'release-id': h.releaseId,
      // false: we could not learn what the link serves (release-id is then '').
      'live-known': h.liveKnown,
      ...(h.attemptedReleaseId ? { attempted: h.attemptedReleaseId } : {}),
      'previous-release-id': h.previousReleaseId,
      'bytes-sent': h.bytesSent,
      'files-transferred': h.filesTransferred,
      'files-linked': h.filesLinked,
      'assets-kept': h.assetsKept,
      'duration-ms': h.durationMs,
      status: h.status,
      // command: verify: whether this host's release was proven to be its record, and that record's digest.
      ...(verified.has(h.host)
        ? {
            verified: verified.get(h.host)?.verified,
            'release-digest': verified.get(h.host)?.recordedDigest,
          }
        : {}),
      ...(h.error ? { error: h.error } : {}),
    })),
  )
}

export function releasesJson(outcome: CommandOutcome): string {
  return JSON.stringify(outcome.releases)
}

/** Every output action.yml declares, by name, as the step sets it. */
export function actionOutputs(outcome: CommandOutcome): Record<string, string> {
  const t = totals(outcome)
  const firstHost = outcome.hosts[0]
  return {
    // What the link serves now, as the server said (DESIGN §1): never the release we only attempted.
    'release-id': firstHost?.releaseId ?? '',
    'release-path': firstHost?.releasePath ?? '',
    'previous-release-id': firstHost?.previousReleaseId ?? '',
    'bytes-sent': String(t.bytesSent),
    'files-transferred': String(t.filesTransferred),
    'files-linked': String(t.filesLinked),
    'assets-kept': String(t.assetsKept),
    releases: releasesJson(outcome),
    hosts: hostsJson(outcome),
    'rolled-back': String(outcome.rolledBack),
    // command: verify sets it to the digest recorded for the release it checked (first host).
    'release-digest': outcome.releaseDigest ?? '',
  }
}
