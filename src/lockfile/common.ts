// What every lock reader does alike: read the TOML, check the groups asked, evaluate a marker
// for a named package, keep a package's installable files, and put the result together.
import { parse } from 'smol-toml'
import {
  MarkerError,
  markerMatches,
  normalizeName,
  pythonSatisfies,
  type MarkerEnvironment
} from './markers.js'
import { installableFiles, noFileProblem } from './tags.js'
import type {
  DependencySource,
  LockedDependencies,
  LockedFile,
  LockedPackage,
  ServerPython
} from './types.js'

/** Why a lock cannot be installed on this server; its message is shown to the user as it is. */
export class LockProblem extends Error {}

/** What a reader is given: the lock's text and path, the server, the groups asked. */
export interface ReaderInput {
  path: string
  text: string
  groups: string[]
  server: ServerPython
}

export type Table = Record<string, unknown>

export function readToml(path: string, text: string): Table {
  try {
    return parse(text) as Table
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]
    throw new LockProblem(`${path} is not valid TOML: ${reason}`)
  }
}

/** A TOML value as a table, or an empty one. */
export function tableOf(value: unknown): Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Table)
    : {}
}

/** A TOML value as an array of tables, or an empty one. */
export function tablesOf(value: unknown): Table[] {
  return Array.isArray(value) ? value.map(tableOf) : []
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** The groups asked must be ones the lock has: a misspelled group would install nothing. */
export function checkGroups(path: string, asked: string[], known: Iterable<string>): void {
  const names = new Set([...known].map(normalizeName))
  const unknown = asked.filter((group) => !names.has(normalizeName(group)))
  if (unknown.length === 0) return
  const has = [...new Set(known)].sort().join(', ') || 'none'
  throw new LockProblem(
    `dependency-groups: ${path} has no group or extra ${unknown.join(', ')} (it has: ${has})`
  )
}

/** Whether a package's marker holds on the server; a marker it cannot read is a problem naming both. */
export function holds(marker: string | undefined, env: MarkerEnvironment, where: string): boolean {
  try {
    return markerMatches(marker, env)
  } catch (error) {
    if (!(error instanceof MarkerError)) throw error
    throw new LockProblem(`${where}: cannot evaluate the marker "${marker}": ${error.message}`)
  }
}

export function markerEnvironment(input: ReaderInput): MarkerEnvironment {
  return { markers: input.server.markers, wanted: input.groups }
}

/**
 * A lock resolved for some Python versions only (its markers simplified for them) refuses a server
 * with another one, rather than install what was never resolved for it.
 */
export function checkPython(requires: string | undefined, input: ReaderInput, where: string): void {
  if (requires === undefined) return
  let ok: boolean
  try {
    ok = pythonSatisfies(requires, input.server.markers)
  } catch (error) {
    if (!(error instanceof MarkerError)) throw error
    throw new LockProblem(`${where}: ${error.message}`)
  }
  if (!ok) {
    const python = input.server.markers.python_full_version
    throw new LockProblem(`${where} requires Python ${requires}; the server has ${python}`)
  }
}

/** A file's sha256 from a lock's `sha256:<hex>` (or a bare hex digest); no sha256 is a problem. */
export function sha256Of(hash: string | undefined, where: string): string {
  const match = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(hash ?? '')
  if (!match) throw new LockProblem(`${where} has no sha256 hash in the lock`)
  return match[1].toLowerCase()
}

/** A package with the files the server may install; none is a problem naming it. */
export function lockedPackage(
  name: string,
  version: string,
  files: LockedFile[],
  input: ReaderInput,
  index?: string
): LockedPackage {
  const installable = installableFiles(files, input.server)
  if (installable.length === 0) throw new LockProblem(noFileProblem(name, version, input.server))
  return index === undefined
    ? { name, version, files: installable }
    : { name, version, files: installable, index }
}

/** A package the server cannot install by hash from an index: editable, a path, git, a URL. */
export function notFromIndex(path: string, name: string, kind: string): LockProblem {
  return new LockProblem(
    `${path}: ${name} comes from ${kind}, which the server cannot install by hash from an index; ` +
      'publish it to an index (or build a wheel into one) and lock it from there'
  )
}

/** The dependencies, sorted by name; one version of each package, the index when there is one. */
export function lockedDependencies(
  source: DependencySource,
  path: string,
  packages: LockedPackage[]
): LockedDependencies {
  const byName = new Map<string, LockedPackage>()
  for (const pkg of packages) {
    const other = byName.get(normalizeName(pkg.name))
    if (other && other.version !== pkg.version) {
      throw new LockProblem(
        `${path}: ${pkg.name} is locked at ${other.version} and at ${pkg.version} for this server`
      )
    }
    byName.set(normalizeName(pkg.name), pkg)
  }
  const sorted = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  // The lock's index only when every package names the same one (Poetry names none for PyPI)
  const indexes = new Set(sorted.map(([, pkg]) => pkg.index))
  const deps: LockedDependencies = {
    source,
    path,
    reproducible: true,
    packages: sorted.map(([, pkg]) => pkg)
  }
  const [index] = indexes
  if (indexes.size === 1 && index !== undefined) deps.indexUrl = index
  return deps
}
