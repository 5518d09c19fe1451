// Django's deploy work on a new release in one Python process (one interpreter start, one
// django.setup()): the migration plan, collectstatic, check --deploy, the backup and migrate
// (only when the plan has something to apply: decided in the process, on the database itself),
// then the build commands. Root prepares the folders the app writes before it, and takes them
// back after it.

import { pythonFile } from './python.js'
import type { Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { inRelease } from './sandbox.js'
import { layout } from './layout.js'
import { BACKUP_FN, checkClientTools, databaseKind, PLAN_FN, workFolder } from './migrations.js'
import { sealRelease } from './release.js'
import { asRoot, type BoundaryOp } from './boundary.js'
import { SETTINGS_FN, type ProjectSettings } from './discover.js'
import { PREFLIGHT_FN, type PreflightCheck } from './preflight.js'
import type { Step } from './step.js'

/** What the process does; the order is fixed (DJANGO_PY). */
export interface DjangoWork {
  /** the migration plan, then backup and migrate when it has something to apply */
  migrate: boolean
  /** back up the database before migrate (SQLite, PostgreSQL) */
  backup: boolean
  collectstatic: boolean
  /** check --deploy --fail-level WARNING */
  check: boolean
  /** build-commands (and compress), each a manage.py command's words */
  commands: string[][]
  /**
   * The WSGI application (`module:variable`), imported first as gunicorn will: a release that
   * cannot import it fails here, before migrate applies anything. ASGI has its own import step.
   */
  application?: string
  /**
   * The plan was made with the live release's settings (not read from this one): the process
   * reads them first, and stops before anything else when they say other things now.
   */
  settings?: { expect: NonNullable<ProjectSettings['printed']>; hosts: string[] }
  /**
   * The first Django process of the run (no discover step: the settings were recorded): every
   * problem it can find, found before anything else (server/preflight.ts).
   */
  preflight?: PreflightCheck
}

/**
 * collectstatic compares contents, not times: a file whose content did not change is not copied
 * again (the previous release's collected files are linked in first, see collectStaticRoot), a
 * changed one always is, whatever the modification times say (an upload sets them all);
 * python/collectstatic.py.
 */
const COLLECT_FN = pythonFile(new URL('./python/collectstatic.py', import.meta.url))

/** The one Django process (python/django_process.py), after the functions it calls. */
export const DJANGO_PY = [
  PREFLIGHT_FN,
  SETTINGS_FN,
  PLAN_FN,
  BACKUP_FN,
  COLLECT_FN,
  pythonFile(new URL('./python/django_process.py', import.meta.url))
].join('')

/** The step's title: what it runs, as manage.py commands. */
function titleOf(work: DjangoWork): string {
  const parts: string[] = [
    ...(work.migrate ? ['migrate (when a migration is unapplied)'] : []),
    ...(work.collectstatic ? ['collectstatic'] : []),
    ...(work.check ? ['check --deploy'] : []),
    ...work.commands.map((words) => words.join(' '))
  ]
  if (parts.length > 0) return `manage.py ${parts.join(', ')}`
  return work.application
    ? `Import ${work.application} as gunicorn will`
    : "Check the project's settings (what the live release's said)"
}

/**
 * STATIC_ROOT inside the release starts as the previous release's collected files, linked (not
 * copied): root's files, which the app may replace but not change, in folders handed to the app
 * deepest first (no folder is the app's while root still works below it).
 */
function collectStaticRoot(
  s: Settings,
  id: string,
  staticRoot: string,
  previous: string
): BoundaryOp[] {
  const p = layout(s)
  const release = p.release(id)
  const inside = staticRoot.startsWith(`${release}/`)
  const app = { user: s.appUser, group: s.appUser }
  if (!inside || !previous) return [{ op: 'folder', path: staticRoot, owner: app, mode: '755' }]
  const before = p.release(previous) + staticRoot.slice(release.length)
  return [
    { op: 'folder', path: staticRoot, owner: { user: 'root', group: 'root' }, mode: '755' },
    // What cannot be reached without a link is not linked: it is collected as usual.
    { op: 'link', from: before, path: staticRoot },
    { op: 'hand', path: staticRoot, user: s.appUser, foldersOnly: true }
  ]
}

/**
 * Root's work around the Django process, through the boundary. Before: the static root made
 * (and started from the previous release's files), the release handed to the app while build
 * commands write into it (the static files linked from the previous release stay root's: the app
 * replaces them, never changes them). After: the release sealed as code again, and the static
 * files collected inside it frozen with it, root's, open to nginx.
 */
function rootWork(
  s: Settings,
  id: string,
  at: { collect?: string; staticRoot?: string; building: boolean; previous: string }
): { before: BoundaryOp[]; after: BoundaryOp[] } {
  const release = layout(s).release(id)
  const { collect, staticRoot, building } = at
  const below = (path?: string) =>
    path?.startsWith(`${release}/`) ? path.slice(release.length + 1) : undefined
  const before: BoundaryOp[] = [
    ...(collect ? collectStaticRoot(s, id, collect, at.previous) : []),
    ...(building
      ? [{ op: 'hand', path: release, user: s.appUser, except: below(collect) } as const]
      : [])
  ]
  const after: BoundaryOp[] = [
    ...(building ? [sealRelease(s, release, { except: below(collect), handed: true })] : []),
    ...(staticRoot && below(staticRoot) && (collect || building)
      ? [{ op: 'take', path: staticRoot, group: 'root', mode: 'public', user: s.appUser } as const]
      : [])
  ]
  return { before, after }
}

/**
 * The one Django process of a new release, as the app user in the sandbox. `writable` is what
 * the app writes anyway (shared/, media); the static root, the release itself (for build
 * commands that write into it) and the backup's folder are added while the process runs.
 */
export function djangoStep(
  s: Settings,
  id: string,
  work: DjangoWork,
  where: { writable: string[]; staticRoot?: string; previous: string; databaseEngine?: string }
): Step {
  const release = layout(s).release(id)
  const { staticRoot } = where
  const collect = work.collectstatic && staticRoot ? staticRoot : undefined
  const kind = work.migrate && work.backup ? databaseKind(where.databaseEngine) : undefined
  const folder = workFolder(s, id, kind)
  const building = work.commands.length > 0
  const writable = [
    ...where.writable,
    ...(staticRoot && (collect || building) ? [staticRoot] : []),
    ...(building ? [release] : []),
    folder.folder
  ]
  const json = JSON.stringify({ ...work, collectstatic: !!collect, backup: !!kind })
  const root = rootWork(s, id, { collect, staticRoot, building, previous: where.previous })
  const after = [...(work.migrate ? folder.keep : []), ...root.after]
  return {
    id: 'django',
    phase: 'django',
    title: titleOf({ ...work, collectstatic: !!collect }),
    privileged: true,
    command: script(
      raw('set -eu'),
      kind === 'postgresql' ? checkClientTools : undefined,
      folder.make,
      asRoot(s, ...root.before, folder.handOver),
      raw('status=0'),
      script(
        raw('{'),
        inRelease(s, id, 'django', writable, sh`python -c ${DJANGO_PY} ${json} ${folder.folder}`),
        raw('} || status=$?')
      ),
      // The backup kept first: the app's folder goes with the script (folder.make).
      after.length > 0 ? asRoot(s, ...after) : undefined,
      work.migrate ? folder.migrated : undefined,
      raw('exit $status')
    )
  }
}
