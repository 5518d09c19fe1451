// What the project's own settings say, read in the release before anything else of Django runs:
// where static and media files go, SQLite files and file storage (kept in shared/ when they are
// inside the release), django-compressor's mode, and which names ALLOWED_HOSTS refuses.

import type { Settings } from '../settings.js'
import { sh } from '../shell.js'
import { inRelease } from './sandbox.js'
import { healthHost, requestName } from './health.js'
import { layout } from './layout.js'
import type { Step } from './step.js'

const MARK = 'DJANGO-SETTINGS '

/**
 * The exit of a Django process whose settings no longer say what its plan assumed (the live
 * release's, see DJANGO_PY in server/manage.ts): it stopped before changing anything, and printed
 * what they say now.
 */
export const SETTINGS_CHANGED = 75

/**
 * settings_facts(names): what the settings say, as a dict; the names are checked against
 * ALLOWED_HOSTS. print_facts() prints it as the one marked line the runner reads.
 */
export const SETTINGS_FN = `
import json, os, sys, django
from django.conf import settings
from django.core.exceptions import AppRegistryNotReady
text = lambda value: str(value) if value else ''

def url(name):
    # As django.conf gives it (3.1+: a relative URL after the script prefix, FORCE_SCRIPT_NAME
    # once django.setup() ran) without importing django.urls, which imports the ORM.
    prefix = settings.FORCE_SCRIPT_NAME or '/'
    value = getattr(settings._wrapped, name, '') if hasattr(settings, '_wrapped') else getattr(settings, name, '')
    if not value or django.VERSION < (3, 1) or value.startswith(('http://', 'https://', '/')):
        return value
    return (prefix if prefix.endswith('/') else prefix + '/') + value

def read_settings(names):
    facts = {k: text(url(k) if k.endswith('_URL') else getattr(settings, k, ''))
             for k in ('STATIC_URL', 'STATIC_ROOT', 'MEDIA_URL', 'MEDIA_ROOT')}
    facts['SQLITE'] = [os.path.abspath(str(db.get('NAME') or '')) for db in settings.DATABASES.values()
                       if 'sqlite' in db.get('ENGINE', '') and str(db.get('NAME') or ':memory:') != ':memory:']
    from django.core.files.storage import FileSystemStorage, default_storage
    facts['STORAGE'] = os.path.abspath(str(default_storage.location)) if isinstance(default_storage, FileSystemStorage) else ''
    if 'compressor' in settings.INSTALLED_APPS:
        from compressor.conf import settings as compress
        facts['COMPRESS'] = {'enabled': bool(compress.COMPRESS_ENABLED), 'offline': bool(compress.COMPRESS_OFFLINE),
                             'root': text(compress.COMPRESS_ROOT), 'output': text(compress.COMPRESS_OUTPUT_DIR)}
    # django.http's validate_host, without importing django.http (and the ORM it imports).
    from django.utils.http import is_same_domain
    allowed = settings.ALLOWED_HOSTS or (['.localhost', '127.0.0.1', '[::1]'] if settings.DEBUG else [])
    valid = lambda name: any(pattern == '*' or is_same_domain(name, pattern) for pattern in allowed)
    facts['REFUSED_HOSTS'] = [name for name in names if not valid(name)]
    facts['SSL_REDIRECT'] = bool(getattr(settings, 'SECURE_SSL_REDIRECT', False))
    facts['DATABASE'] = str(settings.DATABASES.get('default', {}).get('ENGINE', ''))
    try:
        from django.contrib.staticfiles.storage import staticfiles_storage
        staticfiles_storage._setup()
        facts['STATIC_STORAGE'] = type(staticfiles_storage._wrapped).__module__ + '.' + type(staticfiles_storage._wrapped).__qualname__
    except AppRegistryNotReady:
        raise
    except Exception:
        facts['STATIC_STORAGE'] = ''
    return facts

# The settings answer all of it for most projects: the apps (every models module) are loaded,
# which is most of a process's time, only when something here needs them.
def settings_facts(names):
    try:
        return read_settings(names)
    except AppRegistryNotReady:
        django.setup()
        return read_settings(names)

def print_facts(facts):
    print('${MARK}' + json.dumps(facts))
`

/** Prints one marked JSON line; the names to check against ALLOWED_HOSTS come as arguments. */
export const DISCOVER_PY = `${SETTINGS_FN}
print_facts(settings_facts(sys.argv[1:]))
`

/** The names requests will carry: the server names (a wildcard as one of its names) or, for `_`, the health check's. */
export function hostNames(s: Settings): string[] {
  const names = s.serverNames.map((name) => (name === '_' ? healthHost(s) : requestName(name)))
  return [...new Set(names)]
}

export function discoverStep(s: Settings, id: string): Step {
  return {
    id: 'discover',
    phase: 'django',
    title: "Read the project's settings (static, media, databases, ALLOWED_HOSTS)",
    privileged: true,
    command: inRelease(
      s,
      id,
      'discover',
      [layout(s).shared],
      sh`python -c ${DISCOVER_PY} ${hostNames(s)}`
    )
  }
}

/**
 * What the project's settings say: read from what a Django process printed (validated), the
 * inputs of the same names winning over it; `{}` before they are read.
 */
export interface ProjectSettings {
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
  /** SQLite database files */
  sqlite?: string[]
  /** the default file storage's folder, when it is the file system */
  storage?: string
  compress?: {
    enabled: boolean
    offline: boolean
    root?: string
    output: string
    /** COMPRESS_OUTPUT_DIR is no folder below COMPRESS_ROOT: the plan refuses it */
    outputProblem?: string
  }
  /** names in hostNames() that Django's ALLOWED_HOSTS check refuses */
  refusedHosts?: string[]
  sslRedirect?: boolean
  /** the default database's ENGINE (a dotted module path) */
  databaseEngine?: string
  /** the class of the static files' storage (a dotted path) */
  staticStorage?: string
  /**
   * as the process printed them (not validated): what a later Django process compares with
   * its own, and what a deploy that went well records; none when nothing was read
   */
  printed?: Record<string, unknown>
}

const urlPrefix = (url: string) => {
  const withSlashes = `/${url.replace(/^\/+/, '').replace(/\/*$/, '/')}`
  return /^\/(?:[A-Za-z0-9_.~-]+\/)+$/.test(withSlashes) && !/\/\.\.?\//.test(withSlashes)
    ? withSlashes
    : undefined
}
const absolute = (path: unknown) =>
  typeof path === 'string' &&
  /^\/[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*\/?$/.test(path) &&
  !/\/\.\.?(\/|$)/.test(path)
    ? path.replace(/\/$/, '')
    : undefined
const name = (value: unknown) =>
  typeof value === 'string' && /^[A-Za-z0-9_.:[\]-]{1,253}$/.test(value) ? value : undefined

/**
 * COMPRESS_OUTPUT_DIR (django-compressor strips its slashes): a folder below COMPRESS_ROOT, a
 * name or a relative path. `..`, `.` or nothing would put the cache, which the app writes at run
 * time, on the static root itself or above it.
 */
function compressOutput(
  value: unknown
): Pick<NonNullable<ProjectSettings['compress']>, 'output' | 'outputProblem'> {
  // Not printed at all: django-compressor's default.
  if (value === undefined) return { output: 'CACHE' }
  const text = typeof value === 'string' ? value : ''
  const folder =
    /^[A-Za-z0-9_.@+-]{1,255}(?:\/[A-Za-z0-9_.@+-]{1,255}){0,15}$/.test(text) &&
    !text.split('/').some((part) => part === '.' || part === '..')
  if (folder) return { output: text }
  // Repeated only when it is plain (it comes from the server).
  const shown = /^[A-Za-z0-9_.@+/-]{0,100}$/.test(text) ? ` '${text}'` : ''
  return {
    output: 'CACHE',
    outputProblem:
      `COMPRESS_OUTPUT_DIR in the project's settings${shown} is not a folder below COMPRESS_ROOT ` +
      `(a name or a relative path of letters, digits and _ . - @ +, without . or .. parts): ` +
      `django-compressor would write its cache into the static files or beside them`
  }
}

/**
 * The marked line of a process's output. The last one counts: the project's settings run first
 * and may print anything, even a line like ours (which the plan then holds to the deploy path,
 * see plan.ts).
 */
export function parseProjectSettings(stdout: string): ProjectSettings | undefined {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(MARK))
    .pop()
  const printed = line === undefined ? undefined : settingsObject(line.slice(MARK.length))
  return printed && projectSettings(printed)
}

/** A JSON object, or undefined. */
export function settingsObject(json: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(json)
    return v && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * What another release's settings said, as this one's would say it: every path in the release
 * `from` moved to `to` (settings derive their paths from BASE_DIR, the release). The dry run
 * reads the live release's settings when the new one's cannot be; a warm deploy plans with the
 * live release's record.
 */
export function rebaseProjectSettings(
  s: Settings,
  said: ProjectSettings,
  fromRelease: string,
  toRelease: string
): ProjectSettings {
  if (fromRelease === toRelease) return said
  const p = layout(s)
  const [from, to] = [p.release(fromRelease), p.release(toRelease)]
  const move = (value: unknown): unknown =>
    typeof value === 'string'
      ? value === from || value.startsWith(`${from}/`)
        ? to + value.slice(from.length)
        : value
      : Array.isArray(value)
        ? value.map(move)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, move(v)]))
          : value
  return move(said) as ProjectSettings
}

/** What the settings say, from what a process printed; values from the server are validated like inputs. */
export function projectSettings(v: Record<string, unknown>): ProjectSettings {
  const str = (key: string) => (typeof v[key] === 'string' ? (v[key] as string) : '')
  const compress = v.COMPRESS as Record<string, unknown> | undefined
  return {
    staticUrl: str('STATIC_URL') ? urlPrefix(str('STATIC_URL')) : undefined,
    staticRoot: absolute(str('STATIC_ROOT')),
    mediaUrl: str('MEDIA_URL') ? urlPrefix(str('MEDIA_URL')) : undefined,
    mediaRoot: absolute(str('MEDIA_ROOT')),
    sqlite: Array.isArray(v.SQLITE) ? v.SQLITE.flatMap((p) => absolute(p) ?? []) : undefined,
    storage: absolute(str('STORAGE')),
    compress:
      compress && typeof compress === 'object'
        ? {
            enabled: compress.enabled === true,
            offline: compress.offline === true,
            root: absolute(compress.root),
            ...compressOutput(compress.output)
          }
        : undefined,
    refusedHosts: Array.isArray(v.REFUSED_HOSTS)
      ? v.REFUSED_HOSTS.flatMap((n) => name(n) ?? [])
      : undefined,
    sslRedirect: v.SSL_REDIRECT === true,
    databaseEngine: /^[A-Za-z_][\w.]{0,200}$/.test(str('DATABASE')) ? str('DATABASE') : undefined,
    staticStorage: /^[A-Za-z_][\w.]{0,200}$/.test(str('STATIC_STORAGE'))
      ? str('STATIC_STORAGE')
      : undefined,
    printed: v
  }
}
