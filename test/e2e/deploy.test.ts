// A real deploy (issue: release upload, rendered units and site, gates, restart, health), run as
// a GitHub runner runs the action, against a booted Debian host.
import { runAction } from './action.js'
import {
  activeStates,
  checksums,
  deployInputs,
  edit,
  get,
  health,
  watch,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

const LIVE_FILES = [
  '/etc/nginx/sites-available/mysite',
  '/etc/systemd/system/gunicorn-mysite@.socket',
  '/etc/systemd/system/gunicorn-mysite@.service'
]

describe('deploy as root to a fresh host', () => {
  let host: TestHost
  let firstRelease = ''

  beforeAll(async () => {
    host = await bootHost('deploy-root')
  })
  afterAll(async () => {
    await host?.stop()
  })

  test('one run serves the project through nginx', async () => {
    const { workspace } = workspaceWith('v1')
    const run = await runAction(deployInputs(host), { workspace })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)

    // The outputs a workflow reads.
    expect(run.outputs.status).toBe('success')
    expect(run.outputs.release).toMatch(/^\d{8}T\d{6}Z-1a2b3c4$/)
    expect(run.outputs['http-status']).toBe('200')
    expect(Number(run.outputs['health-duration-ms'])).toBeGreaterThanOrEqual(0)
    expect(run.outputs.url).toBe(`http://${host.address}`)
    expect(JSON.parse(run.outputs.hosts)).toEqual([
      expect.objectContaining({
        host: host.address,
        status: 'success',
        release: run.outputs.release
      })
    ])
    firstRelease = run.outputs.release

    // The page through nginx, naming the release that serves it.
    const page = await health(host)
    expect(page).toMatchObject({ status: 'ok', release: firstRelease, version: 'v1' })
    // A static file, served by nginx itself from the release's collected files.
    const css = await get(host, '/static/notes/site.css')
    expect(css.status).toBe(200)
    expect(css.text).toContain('/* django-deploy-action fixture */')
    expect(css.headers.get('server')).toMatch(/^nginx/)

    // The first instance serves, through the link nginx connects to; gunicorn not running as
    // root; the layout of ARCHITECTURE.md.
    expect(
      (
        await host.exec(
          'systemctl is-active gunicorn-mysite@blue.socket gunicorn-mysite@blue.service; readlink /run/gunicorn-mysite.sock'
        )
      ).stdout
    ).toBe('active\nactive\n/run/gunicorn-mysite@blue.sock\n')
    expect(
      (await host.exec('ps -o user= -C python3,python | sort -u')).stdout.trim().split('\n')
    ).toEqual(['mysite'])
    expect((await host.exec('readlink /srv/mysite/current')).stdout.trim()).toBe(
      `releases/${firstRelease}`
    )
    expect((await host.exec('readlink /etc/nginx/sites-enabled/mysite')).stdout.trim()).toBe(
      '/etc/nginx/sites-available/mysite'
    )

    // The job summary a user opens.
    expect(run.summary).toContain(`\`${firstRelease}\``)
    expect(run.summary).toMatch(/✅ systemd-analyze verify/)
    expect(run.summary).toMatch(/✅ nginx -t with the new site/)
    expect(run.summary).toMatch(/200 in \d+ ms/)
  })

  test('a second deploy of a changed project serves the new release, with no error in the journal', async () => {
    const { workspace, project } = workspaceWith('v2')
    edit(project, 'notes/static/notes/site.css', (css) => `${css}\n/* v2 */\n`)
    const since = (await host.exec('date +%s')).stdout.trim()
    const database =
      'stat -c "%Y %s" /srv/mysite/shared/db.sqlite3; sha256sum < /srv/mysite/shared/db.sqlite3'
    const databaseBefore = (await host.exec(database)).stdout
    // The public URL is checked from the runner too.
    const run = await runAction(
      deployInputs(host, { 'health-url': `http://${host.address}/healthz` }),
      {
        workspace
      }
    )
    expect(run.code).toBe(0)
    expect(run.outputs['previous-release']).toBe(firstRelease)
    const page = await health(host)
    expect(page.version).toBe('v2')
    expect(page.release).toBe(run.outputs.release)
    expect(page.release).not.toBe(firstRelease)
    expect((await get(host, '/static/notes/site.css')).text).toContain('/* v2 */')
    // No new migration: migrate did not run, and the database file is as it was.
    expect(run.stdout).toContain('No migrations to apply: migrate did not run.')
    expect((await host.exec(database)).stdout).toBe(databaseBefore)
    // The second instance serves it; the first one stopped once drained.
    expect((await host.exec('readlink /run/gunicorn-mysite.sock')).stdout).toBe(
      '/run/gunicorn-mysite@green.sock\n'
    )
    expect(
      await activeStates(host, 'gunicorn-mysite@blue.service gunicorn-mysite@green.service')
    ).toBe('inactive\nactive')
    const errors = await host.exec(
      `journalctl -u 'gunicorn-mysite@*.service' -p err --since @${since} --no-pager -q`
    )
    expect(errors.stdout).toBe('')
  })

  test('nginx-directives that nginx rejects: the gate stops it, nothing changes, the site keeps answering', async () => {
    const before = await checksums(host, LIVE_FILES)
    const { workspace } = workspaceWith('v3')
    const { result: run, statuses } = await watch(
      host,
      '/healthz',
      runAction(deployInputs(host, { 'nginx-directives': 'no_such_directive on;' }), { workspace })
    )
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('failure')
    // nginx's own words, in the error and in the summary.
    expect(run.stdout).toMatch(/::error.*unknown directive "no_such_directive"/)
    expect(run.summary).toContain('unknown directive "no_such_directive"')
    expect(run.summary).toMatch(/❌ nginx -t with the new site/)
    // The previous files, byte for byte; the old release still live and answering throughout.
    expect(await checksums(host, LIVE_FILES)).toBe(before)
    expect(statuses.length).toBeGreaterThan(5)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect((await health(host)).version).toBe('v2')
  })

  test('dry-run changes no file on the host and shows the diff', async () => {
    const folders = ['/srv/mysite', '/etc/nginx', '/etc/systemd/system']
    // Every run leaves its line in the audit log, a dry run too; nothing else changes.
    const audit = '/srv/mysite/.deploy/audit.log'
    const unaudited = async () =>
      (await checksums(host, folders))
        .split('\n')
        .filter((line) => !line.endsWith(`  ${audit}`))
        .join('\n')
    const auditLines = async () => (await host.exec(`cat ${audit}`)).stdout.trim().split('\n')
    const before = await unaudited()
    const auditBefore = await auditLines()
    const { workspace } = workspaceWith('v4')
    const run = await runAction(
      deployInputs(host, { 'dry-run': 'true', 'client-max-body-size': '20m' }),
      { workspace }
    )
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Dry run: nothing was changed')
    expect(run.stdout).toContain('+    client_max_body_size 20m;')
    expect(run.summary).toContain('Diff against the server')
    expect(await unaudited()).toBe(before)
    const auditAfter = await auditLines()
    expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore)
    expect(auditAfter.slice(auditBefore.length)).toEqual([
      expect.stringMatching(/ mode="deploy \(dry run\)" .* result="success"$/)
    ])
    expect((await health(host)).version).toBe('v2')
  })
})

describe('deploy as a non-root user through sudo -n', () => {
  let host: TestHost

  beforeAll(async () => {
    host = await bootHost('deploy-sudo')
  })
  afterAll(async () => {
    await host?.stop()
  })

  test('deploy with passwordless sudo serves the project', async () => {
    const { workspace } = workspaceWith('v1')
    const run = await runAction(deployInputs(host, {}, 'deploy'), { workspace })
    expect(run.code).toBe(0)
    expect((await health(host)).release).toBe(run.outputs.release)
    expect((await get(host, '/static/notes/site.css')).status).toBe(200)
    // The release belongs to root: the app user cannot change the code it runs.
    expect(
      (
        await host.exec(`stat -c %U /srv/mysite/releases/${run.outputs.release}/manage.py`)
      ).stdout.trim()
    ).toBe('root')
  })

  test('a user whose sudo asks for a password gets a clear error, not a hang', async () => {
    const { workspace } = workspaceWith('v1')
    const started = Date.now()
    const run = await runAction({ ...deployInputs(host), username: 'nopass' }, { workspace })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/sudo on nopass@\S+ asks for a password/)
    expect(run.stdout).toContain('NOPASSWD')
    expect(Date.now() - started).toBeLessThan(30000)
  })

  test('a host without python3-venv gets an error naming the package to install', async () => {
    // What a minimal Debian or Ubuntu server looks like: python3 without ensurepip.
    await host.exec('mv /usr/lib/python3.11/ensurepip /usr/lib/python3.11/ensurepip.off')
    try {
      const { workspace } = workspaceWith('v2')
      const run = await runAction(deployInputs(host, {}, 'deploy'), { workspace })
      expect(run.code).toBe(1)
      expect(run.stdout).toMatch(
        /::error.*cannot create a venv: install the package python3\.11-venv/
      )
      // Nothing changed on the host: the release from before still serves.
      expect((await health(host)).version).toBe('v1')
    } finally {
      await host.exec('mv /usr/lib/python3.11/ensurepip.off /usr/lib/python3.11/ensurepip')
    }
  })

  test('no script shows in ps: while a long pre-restart runs, no process on the host shows it', async () => {
    const { workspace } = workspaceWith('v1-quiet')
    const deploying = runAction(
      deployInputs(
        host,
        { 'pre-restart': 'sleep 4; echo marker-xyz', dotenv: 'FIXTURE_MESSAGE=on-stdin' },
        'deploy'
      ),
      { workspace }
    )
    // Every process's arguments, unabridged, over and over until the deploy ends.
    const samples: string[] = []
    let done = false
    const sampling = (async () => {
      while (!done) samples.push((await host.exec('ps -ww -eo args')).stdout)
    })()
    const run = await deploying.finally(() => (done = true))
    await sampling
    expect(run.code).toBe(0)
    // The hook ran, and ps was read while it slept.
    expect(run.stdout).toContain('marker-xyz')
    expect(samples.some((ps) => /^sleep 4$/m.test(ps))).toBe(true)
    for (const ps of samples) expect(ps).not.toContain('marker-xyz')
    // The step's own stdin still arrived: the .env text, the source.
    expect(await health(host)).toMatchObject({ version: 'v1-quiet', env: 'on-stdin' })
  })
})
