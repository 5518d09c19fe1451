// Where the venv's packages come from: a requirements file as before, or a lock read on the
// runner and installed by hash (docs/dependencies.md); the index pip uses, and where the locked
// files are downloaded.

import { Input } from '../constants.js'
import { findLock } from '../lockfile/resolve.js'
import type { DependencySettings, Settings } from '../settings.js'
import { sourceFileExists } from '../workspace.js'
import { isIP } from 'node:net'
import { hasDotSegment, HOSTNAME, InputError, type InputReader, splitList } from './read.js'

const SAFE_RELATIVE_PATH = /^[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/
/** The files read as a lock on the runner (the rest are requirements files, pip's to read). */
const LOCK_NAME = /(^|\/)(uv\.lock|poetry\.lock|pylock(\.[A-Za-z0-9_-]+)?\.toml|pyproject\.toml)$/
/** A group or extra as the lock formats name them (PEP 685 normalises to these characters). */
const GROUP = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$/

/** `source`: the folder the lock is looked for in when `requirements` is not set (none: a rollback). */
export function readDependencies(
  read: InputReader,
  source: string | null
): Pick<Settings, 'requirements' | 'dependencies'> {
  const requirements = readRequirements(read, source)
  const wheels = read.line(Input.Wheels)
  if (wheels !== 'server' && wheels !== 'runner')
    throw new InputError(Input.Wheels, 'must be server or runner')
  if (wheels === 'runner' && !LOCK_NAME.test(requirements))
    throw new InputError(
      Input.Wheels,
      `runner needs a lock (uv.lock, poetry.lock, pylock.toml): ${requirements} is installed by pip on the server`
    )
  const dependencies: DependencySettings = {
    ...(LOCK_NAME.test(requirements) ? { lock: requirements } : {}),
    groups: readGroups(read),
    indexUrl: readIndexUrl(read, Input.PipIndexUrl),
    extraIndexUrl: readIndexUrl(read, Input.PipExtraIndexUrl),
    wheels
  }
  return { requirements, dependencies }
}

/** The file named, or the first lock found in the source (requirements.txt when there is none). */
function readRequirements(read: InputReader, source: string | null): string {
  const given = read.line(Input.Requirements)
  if (given === '')
    return (source && findLock((name) => sourceFileExists(source, name))) || 'requirements.txt'
  if (!SAFE_RELATIVE_PATH.test(given) || given.split('/').includes('..')) {
    throw new InputError(
      Input.Requirements,
      'must be a path inside the source folder, e.g. requirements.txt or uv.lock (letters, digits, _ . - /)'
    )
  }
  return given
}

function readGroups(read: InputReader): string[] {
  const groups = splitList(read.raw(Input.DependencyGroups), /[\s,]+/)
  const bad = groups.find((g) => !GROUP.test(g))
  if (bad !== undefined)
    throw new InputError(
      Input.DependencyGroups,
      `'${bad.slice(0, 64)}' is not a group or extra name (letters, digits, . _ -)`
    )
  return [...new Set(groups)]
}

/**
 * An index URL as pip takes it: http or https, in ASCII with %XX escapes (a password's `;`, `$`,
 * quotes... escaped), no `..`. The value may hold a password, so no message quotes it.
 */
function readIndexUrl(read: InputReader, name: Input): string {
  const value = read.raw(name).trim()
  if (value === '') return ''
  const example = 'write it like https://user:token@pypi.example.com/simple/'
  if (value.length > 2048) throw new InputError(name, 'is longer than 2048 characters')
  if (!/^https?:\/\//i.test(value))
    throw new InputError(name, `must be an https:// or http:// URL: ${example}`)
  if (!/^[A-Za-z0-9._~:/?#[\]@!&+,=%-]+$/.test(value) || /%(?![0-9A-Fa-f]{2})/.test(value))
    throw new InputError(
      name,
      `must be one URL in ASCII, other characters (a password's ; $ ' " ( ) * and spaces) written as %XX escapes: ${example}`
    )
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(name, `is not a URL: ${example}`)
  }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const path = value.replace(/^https?:\/\/[^/?#]*/i, '').split(/[?#]/)[0]
  if (!(isIP(host) || HOSTNAME.test(host)) || hasDotSegment(path))
    throw new InputError(name, `is not a URL: ${example}`)
  return value
}
