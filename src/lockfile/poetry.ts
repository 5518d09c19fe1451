// poetry.lock as Poetry 2 writes it (lock-version 2.1): each package says the groups it belongs
// to and its markers (one string, or a table per group), so the lock is read package by package,
// without the project's pyproject.toml. The project itself is not in it.
import {
  checkGroups,
  holds,
  LockProblem,
  lockedDependencies,
  lockedPackage,
  markerEnvironment,
  notFromIndex,
  readToml,
  sha256Of,
  stringOf,
  tableOf,
  tablesOf,
  type ReaderInput,
  type Table
} from './common.js'
import { MarkerError, normalizeName, pythonSatisfies, type MarkerEnvironment } from './markers.js'
import type { LockedDependencies, LockedPackage } from './types.js'

/** The group every project has: [project] dependencies (or [tool.poetry.dependencies]). */
const MAIN = 'main'

function lockVersionAtLeast21(version: unknown): boolean {
  const [major, minor] = String(version).split('.').map(Number)
  return major > 2 || (major === 2 && minor >= 1)
}

/** One of Poetry's caret or tilde constraints (^3.11, ~3.11) as PEP 440 (>=3.11,<4). */
function caretOrTilde(constraint: string): string {
  const match = /^([\^~])\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(constraint)
  if (!match) return constraint
  const [major, minor, patch] = match
    .slice(2)
    .map((part) => (part === undefined ? undefined : Number(part)))
  const lowest = [major, minor ?? 0, patch ?? 0].join('.')
  let upper: string
  if (match[1] === '~') upper = minor === undefined ? `${major! + 1}` : `${major}.${minor + 1}`
  else if (major! > 0 || minor === undefined) upper = `${major! + 1}`
  else if (minor > 0 || patch === undefined) upper = `0.${minor + 1}`
  else upper = `0.0.${patch + 1}`
  return `>=${lowest},<${upper}`
}

/**
 * The project's Python constraint in [metadata] python-versions, written in Poetry's syntax
 * (`^3.11`, `>=3.11,<4.0`, `>=3.11 <4.0`, `*`, alternatives joined by `||`), as PEP 440
 * specifiers, one per alternative; undefined for any Python.
 */
export function poetryPythonVersions(constraint: string): string[] | undefined {
  const alternatives = constraint.split('||').map((alternative) =>
    alternative
      .trim()
      .split(/\s*,\s*|\s+(?=[<>=!~^])/)
      .filter((part) => part !== '' && part !== '*')
      .map(caretOrTilde)
      .join(',')
  )
  return alternatives.some((alternative) => alternative === '') ? undefined : alternatives
}

function checkPoetryPython(lock: Table, input: ReaderInput): void {
  const constraint = stringOf(tableOf(lock.metadata)['python-versions'])
  const alternatives = constraint === undefined ? undefined : poetryPythonVersions(constraint)
  if (alternatives === undefined) return
  const holdsFor = (alternative: string) => {
    try {
      return pythonSatisfies(alternative, input.server.markers)
    } catch (error) {
      if (!(error instanceof MarkerError)) throw error
      throw new LockProblem(`${input.path}: python-versions ${constraint}: ${error.message}`)
    }
  }
  if (!alternatives.some(holdsFor)) {
    const python = input.server.markers.python_full_version
    throw new LockProblem(`${input.path} requires Python ${constraint}; the server has ${python}`)
  }
}

function groupsOf(pkg: Table): string[] {
  return Array.isArray(pkg.groups) ? pkg.groups.map(String) : []
}

/** The marker of a package in one group: the one string, or the group's entry in the table. */
function markerFor(pkg: Table, group: string): string | undefined {
  if (typeof pkg.markers === 'string') return pkg.markers
  return stringOf(tableOf(pkg.markers)[group])
}

/** An optional package belongs to the extras that list it in [extras]; it is kept when one is asked. */
function inAskedExtra(pkg: Table, extras: Table, asked: Set<string>): boolean {
  const name = normalizeName(String(pkg.name))
  return Object.entries(extras).some(
    ([extra, names]) =>
      asked.has(normalizeName(extra)) &&
      Array.isArray(names) &&
      names.some((entry) => normalizeName(String(entry).split(/[\s[(<>=!~;]/)[0]) === name)
  )
}

function wanted(
  pkg: Table,
  lock: Table,
  asked: Set<string>,
  env: MarkerEnvironment,
  path: string
): boolean {
  const groups = groupsOf(pkg).filter((group) => group === MAIN || asked.has(normalizeName(group)))
  if (pkg.optional === true && !inAskedExtra(pkg, tableOf(lock.extras), asked)) return false
  return groups.some((group) => holds(markerFor(pkg, group), env, `${path}: ${String(pkg.name)}`))
}

function packageOf(pkg: Table, input: ReaderInput): LockedPackage {
  const name = String(pkg.name)
  const version = String(pkg.version)
  const source = tableOf(pkg.source)
  const type = stringOf(source.type)
  if (type !== undefined && type !== 'legacy') {
    throw notFromIndex(input.path, name, `${type} ${String(source.url ?? '')}`.trim())
  }
  const files = tablesOf(pkg.files).map((entry) => {
    const file = String(entry.file)
    return { name: file, sha256: sha256Of(stringOf(entry.hash), `${name} ${version} (${file})`) }
  })
  return lockedPackage(name, version, files, input, stringOf(source.url))
}

/** Reads a Poetry 2 poetry.lock for one server: the main group's packages and the groups asked. */
export function readPoetryLock(input: ReaderInput): LockedDependencies {
  const lock = readToml(input.path, input.text)
  const lockVersion = tableOf(lock.metadata)['lock-version']
  if (!lockVersionAtLeast21(lockVersion)) {
    throw new LockProblem(
      `${input.path} has lock-version ${String(lockVersion)}, without the groups of each package: ` +
        'lock it again with Poetry 2 (poetry lock)'
    )
  }
  checkPoetryPython(lock, input)
  const packages = tablesOf(lock.package)
  const known = [...packages.flatMap(groupsOf), ...Object.keys(tableOf(lock.extras))]
  checkGroups(input.path, input.groups, known)
  const asked = new Set(input.groups.map(normalizeName))
  const env = markerEnvironment(input)
  const kept = packages
    .filter((pkg) => wanted(pkg, lock, asked, env, input.path))
    .map((pkg) => packageOf(pkg, input))
  return lockedDependencies('poetry.lock', input.path, kept)
}
