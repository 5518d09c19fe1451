// uv.lock: every package of every platform, with markers on the edges between them. What the
// server installs is what is reached from the project itself (the package whose source is
// `{ editable = "." }` or `{ virtual = "." }`) through its dependencies, the groups and extras
// asked, and the extras each edge names, along the edges whose markers hold on the server.
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
import { normalizeName } from './markers.js'
import { fileNameOf } from './tags.js'
import type { LockedDependencies, LockedFile, LockedPackage } from './types.js'

interface Edge {
  name: string
  version?: string
  marker?: string
  extras: string[]
}

function edgesOf(value: unknown): Edge[] {
  return tablesOf(value).map((edge) => ({
    name: stringOf(edge.name) ?? '',
    version: stringOf(edge.version),
    marker: stringOf(edge.marker),
    extras: Array.isArray(edge.extra) ? edge.extra.map(String) : []
  }))
}

/** A table keyed by group or extra name, its key found normalized. */
function byGroup(table: Table, group: string): Edge[] {
  const key = Object.keys(table).find((name) => normalizeName(name) === normalizeName(group))
  return key === undefined ? [] : edgesOf(table[key])
}

function isRoot(pkg: Table): boolean {
  const source = tableOf(pkg.source)
  return source.editable === '.' || source.virtual === '.'
}

function fileOf(entry: Table, where: string): LockedFile {
  const location = stringOf(entry.url) ?? stringOf(entry.path) ?? ''
  const name = stringOf(entry.filename) ?? fileNameOf(location)
  const file: LockedFile = { name, sha256: sha256Of(stringOf(entry.hash), `${where} (${name})`) }
  if (entry.url !== undefined) file.url = String(entry.url)
  return file
}

/** The package an edge points to, with its files for the server; its source must be an index. */
function packageOf(pkg: Table, input: ReaderInput): LockedPackage {
  const name = String(pkg.name)
  const version = stringOf(pkg.version) ?? ''
  const source = tableOf(pkg.source)
  const kind = Object.keys(source)[0]
  if (kind !== 'registry')
    throw notFromIndex(
      input.path,
      name,
      `${kind ?? 'no source'} ${String(source[kind] ?? '')}`.trim()
    )
  const where = `${name} ${version}`
  const entries = [
    ...tablesOf(pkg.wheels),
    ...(pkg.sdist === undefined ? [] : [tableOf(pkg.sdist)])
  ]
  const files = entries.map((entry) => fileOf(entry, where))
  return lockedPackage(name, version, files, input, stringOf(source.registry))
}

/** The edges the project starts from: its dependencies, then the groups and extras asked. */
function rootEdges(root: Table, input: ReaderInput): Edge[] {
  const extras = tableOf(root['optional-dependencies'])
  const groups = tableOf(root['dev-dependencies'])
  checkGroups(input.path, input.groups, [...Object.keys(extras), ...Object.keys(groups)])
  const edges = edgesOf(root.dependencies)
  for (const group of input.groups) edges.push(...byGroup(extras, group), ...byGroup(groups, group))
  return edges
}

function findPackage(packages: Table[], edge: Edge, path: string): Table {
  const found = packages.find(
    (pkg) =>
      normalizeName(String(pkg.name)) === normalizeName(edge.name) &&
      (edge.version === undefined || pkg.version === edge.version)
  )
  if (!found) throw new LockProblem(`${path}: ${edge.name} is a dependency but has no [[package]]`)
  return found
}

/** Walks the graph from the project, along the edges whose markers hold on the server. */
function reached(packages: Table[], root: Table, input: ReaderInput): Table[] {
  const env = markerEnvironment(input)
  const seen = new Set<string>()
  const kept: Table[] = []
  const queue: Array<{ edge: Edge; from: string }> = rootEdges(root, input).map((edge) => ({
    edge,
    from: String(root.name)
  }))
  for (let next = queue.shift(); next; next = queue.shift()) {
    const { edge, from } = next
    if (!holds(edge.marker, env, `${input.path}: ${from}'s dependency ${edge.name}`)) continue
    const pkg = findPackage(packages, edge, input.path)
    const id = `${String(pkg.name)} ${String(pkg.version)}`
    for (const extra of ['', ...edge.extras]) {
      if (seen.has(`${id}[${extra}]`)) continue
      seen.add(`${id}[${extra}]`)
      if (extra === '' && !isRoot(pkg)) kept.push(pkg)
      const edges =
        extra === ''
          ? edgesOf(pkg.dependencies)
          : byGroup(tableOf(pkg['optional-dependencies']), extra)
      queue.push(...edges.map((dependency) => ({ edge: dependency, from: String(pkg.name) })))
    }
  }
  return kept
}

/** Reads a uv.lock for one server: the packages reached from the project, with their files. */
export function readUvLock(input: ReaderInput): LockedDependencies {
  const lock = readToml(input.path, input.text)
  if (lock.version !== 1) {
    throw new LockProblem(
      `${input.path} has version ${String(lock.version)}; this action reads version 1`
    )
  }
  checkPython(stringOf(lock['requires-python']), input, input.path)
  const packages = tablesOf(lock.package)
  const root = packages.find(isRoot)
  if (!root) {
    throw new LockProblem(
      `${input.path} has no package for the project itself (source = { editable = "." } or { virtual = "." })`
    )
  }
  const kept = reached(packages, root, input).map((pkg) => packageOf(pkg, input))
  return lockedDependencies('uv.lock', input.path, kept)
}
