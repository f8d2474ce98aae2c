import { DeployError } from './errors.js'
import { hostRuns, readServerState, SAFE_NAME_RE } from './host.js'
import { type CommandOutcome, fleetFailure, setLive, toDeployError } from './outcome.js'
import { all, first } from './remote.js'
import { pool, type RunContext, wordsOf } from './session.js'
import {
  compareRelease,
  differenceLines,
  hexSection,
  VERIFY_MAX_BYTES,
  VERIFY_MAX_ENTRIES,
  VerifyReplyError,
  type VerifyReport,
  verdictLine,
} from './verify.js'

/** command: verify, per host: the release checked and what was found (verify.ts). */
export interface HostVerify {
  host: string
  report: VerifyReport
}

/** A release that cannot be verified without a manifest and no expected-digest is said, not failed. */
export function unverifiable(r: VerifyReport): boolean {
  return r.manifest === 'missing' && !r.expectedDigest && r.differences.length === 0
}

/**
 * command: verify. One read-only call per host (no lock: it changes nothing): the server re-hashes
 * the release (default: the live one) and sends its tree; the comparison runs here.
 */
export async function runVerify(ctx: RunContext): Promise<CommandOutcome> {
  const s = ctx.settings
  const w = wordsOf(ctx)
  const wanted = s.releaseIdGiven ? s.releaseId : ''
  const hosts = hostRuns(ctx, '')
  const failures: DeployError[] = []
  const reports: HostVerify[] = []
  await pool(hosts, s.maxParallel, async (h) => {
    const label = h.session.label
    try {
      await ctx.ssh.connect(h.session.index, label, ctx.signal)
      const reply = await h.session.call('verify', {
        ID: wanted,
        VERIFY_MAX: VERIFY_MAX_BYTES,
        VERIFY_MAX_ENTRIES,
      })
      h.state = readServerState(reply, (m) => ctx.reporter.warning(`${label}: ${m}`))
      setLive(h.result, s.target, h.state.live)
      h.result.status = 'not-switched'
      const release = first(reply, 'verifying')
      if (!SAFE_NAME_RE.test(release) || (wanted && release !== wanted)) {
        throw new VerifyReplyError(`it names the release ${JSON.stringify(release)}`)
      }
      const report = compareRelease({
        release,
        manifest: hexSection(reply, 'manifest'),
        kept: hexSection(reply, 'kept'),
        tree: hexSection(reply, 'tree') ?? Buffer.alloc(0),
        links: hexSection(reply, 'links') ?? Buffer.alloc(0),
        sums: hexSection(reply, 'sums') ?? Buffer.alloc(0),
        logLines: all(reply, 'log'),
        expectedDigest: s.expectedDigest,
        expectedName: w.input('expected-digest'),
      })
      reports.push({ host: label, report })
      const verdict = verdictLine(report)
      if (report.verified) ctx.reporter.info(`${label}: ${release}: ${verdict}`)
      else if (unverifiable(report)) {
        ctx.reporter.warning(
          `${label}: ${release}: ${verdict}. Give ${w.input('expected-digest')} (the release-digest its deploy printed) to check it against that.`,
        )
      } else {
        const lines = differenceLines(report.differences)
        const err = new DeployError(
          `${label}: release ${release} is ${verdict}${lines.length ? `\n${lines.map((l) => `  ${l}`).join('\n')}` : ''}`,
          report.differences.length
            ? `A release is never changed after it is published: something else wrote to ${s.target}/releases/${release}. Deploy the build again (a new release), or roll back, and find out what changed it.`
            : report.manifest === 'missing'
              ? `Release ${release} has no manifest (deployed before manifests were written), so which files differ cannot be said.`
              : '',
          'verify-failed',
        )
        h.result.error = err.message
        h.result.status = 'failed'
        failures.push(err)
      }
      if (report.kept.length)
        ctx.reporter.info(
          `${label}: ${report.kept.length} asset(s) kept from older releases (keep-assets), not part of this build`,
        )
    } catch (e) {
      const err =
        e instanceof VerifyReplyError
          ? new DeployError(`${label}: ${e.message}`, '', 'remote')
          : toDeployError(e)
      h.result.error = err.message
      failures.push(err)
    }
    h.result.durationMs = Date.now() - h.start
  })
  // In the hosts' order, whatever order they answered in.
  const order = new Map(hosts.map((h, i) => [h.session.label, i]))
  reports.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0))
  return {
    releaseId: hosts[0]?.result.releaseId ?? '',
    hosts: hosts.map((h) => h.result),
    rolledBack: false,
    error: fleetFailure(failures, hosts.length, 'Verify'),
    releases: [],
    // The digest recorded for the release checked on the first host ('' when it has none).
    releaseDigest: reports.find((v) => v.host === hosts[0]?.session.label)?.report.recordedDigest ?? '',
    verify: reports,
  }
}
