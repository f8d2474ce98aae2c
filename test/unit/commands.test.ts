import { describe, expect, it } from 'vitest'
import { chooseRollback } from '../../src/commands.js'
import type { LogEntry } from '../../src/history.js'
import type { ServerState } from '../../src/host.js'

const dep = (release: string): LogEntry => ({ release, event: 'deploy', time: `t-${release}` })
const rb = (release: string, from: string): LogEntry => ({ release, event: 'rollback', time: 't', from })

function state(live: string, releases: string[], log: LogEntry[]): ServerState {
  return { live, releases, log, freeKb: 1000 }
}

const ABC = state('C', ['A', 'B', 'C'], [dep('A'), dep('B'), dep('C')])

describe('chooseRollback', () => {
  it.each<[string, ServerState, string, ReturnType<typeof chooseRollback>]>([
    ['the release live before the current one', ABC, '', { target: 'B' }],
    ['a named release', ABC, 'A', { target: 'A' }],
    [
      'after one rollback, the one before that',
      state('B', ['A', 'B', 'C'], [dep('A'), dep('B'), dep('C'), rb('B', 'C')]),
      '',
      { target: 'A' },
    ],
    [
      'a named release even if it was marked bad',
      state('B', ['A', 'B', 'C'], [dep('A'), dep('B'), dep('C'), rb('B', 'C')]),
      'C',
      { target: 'C' },
    ],
    [
      'skipping releases no longer on disk',
      state('C', ['A', 'C'], [dep('A'), dep('B'), dep('C')]),
      '',
      { target: 'A' },
    ],
    [
      'refuses a named release that is not on the server',
      ABC,
      'Z',
      {
        problem: 'release Z is not on the server',
        hint: 'Releases there: A, B, C. Run command: list to see them.',
      },
    ],
    [
      'refuses a named release when nothing is there',
      state('', [], []),
      'Z',
      {
        problem: 'release Z is not on the server',
        hint: 'Releases there: (none). Run command: list to see them.',
      },
    ],
    ['refuses the live release', ABC, 'C', { problem: 'release C is already live', hint: '' }],
    [
      'refuses when nothing is live',
      state('', ['A', 'B'], [dep('A'), dep('B')]),
      '',
      { problem: 'nothing is live, so there is nothing to roll back from', hint: '' },
    ],
    [
      'refuses when the log knows nothing earlier',
      state('A', ['A'], [dep('A')]),
      '',
      {
        problem: 'the deploy log knows no good release that was live before A',
        hint: 'Give rollback-to with a release id (command: list shows them).',
      },
    ],
    [
      'refuses when every earlier release is bad',
      state('A', ['A', 'B', 'C'], [dep('A'), dep('B'), dep('C'), rb('B', 'C'), rb('A', 'B')]),
      '',
      {
        problem: 'the deploy log knows no good release that was live before A',
        hint: 'Give rollback-to with a release id (command: list shows them).',
      },
    ],
    [
      'refuses when the log is empty (releases not ordered by name)',
      state('C', ['A', 'B', 'C'], []),
      '',
      {
        problem: 'the deploy log knows no good release that was live before C',
        hint: 'Give rollback-to with a release id (command: list shows them).',
      },
    ],
  ])('%s', (_name, s, rollbackTo, expected) => {
    expect(chooseRollback(s, rollbackTo)).toEqual(expected)
  })
})
