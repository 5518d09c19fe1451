// A newcomer's first deploy of a project laid out as cookiecutter-django lays it out
// (test/fixtures/bookshelf): every mistake found in one run, before anything is migrated or
// switched; then a health path the project does not have fails the first deploy; the site's
// name stays readable while the secret key is masked.
import { type ActionRun, runAction } from './action.js'
import { annotations, checkout, deployInputs, newCommit, onHost } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

const NAME = 'bookshelf.test'
const SECRET_KEY = 'first-run-secret-key-0123456789abcdef'
let host: TestHost

const inputs = (overrides: Record<string, string>) =>
  deployInputs(host, {
    source: '.',
    'project-name': 'bookshelf',
    'settings-module': 'config.settings.production',
    'server-name': NAME,
    ...overrides
  })

/** The run's one error annotation. */
function error(run: ActionRun): string {
  const errors = annotations(run.stdout, 'error').filter((a) => a.title.startsWith('Deploy to'))
  expect(errors).toHaveLength(1)
  return errors[0].message
}

/** Nothing switched, and no table in the database: no migration applied. */
async function nothingChanged(): Promise<void> {
  expect((await host.exec('test -e /srv/bookshelf/current')).code).not.toBe(0)
  const tables = await onHost(
    host,
    `python3 -c "import os, sqlite3; p = '/srv/bookshelf/shared/db.sqlite3'; print(len(sqlite3.connect(p).execute('select name from sqlite_master').fetchall()) if os.path.exists(p) else 0)"`
  )
  expect(tables.trim()).toBe('0')
}

beforeAll(async () => {
  host = await bootHost('first-run')
})
afterAll(async () => {
  await host?.stop()
})

test('one run names every problem with its fix, before anything is migrated or switched', async () => {
  const run = await runAction(
    inputs({
      // The Celery of the README's example; Debian's python3-celery has no `celery` script.
      processes: 'worker: celery -A config.celery_app worker -l info',
      dotenv: `DJANGO_SECRET_KEY=${SECRET_KEY}\nDJANGO_ALLOWED_HOSTS=${NAME}`
    }),
    { env: newCommit(), workspace: checkout('bookshelf', 'one') }
  )
  expect(run.outputs.status).toBe('failure')
  const message = error(run)
  expect(message).toMatch(/^The release has 4 problems to fix before it can run:\n1\. /)
  expect(message).toContain(
    'The settings read environment variables that are not set: CELERY_BROKER_URL, REDIS_URL, DJANGO_ADMIN_URL, MAILGUN_API_KEY'
  )
  expect(message).toContain(
    'Add CELERY_BROKER_URL, REDIS_URL, DJANGO_ADMIN_URL, MAILGUN_API_KEY to dotenv'
  )
  expect(message).toContain('The WSGI module bookshelf.wsgi is not in the release')
  expect(message).toContain(
    "Set the wsgi-module input to the project's application: found config.wsgi:application."
  )
  expect(message).toContain('SECURE_SSL_REDIRECT')
  expect(message).toContain(
    "The program of the process worker, celery, is neither in the release's venv nor on PATH"
  )
  expect(message).toContain('python -m celery -A config.celery_app worker -l info')
  expect(message).toContain('Nothing was migrated or switched.')
  expect(message).not.toMatch(/apt-cache|not installed in the release's venv/)
  // The missing requirements file: said with them, as a warning.
  expect(message).toContain('Also: No requirements file at requirements.txt')
  await nothingChanged()
})

test("a health path the project does not have fails the first deploy; the site's name shows, the secret key never", async () => {
  const run = await runAction(
    inputs({
      'wsgi-module': 'config.wsgi:application',
      'health-path': '/healthz',
      dotenv: [
        `DJANGO_SECRET_KEY=${SECRET_KEY}`,
        `DJANGO_ALLOWED_HOSTS=${NAME}`,
        'DJANGO_SECURE_SSL_REDIRECT=False',
        'DJANGO_ADMIN_URL=admin/',
        'CELERY_BROKER_URL=redis://localhost:6379/0',
        'REDIS_URL=redis://localhost:6379/0',
        'MAILGUN_API_KEY=first-run-mailgun-key'
      ].join('\n')
    }),
    { env: newCommit(), workspace: checkout('bookshelf', 'two') }
  )
  expect(run.outputs.status).toBe('failure')
  const message = error(run)
  expect(message).toContain('health-path /healthz does not exist: the app answered 404 to it')
  expect(message).toContain('set health-expect')
  expect((await host.exec('test -e /srv/bookshelf/current')).code).not.toBe(0)
  // Masked by what is secret: the keys, never the site's name.
  expect(run.stdout).toContain(`::add-mask::${SECRET_KEY}`)
  expect(run.stdout).toContain('::add-mask::first-run-mailgun-key')
  expect(run.stdout).not.toContain(`::add-mask::${NAME}`)
  expect(run.summary).toContain(`Site: http://${NAME}`)
  expect(run.summary).not.toContain(SECRET_KEY)
})
