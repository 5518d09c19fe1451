// Causes first: a project whose settings cannot work on the server fails with the cause a person
// acts on (the exception's last line, never `Traceback`), what to do next, and the live release
// still serving. Each case is startproject with one change, as real projects get it wrong.
import { type ActionRun, runAction } from './action.js'
import {
  annotations,
  checkout,
  deployInputs,
  edit,
  get,
  newCommit,
  summaryCause,
  onHost
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

const NAME = 'example.test'
let host: TestHost
let live = ''

const must = (cmd: string) => onHost(host, cmd)

/** startproject set up for production at example.test, then changed by `change`. */
function project(version: string, change: (settings: string) => string = (text) => text): string {
  const workspace = checkout('startproject', version)
  edit(workspace, 'mysite/settings.py', (text) =>
    change(
      text
        .replace('DEBUG = True', 'DEBUG = False')
        .replace('ALLOWED_HOSTS = []', `ALLOWED_HOSTS = ['${NAME}']`)
    )
  )
  return workspace
}

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, { source: '.', 'server-name': NAME, 'health-path': '/status/', ...overrides })

/** The release that serves, as nginx and the app say. */
async function serving(): Promise<{ release: string; version: string }> {
  const page = await get(host, '/status/', { Host: NAME })
  if (page.status !== 200) throw new Error(`/status/ answered ${page.status}: ${page.text}`)
  const release = (await must('readlink /srv/mysite/current')).trim().replace(/^releases\//, '')
  return { release, version: (JSON.parse(page.text) as { version: string }).version }
}

/** The run's error annotation, line by line. */
function errorLines(run: ActionRun): string[] {
  const errors = annotations(run.stdout, 'error').filter((a) => a.title.startsWith('Deploy to'))
  expect(errors).toHaveLength(1)
  return errors[0].message.split('\n')
}

/**
 * A failed deploy read as a person reads it: the annotation and the summary both lead with
 * `first` (the cause, never a traceback's header) and hold `hint`; the live release still serves.
 */
async function explains(
  run: ActionRun,
  status: 'failure' | 'rolled-back',
  first: RegExp,
  hint: RegExp
): Promise<void> {
  if (run.outputs.status !== status)
    throw new Error(`expected ${status}, got ${run.outputs.status}:\n${run.stdout}`)
  expect(run.code).toBe(1)
  for (const lines of [errorLines(run), summaryCause(run.summary)]) {
    expect(lines[0]).toMatch(first)
    expect(lines[0]).not.toMatch(/Traceback/)
    expect(lines.join('\n')).toMatch(hint)
  }
  expect(run.summary).toMatch(new RegExp(`^## \\S+ Django deploy of mysite: ${status}\\n`))
  expect(await serving()).toEqual({ release: live, version: 'good' })
}

beforeAll(async () => {
  host = await bootHost('causes')
  const run = await runAction(inputs(), { env: newCommit(), workspace: project('good') })
  if (run.outputs.status !== 'success') throw new Error(`the good deploy failed:\n${run.stdout}`)
  live = run.outputs.release
})
afterAll(async () => {
  await host?.stop()
})

test("ALLOWED_HOSTS without the server name: stopped before the switch, naming ALLOWED_HOSTS and 'example.test'", async () => {
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('old-hosts', (text) =>
      text.replace(`ALLOWED_HOSTS = ['${NAME}']`, "ALLOWED_HOSTS = ['old.example.com']")
    )
  })
  await explains(
    run,
    'failure',
    /^ALLOWED_HOSTS in the project's settings does not allow 'example\.test'/,
    /Add 'example\.test' to ALLOWED_HOSTS/
  )
  // The Django process found the settings changed and stopped first: nothing migrated.
  expect(run.stdout).toContain(
    "The project's settings say other things than the live release's did"
  )
  expect(run.stdout).not.toMatch(/Operations to perform|Applying /)
})

test('a SQLite database in a folder the app cannot write: the OperationalError, and where a database may be', async () => {
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('nowhere', (text) =>
      text.replace("BASE_DIR / 'db.sqlite3'", "'/var/lib/nowhere/db.sqlite3'")
    )
  })
  await explains(
    run,
    'failure',
    // The first to open the database: the migration plan, read before migrate.
    /^manage\.py migrate \(when a migration is unapplied\)[\w ,-]* failed: django\.db\.utils\.OperationalError: unable to open database file$/,
    /The SQLite database cannot be written where the settings put it\. .*writable-paths/
  )
})

test('an app in INSTALLED_APPS that is not installed: ModuleNotFoundError, and the package to add', async () => {
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('no-module', (text) =>
      text.replace(
        "    'django.contrib.staticfiles',\n]",
        "    'django.contrib.staticfiles',\n    'debug_toolbar',\n]"
      )
    )
  })
  await explains(
    run,
    'failure',
    /failed: ModuleNotFoundError: No module named 'debug_toolbar'$/,
    /The module debug_toolbar is not installed in the release's venv: add the package that provides it to the requirements file/
  )
})

test('SECRET_KEY from an environment variable the server lacks: named before anything runs, and dotenv', async () => {
  const fromEnvironment = (text: string) =>
    `import os\n${text.replace(/^SECRET_KEY = .*$/m, "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']")}`
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('no-env', fromEnvironment)
  })
  await explains(
    run,
    'failure',
    /^The release has a problem to fix before it can run:$/,
    /The settings read environment variables that are not set: DJANGO_SECRET_KEY\.\n\s*Add DJANGO_SECRET_KEY to dotenv/
  )
})

test('an empty SECRET_KEY: ImproperlyConfigured, and the setting to set', async () => {
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('empty-key', (text) => text.replace(/^SECRET_KEY = .*$/m, "SECRET_KEY = ''"))
  })
  await explains(
    run,
    'failure',
    /failed: django\.core\.exceptions\.ImproperlyConfigured: The SECRET_KEY setting must not be empty\.$/,
    /The setting SECRET_KEY is missing: set it in the settings, or from an environment variable put in the dotenv input/
  )
})

test('settings that redirect HTTP to HTTPS on a site without TLS: found before anything runs, and what to set', async () => {
  const run = await runAction(inputs(), {
    env: newCommit(),
    workspace: project('ssl-redirect', (text) => `${text}\nSECURE_SSL_REDIRECT = True\n`)
  })
  await explains(
    run,
    'failure',
    /^The release has a problem to fix before it can run:$/,
    /The settings redirect HTTP to HTTPS \(SECURE_SSL_REDIRECT\), and this site has no TLS[\s\S]*Set tls-certificate/
  )
})

test('after the failures, the fix the hint gave deploys; a rollback goes back to the good release, past every failed one', async () => {
  const fromEnvironment = (text: string) =>
    `import os\n${text.replace(/^SECRET_KEY = .*$/m, "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']")}`
  const fixed = await runAction(
    inputs({ dotenv: 'DJANGO_SECRET_KEY=a-secret-key-from-a-secret' }),
    {
      env: newCommit(),
      workspace: project('fixed', fromEnvironment)
    }
  )
  if (fixed.outputs.status !== 'success') throw new Error(`the fix failed:\n${fixed.stdout}`)
  expect((await serving()).version).toBe('fixed')

  const back = await runAction(inputs({ rollback: 'true' }), { env: newCommit() })
  if (back.outputs.status !== 'success') throw new Error(`the rollback failed:\n${back.stdout}`)
  expect(await serving()).toEqual({ release: live, version: 'good' })
})
