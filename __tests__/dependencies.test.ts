// Dependencies from a lock (docs/dependencies.md): the inputs, the host check's report of the
// server's Python, the lock resolved per host, and the venv step that installs it by hash.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Input } from '../src/constants.js'
import { keyedFiles, lockPlan, venvChanges } from '../src/flow/dependencies.js'
import { readSettings } from '../src/inputs/settings.js'
import { fetchLockedFiles } from '../src/remote/archive.js'
import {
  inspectStep,
  parseFacts,
  parseLivePackages,
  SERVER_PYTHON_PY
} from '../src/server/inspect.js'
import { earlyVenv, PIP_WHEEL_PY, venvKey, venvStep } from '../src/server/release.js'
import { secretValues, type Settings } from '../src/settings.js'
import { summaryMarkdown, type HostReport } from '../src/report/report.js'
import type { ServerPython } from '../src/lockfile/types.js'
import { hostFacts, inputError, settingsFor } from './settings-fixture.js'

let dir: string
let workspace: string
let key: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dependencies-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  key = readFileSync(join(dir, 'key'), 'utf8')
  workspace = join(dir, 'workspace')
  execFileSync('mkdir', ['-p', workspace])
  writeFileSync(join(workspace, 'manage.py'), '')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function read(overrides: Record<string, string> = {}, files: string[] = []): Settings {
  for (const f of files) writeFileSync(join(workspace, f), '')
  try {
    const values: Record<string, string> = {
      host: 'app1.example.com',
      username: 'deploy',
      key,
      'insecure-skip-host-key-check': 'true',
      'project-name': 'mysite',
      ...overrides
    }
    return readSettings({ getInput: (name) => values[name] ?? '', workspace })
  } finally {
    for (const f of files) rmSync(join(workspace, f))
  }
}

describe('the inputs', () => {
  test('requirements not set: the first lock in the source, else requirements.txt as before', () => {
    expect(read({}, []).requirements).toBe('requirements.txt')
    expect(read({}, []).dependencies.lock).toBeUndefined()
    expect(read({}, ['requirements.txt', 'pylock.toml']).dependencies.lock).toBe('pylock.toml')
    expect(read({}, ['pylock.toml', 'poetry.lock', 'uv.lock']).requirements).toBe('uv.lock')
    expect(read({}, ['requirements.txt']).dependencies.lock).toBeUndefined()
  })

  test('requirements naming a lock or pyproject.toml reads it; a requirements file stays pip’s', () => {
    expect(read({ requirements: 'backend/poetry.lock' }).dependencies.lock).toBe(
      'backend/poetry.lock'
    )
    expect(read({ requirements: 'pyproject.toml' }).dependencies.lock).toBe('pyproject.toml')
    expect(read({ requirements: 'requirements/prod.txt' }).dependencies.lock).toBeUndefined()
  })

  test('dependency-groups: a list; wheels: server, or runner with a lock', () => {
    const s = read({ 'dependency-groups': 'prod, docs  prod' })
    expect(s.dependencies).toEqual({
      lock: undefined,
      groups: ['prod', 'docs'],
      indexUrl: '',
      extraIndexUrl: '',
      wheels: 'server'
    })
    expect(inputError(() => read({ wheels: 'runner' }))?.message).toMatch(/runner needs a lock/)
    expect(read({ wheels: 'runner' }, ['uv.lock']).dependencies.wheels).toBe('runner')
    expect(inputError(() => read({ wheels: 'both' }))?.message).toBe(
      "Input 'wheels': must be server or runner"
    )
  })

  test('an index URL with credentials: masked whole and its token alone, quoted in no refusal', () => {
    const url = 'https://reader:s3cr%2Ft@pypi.example.com/simple/'
    const s = read({ 'pip-index-url': url })
    expect(s.dependencies.indexUrl).toBe(url)
    expect(secretValues(s)).toEqual(expect.arrayContaining([url, 's3cr%2Ft', 's3cr/t']))
    expect(
      secretValues(read({ 'pip-extra-index-url': 'https://pypi.example.com/' }))
    ).not.toContain('https://pypi.example.com/')
    for (const bad of [
      'ftp://reader:s3cret@x/',
      'https://reader:s3cret;x@x/',
      'https://x/../s3cret'
    ]) {
      const error = inputError(() => read({ 'pip-index-url': bad }))
      expect(error?.input).toBe(Input.PipIndexUrl)
      expect(error?.message).not.toContain('s3cret')
    }
  })
})

/** A Linux x86_64 CPython 3.11, as python/server_python.py prints it (shortened). */
const CP311: ServerPython = {
  markers: {
    python_version: '3.11',
    python_full_version: '3.11.2',
    platform_machine: 'x86_64',
    sys_platform: 'linux',
    platform_system: 'Linux',
    implementation_name: 'cpython',
    platform_python_implementation: 'CPython',
    os_name: 'posix'
  },
  tags: [
    'cp311-cp311-manylinux_2_36_x86_64',
    'cp311-cp311-manylinux_2_17_x86_64',
    'cp311-abi3-manylinux_2_17_x86_64',
    'py3-none-any'
  ]
}

describe('the host check', () => {
  test("asks for the server's Python only when the source is a lock", () => {
    expect(inspectStep(settingsFor()).command.text).not.toContain('server-python=')
    const s = settingsFor({ dependencies: { ...settingsFor().dependencies, lock: 'uv.lock' } })
    expect(inspectStep(s).command.text).toContain('server-python=')
  })

  test('reads what it printed (the tags in runs of platforms, expanded in order); nothing else', () => {
    const printed = {
      markers: CP311.markers,
      platforms: [
        ['manylinux_2_36_x86_64', 'manylinux_2_17_x86_64'],
        ['manylinux_2_17_x86_64'],
        ['any']
      ],
      tags: [
        ['cp311-cp311', 0],
        ['cp311-abi3', 1],
        ['py3-none', 2]
      ]
    }
    const line = (value: unknown) =>
      `python=3.11.2 /usr/bin/python3.11\nserver-python=${JSON.stringify(value)}\n`
    expect(parseFacts(line(printed)).serverPython).toEqual(CP311)
    expect(parseFacts('python=3.11.2 /usr/bin/python3.11\n').serverPython).toBeUndefined()
    expect(parseFacts(line({ ...printed, markers: { a: 1 } })).serverPython).toBeUndefined()
    expect(
      parseFacts(line({ ...printed, tags: [['cp311-cp311', 7]] })).serverPython
    ).toBeUndefined()
    expect(parseFacts('server-python=Traceback\n').serverPython).toBeUndefined()
  })

  test("python/server_python.py's tags, expanded, are pip's own, in its order", () => {
    const wheel = execFileSync('python3', ['-I', '-c', PIP_WHEEL_PY], { encoding: 'utf8' }).trim()
    if (!wheel) return // no pip wheel on this machine: the e2e tests read a real server's
    const printed = execFileSync('python3', ['-I', '-c', SERVER_PYTHON_PY, wheel], {
      encoding: 'utf8'
    })
    const pip = execFileSync(
      'python3',
      [
        '-I',
        '-c',
        `import sys; sys.path.insert(0, sys.argv[1])\nfrom pip._vendor.packaging import tags\nprint("\\n".join(str(t) for t in tags.sys_tags()))`,
        wheel
      ],
      { encoding: 'utf8' }
    )
    expect(parseFacts(`server-python=${printed}`).serverPython?.tags).toEqual(
      pip.trim().split('\n')
    )
  })
})

const SHA = (c: string) => c.repeat(64)
const PYLOCK = `lock-version = "1.0"
created-by = "pip"

[[packages]]
name = "django"
version = "5.1.4"
[[packages.wheels]]
name = "Django-5.1.4-py3-none-any.whl"
hashes = { sha256 = "${SHA('a')}" }

[[packages]]
name = "markupsafe"
version = "3.0.2"
[[packages.wheels]]
name = "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
hashes = { sha256 = "${SHA('b')}" }
[packages.sdist]
name = "markupsafe-3.0.2.tar.gz"
hashes = { sha256 = "${SHA('c')}" }

[[packages]]
name = "tzdata"
version = "2024.2"
marker = "sys_platform == 'win32'"
[[packages.wheels]]
name = "tzdata-2024.2-py2.py3-none-any.whl"
hashes = { sha256 = "${SHA('d')}" }
`
const locked = (overrides: Partial<Settings['dependencies']> = {}) =>
  settingsFor({
    dependencies: { ...settingsFor().dependencies, lock: 'pylock.toml', ...overrides }
  })

describe('the lock for one host', () => {
  test('the hashed list, by hash, without dependencies, wheels only; the summary line', () => {
    const plan = lockPlan(locked(), PYLOCK, hostFacts({ serverPython: CP311 }))
    if (!plan.ok) throw new Error(plan.problem)
    expect(plan.files).toEqual([
      {
        path: 'requirements.lock.txt',
        text: `django==5.1.4 --hash=sha256:${SHA('a')}\nmarkupsafe==3.0.2 --hash=sha256:${SHA('b')} --hash=sha256:${SHA('c')}\n`
      }
    ])
    expect(plan.install.pipArgs).toEqual(['--require-hashes', '--no-deps', '--only-binary=:all:'])
    expect(plan.install.summary).toBe('pylock.toml, 2 packages, by hash')
    expect(plan.install.privateIndex).toBe(false)
    // A package with its sdist alone for this server: the others still wheels only.
    const musl = { ...CP311, tags: ['cp311-cp311-musllinux_1_2_x86_64', 'py3-none-any'] }
    const mixed = lockPlan(locked(), PYLOCK, hostFacts({ serverPython: musl }))
    expect(mixed.ok && mixed.install.pipArgs).toEqual([
      '--require-hashes',
      '--no-deps',
      '--only-binary=django'
    ])
  })

  test("a package with no wheel and a private index: refused (pip would put the index's credentials on a build's command line)", () => {
    const musl = { ...CP311, tags: ['cp311-cp311-musllinux_1_2_x86_64', 'py3-none-any'] }
    const index = { indexUrl: 'https://user:tok3n@pypi.example.com/simple/' }
    const refused = lockPlan(locked(index), PYLOCK, hostFacts({ serverPython: musl }))
    expect(refused.ok).toBe(false)
    expect(!refused.ok && refused.problem).toContain(
      'pylock.toml: markupsafe 3.0.2 has no wheel for this server'
    )
    expect(!refused.ok && refused.problem).not.toContain('tok3n')
    // Wheels for every package, or wheels: runner (no index on the host): accepted.
    expect(lockPlan(locked(index), PYLOCK, hostFacts({ serverPython: CP311 })).ok).toBe(true)
    expect(
      lockPlan(locked({ ...index, wheels: 'runner' }), PYLOCK, hostFacts({ serverPython: musl })).ok
    ).toBe(true)
    // The host check counts a venv only when root's folder and mark say it is complete.
    expect(inspectStep(locked()).command.text).toContain(
      '[ "$(stat -c %u "$v" "$v/.complete" | sort -u)" = 0 ]'
    )
  })

  test("a dry run: what would change against the live venv's packages, as pip names them", () => {
    expect(
      venvChanges(
        ['Django==5.1.3', 'markupsafe==3.0.2', 'old_pkg==1.0'],
        ['django==5.1.4', 'MarkupSafe==3.0.2', 'new-pkg==2.0']
      )
    ).toEqual(['~ django 5.1.3 -> 5.1.4', '+ new-pkg 2.0', '- old_pkg 1.0'])
    expect(venvChanges(['django==5.1.4'], ['Django==5.1.4'])).toEqual([])
    // The live venv as the host check read it (dist-info folders), the plan's changes from it.
    const live = parseLivePackages(['Django-5.1.3', 'markupsafe-3.0.2', 'not a package', '../x'])
    expect(live).toEqual(['Django==5.1.3', 'markupsafe==3.0.2'])
    const plan = lockPlan(locked(), PYLOCK, hostFacts({ serverPython: CP311, livePackages: live }))
    expect(plan.ok && plan.install.changes).toEqual(['~ django 5.1.3 -> 5.1.4'])
    // No live venv read (not a dry run): no changes, the list.
    const none = lockPlan(locked(), PYLOCK, hostFacts({ serverPython: CP311 }))
    expect(none.ok && none.install.changes).toBeUndefined()
    // Only a dry run lists them, as the app user.
    expect(inspectStep({ ...locked(), dryRun: true }).command.text).toContain(
      'runuser -u mysite -- sh -c'
    )
    expect(inspectStep(locked()).command.text).not.toContain('live-packages')
  })

  test('a package with no file for the server is the problem, naming it; no host check: said', () => {
    const aarch64: ServerPython = {
      markers: { ...CP311.markers, platform_machine: 'aarch64' },
      tags: ['cp311-cp311-manylinux_2_36_aarch64']
    }
    const plan = lockPlan(locked(), PYLOCK, hostFacts({ serverPython: aarch64 }))
    expect(plan).toEqual({
      ok: false,
      problem: expect.stringMatching(/^pylock\.toml: .*django 5\.1\.4 .*\(3\.11, aarch64\)/)
    })
    const unread = lockPlan(locked(), PYLOCK, hostFacts())
    expect(unread.ok || unread.problem).toMatch(/install python3-venv/)
    expect(lockPlan(locked(), null, hostFacts()).ok).toBe(false)
  })

  test("the venv's key: the same lock, the same venv; another hash or Python, another", () => {
    const keyOf = (text: string, python = '3.11.2 /usr/bin/python3.11') => {
      const plan = lockPlan(locked(), text, hostFacts({ serverPython: CP311 }))
      if (!plan.ok) throw new Error(plan.problem)
      return venvKey(keyedFiles(plan), python, false)
    }
    expect(keyOf(PYLOCK)).toBe(keyOf(`# a comment\n${PYLOCK}`))
    expect(keyOf(PYLOCK)).not.toBe(keyOf(PYLOCK.replace(SHA('a'), SHA('e'))))
    expect(keyOf(PYLOCK)).not.toBe(keyOf(PYLOCK, '3.12.1 /usr/bin/python3.12'))
  })
})

describe('the venv step', () => {
  const planFor = (s: Settings) => {
    const plan = lockPlan(s, PYLOCK, hostFacts({ serverPython: CP311 }))
    if (!plan.ok) throw new Error(plan.problem)
    return earlyVenv('0123456789abcdef', plan.files, plan.install)
  }

  test('builds from the list sent with it (never the release), by hash', () => {
    const s = locked()
    const sent = planFor(s)
    const step = venvStep(s, '20261125T081500Z-1a2b3c4', null, sent)
    expect(step.stdin).toBeUndefined()
    expect(step.command.text).toContain('/srv/mysite/venvs/0123456789abcdef')
    const app = appScripts(step.command.text)
    expect(app).toContain(
      "--require-hashes --no-deps '--only-binary=:all:' -r /srv/mysite/venvs/0123456789abcdef/.requirements/requirements.lock.txt"
    )
    expect(app).not.toContain('releases/20261125T081500Z-1a2b3c4/pylock.toml')
  })

  test('a private index: read from stdin by root, in pip’s environment, on no command line', () => {
    const url = 'https://reader:s3cret@pypi.example.com/simple/'
    const s = locked({ indexUrl: url })
    const sent = planFor(s)
    // Not built beside the upload: its stdin is the source's.
    expect(sent).toBeUndefined()
    const plan = lockPlan(s, PYLOCK, hostFacts({ serverPython: CP311 }))
    if (!plan.ok) throw new Error(plan.problem)
    const step = venvStep(s, '20261125T081500Z-1a2b3c4', null, {
      key: '0123456789abcdef',
      files: plan.files,
      install: plan.install
    })
    expect(step.stdin).toBe('pip-index')
    expect(step.command.text).not.toContain('s3cret')
    expect(step.command.text).toContain('pip_env PIP_INDEX_URL "$pip_index"')
    expect(step.command.text).not.toMatch(/-p '?Environment=PIP_INDEX_URL/)
  })
})

/** The scripts a step hands to the app user's sandbox (base64 in the command). */
function appScripts(text: string): string {
  return [...text.matchAll(/printf %s '?([A-Za-z0-9+/=]+)'? \| base64 -d/g)]
    .map((m) => Buffer.from(m[1], 'base64').toString())
    .join('\n')
}

test('wheels: runner: the files on the venv step’s stdin, pip with no index; never built ahead', () => {
  const s = locked({ wheels: 'runner', indexUrl: 'https://reader:s3cret@pypi.example.com/simple/' })
  const plan = lockPlan(s, PYLOCK, hostFacts({ serverPython: CP311 }))
  if (!plan.ok) throw new Error(plan.problem)
  expect(plan.install.privateIndex).toBe(false)
  const install = { ...plan.install, wheels: true }
  expect(earlyVenv('0123456789abcdef', plan.files, install)).toBeUndefined()
  const step = venvStep(s, '20261125T081500Z-1a2b3c4', null, {
    key: '0123456789abcdef',
    files: plan.files,
    install
  })
  expect(step.stdin).toBe('wheels')
  expect(step.command.text).toContain(
    '(umask 022 && mkdir /srv/mysite/venvs/0123456789abcdef/.wheels && tar -xzf - -C /srv/mysite/venvs/0123456789abcdef/.wheels --no-same-owner --no-same-permissions --no-overwrite-dir)'
  )
  expect(appScripts(step.command.text)).toContain(
    '--no-index --find-links /srv/mysite/venvs/0123456789abcdef/.wheels -r'
  )
})

describe('the summary', () => {
  const report = (overrides: Partial<HostReport> = {}): HostReport => ({
    host: 'app1.example.com',
    release: '20261125T081500Z-1a2b3c4',
    previousRelease: '',
    status: 'success',
    gates: [],
    phaseMs: {},
    durationMs: 1000,
    message: '',
    dependencies: {
      summary: 'pylock.toml, 2 packages, by hash',
      packages: ['django==5.1.4', 'markupsafe==3.0.2']
    },
    ...overrides
  })

  test('says where the dependencies came from; a dry run lists the packages', () => {
    const deployed = summaryMarkdown(settingsFor(), [report()])
    expect(deployed).toContain(
      'app1.example.com: dependencies from pylock.toml, 2 packages, by hash'
    )
    expect(deployed).not.toContain('markupsafe==3.0.2')
    const dry = summaryMarkdown(settingsFor({ dryRun: true }), [report({ plan: ['Upload'] })])
    expect(dry).toContain('django==5.1.4\nmarkupsafe==3.0.2')
    // With the live venv read: what would change in it, or that nothing would.
    const changes = (list: string[]) =>
      summaryMarkdown(settingsFor({ dryRun: true }), [
        report({
          plan: ['Upload'],
          dependencies: { ...report().dependencies!, changes: list }
        })
      ])
    expect(changes(['~ django 5.1.3 -> 5.1.4'])).toContain('~ django 5.1.3 -> 5.1.4')
    expect(changes(['~ django 5.1.3 -> 5.1.4'])).not.toContain('markupsafe==3.0.2')
    expect(changes([])).toContain('(no change: the live venv holds these packages)')
  })
})

test("wheels: runner's files: checked by hash, cached by it, linked into a folder of their own", async () => {
  const bytes = Buffer.from('a wheel')
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  let requests = 0
  const server = createServer((_, res) => {
    requests++
    res.end(bytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/demo-1.0-py3-none-any.whl`
  const cache = join(dir, 'cache')
  const file = { name: 'demo-1.0-py3-none-any.whl', url, sha256 }
  try {
    const folder = await fetchLockedFiles([file], cache)
    expect(readFileSync(join(folder, file.name))).toEqual(bytes)
    await fetchLockedFiles([file], cache)
    expect(requests).toBe(1)
    const wrong = { ...file, sha256: 'f'.repeat(64) }
    await expect(fetchLockedFiles([wrong], cache)).rejects.toThrow(
      `demo-1.0-py3-none-any.whl from ${url} has sha256 ${sha256}, not the lock's ${'f'.repeat(64)}`
    )
    await expect(fetchLockedFiles([{ ...file, name: '../x.whl' }], cache)).rejects.toThrow(
      /not a wheel's or sdist's file name/
    )
  } finally {
    server.close()
  }
})
