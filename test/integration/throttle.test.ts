/** The slow-link proxy other tests and the benchmark rely on: rate, latency, integrity, clean ends. */
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startThrottle } from '../support/throttle.js'

/** An echo server on loopback. */
let echo: net.Server
let echoPort = 0
beforeAll(async () => {
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    // A connection the throttle cuts is reset here: an error to ignore, not to crash the run on.
    s.on('error', () => {})
    s.pipe(s)
  })
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  echoPort = (echo.address() as net.AddressInfo).port
})
afterAll(async () => {
  await new Promise((r) => echo.close(r))
})

/** Sends `data` through port, half-closes, collects the echo; resolves with it and timings. */
function roundTrip(
  port: number,
  data: Buffer,
): Promise<{ back: Buffer; firstByteMs: number; totalMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let firstByteMs = -1
    const chunks: Buffer[] = []
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(data))
    s.on('data', (d: Buffer) => {
      if (firstByteMs < 0) firstByteMs = Date.now() - started
      chunks.push(d)
    })
    s.on('end', () => resolve({ back: Buffer.concat(chunks), firstByteMs, totalMs: Date.now() - started }))
    s.on('error', reject)
  })
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('startThrottle', () => {
  it('caps the bandwidth and keeps the bytes intact, in both directions', async () => {
    const link = await startThrottle({ targetPort: echoPort, bytesPerSecond: 2_000_000 })
    try {
      const data = randomBytes(1_000_000)
      const r = await roundTrip(link.port, data)
      expect(sha(r.back)).toBe(sha(data))
      // 1 MB each way at 2 MB/s, pipelined: about half a second, never much less.
      expect(r.totalMs).toBeGreaterThanOrEqual(450)
      expect(r.totalMs).toBeLessThan(2_000)
      expect(link.bytes()).toEqual({ up: 1_000_000, down: 1_000_000 })
      expect(link.connections()).toBe(1)
    } finally {
      await link.stop()
    }
  })

  it('adds the latency each way; connections share the link', async () => {
    const link = await startThrottle({ targetPort: echoPort, bytesPerSecond: 4_000_000, latencyMs: 100 })
    try {
      const small = await roundTrip(link.port, Buffer.from('ping'))
      expect(small.back.toString()).toBe('ping')
      expect(small.firstByteMs).toBeGreaterThanOrEqual(190)
      // Two at once share 4 MB/s: 2 × 1 MB takes about as long as 2 MB alone would (~0.5 s + latency).
      const a = randomBytes(1_000_000)
      const b = randomBytes(1_000_000)
      const started = Date.now()
      const [ra, rb] = await Promise.all([roundTrip(link.port, a), roundTrip(link.port, b)])
      expect(sha(ra.back)).toBe(sha(a))
      expect(sha(rb.back)).toBe(sha(b))
      expect(Date.now() - started).toBeGreaterThanOrEqual(650)
      expect(link.connections()).toBe(3)
    } finally {
      await link.stop()
    }
  })

  it('stall() freezes open connections without closing them; new ones pass; resume() delivers what waited', async () => {
    const link = await startThrottle({ targetPort: echoPort, bytesPerSecond: 10_000_000 })
    try {
      const s = net.connect({ port: link.port, host: '127.0.0.1', allowHalfOpen: true })
      await new Promise((r) => s.once('connect', r))
      let got = ''
      let ended = false
      s.on('data', (d) => {
        got += d
      })
      s.on('end', () => {
        ended = true
      })
      const until = async (ok: () => boolean) => {
        for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 20))
      }
      s.write('before ')
      await until(() => got === 'before ')
      expect(got).toBe('before ')
      link.stall()
      expect(link.stalled()).toBe(1)
      // Nothing moves, not even the end of the stream, and nothing is closed.
      s.end('during')
      await new Promise((r) => setTimeout(r, 300))
      expect(got).toBe('before ')
      expect(ended).toBe(false)
      expect(s.destroyed).toBe(false)
      // A new connection gets through.
      const fresh = await roundTrip(link.port, Buffer.from('fresh'))
      expect(fresh.back.toString()).toBe('fresh')
      link.resume()
      expect(link.stalled()).toBe(0)
      await until(() => ended)
      expect(got).toBe('before during')
      expect(ended).toBe(true)
    } finally {
      await link.stop()
    }
  })

  it('stallAfterUpBytes: stalls once that much has gone up', async () => {
    const link = await startThrottle({
      targetPort: echoPort,
      bytesPerSecond: 10_000_000,
      stallAfterUpBytes: 100_000,
    })
    try {
      const s = net.connect({ port: link.port, host: '127.0.0.1' })
      s.on('error', () => {})
      await new Promise((r) => s.once('connect', r))
      s.write(randomBytes(500_000))
      await new Promise((r) => setTimeout(r, 500))
      expect(link.stalled()).toBe(1)
      expect(link.bytes().up).toBeGreaterThanOrEqual(100_000)
      expect(link.bytes().up).toBeLessThan(200_000)
    } finally {
      await link.stop()
    }
  })

  it('stop() cuts open connections and frees the port', async () => {
    const link = await startThrottle({ targetPort: echoPort, bytesPerSecond: 100_000 })
    const s = net.connect({ port: link.port, host: '127.0.0.1' })
    await new Promise((r) => s.once('connect', r))
    const closed = new Promise((r) => s.once('close', r))
    s.on('error', () => {})
    s.write(randomBytes(500_000))
    await link.stop()
    await closed
    const refused = await new Promise<boolean>((resolve) => {
      const t = net.connect({ port: link.port, host: '127.0.0.1' })
      t.on('connect', () => {
        t.destroy()
        resolve(false)
      })
      t.on('error', () => resolve(true))
    })
    expect(refused).toBe(true)
  })
})
