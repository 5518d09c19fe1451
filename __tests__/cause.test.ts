// The cause of a failure as a person should read it first, and the hint for the common ones.
import {
  causeOf,
  hintFor,
  projectModules,
  StepError,
  unreachableIndex
} from '../src/server/cause.js'
import { raw } from '../src/shell.js'

const MIGRATE_TRACEBACK = `Operations to perform:
  Apply all migrations: admin, auth, contenttypes, sessions
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/django/db/backends/base/base.py", line 219, in ensure_connection
    self.connect()
  File "/usr/lib/python3/dist-packages/django/db/backends/sqlite3/base.py", line 180, in get_new_connection
    conn = Database.connect(**conn_params)
sqlite3.OperationalError: unable to open database file

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/mysite/releases/r1/manage.py", line 22, in <module>
    main()
  File "/usr/lib/python3/dist-packages/django/db/backends/sqlite3/base.py", line 180, in get_new_connection
    conn = Database.connect(**conn_params)
django.db.utils.OperationalError: unable to open database file`

test("a traceback's cause is its last line, not its first", () => {
  expect(causeOf(MIGRATE_TRACEBACK)).toBe(
    'django.db.utils.OperationalError: unable to open database file'
  )
  expect(causeOf('ModuleNotFoundError: No module named "x"\n')).toBe(
    'ModuleNotFoundError: No module named "x"'
  )
  expect(causeOf('pip: error: something failed here\nmore text')).toBe(
    'pip: error: something failed here'
  )
  expect(causeOf('just a line')).toBe('just a line')
})

test.each([
  [MIGRATE_TRACEBACK.replace('django.db.utils', 'sqlite3'), /SQLite database cannot be written/],
  [
    "ModuleNotFoundError: No module named 'debug_toolbar'",
    /debug_toolbar .*apt-cache search debug.toolbar/
  ],
  ["KeyError: 'SECRET_KEY'", /environment variable SECRET_KEY.*dotenv/],
  [
    'django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.',
    /The setting SECRET_KEY is missing/
  ],
  [
    "DisallowedHost: Invalid HTTP_HOST header: 'example.com:80'",
    /Add 'example.com' to ALLOWED_HOSTS/
  ],
  [
    'the health check got 301 (answered 301 to https://example.com/: the settings redirect plain HTTP to HTTPS)',
    /SECURE_SSL_REDIRECT/
  ]
])('a hint for %s', (text, hint) => {
  expect(hintFor(text)).toMatch(hint)
})

test('no hint where none fits', () => {
  expect(hintFor('ValueError: something else')).toBe('')
})

test("a module the inputs name as the project's own: the inputs to set, never a package to install", () => {
  const own = projectModules({
    settingsModule: 'bookshelf.settings',
    wsgiModule: 'bookshelf.wsgi:application'
  })
  expect(own).toEqual(['bookshelf'])
  const hint = hintFor("ModuleNotFoundError: No module named 'bookshelf.wsgi'", own)
  expect(hint).toContain('settings-module and wsgi-module')
  expect(hint).toContain('config.wsgi:application')
  expect(hint).not.toContain('apt-cache')
  expect(hint).not.toContain('not installed')
  // Another package is still one to install.
  expect(hintFor("ModuleNotFoundError: No module named 'sentry_sdk'", own)).toContain('apt-cache')
})

test('a package index the server cannot reach is said first, not buried under the retries', () => {
  const pip = [
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/django/",
    "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/django/",
    'ERROR: Could not find a version that satisfies the requirement Django==5.2 (from versions: none)',
    'ERROR: No matching distribution found for Django==5.2'
  ].join('\n')
  expect(causeOf(pip)).toBe('the server could not reach the package index https://pypi.org/simple')
  const mirror = `Looking in indexes: https://pypi.internal/simple\n${pip}`
  expect(unreachableIndex(mirror)).toBe('https://pypi.internal/simple')
  const error = new StepError(
    { id: 'venv', phase: 'venv', title: 'Build the venv', privileged: false, command: raw('') },
    { code: 1, stdout: '', stderr: pip, durationMs: 1 }
  )
  expect(error.message).toMatch(
    /^Build the venv failed: the server could not reach the package index https:\/\/pypi\.org\/simple\npip on the server could not connect/
  )
  // A version that does not exist, with the index reached, is not that.
  expect(causeOf('ERROR: No matching distribution found for Django==9.9')).toBe(
    'ERROR: No matching distribution found for Django==9.9'
  )
})
