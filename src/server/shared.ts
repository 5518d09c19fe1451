// Paths of a release that outlive it: kept in shared/ and linked into every release (as
// Capistrano's linked files and folders). Named by the shared-paths input, and found for the
// user where the project's settings keep data inside the release: a SQLite database, MEDIA_ROOT,
// the file storage, django-compressor's online cache.

import type { Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import type { ProjectSettings } from './discover.js'
import { layout } from './layout.js'
import { asRoot, type BoundaryOp } from './boundary.js'
import { asApp } from './sandbox.js'
import type { Step } from './step.js'

export interface SharedPath {
  /** relative to the release */
  path: string
  kind: 'file' | 'folder'
  /** what asked for it, for the notice: 'shared-paths', 'MEDIA_ROOT', ... */
  why: string
}

/** The part of `path` below `folder`, or undefined when it is not below it. */
function below(folder: string, path: string | undefined): string | undefined {
  return path && path.startsWith(`${folder}/`) ? path.slice(folder.length + 1) : undefined
}

/** The release's shared paths: the input's first, then what the settings keep in the release. */
export function sharedPaths(
  s: Settings,
  id: string,
  projectSettings: ProjectSettings
): SharedPath[] {
  const release = layout(s).release(id)
  const candidates: Array<[string | undefined, SharedPath['kind'], string]> = [
    ...s.sharedPaths.map((p): [string, SharedPath['kind'], string] => [
      p.replace(/\/$/, ''),
      p.endsWith('/') ? 'folder' : 'file',
      'shared-paths'
    ]),
    ...(projectSettings.sqlite ?? []).map(
      (file): [string | undefined, SharedPath['kind'], string] => [
        below(release, file),
        'file',
        'the SQLite database in DATABASES'
      ]
    ),
    [below(release, projectSettings.mediaRoot), 'folder', 'MEDIA_ROOT'],
    [below(release, projectSettings.storage), 'folder', 'the file storage (STORAGES)'],
    [below(release, compressCache(projectSettings)), 'folder', "django-compressor's online cache"]
  ]
  const paths: SharedPath[] = []
  for (const [path, kind, why] of candidates) {
    if (!path) continue
    // One inside another is shared with it.
    const covered = (p: SharedPath) =>
      p.path === path || (p.kind === 'folder' && path.startsWith(`${p.path}/`))
    if (!paths.some(covered)) paths.push({ path, kind, why })
  }
  return paths
}

/** Where django-compressor writes at run time (online mode), or undefined. */
export function compressCache(projectSettings: ProjectSettings): string | undefined {
  const c = projectSettings.compress
  const root = c?.root ?? projectSettings.staticRoot
  return c && c.enabled && !c.offline && root ? `${root}/${c.output}` : undefined
}

/** Where a path of the release really lives: in shared/ when it is (below) a shared path. */
export function sharedLocation(
  s: Settings,
  id: string,
  shared: SharedPath[],
  path: string
): string {
  const p = layout(s)
  const rel = below(p.release(id), path)
  const hit = rel && shared.find((sp) => rel === sp.path || rel.startsWith(`${sp.path}/`))
  return hit ? `${p.shared}/${rel}` : path
}

/**
 * Puts the shared paths in place: what the first release ships is copied to shared/ by the app
 * (a file the app cannot read stays behind), folders are made for the app (nginx may read
 * them), and root links each path of the release there, following no link on the way.
 */
export function shareStep(s: Settings, id: string, shared: SharedPath[]): Step {
  const p = layout(s)
  const release = p.release(id)
  const copy = shared.map(({ path }) =>
    script(
      sh`if [ ! -e ${`${p.shared}/${path}`} ] && [ ! -L ${`${p.shared}/${path}`} ] && [ -e ${path} ] && [ ! -L ${path} ]; then`,
      sh`  mkdir -p ${`${p.shared}/${path}`.replace(/\/[^/]*$/, '')} && cp -a ${path} ${`${p.shared}/${path}`}`,
      raw('fi')
    )
  )
  return {
    id: 'shared-paths',
    phase: 'django',
    title: `Keep ${shared.map((sp) => sp.path).join(', ')} in shared/`,
    privileged: true,
    command: script(
      raw('set -eu'),
      asApp(s, { name: 'share', cwd: release, writable: [p.shared], release: id }, script(...copy)),
      asRoot(
        s,
        ...shared
          .filter((sp) => sp.kind === 'folder')
          .map((sp): BoundaryOp => ({
            op: 'folder',
            path: `${p.shared}/${sp.path}`,
            owner: { user: s.appUser, group: 'www-data' },
            mode: '2750'
          })),
        {
          op: 'share',
          path: release,
          links: shared.map((sp) => [sp.path, `${p.shared}/${sp.path}`])
        }
      )
    )
  }
}

/** The notice: what was kept where, and how to say otherwise. */
export function sharedNotice(s: Settings, shared: SharedPath[]): string {
  const found = shared.filter((sp) => sp.why !== 'shared-paths')
  if (found.length === 0) return ''
  return (
    found
      .map(
        (sp) =>
          `${sp.path} (${sp.why}) is inside the release: kept in ${layout(s).shared}/${sp.path} and linked into every release.`
      )
      .join('\n') +
    '\nSo it survives the next deploy and a rollback. To keep it elsewhere, point the setting at a folder outside the code (for example from an environment variable set in dotenv).'
  )
}
