// Previews on a real host, run as a GitHub runner runs the action: production and two previews of
// the same project on one host, each answering on its own name with its own code (VERSION) and
// data (its own SQLite in its own shared/); a preview's app user cannot read production's
// database or dotenv; preview-limit: 2 with a third preview removes the least recently deployed;
// remove of a preview leaves nothing of it while production answers 200 throughout; a preview
// with a PostgreSQL database of its own, empty or copied from a template, dropped with it, the
// admin's credentials nowhere in the log or the app's dotenv. One host.
import { type ActionRun, runAction } from './action.js'
import { deployInputs, edit, get, onHost, workspaceWith } from './fixture.js'
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
  const { workspace, project } = workspaceWith(version)
  // The project reads DATABASE_URL when it is set (as dj-database-url would).
  edit(project, 'mysite/settings.py', (text) => `${text}\n${DATABASE_URL_SETTINGS}`)
  return runAction(deployInputs(host, { 'server-name': PRODUCTION, ...overrides }), { workspace })
}

const DATABASE_URL_SETTINGS = `
if os.environ.get('DATABASE_URL'):
    from urllib.parse import urlsplit
    _url = urlsplit(os.environ['DATABASE_URL'])
    DATABASES['default'] = {
        'ENGINE': 'django.db.backends.postgresql', 'NAME': _url.path[1:], 'USER': _url.username,
        'PASSWORD': _url.password, 'HOST': _url.hostname, 'PORT': _url.port or 5432,
    }
`

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

  test("a new preview whose app user is there already (another project's) is refused, nothing made", async () => {
    await onHost(host, 'useradd --system --no-create-home mysite-pr-9')
    const run = await preview('pr-9', { 'preview-limit': '' })
    expect(run.outputs.status).toBe('failure')
    expect(run.stdout).toContain('but the user mysite-pr-9 is there already')
    expect(await codeOf('ls /srv/mysite-pr-9/releases')).not.toBe(0)
    expect(await codeOf('ls /var/lib/django-deploy-action/previews/mysite/pr-9')).not.toBe(0)
    expect(await onHost(host, 'userdel mysite-pr-9 && echo gone')).toBe('gone\n')
  })

  describe('a preview with a PostgreSQL database of its own', () => {
    const ADMIN_PASSWORD = 'adm-7f3c9e1b2d-pw'
    const ADMIN_URL = `postgres://previews_admin:${ADMIN_PASSWORD}@127.0.0.1:5432/postgres`
    /** A query as PostgreSQL's superuser, its rows one per line. */
    const sql = (query: string, database = 'postgres') =>
      onHost(host, `runuser -u postgres -- psql -X -d ${database} -tAc "${query}"`)
    /** A deploy of the preview `name` with its database, of the code `version`. */
    const withDatabase = (name: string, overrides: Record<string, string> = {}, version = name) =>
      deploy(version, {
        preview: name,
        'preview-domain': DOMAIN,
        'preview-database-url': ADMIN_URL,
        ...overrides
      })

    beforeAll(async () => {
      await onHost(host, 'systemctl start postgresql')
      // The admin a team would make for previews: no superuser, it may create databases and roles.
      await sql(`CREATE ROLE previews_admin LOGIN CREATEDB CREATEROLE PASSWORD '${ADMIN_PASSWORD}'`)
    })

    test('an empty database, migrated by the deploy; its URL in the dotenv, the admin nowhere', async () => {
      const run = await withDatabase('pr-db1')
      expect([run.code, run.outputs.status]).toEqual([0, 'success'])
      expect(run.stdout).toContain('created the database mysite_pr_db1')
      expect(await healthOf(`pr-db1.${DOMAIN}`)).toEqual({
        status: 200,
        version: 'pr-db1',
        notes: 0
      })
      // Migrated into its own database, by its own role.
      expect(
        await sql(
          "SELECT tableowner FROM pg_tables WHERE tablename = 'notes_note'",
          'mysite_pr_db1'
        )
      ).toBe('mysite_pr_db1\n')
      const env = await onHost(host, 'cat /srv/mysite-pr-db1/.deploy/env')
      expect(env).toMatch(
        /^DATABASE_URL="postgres:\/\/mysite_pr_db1:[0-9a-f]{32}@127\.0\.0\.1:5432\/mysite_pr_db1"$/m
      )
      expect(env).not.toContain(ADMIN_PASSWORD)
      // Masked: the runner is told to hide it, and no other line holds it.
      expect(run.stdout).toContain(`::add-mask::${ADMIN_PASSWORD}`)
      const shown = run.stdout.split('\n').filter((line) => !line.startsWith('::add-mask::'))
      expect(shown.join('\n')).not.toContain(ADMIN_PASSWORD)
      expect(JSON.stringify(run.outputs)).not.toContain(ADMIN_PASSWORD)
      // A second deploy keeps the database and its rows.
      await sql("INSERT INTO notes_note (text, created) VALUES ('kept', now())", 'mysite_pr_db1')
      const again = await withDatabase('pr-db1', {}, 'pr-db1 again')
      expect(again.stdout).toContain('the database mysite_pr_db1 exists: kept')
      expect(await healthOf(`pr-db1.${DOMAIN}`)).toEqual({
        status: 200,
        version: 'pr-db1 again',
        notes: 1
      })
    })

    test('a database copied from a template, its tables handed to the preview; remove drops it', async () => {
      // The template a team would keep: a copy of staging, the admin's, with a row of its own.
      await sql('CREATE DATABASE preview_seed OWNER previews_admin')
      await onHost(
        host,
        'runuser -u postgres -- pg_dump --no-owner mysite_pr_db1 | ' +
          `PGPASSWORD=${ADMIN_PASSWORD} psql -X -q -h 127.0.0.1 -U previews_admin -d preview_seed >/dev/null && ` +
          `PGPASSWORD=${ADMIN_PASSWORD} psql -X -h 127.0.0.1 -U previews_admin -d preview_seed -c "INSERT INTO notes_note (text, created) VALUES ('seed', now())"`
      )
      const run = await withDatabase('pr-db2', { 'preview-database-template': 'preview_seed' })
      if (run.code !== 0) throw new Error(`the deploy failed:\n${run.stdout}`)
      expect(run.stdout).toContain('created the database mysite_pr_db2 from preview_seed')
      expect(await healthOf(`pr-db2.${DOMAIN}`)).toEqual({
        status: 200,
        version: 'pr-db2',
        notes: 2
      })
      expect(
        await sql(
          "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
          'mysite_pr_db2'
        )
      ).toBe('mysite_pr_db2\n')
      // Its role reaches its own database alone: not another preview's (nor connects to it).
      const url = /^DATABASE_URL="(.*)"$/m.exec(
        await onHost(host, 'cat /srv/mysite-pr-db2/.deploy/env')
      )?.[1] as string
      const count = (database: string) =>
        host.exec(
          `psql -X -tA "${url.replace(/\/mysite_pr_db2$/, `/${database}`)}" -c 'SELECT count(*) FROM notes_note'`
        )
      expect((await count('mysite_pr_db2')).stdout).toBe('2\n')
      expect((await count('mysite_pr_db1')).code).not.toBe(0)

      // What the preview's code could do to make its role hard to drop: a large object elsewhere.
      await onHost(
        host,
        `psql -X -tA "${url.replace(/\/mysite_pr_db2$/, '/postgres')}" -c 'SELECT lo_create(0)'`
      )

      const removed = await deploy('pr-db2', {
        preview: 'pr-db2',
        'preview-domain': DOMAIN,
        'preview-database-url': ADMIN_URL,
        remove: 'true'
      })
      expect([removed.code, removed.outputs.status]).toEqual([0, 'success'])
      expect(
        await sql("SELECT datname FROM pg_database WHERE datname LIKE 'mysite_pr_db%' ORDER BY 1")
      ).toBe('mysite_pr_db1\n')
      expect(await sql("SELECT rolname FROM pg_roles WHERE rolname = 'mysite_pr_db2'")).toBe('')
      expect(await leftOf('pr-db2')).toBe('')
      expect((await healthOf(`pr-db1.${DOMAIN}`)).notes).toBe(1)
      expect((await healthOf(PRODUCTION)).version).toBe('production')
    })

    test("a role of the preview database's name that is someone else's is refused, left as it was", async () => {
      // Production's role, say, for a preview whose name makes the same one.
      await sql("CREATE ROLE mysite_pr_db3 LOGIN PASSWORD 'theirs-5e1f'")
      const run = await withDatabase('pr-db3')
      expect(run.outputs.status).toBe('failure')
      expect(run.stdout).toContain(
        "a role or a database named mysite_pr_db3 exists and is not this preview's"
      )
      expect(await sql("SELECT datname FROM pg_database WHERE datname = 'mysite_pr_db3'")).toBe('')
      // Its password is still its own, and nothing was uploaded.
      expect(
        await onHost(
          host,
          "PGPASSWORD=theirs-5e1f psql -X -tA -h 127.0.0.1 -U mysite_pr_db3 -d postgres -c 'SELECT 1'"
        )
      ).toBe('1\n')
      expect(await codeOf('ls /srv/mysite-pr-db3/releases')).not.toBe(0)
    })
  })
})
