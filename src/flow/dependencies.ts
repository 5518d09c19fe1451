// A lock's dependencies for one host: read on the runner (lockfile/), resolved for the Python
// the host check saw, installed by hash from the list sent with the venv's command. Pure: the
// lock's text comes from main (workspace.ts reads it).

import { hashedRequirements, resolveLock } from '../lockfile/resolve.js'
import type { LockedDependencies } from '../lockfile/types.js'
import type { HostFacts } from '../server/facts.js'
import type { SentInstall } from '../server/release.js'
import type { Settings } from '../settings.js'
import type { RequirementsFile } from '../workspace.js'
import type { HostDeps, LockPlan } from './deps.js'
import { lockRefusedMessage } from './notices.js'
import { Stop } from './stop.js'

/** The file pip installs from, written beside the venv while it is built. */
export const LOCK_REQUIREMENTS = 'requirements.lock.txt'

/**
 * The lock resolved for the host's Python; `text`: the lock as read in the source (null: it
 * could not be read).
 */
export function lockPlan(s: Settings, text: string | null, facts: HostFacts): LockPlan {
  const lock = s.dependencies.lock ?? s.requirements
  if (text === null)
    return {
      ok: false,
      problem: `requirements: ${lock} could not be read (a regular file inside the source folder, at most 1 MB)`
    }
  if (!facts.serverPython)
    return {
      ok: false,
      problem: `the host's ${s.python} did not say which packages it takes (its pip wheel for ensurepip: install python3-venv), so ${lock} cannot be resolved for it`
    }
  const resolved = resolveLock(
    { path: lock, text, groups: s.dependencies.groups },
    facts.serverPython
  )
  if (!resolved.ok) return { ok: false, problem: `${lock}: ${resolved.problem}` }
  const deps = resolved.deps
  const sdist = privateIndex(s) && deps.packages.find((p) => !p.files[0]?.name.endsWith('.whl'))
  if (sdist)
    return {
      ok: false,
      problem: `${lock}: ${sdist.name} ${sdist.version} has no wheel for this server, and pip would build it with pip-index-url's credentials on a command line other local users can read: use a wheel, or wheels: runner`
    }
  const list = hashedRequirements(deps)
  const install: SentInstall = {
    entry: LOCK_REQUIREMENTS,
    pipArgs: pipArgs(deps),
    // wheels: runner: pip reads no index at all.
    privateIndex: privateIndex(s),
    summary: dependenciesLine(deps),
    packages: deps.reproducible
      ? deps.packages.map((p) => `${p.name}==${p.version}`)
      : (deps.requirements ?? [])
  }
  // A dry run: what would change in the venv, against the live one.
  if (facts.livePackages && deps.reproducible)
    install.changes = venvChanges(facts.livePackages, install.packages)
  // pip's flags are part of what the venv holds: its key covers them with the list.
  const files = [{ path: LOCK_REQUIREMENTS, text: list }]
  return { ok: true, files, install, deps }
}

/** pip reads the private index (wheels: runner reads none on the host). */
function privateIndex(s: Settings): boolean {
  return (
    s.dependencies.wheels === 'server' &&
    !!(s.dependencies.indexUrl || s.dependencies.extraIndexUrl)
  )
}

const NOT_REPRODUCIBLE = (path: string) =>
  `${path} has no lock beside it: pip resolves its dependencies on the server, so two deploys may install other versions (lock them with uv lock, poetry lock or pip lock)`

/** The host's facts, once its lock (if any) resolved for it (and wheels: runner's files fetched): else the run stops, before anything is uploaded. */
export async function lockResolved(deps: HostDeps, facts: HostFacts): Promise<HostFacts> {
  const locked = deps.lock?.(facts)
  if (locked && !locked.ok) throw new Stop(lockRefusedMessage(locked.problem))
  if (locked?.ok && !locked.deps.reproducible) deps.warn(NOT_REPRODUCIBLE(locked.deps.path))
  // wheels: runner: every file downloaded and checked before anything is uploaded.
  const problem = locked?.ok && locked.install.wheels ? await deps.fetchWheels?.(facts) : ''
  if (problem) throw new Stop(lockRefusedMessage(`wheels: runner: ${problem}`))
  return facts
}

/** What the planner is told of the venv: its key, the requirements it covers, a lock's list. */
export function venvInput(
  deps: HostDeps,
  facts: HostFacts
): { venvKey: string | null; requirements: RequirementsFile[] | null; install?: SentInstall } {
  const locked = deps.lock?.(facts)
  return {
    venvKey: deps.venvKey(facts),
    requirements: deps.requirements(facts),
    install: locked?.ok ? locked.install : undefined
  }
}

/** The key's input: the list and pip's flags (a flag changed builds another venv). */
export function keyedFiles(
  plan: Extract<LockPlan, { ok: true }>
): Array<{ path: string; text: string }> {
  return [...plan.files, { path: 'pip install', text: plan.install.pipArgs.join(' ') }]
}

/**
 * By hash and without resolving again (every package is in the list); only wheels for the
 * packages that have one for this server, so pip never builds what it could install.
 */
function pipArgs(deps: LockedDependencies): string[] {
  if (!deps.reproducible) return []
  const wheels = deps.packages.filter((p) => p.files[0]?.name.endsWith('.whl'))
  const binary =
    wheels.length === 0
      ? []
      : wheels.length === deps.packages.length
        ? ['--only-binary=:all:']
        : [`--only-binary=${wheels.map((p) => p.name).join(',')}`]
  return ['--require-hashes', '--no-deps', ...binary]
}

/** A package's name as pip compares them (PEP 503): lower case, runs of -_. as one -. */
const normalized = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-')

/**
 * What a deploy would change in the venv, `name==version` lists in: one line a package added,
 * removed or at another version, sorted by name; none when the venv stays as it is.
 */
export function venvChanges(live: readonly string[], next: readonly string[]): string[] {
  const versions = (list: readonly string[]) =>
    new Map(
      list.map((entry) => {
        const [name, version] = entry.split('==')
        return [normalized(name), { name, version }] as const
      })
    )
  const before = versions(live)
  const after = versions(next)
  const names = [...new Set([...before.keys(), ...after.keys()])].sort()
  return names.flatMap((key) => {
    const [was, will] = [before.get(key), after.get(key)]
    if (!was && will) return [`+ ${will.name} ${will.version}`]
    if (was && !will) return [`- ${was.name} ${was.version}`]
    return was && will && was.version !== will.version
      ? [`~ ${will.name} ${was.version} -> ${will.version}`]
      : []
  })
}

/** Where the dependencies came from, as the summary says it: "uv.lock, 21 packages, by hash". */
export function dependenciesLine(deps: LockedDependencies): string {
  const count = deps.reproducible
    ? `${deps.packages.length} package${deps.packages.length === 1 ? '' : 's'}, by hash`
    : `${deps.requirements?.length ?? 0} requirements as written (no lock: not reproducible)`
  return `${deps.path}, ${count}`
}
