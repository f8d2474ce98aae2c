/**
 * OpenSSH's control socket, spoken directly for the one request made of it at the end of a run:
 * a master is asked to exit, as `ssh -O exit` asks it (PROTOCOL.mux: each side says hello, then
 * MUX_C_TERMINATE, answered MUX_S_OK). A spawned ssh costs the last step of every deploy 15-20 ms
 * on a 2-core runner (the spawn blocks Node's event loop 3-8 ms, then ssh starts and reads its
 * config); this takes about one. Anything unexpected answers false, and the caller falls back to
 * `ssh -O exit`.
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

/**
 * Asks the master listening at `socketPath` to exit. True when it said yes (MUX_S_OK, or closed the
 * socket after the request); false when anything else happened (no socket, another reply, silence
 * for `timeoutMs`).
 */
export function terminateMaster(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let said = false
    let buf: Buffer = Buffer.alloc(0)
    const sock = net.connect({ path: socketPath })
    const end = (ok: boolean) => {
      clearTimeout(timer)
      sock.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => end(false), timeoutMs)
    // The master often exits before its MUX_S_OK leaves (as mux.c says): `ssh -O exit` takes a
    // reset or close after the request for a yes too. A refusal is a reply, never a close.
    sock.on('error', () => end(said))
    sock.on('close', () => end(said))
    sock.on('connect', () => sock.write(muxPacket(MUX_MSG_HELLO, MUX_VERSION)))
    sock.on('data', (d: Buffer) => {
      const got = muxPackets(Buffer.concat([buf, d]))
      if (!got) return end(false)
      buf = got.rest
      for (const p of got.packets) {
        const type = p.readUInt32BE(0)
        if (!said) {
          // The master's hello: version 4, then extensions we do not need.
          if (type !== MUX_MSG_HELLO || p.length < 8 || p.readUInt32BE(4) !== MUX_VERSION) return end(false)
          said = true
          sock.write(muxPacket(MUX_C_TERMINATE, 0))
        } else {
          // MUX_S_OK echoes our request id (0); a refusal (MUX_S_PERMISSION_DENIED) is anything else.
          return end(type === MUX_S_OK && p.length >= 8 && p.readUInt32BE(4) === 0)
        }
      }
    })
  })
}
