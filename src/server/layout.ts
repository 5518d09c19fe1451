// Every path the action owns on the server, in one place. See ARCHITECTURE.md, "On the server".

import type { Settings } from '../settings.js'

export const UNIT_FOLDER = '/etc/systemd/system'
/** Units that last until the next boot: a new instance's, until traffic moves to it. */
export const RUNTIME_UNIT_FOLDER = '/run/systemd/system'
export const SITE_AVAILABLE = '/etc/nginx/sites-available'
export const SITE_ENABLED = '/etc/nginx/sites-enabled'
/** Debian's welcome site, disabled while our site is the catch-all `_`. */
export const DEFAULT_SITE_LINK = `${SITE_ENABLED}/default`
export const DEFAULT_SITE = `${SITE_AVAILABLE}/default`
/** nginx's error log on Debian: every site's errors, the `logs` operation reads the site's. */
export const NGINX_ERROR_LOG = '/var/log/nginx/error.log'
/**
 * A release id: sortable, naming the commit (20261125T081500Z-1a2b3c4). Written so that it reads
 * the same as a POSIX ERE: the host check and the prune step match whole lines with it (`grep -xE`).
 */
export const RELEASE_ID_LINE = '[0-9]{8}T[0-9]{6}Z-[0-9a-z]+'
export const RELEASE_ID = new RegExp(`^${RELEASE_ID_LINE}$`)

/**
 * The folder a dry run uploads the new code to, to read its settings and migrations: in
 * releases/ (so every path the settings derive from BASE_DIR is where the release would have it)
 * but never a release (RELEASE_ID does not match it), never live, removed at the end.
 */
export function stagedRelease(id: string): string {
  return `${id}-dry-run`
}

/** Where earlier versions marked a failed release, inside it (still read, never written). */
export const LEGACY_FAILED_MARK = '.deploy-failed'

/**
 * The two instances of the web app: the new release starts in the idle one while the live one
 * serves. `legacy` is the single socket-activated instance of earlier versions, live until the
 * first deploy by this one moves the host to the two.
 */
export const INSTANCES = ['blue', 'green'] as const
export type Instance = (typeof INSTANCES)[number]
export type LiveInstance = Instance | 'legacy' | ''

/** The instance that is not live: where the next release starts. */
export function idleInstance(live: LiveInstance): Instance {
  return live === 'blue' ? 'green' : 'blue'
}

/**
 * The socket nginx connects to, by path, on every request: a link to the live instance's socket,
 * renamed atomically to move traffic (on a host an earlier version deployed, the socket itself).
 */
export function socketPath(instanceName: string): string {
  return `/run/gunicorn-${instanceName}.sock`
}

/** An instance's own socket (for `legacy`: a hard link to the earlier single socket). */
export function instanceSocketPath(instanceName: string, instance: Instance | 'legacy'): string {
  return `/run/gunicorn-${instanceName}@${instance}.sock`
}

export interface UnitNames {
  /** the template units, one file each for both instances */
  socket: string
  service: string
  instance(instance: Instance): { socket: string; service: string }
  /** the single instance of earlier versions, removed once drained */
  legacy: { socket: string; service: string }
}

export function unitNames(instanceName: string): UnitNames {
  return {
    socket: `gunicorn-${instanceName}@.socket`,
    service: `gunicorn-${instanceName}@.service`,
    instance: (instance) => ({
      socket: `gunicorn-${instanceName}@${instance}.socket`,
      service: `gunicorn-${instanceName}@${instance}.service`
    }),
    legacy: {
      socket: `gunicorn-${instanceName}.socket`,
      service: `gunicorn-${instanceName}.service`
    }
  }
}

export interface Layout {
  root: string
  releases: string
  release(id: string): string
  /** the link to the live release */
  current: string
  /** a new `current` is made here, then renamed over it */
  currentStaging: string
  /** per instance, a link to the release it runs (its units' working directory) */
  instance(name: string): string
  instances: string
  /** what outlives a release: the app's data */
  shared: string
  /** root's own working folder: the gate's backups, the units being verified, .env */
  state: string
  /** the dotenv text, root's alone: systemd reads it for the app's processes */
  env: string
  /** a file per release that failed its deploy: no rollback chooses it */
  failed: string
  /** a file per release that went live: only these are rolled back to */
  served: string
  backup: string
  /** the new units and site, tested by the gate, put in place by the switch */
  staged: string
  /** the names of the files the last install changed */
  changed: string
  verify: string
  lock: string
  /** every step of a run holds it shared: the deploy lock waits for them before it is let go */
  stepsLock: string
  venvs: string
  venv(key: string): string
  /** database backups, root's alone: <release-id>.sqlite3 or .pgdump, pruned with the release */
  backups: string
  /** a file per release whose deploy applied migrations */
  migrated: string
  /**
   * a file per release whose deploy went through to its end, holding the deploy key (the
   * source, venv, settings and action it was made with): a run with the same key has nothing to do
   */
  deployed: string
  /** a line per run: time, run, actor, mode, result (server/audit.ts) */
  auditLog: string
  units: { socket: string; service: string }
  legacyUnits: { socket: string; service: string }
  /** an instance's own units, for the time between its start and the switch (gone at boot) */
  runtimeUnits(instance: Instance): { socket: string; service: string }
  /** recreates the link to the live instance's socket at boot (/run is emptied) */
  tmpfiles: string
  site: string
  siteLink: string
  /** tls: auto (server/acme.ts) */
  acme: AcmeLayout
  /** maintenance (server/maintenance.ts) */
  maintenance: MaintenanceLayout
}

/**
 * Where the maintenance switch lives: root's folder in the deploy path, which nginx reads on every
 * request (no reload to switch it, and it outlives a reboot).
 */
export interface MaintenanceLayout {
  folder: string
  /** while this file exists, the site answers 503 with the page */
  flag: string
  /** the page it answers with */
  page: string
  /** an empty file per address (as nginx writes $remote_addr) that still reaches the app */
  allow: string
}

/** Where tls: auto keeps its parts; certbot keeps the certificate under the project's name. */
export interface AcmeLayout {
  /** nginx answers HTTP-01 challenges from here; certbot writes them (webroot mode) */
  webroot: string
  /** acme-directory-ca, for certbot and its renewal */
  directoryCa: string
  certName: string
  certificate: string
  key: string
  units: { service: string; timer: string }
}

export function renewalUnitNames(instanceName: string): { service: string; timer: string } {
  return {
    service: `certbot-renew-${instanceName}.service`,
    timer: `certbot-renew-${instanceName}.timer`
  }
}

export function layout(s: Pick<Settings, 'deployPath' | 'instanceName'>): Layout {
  const root = s.deployPath
  const units = unitNames(s.instanceName)
  return {
    root,
    releases: `${root}/releases`,
    release: (id) => `${root}/releases/${id}`,
    current: `${root}/current`,
    currentStaging: `${root}/.current.new`,
    instances: `${root}/instances`,
    instance: (name) => `${root}/instances/${name}`,
    shared: `${root}/shared`,
    state: `${root}/.deploy`,
    env: `${root}/.deploy/env`,
    failed: `${root}/.deploy/failed`,
    served: `${root}/.deploy/served`,
    backup: `${root}/.deploy/previous`,
    staged: `${root}/.deploy/staged`,
    changed: `${root}/.deploy/changed`,
    verify: `${root}/.deploy/verify`,
    lock: `${root}/.deploy.lock`,
    stepsLock: `${root}/.deploy.steps`,
    venvs: `${root}/venvs`,
    venv: (key) => `${root}/venvs/${key}`,
    backups: `${root}/backups`,
    migrated: `${root}/.deploy/migrated`,
    deployed: `${root}/.deploy/deployed`,
    auditLog: `${root}/.deploy/audit.log`,
    units: { socket: `${UNIT_FOLDER}/${units.socket}`, service: `${UNIT_FOLDER}/${units.service}` },
    legacyUnits: {
      socket: `${UNIT_FOLDER}/${units.legacy.socket}`,
      service: `${UNIT_FOLDER}/${units.legacy.service}`
    },
    runtimeUnits: (instance) => ({
      socket: `${RUNTIME_UNIT_FOLDER}/${units.instance(instance).socket}`,
      service: `${RUNTIME_UNIT_FOLDER}/${units.instance(instance).service}`
    }),
    tmpfiles: `/etc/tmpfiles.d/gunicorn-${s.instanceName}.conf`,
    site: `${SITE_AVAILABLE}/${s.instanceName}`,
    siteLink: `${SITE_ENABLED}/${s.instanceName}`,
    acme: {
      webroot: `${root}/acme`,
      directoryCa: `${root}/.deploy/acme-directory-ca.pem`,
      certName: s.instanceName,
      certificate: `/etc/letsencrypt/live/${s.instanceName}/fullchain.pem`,
      key: `/etc/letsencrypt/live/${s.instanceName}/privkey.pem`,
      units: {
        service: `${UNIT_FOLDER}/${renewalUnitNames(s.instanceName).service}`,
        timer: `${UNIT_FOLDER}/${renewalUnitNames(s.instanceName).timer}`
      }
    },
    maintenance: {
      folder: `${root}/maintenance`,
      flag: `${root}/maintenance/on`,
      page: `${root}/maintenance/page.html`,
      allow: `${root}/maintenance/allow`
    }
  }
}

/**
 * Previews' registry: a file per preview of a project, root's, outside every deploy path, whose
 * mtime is when that preview was last deployed (server/previews.ts). The app users cannot write
 * here, so what a preview runs cannot steer which previews a deploy removes.
 */
export function previewRegistry(projectName: string): string {
  return `/var/lib/django-deploy-action/previews/${projectName}`
}

/** The last part of a path: the name a file is saved under in the gate's backup folder. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/**
 * The action's own entries in the deploy path: never the app's, whether the project's settings
 * or an input name them (grammar/paths.ts reads the same list). Below `current` is the live
 * release, which an input may name a folder in.
 */
export const RESERVED: ReadonlySet<string> = new Set([
  '.deploy',
  '.deploy.lock',
  '.deploy.steps',
  'venvs',
  'backups',
  'current',
  '.current.new',
  'instances',
  'acme',
  'maintenance'
])

type Where = Pick<
  Settings,
  'deployPath' | 'instanceName' | 'settingsModule' | 'wsgiModule' | 'asgiModule'
>

/**
 * Why the project's settings may not keep data (a folder, a SQLite file) at `path`, or undefined:
 * the release `target` itself, its venv, or a folder or file of the settings, WSGI or ASGI module
 * would be the app's (made for it, or kept in shared/ and linked): the app never owns its code.
 */
export function releaseCodeProblem(s: Where, path: string, target: string): string | undefined {
  const release = layout(s).release(target)
  if (path === release) return 'the release itself: the app would own its own code'
  if (!path.startsWith(`${release}/`)) return undefined
  const rel = path.slice(release.length + 1)
  if (rel === '.venv' || rel.startsWith('.venv/'))
    return "in the release's venv (.venv): the app would own the code it runs"
  // Each package on the way to the module, and the module itself, as a file or a package.
  const modules = [s.settingsModule, s.wsgiModule, s.asgiModule ?? '']
  const code = modules.flatMap((module) => {
    const parts = module.replace(/:.*$/, '').split('.').filter(Boolean)
    return parts.flatMap((_, i) => {
      const path = parts.slice(0, i + 1).join('/')
      return [`${path}.py`, `${path}/__init__.py`]
    })
  })
  if (code.some((file) => file === rel || file.startsWith(`${rel}/`)))
    return 'part of the code of the settings or WSGI/ASGI module: the app would own its own code'
  return undefined
}

/**
 * Why the app user may not be handed `path` (a folder Django writes), or undefined when it may:
 * never the release's code; inside the deploy path, anything but the action's own entries, and
 * in releases/ only the release's own folders; outside it, only a folder the user named (`named`).
 */
export function settingsFolderProblem(
  s: Where,
  path: string,
  target: string,
  named: ReadonlyArray<string | undefined>
): string | undefined {
  const code = releaseCodeProblem(s, path, target)
  if (code) return code
  const within = (base: string) => path === base || path.startsWith(`${base}/`)
  if (named.some((folder) => folder !== undefined && within(folder))) return undefined
  const p = layout(s)
  const handed = 'the action would hand it to the app user'
  if (!within(p.root)) return `outside deploy-path (${p.root}): ${handed}`
  const [first, second] = path.slice(p.root.length + 1).split('/')
  if (path === p.root || RESERVED.has(first)) return `one of the action's own folders: ${handed}`
  if (first !== 'releases' || second === target) return undefined
  if (second === undefined || RELEASE_ID.test(second))
    return `the releases folder, or another release: ${handed}`
  // BASE_DIR.parent / 'static': one folder for every release, the live one's included.
  return (
    `in ${p.releases}/ but in no release: every release would use it at once, and the new one ` +
    `would change it before the switch, under the live one (for STATIC_ROOT: collectstatic ` +
    `rewrites the files the live release serves, and django-compressor's online cache there is ` +
    `read-only to the app, so a compressed page answers 500)`
  )
}
