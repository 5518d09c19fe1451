// Reading inputs: the error every reader raises, the reader over ReadContext that each domain's
// module (connection, project, nginx, health, github, modes) reads its inputs with, and the
// validators more than one domain shares.

import { isIP } from 'node:net'
import { INPUT_DEFAULTS, type Input } from '../constants.js'
import { describeChar } from '../grammar/chars.js'
import { hasDotSegment, SAFE_PATH } from '../grammar/paths.js'

export { hasDotSegment, SAFE_PATH }

/** A bad input: names the input and says what is allowed. Raised before anything is sent. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string
  ) {
    super(`Input '${input}': ${printable(message)}`)
    this.name = 'InputError'
  }
}

/**
 * A message repeats the value it refuses: show its control and invisible characters (a line
 * break, U+202E that reverses the text after it) as escapes, and shorten a very long value.
 */
function printable(message: string): string {
  return message
    .replace(
      /'([^']{120,})'/g,
      (_, value: string) => `'${value.slice(0, 60)}...' (${value.length} characters)`
    )
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => {
      const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }
      return named[c] ?? `\\u${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
    })
}

export interface ReadContext {
  /** returns the raw input value ('' when unset), like core.getInput without trimming */
  getInput: (name: string) => string
  /** the workspace the source folder is relative to */
  workspace: string
}

/** The inputs as the domain readers take them: defaults applied, NUL bytes refused. */
export interface InputReader {
  /** the value as given (untrimmed), or its default when unset or white space only */
  raw(name: Input): string
  /** one trimmed line of at most maxLength characters, without control characters */
  line(name: Input, maxLength?: number): string
  bool(name: Input): boolean
  int(name: Input, min: number, max: number): number
  /** the workspace the source folder is relative to */
  readonly workspace: string
}

export const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f\u0085\u2028\u2029]/u
export const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

export function inputReader(ctx: ReadContext): InputReader {
  const raw = (name: Input): string => {
    const value = ctx.getInput(name)
    if (value.includes('\u0000')) throw new InputError(name, 'contains a NUL byte')
    return value.trim() === '' ? (INPUT_DEFAULTS[name] ?? '') : value
  }
  const line = (name: Input, maxLength = 256): string => {
    const value = raw(name).trim()
    if (value.length > maxLength) {
      throw new InputError(name, `is ${value.length} characters long; at most ${maxLength}`)
    }
    if (/[\r\n]/.test(value)) throw new InputError(name, 'must be a single line')
    if (CONTROL_CHARS.test(value)) throw new InputError(name, 'contains a control character')
    return value
  }
  return {
    raw,
    line,
    bool: (name) => parseBoolean(name, line(name)),
    int: (name, min, max) => parseInteger(name, line(name), min, max),
    workspace: ctx.workspace
  }
}

export function parseBoolean(name: string, value: string): boolean {
  if (/^(true|yes|on)$/i.test(value)) return true
  if (/^(false|no|off)$/i.test(value)) return false
  throw new InputError(name, `must be true or false, not '${value}'`)
}

export function parseInteger(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(value))
    throw new InputError(name, `must be a whole number from ${min} to ${max}, not '${value}'`)
  const n = Number(value)
  if (n < min || n > max) throw new InputError(name, `must be from ${min} to ${max}, not ${n}`)
  return n
}

export function splitList(text: string, separator: RegExp = /[\n,]+/): string[] {
  return text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export function readAbsolutePath(name: string, value: string): string {
  const path = value.replace(/\/+$/, '')
  if (!SAFE_PATH.test(path) || hasDotSegment(path)) {
    throw new InputError(
      name,
      `'${value}' must be an absolute path of letters, digits and _ . - @ +, without ..`
    )
  }
  return path
}

export function optionalPath(name: string, value: string): string | undefined {
  return value === '' ? undefined : readAbsolutePath(name, value)
}

export function readUrl(name: string, value: string): URL {
  if (!/^https?:\/\//i.test(value))
    throw new InputError(name, `'${value}' must be an http:// or https:// URL`)
  if (/^https?:\/\/[^/?#]*@/i.test(value))
    throw new InputError(name, 'must not hold a user name or password')
  // As typed, not as the URL parser would rewrite it: a look-alike host (Cyrillic letters become
  // xn--...), `..` (silently resolved) and quotes or `$` (kept) are mistakes or tricks.
  const bad = [...value].find((c) => !/[A-Za-z0-9._~:/?#[\]@!&+,=%-]/.test(c))
  if (bad !== undefined) {
    throw new InputError(
      name,
      `'${value}' has ${describeChar(bad)}: write the URL in ASCII, with %XX escapes`
    )
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(name, `'${value}' is not a URL`)
  }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const path = value.replace(/^https?:\/\/[^/?#]*/i, '').split(/[?#]/)[0]
  if (
    !(isIP(host) || HOSTNAME.test(host)) ||
    /%(?![0-9A-Fa-f]{2})/.test(value) ||
    hasDotSegment(path)
  ) {
    throw new InputError(name, `'${value}' is not a URL like https://example.com/path`)
  }
  if (url.username || url.password)
    throw new InputError(name, `must not hold a user name or password`)
  return url
}
