// pyproject.toml without a lock: [project] dependencies, the extras asked from
// [project.optional-dependencies] and the groups asked from [dependency-groups] (PEP 735), as
// written. pip resolves them on the server: the install is not reproducible.
import {
  checkGroups,
  LockProblem,
  readToml,
  tableOf,
  type ReaderInput,
  type Table
} from './common.js'
import { normalizeName } from './markers.js'
import type { LockedDependencies } from './types.js'

function entry(table: Table, name: string): unknown {
  const key = Object.keys(table).find((key) => normalizeName(key) === normalizeName(name))
  return key === undefined ? undefined : table[key]
}

/** A dependency group's requirements, its `{ include-group = "..." }` entries expanded. */
function groupRequirements(
  groups: Table,
  name: string,
  path: string,
  seen: string[] = []
): string[] {
  if (seen.includes(normalizeName(name))) {
    throw new LockProblem(`${path}: [dependency-groups] ${name} includes itself`)
  }
  const items = entry(groups, name)
  if (!Array.isArray(items)) return []
  return items.flatMap((item) => {
    if (typeof item === 'string') return [item]
    const include = tableOf(item)['include-group']
    if (typeof include !== 'string') {
      throw new LockProblem(
        `${path}: [dependency-groups] ${name} has an entry that is neither a requirement nor include-group`
      )
    }
    return groupRequirements(groups, include, path, [...seen, normalizeName(name)])
  })
}

/** A requirement pip would take from a path, a VCS or a local file is refused, naming it. */
function checkRequirement(requirement: string, path: string): void {
  const direct = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^@;]*@\s*(\S+)/.exec(requirement)
  if (direct && !/^https?:\/\//.test(direct[2])) {
    throw new LockProblem(
      `${path}: ${direct[1]} comes from ${direct[2]}, which the server cannot install from an index`
    )
  }
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new LockProblem(`${where} is not a list of requirements`)
  }
  return value as string[]
}

/** Reads a pyproject.toml without a lock: its requirements as written, for pip to resolve. */
export function readPyproject(input: ReaderInput): LockedDependencies {
  const pyproject = readToml(input.path, input.text)
  if (pyproject.project === undefined) {
    throw new LockProblem(
      `${input.path} has no [project] table: lock the dependencies (uv lock, poetry lock, pip lock) ` +
        'or name a requirements file in requirements'
    )
  }
  const project = tableOf(pyproject.project)
  const extras = tableOf(project['optional-dependencies'])
  const groups = tableOf(pyproject['dependency-groups'])
  checkGroups(input.path, input.groups, [...Object.keys(extras), ...Object.keys(groups)])
  const requirements = [
    ...stringList(project.dependencies, `${input.path}: [project] dependencies`)
  ]
  for (const group of input.groups) {
    requirements.push(
      ...stringList(entry(extras, group), `${input.path}: optional-dependencies ${group}`)
    )
    requirements.push(...groupRequirements(groups, group, input.path))
  }
  for (const requirement of requirements) checkRequirement(requirement, input.path)
  return {
    source: 'pyproject.toml',
    path: input.path,
    reproducible: false,
    packages: [],
    requirements: [...new Set(requirements.map((requirement) => requirement.trim()))]
  }
}
