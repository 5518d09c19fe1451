// The deploy lock's command (server/lock.ts): run here by sh, with the step sent with it.

import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lockCommand, parseFirst, parseLockOutput } from '../src/server/lock.js'
import { sh } from '../src/shell.js'
import { settingsFor } from './settings-fixture.js'

const root = process.getuid?.() === 0

describe('the lock command with a first step', () => {
  // The command makes the deploy path root's: run only as root (CI is).
  ;(root ? test : test.skip)(
    'runs the step once locked; its exit, stdout and stderr come back framed',
    () => {
      const s = settingsFor({ deployPath: join(mkdtempSync(join(tmpdir(), 'dda-lock-')), 'app') })
      const first = sh`echo out; printf 'ü\n' >&2; exit 3`
      const run = spawnSync('sh', ['-c', lockCommand(s, 'run 1', 5, first).text], { input: '' })
      expect(parseLockOutput(run.stdout.toString())).toEqual({ state: 'locked', staleHolder: '' })
      expect(parseFirst(run.stdout)).toEqual({ code: 3, stdout: 'out\n', stderr: 'ü\n' })
    }
  )

  test('an answer not yet whole is none', () => {
    const whole = Buffer.from('STALE \nLOCKED\nTHEN 0 4 2\nabc\nü')
    expect(parseFirst(whole)).toEqual({ code: 0, stdout: 'abc\n', stderr: 'ü' })
    for (let end = 0; end < whole.length; end++)
      expect(parseFirst(whole.subarray(0, end))).toBeUndefined()
  })

  test('a frame before LOCKED is not the answer (a holder text cannot fake one)', () => {
    expect(parseFirst(Buffer.from('WAITING THEN 0 0 0\n'))).toBeUndefined()
  })
})
