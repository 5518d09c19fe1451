// Every problem a first run can find, found at once, before anything is migrated or switched:
// the first Django process (the discover step, or the Django process when the settings were
// recorded) runs python/preflight.py before anything else. It names each environment variable the
// settings lack, a settings or WSGI/ASGI module that is not in the release (with the files that
// are), an HTTPS redirect on a site without TLS, each process's program that is not there, and a
// missing requirements file; the run then stops with all of them in one message.

import type { Settings } from '../settings.js'
import { hintFor } from './cause.js'
import { pythonFile } from './python.js'

/** The mark of the problems' line (PROBLEMS_MARK in python/preflight.py). */
export const PROBLEMS_MARK = 'DJANGO-PROBLEMS '

/** The exit of a process that found problems before doing anything (PROBLEMS in preflight.py). */
export const PROBLEMS = 76

/** preflight(check): python/preflight.py, sent before the settings' functions. */
export const PREFLIGHT_FN = pythonFile(new URL('./python/preflight.py', import.meta.url))

/** What the process checks besides the settings module (DJANGO_SETTINGS_MODULE). */
export interface PreflightCheck {
  /** the application gunicorn imports, and the input that names it */
  application?: { module: string; input: 'wsgi-module' | 'asgi-module' }
  /** the site has TLS (a certificate, or tls: auto): an HTTPS redirect is fine */
  tls: boolean
  /** each process's and schedule's program (its first word) */
  programs: Array<{ name: string; program: string; args: string[] }>
  /** the requirements file, relative to the release */
  requirements: string
}

export function preflightCheck(s: Settings): PreflightCheck {
  const application = s.asgiModule
    ? { module: s.asgiModule, input: 'asgi-module' as const }
    : { module: s.wsgiModule, input: 'wsgi-module' as const }
  return {
    application,
    tls: !!s.tlsCertificate || !!s.acme,
    programs: [...s.processes, ...s.schedules].map((p) => ({
      name: p.name,
      program: p.command[0],
      args: p.command.slice(1)
    })),
    requirements: s.requirements
  }
}

export interface Problem {
  cause: string
  fix: string
  /** the environment variables the settings lack */
  variables?: string[]
}

export interface Preflight {
  problems: Problem[]
  warnings: string[]
}

const text = (value: unknown, max = 2000): string =>
  typeof value === 'string' ? value.slice(0, max) : ''

/** The problems' line of a process's output (the last one counts, as the settings' line). */
export function parsePreflight(stdout: string): Preflight | undefined {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(PROBLEMS_MARK))
    .pop()
  if (line === undefined) return undefined
  try {
    const v = JSON.parse(line.slice(PROBLEMS_MARK.length)) as Record<string, unknown>
    const problems = Array.isArray(v.problems) ? (v.problems as Array<Record<string, unknown>>) : []
    const warnings = Array.isArray(v.warnings) ? (v.warnings as unknown[]) : []
    return {
      problems: problems
        .filter((p) => p && typeof p === 'object' && text(p.cause))
        .map((p) => ({
          cause: text(p.cause),
          fix: text(p.fix),
          ...(Array.isArray(p.variables) ? { variables: p.variables.map((n) => text(n, 200)) } : {})
        })),
      warnings: warnings.map((w) => text(w)).filter(Boolean)
    }
  } catch {
    return undefined
  }
}

/** All the problems in one message: the count, then each cause with its fix, then what was done. */
export function problemsMessage(
  found: Preflight,
  live: string,
  own: readonly string[] = []
): string {
  const { problems, warnings } = found
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`
  // A cause without a fix of its own (the settings' import failed): the hint for it, if any.
  const fix = (p: Problem) =>
    p.fix || hintFor(p.cause, own) || "Fix the settings: the traceback is in the step's output."
  const lines = problems.map((p, i) => `${i + 1}. ${p.cause}.\n   ${fix(p)}`)
  return (
    `The release has ${count} to fix before it can run:\n${lines.join('\n')}` +
    (warnings.length > 0 ? `\nAlso: ${warnings.join('; ')}.` : '') +
    `\nNothing was migrated or switched${live ? `: ${live} still serves` : ''}.`
  )
}
