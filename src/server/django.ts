// Django on the server: commands run as the app user in a release, the settings the deploy reads
// from the project, and the steps before the switch (migrate, collectstatic, checks, hooks).

import type { SitePaths } from '../render/nginx.js'
import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { layout } from './layout.js'
import type { Step } from './step.js'

/**
 * The app user's shell runs the script it finds in DEPLOY_SCRIPT, and takes it out of the
 * environment of what it runs. In the environment, not on runuser's command line: `ps` shows
 * every local user the arguments of every process, and the hooks are the user's own code.
 */
const APP_SHELL = 'script=$DEPLOY_SCRIPT; unset DEPLOY_SCRIPT; eval "$script"'

/** Runs a Django management command (or shell) as the app user, in the release, with .env loaded. */
export function asApp(s: Settings, id: string, command: ShellText): ShellText {
  const p = layout(s)
  const inner = script(
    raw('set -eu'),
    sh`if [ -r ${p.env} ]; then set -a; . ${p.env}; set +a; fi`,
    sh`export DJANGO_SETTINGS_MODULE=${s.settingsModule} PATH=${p.release(id)}/.venv/bin:/usr/local/bin:/usr/bin:/bin`,
    command
  )
  return sh`cd ${p.release(id)} && DEPLOY_SCRIPT=${inner.text} runuser -u ${s.appUser} -- sh -c ${APP_SHELL}`
}

const DISCOVER_MARK = 'DJANGO-SETTINGS '

export const DISCOVER_PY = [
  'import json, django',
  'from django.conf import settings',
  'django.setup()',
  `print('${DISCOVER_MARK}' + json.dumps({k: str(getattr(settings, k, '') or '') for k in ('STATIC_URL', 'STATIC_ROOT', 'MEDIA_URL', 'MEDIA_ROOT')}))`
].join('\n')

export function discoverStep(s: Settings, id: string): Step {
  return {
    id: 'discover',
    phase: 'django',
    title: "Read STATIC_* and MEDIA_* from the project's settings",
    privileged: true,
    command: asApp(s, id, sh`.venv/bin/python -c ${DISCOVER_PY}`)
  }
}

/** What the project's settings say (validated); the inputs of the same names win over it. */
export interface DjangoPaths {
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
}

/** Reads the discovery output; values from the server are validated like inputs. */
export function parseDjangoPaths(stdout: string): DjangoPaths {
  const line = stdout.split('\n').find((l) => l.startsWith(DISCOVER_MARK))
  if (!line) return {}
  const values = JSON.parse(line.slice(DISCOVER_MARK.length)) as Record<string, string>
  const urlPrefix = (url: string) => {
    const withSlashes = `/${url.replace(/^\/+/, '').replace(/\/*$/, '/')}`
    return /^\/(?:[A-Za-z0-9_.~-]+\/)+$/.test(withSlashes) && !/\/\.\.?\//.test(withSlashes)
      ? withSlashes
      : undefined
  }
  const folder = (path: string) =>
    /^\/[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*\/?$/.test(path) && !/\/\.\.?(\/|$)/.test(path)
      ? path.replace(/\/$/, '')
      : undefined
  return {
    staticUrl: values.STATIC_URL ? urlPrefix(values.STATIC_URL) : undefined,
    staticRoot: values.STATIC_ROOT ? folder(values.STATIC_ROOT) : undefined,
    mediaUrl: values.MEDIA_URL ? urlPrefix(values.MEDIA_URL) : undefined,
    mediaRoot: values.MEDIA_ROOT ? folder(values.MEDIA_ROOT) : undefined
  }
}

/**
 * The nginx locations: inputs win over the project's settings. A folder inside the release is
 * served through `current`, so static files switch (and roll back) with the release.
 */
export function sitePaths(s: Settings, id: string, found: DjangoPaths): SitePaths {
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
export function mediaInRelease(s: Settings, id: string, found: DjangoPaths): boolean {
  return !!found.mediaRoot && (found.mediaRoot + '/').startsWith(`${layout(s).release(id)}/`)
}

/** The Django steps before the switch, in order; each runs as the app user. */
export function djangoSteps(s: Settings, id: string, found: DjangoPaths): Step[] {
  const steps: Step[] = []
  const release = layout(s).release(id)
  // The folders Django itself writes to (the inputs only say where nginx serves from).
  const media = found.mediaRoot ?? s.mediaRoot
  if (media) {
    steps.push({
      id: 'media',
      phase: 'django',
      title: `Prepare the media folder ${media}`,
      privileged: true,
      // Group www-data with setgid: files the app writes stay readable by nginx.
      command: sh`mkdir -p ${media} && chown ${s.appUser}:www-data ${media} && chmod 2750 ${media}`
    })
  }
  if (s.migrate) steps.push(manageStep(s, id, 'migrate', 'migrate --noinput'))
  const staticRoot = found.staticRoot
  if (s.collectstatic && staticRoot) {
    const inRelease = staticRoot.startsWith(`${release}/`)
    steps.push({
      ...manageStep(s, id, 'collectstatic', 'collectstatic --noinput'),
      // The app writes its static files once, then they are frozen with the release.
      command: script(
        raw('set -eu'),
        sh`mkdir -p ${staticRoot} && chown -R ${s.appUser} ${staticRoot}`,
        asApp(s, id, raw('python manage.py collectstatic --noinput')),
        inRelease ? sh`chown -R root:root ${staticRoot}` : undefined,
        sh`chmod -R go+rX ${staticRoot}`
      )
    })
  }
  if (s.checkDeploy)
    steps.push(manageStep(s, id, 'check-deploy', 'check --deploy --fail-level WARNING'))
  if (s.preRestart) steps.push(hookStep(s, id, 'pre-restart', s.preRestart, 'django'))
  return steps
}

function manageStep(s: Settings, id: string, stepId: string, args: string): Step {
  return {
    id: stepId,
    phase: 'django',
    title: `manage.py ${args}`,
    privileged: true,
    command: asApp(s, id, raw(`python manage.py ${args}`))
  }
}

/** pre-restart and post-deploy: the user's shell, as the app user in the release. */
export function hookStep(
  s: Settings,
  id: string,
  name: 'pre-restart' | 'post-deploy',
  text: string,
  phase: Step['phase']
): Step {
  return { id: name, phase, title: name, privileged: true, command: asApp(s, id, raw(text)) }
}
