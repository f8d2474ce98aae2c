import { describe, expect, it } from 'vitest'
import { muxPacket, muxPackets } from '../../src/mux.js'

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
