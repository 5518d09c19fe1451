// What a lock file says the venv holds, once read on the runner for one server: the vocabulary
// shared by the lock readers (lockfile/) and the steps that install from them.

/** The lock formats read, and the files they are found in (in this order when not named). */
export const LOCK_FILES = ['uv.lock', 'poetry.lock', 'pylock.toml', 'requirements.txt'] as const

/** Where the dependencies came from: a lock, a pyproject.toml without one, or requirements. */
export type DependencySource = 'uv.lock' | 'poetry.lock' | 'pylock.toml' | 'pyproject.toml'

/**
 * The server's Python as markers and wheels see it, from the host check: PEP 508's marker
 * variables (python_version, platform_machine, ...) and the wheel tags it accepts, best first
 * (as pip's packaging.tags.sys_tags() orders them).
 */
export interface ServerPython {
  markers: Record<string, string>
  tags: string[]
}

/** One file of a locked package: a wheel or an sdist. */
export interface LockedFile {
  /** the file's name (e.g. Django-5.1.4-py3-none-any.whl) */
  name: string
  /** where the lock says it is, when it says (poetry.lock does not) */
  url?: string
  /** hex sha256 of the file */
  sha256: string
}

export interface LockedPackage {
  /** the name as the lock writes it */
  name: string
  version: string
  /** the files the server may install: wheels whose tags it accepts, best first, then the sdist */
  files: LockedFile[]
  /** the index the lock says the package comes from, when it says (a simple API URL) */
  index?: string
}

/** The dependencies for one server, read from a lock on the runner. */
export interface LockedDependencies {
  source: DependencySource
  /** the file read, relative to the source folder */
  path: string
  /** false for a pyproject.toml without a lock: the install is not reproducible */
  reproducible: boolean
  packages: LockedPackage[]
  /** pyproject.toml without a lock: its dependencies as written (PEP 508), installed by pip */
  requirements?: string[]
  /** the index the lock's files came from, when it names one */
  indexUrl?: string
}
