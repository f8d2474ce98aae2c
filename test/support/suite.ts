/**
 * The scaffolding an integration test file needs, in one call: `useSshd()` starts an sshd before
 * the file's tests and stops it after them, and hands back what the tests build on it: temp
 * directories (removed after the tests), fresh deploy targets, a build to deploy, a deploy.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { afterAll, beforeAll } from 'vitest'
import {
  type ActionRun,
  baseInputs,
  commandInputs,
  makeTargetRoot,
  runAction,
  type Sshd,
  type SshdOptions,
  startSshd,
  TEST_USER,
  writeSite,
} from './harness.js'

export type RunOptions = NonNullable<Parameters<typeof runAction>[1]>

export interface SshdSuite {
  /** The file's sshd. Usable in tests and hooks; it is started by the file's beforeAll. */
  sshd: Sshd
  /** A fresh directory /tmp/<prefix>XXXXXX, removed after the file's tests. */
  tmp(prefix: string): string
  /** Removes these paths too after the file's tests. */
  removeAfter(...paths: string[]): void
  /** `<root>/<name>`, with root a fresh directory the deploy user owns (removed after the tests). */
  newTarget(name?: string, server?: Sshd): string
  /** A fresh build directory holding `files` ({ 'path/name': content }). */
  sourceDir(files: Record<string, string | Buffer>): string
  /** A command that takes no source (rollback, list, prune, unlock) on target, with `inputs` added. */
  command(
    target: string,
    name: string,
    inputs?: Record<string, string>,
    opts?: RunOptions,
  ): Promise<ActionRun>
  /** Inputs that reach this sshd through a proxy on `port` (a slow link) instead of directly. */
  viaPort(port: number): Record<string, string>
  /** The bundle deploying src to target on this sshd, with `inputs` added to (or overriding) the base ones. */
  deploy(target: string, src: string, inputs?: Record<string, string>, opts?: RunOptions): Promise<ActionRun>
}

/** Registers the file's sshd (beforeAll/afterAll) and returns its suite; call it at the top of a file. */
export function useSshd(opts: SshdOptions = {}): SshdSuite {
  let started: Sshd | undefined
  const paths: string[] = []
  beforeAll(async () => {
    started = await startSshd(opts)
  })
  afterAll(async () => {
    await started?.stop()
    for (const p of paths) rmSync(p, { recursive: true, force: true })
  })
  // The files name their sshd at module level, before beforeAll has started it: this stands in for
  // it and reads through to the real one once it runs.
  const sshd = new Proxy({} as Sshd, {
    get(_, key) {
      if (!started) throw new Error('the sshd is not started yet: use it inside a test or a hook')
      return Reflect.get(started, key)
    },
  })
  const tmp = (prefix: string) => {
    const dir = mkdtempSync(`/tmp/${prefix}`)
    paths.push(dir)
    return dir
  }
  return {
    sshd,
    tmp,
    removeAfter: (...more) => {
      paths.push(...more)
    },
    newTarget: (name = 'site', server = sshd) => {
      const root = makeTargetRoot(server)
      paths.push(root)
      return `${root}/${name}`
    },
    sourceDir: (files) => {
      const dir = tmp('radsrc-')
      writeSite(dir, files)
      return dir
    },
    command: (target, name, inputs = {}, runOpts = {}) =>
      runAction(commandInputs(sshd, target, name, inputs), runOpts),
    viaPort: (port) => ({ host: `${TEST_USER}@127.0.0.1:${port}`, 'known-hosts': sshd.knownHostsPlain }),
    deploy: (target, src, inputs = {}, runOpts = {}) =>
      runAction({ ...baseInputs(sshd, target, src), ...inputs }, runOpts),
  }
}

/** A fresh directory /tmp/<prefix>XXXXXX for a file that needs no sshd, removed after the file's tests. */
export function useTempDir(prefix: string): string {
  const dir = mkdtempSync(`/tmp/${prefix}`)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
