// One run finds every problem: the first Django process (the discover step, or the Django process
// when the settings were recorded) run by the runner's python3 in a project laid out as
// cookiecutter-django lays it out, against a stand-in `django` and `environ` (django-environ).

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DISCOVER_PY, parseProjectSettings } from '../src/server/discover.js'
import { DJANGO_PY } from '../src/server/manage.js'
import {
  parsePreflight,
  PROBLEMS,
  problemsMessage,
  type PreflightCheck
} from '../src/server/preflight.js'

const STAND_IN: Record<string, string> = {
  'lib/django/__init__.py': 'VERSION = (5, 2)\ndef setup():\n    print("SETUP")\n',
  'lib/django/apps/__init__.py': 'class Apps:\n    ready = False\napps = Apps()\n',
  'lib/django/conf/__init__.py': `
import importlib, os
class LazySettings:
    FORCE_SCRIPT_NAME = None
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(importlib.import_module(os.environ['DJANGO_SETTINGS_MODULE']), name)
settings = LazySettings()
`,
  'lib/django/core/__init__.py': '',
  'lib/django/core/exceptions.py':
    'class AppRegistryNotReady(Exception):\n    pass\nclass ImproperlyConfigured(Exception):\n    pass\n',
  'lib/django/core/files/__init__.py': '',
  'lib/django/core/files/storage.py':
    "class FileSystemStorage:\n    location = '/srv/bookshelf/shared/media'\ndefault_storage = FileSystemStorage()\n",
  'lib/django/utils/__init__.py': '',
  'lib/django/utils/http.py': 'def is_same_domain(host, pattern):\n    return host == pattern\n',
  'lib/django/contrib/__init__.py': '',
  'lib/django/contrib/staticfiles/__init__.py': '',
  'lib/django/contrib/staticfiles/storage.py': 'staticfiles_storage = None\n',
  // django-environ as it says a variable it has not got.
  'lib/environ/__init__.py': `
import os
from django.core.exceptions import ImproperlyConfigured
class Env:
    def __call__(self, name, default=None):
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise ImproperlyConfigured('Set the %s environment variable' % name)
        return default
    def bool(self, name, default=None):
        return str(self(name, default)).lower() in ('1', 'true', 'yes', 'on')
`,
  // Celery as Debian installs it: the module, no `celery` script.
  'lib/celery/__init__.py': '',
  'lib/celery/__main__.py': '',
  // The project: cookiecutter-django's layout.
  'project/config/__init__.py': '',
  'project/config/wsgi.py': 'application = lambda environ, start_response: None\n',
  'project/config/settings/__init__.py': '',
  'project/config/settings/base.py': `
import os, environ
env = environ.Env()
DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'NAME': env('DATABASE_URL')}}
CELERY_BROKER_URL = os.environ['CELERY_BROKER_URL']
STATIC_URL = '/static/'
STATIC_ROOT = '/srv/bookshelf/releases/r1/staticfiles'
MEDIA_URL = '/media/'
MEDIA_ROOT = '/srv/bookshelf/shared/media'
INSTALLED_APPS = []
DEBUG = False
`,
  'project/config/settings/broken.py': 'import debug_toolbar\n',
  'project/config/settings/production.py': `
from .base import *
SECRET_KEY = env('DJANGO_SECRET_KEY')
ADMIN_URL = os.environ['DJANGO_ADMIN_URL']
REDIS_URL = env('REDIS_URL')
ALLOWED_HOSTS = env('DJANGO_ALLOWED_HOSTS', default='shop.example').split(',')
SECURE_SSL_REDIRECT = env.bool('DJANGO_SECURE_SSL_REDIRECT', default=True)
`
}

const CHECK: PreflightCheck = {
  application: { module: 'bookshelf.wsgi:application', input: 'wsgi-module' },
  tls: false,
  programs: [{ name: 'worker', program: 'celery', args: ['-A', 'config.celery_app', 'worker'] }],
  requirements: 'requirements/production.txt'
}

// The interpreter itself (python3 on PATH may be a wrapper that needs PATH).
const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8'
}).trim()

function run(
  program: string,
  args: string[],
  env: Record<string, string> = {}
): { stdout: string; stderr: string; code: number } {
  const root = mkdtempSync(join(tmpdir(), 'dda-preflight-'))
  for (const [path, text] of Object.entries(STAND_IN)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  mkdirSync(join(root, 'bin'))
  try {
    const stdout = execFileSync(PYTHON, ['-c', program, ...args], {
      cwd: join(root, 'project'),
      encoding: 'utf8',
      stdio: 'pipe',
      env: {
        PYTHONPATH: join(root, 'lib'),
        PATH: join(root, 'bin'),
        DJANGO_SETTINGS_MODULE: 'config.settings.production',
        DJANGO_SECRET_KEY: 'x',
        ...env
      }
    })
    return { stdout, stderr: '', code: 0 }
  } catch (error) {
    const e = error as { stdout: string; stderr: string; status: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.status }
  }
}

const discover = (check: PreflightCheck, env: Record<string, string> = {}) =>
  run(DISCOVER_PY, [JSON.stringify(check), 'shop.example'], env)

test('a first run names every problem at once, each with its fix, and reads no settings', () => {
  const result = discover(CHECK)
  expect(result.code).toBe(PROBLEMS)
  expect(parseProjectSettings(result.stdout)).toBeUndefined()
  const found = parsePreflight(result.stdout)
  expect(found?.problems.map((p) => p.cause)).toEqual([
    'The settings read environment variables that are not set: DATABASE_URL, CELERY_BROKER_URL, DJANGO_ADMIN_URL, REDIS_URL',
    'The WSGI module bookshelf.wsgi is not in the release',
    "The settings redirect HTTP to HTTPS (SECURE_SSL_REDIRECT), and this site has no TLS: every request, the health check's too, would get a redirect",
    "The program of the process worker, celery, is neither in the release's venv nor on PATH"
  ])
  const fixes = found?.problems.map((p) => p.fix) ?? []
  expect(fixes[0]).toContain(
    'Add DATABASE_URL, CELERY_BROKER_URL, DJANGO_ADMIN_URL, REDIS_URL to dotenv'
  )
  expect(fixes[1]).toBe(
    "Set the wsgi-module input to the project's application: found config.wsgi:application."
  )
  expect(fixes[2]).toContain('tls-certificate')
  expect(fixes[3]).toBe(
    'Run it as a module: command: python -m celery -A config.celery_app worker.'
  )
  expect(found?.warnings).toEqual([
    "No requirements file at requirements/production.txt: the venv has no packages of the project's own (set the requirements input)"
  ])
  const message = problemsMessage(found!, '')
  expect(message).toMatch(
    /^The release has 4 problems to fix before it can run:\n1\. The settings read/
  )
  expect(message).toMatch(/Nothing was migrated or switched\.$/)
  expect(message).not.toContain('apt-cache')
})

test('a settings module that is not there: the input named, the settings files of the release listed', () => {
  const result = discover(CHECK, { DJANGO_SETTINGS_MODULE: 'bookshelf.settings' })
  expect(result.code).toBe(PROBLEMS)
  const [problem] = parsePreflight(result.stdout)?.problems ?? []
  expect(problem).toEqual({
    cause: 'The settings module bookshelf.settings is not in the release',
    fix: "Set the settings-module input to the project's settings module: found config.settings.base, config.settings.broken, config.settings.production."
  })
})

test('nothing wrong: no problems, the settings read as before', () => {
  const result = discover(
    {
      ...CHECK,
      application: { module: 'config.wsgi:application', input: 'wsgi-module' },
      tls: true,
      programs: [{ name: 'worker', program: '/bin/sh', args: [] }],
      requirements: ''
    },
    {
      DATABASE_URL: 'postgres:///bookshelf',
      CELERY_BROKER_URL: 'redis://localhost:6379/0',
      DJANGO_ADMIN_URL: 'admin/',
      REDIS_URL: 'redis://localhost:6379/0'
    }
  )
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  expect(parsePreflight(result.stdout)).toBeUndefined()
  expect(parseProjectSettings(result.stdout)).toMatchObject({ sslRedirect: true, refusedHosts: [] })
})

test('the Django process of a run whose settings were recorded checks first, and does nothing else', () => {
  const work = { migrate: true, backup: false, collectstatic: false, check: false, commands: [] }
  const result = run(DJANGO_PY, [JSON.stringify({ ...work, preflight: CHECK }), '/nonexistent'])
  expect(result.code).toBe(PROBLEMS)
  expect(parsePreflight(result.stdout)?.problems).toHaveLength(4)
  expect(result.stdout).not.toContain('SETUP')
})

test('settings that cannot be imported for another reason: the cause, and the hint for it', () => {
  const result = discover(CHECK, { DJANGO_SETTINGS_MODULE: 'config.settings.broken' })
  expect(result.code).toBe(PROBLEMS)
  const found = parsePreflight(result.stdout)!
  expect(found.problems[0]).toMatchObject({
    cause:
      "The settings module config.settings.broken cannot be imported: ModuleNotFoundError: No module named 'debug_toolbar'"
  })
  expect(problemsMessage(found, 'r1')).toContain(
    "The module debug_toolbar is not installed in the release's venv"
  )
  expect(problemsMessage(found, 'r1')).toMatch(
    /Nothing was migrated or switched: r1 still serves\.$/
  )
})
