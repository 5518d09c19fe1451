// Wheel tags (the wheel file name's python-abi-platform part, PEP 425 and the binary distribution
// format) and which of a locked package's files a server may install.
import type { LockedFile, ServerPython } from './types.js'

/**
 * The tags a wheel's file name declares, its compressed tag sets expanded
 * (`py2.py3-none-any` is `py2-none-any` and `py3-none-any`); undefined for a file that is not a
 * wheel or whose name is not a wheel's.
 */
export function wheelTags(fileName: string): string[] | undefined {
  if (!fileName.endsWith('.whl')) return undefined
  // name-version(-build)?-python-abi-platform.whl: the name's own dashes are underscores
  const parts = fileName.slice(0, -'.whl'.length).split('-')
  if (parts.length !== 5 && parts.length !== 6) return undefined
  const [pythons, abis, platforms] = parts.slice(-3).map((set) => set.split('.'))
  const tags: string[] = []
  for (const python of pythons) {
    for (const abi of abis) {
      for (const platform of platforms) tags.push(`${python}-${abi}-${platform}`)
    }
  }
  return tags
}

/** A file's name from where it is: the last part of its URL's path or of its path. */
export function fileNameOf(location: string): string {
  const path = location.replace(/[?#].*$/, '')
  const name = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(name)
  } catch {
    return name
  }
}

/** How well the server takes a wheel: the index of its best tag in the server's tags. */
function rank(file: LockedFile, order: Map<string, number>): number | undefined {
  const tags = wheelTags(file.name)
  if (tags === undefined) return undefined
  const ranks = tags.map((tag) => order.get(tag)).filter((index) => index !== undefined)
  return ranks.length === 0 ? undefined : Math.min(...ranks)
}

/**
 * The files the server may install, best first: the wheels whose tags it accepts (the lowest
 * index in its tags first), then the sdists, which it builds itself.
 */
export function installableFiles(files: LockedFile[], server: ServerPython): LockedFile[] {
  const order = new Map(server.tags.map((tag, index) => [tag, index]))
  const wheels = files
    .map((file) => ({ file, rank: rank(file, order) }))
    .filter((entry): entry is { file: LockedFile; rank: number } => entry.rank !== undefined)
    .sort((a, b) => a.rank - b.rank)
    .map((entry) => entry.file)
  const sdists = files.filter((file) => !file.name.endsWith('.whl'))
  return [...wheels, ...sdists]
}

/** The problem of a package the server can install no file of. */
export function noFileProblem(name: string, version: string, server: ServerPython): string {
  const python = server.markers.python_version ?? 'unknown version'
  const machine = server.markers.platform_machine ?? 'unknown machine'
  return `the lock has no file of ${name} ${version} for this server's Python (${python}, ${machine})`
}
