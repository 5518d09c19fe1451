// Fast deploys (issue 13), proven by what they leave on the host, not by timing: a code change
// with no new migration runs no migration (the SQLite file is untouched), collects only the
// static file that changed (the others are the previous release's files, linked), and a deploy
// of what already serves restarts nothing; the project's settings are read by the Django process
// itself, checked against the live release's. The project: `subfolder` (manage.py in src/, split
// settings, SQLite and uploads in shared/), with static files of its own app.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAction, type ActionRun } from './action.js'
import { checkout, deployInputs, edit, get, liveService, newCommit, onHost } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

const NAME = 'fast.test'
let host: TestHost
const must = (cmd: string) => onHost(host, cmd)

beforeAll(async () => {
  host = await bootHost('fast')
})
afterAll(async () => {
  await host?.stop()
})

const inputs = (project = 'shop', name = NAME) =>
  deployInputs(host, {
    'project-name': project,
    source: 'src',
    'settings-module': 'config.settings.production',
    'wsgi-module': 'config.wsgi:application',
    requirements: 'requirements/production.txt',
    'server-name': name,
    'health-path': '/status/',
    dotenv: `DJANGO_SECRET_KEY=fast-secret-key-for-the-tests\nDJANGO_ALLOWED_HOSTS=${name}`,
    // A build command: the release is the app's while it runs, the linked static files never.
    'build-commands': 'check'
  })

/** The project at a version, with two static files of its app: one changes with the version. */
function project(version: string): string {
  const workspace = checkout('subfolder', version, 'src/VERSION')
  const folder = join(workspace, 'src/files/static/files')
  mkdirSync(folder, { recursive: true })
  writeFileSync(join(folder, 'site.css'), `body::after { content: '${version}'; }\n`)
  writeFileSync(join(folder, 'logo.css'), '.logo { color: teal; }\n')
  return workspace
}

function succeeded(run: ActionRun): ActionRun {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  return run
}

/** Inode, size and modification time of files on the host: the same three, the same file. */
const identity = (paths: string[]) => must(`stat -c '%i %s %Y %n' ${paths.join(' ')}`)
const collected = (release: string, file: string) =>
  `/srv/shop/releases/${release}/staticfiles/${file}`

/** The log group of the settings read in a process of their own. */
const READ_SETTINGS = "::group::Read the project's settings"
const PLANNED_AGAIN = "The project's settings say other things than the live release's did"

let v1 = ''
let v2 = ''
let v2Env: Record<string, string> = {}

test('a code change with no new migration: no migration runs, only the changed static file is copied', async () => {
  const first = succeeded(await runAction(inputs(), { env: newCommit(), workspace: project('v1') }))
  v1 = first.outputs.release
  expect(first.stdout).toContain(READ_SETTINGS)
  // The venv was built while the code was uploaded (its requirements sent ahead), not after.
  expect(first.stdout).toMatch(/^built the venv [0-9a-f]{16} beside the upload$/m)
  expect(first.stdout).toMatch(/^reused the venv [0-9a-f]{16}$/m)
  const database = '/srv/shop/shared/db.sqlite3'
  const before = await must(`sha256sum ${database}; stat -c '%i %s %Y' ${database}`)

  v2Env = newCommit()
  const since = (await must('date +%s.%N')).trim()
  const run = succeeded(await runAction(inputs(), { env: v2Env, workspace: project('v2') }))
  v2 = run.outputs.release
  expect(run.stdout).not.toContain('beside the upload')
  // The units did not change: the new instance ran from the template as it was, and systemd
  // read nothing again (no daemon-reload, which logs "Reloading.").
  expect(run.stdout).toMatch(/^changed= ?$/m)
  expect(await must(`journalctl --since @${since} --no-pager -q -t systemd`)).not.toMatch(
    /Reloading/
  )
  expect(await must(`ls /run/systemd/system | grep gunicorn-shop || true`)).toBe('')
  // The settings: the live release's, checked by the Django process, not read by one of their own.
  expect(run.stdout).not.toContain(READ_SETTINGS)
  expect(run.stdout).not.toContain(PLANNED_AGAIN)
  // Decided in the Django process, on the database itself.
  expect(run.stdout).toContain('No migrations to apply: migrate did not run.')
  expect(run.stdout).not.toContain('Operations to perform')
  expect(await must(`sha256sum ${database}; stat -c '%i %s %Y' ${database}`)).toBe(before)

  // The changed file is served through nginx; the unchanged ones are v1's files, not copies.
  const page = await get(host, '/static/files/site.css', { Host: NAME })
  expect(page).toMatchObject({ status: 200, text: "body::after { content: 'v2'; }\n" })
  const unchanged = ['files/logo.css', 'admin/css/base.css']
  const same = async (release: string) =>
    (await identity(unchanged.map((f) => collected(release, f)))).replaceAll(release, '')
  expect(await same(v2)).toBe(await same(v1))
  const changed = async (release: string) =>
    (await identity([collected(release, 'files/site.css')])).split(' ')[0]
  expect(await changed(v2)).not.toBe(await changed(v1))
  expect(run.stdout).toMatch(/\n1 static file copied to '[^']+', \d+ unmodified\./)
  // Root's, read-only to the app, open to nginx: as a fresh copy would be.
  expect(await must(`stat -c '%U %a' ${collected(v2, 'files/logo.css')}`)).toBe('root 644\n')
  expect(await must(`stat -c '%U %G %a' /srv/shop/releases/${v2}/config/urls.py`)).toBe(
    'root shop 640\n'
  )
  // The previous release's copy is still its own: a rollback serves v1's files.
  expect(await must(`cat /srv/shop/releases/${v1}/staticfiles/files/site.css`)).toBe(
    "body::after { content: 'v1'; }\n"
  )
})

test('a deploy of the commit already live: nothing uploaded or restarted, success said', async () => {
  const service = await liveService(host, 'shop')
  const started = () =>
    must(`systemctl show -p MainPID -p ActiveEnterTimestampMonotonic ${service}`)
  const before = await started()
  const releasesBefore = await must('ls -1 /srv/shop/releases')

  const run = succeeded(await runAction(inputs(), { env: v2Env, workspace: project('v2') }))
  expect(run.outputs.release).toBe(v2)
  expect(run.stdout).toContain(
    `${v2} already serves this commit with these settings: nothing was uploaded or restarted.`
  )
  expect(run.summary).toContain('already serves this commit')
  expect(run.stdout).not.toContain('::group::Upload')
  // The same gunicorn, started when it was; no new release.
  expect(await liveService(host, 'shop')).toBe(service)
  expect(await started()).toBe(before)
  expect(await must('ls -1 /srv/shop/releases')).toBe(releasesBefore)
  // The timing table counts the round trips: the lock (the host check sent with it), the health check.
  expect(run.summary).toMatch(/\| round trips \|[\s\S]*\| 2 \|\n/)

  // Other settings for the same commit: a deploy in full.
  const other = succeeded(
    await runAction({ ...inputs(), workers: '2' }, { env: newCommit(), workspace: project('v2') })
  )
  expect(other.outputs.release).not.toBe(v2)
  expect(other.stdout).toContain('::group::Upload')
})

test("whitenoise's compressed manifest storage: collected from scratch, each release its own files", async () => {
  // whitenoise compresses the files it finds in place: the previous release's must not be those.
  const whitenoise = (version: string) => {
    const workspace = project(version)
    edit(
      workspace,
      'src/config/settings/base.py',
      (text) =>
        `${text}\nSTATICFILES_STORAGE = 'whitenoise.storage.CompressedManifestStaticFilesStorage'\n`
    )
    return workspace
  }
  const deploy = async (version: string) =>
    succeeded(
      await runAction(inputs('press', 'press.test'), {
        env: newCommit(),
        workspace: whitenoise(version)
      })
    ).outputs.release
  const w1 = await deploy('w1')
  const w2 = await deploy('w2')
  const root = (release: string) => `/srv/press/releases/${release}/staticfiles`
  const manifest = JSON.parse(await must(`cat ${root(w2)}/staticfiles.json`)) as {
    paths: Record<string, string>
  }
  const hashed = manifest.paths['files/site.css']
  expect(hashed).toMatch(/^files\/site\.[0-9a-f]{12}\.css$/)
  const page = await get(host, `/static/${hashed}`, { Host: 'press.test' })
  expect(page).toMatchObject({ status: 200, text: "body::after { content: 'w2'; }\n" })
  // Compressed (whitenoise skips files too small to gain): not linked, w1's are still w1's own.
  const big = `${manifest.paths['admin/css/base.css']}.gz`
  const inode = async (release: string) => (await must(`stat -c %i ${root(release)}/${big}`)).trim()
  expect(await inode(w2)).not.toBe(await inode(w1))
})

test('settings that moved STATIC_ROOT: read again by the Django process, planned with, served from there', async () => {
  const moved = (version: string) => {
    const workspace = project(version)
    edit(workspace, 'src/config/settings/base.py', (text) =>
      text.replace("STATIC_ROOT = BASE_DIR / 'staticfiles'", "STATIC_ROOT = BASE_DIR / 'collected'")
    )
    return workspace
  }
  const run = succeeded(await runAction(inputs(), { env: newCommit(), workspace: moved('v3') }))
  expect(run.stdout).toContain(PLANNED_AGAIN)
  expect(run.stdout).not.toContain(READ_SETTINGS)
  const v3 = run.outputs.release
  expect(await must(`cat /srv/shop/releases/${v3}/collected/files/site.css`)).toBe(
    "body::after { content: 'v3'; }\n"
  )
  expect(await get(host, '/static/files/site.css', { Host: NAME })).toMatchObject({
    status: 200,
    text: "body::after { content: 'v3'; }\n"
  })
  // The next deploy plans with what this one read: nothing to read again.
  const next = succeeded(await runAction(inputs(), { env: newCommit(), workspace: moved('v4') }))
  expect(next.stdout).not.toContain(PLANNED_AGAIN)
  expect(next.stdout).not.toContain(READ_SETTINGS)
  expect(await get(host, '/static/files/site.css', { Host: NAME })).toMatchObject({
    status: 200,
    text: "body::after { content: 'v4'; }\n"
  })
})

test('requirements pip cannot install: the venv step builds again and says why; the live release serves', async () => {
  const live = (await get(host, '/static/files/site.css', { Host: NAME })).text
  const workspace = project('v5')
  edit(
    workspace,
    'src/requirements/production.txt',
    (text) => `${text}--no-index\nno-such-package-dda==1.0\n`
  )
  const run = await runAction(inputs(), { env: newCommit(), workspace })
  expect(run.outputs.status).toBe('failure')
  expect(run.stdout).toMatch(
    /^the venv beside the upload failed \(exit \d+\): the venv step builds it again$/m
  )
  // The cause first: the venv step's, in pip's words (the last line of its output).
  expect(run.stdout).toMatch(
    /::error[^\n]*Venv [0-9a-f]{16} \(built when its requirements change\) failed: [^\n]*no-such-package-dda==1\.0/
  )
  expect(await get(host, '/static/files/site.css', { Host: NAME })).toMatchObject({
    status: 200,
    text: live
  })
})
