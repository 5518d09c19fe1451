// pylock.toml (PEP 751, written by pip lock, uv export, pdm): a flat list of packages, each with
// the marker under which it is installed; groups and extras appear in those markers as
// `'dev' in dependency_groups` and `'x' in extras`.
import {
  checkGroups,
  checkPython,
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
import { fileNameOf } from './tags.js'
import type { LockedDependencies, LockedFile, LockedPackage } from './types.js'

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : []
}

function fileOf(entry: Table, where: string): LockedFile {
  const location = stringOf(entry.url) ?? stringOf(entry.path) ?? ''
  const name = stringOf(entry.name) ?? fileNameOf(location)
  const hash = stringOf(tableOf(entry.hashes).sha256)
  const file: LockedFile = { name, sha256: sha256Of(hash, `${where} (${name})`) }
  if (entry.url !== undefined) file.url = String(entry.url)
  return file
}

/** The project itself, which uv exports as the directory "." : not installed from the lock. */
function isRoot(pkg: Table): boolean {
  const directory = tableOf(pkg.directory)
  return directory.path === '.'
}

function packageOf(pkg: Table, input: ReaderInput): LockedPackage {
  const name = String(pkg.name)
  for (const kind of ['vcs', 'directory', 'archive']) {
    const source = tableOf(pkg[kind])
    if (pkg[kind] !== undefined) {
      throw notFromIndex(
        input.path,
        name,
        `${kind} ${String(source.url ?? source.path ?? '')}`.trim()
      )
    }
  }
  const version = stringOf(pkg.version) ?? ''
  const where = `${name} ${version}`
  const entries = [
    ...tablesOf(pkg.wheels),
    ...(pkg.sdist === undefined ? [] : [tableOf(pkg.sdist)])
  ]
  const files = entries.map((entry) => fileOf(entry, where))
  return lockedPackage(name, version, files, input, stringOf(pkg.index))
}

/** A lock made for some environments only refuses a server that is none of them. */
function checkEnvironments(lock: Table, input: ReaderInput): void {
  const environments = stringsOf(lock.environments)
  if (environments.length === 0) return
  const env = markerEnvironment(input)
  const matching = environments.filter((marker) =>
    holds(marker, env, `${input.path}: environments`)
  )
  if (matching.length === 0) {
    throw new LockProblem(
      `${input.path} is locked for the environments ${environments.join(' | ')}; this server is none of them`
    )
  }
}

/** Reads a pylock.toml for one server: the packages whose markers hold, with their files. */
export function readPylock(input: ReaderInput): LockedDependencies {
  const lock = readToml(input.path, input.text)
  const lockVersion = String(lock['lock-version'])
  if (!lockVersion.startsWith('1.')) {
    throw new LockProblem(`${input.path} has lock-version ${lockVersion}; this action reads 1.x`)
  }
  checkPython(stringOf(lock['requires-python']), input, input.path)
  checkEnvironments(lock, input)
  checkGroups(input.path, input.groups, [
    ...stringsOf(lock.extras),
    ...stringsOf(lock['dependency-groups'])
  ])
  const env = markerEnvironment(input)
  const kept: LockedPackage[] = []
  for (const pkg of tablesOf(lock.packages)) {
    if (!holds(stringOf(pkg.marker), env, `${input.path}: ${String(pkg.name)}`) || isRoot(pkg))
      continue
    checkPython(stringOf(pkg['requires-python']), input, `${input.path}: ${String(pkg.name)}`)
    kept.push(packageOf(pkg, input))
  }
  return lockedDependencies('pylock.toml', input.path, kept)
}
