import { describe, expect, it } from 'vitest'
import { mayTakeLock } from '../../src/remote.js'
import { lockAfter, lockWaitSeconds, overMaster, pool } from '../../src/session.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs pool over `count` items with random delays; records how many ran at once. */
async function observe(count: number, limit: number) {
  let active = 0
  let peak = 0
  const started: number[] = []
  const results = await pool(
    Array.from({ length: count }, (_, i) => `item-${i}`),
    limit,
    async (item, i) => {
      started.push(i)
      active++
      peak = Math.max(peak, active)
      // later items finish first: results must still come back in item order
      await sleep(1 + ((count - i) % 5) * 2)
      active--
      return `${item}:${i}`
    },
  )
  return { results, peak, started, active }
}

describe('pool', () => {
  it.each([
    [10, 3, 3],
    [10, 1, 1],
    [5, 8, 5],
    [20, 20, 20],
    [7, 2, 2],
  ])('%d items, limit %d: at most %d at once, every result in order', async (count, limit, peak) => {
    const o = await observe(count, limit)
    expect(o.peak).toBe(peak)
    expect(o.active).toBe(0)
    expect(o.results).toEqual(Array.from({ length: count }, (_, i) => `item-${i}:${i}`))
    expect([...o.started].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i))
  })

  it('starts items in order', async () => {
    expect((await observe(9, 3)).started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('runs one at a time with limit 1', async () => {
    const log: string[] = []
    await pool([1, 2, 3], 1, async (n) => {
      log.push(`start ${n}`)
      await sleep(2)
      log.push(`end ${n}`)
    })
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  })

  it('returns an empty list for no items and never calls fn', async () => {
    let calls = 0
    expect(
      await pool([], 4, async () => {
        calls++
      }),
    ).toEqual([])
    expect(calls).toBe(0)
  })

  it('calls fn exactly once per item', async () => {
    const seen = new Map<number, number>()
    await pool([0, 1, 2, 3, 4, 5], 4, async (n) => {
      seen.set(n, (seen.get(n) ?? 0) + 1)
      await sleep(1)
    })
    expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 1],
    ])
  })

  it('rejects when fn throws', async () => {
    await expect(
      pool([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('boom 2')
        return n
      }),
    ).rejects.toThrow('boom 2')
  })
})

describe('lockWaitSeconds', () => {
  it.each([
    [10, 4],
    [12, 4],
    [14, 4],
    [15, 5],
    [60, 20],
    [600, 200],
    [899, 299],
    [900, 300],
    [901, 300],
    [21600, 300],
  ])('timeout %d s waits %d s for a lock', (timeout, wait) => {
    expect(lockWaitSeconds(timeout)).toBe(wait)
  })

  it('always leaves time after the wait', () => {
    for (let t = 12; t <= 21600; t += 97) expect(lockWaitSeconds(t)).toBeLessThan(t)
  })
})

describe('the lock, as the scripts report it', () => {
  it('follows the last lock line of a reply, whole or cut short', () => {
    expect(lockAfter('maybe', ['taken'], true)).toBe('held')
    expect(lockAfter('maybe', ['taken'], false)).toBe('held')
    expect(lockAfter('maybe', ['taken', 'released'], true)).toBe('free')
    expect(lockAfter('held', ['not-ours other-run'], true)).toBe('free')
    expect(lockAfter('free', ['kept'], true)).toBe('held')
  })

  it('a maybe-taken lock is settled free only by a reply that ran to its end', () => {
    // Refused before lock_take: the script ended, saying nothing of the lock.
    expect(lockAfter('maybe', [], true)).toBe('free')
    // Cut short (killed, the connection dropped): it may have been taken; the post step looks.
    expect(lockAfter('maybe', [], false)).toBe('maybe')
    // A call that says nothing leaves a held lock held (after-switch failing keeps it ours).
    expect(lockAfter('held', [], true)).toBe('held')
    expect(lockAfter('free', [], false)).toBe('free')
  })

  it('knows which calls may take the lock', () => {
    expect(mayTakeLock('prepare', {})).toBe(true)
    expect(mayTakeLock('switchTo', { TAKE: 1 })).toBe(true)
    expect(mayTakeLock('switchTo', { TAKE: 0 })).toBe(false)
    expect(mayTakeLock('inspect', { TAKE_LOCK: 1 })).toBe(true)
    expect(mayTakeLock('inspect', { TAKE_LOCK: 0 })).toBe(false)
    expect(mayTakeLock('releaseLock', {})).toBe(false)
    expect(mayTakeLock('recover', {})).toBe(false)
  })
})

describe('overMaster: a server that allows one session at a time', () => {
  const REFUSED = 'mux_client_request_session: session request failed: Session open refused by peer\n'
  const result = (code: number, stderr = '', stdout = '') => ({
    code,
    signal: null,
    stdout,
    stderr,
    aborted: false,
  })
  /** An attempt that is refused `refusals` times, then runs; records what it was asked. */
  function attempts(refusals: number, then = result(0)) {
    const asked: boolean[] = []
    const attempt = async (muxOnly: boolean) => {
      asked.push(muxOnly)
      return asked.length <= refusals ? result(255, REFUSED) : then
    }
    return { asked, attempt }
  }

  it('known to allow one: over the master only, asked again after each refusal until it runs', async () => {
    const a = attempts(2)
    expect((await overMaster({ oneSession: true }, false, a.attempt, true)).code).toBe(0)
    expect(a.asked).toEqual([true, true, true])
  })

  it('gives up after six refusals, with the refusal for the caller to report', async () => {
    const a = attempts(99)
    const r = await overMaster({ oneSession: true }, false, a.attempt)
    expect([r.code, a.asked.length]).toEqual([255, 6])
  })

  it("any other failure is not asked again: a dropped connection, a script that ran (the refusal's words in the server's own text)", async () => {
    for (const then of [
      result(255, 'Connection closed by remote host\n'),
      // A hook (or a login shell) that printed ssh's words: the session was open, its text came first.
      result(3, `hook says\n${REFUSED}`),
      result(1, REFUSED, '@@rad lock taken\n'),
      // ssh exits 255 when refused; a script (and its hook) never does.
      result(3, REFUSED),
    ]) {
      const a = attempts(0, then)
      expect(await overMaster({ oneSession: true }, false, a.attempt, true)).toBe(then)
      expect(a.asked).toEqual([true])
    }
  })

  it('not known to allow one, or over a connection of its own: once, as ssh does it', async () => {
    for (const [oneSession, fresh] of [
      [false, false],
      [true, true],
    ] as const) {
      const a = attempts(99)
      expect((await overMaster({ oneSession }, fresh, a.attempt)).code).toBe(255)
      expect(a.asked).toEqual([false])
    }
  })
})
