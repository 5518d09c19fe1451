// The deploy lock's command (server/lock.ts): run here by sh, with the step sent with it.

import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync
} from 'node:fs'
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

  // A remove takes .deploy/ away: its lock then takes the lock files and an empty deploy path,
  // sends the audit line to the journal, and a run that waited on the removed lock stops.
  ;(root ? test : test.skip)(
    'a remove: the lock files and an empty deploy path go once .deploy/ is gone; a waiter on the removed lock stops',
    () => {
      const deployPath = join(mkdtempSync(join(tmpdir(), 'dda-lock-')), 'app')
      const s = settingsFor({ deployPath, operation: { kind: 'remove', force: false } })
      const entry = { run: '1', repository: 'o/r', actor: 'a', mode: 'remove', argument: 'remove' }
      const audit = `${deployPath}/.deploy/audit.log`
      // .deploy/ still there (a dry run): kept, the line appended, the lock files stay.
      mkdirSync(`${deployPath}/.deploy`, { recursive: true })
      spawnSync('sh', ['-c', lockCommand(s, 'run 1', 5, undefined, entry).text], {
        input: 'time="t" mode="remove (dry run)"\n'
      })
      expect(readFileSync(audit, 'utf8')).toBe('time="t" mode="remove (dry run)"\n')
      expect(readdirSync(deployPath).sort()).toEqual(['.deploy', '.deploy.lock', '.deploy.steps'])
      // .deploy/ gone, the data kept: the lock files go, the deploy path stays.
      rmSync(`${deployPath}/.deploy`, { recursive: true })
      mkdirSync(`${deployPath}/shared`)
      spawnSync('sh', ['-c', lockCommand(s, 'run 2', 5, undefined, entry).text], { input: '' })
      expect(readdirSync(deployPath)).toEqual(['shared'])
      // Nothing left: the deploy path goes too.
      rmSync(`${deployPath}/shared`, { recursive: true })
      spawnSync('sh', ['-c', lockCommand(s, 'run 3', 5, undefined, entry).text], { input: '' })
      expect(existsSync(deployPath)).toBe(false)
      // A run waiting for the lock while a remove takes the lock file away does not go on.
      const deploy = settingsFor({ deployPath })
      mkdirSync(deployPath)
      spawnSync('sh', ['-c', lockCommand(deploy, 'run 4', 5).text], { input: '' })
      const holder = spawnSync(
        'sh',
        [
          '-c',
          `exec 9<>${deployPath}/.deploy.lock; flock 9; (sh -c "$1" > ${deployPath}.out 2>&1 &); sleep 1; rm ${deployPath}/.deploy.lock; : > ${deployPath}/.deploy.lock; sleep 0.2`,
          'sh',
          lockCommand(deploy, 'run 5', 5).text
        ],
        { input: '' }
      )
      expect(holder.status).toBe(0)
      spawnSync('sleep', ['1'])
      expect(readFileSync(`${deployPath}.out`, 'utf8')).toContain(
        'the deploy lock was removed while this run waited for it'
      )
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
