import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { baseInputs, makeTargetRoot, runAction, type Sshd, startSshd } from './harness.js'
import { startThrottle } from './throttle.js'

let sshd: Sshd
beforeAll(async () => { sshd = await startSshd() })
afterAll(async () => { await sshd?.stop() })

it('throttle', async () => {
  const link = await startThrottle({ targetPort: sshd.port, bytesPerSecond: 4_000_000, latencyMs: 10 })
  const src = mkdtempSync('/tmp/radsrc-')
  for (let i = 0; i < 40; i++) writeFileSync(`${src}/f${i}.bin`, randomBytes(200_000))
  const root = makeTargetRoot(sshd)
  const t0 = Date.now()
  const r = await runAction({ ...baseInputs(sshd, `${root}/site`, src), host: `radtest@127.0.0.1:${link.port}`, 'known-hosts': sshd.knownHostsPlain, 'release-id': 'x1' })
  console.log(r.code, Date.now() - t0, r.outputs['bytes-sent'], link.bytes(), link.connections())
  console.log(r.stdout.slice(-2000))
  expect(r.code).toBe(0)
  await link.stop()
})
