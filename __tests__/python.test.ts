// The Python programs the action sends to servers (src/server/python/): each the text of its
// files, none left out, linted by pyflakes and type-checked by mypy (Debian's, scripts/dev.sh)
// as the program that runs, and its constants the ones the TypeScript side reads.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MARK as ASGI_MARK } from '../src/server/asgi.js'
import { NOT_READY } from '../src/server/boundary.js'
import { MARK as SETTINGS_MARK, SETTINGS_CHANGED } from '../src/server/discover.js'
import { PLAN_MARK } from '../src/server/migrations.js'
import { PROBLEMS, PROBLEMS_MARK } from '../src/server/preflight.js'
import { ROOT } from '../test/e2e/action.js'
import { fromFiles, PROGRAMS, PYTHON_FOLDER } from '../test/golden/programs.js'

/** Runs a tool on every program, written to a file of its own; returns what it said. */
function said(tool: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'python-'))
  try {
    const files = PROGRAMS.map((p) => {
      writeFileSync(join(dir, `${p.name}_program.py`), p.text)
      return `${p.name}_program.py`
    })
    try {
      execFileSync(tool, [...args, ...files], { cwd: dir, encoding: 'utf8', stdio: 'pipe' })
      return ''
    } catch (error) {
      const e = error as { code?: string; stdout?: string; stderr?: string }
      if (e.code === 'ENOENT') return `${tool} is not installed: run scripts/dev.sh`
      return `${e.stdout ?? ''}${e.stderr ?? ''}`
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('each program is the text of its files, in order, and every file is in a program', () => {
  for (const program of PROGRAMS)
    expect([program.name, program.text]).toEqual([program.name, fromFiles(program)])
  const used = new Set(PROGRAMS.flatMap((p) => p.files))
  const files = readdirSync(PYTHON_FOLDER).filter((f) => f.endsWith('.py'))
  expect(files.filter((f) => !used.has(f))).toEqual([])
})

test("the programs' constants are the ones the runner reads their output with", () => {
  const constant = (file: string, name: string) => {
    const line = new RegExp(`^${name} = (.+)$`, 'm').exec(
      readFileSync(join(PYTHON_FOLDER, file), 'utf8')
    )
    return line ? (JSON.parse(line[1].replace(/^'(.*)'$/, '"$1"')) as unknown) : undefined
  }
  expect(constant('boundary.py', 'NOT_READY')).toBe(NOT_READY)
  expect(constant('django_process.py', 'SETTINGS_CHANGED')).toBe(SETTINGS_CHANGED)
  expect(constant('settings.py', 'SETTINGS_MARK')).toBe(SETTINGS_MARK)
  expect(constant('migration_plan.py', 'PLAN_MARK')).toBe(PLAN_MARK)
  expect(constant('asgi_import.py', 'MARK')).toBe(ASGI_MARK)
  expect(constant('preflight.py', 'PROBLEMS_MARK')).toBe(PROBLEMS_MARK)
  expect(constant('preflight.py', 'PROBLEMS')).toBe(PROBLEMS)
})

test('pyflakes finds nothing in any program', () => {
  expect(said('pyflakes3', [])).toBe('')
}, 60000)

test('mypy finds nothing in any program (Python 3.11: Debian 12, the oldest server)', () => {
  const cache = mkdtempSync(join(tmpdir(), 'mypy-cache-'))
  try {
    const args = ['--python-version', '3.11', '--ignore-missing-imports', '--no-error-summary']
    expect(said('mypy', [...args, '--cache-dir', cache])).toBe('')
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
}, 120000)

test('the bundle carries every program file beside index.js, where the bundled code reads it', () => {
  const dist = join(ROOT, 'dist')
  const carried = new Set(
    readdirSync(dist)
      .filter((f) => f.endsWith('.py'))
      .map((f) => readFileSync(join(dist, f), 'utf8'))
  )
  const files = readdirSync(PYTHON_FOLDER).filter((f) => f.endsWith('.py'))
  expect(files.filter((f) => !carried.has(readFileSync(join(PYTHON_FOLDER, f), 'utf8')))).toEqual(
    []
  )
})
