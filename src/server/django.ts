// Django on the server: commands run as the app user in a release, the settings the deploy reads
// from the project, and the steps before the switch (migrate, collectstatic, checks, hooks).

import { isAsgi } from '../render/asgi.js'
import type { SitePaths } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { asgiImportStep } from './asgi.js'
import { layout } from './layout.js'
import { sealRelease } from './release.js'
import { safeDir } from './safe-dir.js'
import { sharedLocation, sharedPaths, shareStep } from './shared.js'
import { asApp } from './sandbox.js'
import type { DjangoFacts } from './discover.js'
import {
  backupStep,
  clientToolsStep,
  databaseKind,
  migrateStep,
  migrationPlanStep,
  type MigrationPlan
} from './migrations.js'
import type { Step } from './step.js'

/** Where MEDIA_ROOT really is: in shared/ when it is a shared path of the release. */
function mediaFolder(s: Settings, id: string, found: DjangoFacts): string | undefined {
  const media = found.mediaRoot ?? s.mediaRoot
  return media && sharedLocation(s, id, sharedPaths(s, id, found), media)
}

/** The folders Django writes: shared/, a MEDIA_ROOT elsewhere, and writable-paths. */
export function appWritable(s: Settings, id: string, found: DjangoFacts): string[] {
  const shared = layout(s).shared
  const media = mediaFolder(s, id, found)
  const outside = media && media !== shared && !media.startsWith(`${shared}/`) ? [media] : []
  return [shared, ...outside, ...s.writablePaths]
}

/** Runs a management command (or the user's shell) as the app user, in the release. */
export function inRelease(
  s: Settings,
  id: string,
  name: string,
  writable: string[],
  command: ShellText
): ShellText {
  return asApp(s, { name, cwd: layout(s).release(id), writable, release: id }, command)
}

/**
 * The nginx locations: inputs win over the project's settings. A folder inside the release is
 * served through `current`, so static files switch (and roll back) with the release.
 */
export function sitePaths(s: Settings, id: string, found: DjangoFacts): SitePaths {
  const p = layout(s)
  const release = p.release(id)
  const viaCurrent = (folder?: string) =>
    folder && (folder === release || folder.startsWith(`${release}/`))
      ? p.current + folder.slice(release.length)
      : folder
  return {
    staticUrl: s.staticUrl ?? found.staticUrl,
    staticRoot: s.staticRoot ?? viaCurrent(found.staticRoot),
    mediaUrl: s.mediaUrl ?? found.mediaUrl,
    mediaRoot: s.mediaRoot ?? viaCurrent(found.mediaRoot)
  }
}

/** A MEDIA_ROOT inside the release is lost with the next deploy. */
export function mediaInRelease(s: Settings, id: string, found: DjangoFacts): boolean {
  return !!found.mediaRoot && (found.mediaRoot + '/').startsWith(`${layout(s).release(id)}/`)
}

/** The Django steps before the switch, in order; each runs as the app user. */
export function djangoSteps(
  s: Settings,
  id: string,
  found: DjangoFacts,
  migrations?: MigrationPlan
): Step[] {
  const steps: Step[] = []
  const writable = appWritable(s, id, found)
  const shared = sharedPaths(s, id, found)
  if (shared.length > 0) steps.push(shareStep(s, id, shared))
  const folders = [mediaFolder(s, id, found), ...s.writablePaths].filter(
    (f): f is string => f !== undefined
  )
  if (folders.length > 0) {
    steps.push({
      id: 'media',
      phase: 'django',
      title: `Prepare the folders the app writes: ${folders.join(', ')}`,
      privileged: true,
      // Group www-data with setgid: files the app writes stay readable by nginx.
      command: script(
        ...folders.map((f) => safeDir(s, f, { user: s.appUser, group: 'www-data' }, '2750'))
      )
    })
  }
  // Before migrate: a release whose application cannot be imported changes nothing.
  if (isAsgi(s)) steps.push(asgiImportStep(s, id, writable))
  if (s.migrate) steps.push(...migrationSteps(s, id, found, writable, migrations))
  const staticRoot = found.staticRoot
  if (s.collectstatic && staticRoot) steps.push(collectstaticStep(s, id, staticRoot, writable))
  const build = buildCommands(s, found)
  if (build.length > 0)
    steps.push(
      buildStep(s, id, build, [...writable, ...(staticRoot ? [staticRoot] : [])], staticRoot)
    )
  if (s.checkDeploy)
    steps.push(manageStep(s, id, 'check-deploy', 'check --deploy --fail-level WARNING', writable))
  if (s.preRestart) steps.push(hookStep(s, id, 'pre-restart', s.preRestart, 'django', writable))
  return steps
}

/**
 * The plan first; then, only when it has something to apply (or is not known yet), the backup
 * and migrate. The flow plans again with the plan's answer (flow/host.ts).
 */
function migrationSteps(
  s: Settings,
  id: string,
  found: DjangoFacts,
  writable: string[],
  migrations: MigrationPlan | undefined
): Step[] {
  const kind = databaseKind(found.databaseEngine)
  const backup = s.backup && kind
  const apply = migrations === undefined || migrations.pending.length > 0
  return [
    ...(backup === 'postgresql' ? [clientToolsStep()] : []),
    migrationPlanStep(s, id, writable),
    ...(apply && backup ? [backupStep(s, id, backup, writable)] : []),
    ...(apply ? [migrateStep(s, id, writable, migrations?.pending)] : [])
  ]
}

/** The app writes its static files once; inside the release they are then frozen with it. */
function collectstaticStep(s: Settings, id: string, staticRoot: string, writable: string[]): Step {
  const inside = staticRoot.startsWith(`${layout(s).release(id)}/`)
  return {
    ...manageStep(s, id, 'collectstatic', 'collectstatic --noinput', writable),
    command: script(
      raw('set -eu'),
      safeDir(s, staticRoot, { user: s.appUser, group: s.appUser }, '755'),
      inRelease(
        s,
        id,
        'collectstatic',
        [...writable, staticRoot],
        raw('python manage.py collectstatic --noinput')
      ),
      inside ? sh`chown -R -h root:root ${staticRoot} && chmod -R go+rX ${staticRoot}` : undefined
    )
  }
}

/** build-commands, and django-compressor's offline compression when the settings ask for it. */
export function buildCommands(s: Settings, found: DjangoFacts): string[][] {
  const offline = found.compress?.enabled && found.compress.offline
  const listed = s.buildCommands.some((words) => words[0] === 'compress')
  return [...s.buildCommands, ...(offline && !listed ? [['compress', '--force']] : [])]
}

/**
 * Commands that write into the release (compilemessages, compress): the release is the app's
 * while they run, then root's again, read-only, with the static files open to nginx.
 */
function buildStep(
  s: Settings,
  id: string,
  commands: string[][],
  writable: string[],
  staticRoot: string | undefined
): Step {
  const release = layout(s).release(id)
  const inside = staticRoot?.startsWith(`${release}/`)
  return {
    id: 'build',
    phase: 'django',
    title: commands.map((words) => `manage.py ${words.join(' ')}`).join('; '),
    privileged: true,
    command: script(
      raw('set -eu'),
      sh`chown -R -h ${s.appUser} ${release}`,
      raw('status=0'),
      script(
        raw('{'),
        inRelease(
          s,
          id,
          'build',
          [...writable, release],
          script(...commands.map((words) => sh`python manage.py ${words}`))
        ),
        raw('} || status=$?')
      ),
      sealRelease(s, release),
      inside && staticRoot ? sh`chmod -R go+rX ${staticRoot}` : undefined,
      raw('exit $status')
    )
  }
}

function manageStep(
  s: Settings,
  id: string,
  stepId: string,
  args: string,
  writable: string[]
): Step {
  return {
    id: stepId,
    phase: 'django',
    title: `manage.py ${args}`,
    privileged: true,
    command: inRelease(s, id, stepId, writable, raw(`python manage.py ${args}`))
  }
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
