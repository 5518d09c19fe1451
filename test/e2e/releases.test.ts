// Releases you can trust: Django steps, shared state, rollback (automatic and manual), the lock,
// hooks, pruning and TLS, one host through a realistic history of deploys.
import { writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { runAction } from './action.js'
import {
  breakUnderGunicorn,
  deployInputs,
  get,
  health,
  newCommit,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const releases: Record<string, string> = {}

beforeAll(async () => {
  host = await bootHost('releases')
})
afterAll(async () => {
  await host?.stop()
})

async function deploy(
  version: string,
  inputs: Record<string, string> = {},
  change?: (project: string) => void,
  onStdout?: (text: string) => void
) {
  const { workspace, project } = workspaceWith(version)
  change?.(project)
  // Each version its own commit: one commit deployed twice in a second is refused.
  const run = await runAction(deployInputs(host, inputs), {
    workspace,
    env: newCommit(),
    onStdout
  })
  if (run.outputs.release) releases[version] = run.outputs.release
  return run
}

const lockText = async () => (await host.exec('cat /srv/mysite/.deploy.lock')).stdout

test('v1 then v2: v2 is served and the v1 release is kept', async () => {
  expect((await deploy('v1')).code).toBe(0)
  const run = await deploy('v2', {
    'post-deploy': 'echo "$(basename "$PWD")" > /srv/mysite/shared/post-deploy.txt'
  })
  expect(run.code).toBe(0)
  expect(run.outputs['previous-release']).toBe(releases.v1)
  expect(await health(host)).toMatchObject({ version: 'v2', release: releases.v2 })
  expect((await host.exec(`test -d /srv/mysite/releases/${releases.v1}`)).code).toBe(0)
  // post-deploy ran in the new release, as the app user.
  expect((await host.exec('cat /srv/mysite/shared/post-deploy.txt')).stdout.trim()).toBe(
    releases.v2
  )
  expect((await host.exec('stat -c %U /srv/mysite/shared/post-deploy.txt')).stdout.trim()).toBe(
    'mysite'
  )
  expect(await lockText()).toBe('')
})

test('a release whose WSGI import fails is rolled back, and the summary names the ImportError', async () => {
  // Broken only where gunicorn imports it: the Django process's own import, before migrate,
  // succeeds, so this is the instance's check that fails (test/e2e/verdict.test.ts: the other).
  const run = await deploy('broken', { 'health-timeout': '8' }, (project) =>
    breakUnderGunicorn(project)
  )
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('rolled-back')
  expect(run.summary).toContain("ImportError: cannot import name 'no_such_name'")
  expect(run.stdout).toMatch(
    /::error title=Deploy to .* rolled back::.*ImportError: cannot import name 'no_such_name'/
  )
  // It never got a request: it failed its own check before any traffic moved.
  expect(run.summary).toContain(`nothing was switched, ${releases.v2} still serves`)
  expect(await health(host)).toMatchObject({ version: 'v2', release: releases.v2 })
  // Kept for inspection, marked as failed.
  expect((await host.exec(`test -f /srv/mysite/.deploy/failed/${releases.broken}`)).code).toBe(0)
  expect(await lockText()).toBe('')
})

test('a migration that fails switches nothing', async () => {
  const run = await deploy('badmigration', {}, (project) =>
    writeFileSync(
      join(project, 'notes/migrations/0002_fails.py'),
      'from django.db import migrations\n\n' +
        'def fail(apps, schema_editor):\n    raise RuntimeError("this migration fails on purpose")\n\n' +
        "class Migration(migrations.Migration):\n    dependencies = [('notes', '0001_initial')]\n" +
        '    operations = [migrations.RunPython(fail)]\n'
    )
  )
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('failure')
  expect(run.stdout).toMatch(
    /::error.*manage.py migrate \(when a migration is unapplied\).* failed/
  )
  expect(run.summary).toContain('this migration fails on purpose')
  expect(await health(host)).toMatchObject({ version: 'v2', release: releases.v2 })
  expect((await host.exec('readlink /srv/mysite/current')).stdout.trim()).toBe(
    `releases/${releases.v2}`
  )
})

test("check-deploy gates on Django's deployment checks", async () => {
  // The fixture's default SECRET_KEY is an insecure one: `check --deploy` warns (W009).
  const run = await deploy('insecure', { 'check-deploy': 'true' })
  expect(run.code).toBe(1)
  expect(run.summary).toContain('security.W009')
  expect(await health(host)).toMatchObject({ version: 'v2' })
})

test('a failing pre-restart hook switches nothing', async () => {
  const run = await deploy('badhook', { 'pre-restart': 'echo "cache warm-up failed" >&2; exit 3' })
  expect(run.code).toBe(1)
  expect(run.summary).toContain('cache warm-up failed')
  expect(await health(host)).toMatchObject({ version: 'v2' })
})

test('media written under v2 is still served after v3; dotenv reaches the app and no log', async () => {
  await host.exec(
    "runuser -u mysite -- sh -c 'echo uploaded-under-v2 > /srv/mysite/shared/media/upload.txt'"
  )
  expect((await get(host, '/media/upload.txt')).text).toBe('uploaded-under-v2\n')

  // A value whose name says secret is masked; the app gets both.
  const secret = `s3cr3t-${Date.now()}-value`
  const message = `hello-${Date.now()}`
  const run = await deploy('v3', {
    dotenv: `# settings\nFIXTURE_MESSAGE=${message}\nAPP_TOKEN=${secret}\nDJANGO_DEBUG=0\n`
  })
  expect(run.code).toBe(0)
  expect(await health(host)).toMatchObject({ version: 'v3', env: message })
  expect(await host.exec('grep -c APP_TOKEN= /srv/mysite/.deploy/env')).toMatchObject({
    stdout: '1\n'
  })
  expect((await get(host, '/media/upload.txt')).text).toBe('uploaded-under-v2\n')

  // The only place the value may appear is the line that asks the runner to mask it.
  const lines = run.stdout.split('\n').filter((line) => line.includes(secret))
  expect(lines).toEqual([`::add-mask::${secret}`])
  expect(run.summary).not.toContain(secret)
  expect(JSON.stringify(run.outputs)).not.toContain(secret)
  expect(run.stderr).not.toContain(secret)
  const env = await host.exec('stat -c "%a %U" /srv/mysite/.deploy/env')
  expect(env.stdout.trim()).toBe('600 root')
})

test('rollback: true switches to the previous good release without uploading', async () => {
  const before = (await host.exec('ls /srv/mysite/releases')).stdout
  const run = await runAction({ ...deployInputs(host), rollback: 'true', source: 'none' })
  expect(run.code).toBe(0)
  // Not the failed releases in between: the last good one before v3.
  expect(run.outputs.release).toBe(releases.v2)
  expect(await health(host)).toMatchObject({ version: 'v2', release: releases.v2 })
  expect((await host.exec('ls /srv/mysite/releases')).stdout).toBe(before)
})

/** Asks the host again and again until `done`; false if it never was within `ms`. */
async function until(done: () => Promise<boolean>, ms = 120_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await done()) return true
    await new Promise((r) => setTimeout(r, 200))
  }
  return false
}

/**
 * Whether a process on the host holds the deploy lock: flock -n finds it taken (not missing).
 * Asked only when no deploy may start: the probe holds the lock itself for a moment.
 */
const lockHeld = async () =>
  (await host.exec('flock -n -E 75 /srv/mysite/.deploy.lock true')).code === 75

/** What the lock file says: a run writes its holder there once it holds the lock. */
const lockHolder = async () => (await host.exec('cat /srv/mysite/.deploy.lock 2>/dev/null')).stdout

test('two deploys at once both end, one after the other, with no stray lock', async () => {
  // The overlap is made, not hoped for: the first deploy's pre-restart hook waits for a file the
  // test makes (up to 5 minutes), so the first holds the lock for as long as the test needs it
  // to, on a loaded machine too. The second starts once the host shows the lock held. (The file
  // is outside the deploy path, so the test can make it whatever the first has made by then.)
  const go = '/srv/releases-test-go'
  await host.exec(`rm -f ${go}`)
  const before = await lockHolder()
  const first = deploy('v4', {
    'pre-restart': `i=0; while [ ! -e ${go} ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done`
  })
  // The first holds the lock once its holder (a run of its own time) is in the file.
  expect(
    await until(async () => {
      const holder = await lockHolder()
      return holder !== before && holder.includes('run 4242')
    })
  ).toBe(true)

  let log = ''
  let waiting: () => void = () => {}
  const saidWaiting = new Promise<void>((resolve) => (waiting = resolve))
  const second = deploy('v5', {}, undefined, (text) => {
    log += text
    if (log.includes('Waiting for the deploy lock')) waiting()
  })
  // The first is let go once the second says it waits (or has ended, and the checks below fail).
  await Promise.race([saidWaiting, second])
  await host.exec(`touch ${go}`)
  const [a, b] = await Promise.all([first, second])

  expect([a.code, b.code]).toEqual([0, 0])
  expect(b.stdout).toMatch(/Waiting for the deploy lock, held by run 4242 of example\/mysite/)
  expect(a.stdout).not.toContain('Waiting for the deploy lock')
  // The second deployed after the first had ended: the first's release is the one it replaced.
  expect(b.outputs['previous-release']).toBe(releases.v4)
  expect((await host.exec('readlink /srv/mysite/current')).stdout.trim()).toBe(
    `releases/${releases.v5}`
  )
  expect(await health(host)).toMatchObject({ version: 'v5', release: releases.v5 })
  expect(await lockText()).toBe('')
  expect(await lockHeld()).toBe(false)
})

test('a deploy waits for a held lock up to lock-wait, then fails naming the holder', async () => {
  await host.exec(
    "echo 'run 99 of someone/else by alice' > /srv/mysite/.deploy.lock; setsid flock /srv/mysite/.deploy.lock sleep 20 >/dev/null 2>&1 < /dev/null &"
  )
  await new Promise((r) => setTimeout(r, 500))
  const run = await deploy('v6', { 'lock-wait': '2' })
  expect(run.code).toBe(1)
  expect(run.stdout).toMatch(/the deploy lock is held by: run 99 of someone\/else by alice/)
  await host.exec('pkill -f "flock /srv/mysite/.deploy.lock" || true')
})

test('a lock left by a killed run is taken over with a warning', async () => {
  // The holder's text is there but nobody holds the lock any more.
  await host.exec("echo 'run 77 of example/mysite by bob' > /srv/mysite/.deploy.lock")
  const run = await deploy('v7')
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(
    /::warning::Took over the deploy lock left by .*run 77 of example\/mysite by bob/
  )
  expect(await lockText()).toBe('')
})

test('keep-releases prunes old releases but never the live or the previous one', async () => {
  const run = await deploy('v8', { 'keep-releases': '2' })
  expect(run.code).toBe(0)
  const left = (await host.exec('ls /srv/mysite/releases')).stdout.trim().split('\n')
  expect(left).toEqual([releases.v7, releases.v8])
})

test('TLS: HTTPS answers 200 with the certificate on the host, HTTP redirects', async () => {
  await host.exec(
    'openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mysite.test -keyout /etc/ssl/private/mysite.key -out /etc/ssl/certs/mysite.pem 2>/dev/null'
  )
  const run = await deploy('v9', {
    'server-name': 'mysite.test',
    'tls-certificate': '/etc/ssl/certs/mysite.pem',
    'tls-certificate-key': '/etc/ssl/private/mysite.key'
  })
  expect(run.code).toBe(0)
  expect(run.outputs.url).toBe('https://mysite.test')
  const redirect = await get(host, '/healthz', { Host: 'mysite.test' })
  expect(redirect.status).toBe(301)
  expect(redirect.headers.get('location')).toBe('https://mysite.test/healthz')
  const secure = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: host.address,
        port: 443,
        path: '/healthz',
        headers: { Host: 'mysite.test' },
        servername: 'mysite.test',
        rejectUnauthorized: false
      },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }
    )
    req.on('error', reject)
    req.end()
  })
  expect(secure.status).toBe(200)
  expect(JSON.parse(secure.body)).toMatchObject({ version: 'v9', release: releases.v9 })
})
