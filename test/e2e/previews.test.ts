// Previews on a real host, run as a GitHub runner runs the action: production and two previews of
// the same project on one host, each answering on its own name with its own code (VERSION) and
// data (its own SQLite in its own shared/); a preview's app user cannot read production's
// database or dotenv; preview-limit: 2 with a third preview removes the least recently deployed;
// remove of a preview leaves nothing of it while production answers 200 throughout. One host.
import { type ActionRun, runAction } from './action.js'
import { deployInputs, get, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const PRODUCTION = 'example.test'
const DOMAIN = 'preview.test'

beforeAll(async () => {
  host = await bootHost('previews')
})
afterAll(async () => {
  await host?.stop()
})

/** A deploy of its own code (VERSION = `version`): production, or the preview `preview`. */
function deploy(version: string, overrides: Record<string, string> = {}): Promise<ActionRun> {
  const { workspace } = workspaceWith(version)
  return runAction(deployInputs(host, { 'server-name': PRODUCTION, ...overrides }), { workspace })
}

const preview = (name: string, overrides: Record<string, string> = {}) =>
  deploy(name, { preview: name, 'preview-domain': DOMAIN, 'preview-limit': '2', ...overrides })

/** /healthz as the site named `name` answers it. */
async function healthOf(
  name: string
): Promise<{ status: number; version?: string; notes?: number }> {
  const page = await get(host, '/healthz', { Host: name })
  if (page.status !== 200) return { status: page.status }
  const body = JSON.parse(page.text) as { version: string; notes: number }
  return { status: 200, version: body.version, notes: body.notes }
}

/** `code` of a command on the host (0: it worked). */
const codeOf = async (cmd: string) => (await host.exec(cmd)).code

/** Everything of a preview the host could still hold, one line each. */
async function leftOf(name: string): Promise<string> {
  return onHost(
    host,
    [
      `ls -d /srv/mysite-${name} /etc/nginx/sites-*/mysite-${name} /etc/tmpfiles.d/gunicorn-mysite-${name}.conf /run/gunicorn-mysite-${name}* /var/lib/django-deploy-action/previews/mysite/${name} 2>/dev/null`,
      `ls /etc/systemd/system /run/systemd/system | grep -F mysite-${name} || true`,
      `id -u mysite-${name} 2>/dev/null || true`
    ].join('; ')
  )
}

describe('previews', () => {
  test('production and two previews answer on their own names with their own code and data', async () => {
    for (const run of [await deploy('production'), await preview('pr-1'), await preview('pr-2')])
      expect([run.code, run.outputs.status]).toEqual([0, 'success'])
    const pr1 = await preview('pr-1')
    expect(pr1.outputs.preview).toBe('pr-1')
    expect(pr1.outputs.url).toBe(`http://pr-1.${DOMAIN}`)

    // A row in production's database alone.
    await onHost(
      host,
      `python3 -c "import sqlite3; c = sqlite3.connect('/srv/mysite/shared/db.sqlite3'); c.execute(\\"insert into notes_note (text, created) values ('prod', '2026-01-01')\\"); c.commit()"`
    )
    expect(await healthOf(PRODUCTION)).toEqual({ status: 200, version: 'production', notes: 1 })
    expect(await healthOf(`pr-1.${DOMAIN}`)).toEqual({ status: 200, version: 'pr-1', notes: 0 })
    expect(await healthOf(`pr-2.${DOMAIN}`)).toEqual({ status: 200, version: 'pr-2', notes: 0 })
    expect(
      await onHost(
        host,
        'stat -c "%U" /srv/mysite/shared/db.sqlite3 /srv/mysite-pr-1/shared/db.sqlite3'
      )
    ).toBe('mysite\nmysite-pr-1\n')
  })

  test("a preview's app user cannot read production's database or dotenv", async () => {
    expect(await codeOf('runuser -u mysite-pr-1 -- cat /srv/mysite/shared/db.sqlite3')).not.toBe(0)
    expect(await codeOf('runuser -u mysite-pr-1 -- cat /srv/mysite/.deploy/env')).not.toBe(0)
    // The check can fail: production's own user reads its database.
    expect(await codeOf('runuser -u mysite -- cat /srv/mysite/shared/db.sqlite3 >/dev/null')).toBe(
      0
    )
  })

  test('preview-limit: 2 with a third preview removes the least recently deployed (pr-2)', async () => {
    // pr-1 was deployed again after pr-2: pr-2 is the least recently deployed.
    const run = await preview('pr-3')
    expect([run.code, run.outputs.status]).toEqual([0, 'success'])
    expect(run.stdout).toContain('Removing the preview mysite-pr-2: the least recently deployed')
    expect(await leftOf('pr-2')).toBe('')
    expect((await healthOf(`pr-1.${DOMAIN}`)).version).toBe('pr-1')
    expect((await healthOf(`pr-3.${DOMAIN}`)).version).toBe('pr-3')
    expect((await healthOf(PRODUCTION)).version).toBe('production')
  })

  test('remove of a preview leaves nothing of it; production and the other preview serve throughout', async () => {
    const statuses: number[] = []
    let done = false
    const load = (async () => {
      while (!done) {
        for (const name of [PRODUCTION, `pr-3.${DOMAIN}`])
          statuses.push(
            await get(host, '/healthz', { Host: name }).then(
              (r) => r.status,
              () => 0
            )
          )
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const run = await deploy('pr-1', {
      preview: 'pr-1',
      'preview-domain': DOMAIN,
      remove: 'true'
    }).finally(() => (done = true))
    await load
    expect([run.code, run.outputs.status]).toEqual([0, 'success'])
    expect(statuses.length).toBeGreaterThan(20)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(await leftOf('pr-1')).toBe('')
    expect((await healthOf(`pr-3.${DOMAIN}`)).version).toBe('pr-3')
    expect(await healthOf(PRODUCTION)).toEqual({ status: 200, version: 'production', notes: 1 })
  })
})
