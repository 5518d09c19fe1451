// Fast deploys (issue 13), proven by what they leave on the host, not by timing: a code change
// with no new migration runs no migration (the SQLite file is untouched), collects only the
// static file that changed (the others are the previous release's files, linked), and a deploy
// of what already serves restarts nothing. The project: `subfolder` (manage.py in src/, split
// settings, SQLite and uploads in shared/), with static files of its own app.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAction, type ActionRun } from './action.js'
import { checkout, deployInputs, get, liveService, newCommit, onHost } from './fixture.js'
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

const inputs = () =>
  deployInputs(host, {
    'project-name': 'shop',
    source: 'src',
    'settings-module': 'config.settings.production',
    'wsgi-module': 'config.wsgi:application',
    requirements: 'requirements/production.txt',
    'server-name': NAME,
    'health-path': '/status/',
    dotenv: `DJANGO_SECRET_KEY=fast-secret-key-for-the-tests\nDJANGO_ALLOWED_HOSTS=${NAME}`
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

let v1 = ''
let v2 = ''
let v2Env: Record<string, string> = {}

test('a code change with no new migration: no migration runs, only the changed static file is copied', async () => {
  v1 = succeeded(await runAction(inputs(), { env: newCommit(), workspace: project('v1') })).outputs
    .release
  const database = '/srv/shop/shared/db.sqlite3'
  const before = await must(`sha256sum ${database}; stat -c '%i %s %Y' ${database}`)

  v2Env = newCommit()
  const run = succeeded(await runAction(inputs(), { env: v2Env, workspace: project('v2') }))
  v2 = run.outputs.release
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
  // The timing table counts the round trips: the lock, the host check, the health check.
  expect(run.summary).toMatch(/\| round trips \|[\s\S]*\| 3 \|\n/)

  // Other settings for the same commit: a deploy in full.
  const other = succeeded(
    await runAction({ ...inputs(), workers: '2' }, { env: newCommit(), workspace: project('v2') })
  )
  expect(other.outputs.release).not.toBe(v2)
  expect(other.stdout).toContain('::group::Upload')
})
