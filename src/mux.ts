/**
 * OpenSSH's control socket, spoken directly for the one request made of it at the end of a run:
 * a master is asked to exit, as `ssh -O exit` asks it (PROTOCOL.mux: each side says hello, then
 * MUX_C_TERMINATE, answered MUX_S_OK). A spawned ssh costs the last step of every deploy 15-20 ms
 * on a 2-core runner (the spawn blocks Node's event loop 3-8 ms, then ssh starts and reads its
 * config); this takes about one.
 */
import net from 'node:net'

const MUX_MSG_HELLO = 0x00000001
const MUX_C_TERMINATE = 0x10000005
const MUX_S_OK = 0x80000001
const MUX_VERSION = 4
/** Far above any reply to these two messages: a longer one is not a master speaking. */
const MAX_PACKET = 64 * 1024

/** One packet: its length, then 32-bit words (big-endian). */
export function muxPacket(...words: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * words.length)
  b.writeUInt32BE(4 * words.length, 0)
  for (const [i, w] of words.entries()) b.writeUInt32BE(w >>> 0, 4 + 4 * i)
  return b
}

/** Splits whole packets off `buf`; `rest` is an incomplete one (or undefined: not a master speaking). */
export function muxPackets(buf: Buffer): { packets: Buffer[]; rest: Buffer } | undefined {
  const packets: Buffer[] = []
  let at = 0
  while (buf.length - at >= 4) {
    const len = buf.readUInt32BE(at)
    if (len < 4 || len > MAX_PACKET) return undefined
    if (buf.length - at - 4 < len) break
    packets.push(buf.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  return { packets, rest: buf.subarray(at) }
}

/** Whether something still accepts on `socketPath` (a master that has not exited yet). */
function listening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ path: socketPath })
    sock.on('connect', () => {
      sock.destroy()
      resolve(true)
    })
    // ENOENT (unlinked) or ECONNREFUSED (a socket file no one listens on): nothing is there.
    sock.on('error', () => resolve(false))
  })
}

/**
 * Asks the master listening at `socketPath` to exit, and answers whether it is gone: true when
 * nothing listens there any more (or never did), false when it may still run (another reply, or
 * `timeoutMs` passed). The master often exits before its MUX_S_OK leaves (as mux.c says), so a
 * close after the request is checked: the socket must stop accepting within the time left.
 */
export async function terminateMaster(socketPath: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  const answer = await new Promise<'ok' | 'closed' | 'none' | 'no'>((resolve) => {
    let said = false
    let buf: Buffer = Buffer.alloc(0)
    const sock = net.connect({ path: socketPath })
    const end = (how: 'ok' | 'closed' | 'none' | 'no') => {
      clearTimeout(timer)
      sock.destroy()
      resolve(how)
    }
    const timer = setTimeout(() => end('no'), timeoutMs)
    let connected = false
    sock.on('error', () => end(!connected ? 'none' : said ? 'closed' : 'no'))
    sock.on('close', () => end(said ? 'closed' : 'no'))
    sock.on('connect', () => {
      connected = true
      sock.write(muxPacket(MUX_MSG_HELLO, MUX_VERSION))
    })
    sock.on('data', (d: Buffer) => {
      const got = muxPackets(Buffer.concat([buf, d]))
      if (!got) return end('no')
      buf = got.rest
      for (const p of got.packets) {
        const type = p.readUInt32BE(0)
        if (!said) {
          // The master's hello: version 4, then extensions we do not need.
          if (type !== MUX_MSG_HELLO || p.length < 8 || p.readUInt32BE(4) !== MUX_VERSION) return end('no')
          said = true
          sock.write(muxPacket(MUX_C_TERMINATE, 0))
        } else {
          // MUX_S_OK echoes our request id (0); a refusal (MUX_S_PERMISSION_DENIED) is anything else.
          return end(type === MUX_S_OK && p.length >= 8 && p.readUInt32BE(4) === 0 ? 'ok' : 'no')
        }
      }
    })
  })
  if (answer === 'none') return true
  if (answer === 'no') return false
  // Said yes (or closed after the request): gone once the socket stops accepting.
  while (await listening(socketPath)) {
    if (Date.now() >= until) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}
