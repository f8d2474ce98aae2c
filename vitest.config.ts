import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Vite's own warnings only: the workflow parser's source maps name files it does not ship, and
  // Vite warns about each of its ~70 modules. Test output and errors are not affected.
  logLevel: 'error',
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration files each start their own sshd; two at a time fit a 2-core machine.
    maxWorkers: 2,
    // The workflow parser imports its JSON schemas without `with { type: 'json' }`, which Node's
    // own loader refuses: let Vite transform it.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
})
