import { DeployError } from './errors.js'
import { seconds } from './format.js'
import type { Reporter } from './settings.js'

/**
 * The health check after the switch: GET a URL from the runner until it answers 2xx. The URL may
 * carry secrets (user:password@, ?token=…): they are sent (the userinfo as Basic auth, which fetch
 * would otherwise refuse) but never printed, and redirects are followed only on the URL's own host,
 * so neither the credentials nor the check itself wander off to another server.
 */

/** The URL as it may be printed: userinfo and query values replaced by ***, parseable or not. */
export function maskUrl(text: string): string {
  return text
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@')
    .replace(/([?&;][^=&;#]*=)[^&;#]*/g, '$1***')
    .replace(/#.+$/, '#***')
}

export interface HealthRequest {
  /** The URL without its userinfo. */
  url: string
  /** `Basic …` from the userinfo, or ''. */
  authorization: string
}

/** Splits `https://user:pass@host/…` into the URL fetch can take and a Basic auth header. */
export function healthRequest(raw: string): HealthRequest {
  const u = new URL(raw)
  if (!u.username && !u.password) return { url: u.href, authorization: '' }
  const user = decodeURIComponent(u.username)
  const pass = decodeURIComponent(u.password)
  u.username = ''
  u.password = ''
  return { url: u.href, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` }
}

/**
 * Where a redirect may go: the same host name (any port of it), and never from https down to
 * http (the Basic credentials would then cross the network in clear).
 */
export function sameHost(from: string, to: string): boolean {
  const a = new URL(from)
  const b = new URL(to)
  return a.hostname === b.hostname && !(a.protocol === 'https:' && b.protocol === 'http:')
}

const MAX_REDIRECTS = 5

/** A redirect off the URL's host: a setting to fix, not a server still starting; no retry. */
class OffHostRedirect extends Error {}

/** One GET, redirects followed by hand on the same host; resolves with the status or throws. */
async function getOnce(req: HealthRequest, signal: AbortSignal): Promise<number> {
  let url = req.url
  for (let hop = 0; ; hop++) {
    const res = await fetch(url, {
      signal,
      redirect: 'manual',
      headers: {
        'user-agent': 'rsync-atomic-deploy healthcheck',
        ...(req.authorization ? { authorization: req.authorization } : {}),
      },
    })
    await res.arrayBuffer().catch(() => undefined)
    const location = res.headers.get('location')
    if (res.status < 300 || res.status >= 400 || !location) return res.status
    const next = new URL(location, url).href
    if (!sameHost(req.url, next)) {
      throw new OffHostRedirect(
        `HTTP ${res.status}: redirected to another host (${maskUrl(next)}), not followed`,
      )
    }
    if (hop >= MAX_REDIRECTS) throw new Error(`HTTP ${res.status}: more than ${MAX_REDIRECTS} redirects`)
    url = next
  }
}

/**
 * A signal aborted by `outer` or after `ms`, and its clean-up. (AbortSignal.any needs Node 20.3;
 * package.json allows every Node 20.)
 */
function withTimeout(outer: AbortSignal, ms: number): { signal: AbortSignal; done(): void } {
  const c = new AbortController()
  const abort = () => c.abort()
  const t = setTimeout(abort, ms)
  if (outer.aborted) c.abort()
  else outer.addEventListener('abort', abort, { once: true })
  return {
    signal: c.signal,
    done: () => {
      clearTimeout(t)
      outer.removeEventListener('abort', abort)
    },
  }
}

/** GETs the URL from the runner until it answers 2xx, backing off, within a bound. */
export async function healthcheck(
  rawUrl: string,
  opts: { signal: AbortSignal; boundMs?: number; reporter: Reporter },
): Promise<void> {
  const shown = maskUrl(rawUrl)
  const req = healthRequest(rawUrl)
  const deadline = Date.now() + (opts.boundMs ?? 60_000)
  let wait = 1000
  let last = ''
  for (let attempt = 1; ; attempt++) {
    const t = withTimeout(opts.signal, 10_000)
    try {
      const status = await getOnce(req, t.signal)
      if (status >= 200 && status < 300) {
        opts.reporter.info(`Health check ${shown}: ${status} (attempt ${attempt})`)
        return
      }
      last = `HTTP ${status}`
    } catch (e) {
      if (e instanceof OffHostRedirect) {
        throw new DeployError(
          `Health check failed: ${shown} answered ${e.message}.`,
          'Give the URL the check should end at as healthcheck-url: redirects are followed only on its own host, so credentials and the check never go elsewhere.',
          'healthcheck',
        )
      }
      // Stopped by the step's timeout: keep the server's last answer, not the abort.
      if (opts.signal.aborted && last) break
      last = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)
    } finally {
      t.done()
    }
    if (opts.signal.aborted || Date.now() + wait > deadline) break
    opts.reporter.info(`Health check ${shown}: ${last}; trying again in ${seconds(wait)}`)
    // The wait ends early when the step times out or is cancelled.
    await new Promise<void>((r) => {
      const t = setTimeout(r, wait)
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t)
          r()
        },
        { once: true },
      )
    })
    wait = Math.min(wait * 2, 10_000)
  }
  throw new DeployError(
    `Health check failed: ${shown} did not answer 2xx (last answer: ${last}).`,
    'Check the URL and what the new release serves; the job log above shows the after-switch output. Redirects are followed only on the same host.',
    'healthcheck',
  )
}
