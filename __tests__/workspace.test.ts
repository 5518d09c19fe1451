// The requirements files read on the runner for the venv's key: only regular files inside the
// source folder, checked on real files, links and a FIFO (the repository may be hostile).

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { requirementsFiles } from '../src/workspace.js'

// Made when the file loads: the table of test.each below names a file in it.
const dir = mkdtempSync(join(tmpdir(), 'workspace-'))
writeFileSync(join(dir, 'outside.txt'), 'requests\n')
let count = 0

/** A new source folder holding the given files (a text, or a function that makes the entry). */
function sourceWith(entries: Record<string, string | ((path: string) => void)>): string {
  const source = join(dir, `source-${++count}`)
  mkdirSync(source)
  for (const [path, entry] of Object.entries(entries)) {
    const file = join(source, path)
    mkdirSync(dirname(file), { recursive: true })
    if (typeof entry === 'string') writeFileSync(file, entry)
    else entry(file)
  }
  return source
}

const link = (target: string) => (path: string) => symlinkSync(target, path)
const fifo = (path: string) => execFileSync('mkfifo', [path])

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('read for the key', () => {
  test('the file and what it includes (-r, -c, --requirement=), once each', () => {
    const source = sourceWith({
      'requirements.txt': '-r requirements/base.txt\n-c constraints.txt\nDjango\n',
      'requirements/base.txt': '--requirement=common.txt\ngunicorn\n',
      'requirements/common.txt': '-r base.txt\nrequests\n',
      'constraints.txt': 'Django<6\n'
    })
    expect(requirementsFiles(source, 'requirements.txt')).toEqual([
      { path: 'requirements.txt', text: '-r requirements/base.txt\n-c constraints.txt\nDjango\n' },
      { path: 'requirements/base.txt', text: '--requirement=common.txt\ngunicorn\n' },
      { path: 'requirements/common.txt', text: '-r base.txt\nrequests\n' },
      { path: 'constraints.txt', text: 'Django<6\n' }
    ])
  })

  test('no requirements file: an empty list (a venv with nothing to install has a key too)', () => {
    expect(requirementsFiles(sourceWith({ 'manage.py': '' }), 'requirements.txt')).toEqual([])
  })

  test('an include that is missing is left out (pip says so on the server)', () => {
    const source = sourceWith({ 'requirements.txt': '-r missing.txt\nDjango\n' })
    expect(requirementsFiles(source, 'requirements.txt')).toEqual([
      { path: 'requirements.txt', text: '-r missing.txt\nDjango\n' }
    ])
  })

  test('a link to a file inside the source folder is read, under its own name', () => {
    const source = sourceWith({
      'requirements/prod.txt': 'Django\n',
      'requirements.txt': link('requirements/prod.txt')
    })
    expect(requirementsFiles(source, 'requirements.txt')).toEqual([
      { path: 'requirements.txt', text: 'Django\n' }
    ])
  })

  test('a source folder reached through a link', () => {
    const source = sourceWith({ 'requirements.txt': 'Django\n' })
    const alias = join(dir, `alias-${count}`)
    symlinkSync(source, alias)
    expect(requirementsFiles(alias, 'requirements.txt')).toEqual([
      { path: 'requirements.txt', text: 'Django\n' }
    ])
  })
})

describe('not read: null, so the venv is not kept by a key', () => {
  test.each<[string, Record<string, string | ((path: string) => void)>]>([
    ['a link to a file outside', { 'requirements.txt': link(join(dir, 'outside.txt')) }],
    ['a relative link that leaves', { 'requirements.txt': link('../outside.txt') }],
    ['a link to /etc/passwd', { 'requirements.txt': link('/etc/passwd') }],
    ['a link to a device', { 'requirements.txt': link('/dev/zero') }],
    ['a dangling link', { 'requirements.txt': link('nowhere.txt') }],
    ['a folder', { 'requirements.txt/x': 'Django\n' }],
    ['a FIFO', { 'requirements.txt': fifo }],
    ['an included FIFO', { 'requirements.txt': '-r pipe.txt\n', 'pipe.txt': fifo }],
    ['an include that leaves', { 'requirements.txt': 'Django\n-r ../outside.txt\n' }],
    ['an include that leaves (missing)', { 'requirements.txt': '-r ../../nothing.txt\n' }],
    ['an absolute include', { 'requirements.txt': '-c /etc/passwd\n' }],
    ['a URL include', { 'requirements.txt': '-r https://example.com/r.txt\n' }],
    ['an included link outside', { 'requirements.txt': '-r x.txt\n', 'x.txt': link('/etc/hosts') }],
    ['a file over 1 MiB', { 'requirements.txt': `# ${'x'.repeat(1024 * 1024)}\n` }]
  ])(
    '%s',
    (_name, entries) => {
      // A FIFO would block a plain read for ever: the timeout says the test did not wait on it.
      expect(requirementsFiles(sourceWith(entries), 'requirements.txt')).toBeNull()
    },
    5000
  )

  test('a source folder that does not exist', () => {
    expect(requirementsFiles(join(dir, 'nothing'), 'requirements.txt')).toBeNull()
  })
})
