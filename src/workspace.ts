// What the action reads of the checked-out repository on the runner (besides the upload itself).
// The repository may be hostile: it is read only as regular files inside the source folder.

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  realpathSync
} from 'node:fs'
import { dirname, isAbsolute, join, normalize, relative } from 'node:path'

export interface RequirementsFile {
  /** relative to the source folder */
  path: string
  text: string
}

const MAX_FILES = 50
/** Larger than any requirements file; a bigger one is not read into memory. */
const MAX_BYTES = 1024 * 1024
const INCLUDE = /^\s*(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)/gm

/**
 * The requirements file and the files it includes (-r, -c), read on the runner for the venv's
 * key: [] when there is no requirements file, null when one of them may not be read (outside the
 * source folder, a URL, not a regular file). Like requirements on local paths, whose content the
 * key cannot cover, null means the venv is built for the release alone.
 */
export function requirementsFiles(source: string, requirements: string): RequirementsFile[] | null {
  let root: string
  try {
    root = realpathSync(source)
  } catch {
    return null
  }
  const files: RequirementsFile[] = []
  /** false when the file or one it includes may not be read */
  const visit = (path: string): boolean => {
    if (files.some((f) => f.path === path) || files.length > MAX_FILES) return true
    // `-r ../../x` leaves the source folder, whether or not the runner has such a file.
    if (path === '..' || path.startsWith('../')) return false
    const text = readInside(root, path)
    // A missing file: pip says so on the server.
    if (text === 'missing') return true
    if (text === null) return false
    files.push({ path, text })
    for (const match of text.matchAll(INCLUDE)) {
      const include = match[1]
      // An absolute path or a URL (https:, file:) is outside what the key can read.
      if (isAbsolute(include) || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(include)) return false
      if (!visit(normalize(join(dirname(path), include)))) return false
    }
    return true
  }
  return visit(requirements) ? files : null
}

/** A regular file inside the source folder (a lock the run may read): existence only. */
export function sourceFileExists(source: string, path: string): boolean {
  try {
    return lstatSync(join(source, path)).isFile()
  } catch {
    return false
  }
}

/** A lock file's text, read as the requirements files are; null when it may not be read. */
export function lockFileText(source: string, path: string): string | null {
  let root: string
  try {
    root = realpathSync(source)
  } catch {
    return null
  }
  const text = readInside(root, path)
  return text === 'missing' ? null : text
}

/**
 * A file of the workspace an input names (maintenance-page): its text, 'missing', or null when it
 * may not be read. No component of the path may be a link: the repository could point one at a
 * file a step wrote into the workspace (.git/config holds the job's token), and the page is public.
 */
export function workspaceFile(
  workspace: string,
  path: string,
  maxBytes: number
): string | 'missing' | null {
  const parts = normalize(path).split('/').filter(Boolean)
  for (let i = 1; i <= parts.length; i++) {
    try {
      if (lstatSync(join(workspace, ...parts.slice(0, i))).isSymbolicLink()) return null
    } catch {
      return 'missing'
    }
  }
  let fd: number
  try {
    fd = openSync(
      join(workspace, ...parts),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
    )
  } catch {
    return null
  }
  try {
    const stat = fstatSync(fd)
    return stat.isFile() && stat.size <= maxBytes ? readFileSync(fd, 'utf8') : null
  } finally {
    closeSync(fd)
  }
}

/**
 * The text of a regular file inside root (symbolic links followed, as long as they stay inside);
 * 'missing' when nothing is there, null when what is there may not be read.
 */
function readInside(root: string, path: string): string | 'missing' | null {
  const full = join(root, path)
  try {
    lstatSync(full)
  } catch {
    return 'missing'
  }
  let real: string
  try {
    real = realpathSync(full)
  } catch {
    return null // a dangling link: the server would follow it somewhere else
  }
  const inside = relative(root, real)
  if (inside === '' || inside === '..' || inside.startsWith('../') || isAbsolute(inside))
    return null
  // Checked on the open file, so nothing can be swapped in between; O_NONBLOCK: a FIFO does not
  // wait for a writer.
  let fd: number
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.size > MAX_BYTES) return null
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}
