// Django on the server: commands run as the app user in a release, the settings the deploy reads
// from the project, and the steps before the switch (the folders it writes, the one Django
// process of server/manage.ts, hooks).

import { isAsgi } from '../asgi.js'
import type { Settings } from '../settings.js'
import { raw } from '../shell.js'
import { asgiImportStep } from './asgi.js'
import { layout } from './layout.js'
import { asRoot } from './boundary.js'
import { sharedLocation, sharedPaths, shareStep } from './shared.js'
import { inRelease } from './sandbox.js'
import { hostNames, type ProjectSettings } from './discover.js'
import { djangoStep, type DjangoWork } from './manage.js'
import { preflightCheck } from './preflight.js'
import { migrationPlanStep } from './migrations.js'
import { foldedIntoFirst, type Step } from './step.js'

/** Where MEDIA_ROOT really is: in shared/ when it is a shared path of the release. */
function mediaFolder(
  s: Settings,
  id: string,
  projectSettings: ProjectSettings
): string | undefined {
  const media = projectSettings.mediaRoot ?? s.mediaRoot
  return media && sharedLocation(s, id, sharedPaths(s, id, projectSettings), media)
}

/** The folders Django writes: shared/, a MEDIA_ROOT elsewhere, and writable-paths. */
export function appWritable(s: Settings, id: string, projectSettings: ProjectSettings): string[] {
  const shared = layout(s).shared
  const media = mediaFolder(s, id, projectSettings)
  const outside = media && media !== shared && !media.startsWith(`${shared}/`) ? [media] : []
  return [shared, ...outside, ...s.writablePaths]
}

/**
 * The storages whose collected files the next release may start from, linked (server/manage.ts):
 * Django's own, which replace a changed file by a new one. Others (whitenoise's compression, for
 * one) write into the files they find, which are the previous release's too.
 */
const LINKED_STORAGES = new Set([
  'django.contrib.staticfiles.storage.StaticFilesStorage',
  'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'
])

/** The step whose migration plan decides whether the site goes into maintenance. */
export const PENDING_STEP = 'pending-migrations'

/**
 * The Django steps before the switch, in order, each as the app user: the folders it writes,
 * the ASGI import check, then one process for the WSGI application's import (as gunicorn will),
 * migrate, collectstatic, checks and build commands (server/manage.ts), then the pre-restart hook. `assumed`: `projectSettings` are the live release's
 * settings, which that process checks first (it runs for that alone if need be).
 */
export function djangoSteps(
  s: Settings,
  id: string,
  projectSettings: ProjectSettings,
  previous = '',
  assumed = false,
  readPending = false
): Step[] {
  // Root's preparations, sent with the first step that runs Django (server/step.ts folded).
  const prepare: Step[] = []
  const steps: Step[] = []
  const writable = appWritable(s, id, projectSettings)
  const shared = sharedPaths(s, id, projectSettings)
  if (shared.length > 0) prepare.push(shareStep(s, id, shared))
  const folders = [mediaFolder(s, id, projectSettings), ...s.writablePaths].filter(
    (f): f is string => f !== undefined
  )
  if (folders.length > 0) {
    prepare.push({
      id: 'media',
      phase: 'django',
      title: `Prepare the folders the app writes: ${folders.join(', ')}`,
      privileged: true,
      // Group www-data with setgid: files the app writes stay readable by nginx.
      command: asRoot(
        s,
        ...folders.map((path) => ({
          op: 'folder' as const,
          path,
          owner: { user: s.appUser, group: 'www-data' },
          mode: '2750'
        }))
      )
    })
  }
  // Before migrate: a release whose application cannot be imported changes nothing.
  if (isAsgi(s)) steps.push(asgiImportStep(s, id, writable))
  const work: DjangoWork = {
    migrate: s.migrate,
    backup: s.backup,
    collectstatic: s.collectstatic && !!projectSettings.staticRoot,
    check: s.checkDeploy,
    commands: buildCommands(s, projectSettings),
    application: isAsgi(s) ? undefined : s.wsgiModule,
    ...(assumed ? assumedWork(s, projectSettings) : {})
  }
  // maintenance-during-migrations: whether there are migrations to apply, known before the
  // process that applies them (the site goes into maintenance in between).
  if (readPending && work.migrate) steps.push(pendingStep(s, id, writable))
  const manage = work.migrate || work.collectstatic || work.check || work.commands.length > 0
  // WSGI: the process runs at least to import the application.
  if (manage || work.settings || work.application)
    steps.push(
      djangoStep(s, id, work, {
        writable,
        staticRoot: projectSettings.staticRoot,
        previous: LINKED_STORAGES.has(projectSettings.staticStorage ?? '') ? previous : '',
        databaseEngine: projectSettings.databaseEngine
      })
    )
  if (s.preRestart) steps.push(hookStep(s, id, 'pre-restart', s.preRestart, 'django', writable))
  return foldedIntoFirst(prepare, steps)
}

/** The settings were recorded: the process checks them, and finds every problem first. */
function assumedWork(s: Settings, projectSettings: ProjectSettings): Partial<DjangoWork> {
  return {
    settings: projectSettings.printed
      ? { expect: projectSettings.printed, hosts: hostNames(s) }
      : undefined,
    preflight: preflightCheck(s)
  }
}

function pendingStep(s: Settings, id: string, writable: string[]): Step {
  return {
    ...migrationPlanStep(s, id, writable),
    id: PENDING_STEP,
    title: 'Read whether migrations are to be applied (maintenance-during-migrations)'
  }
}

/** build-commands, and django-compressor's offline compression when the settings ask for it. */
export function buildCommands(s: Settings, projectSettings: ProjectSettings): string[][] {
  const offline = projectSettings.compress?.enabled && projectSettings.compress.offline
  const listed = s.buildCommands.some((words) => words[0] === 'compress')
  return [...s.buildCommands, ...(offline && !listed ? [['compress', '--force']] : [])]
}

/** pre-restart and post-deploy: the user's shell, as the app user in the release. */
export function hookStep(
  s: Settings,
  id: string,
  name: 'pre-restart' | 'post-deploy',
  text: string,
  phase: Step['phase'],
  writable: string[] = [layout(s).shared]
): Step {
  return {
    id: name,
    phase,
    title: name,
    privileged: true,
    command: inRelease(s, id, name, writable, raw(text))
  }
}
