/**
 * A slow link on loopback, for tests and benchmarks that need an upload to take a while: a TCP
 * proxy on 127.0.0.1 that forwards to another local port (the test sshd) with a bandwidth cap
 * and an optional one-way latency.
 *
 * The model is one shared link per direction (client → server, server → client): every
 * connection through the proxy shares its direction's bandwidth, as on a real uplink. Data is cut
 * into small pieces; each piece is given a slot on the link (a queue at `bytesPerSecond`, no
 * burst) and is delivered `latencyMs` after its slot ends. A connection's reads are paused while
 * it has more than a bandwidth-delay product (at least 64 KiB) in flight, so memory stays bounded
 * and the sender sees back-pressure just as over a slow network.
 *
 *   const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 4e6, latencyMs: 20 })
 *   // connect to 127.0.0.1:link.port instead of the sshd port …
 *   await link.stop()
 *
 * It can also stall, as a link does when a NAT entry or a route silently dies: `stall()` (or the
 * `stallAfterUpBytes` option) freezes every connection open at that moment — nothing more is
 * forwarded either way, nothing is closed, not even when one side hangs up — while new connections
 * get through normally. `resume()` lets the frozen ones move again; `stop()` cuts them.
 *
 * Only loopback: it listens on 127.0.0.1 and connects to 127.0.0.1.
 */
import net from 'node:net'

export interface ThrottleOptions {
  /** Local port to forward to (on 127.0.0.1). */
  targetPort: number
  /** Bandwidth cap of each direction, shared by all connections. */
  bytesPerSecond: number
  /** Added one-way delay, in milliseconds (default 0). */
  latencyMs?: number
  /** Stall (see `stall()`) as soon as this many bytes have gone client → server in total. */
  stallAfterUpBytes?: number
}

export interface Throttle {
  /** The port the proxy listens on, on 127.0.0.1. */
  port: number
  /** Bytes forwarded so far: client → server (`up`) and server → client (`down`). */
  bytes(): { up: number; down: number }
  /** Connections accepted so far. */
  connections(): number
  /**
   * Freezes every open connection: no byte moves in either direction from now on, and neither an
   * end nor a reset from one side reaches the other. Connections opened later are not affected.
   */
  stall(): void
  /** Lets frozen connections move again: queued data first, then any end or reset that waited. */
  resume(): void
  /** Connections frozen right now. */
  stalled(): number
  /**
   * Cuts every open connection now, as a link that dies does: both sides are closed, data still
   * queued on the link is lost. The proxy keeps listening: a reconnection gets through.
   */
  cut(): void
  /** Stops listening and cuts every open connection. */
  stop(): Promise<void>
}

const LOOPBACK = '127.0.0.1'
/** Granularity of the shaping: small enough to keep the rate smooth, big enough to keep timers few. */
const PIECE = 16 * 1024

/** One direction of the link: hands out consecutive transmission slots. */
class Link {
  private nextFree = 0
  forwarded = 0

  constructor(private readonly bytesPerSecond: number) {}

  /** When a piece of `n` bytes queued now has finished crossing the link (ms, Date.now() clock). */
  slot(n: number): number {
    const start = Math.max(Date.now(), this.nextFree)
    this.nextFree = start + (n * 1000) / this.bytesPerSecond
    return this.nextFree
  }
}

/** One proxied connection: while `frozen`, its pumps wait in `waiting` for resume(). */
interface Conn {
  frozen: boolean
  waiting: (() => void)[]
}

/** Forwards `from` → `to` over `link`, keeping order, with back-pressure on `from`. */
function shape(
  from: net.Socket,
  to: net.Socket,
  link: Link,
  latencyMs: number,
  highWater: number,
  conn: Conn,
  onForward: () => void,
): void {
  const queue: { at: number; data: Buffer }[] = []
  let inFlight = 0
  let ended = false
  let timer: NodeJS.Timeout | undefined
  /** Waiting for resume() (at most once in conn.waiting). */
  let parked = false

  const pump = () => {
    timer = undefined
    if (conn.frozen) {
      // Nothing moves: stop reading too, so the sender sees a full window, as on a dead route.
      if (!from.destroyed) from.pause()
      if (!parked) {
        parked = true
        conn.waiting.push(() => {
          parked = false
          pump()
        })
      }
      return
    }
    if (to.destroyed) {
      queue.length = 0
      return
    }
    const now = Date.now()
    while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
      const { data } = queue.shift() as { at: number; data: Buffer }
      inFlight -= data.length
      link.forwarded += data.length
      to.write(data)
      onForward()
      if (conn.frozen) break
    }
    if (conn.frozen) {
      pump()
      return
    }
    if (inFlight <= highWater && from.isPaused() && !from.destroyed) from.resume()
    if (queue.length > 0) {
      timer = setTimeout(pump, Math.max(0, (queue[0] as { at: number }).at - Date.now()))
    } else if (ended) {
      to.end()
    }
  }

  from.on('data', (chunk: Buffer) => {
    for (let off = 0; off < chunk.length; off += PIECE) {
      const data = chunk.subarray(off, off + PIECE)
      // A frozen link takes the bytes already read but schedules nothing: they wait for resume().
      queue.push({ at: conn.frozen ? 0 : link.slot(data.length) + latencyMs, data })
      inFlight += data.length
    }
    if (inFlight > highWater || conn.frozen) from.pause()
    if (!timer && !parked) pump()
  })
  from.on('end', () => {
    ended = true
    if (!timer && !parked) pump()
  })
  // A clean close still lets the queued data through (then `end`); a broken one drops it.
  from.on('close', (hadError) => {
    if (!hadError) return
    if (timer) clearTimeout(timer)
    queue.length = 0
  })
}

export async function startThrottle(opts: ThrottleOptions): Promise<Throttle> {
  if (!(opts.bytesPerSecond > 0)) throw new Error('startThrottle: bytesPerSecond must be > 0')
  const latencyMs = Math.max(0, opts.latencyMs ?? 0)
  const up = new Link(opts.bytesPerSecond)
  const down = new Link(opts.bytesPerSecond)
  const highWater = Math.max(64 * 1024, Math.ceil((opts.bytesPerSecond * latencyMs * 2) / 1000))
  const sockets = new Set<net.Socket>()
  const conns = new Set<Conn>()
  let accepted = 0

  const stall = () => {
    for (const c of conns) c.frozen = true
  }
  const resume = () => {
    for (const c of conns) {
      c.frozen = false
      for (const wake of c.waiting.splice(0)) wake()
    }
  }
  const onForward = () => {
    if (opts.stallAfterUpBytes !== undefined && up.forwarded >= opts.stallAfterUpBytes) {
      opts.stallAfterUpBytes = undefined
      stall()
    }
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    accepted++
    const conn: Conn = { frozen: false, waiting: [] }
    conns.add(conn)
    const upstream = net.connect({ host: LOOPBACK, port: opts.targetPort, allowHalfOpen: true })
    const cut = () => {
      // A frozen link carries no reset either: the other side finds out after resume(), if ever.
      if (conn.frozen) {
        conn.waiting.push(cut)
        return
      }
      client.destroy()
      upstream.destroy()
    }
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.setNoDelay(true)
      s.on('error', cut)
      // A normal close travels as an end (after the queued data); a broken side cuts the other.
      s.on('close', (hadError) => {
        sockets.delete(s)
        if (hadError) cut()
        if (client.destroyed && upstream.destroyed) conns.delete(conn)
      })
    }
    upstream.on('connect', () => {
      shape(client, upstream, up, latencyMs, highWater, conn, onForward)
      shape(upstream, client, down, latencyMs, highWater, conn, onForward)
      client.resume()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => resolve())
  })
  const addr = server.address()
  if (typeof addr !== 'object' || !addr) throw new Error('startThrottle: no address')
  return {
    port: addr.port,
    bytes: () => ({ up: up.forwarded, down: down.forwarded }),
    connections: () => accepted,
    stall,
    resume,
    stalled: () => [...conns].filter((c) => c.frozen).length,
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
