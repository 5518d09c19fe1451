// STAND-IN until the readers land: pylock.toml only, markers `name == 'value'` only.

import { parse } from 'smol-toml'
import {
  LOCK_FILES,
  type LockedDependencies,
  type LockedFile,
  type LockedPackage,
  type ServerPython
} from './types.js'

export interface LockInput {
  path: string
  text: string
  groups: string[]
}
export type Resolved = { ok: true; deps: LockedDependencies } | { ok: false; problem: string }

interface PylockFile {
  name?: string
  url?: string
  hashes: { sha256: string }
}
interface PylockPackage {
  name: string
  version: string
  marker?: string
  wheels?: PylockFile[]
  sdist?: PylockFile
}

const fileName = (f: PylockFile): string => f.name ?? (f.url ?? '').split('/').pop() ?? ''

function wheelTags(name: string): string[] {
  const [py, abi, platform] = name
    .replace(/\.whl$/, '')
    .split('-')
    .slice(-3)
  return py
    .split('.')
    .flatMap((p) => abi.split('.').flatMap((a) => platform.split('.').map((t) => `${p}-${a}-${t}`)))
}

function markerHolds(marker: string | undefined, server: ServerPython): boolean {
  if (!marker) return true
  const m = /^\s*(\w+)\s*(==|!=)\s*['"]([^'"]*)['"]\s*$/.exec(marker)
  if (!m) return true
  return (server.markers[m[1]] === m[3]) === (m[2] === '==')
}

export function resolveLock(input: LockInput, server: ServerPython): Resolved {
  if (!input.path.endsWith('pylock.toml'))
    return { ok: false, problem: `${input.path}: only pylock.toml is read yet` }
  const doc = parse(input.text) as unknown as { packages?: PylockPackage[] }
  const packages: LockedPackage[] = []
  for (const p of doc.packages ?? []) {
    if (!markerHolds(p.marker, server)) continue
    const rank = (f: PylockFile) =>
      Math.min(
        ...wheelTags(fileName(f))
          .map((t) => server.tags.indexOf(t))
          .filter((i) => i >= 0)
      )
    const wheels = (p.wheels ?? []).filter((w) => Number.isFinite(rank(w)))
    wheels.sort((a, b) => rank(a) - rank(b))
    const files: LockedFile[] = [...wheels, ...(p.sdist ? [p.sdist] : [])].map((f) => ({
      name: fileName(f),
      url: f.url,
      sha256: f.hashes.sha256
    }))
    if (files.length === 0)
      return {
        ok: false,
        problem: `the lock has no file of ${p.name} ${p.version} for this server's Python (${server.markers.python_version}, ${server.markers.platform_machine})`
      }
    packages.push({ name: p.name, version: p.version, files })
  }
  return {
    ok: true,
    deps: { source: 'pylock.toml', path: input.path, reproducible: true, packages }
  }
}

export function hashedRequirements(deps: LockedDependencies): string {
  return [...deps.packages]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(
      (p) =>
        `${p.name}==${p.version} ${p.files.map((f) => `--hash=sha256:${f.sha256}`).join(' ')}\n`
    )
    .join('')
}

export function findLock(exists: (name: string) => boolean): string | undefined {
  return LOCK_FILES.find((name) => exists(name))
}
