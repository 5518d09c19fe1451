// What the project's own settings say, read in the release before anything else of Django runs:
// where static and media files go, SQLite files and file storage (kept in shared/ when they are
// inside the release), django-compressor's mode, and which names ALLOWED_HOSTS refuses.

import type { Settings } from '../settings.js'
import { sh } from '../shell.js'
import { inRelease } from './sandbox.js'
import { healthHost, requestName } from './health.js'
import { layout } from './layout.js'
import type { Step } from './step.js'
import { pythonFile } from './python.js'
import { PREFLIGHT_FN, preflightCheck } from './preflight.js'

/** The mark of the settings' line (SETTINGS_MARK in python/settings.py). */
export const MARK = 'DJANGO-SETTINGS '

/**
 * The exit of a Django process whose settings no longer say what its plan assumed (the live
 * release's, see python/django_process.py): it stopped before changing anything, and printed
 * what they say now.
 */
export const SETTINGS_CHANGED = 75

/**
 * settings_facts(names): what the settings say, as a dict; the names are checked against
 * ALLOWED_HOSTS. print_facts() prints it as the one marked line the runner reads (MARK,
 * SETTINGS_MARK in python/settings.py). The start of the discover and the Django processes.
 */
export const SETTINGS_FN = pythonFile(new URL('./python/settings.py', import.meta.url))

/**
 * Finds every problem first (server/preflight.ts), then prints one marked JSON line; the check
 * and the names to check against ALLOWED_HOSTS come as arguments (python/discover.py).
 */
export const DISCOVER_PY =
  PREFLIGHT_FN + SETTINGS_FN + pythonFile(new URL('./python/discover.py', import.meta.url))

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
      sh`python -c ${DISCOVER_PY} ${JSON.stringify(preflightCheck(s))} ${hostNames(s)}`
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
