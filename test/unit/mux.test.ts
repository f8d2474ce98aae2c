import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { muxPacket, muxPackets, terminateMaster } from '../../src/mux.js'

describe('the control socket packets', () => {
  it('frames words as PROTOCOL.mux does: a length, then big-endian 32-bit words', () => {
    // `ssh -O exit` sends these two (hello, version 4; terminate, request id 0).
    expect(muxPacket(0x00000001, 4).toString('hex')).toBe('000000080000000100000004')
    expect(muxPacket(0x10000005, 0).toString('hex')).toBe('000000081000000500000000')
  })

  it('splits whole packets and keeps an incomplete one for the next read', () => {
    const hello = Buffer.from('000000080000000100000004', 'hex')
    const ok = Buffer.from('000000088000000100000000', 'hex')
    const both = Buffer.concat([hello, ok.subarray(0, 5)])
    const got = muxPackets(both)
    expect(got?.packets.map((p) => p.toString('hex'))).toEqual(['0000000100000004'])
    expect(got?.rest.toString('hex')).toBe('0000000880')
    const rest = muxPackets(Buffer.concat([got?.rest ?? Buffer.alloc(0), ok.subarray(5)]))
    expect(rest?.packets.map((p) => p.toString('hex'))).toEqual(['8000000100000000'])
    expect(rest?.rest.length).toBe(0)
  })

  it('refuses what no master sends: a packet shorter than its type, or longer than any reply', () => {
    expect(muxPackets(Buffer.from('00000002abcd', 'hex'))).toBeUndefined()
    expect(muxPackets(Buffer.from('01000000', 'hex'))).toBeUndefined()
  })
})

describe('terminateMaster, against sockets that are not a master exiting', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rad-mux-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  /** A unix socket server that speaks hello (version 4) and then does `then` with the client. */
  const fake = async (name: string, then: (c: net.Socket) => void): Promise<[string, net.Server]> => {
    const p = path.join(dir, name)
    const server = net.createServer((c) => {
      // Our probes (is it still accepting?) come and go without reading: their resets are expected.
      c.on('error', () => {})
      c.write(muxPacket(0x00000001, 4))
      then(c)
    })
    await new Promise<void>((r) => server.listen(p, r))
    return [p, server]
  }

  it('nothing listening: gone', async () => {
    expect(await terminateMaster(path.join(dir, 'none'), 500)).toBe(true)
  })

  it('a close after the request while the socket still accepts: not gone (not taken for a yes)', async () => {
    const [p, server] = await fake('closes', (c) => c.on('data', () => c.end()))
    expect(await terminateMaster(p, 300)).toBe(false)
    server.close()
  })

  it('a refusal: not gone', async () => {
    const [p, server] = await fake('denies', (c) => c.on('data', () => c.write(muxPacket(0x80000002, 0))))
    expect(await terminateMaster(p, 300)).toBe(false)
    server.close()
  })

  it('a yes, and the socket stops accepting: gone', async () => {
    const [p, server] = await fake('exits', (c) =>
      c.on('data', () => {
        c.end(muxPacket(0x80000001, 0))
        server.close()
      }),
    )
    expect(await terminateMaster(p, 1000)).toBe(true)
  })
})
