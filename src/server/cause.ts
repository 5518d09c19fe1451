// Causes, not tracebacks: what a person reads first when a step or the health check failed is
// the exception's last line, then what to do about the causes users meet most.

import type { RunResult } from '../remote/connection.js'
import type { Settings } from '../settings.js'
import type { Step } from './step.js'

/** An exception line as Python prints it last: `module.Name: message` or a bare `NameError`. */
const EXCEPTION =
  /^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Warning|Interrupt|Host|Configured|Failure|DoesNotExist)(?::\s.*)?$/

/**
 * The cause in a step's output: the last exception line of the last traceback (Python prints the
 * cause last), else the last line that looks like an error, else the last line.
 */
export function causeOf(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  // A full disk is the cause of whatever failed after it (tar's or pip's last words are not).
  const full = lines.find((line) => DISK_FULL.test(line))
  if (full) return full
  const index = unreachableIndex(output)
  if (index) return `the server could not reach the package index ${index}`
  const exception = [...lines].reverse().find((line) => EXCEPTION.test(line))
  if (exception) return exception
  const error = [...lines].reverse().find((line) => /\b(error|failed|cannot|denied)\b/i.test(line))
  return error ?? lines[lines.length - 1] ?? ''
}

/** pip's words when it could not connect, and when it then found nothing to install. */
const CONNECTION_FAILED =
  /Retrying \(Retry\(.*(?:NewConnectionError|ConnectTimeoutError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|Connection refused)|Could not fetch URL \S+: .*(?:Max retries exceeded|connection)/i
const NOTHING_FOUND = /Could not find a version that satisfies|No matching distribution found/

/**
 * The package index pip could not reach (its URL), when that is why it found nothing: pip
 * retries, then says only that no version matches.
 */
export function unreachableIndex(output: string): string | undefined {
  if (!CONNECTION_FAILED.test(output) || !NOTHING_FOUND.test(output)) return undefined
  const looking = /Looking in indexes: (\S+?),?(?:\s|$)/.exec(output)?.[1]
  const fetched = /Could not fetch URL (https?:\/\/[^/\s]+)/.exec(output)?.[1]
  const host = /host='([^']+)'/.exec(output)?.[1]
  return looking ?? fetched ?? (host ? `https://${host}` : 'https://pypi.org/simple')
}

/** What a program says when the disk (or the user's quota) is full. */
export const DISK_FULL = /No space left on device|Disk quota exceeded|\bENOSPC\b/

interface Hint {
  when: RegExp
  hint: (match: RegExpMatchArray) => string
}

const HINTS: Hint[] = [
  {
    when: /the server could not reach the package index (\S+)/,
    hint: (m) =>
      `pip on the server could not connect to ${m[1]} (its retries are in the step's output): let the ` +
      'server reach it (a firewall, a proxy: PIP_INDEX_URL or pip.conf for a mirror), or set ' +
      'system-site-packages: true and install the packages from Debian.'
  },
  {
    when: /sqlite3\.OperationalError: (unable to open database file|attempt to write a readonly database)/,
    hint: () =>
      'The SQLite database cannot be written where the settings put it. A database inside the ' +
      'release is kept in shared/ by itself; one elsewhere must be in a folder the app may write: ' +
      'under the deploy path (shared/), or named in writable-paths.'
  },
  {
    when: /ModuleNotFoundError: No module named '([\w.]+)'/,
    hint: (m) =>
      `The module ${m[1].split('.')[0]} is not installed in the release's venv: add the package that provides it ` +
      `to the requirements file (or, with system-site-packages: true, install the Debian package that ` +
      `provides it on the server: \`apt-cache search ${m[1].split('.')[0].replace(/_/g, '.')}\` finds it).`
  },
  {
    when: /KeyError: '([A-Za-z_][A-Za-z0-9_]*)'/,
    hint: (m) =>
      `The settings read the environment variable ${m[1]}, which is not set: put ${m[1]}=... in ` +
      'the dotenv input (from a secret).'
  },
  {
    when: /ImproperlyConfigured: (?:The )?(\w+) setting must not be empty|ImproperlyConfigured: Set the (\w+) environment variable/,
    hint: (m) =>
      `The setting ${m[1] ?? m[2]} is missing: set it in the settings, or from an environment ` +
      'variable put in the dotenv input (from a secret).'
  },
  {
    when: /DisallowedHost: Invalid HTTP_HOST header: '([^']+)'/,
    hint: (m) => `Add '${m[1].replace(/:\d+$/, '')}' to ALLOWED_HOSTS in the settings.`
  },
  {
    when: /redirects? (?:plain )?HTTP to HTTPS|answered 30[1278] to https:/,
    hint: () =>
      'The settings redirect HTTP to HTTPS (SECURE_SSL_REDIRECT), and this site has no TLS: set ' +
      'tls-certificate and tls-certificate-key (or tls: auto), or turn the redirect off for this host (for ' +
      'example from an environment variable set in dotenv).'
  }
]

/**
 * The top-level packages the inputs name as the project's own (settings-module, wsgi-module,
 * asgi-module): a module missing among them is an input to set, not a package to install.
 */
export function projectModules(
  s: Pick<Settings, 'settingsModule' | 'wsgiModule' | 'asgiModule'>
): string[] {
  const names = [s.settingsModule, s.wsgiModule, s.asgiModule ?? '']
  return [...new Set(names.filter(Boolean).map((name) => name.split(/[.:]/)[0]))]
}

const OWN_MODULE = /ModuleNotFoundError: No module named '([\w.]+)'/

/**
 * What to do next for a cause users meet often, or ''. `own`: the project's own packages
 * (projectModules), which no package index has.
 */
export function hintFor(text: string, own: readonly string[] = []): string {
  const missing = OWN_MODULE.exec(text)
  if (missing && own.includes(missing[1].split('.')[0]))
    return (
      `${missing[1]} is named by the inputs as the project's own module, and the release has no such ` +
      'module: set settings-module and wsgi-module (or asgi-module) to where they are in the ' +
      "repository (cookiecutter-django's layout: config.settings.production, config.wsgi:application)."
    )
  for (const { when, hint } of HINTS) {
    const match = when.exec(text)
    if (match) return hint(match)
  }
  return ''
}

/** A step that ran and failed: carries its output for the error, the log and the summary. */
export class StepError extends Error {
  /** the exception's last line, or what else reads as the cause */
  override readonly cause: string
  /** what to do next, for the causes users meet most; or '' */
  readonly hint: string
  constructor(
    readonly step: Step,
    readonly result: RunResult,
    own: readonly string[] = []
  ) {
    // The cause first (the last line of a traceback), what to do next, then the last lines.
    const cause = causeOf(result.stderr) || causeOf(result.stdout) || `exit ${result.code}`
    const hint = hintFor(`${cause}\n${result.stdout}\n${result.stderr}`, own)
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-30).join('\n')
    super(
      `${step.title} failed: ${cause}` +
        (hint ? `\n${hint}` : '') +
        (output && output !== cause ? `\n\nIts last lines (exit ${result.code}):\n${output}` : '')
    )
    this.cause = cause
    this.hint = hint
    this.name = 'StepError'
  }
}
