// The deploy lock's command (server/lock.ts): run here by sh, with the step sent with it.

import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import picomatch from 'picomatch'
import { lockCommand, parseFirst, parseLockOutput } from '../src/server/lock.js'
import { asApp } from '../src/server/sandbox.js'
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

  // A lock another user may open, the app user could hold (flock needs only a read descriptor),
  // and stop every step and every deploy.
  ;(root ? test : test.skip)(
    "both locks are root's alone, also where an older run left them 0644",
    () => {
      const deployPath = join(mkdtempSync(join(tmpdir(), 'dda-lock-')), 'app')
      const s = settingsFor({ deployPath })
      const locks = [`${deployPath}/.deploy.lock`, `${deployPath}/.deploy.steps`]
      const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)
      spawnSync('sh', ['-c', lockCommand(s, 'run 1', 5).text], { input: '' })
      expect(locks.map(mode)).toEqual(['600', '600'])
      for (const path of locks) chmodSync(path, 0o644)
      spawnSync('sh', ['-c', lockCommand(s, 'run 2', 5).text], { input: '' })
      expect(locks.map(mode)).toEqual(['600', '600'])
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

describe("the lock holder stops its project's sandboxed steps, and no other project's", () => {
  /** The pattern the lock holder stops, as its command has it. */
  const stopped = (projectName: string) => {
    const s = settingsFor({ projectName, deployPath: `/srv/${projectName}` })
    const pattern = /systemctl stop (\S+) 2>\/dev\/null/.exec(lockCommand(s, 'run', 5).text)?.[1]
    expect(pattern).toBeDefined()
    // One shell word: quoted, or with its * escaped.
    return pattern!.replace(/^'|'$/g, '').replace(/\\(.)/g, '$1')
  }
  /** A transient unit of a project's step, named as asApp names it (`"$$"` is the shell's pid). */
  const unitOf = (projectName: string, step: string) => {
    const s = settingsFor({ projectName, deployPath: `/srv/${projectName}` })
    const text = asApp(s, { name: step, cwd: '/', writable: [] }, sh`true`).text
    const prefix = /--unit=(\S+)-"\$\$"/.exec(text)?.[1]
    expect(prefix).toBeDefined()
    return `${prefix!.replace(/^'|'$/g, '')}-4242.service`
  }

  // Project names are Python identifiers: letters, digits and _, never -.
  test.each([
    ['shop', 'shop_api'],
    ['shop', 'shop_'],
    ['shop', 'Shop'],
    ['a', 'a_b_c'],
    ['shop_api', 'shop_api_v2'],
    ['x', 'x1'],
    ['_', '__']
  ])('%s and %s', (one, other) => {
    for (const [mine, theirs] of [
      [one, other],
      [other, one]
    ]) {
      for (const step of ['venv', 'discover', 'django', 'share', 'asgi-import'])
        expect({ pattern: stopped(mine), unit: unitOf(theirs, step), stops: false }).toEqual({
          pattern: stopped(mine),
          unit: unitOf(theirs, step),
          stops: picomatch.isMatch(unitOf(theirs, step), stopped(mine))
        })
      expect(picomatch.isMatch(unitOf(mine, 'venv'), stopped(mine))).toBe(true)
    }
  })
})
