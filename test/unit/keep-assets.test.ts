import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { LogEntry } from '../../src/history.js'
import {
  countMissing,
  findPathPattern,
  keepPathsValue,
  keepSources,
  keptCount,
  keptNote,
  parseKeepAssets,
} from '../../src/keep-assets.js'
import { inputError, tempDir } from './helpers.js'

describe('parseKeepAssets', () => {
  it('takes patterns separated by newlines or commas, trimmed, without repeats', () => {
    expect(parseKeepAssets('assets/**\n _next/static/** ,*.js\r\n\n*.js')).toEqual([
      'assets/**',
      '_next/static/**',
      '*.js',
    ])
    expect(parseKeepAssets('')).toEqual([])
    expect(parseKeepAssets('static/, build/app-?.js, @fonts/~x+y.woff2')).toEqual([
      'static/',
      'build/app-?.js',
      '@fonts/~x+y.woff2',
    ])
  })

  it.each([
    ['/assets/**', /is absolute/],
    ['../assets/**', /\. or \.\. part/],
    ['assets/../../etc', /\. or \.\. part/],
    ['./assets', /\. or \.\. part/],
    ['assets//x', /empty part/],
    ['assets/$(id)', /not allowed/],
    ['assets/[ab].js', /not allowed/],
    ['assets/a b.js', /not allowed/],
    ['assets/\u001b[31m', /not allowed/],
    ['assets/"x', /not allowed/],
    [`a/${'x'.repeat(200)}`, /longer than 200/],
  ])('refuses %j, naming the input and the fix', (value, why) => {
    const e = inputError(() => parseKeepAssets(value))
    expect(e.input).toBe('keep-assets')
    expect(e.message).toMatch(why)
    expect(e.hint).toContain('e.g. assets/**')
  })

  it('refuses more than 100 patterns', () => {
    const e = inputError(() => parseKeepAssets(Array.from({ length: 101 }, (_, i) => `a${i}/**`).join(',')))
    expect(e.message).toMatch(/101 patterns/)
  })
})

describe('findPathPattern', () => {
  it.each([
    ['assets/**', './assets/*'],
    ['_next/static/**', './_next/static/*'],
    ['**/*.js', './*/*.js'],
    ['*.js', './*.js'],
    ['static/', './static/*'],
    ['robots.txt', './robots.txt'],
    ['a/***/b?.css', './a/*/b?.css'],
  ])('%s -> %s', (pattern, found) => {
    expect(findPathPattern(pattern)).toBe(found)
  })

  it('gives the script one pattern a line', () => {
    expect(keepPathsValue(['assets/**', '*.js'])).toBe('./assets/*\n./*.js')
    expect(keepPathsValue([])).toBe('')
  })
})

const deploy = (release: string): LogEntry => ({ release, event: 'deploy', time: 't' })

describe('keepSources', () => {
  it('the live release first, then the others newest first by the log, at most n, never the new one', () => {
    const log = ['r1', 'r2', 'r3', 'r4'].map(deploy)
    expect(keepSources(log, ['r1', 'r2', 'r3', 'r4'], 'r4', 'r5', 2)).toEqual(['r4', 'r3'])
    expect(keepSources(log, ['r1', 'r2', 'r3', 'r4'], 'r4', 'r5', 10)).toEqual(['r4', 'r3', 'r2', 'r1'])
    // After a rollback to r2: r2 is served, so its pages are the ones out there.
    expect(
      keepSources(
        [...log, { ...deploy('r2'), event: 'rollback', from: 'r4' }],
        ['r1', 'r2', 'r3', 'r4'],
        'r2',
        'r5',
        2,
      ),
    ).toEqual(['r2', 'r4'])
    // Only releases on disk.
    expect(keepSources(log, ['r1', 'r4'], 'r4', 'r5', 2)).toEqual(['r4', 'r1'])
    expect(keepSources(log, ['r1'], 'r4', 'r5', 2)).toEqual(['r1'])
    expect(keepSources([], [], '', 'r1', 2)).toEqual([])
    expect(keepSources(log, ['r1', 'r2'], 'r2', 'r1', 2)).toEqual(['r2'])
  })
})

describe('keptCount and keptNote', () => {
  it('reads only a whole number from the server', () => {
    expect(keptCount('37')).toBe(37)
    expect(keptCount(undefined)).toBe(0)
    expect(keptCount('-1')).toBe(0)
    expect(keptCount('3 4')).toBe(0)
    expect(keptCount('1e9')).toBe(0)
  })

  it('says kept or would keep, and nothing when keep-assets is off', () => {
    expect(keptNote({ keepAssets: ['assets/**'], dryRun: false }, 37)).toBe('; kept 37 old assets')
    expect(keptNote({ keepAssets: ['assets/**'], dryRun: true }, 2)).toBe('; would keep 2 old assets')
    expect(keptNote({ keepAssets: [], dryRun: false }, 0)).toBe('')
  })
})

describe('countMissing', () => {
  it('counts the candidates the build lacks; the build wins, and nothing goes under a file or symlink of it', () => {
    const src = tempDir('radunit-keepsrc-')
    mkdirSync(`${src}/assets/sub`, { recursive: true })
    writeFileSync(`${src}/assets/have.js`, '')
    writeFileSync(`${src}/file`, '')
    symlinkSync('/tmp', `${src}/link`)
    expect(
      countMissing(src, [
        './assets/have.js', // the build has it
        './assets/old.js', // kept
        './assets/sub/deeper/old.js', // kept (its dirs are made)
        './assets/sub', // a directory of the build
        './file/x.js', // under a file
        './link/x.js', // under a symlink
        './../x.js', // not a path below the release
        'assets/x.js', // not ./…
      ]),
    ).toBe(2)
  })
})
