// PEP 508 environment markers, read and evaluated the way pip's `packaging` evaluates them:
// a version variable compared as a version when the other side is a version specifier, every
// other variable as a string; `extra`, `extras` and `dependency_groups` against the groups asked.
import { satisfies, valid, validRange } from '@renovatebot/pep440'

/** A marker this module cannot read or evaluate: the caller names the package it came from. */
export class MarkerError extends Error {}

/** What a marker is evaluated against: the server's variables and the groups and extras asked. */
export interface MarkerEnvironment {
  markers: Record<string, string>
  /** the groups and extras asked (names as the user wrote them; compared normalized) */
  wanted: string[]
}

type Atom = { kind: 'var'; name: string } | { kind: 'str'; value: string }
type Marker =
  | { kind: 'cmp'; left: Atom; op: string; right: Atom }
  | { kind: 'and' | 'or'; left: Marker; right: Marker }

// The variables PEP 508 and PEP 751 name, and the older dotted spellings pip still accepts.
const VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
  'extras',
  'dependency_groups'
])
const ALIASES: Record<string, string> = {
  'os.name': 'os_name',
  'sys.platform': 'sys_platform',
  'platform.version': 'platform_version',
  'platform.machine': 'platform_machine',
  'platform.python_implementation': 'platform_python_implementation',
  python_implementation: 'platform_python_implementation'
}
const VERSION_VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'platform_release',
  'implementation_version'
])
const SET_VARIABLES = new Set(['extra', 'extras', 'dependency_groups'])

type Token = { kind: 'str' | 'word' | 'op' | '(' | ')'; text: string }

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  const pattern =
    /\s*(?:('[^']*'|"[^"]*")|(===|~=|==|!=|<=|>=|<|>)|([()])|([A-Za-z_][A-Za-z0-9_.]*))/y
  let at = 0
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break
    pattern.lastIndex = at
    const match = pattern.exec(text)
    if (!match) throw new MarkerError(`unexpected text at "${text.slice(at).trim()}"`)
    at = pattern.lastIndex
    if (match[1] !== undefined) tokens.push({ kind: 'str', text: match[1].slice(1, -1) })
    else if (match[2] !== undefined) tokens.push({ kind: 'op', text: match[2] })
    else if (match[3] !== undefined) tokens.push({ kind: match[3] as '(' | ')', text: match[3] })
    else tokens.push({ kind: 'word', text: match[4] })
  }
  return tokens
}

/** A recursive-descent reader of PEP 508's marker grammar (or of and, and of comparisons). */
class Parser {
  private at = 0
  constructor(private readonly tokens: Token[]) {}

  parse(): Marker {
    const marker = this.or()
    if (this.at < this.tokens.length)
      throw new MarkerError(`unexpected "${this.tokens[this.at].text}"`)
    return marker
  }

  private peekWord(word: string): boolean {
    const token = this.tokens[this.at]
    return token?.kind === 'word' && token.text === word
  }

  private or(): Marker {
    let left = this.and()
    while (this.peekWord('or')) {
      this.at++
      left = { kind: 'or', left, right: this.and() }
    }
    return left
  }

  private and(): Marker {
    let left = this.expression()
    while (this.peekWord('and')) {
      this.at++
      left = { kind: 'and', left, right: this.expression() }
    }
    return left
  }

  private expression(): Marker {
    if (this.tokens[this.at]?.kind === '(') {
      this.at++
      const inner = this.or()
      if (this.tokens[this.at]?.kind !== ')') throw new MarkerError('a "(" is not closed')
      this.at++
      return inner
    }
    const left = this.atom()
    const op = this.operator()
    return { kind: 'cmp', left, op, right: this.atom() }
  }

  private operator(): string {
    const token = this.tokens[this.at]
    if (token?.kind === 'op') {
      this.at++
      return token.text
    }
    if (this.peekWord('in')) {
      this.at++
      return 'in'
    }
    if (this.peekWord('not') && this.tokens[this.at + 1]?.text === 'in') {
      this.at += 2
      return 'not in'
    }
    throw new MarkerError(`expected a comparison, found ${token ? `"${token.text}"` : 'the end'}`)
  }

  private atom(): Atom {
    const token = this.tokens[this.at++]
    if (token?.kind === 'str') return { kind: 'str', value: token.text }
    if (token?.kind === 'word') {
      const name = ALIASES[token.text] ?? token.text
      if (VARIABLES.has(name)) return { kind: 'var', name }
      throw new MarkerError(`unknown variable "${token.text}"`)
    }
    throw new MarkerError(
      `expected a variable or a quoted string, found ${token ? `"${token.text}"` : 'the end'}`
    )
  }
}

/** Reads a marker; throws MarkerError when it does not follow PEP 508. */
export function parseMarker(text: string): Marker {
  return new Parser(tokenize(text)).parse()
}

/** A name as PEP 503 compares it (extras and groups too, PEP 685). */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

function compareStrings(left: string, op: string, right: string, key: string): boolean {
  switch (op) {
    case 'in':
      return right.includes(left)
    case 'not in':
      return !right.includes(left)
    case '==':
    case '<=':
    case '>=':
      return left === right
    case '!=':
      return left !== right
    case '<':
    case '>':
      return false
    default:
      throw new MarkerError(`"${op}" does not compare ${key}, which is not a version`)
  }
}

// Specifier(op + right).contains(left), as packaging does; a version that does not parse is
// never inside a specifier.
function compareVersions(left: string, op: string, right: string): boolean | undefined {
  if (op === 'in' || op === 'not in' || !validRange(`${op}${right}`)) return undefined
  return valid(left) !== null && satisfies(left, `${op}${right}`, { prereleases: true })
}

type Variable = Extract<Atom, { kind: 'var' }>
type Value = Extract<Atom, { kind: 'str' }>

// `extra == 'x'` (a requirement's extra) and `'x' in extras` / `'x' in dependency_groups`
// (PEP 751) hold when x is among the groups asked.
function compareWithSet(
  variable: Variable,
  op: string,
  value: Value,
  onRight: boolean,
  wanted: Set<string>
): boolean {
  const has = wanted.has(normalizeName(value.value))
  if (variable.name === 'extra' && (op === '==' || op === '!=')) return op === '==' ? has : !has
  if (variable.name !== 'extra' && onRight && (op === 'in' || op === 'not in')) {
    return op === 'in' ? has : !has
  }
  throw new MarkerError(`"${op}" does not compare ${variable.name}`)
}

function compare(
  marker: Extract<Marker, { kind: 'cmp' }>,
  env: MarkerEnvironment,
  wanted: Set<string>
): boolean {
  const { left, op, right } = marker
  if ((left.kind === 'var') === (right.kind === 'var')) {
    throw new MarkerError('a comparison needs one variable and one quoted string')
  }
  const variable = (left.kind === 'var' ? left : right) as Variable
  const key = variable.name
  if (SET_VARIABLES.has(key)) {
    return compareWithSet(
      variable,
      op,
      (left.kind === 'str' ? left : right) as Value,
      variable === right,
      wanted
    )
  }
  const value = env.markers[key]
  if (value === undefined) throw new MarkerError(`the server did not report ${key}`)
  const leftValue = left.kind === 'var' ? value : left.value
  const rightValue = right.kind === 'var' ? value : right.value
  if (VERSION_VARIABLES.has(key)) {
    const byVersion = compareVersions(leftValue, op, rightValue)
    if (byVersion !== undefined) return byVersion
  }
  return compareStrings(leftValue, op, rightValue, key)
}

function evaluate(marker: Marker, env: MarkerEnvironment, wanted: Set<string>): boolean {
  if (marker.kind === 'cmp') return compare(marker, env, wanted)
  const left = evaluate(marker.left, env, wanted)
  if (marker.kind === 'and') return left && evaluate(marker.right, env, wanted)
  return left || evaluate(marker.right, env, wanted)
}

/**
 * Whether a marker holds on the server with the groups asked. An empty marker holds. Throws
 * MarkerError for a marker it cannot read or evaluate: never silently true.
 */
export function markerMatches(text: string | undefined, env: MarkerEnvironment): boolean {
  if (text === undefined || text.trim() === '') return true
  // Every comparison is evaluated, not short-circuited, so that an unreadable part fails always.
  const marker = parseMarker(text)
  const wanted = new Set(env.wanted.map(normalizeName))
  checkAll(marker, env, wanted)
  return evaluate(marker, env, wanted)
}

function checkAll(marker: Marker, env: MarkerEnvironment, wanted: Set<string>): void {
  if (marker.kind === 'cmp') compare(marker, env, wanted)
  else {
    checkAll(marker.left, env, wanted)
    checkAll(marker.right, env, wanted)
  }
}

/** Whether `python_full_version` is inside a requires-python specifier (e.g. ">=3.10"). */
export function pythonSatisfies(specifier: string, server: Record<string, string>): boolean {
  const version = server.python_full_version
  if (version === undefined) throw new MarkerError('the server did not report python_full_version')
  if (!validRange(specifier)) throw new MarkerError(`cannot read requires-python "${specifier}"`)
  return satisfies(version, specifier, { prereleases: true })
}
