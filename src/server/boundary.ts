// The root boundary: the only way root touches a tree that the repository, its dependencies or
// the app user could have shaped (a release, shared/, a venv, the static and media roots, the
// backup's work folder). Every operation reaches each path component by descriptor, never
// following a link, and changes what it found through the descriptor it opened: a link or a
// rename planted at any component, before or while root works, cannot steer root elsewhere.
// Shell tools cannot promise that (chmod -R follows the link it is given, cp and a redirect
// follow every component), so no other module hands them a path inside such a tree.
//
// Operations are data (`BoundaryOp`); `asRoot()` renders one Python process for several, run
// with -I -S (nothing of the repository, the environment or site-packages is imported).
// SECURITY.md says why each is safe; __tests__/boundary.test.ts attacks each at every component.

import type { Settings } from '../settings.js'
import { sh, type ShellText } from '../shell.js'
import { BOUNDARY_PY, NOT_READY } from './boundary-program.js'

export { BOUNDARY_PY, NOT_READY }

/** Who owns what an operation makes or hands over (names, looked up on the host). */
export interface Owner {
  user: string
  group: string
}

/**
 * How root seals a tree it takes back: `code` (a release: root's and the app's group's to read,
 * others may only pass through folders) or `public` (collected static files and venvs: anyone
 * reads, only root writes). Set-id bits never survive.
 */
export type SealMode = 'code' | 'public'

export type BoundaryOp =
  /**
   * the app user, when it exists, is an account of its own: not root, not nginx's, in no group
   * but its own, the only name of its uid (else the process ends, naming what to do)
   */
  | { op: 'user'; user: string }
  /** a folder (and its missing parents, root's) owned by `owner` with `mode` */
  | { op: 'folder'; path: string; owner: Owner; mode: string }
  /**
   * a tree handed to the app user, deepest first (no folder is the app's while root still works
   * below it); `foldersOnly`: files stay root's (the app may replace them, not change them);
   * `except`: a folder below `path` left as it is; files of several links stay root's
   */
  | { op: 'hand'; path: string; user: string; foldersOnly?: boolean; except?: string }
  /**
   * a tree taken back from the app user, top down (each folder is root's before root looks into
   * it, so nothing below can be renamed meanwhile), sealed with `mode`; a file of several links
   * that root did not make is removed, and so is anything but files, folders and links
   */
  | {
      op: 'take'
      path: string
      group: string
      mode: SealMode
      except?: string
      /** the app user the tree was handed to: only its files are sealed (root's already sealed
       *  ones stay); any other file, one the app moved in from a folder it writes, is removed */
      user?: string
    }
  /** root's regular files below `from` hard-linked into `path` (folders made as root's); a
   *  `from` that cannot be reached without a link is skipped */
  | { op: 'link'; from: string; path: string }
  /**
   * a venv built by the app user: `tree` (the venv, or the release it was built in) taken back
   * with `mode`; then the build's own mark `.built` must be there (a build stopped from outside
   * has none), `remove` entries of the venv go, and `.complete` marks it usable
   */
  | {
      op: 'venv'
      path: string
      tree: string
      mode: SealMode
      group: string
      user: string
      remove?: string[]
    }
  /**
   * whether `path` is a complete venv (root's, marked `.complete` by root): when it is not, the
   * process ends at once with exit NOT_READY, and no later operation runs
   */
  | { op: 'ready'; path: string }
  /** the release's *.py byte-compiled into __pycache__ (root's, `group`'s to read); files
   *  that are links, folders named in `skip` and a linked __pycache__ are passed by */
  | { op: 'compile'; path: string; group: string; skip: string[] }
  /** a link `name` to `target` in the folder `path` (a link already there replaced) */
  | { op: 'symlink'; path: string; name: string; target: string }
  /**
   * `links` in the release `path`: each relative path a link to its target (shared/); parents
   * made as folders of the release, whatever the release shipped at that name kept beside it
   */
  | { op: 'share'; path: string; links: Array<[string, string]> }
  /**
   * the regular file `path` (of one link) kept as `to`, root's alone (0600): linked by the
   * descriptor root checked, whatever the app does with the name meanwhile; prints `say`, its
   * size and `to` on a line of their own. Anything else there is an error, and nothing is kept
   */
  | { op: 'keep'; path: string; to: string; say: string }
  /** root's file `from` copied to the new file `path` (root's, 0600), for the app to read once handed */
  | { op: 'copy'; from: string; path: string }
  /**
   * entries of the folder `path` removed: a link as a link, a folder with all it holds, each
   * folder opened by descriptor without following a link, however deep (a folder deeper than 64
   * is moved up into `path` first); an entry swapped while root works is looked at again as it
   * is now. `names` '*': every entry but `keep`. `say`: prints `removed <name> <count>` (the name
   * a JSON string) for each. `dryRun`: removes nothing, prints `would-remove <path>` for every
   * path below (a JSON string; a folder's ends with /)
   */
  | {
      op: 'remove'
      path: string
      names: string[] | '*'
      keep?: string[]
      say?: boolean
      dryRun?: boolean
    }
  /** files written into the folder `path` (root's, with their folders): [relative path, base64] */
  | { op: 'files'; path: string; files: Array<[string, string]> }

/**
 * Runs `ops` as root, in order, in one process (the caller's step is privileged). The deploy
 * path is the trusted base of every path below it; any other path is walked from /.
 */
export function asRoot(
  s: Pick<Settings, 'python' | 'deployPath'>,
  ...ops: BoundaryOp[]
): ShellText {
  return sh`${s.python} -I -S -c ${BOUNDARY_PY} ${JSON.stringify(ops)} ${s.deployPath}`
}

/**
 * The operations a rendered script gives the boundary, in order (for tests and the guard that
 * no root step touches a shaped tree another way).
 */
export function boundaryOps(text: string): BoundaryOp[] {
  const program = sh`${BOUNDARY_PY}`.text
  const ops: BoundaryOp[] = []
  for (let at = text.indexOf(program); at >= 0; at = text.indexOf(program, at + 1)) {
    const json = /^ '([^']*)'/.exec(text.slice(at + program.length))
    if (json) ops.push(...(JSON.parse(json[1]) as BoundaryOp[]))
  }
  return ops
}

/** The text with every call of the boundary cut out, as `<boundary>`. */
export function withoutBoundary(text: string): string {
  return text.split(sh`${BOUNDARY_PY}`.text).join('<boundary>')
}
