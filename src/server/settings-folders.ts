// The folders the project's settings name: which of them the app may have (the plan refuses the
// others before anything runs), and where nginx serves the static and media files from.

import type { FolderBelow, SitePaths } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import type { ProjectSettings } from './discover.js'
import { layout, releaseCodeProblem, settingsFolderProblem } from './layout.js'
import { compressCache, sharedLocation, sharedPaths } from './shared.js'

/**
 * Why the plan refuses what the settings name, or undefined: STATIC_ROOT and MEDIA_ROOT are
 * folders the action hands to the app user, which must be ones the app may have (server/layout.ts),
 * whatever the settings printed; the data the app writes (SQLite files, the file storage,
 * django-compressor's cache) is never in its own code; the cache is a folder below its root.
 */
export function projectFolderProblem(
  s: Settings,
  projectSettings: ProjectSettings,
  target: string
): string | undefined {
  const shared = `${s.deployPath}/shared`
  const refused = `refused before anything ran`
  const instead: Record<string, string> = {
    STATIC_ROOT:
      `Keep STATIC_ROOT in the project (BASE_DIR / 'staticfiles': it switches and rolls back ` +
      `with the release), name a folder of its own with the input static-root, or put it under ${shared}.`,
    MEDIA_ROOT:
      `Put it under ${shared} (for example from an environment variable set in dotenv), or name ` +
      `a folder of the app's own with the input media-root.`
  }
  const folders: Array<[string, string | undefined]> = [
    ['STATIC_ROOT', projectSettings.staticRoot],
    ['MEDIA_ROOT', projectSettings.mediaRoot]
  ]
  for (const [setting, path] of folders) {
    const problem = path && settingsFolderProblem(s, path, target, [s.staticRoot, s.mediaRoot])
    if (problem)
      return `${setting} in the project's settings is ${path}, ${problem}; ${refused}. ${instead[setting]}`
  }
  const data: Array<[string, string | undefined]> = [
    ...(projectSettings.sqlite ?? []).map((file): [string, string] => [
      'the SQLite database in DATABASES',
      file
    ]),
    ['the file storage (STORAGES)', projectSettings.storage],
    ["django-compressor's online cache", compressCache(projectSettings)]
  ]
  const release = layout(s).release(target)
  for (const [what, path] of data) {
    // The release itself is where Django's file storage points while MEDIA_ROOT is unset (''):
    // nothing is kept in shared/ or handed to the app for it.
    const unset = path === release && path === projectSettings.storage
    const problem = path && !unset && releaseCodeProblem(s, path, target)
    if (problem)
      return (
        `${what} in the project's settings is ${path}, ${problem}; ${refused}. Keep it in a ` +
        `folder of its own (BASE_DIR / 'media', BASE_DIR / 'db.sqlite3': kept in shared/ by ` +
        `itself) or under ${shared}.`
      )
  }
  if (projectSettings.compress?.outputProblem)
    return (
      `${projectSettings.compress.outputProblem}; ${refused}. Leave it unset (CACHE, its default) or ` +
      `name a folder of its own, e.g. COMPRESS_OUTPUT_DIR = 'CACHE'.`
    )
  return undefined
}

/**
 * The nginx locations: inputs win over the project's settings. A folder inside the release is
 * served through `current`, so static files switch (and roll back) with the release.
 */
export function sitePaths(s: Settings, id: string, projectSettings: ProjectSettings): SitePaths {
  const p = layout(s)
  const release = p.release(id)
  const viaCurrent = (folder?: string) =>
    folder && (folder === release || folder.startsWith(`${release}/`))
      ? p.current + folder.slice(release.length)
      : folder
  return {
    staticUrl: s.staticUrl ?? projectSettings.staticUrl,
    staticRoot: s.staticRoot ?? viaCurrent(projectSettings.staticRoot),
    mediaUrl: s.mediaUrl ?? projectSettings.mediaUrl,
    mediaRoot: s.mediaRoot ?? viaCurrent(projectSettings.mediaRoot)
  }
}

/**
 * The site's static and media folders (sitePaths), each where nginx reaches it without a
 * link below `current`, which it does not follow (render/nginx.ts): a folder of the release kept
 * in shared/ (MEDIA_ROOT in the release) is served from there, and one below a served folder
 * (django-compressor's online cache in STATIC_ROOT) gets a location of its own.
 */
export function servedPaths(
  s: Settings,
  target: string,
  projectSettings: ProjectSettings
): SitePaths {
  const site = sitePaths(s, target, projectSettings)
  const p = layout(s)
  const release = p.release(target)
  const shared = sharedPaths(s, target, projectSettings)
  // A folder served through `current`, as the release's path; undefined for any other.
  const inRelease = (root?: string) =>
    root !== undefined && (root === p.current || root.startsWith(`${p.current}/`))
      ? release + root.slice(p.current.length)
      : undefined
  const real = (root?: string) => {
    const path = inRelease(root)
    const location = path && sharedLocation(s, target, shared, path)
    return location && location !== path ? location : root
  }
  const below = (root?: string): FolderBelow[] => {
    const path = inRelease(real(root))
    if (!path) return []
    return shared
      .filter((sp) => sp.kind === 'folder' && `${release}/${sp.path}`.startsWith(`${path}/`))
      .map((sp) => ({
        below: `${release}/${sp.path}`.slice(path.length + 1),
        root: `${p.shared}/${sp.path}`
      }))
  }
  return {
    ...site,
    staticRoot: real(site.staticRoot),
    mediaRoot: real(site.mediaRoot),
    staticBelow: below(site.staticRoot),
    mediaBelow: below(site.mediaRoot)
  }
}
