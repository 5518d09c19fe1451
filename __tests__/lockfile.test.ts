// The lock readers: a Django project locked by uv, Poetry 2 and uv's pylock.toml export
// (test/fixtures/locks), read for a Debian 12 cp311 x86_64 server and a Debian 13 cp313 aarch64
// one: what would be installed, by which file and hash, and what stops a deploy.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { poetryPythonVersions } from '../src/lockfile/poetry.js'
import { findLock, hashedRequirements, resolveLock } from '../src/lockfile/resolve.js'
import type { LockedDependencies, ServerPython } from '../src/lockfile/types.js'

const fixtures = join(process.cwd(), 'test/fixtures/locks')
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8')
const servers = JSON.parse(fixture('servers.json')) as Record<string, ServerPython>
const x86 = servers['debian12-cp311-x86_64']
const arm = servers['debian13-cp313-aarch64']
const windows: ServerPython = {
  markers: {
    ...x86.markers,
    sys_platform: 'win32',
    os_name: 'nt',
    platform_system: 'Windows',
    platform_machine: 'AMD64'
  },
  tags: ['cp311-cp311-win_amd64', 'cp311-abi3-win_amd64', 'py3-none-win_amd64', 'py3-none-any']
}

const LOCKS = ['uv.lock', 'poetry.lock', 'pylock.toml'] as const
const MAIN = ['asgiref', 'django', 'sqlparse']
const DEV = ['iniconfig', 'packaging', 'pluggy', 'pygments', 'pytest']

function read(path: string, server: ServerPython, groups: string[] = [], text = fixture(path)) {
  return resolveLock({ path, text, groups }, server)
}

function deps(
  path: string,
  server: ServerPython,
  groups: string[] = [],
  text?: string
): LockedDependencies {
  const resolved = read(path, server, groups, text)
  if (!resolved.ok) throw new Error(resolved.problem)
  return resolved.deps
}

function problem(path: string, server: ServerPython, groups: string[] = [], text?: string): string {
  const resolved = read(path, server, groups, text)
  if (resolved.ok) throw new Error(`${path} was read: ${JSON.stringify(resolved.deps.packages)}`)
  return resolved.problem
}

const names = (d: LockedDependencies) => d.packages.map((pkg) => pkg.name)

describe.each(LOCKS)('%s', (path) => {
  it.each([
    ['cp311 x86_64', x86],
    ['cp313 aarch64', arm]
  ])('on %s: the main dependencies only, tzdata (win32) left out, no dev group', (_, server) => {
    const d = deps(path, server)
    expect(names(d)).toEqual(MAIN)
    expect(d).toMatchObject({ source: path, path, reproducible: true })
    const django = d.packages.find((pkg) => pkg.name === 'django')
    expect(django?.version).toBe('5.2.6')
    // the wheel first (the server takes py3-none-any), then the sdist; each with its sha256
    expect(django?.files.map((file) => [file.name, file.sha256])).toEqual([
      [
        'django-5.2.6-py3-none-any.whl',
        '60549579b1174a304b77e24a93d8d9fafe6b6c03ac16311f3e25918ea5a20058'
      ],
      ['django-5.2.6.tar.gz', 'da5e00372763193d73cecbf71084a3848458cecf4cee36b9a1e8d318d114a87b']
    ])
  })

  it('the dev group when asked, without colorama (win32)', () => {
    expect(names(deps(path, x86, ['dev']))).toEqual([...MAIN, ...DEV].sort())
    expect(names(deps(path, arm, ['dev']))).toEqual([...MAIN, ...DEV].sort())
  })

  it('on a Windows Python, tzdata and colorama are in: the markers are evaluated, not dropped', () => {
    expect(names(deps(path, windows))).toEqual([...MAIN, 'tzdata'])
    expect(names(deps(path, windows, ['dev']))).toContain('colorama')
  })

  it('a group the lock does not have is refused, naming it', () => {
    expect(problem(path, x86, ['tests'])).toMatch(
      new RegExp(
        `^dependency-groups: ${path.replace('.', '\\.')} has no group or extra tests \\(it has: .*dev`
      )
    )
  })

  it('a package with only a Windows wheel is refused, naming it and the server', () => {
    const text = onlyWindowsSqlparse(path, fixture(path))
    expect(problem(path, x86, [], text)).toBe(
      "the lock has no file of sqlparse 0.5.3 for this server's Python (3.11, x86_64)"
    )
    expect(problem(path, arm, [], text)).toBe(
      "the lock has no file of sqlparse 0.5.3 for this server's Python (3.13, aarch64)"
    )
    expect(names(deps(path, windows, [], text))).toContain('sqlparse')
  })

  it('a marker that cannot be read is a problem naming the package and the marker', () => {
    const text = fixture(path).replace(TZDATA_MARKER[path], (marker) => marker.replace('==', '='))
    expect(text).not.toBe(fixture(path))
    expect(problem(path, x86, [], text)).toMatch(
      /tzdata.*cannot evaluate the marker "sys_platform = \\?["']win32\\?["']"/
    )
  })
})

/** Where each lock says that tzdata is for Windows only. */
const TZDATA_MARKER: Record<(typeof LOCKS)[number], RegExp> = {
  'uv.lock': /\{ name = "tzdata", marker = "sys_platform == 'win32'" \}/,
  'poetry.lock': /groups = \["main"\]\nmarkers = "sys_platform == \\"win32\\""/,
  'pylock.toml': /marker = "sys_platform == 'win32'"\n/
}

/** The fixture with sqlparse's wheel made a Windows one and its sdist removed. */
function onlyWindowsSqlparse(path: string, text: string): string {
  const windowsWheel = text.replace(
    /sqlparse-0\.5\.3-py3-none-any\.whl/g,
    'sqlparse-0.5.3-cp311-cp311-win_amd64.whl'
  )
  if (path === 'poetry.lock')
    return windowsWheel.replace(/\n {4}\{file = "sqlparse-0\.5\.3\.tar\.gz"[^\n]*/, '')
  return windowsWheel.replace(/\n(sdist = \{ url = "[^"]*sqlparse-0\.5\.3\.tar\.gz"[^\n]*)/, '')
}

describe('hashedRequirements', () => {
  it('one name==version line per package with every hash of its files, sorted, as pip reads them', () => {
    expect(hashedRequirements(deps('uv.lock', x86))).toBe(
      'asgiref==3.9.2' +
        ' --hash=sha256:0b61526596219d70396548fc003635056856dba5d0d086f86476f10b33c75960' +
        ' --hash=sha256:a0249afacb66688ef258ffe503528360443e2b9a8d8c4581b6ebefa58c841ef1\n' +
        'django==5.2.6' +
        ' --hash=sha256:60549579b1174a304b77e24a93d8d9fafe6b6c03ac16311f3e25918ea5a20058' +
        ' --hash=sha256:da5e00372763193d73cecbf71084a3848458cecf4cee36b9a1e8d318d114a87b\n' +
        'sqlparse==0.5.3' +
        ' --hash=sha256:cf2196ed3418f3ba5de6af7e82c694a9fbdbfecccdfc72e281548517081f16ca' +
        ' --hash=sha256:09f67787f56a0b16ecdbde1bfc7f5d9c3371ca683cfeaa8e6ff60b4807ec9272\n'
    )
  })

  it('the same packages give the same text from any of the three locks (the venv is shared)', () => {
    const texts = LOCKS.map((path) => hashedRequirements(deps(path, arm, ['dev'])))
    expect(new Set(texts).size).toBe(1)
    expect(texts[0].split('\n').filter(Boolean)).toHaveLength(MAIN.length + DEV.length)
  })

  it('leaves out the hashes of files the server cannot install', () => {
    const text = hashedRequirements(deps('uv.lock', windows))
    expect(text).toContain(
      'tzdata==2025.2 --hash=sha256:1a403fada01ff9221ca8044d701868fa132215d84beb92242d9acd2147f667a8 '
    )
    const onlyWindows = onlyWindowsSqlparse('uv.lock', fixture('uv.lock'))
    expect(hashedRequirements(deps('uv.lock', windows, [], onlyWindows))).toMatch(
      /^sqlparse==0\.5\.3 --hash=sha256:cf21\w+$/m
    )
  })
})

describe('uv.lock', () => {
  const uvLock = fixture('uv.lock')

  it('walks from a virtual project too, and says which index the packages come from', () => {
    const text = uvLock.replace('source = { editable = "." }', 'source = { virtual = "." }')
    const d = deps('uv.lock', x86, [], text)
    expect(names(d)).toEqual(MAIN)
    expect(d.indexUrl).toBe('https://pypi.org/simple')
    expect(d.packages[0].files[0].url).toMatch(
      /^https:\/\/files\.pythonhosted\.org\/.*asgiref-3\.9\.2-py3-none-any\.whl$/
    )
  })

  it('a lock resolved for newer Pythons is refused', () => {
    const text = uvLock.replace('requires-python = ">=3.11"', 'requires-python = ">=3.12"')
    expect(problem('uv.lock', x86, [], text)).toBe(
      'uv.lock requires Python >=3.12; the server has 3.11.2'
    )
    expect(names(deps('uv.lock', arm, [], text))).toEqual(MAIN)
  })

  it('a lock without the project itself is refused', () => {
    expect(
      problem(
        'uv.lock',
        x86,
        [],
        uvLock.replace(
          'source = { editable = "." }',
          'source = { registry = "https://pypi.org/simple" }'
        )
      )
    ).toMatch(/has no package for the project itself/)
  })

  it('a git dependency is refused, naming it', () => {
    const text = uvLock.replace(
      /name = "sqlparse"\nversion = "0.5.3"\nsource = \{ registry = "https:\/\/pypi.org\/simple" \}/,
      'name = "sqlparse"\nversion = "0.5.3"\nsource = { git = "https://github.com/andialbrecht/sqlparse?rev=0.5.3#e7a3b7f" }'
    )
    expect(problem('uv.lock', x86, [], text)).toMatch(
      /^uv\.lock: sqlparse comes from git https:\/\/github\.com\/andialbrecht\/sqlparse/
    )
  })

  it("follows an edge's extras to the optional dependencies they name", () => {
    const text = uvLock
      .replace(
        '    { name = "django" },\n]\n\n[package.dev',
        '    { name = "django", extra = ["argon2"] },\n]\n\n[package.dev'
      )
      .replace(
        '[[package]]\nname = "iniconfig"',
        '[package.optional-dependencies]\nargon2 = [\n    { name = "pygments" },\n]\n\n[[package]]\nname = "iniconfig"'
      )
    expect(names(deps('uv.lock', x86, [], text))).toEqual([...MAIN, 'pygments'].sort())
  })
})

describe('poetry.lock', () => {
  it("reads the project's Python constraint in Poetry's syntax", () => {
    expect(poetryPythonVersions('^3.11')).toEqual(['>=3.11.0,<4'])
    expect(poetryPythonVersions('~3.11')).toEqual(['>=3.11.0,<3.12'])
    expect(poetryPythonVersions('>=3.11 <3.13')).toEqual(['>=3.11,<3.13'])
    expect(poetryPythonVersions('>=3.10,<4.0 || ^2.7')).toEqual(['>=3.10,<4.0', '>=2.7.0,<3'])
    expect(poetryPythonVersions('*')).toBeUndefined()
    const text = (constraint: string) =>
      fixture('poetry.lock').replace(
        'python-versions = ">=3.11"\ncontent-hash',
        `python-versions = "${constraint}"\ncontent-hash`
      )
    expect(problem('poetry.lock', x86, [], text('^3.12'))).toBe(
      'poetry.lock requires Python ^3.12; the server has 3.11.2'
    )
    expect(names(deps('poetry.lock', arm, [], text('^3.12')))).toEqual(MAIN)
    expect(names(deps('poetry.lock', x86, [], text('~3.10 || ~3.11')))).toEqual(MAIN)
  })

  it('a lock of Poetry 1 (no groups in it) is refused with what to do', () => {
    const text = fixture('poetry.lock').replace('lock-version = "2.1"', 'lock-version = "2.0"')
    expect(problem('poetry.lock', x86, [], text)).toMatch(/lock-version 2\.0.*poetry lock/)
  })

  it('markers per group: a package in main on Windows only and in dev everywhere', () => {
    const text = fixture('poetry.lock').replace(
      'groups = ["dev"]\nmarkers = "sys_platform == \\"win32\\""',
      'groups = ["main", "dev"]\nmarkers = {main = "sys_platform == \\"win32\\"", dev = "python_version >= \\"3.11\\""}'
    )
    expect(names(deps('poetry.lock', x86))).not.toContain('colorama')
    expect(names(deps('poetry.lock', x86, ['dev'], text))).toContain('colorama')
    expect(names(deps('poetry.lock', x86, [], text))).not.toContain('colorama')
  })

  it('names the index only when every package comes from it', () => {
    expect(deps('poetry.lock', x86).indexUrl).toBeUndefined()
    const source =
      '[package.source]\ntype = "legacy"\nurl = "https://pypi.example.com/simple"\nreference = "private"\n\n'
    const oneFromPrivate = fixture('poetry.lock').replace(
      '[package.extras]\ntests = [',
      `${source}[package.extras]\ntests = [`
    )
    const d = deps('poetry.lock', x86, [], oneFromPrivate)
    expect(d.packages.find((pkg) => pkg.name === 'asgiref')?.index).toBe(
      'https://pypi.example.com/simple'
    )
    expect(d.indexUrl).toBeUndefined()
  })

  it('a directory dependency is refused, naming it', () => {
    const text = fixture('poetry.lock').replace(
      '[package.extras]\ntests = [',
      '[package.source]\ntype = "directory"\nurl = "../asgiref"\nreference = ""\nresolved_reference = ""\n\n[package.extras]\ntests = ['
    )
    expect(problem('poetry.lock', x86, [], text)).toMatch(
      /^poetry\.lock: asgiref comes from directory \.\.\/asgiref/
    )
  })
})

describe('pylock.toml', () => {
  it('skips the project itself, refuses another directory', () => {
    expect(names(deps('pylock.toml', x86))).not.toContain('mysite')
    const text = fixture('pylock.toml').replace('path = "."', 'path = "../shared"')
    expect(problem('pylock.toml', x86, [], text)).toMatch(
      /^pylock\.toml: mysite comes from directory \.\.\/shared/
    )
  })

  it('a named lock file (pylock.<name>.toml) is read too', () => {
    expect(names(deps('pylock.prod.toml', x86, [], fixture('pylock.toml')))).toEqual(MAIN)
  })

  it('a lock for another Python or other environments is refused', () => {
    const newer = fixture('pylock.toml').replace(
      'requires-python = ">=3.11"',
      'requires-python = ">=3.12"'
    )
    expect(problem('pylock.toml', x86, [], newer)).toBe(
      'pylock.toml requires Python >=3.12; the server has 3.11.2'
    )
    expect(names(deps('pylock.toml', arm, [], newer))).toEqual(MAIN)
    const macOnly = fixture('pylock.toml').replace(
      'created-by = "uv"',
      'created-by = "uv"\nenvironments = ["sys_platform == \'darwin\'"]'
    )
    expect(problem('pylock.toml', x86, [], macOnly)).toMatch(
      /locked for the environments sys_platform == 'darwin'; this server is none of them/
    )
  })
})

describe('pyproject.toml without a lock', () => {
  it('its requirements as written, not reproducible; groups included when asked', () => {
    const d = deps('pyproject.toml', x86)
    expect(d).toMatchObject({ source: 'pyproject.toml', reproducible: false, packages: [] })
    expect(hashedRequirements(d)).toBe('django>=5.2,<6\n')
    expect(hashedRequirements(deps('pyproject.toml', x86, ['dev']))).toBe(
      'django>=5.2,<6\npytest>=8.4\n'
    )
    expect(problem('pyproject.toml', x86, ['docs'])).toMatch(
      /has no group or extra docs \(it has: dev\)/
    )
  })

  it('extras and include-group; a path requirement refused, naming it', () => {
    const text = fixture('pyproject.toml').replace(
      '[dependency-groups]',
      '[project.optional-dependencies]\npostgres = ["psycopg[binary]>=3.2"]\n\n[dependency-groups]\nci = [{ include-group = "dev" }, "coverage"]'
    )
    expect(hashedRequirements(deps('pyproject.toml', x86, ['postgres', 'ci'], text))).toBe(
      'django>=5.2,<6\npsycopg[binary]>=3.2\npytest>=8.4\ncoverage\n'
    )
    const local = fixture('pyproject.toml').replace(
      '"django>=5.2,<6",',
      '"django>=5.2,<6",\n    "shared @ file:///srv/shared",'
    )
    expect(problem('pyproject.toml', x86, [], local)).toMatch(
      /^pyproject\.toml: shared comes from file:\/\/\/srv\/shared/
    )
  })
})

describe('resolveLock and findLock', () => {
  it('a file that is not a lock, and a lock that is not TOML, are problems', () => {
    expect(problem('requirements.txt', x86, [], 'django\n')).toMatch(
      /requirements\.txt is not a lock this action reads/
    )
    expect(problem('uv.lock', x86, [], 'version = 1\n[[package]\n')).toMatch(
      /^uv\.lock is not valid TOML/
    )
  })

  it('finds the first lock present, in the order uv.lock, poetry.lock, pylock.toml, requirements.txt', () => {
    const present =
      (...files: string[]) =>
      (name: string) =>
        files.includes(name)
    expect(findLock(present('requirements.txt', 'pylock.toml', 'poetry.lock', 'uv.lock'))).toBe(
      'uv.lock'
    )
    expect(findLock(present('requirements.txt', 'pylock.toml', 'poetry.lock'))).toBe('poetry.lock')
    expect(findLock(present('requirements.txt', 'pylock.toml'))).toBe('pylock.toml')
    expect(findLock(present('requirements.txt'))).toBe('requirements.txt')
    expect(findLock(present('pyproject.toml'))).toBeUndefined()
  })
})
