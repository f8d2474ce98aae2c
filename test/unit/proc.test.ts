import { describe, expect, it } from 'vitest'
import { run } from '../../src/proc.js'

describe('run', () => {
  it('an aborted child is done once it exits, though a grandchild still holds its pipes', async () => {
    // sh starts a grandchild that inherits stdout, prints its pid, and waits: like rsync and its
    // ssh stuck on a stalled link. Aborting kills sh; the grandchild keeps the pipe open.
    const ac = new AbortController()
    let grandchild = 0
    const started = Date.now()
    const result = await run('sh', ['-c', 'sleep 20 & echo "$!"; wait'], {
      signal: ac.signal,
      onStdout: (s) => {
        grandchild ||= Number(s.trim())
        ac.abort()
      },
    })
    try {
      expect(result.aborted).toBe(true)
      expect(Date.now() - started).toBeLessThan(3_000)
      expect(grandchild).toBeGreaterThan(0)
    } finally {
      if (grandchild) process.kill(grandchild, 'SIGKILL')
    }
  })

  it('without an abort, waits for every holder of the pipes (all output is read)', async () => {
    const result = await run('sh', ['-c', '(sleep 0.3; echo late) & echo early'])
    expect(result.aborted).toBe(false)
    expect(result.stdout).toBe('early\nlate\n')
  })
})
