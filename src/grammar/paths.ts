// Server paths the action writes as root: allow-lists, so that a path naming a system folder
// (/etc/nginx, /root/.ssh) is refused whatever it is called. Pure; each returns the problem, or
// undefined when the path is allowed.

import { RESERVED } from '../server/layout.js'

export const SAFE_PATH = /^\/[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/

export function hasDotSegment(path: string): boolean {
  return path.split('/').some((part) => part === '..' || part === '.')
}

/** `path` is inside `folder`, at least one level below it (never the folder itself). */
export function isBelow(path: string, folder: string): boolean {
  return path.startsWith(`${folder}/`)
}

/** A deploy path is below one of these, or below /home/<user>. */
export const DEPLOY_ROOTS = ['/srv', '/opt', '/var/www', '/var/lib']

/**
 * Where a deploy may go (the action makes it root-owned, and runs as root what it holds). Not in
 * the app user's home: the owner of a folder above the code could swap the code for its own.
 */
export function deployPathProblem(path: string, appUser: string): string | undefined {
  const below =
    /^\/home\/[^/]+\/[^/]/.test(path) || DEPLOY_ROOTS.some((root) => isBelow(path, root))
  if (!below || !SAFE_PATH.test(path) || hasDotSegment(path)) {
    return `${path} is not below ${DEPLOY_ROOTS.join(', ')} or /home/<user>`
  }
  if (isBelow(path, `/home/${appUser}`) || isBelow(path, `/var/lib/${appUser}`)) {
    return `${path} is in a folder of the app user ${appUser}, who could replace the code`
  }
  return undefined
}

/** Linux's limit: a longer path is no folder, and would only fill the log. */
const PATH_MAX = 4096

export interface AppFolderContext {
  /** the deploy path, as read (absolute, no trailing slash) */
  deployPath: string
  appUser: string
}

/**
 * Whether a folder may be created and handed to the app user (chown, for collectstatic chown -R):
 * static-root and media-root, and the STATIC_ROOT and MEDIA_ROOT the project's settings name.
 * Allowed: below the deploy path (not the folders the deploy keeps), /srv, /opt, /var/www or
 * /var/lib/<app-user>. A trailing slash is ignored. The problem names the path only when it is
 * a plain path (safe to print).
 */
export function appFolderProblem(path: string, where: AppFolderContext): string | undefined {
  const { deployPath, appUser } = where
  const folder = path.length > 1 ? path.replace(/\/+$/, '') : path
  if (!SAFE_PATH.test(folder) || hasDotSegment(folder) || folder.length > PATH_MAX) {
    // Not repeated: a path from the server may hold anything, a line break included.
    return 'must be an absolute path of letters, digits and _ . - @ +, without ..'
  }
  if (deployPath === folder || isBelow(deployPath, folder)) {
    return `${folder} holds deploy-path ${deployPath}: the app user would own the releases; use a folder of its own`
  }
  if (isBelow(folder, deployPath)) return deployFolderProblem(folder, deployPath)
  const roots = ['/srv', '/opt', '/var/www', `/var/lib/${appUser}`]
  if (roots.some((root) => isBelow(folder, root))) return undefined
  return `${folder} is not a folder the action may hand to the app user: use one below ${deployPath}, ${roots.join(', ')}`
}

/**
 * Below the deploy path, the folders the deploy keeps stay root's: the action's own entries
 * (RESERVED: venvs/, backups/, acme/, instances/, `current` itself...), releases/ and each
 * release, shared/ itself, and every dot name (.deploy/, .venv, .env, the lock). The app user
 * owning one of them could change code that root runs, or what root keeps for itself.
 */
function deployFolderProblem(folder: string, deployPath: string): string | undefined {
  const parts = folder.slice(deployPath.length + 1).split('/')
  const [first] = parts
  const kept =
    parts.some((part) => part.startsWith('.')) ||
    // Below `current` is a folder of the live release (static-root: <deploy-path>/current/static).
    (RESERVED.has(first) && !(first === 'current' && parts.length > 1)) ||
    (first === 'releases' && parts.length <= 2) ||
    (first === 'shared' && parts.length === 1)
  const names = ['releases', 'shared', ...[...RESERVED].filter((name) => !name.startsWith('.'))]
  return kept
    ? `${folder} is a folder the deploy keeps (${names.join(', ')}, dot names): use one of its own, e.g. ${deployPath}/shared/media`
    : undefined
}
