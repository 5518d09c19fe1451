// The readers' entry points: a lock file's text read for one server, the requirements file pip
// installs from, and which lock a source folder has.
import { LockProblem, type ReaderInput } from './common.js'
import { normalizeName } from './markers.js'
import { readPoetryLock } from './poetry.js'
import { readPylock } from './pylock.js'
import { readPyproject } from './pyproject.js'
import { LOCK_FILES, type LockedDependencies, type ServerPython } from './types.js'
import { readUvLock } from './uv.js'

/** A lock file in the source folder: its path relative to it, its text, the groups asked. */
export interface LockInput {
  path: string
  text: string
  groups: string[]
}

export type Resolved = { ok: true; deps: LockedDependencies } | { ok: false; problem: string }

type Reader = (input: ReaderInput) => LockedDependencies

/** The reader of a file, by its name: pylock.toml may be named pylock.<name>.toml (PEP 751). */
function readerOf(path: string): Reader | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1)
  if (name === 'uv.lock') return readUvLock
  if (name === 'poetry.lock') return readPoetryLock
  if (/^pylock\.([^.]+\.)?toml$/.test(name)) return readPylock
  if (name === 'pyproject.toml') return readPyproject
  return undefined
}

/**
 * Reads a lock for one server: the packages whose markers hold on it, in the main dependencies
 * and the groups asked, each with the files it may install; or the problem that stops the deploy
 * (a package with no file for the server, a marker that cannot be read, a path or git dependency,
 * a group the lock does not have).
 */
export function resolveLock(input: LockInput, server: ServerPython): Resolved {
  const reader = readerOf(input.path)
  if (!reader) {
    return {
      ok: false,
      problem: `${input.path} is not a lock this action reads (uv.lock, poetry.lock, pylock.toml, pyproject.toml)`
    }
  }
  try {
    return { ok: true, deps: reader({ ...input, server }) }
  } catch (error) {
    if (error instanceof LockProblem) return { ok: false, problem: error.message }
    throw error
  }
}

/** One requirement line pip reads with --require-hashes: `name==version --hash=sha256:<hex> ...`. */
function hashedLine(name: string, version: string, hashes: string[]): string {
  return [`${name}==${version}`, ...hashes.map((hash) => `--hash=sha256:${hash}`)].join(' ')
}

/**
 * The requirements file pip installs from: one `name==version --hash=sha256:...` line per package
 * (every hash of its files in deps), sorted by name; for pyproject.toml without a lock, the
 * requirements as written. Its text is what the venv's key covers.
 */
export function hashedRequirements(deps: LockedDependencies): string {
  if (!deps.reproducible) {
    const requirements = deps.requirements ?? []
    return requirements.map((requirement) => `${requirement}\n`).join('')
  }
  const lines = [...deps.packages]
    .sort((a, b) => (normalizeName(a.name) < normalizeName(b.name) ? -1 : 1))
    .map((pkg) =>
      hashedLine(pkg.name, pkg.version, [...new Set(pkg.files.map((file) => file.sha256))])
    )
  return lines.map((line) => `${line}\n`).join('')
}

/** The lock file to read in `source` when `requirements` is not set: the first of LOCK_FILES present. */
export function findLock(exists: (name: string) => boolean): string | undefined {
  return LOCK_FILES.find((name) => exists(name))
}
