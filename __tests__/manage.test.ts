// The one Django process (server/manage.ts DJANGO_PY), run by the runner's python3 against a
// stand-in `django` package that records each call: what runs, in which order, and what is
// decided in the process (migrate only when the plan has something to apply, the settings the
// plan assumed checked before anything else).

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  DISCOVER_PY,
  SETTINGS_CHANGED,
  parseProjectSettings,
  projectSettings,
  type ProjectSettings
} from '../src/server/discover.js'
import { DJANGO_PY, type DjangoWork } from '../src/server/manage.js'
import { parseMigrationPlan } from '../src/server/migrations.js'
import type { PreflightCheck } from '../src/server/preflight.js'

const FAKE: Record<string, string> = {
  'django/__init__.py': `
import os
VERSION = (5, 2)
def record(*what):
    with open(os.environ['FAKE_LOG'], 'a') as log:
        log.write(' '.join(str(w) for w in what) + '\\n')
def setup():
    from django.apps import apps
    apps.ready = True
    record('setup')
`,
  'django/apps/__init__.py': 'class Apps:\n    ready = False\napps = Apps()\n',
  // The settings: a static root and one SQLite file, MEDIA_ROOT from the environment.
  'django/conf/__init__.py': `
import os
class Settings:
    FORCE_SCRIPT_NAME = None
    STATIC_URL = '/static/'
    STATIC_ROOT = '/srv/shop/releases/r2/staticfiles'
    MEDIA_URL = '/media/'
    MEDIA_ROOT = os.environ.get('FAKE_MEDIA', '/srv/shop/shared/media')
    DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '/srv/shop/shared/db.sqlite3'}}
    INSTALLED_APPS = ['django.contrib.staticfiles']
    ALLOWED_HOSTS = ['shop.example']
    DEBUG = False
settings = Settings()
`,
  'django/core/__init__.py': '',
  'django/core/exceptions.py': 'class AppRegistryNotReady(Exception):\n    pass\n',
  'django/core/files/__init__.py': '',
  'django/core/files/storage.py':
    "class FileSystemStorage:\n    location = '/srv/shop/shared/media'\ndefault_storage = FileSystemStorage()\n",
  'django/utils/__init__.py': '',
  'django/utils/http.py': 'def is_same_domain(host, pattern):\n    return host == pattern\n',
  'django/contrib/staticfiles/storage.py': `
class StaticFilesStorage:
    pass
class Lazy:
    def _setup(self):
        self._wrapped = StaticFilesStorage()
staticfiles_storage = Lazy()
`,
  'django/core/management/base.py': 'class CommandError(Exception):\n    pass\n',
  'django/core/management/__init__.py': `
import os
from django import record
from django.core.management.base import CommandError
def call_command(name, *args, **options):
    name = name if isinstance(name, str) else type(name).__name__
    record(name, *args, *sorted('%s=%s' % o for o in options.items()))
    if name == os.environ.get('FAIL'):
        raise CommandError('%s went wrong' % name)
`,
  'django/db/__init__.py': `
import os
class Connection:
    vendor = 'sqlite'
    settings_dict = {'NAME': os.environ['FAKE_DB']}
DEFAULT_DB_ALIAS = 'default'
connections = {'default': Connection()}
`,
  'django/db/migrations/__init__.py': '',
  'django/db/migrations/executor.py': `
import os
class Operation:
    reversible = True
class Migration:
    def __init__(self, name):
        self.app_label, self.name = name.split('.')
        self.operations = [Operation()]
class Graph:
    def leaf_nodes(self):
        return []
class Loader:
    graph = Graph()
class MigrationExecutor:
    loader = Loader()
    def __init__(self, connection):
        pass
    def migration_plan(self, targets):
        return [(Migration(n), False) for n in os.environ.get('PENDING', '').split(',') if n]
`,
  // The project's WSGI module: FAKE_WSGI=missing imports a package the venv lacks.
  'shop/__init__.py': '',
  'shop/settings.py': '',
  'shop/wsgi.py': `
import os
from django import record
if os.environ.get('FAKE_WSGI') == 'missing':
    import sentry_sdk_not_installed
record('import shop.wsgi')
def application(environ, start_response):
    pass
`,
  'django/contrib/__init__.py': '',
  'django/contrib/staticfiles/__init__.py': '',
  'django/contrib/staticfiles/management/__init__.py': '',
  'django/contrib/staticfiles/management/commands/__init__.py': '',
  'django/contrib/staticfiles/management/commands/collectstatic.py': 'class Command:\n    pass\n'
}

const WORK: DjangoWork = {
  migrate: true,
  backup: true,
  collectstatic: true,
  check: true,
  commands: [['compress', '--force']]
}

function runDjango(
  work: DjangoWork,
  env: { PENDING?: string; FAIL?: string; FAKE_MEDIA?: string; FAKE_WSGI?: string } = {},
  program = DJANGO_PY,
  args?: string[]
): { calls: string[]; stdout: string; stderr: string; code: number; folder: string } {
  const root = mkdtempSync(join(tmpdir(), 'dda-manage-'))
  for (const [path, text] of Object.entries(FAKE)) {
    mkdirSync(dirname(join(root, 'lib', path)), { recursive: true })
    writeFileSync(join(root, 'lib', path), text)
  }
  const folder = join(root, 'work')
  mkdirSync(folder)
  const db = join(root, 'db.sqlite3')
  execFileSync('python3', [
    '-c',
    `import sqlite3; sqlite3.connect('${db}').execute('create table t (x)')`
  ])
  const log = join(root, 'calls')
  writeFileSync(log, '')
  let stdout: string
  let stderr = ''
  let code = 0
  try {
    stdout = execFileSync('python3', ['-c', program, ...(args ?? [JSON.stringify(work), folder])], {
      encoding: 'utf8',
      stdio: 'pipe',
      env: {
        ...process.env,
        PYTHONPATH: join(root, 'lib'),
        DJANGO_SETTINGS_MODULE: 'shop.settings',
        FAKE_LOG: log,
        FAKE_DB: db,
        ...env
      }
    })
  } catch (error) {
    const e = error as { stdout: string; stderr: string; status: number }
    ;({ stdout, stderr, status: code } = e)
  }
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  return { calls, stdout, stderr, code, folder }
}

/** What WORK does when a migration is unapplied, in order. */
const MIGRATING = [
  'setup',
  'Collect interactive=False',
  'check deploy=True fail_level=WARNING',
  'migrate interactive=False',
  'compress --force'
]

test('nothing to apply: one setup, the static files and the checks, and no migrate', () => {
  const run = runDjango(WORK)
  expect(run.code).toBe(0)
  expect(run.calls).toEqual([
    'setup',
    'Collect interactive=False',
    'check deploy=True fail_level=WARNING',
    'compress --force'
  ])
  expect(parseMigrationPlan(run.stdout)).toEqual({ pending: [], irreversible: [] })
  expect(existsSync(join(run.folder, 'backup'))).toBe(false)
  expect(existsSync(join(run.folder, 'migrated'))).toBe(false)
})

test('a migration to apply: the plan said, the backup taken, then migrate, then the build commands', () => {
  const run = runDjango(WORK, { PENDING: 'shop.0002_price' })
  expect(run.code).toBe(0)
  expect(run.calls).toEqual(MIGRATING)
  expect(parseMigrationPlan(run.stdout)?.pending).toEqual(['shop.0002_price'])
  // SQLite's online backup: a database file with the table.
  const tables = execFileSync('python3', [
    '-c',
    `import sqlite3; print(sqlite3.connect('${join(run.folder, 'backup')}').execute('select name from sqlite_master').fetchall())`
  ]).toString()
  expect(tables).toContain("('t',)")
  expect(existsSync(join(run.folder, 'migrated'))).toBe(true)
})

test('backup: false and migrate: false are said to the process', () => {
  const noBackup = runDjango({ ...WORK, backup: false }, { PENDING: 'shop.0002_price' })
  expect(noBackup.calls).toContain('migrate interactive=False')
  expect(existsSync(join(noBackup.folder, 'backup'))).toBe(false)
  const noMigrate = runDjango(
    { ...WORK, migrate: false, commands: [] },
    { PENDING: 'shop.0002_price' }
  )
  expect(noMigrate.calls).toEqual([
    'setup',
    'Collect interactive=False',
    'check deploy=True fail_level=WARNING'
  ])
  expect(parseMigrationPlan(noMigrate.stdout)).toBeUndefined()
})

test('a command that fails stops the process before migrate, said as manage.py says it', () => {
  const run = runDjango(WORK, { PENDING: 'shop.0002_price', FAIL: 'check' })
  expect(run.code).toBe(1)
  expect(run.stderr.trim()).toBe('CommandError: check went wrong')
  expect(run.calls).not.toContain('migrate interactive=False')
  expect(existsSync(join(run.folder, 'migrated'))).toBe(false)
})

describe('the WSGI application, imported as gunicorn will before anything else', () => {
  const withApp: DjangoWork = { ...WORK, application: 'shop.wsgi:application' }

  test('it imports: then the work as before', () => {
    const run = runDjango(withApp, { PENDING: 'shop.0002_price' })
    expect(run.code).toBe(0)
    expect(run.calls).toEqual(['setup', 'import shop.wsgi', ...MIGRATING.slice(1)])
  })

  test('it cannot: the process stops with the exception last, nothing collected, migrated or built', () => {
    const run = runDjango(withApp, { PENDING: 'shop.0002_price', FAKE_WSGI: 'missing' })
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n').pop()).toBe(
      "ModuleNotFoundError: No module named 'sentry_sdk_not_installed'"
    )
    expect(run.calls).toEqual(['setup'])
    expect(existsSync(join(run.folder, 'backup'))).toBe(false)
    expect(existsSync(join(run.folder, 'migrated'))).toBe(false)
  })

  test('a name that is not callable is refused as gunicorn refuses it', () => {
    const run = runDjango({ ...WORK, application: 'shop.wsgi:os' })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'TypeError: shop.wsgi:os is not callable: gunicorn cannot serve it'
    )
    expect(run.calls).toEqual(['setup', 'import shop.wsgi'])
  })
})

/** What the stand-in's settings say, read as the discover step reads them. */
function discovered(env: { FAKE_MEDIA?: string } = {}): NonNullable<ProjectSettings['printed']> {
  const check: PreflightCheck = { tls: false, programs: [], requirements: '' }
  const run = runDjango(WORK, env, DISCOVER_PY, [JSON.stringify(check), 'shop.example'])
  expect(run.code).toBe(0)
  return parseProjectSettings(run.stdout)?.printed ?? {}
}

describe('a plan made with the live release settings', () => {
  test('the settings say the same: checked without setup first, then the work as before', () => {
    const expect_ = discovered()
    expect(projectSettings(expect_)).toMatchObject({
      staticRoot: '/srv/shop/releases/r2/staticfiles',
      mediaRoot: '/srv/shop/shared/media',
      refusedHosts: [],
      staticStorage: 'django.contrib.staticfiles.storage.StaticFilesStorage'
    })
    const run = runDjango(
      { ...WORK, settings: { expect: expect_, hosts: ['shop.example'] } },
      { PENDING: 'shop.0002_price' }
    )
    expect(run.code).toBe(0)
    expect(run.calls).toEqual(MIGRATING)
  })

  test('the settings say other things: nothing done, what they say now printed, its own exit', () => {
    const before = discovered()
    const run = runDjango(
      { ...WORK, settings: { expect: before, hosts: ['shop.example'] } },
      { PENDING: 'shop.0002_price', FAKE_MEDIA: '/srv/shop/shared/uploads' }
    )
    expect(run.code).toBe(SETTINGS_CHANGED)
    expect(run.calls).toEqual([])
    expect(existsSync(join(run.folder, 'backup'))).toBe(false)
    expect(run.stderr).toContain("The project's settings say other things")
    const now = parseProjectSettings(run.stdout)?.printed
    expect(now).toEqual({ ...before, MEDIA_ROOT: '/srv/shop/shared/uploads' })
  })

  test('a name the settings refuse now is a difference too', () => {
    const run = runDjango({
      ...WORK,
      settings: { expect: discovered(), hosts: ['shop.example', 'www.shop.example'] }
    })
    expect(run.code).toBe(SETTINGS_CHANGED)
    expect(parseProjectSettings(run.stdout)?.refusedHosts).toEqual(['www.shop.example'])
  })
})
