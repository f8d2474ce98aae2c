import { describe, expect, it } from 'vitest'

// @github/local-action imports an entry module and calls its exported `run` (main and post step).
describe('entry modules for @github/local-action', () => {
  it('src/main.ts exports run (the main step)', async () => {
    const main = await import('../../src/main.js')
    expect(typeof main.run).toBe('function')
  })

  it('src/post-entry.ts exports run, and it is the post step', async () => {
    const entry = await import('../../src/post-entry.js')
    const { post } = await import('../../src/post.js')
    expect(entry.run).toBe(post)
  })
})
