// Dependencies from a lock (issue 31), on a real host: a pylock.toml read on the runner, its
// packages installed by hash from an index the test serves on the host itself (the host has no
// PyPI). The wheels are made by the test; the lock names their real sha256.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { runAction, type ActionRun } from './action.js'
import { deployInputs, edit, get, newCommit, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const must = (cmd: string) => onHost(host, cmd)

const DEPLOY = '/srv/mysite'
/** The open index, and the private one (http basic auth, checked by its server). */
const OPEN_PORT = 8766
const PRIVATE_PORT = 8767
const TOKEN = `t0ken-${process.pid}-not-for-logs`
const PRIVATE_URL = `http://reader:${TOKEN}@127.0.0.1:${PRIVATE_PORT}/simple/`

/** A wheel of one module named as its package, whose VALUE says its version (built with zipfile). */
const WHEEL_PY = `
import base64, hashlib, sys, zipfile
name, version, out = sys.argv[1], sys.argv[2], sys.argv[3]
info = '%s-%s.dist-info' % (name, version)
files = {
    name + '.py': "VALUE = '%s %s'\\n" % (name, version),
    info + '/METADATA': 'Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n' % (name, version),
    info + '/WHEEL': 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
def digest(text):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
record = ''.join('%s,%s,%d\\n' % (n, digest(t), len(t.encode())) for n, t in files.items()) + info + '/RECORD,,\\n'
with zipfile.ZipFile(out, 'w') as z:
    for name, text in list(files.items()) + [(info + '/RECORD', record)]:
        z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text)
`

/**
 * An index server that answers only with the right credentials: the header it expects is in
 * its file, so that the token itself is in no unit, command line or journal line of the test's.
 */
const PRIVATE_INDEX_PY = `
import functools, http.server, sys
expected = 'Basic ${Buffer.from(`reader:${TOKEN}`).toString('base64')}'
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get('Authorization') != expected:
            self.send_response(401)
            self.send_header('WWW-Authenticate', 'Basic realm="index"')
            self.end_headers()
            return
        super().do_GET()
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), functools.partial(Handler, directory=sys.argv[1])).serve_forever()
`

interface Wheel {
  name: string
  version: string
  file: string
  sha256: string
  bytes: Buffer
}

function buildWheel(dir: string, name: string, version: string): Wheel {
  const file = `${name}-${version}-py3-none-any.whl`
  execFileSync('python3', ['-c', WHEEL_PY, name, version, join(dir, file)])
  const bytes = readFileSync(join(dir, file))
  return { name, version, file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
}

/** Writes the wheels on the host as a PEP 503 index below `root`: simple/<name>/, files/. */
async function serveIndex(root: string, wheels: Wheel[]): Promise<void> {
  const names = [...new Set(wheels.map((w) => w.name))]
  await must(`mkdir -p ${root}/files ${names.map((name) => `${root}/simple/${name}`).join(' ')}`)
  for (const w of wheels)
    await must(`echo ${w.bytes.toString('base64')} | base64 -d > ${root}/files/${w.file}`)
  for (const name of names) {
    const links = wheels
      .filter((w) => w.name === name)
      .map((w) => `<a href="../../files/${w.file}#sha256=${w.sha256}">${w.file}</a>`)
      .join('\n')
    await must(
      `printf '%s\\n' ${JSON.stringify(`<!DOCTYPE html><html><body>${links}</body></html>`)} > ${root}/simple/${name}/index.html`
    )
  }
  await must(`chmod -R a+rX ${root}`)
}

/**
 * A pylock.toml as pip lock writes it: lockdemo, and a package only Windows gets (its marker
 * leaves it out on the host, so its missing file is never asked for).
 */
function pylock(wheel: Wheel, sha256 = wheel.sha256, url = openUrl(wheel)): string {
  return [
    'lock-version = "1.0"',
    'created-by = "pip"',
    '',
    '[[packages]]',
    'name = "lockdemo"',
    `version = "${wheel.version}"`,
    '',
    '[[packages.wheels]]',
    `name = "${wheel.file}"`,
    `url = "${url}"`,
    `hashes = { sha256 = "${sha256}" }`,
    '',
    '[[packages]]',
    'name = "pywin32"',
    'version = "308"',
    `marker = "sys_platform == 'win32'"`,
    '',
    '[[packages.wheels]]',
    'name = "pywin32-308-cp311-cp311-win_amd64.whl"',
    `hashes = { sha256 = "${'0'.repeat(64)}" }`,
    ''
  ].join('\n')
}

const openUrl = (wheel: Wheel) => `http://127.0.0.1:${OPEN_PORT}/files/${wheel.file}`

const WINDOWS_ONLY = `sys_platform == 'win32'`
/** pywin32, for Windows only: its file exists nowhere, so a lock that kept it could not install. */
const pywin32 = (like: Wheel): Wheel => ({
  ...like,
  name: 'pywin32',
  version: '308',
  file: 'pywin32-308-cp311-cp311-win_amd64.whl',
  sha256: '0'.repeat(64)
})

/** One package of a uv.lock, from the open index, with its wheel and the edges it has. */
function uvPackage(w: Wheel, dependencies: string[] = []): string {
  return [
    '[[package]]',
    `name = "${w.name}"`,
    `version = "${w.version}"`,
    `source = { registry = "http://127.0.0.1:${OPEN_PORT}/simple" }`,
    ...(dependencies.length
      ? ['dependencies = [', ...dependencies.map((d) => `    ${d},`), ']']
      : []),
    'wheels = [',
    `    { url = "${openUrl(w)}", hash = "sha256:${w.sha256}", size = ${w.bytes.length}, upload-time = "2025-09-03T13:03:47.808Z" },`,
    ']',
    ''
  ].join('\n')
}

/**
 * A uv.lock as uv writes it: the project (editable) needs lockdemo, which needs lockbase, and
 * pywin32 on Windows only (its wheel exists nowhere); lockdev is its dev group's.
 */
function uvLock(demo: Wheel): string {
  return [
    'version = 1',
    'revision = 3',
    'requires-python = ">=3.9"',
    '',
    uvPackage(base),
    uvPackage(demo, ['{ name = "lockbase" }']),
    uvPackage(dev),
    '[[package]]',
    'name = "mysite"',
    'version = "0.1.0"',
    'source = { editable = "." }',
    'dependencies = [',
    '    { name = "lockdemo" },',
    `    { name = "pywin32", marker = "${WINDOWS_ONLY}" },`,
    ']',
    '',
    '[package.dev-dependencies]',
    'dev = [',
    '    { name = "lockdev" },',
    ']',
    '',
    '[package.metadata]',
    'requires-dist = [',
    `    { name = "lockdemo", specifier = "==${demo.version}" },`,
    `    { name = "pywin32", marker = "${WINDOWS_ONLY}", specifier = ">=308" },`,
    ']',
    '',
    '[package.metadata.requires-dev]',
    'dev = [{ name = "lockdev", specifier = ">=1.0" }]',
    '',
    uvPackage(pywin32(demo))
  ].join('\n')
}

/** One package of a poetry.lock (Poetry 2): its groups, its marker, its files by name and hash. */
function poetryPackage(w: Wheel, groups: string, extra: string[] = []): string {
  return [
    '[[package]]',
    `name = "${w.name}"`,
    `version = "${w.version}"`,
    'description = ""',
    'optional = false',
    'python-versions = ">=3.9"',
    `groups = [${groups}]`,
    ...extra,
    'files = [',
    `    {file = "${w.file}", hash = "sha256:${w.sha256}"},`,
    ']',
    ''
  ].join('\n')
}

/**
 * A poetry.lock as Poetry 2.1 writes it: lockdemo and lockbase in main, pywin32 in main with a
 * Windows marker, lockdev in the dev group. It names no URL: pip finds the files on the index.
 */
function poetryLock(demo: Wheel): string {
  return [
    '# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.',
    '',
    poetryPackage(base, '"main"'),
    poetryPackage(demo, '"main"') + '\n[package.dependencies]\nlockbase = ">=1.0"\n',
    poetryPackage(dev, '"dev"'),
    poetryPackage(pywin32(demo), '"main"', [`markers = "${WINDOWS_ONLY.replaceAll("'", '\\"')}"`]),
    '[metadata]',
    'lock-version = "2.1"',
    'python-versions = ">=3.9"',
    `content-hash = "${createHash('sha256').update(demo.file).digest('hex')}"`,
    ''
  ].join('\n')
}

/** mysite with the lock, and a page that shows what the venv's lockdemo says. */
function projectWith(version: string, lock: string, lockFile = 'pylock.toml'): string {
  const { workspace, project } = workspaceWith(version)
  writeFileSync(join(project, lockFile), lock)
  edit(
    project,
    'notes/views.py',
    (text) =>
      `${text}\n\ndef locked(request):\n    import lockdemo\n    from django.http import HttpResponse\n    return HttpResponse(lockdemo.VALUE)\n`
  )
  edit(project, 'mysite/urls.py', (text) =>
    text.replace("path('boom'", "path('locked', views.locked),\n    path('boom'")
  )
  return workspace
}

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, { 'pip-index-url': `http://127.0.0.1:${OPEN_PORT}/simple/`, ...overrides })

function succeeded(run: ActionRun): ActionRun {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  return run
}

const venvs = async () => (await must(`ls -1 ${DEPLOY}/venvs`)).split('\n').filter(Boolean)

let wheels: Wheel[] = []
/** lockbase, which the project's lockdemo needs; lockdev, in the dev group only. */
let base: Wheel
let dev: Wheel

beforeAll(async () => {
  host = await bootHost('locks')
  const dir = execFileSync('mktemp', ['-d']).toString().trim()
  wheels = ['1.0', '1.1', '2.0', '3.0'].map((v) => buildWheel(dir, 'lockdemo', v))
  base = buildWheel(dir, 'lockbase', '1.0')
  dev = buildWheel(dir, 'lockdev', '1.0')
  // lockdev is on the index too: only the lock's dev group keeps it out of a venv.
  await serveIndex('/run/locks-index', [...wheels.slice(0, 2), base, dev])
  // The private index alone has 2.0: a deploy of it proves pip used the credentials.
  await serveIndex('/run/locks-private', wheels.slice(2))
  await must(
    `echo ${Buffer.from(PRIVATE_INDEX_PY).toString('base64')} | base64 -d > /run/locks-private.py && ` +
      `systemd-run --quiet --unit=locks-index -p DynamicUser=yes python3 -m http.server ${OPEN_PORT} --bind 127.0.0.1 --directory /run/locks-index && ` +
      `systemd-run --quiet --unit=locks-private -p DynamicUser=yes python3 /run/locks-private.py /run/locks-private ${PRIVATE_PORT} && ` +
      `for i in $(seq 1 50); do curl -sf http://127.0.0.1:${OPEN_PORT}/simple/lockdemo/ >/dev/null && curl -s -o /dev/null http://127.0.0.1:${PRIVATE_PORT}/ && break; sleep 0.1; done`
  )
})
afterAll(async () => {
  await host?.stop()
})

test('a pylock.toml: its package installed by hash, the Windows-only one left out; the same lock deployed again builds no venv', async () => {
  const [v1] = wheels
  const first = succeeded(
    await runAction(inputs(), { env: newCommit(), workspace: projectWith('v1', pylock(v1)) })
  )
  expect(first.stdout).toContain('installed pylock.toml, 1 package, by hash')
  expect((await get(host, '/locked')).text).toBe('lockdemo 1.0')
  const built = await venvs()
  expect(built).toHaveLength(1)
  // pywin32 is in no venv: its marker left it out (its file does not exist anywhere).
  expect(await must(`ls ${DEPLOY}/venvs/*/lib/python3*/site-packages/`)).not.toMatch(/pywin32/i)

  // New code, the same lock: the venv is the first one's, not built again.
  const second = succeeded(
    await runAction(inputs(), { env: newCommit(), workspace: projectWith('v2', pylock(v1)) })
  )
  expect(second.stdout).toContain(`reused the venv ${built[0]}`)
  expect(second.stdout).not.toMatch(/^built the venv/m)
  expect(await venvs()).toEqual(built)
})

test('a dry run lists what would change in the venv, and changes nothing', async () => {
  const live = await must(`readlink ${DEPLOY}/current`)
  const run = succeeded(
    await runAction(inputs({ 'dry-run': 'true' }), {
      env: newCommit(),
      workspace: projectWith('dry', pylock(wheels[1]))
    })
  )
  expect(run.summary).toContain('dependencies from pylock.toml, 1 package, by hash')
  // Against the live venv (lockdemo 1.0): what the deploy would change in it.
  expect(run.summary).toMatch(/^~ lockdemo 1\.0 -> 1\.1$/m)
  expect(run.stdout).toContain('The venv would change:\n~ lockdemo 1.0 -> 1.1')
  expect(await must(`readlink ${DEPLOY}/current`)).toBe(live)
  expect((await get(host, '/locked')).text).toBe('lockdemo 1.0')
})

test('a hash that does not match is refused before the switch: the live site still serves', async () => {
  const live = await must(`readlink ${DEPLOY}/current`)
  const [, v11] = wheels
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: projectWith('v3', pylock(v11, createHash('sha256').update('other').digest('hex')))
  })
  expect(run.outputs.status).toBe('failure')
  expect(run.stdout).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES/)
  expect(await must(`readlink ${DEPLOY}/current`)).toBe(live)
  expect((await get(host, '/locked')).text).toBe('lockdemo 1.0')
})

test('a lock with no file for the server: refused before anything is uploaded, naming the package', async () => {
  const releases = await must(`ls -1 ${DEPLOY}/releases`)
  const windowsOnly = pylock(wheels[0]).replace(`marker = "sys_platform == 'win32'"\n`, '')
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: projectWith('v4', windowsOnly)
  })
  expect(run.outputs.status).toBe('failure')
  expect(run.stdout).toMatch(
    /pylock\.toml: the lock has no file of pywin32 308 for this server's Python/
  )
  expect(await must(`ls -1 ${DEPLOY}/releases`)).toBe(releases)
})

test("a private index's credentials: pip used them, and they are nowhere in the log or on the server", async () => {
  const v2 = wheels[2]
  const run = succeeded(
    await runAction(inputs({ 'pip-index-url': PRIVATE_URL }), {
      env: newCommit(),
      workspace: projectWith('v5', pylock(v2))
    })
  )
  expect((await get(host, '/locked')).text).toBe('lockdemo 2.0')
  // What a person sees: the runner takes the mask commands themselves out of the log.
  const seen = run.everything
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  expect(seen).not.toContain(TOKEN)
  // Every file of the deploy path (releases, venvs, root's state), the units, the journal.
  const found = await must(
    `grep -rlF ${TOKEN} ${DEPLOY} /etc/systemd /run/systemd/transient 2>/dev/null || true; ` +
      `journalctl --no-pager -o cat | grep -cF ${TOKEN} || true`
  )
  expect(found.trim()).toBe('0')
})

test('wheels: runner: the runner downloads and checks the files, the host (no route to them) installs them; not sent again', async () => {
  // Served on the runner's own loopback: the host cannot reach it.
  const v3 = wheels[3]
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '')
    if (req.url === `/${v3.file}`) res.end(v3.bytes)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${v3.file}`
  try {
    expect(await must(`curl -s -o /dev/null -w '%{http_code}' ${url} || true`)).not.toBe('200')
    const first = succeeded(
      await runAction(inputs({ wheels: 'runner' }), {
        env: newCommit(),
        workspace: projectWith('r1', pylock(v3, v3.sha256, url))
      })
    )
    expect(first.stdout).toContain('downloaded and checked 1 files of pylock.toml (wheels: runner)')
    expect((await get(host, '/locked')).text).toBe('lockdemo 3.0')
    expect(requests).toEqual([`/${v3.file}`])
    // Nothing of the upload stays beside the venv.
    expect((await must(`ls -A ${DEPLOY}/venvs/*/ | grep -c wheels || true`)).trim()).toBe('0')

    const second = succeeded(
      await runAction(inputs({ wheels: 'runner' }), {
        env: newCommit(),
        workspace: projectWith('r2', pylock(v3, v3.sha256, url))
      })
    )
    expect(second.stdout).not.toContain('downloaded and checked')
    expect(second.stdout).toMatch(/^reused the venv [0-9a-f]{16}$/m)

    // A file whose hash is not the lock's: refused on the runner, before anything is uploaded.
    const releases = await must(`ls -1 ${DEPLOY}/releases`)
    const wrong = createHash('sha256').update('other').digest('hex')
    const refused = await runAction(inputs({ wheels: 'runner' }), {
      env: newCommit(),
      workspace: projectWith(
        'r3',
        pylock({ ...v3, version: '3.0' }, wrong, url).replace(v3.sha256, wrong)
      )
    })
    expect(refused.outputs.status).toBe('failure')
    expect(refused.stdout).toContain(`has sha256 ${v3.sha256}, not the lock's ${wrong}`)
    expect(await must(`ls -1 ${DEPLOY}/releases`)).toBe(releases)
  } finally {
    server.close()
  }
})

/** The test's packages in the live release's venv, as pip installed them (their dist-info). */
async function liveVenvHolds(): Promise<string[]> {
  const listing = await must(`ls -1 ${DEPLOY}/current/.venv/lib/python3*/site-packages/`)
  return listing.split('\n').filter((name) => /^(lock|pywin32).*\.dist-info$/i.test(name))
}

test('a uv.lock: the packages the project reaches installed by hash; the dev group only when asked; the Windows-only one never', async () => {
  const v11 = wheels[1]
  const run = succeeded(
    await runAction(inputs(), {
      env: newCommit(),
      workspace: projectWith('uv', uvLock(v11), 'uv.lock')
    })
  )
  expect(run.stdout).toContain('installed uv.lock, 2 packages, by hash')
  expect((await get(host, '/locked')).text).toBe('lockdemo 1.1')
  // Neither lockdev (dev group) nor pywin32 (Windows only) is in the venv.
  expect(await liveVenvHolds()).toEqual(['lockbase-1.0.dist-info', 'lockdemo-1.1.dist-info'])

  // Asked for, the dev group is installed too: lockdev was left out by its group alone.
  succeeded(
    await runAction(inputs({ 'dependency-groups': 'dev' }), {
      env: newCommit(),
      workspace: projectWith('uv-dev', uvLock(v11), 'uv.lock')
    })
  )
  expect(await liveVenvHolds()).toEqual([
    'lockbase-1.0.dist-info',
    'lockdemo-1.1.dist-info',
    'lockdev-1.0.dist-info'
  ])
})

test('a poetry.lock: the main group installed from the index by hash; the dev group only when asked; the Windows-only one never', async () => {
  const v1 = wheels[0]
  const run = succeeded(
    await runAction(inputs(), {
      env: newCommit(),
      workspace: projectWith('poetry', poetryLock(v1), 'poetry.lock')
    })
  )
  expect(run.stdout).toContain('installed poetry.lock, 2 packages, by hash')
  expect((await get(host, '/locked')).text).toBe('lockdemo 1.0')
  // Neither lockdev (dev group) nor pywin32 (Windows only) is in the venv.
  expect(await liveVenvHolds()).toEqual(['lockbase-1.0.dist-info', 'lockdemo-1.0.dist-info'])

  // Asked for, the dev group is installed too: lockdev was left out by its group alone.
  succeeded(
    await runAction(inputs({ 'dependency-groups': 'dev' }), {
      env: newCommit(),
      workspace: projectWith('poetry-dev', poetryLock(v1), 'poetry.lock')
    })
  )
  expect(await liveVenvHolds()).toEqual([
    'lockbase-1.0.dist-info',
    'lockdemo-1.0.dist-info',
    'lockdev-1.0.dist-info'
  ])
})
