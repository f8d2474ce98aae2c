/**
 * before-switch / after-switch hooks, the health check and rollback-on-failure, against a real
 * sshd: what a user would check on the server and in the step's log afterwards.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectFailed, expectOk } from '../support/expect.js'
import { linkTarget, listDir, makeTargetRoot, readTree } from '../support/harness.js'
import { useSshd } from '../support/suite.js'

const { sshd, tmp, removeAfter, newTarget, sourceDir, deploy } = useSshd()

function site(version: string, extra: Record<string, string> = {}): string {
  return sourceDir({
    'index.html': `<h1>${version}</h1>\n`,
    'assets/app.css': 'body { color: red }\n',
    'health.txt': 'ok\n',
    ...extra,
  })
}

interface LogRecord {
  release: string
  event: string
  from?: string
}

function serverLog(target: string): LogRecord[] {
  return readFileSync(`${target}/.deploy/log`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogRecord)
}

/** `KEY=value` lines a hook wrote, as an object. */
function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** A hook that says hello on stdout and stderr and records where it ran and what it was given. */
function recordingHook(name: string): string {
  return [
    `echo "${name}: hello from $RELEASE_ID"`,
    `echo "${name}: a note on stderr" >&2`,
    // ${VAR-unset} tells an empty variable from a missing one.
    'printf \'%s\\n\' "pwd=$(pwd)" "RELEASE_ID=${RELEASE_ID-unset}" "RELEASE_PATH=${RELEASE_PATH-unset}" \\',
    '  "PREVIOUS_RELEASE_ID=${PREVIOUS_RELEASE_ID-unset}" "PREVIOUS_RELEASE_PATH=${PREVIOUS_RELEASE_PATH-unset}" \\',
    `  "DEPLOY_TARGET=\${DEPLOY_TARGET-unset}" "live=$(readlink "$DEPLOY_TARGET/current")" > ${name}.env`,
  ].join('\n')
}

describe('hooks', () => {
  it('before-switch and after-switch run with sh in the new release, with the documented environment, and print into the log', async () => {
    const target = newTarget()
    const hooks = { 'before-switch': recordingHook('before'), 'after-switch': recordingHook('after') }

    const first = await deploy(target, site('v1'), { 'release-id': 'r1', ...hooks })
    expectOk(first)
    expect(readEnvFile(`${target}/releases/r1/before.env`)).toEqual({
      pwd: `${target}/releases/r1`,
      RELEASE_ID: 'r1',
      RELEASE_PATH: `${target}/releases/r1`,
      PREVIOUS_RELEASE_ID: '',
      PREVIOUS_RELEASE_PATH: '',
      DEPLOY_TARGET: target,
      live: '',
    })

    const second = await deploy(target, site('v2'), { 'release-id': 'r2', ...hooks })
    expectOk(second)
    const common = {
      pwd: `${target}/releases/r2`,
      RELEASE_ID: 'r2',
      RELEASE_PATH: `${target}/releases/r2`,
      PREVIOUS_RELEASE_ID: 'r1',
      PREVIOUS_RELEASE_PATH: `${target}/releases/r1`,
      DEPLOY_TARGET: target,
    }
    // before-switch runs while the old release is still served; after-switch once the new one is.
    expect(readEnvFile(`${target}/releases/r2/before.env`)).toEqual({ ...common, live: 'releases/r1' })
    expect(readEnvFile(`${target}/releases/r2/after.env`)).toEqual({ ...common, live: 'releases/r2' })
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')

    // What the hooks printed (stdout and stderr) is in the step's log, in order.
    const log = second.stdout
    for (const line of [
      'before: hello from r2',
      'before: a note on stderr',
      'after: hello from r2',
      'after: a note on stderr',
    ]) {
      expect(log).toContain(line)
    }
    expect(log.indexOf('before: hello from r2')).toBeLessThan(log.indexOf('after: hello from r2'))
  })

  it('a failing before-switch: the step fails with its status and output, nothing switches, the upload goes back to incoming', async () => {
    const target = newTarget()
    expectOk(await deploy(target, site('v1'), { 'release-id': 'r1' }))
    const liveTree = readTree(`${target}/current`)

    const run = await deploy(target, site('v2'), {
      'release-id': 'r2',
      'before-switch':
        'echo "checking the config of $RELEASE_ID"\necho "config invalid: DB_URL is missing" >&2\nexit 3',
    })
    const msg = expectFailed(run)
    expect(msg).toMatch(/before-switch exited with status 3/)
    expect(msg).toContain('config invalid: DB_URL is missing')
    expect(msg).toContain('checking the config of r2')
    expect(msg).toMatch(/nothing was switched/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readTree(`${target}/current`)).toEqual(liveTree)
    expect(listDir(`${target}/releases`)).toEqual(['r1'])
    const incoming = listDir(`${target}/.deploy/incoming`)
    expect(incoming).toHaveLength(1)
    expect(incoming[0]).toMatch(/^r2\./)
    expect(readFileSync(`${target}/.deploy/incoming/${incoming[0]}/index.html`, 'utf8')).toBe('<h1>v2</h1>\n')
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    expect(serverLog(target).map((e) => `${e.event} ${e.release}`)).toEqual(['deploy r1'])
    expect(run.outputs['rolled-back']).toBe('false')

    // The fix is deployed with the same id: it goes live.
    const again = await deploy(target, site('v2'), { 'release-id': 'r2', 'before-switch': 'true' })
    expectOk(again)
    expect(linkTarget(`${target}/current`)).toBe('releases/r2')
  })

  it('a failing after-switch switches back (rollback-on-failure default), or leaves the release live when it is false', async () => {
    const target = newTarget()
    expectOk(await deploy(target, site('v1'), { 'release-id': 'r1' }))

    const failing = 'echo "reloading the app server"\necho "reload failed: no such service" >&2\nexit 1'
    const run = await deploy(target, site('v2'), { 'release-id': 'r2', 'after-switch': failing })
    const msg = expectFailed(run)
    expect(msg).toMatch(/after-switch exited with status 1/)
    expect(msg).toContain('reload failed: no such service')
    expect(msg).toMatch(/r1 is live again/)
    expect(run.outputs['rolled-back']).toBe('true')
    expect(linkTarget(`${target}/current`)).toBe('releases/r1')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v1</h1>\n')
    expect(run.stdout).toContain('reloading the app server')
    expect(run.stdout).toMatch(/::warning::.*switched back to r1/)
    const log = serverLog(target)
    expect(log.map((e) => `${e.event} ${e.release}`)).toEqual(['deploy r1', 'deploy r2', 'revert r1'])
    expect(log[2]?.from).toBe('r2')
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)

    const kept = await deploy(target, site('v3'), {
      'release-id': 'r3',
      'after-switch': failing,
      'rollback-on-failure': 'false',
    })
    const msg3 = expectFailed(kept)
    expect(msg3).toMatch(/after-switch exited with status 1/)
    expect(kept.outputs['rolled-back']).toBe('false')
    expect(kept.stdout).toMatch(/::warning::.*stays live \(rollback-on-failure: false\)/)
    expect(linkTarget(`${target}/current`)).toBe('releases/r3')
    expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v3</h1>\n')
    expect(serverLog(target).at(-1)).toMatchObject({ event: 'deploy', release: 'r3' })
    expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
  })
})

describe('nothing a user gives is run as code, and a hook runs exactly as written', () => {
  it('a hook with quotes, $(...), backticks and \\ runs as the user wrote it; odd target, link-name and shared paths stay data', async () => {
    const canaryDir = tmp('radcanary-')
    chmodSync(canaryDir, 0o777) // radtest could create the canary, if anything ran it
    const canary = path.join(canaryDir, 'pwned')
    const payload = `$(touch ${canary})\`touch ${canary}\`';touch ${canary};'";touch ${canary};"`

    // The user's script: its own $(...) and backticks run (that is the user's intent); what it
    // quotes stays literal. It must behave on the server exactly as under a local `sh -c`.
    const printLines = [
      `printf '%s\\n' "double \\"quoted\\"" 'single '\\''quoted'\\''' "sub=$(echo ran)" "tick=\`echo ran\`" \\`,
      `  'literal $(touch ${canary}) \`touch ${canary}\`' "back\\\\slash" 'dollar $HOME' "args=$#"`,
    ].join('\n')
    const hook = `${printLines} > hook.out\nprintf '%s\\n' "$DEPLOY_TARGET" > target.out\n`
    const expected = execFileSync('sh', ['-c', printLines], { encoding: 'utf8', cwd: canaryDir })
    expect(expected).toContain(`literal $(touch ${canary})`)
    expect(expected).toContain("single 'quoted'")

    const root = makeTargetRoot(sshd)
    removeAfter(root)
    const target = `${root}/my site's "dir" ${payload}`
    const shared = `data ${payload}`
    const src = site('v1')
    const inputs = {
      'release-id': 'r1',
      'link-name': 'live_2.0-x',
      shared,
      'before-switch': hook,
      'after-switch': hook,
    }
    const first = await deploy(target, src, inputs)
    expectOk(first)
    const second = await deploy(target, site('v2'), { ...inputs, 'release-id': 'r2' })
    expectOk(second)

    expect(existsSync(canary)).toBe(false)
    expect(linkTarget(`${target}/live_2.0-x`)).toBe('releases/r2')
    expect(existsSync(`${target}/current`)).toBe(false)
    expect(readFileSync(`${target}/live_2.0-x/index.html`, 'utf8')).toBe('<h1>v2</h1>\n')
    expect(readFileSync(`${target}/releases/r2/hook.out`, 'utf8')).toBe(expected)
    expect(readFileSync(`${target}/releases/r2/target.out`, 'utf8')).toBe(`${target}\n`)
    // The shared path, with its odd name, is a directory in shared/ and a link in the release.
    expect(existsSync(`${target}/shared/${shared}`)).toBe(true)
    expect(readFileSync(`${target}/.deploy/log`, 'utf8')).toContain('"release":"r2"')

    // Values that fail validation are refused before anything connects.
    const c0 = sshd.connections()
    const refused: Record<string, string>[] = [
      { 'release-id': `r3${payload}` },
      { 'release-id': 'r3;touch${IFS}pwned' },
      { 'link-name': `cur$(touch ${canary})` },
      { 'link-name': '../current' },
      { target: `${root}/x\n$(touch ${canary})` },
    ]
    for (const bad of refused) {
      const run = await deploy(target, src, { ...inputs, 'release-id': 'r3', ...bad })
      const msg = expectFailed(run)
      expect(msg).toMatch(new RegExp(`Input '${Object.keys(bad)[0]}'`))
    }
    expect(sshd.connections()).toBe(c0)
    expect(existsSync(canary)).toBe(false)
    expect(listDir(canaryDir)).toEqual([])
  })
})

/** A web server on 127.0.0.1 whose answers the test decides. */
async function startWeb(
  answer: (n: number) => number,
): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0
  const srv = http.createServer((_req, res) => {
    hits++
    const status = answer(hits)
    res.writeHead(status, { 'content-type': 'text/plain' })
    res.end(`${status}\n`)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const addr = srv.address()
  if (typeof addr !== 'object' || !addr) throw new Error('no port')
  return {
    url: `http://127.0.0.1:${addr.port}/health`,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections()
        srv.close(() => r())
      }),
  }
}

describe('healthcheck-url', () => {
  it('a 2xx passes at once; a few 500s then 200 pass after retries', async () => {
    const target = newTarget()
    const good = await startWeb(() => 204)
    try {
      const run = await deploy(target, site('v1'), { 'release-id': 'r1', 'healthcheck-url': good.url })
      expectOk(run)
      expect(good.hits()).toBe(1)
      expect(run.stdout).toContain(`Health check ${good.url}: 204 (attempt 1)`)
      expect(run.outputs['rolled-back']).toBe('false')
    } finally {
      await good.close()
    }
    const flaky = await startWeb((n) => (n <= 2 ? 500 : 200))
    try {
      const run = await deploy(target, site('v2'), { 'release-id': 'r2', 'healthcheck-url': flaky.url })
      expectOk(run)
      expect(flaky.hits()).toBe(3)
      expect(run.stdout).toContain('HTTP 500; trying again')
      expect(linkTarget(`${target}/current`)).toBe('releases/r2')
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
    } finally {
      await flaky.close()
    }
  })

  it('a release that keeps answering 500 is switched back: rolled-back, a revert in the log, the old release serves', async () => {
    const target = newTarget()
    // The server answers from what is live on disk, like a real web server would.
    const web = await startWeb(() => {
      try {
        return readFileSync(`${target}/current/health.txt`, 'utf8').trim() === 'ok' ? 200 : 500
      } catch {
        return 503
      }
    })
    try {
      expectOk(await deploy(target, site('v1'), { 'release-id': 'r1', 'healthcheck-url': web.url }))
      const started = Date.now()
      // The health check retries for about 60 s; the step's timeout ends it sooner here.
      const run = await deploy(target, site('v2', { 'health.txt': 'broken\n' }), {
        'release-id': 'r2',
        'healthcheck-url': web.url,
        timeout: '10',
      })
      const msg = expectFailed(run)
      expect(Date.now() - started).toBeLessThan(25_000)
      expect(msg).toMatch(/Health check failed/)
      expect(msg).toContain('HTTP 500')
      expect(run.outputs['rolled-back']).toBe('true')
      expect(linkTarget(`${target}/current`)).toBe('releases/r1')
      expect(readFileSync(`${target}/current/index.html`, 'utf8')).toBe('<h1>v1</h1>\n')
      const log = serverLog(target)
      expect(log.at(-1)).toMatchObject({ event: 'revert', release: 'r1', from: 'r2' })
      expect(existsSync(`${target}/.deploy/lock`)).toBe(false)
      expect(web.hits()).toBeGreaterThan(2)
    } finally {
      await web.close()
    }
  })
})
