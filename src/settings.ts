// The typed settings object: every input of action.yml, read and validated once (readSettings in
// inputs/settings.ts). Everything else in the action takes its values from here, already checked.

import type { AsgiServer } from './constants.js'
import type { HostFingerprint } from './grammar/fingerprint.js'
import type { KnownHostEntry } from './grammar/known-hosts.js'

export interface HostAddress {
  /** host name or IP address, validated (no spaces, no shell or config metacharacters) */
  name: string
  port: number
}

export interface JumpHost extends HostAddress {
  username: string
}

export interface StatusRange {
  min: number
  max: number
}

/** A long-running command (processes) or a periodic one (schedules), as words. */
export interface ProcessSpec {
  name: string
  command: string[]
  /** runs on one host of a fleet only (the singleton host) */
  once: boolean
}

export interface ScheduleSpec extends ProcessSpec {
  /** a systemd calendar expression (OnCalendar=) */
  calendar: string
}

export interface AcmeSettings {
  email: string
  /** the directory URL */
  directory: string
  /** PEM of the CA that signs the directory's own HTTPS certificate (a private server) */
  directoryCa?: string
}

/**
 * What the run does: a deploy (or its rollback, by the modes), or an operation on the live
 * release. One reader (inputs/operations.ts) refuses two at once.
 */
export type Operation =
  | { kind: 'deploy' }
  | {
      kind: 'manage'
      /** the manage.py command's words, after `python manage.py` */
      argv: string[]
      /** the command line as given, for the log, the summary and the audit log */
      line: string
      /** the first host alone, or every host in turn */
      hosts: 'first' | 'all'
    }
  | {
      kind: 'maintenance'
      /** on: the site answers 503 with the page; off: it serves again */
      on: boolean
    }
  | {
      kind: 'remove'
      /** also the data (shared/, backups/), the deploy path, the certificate and the app user */
      force: boolean
    }
  | {
      kind: 'logs'
      /** how many lines of each log: the last ones */
      lines: number
      /** logs-since: as given, and as journalctl's --since reads it (`-1h` for a span) */
      since?: { given: string; journal: string }
    }

/** An operation of one kind: `OperationOf<'manage'>`. */
export type OperationOf<K extends Operation['kind']> = Extract<Operation, { kind: K }>

/** A preview: the run is an isolated instance of the project, `<project-name>-<name>`. */
export interface PreviewSettings {
  /** letters, digits and -, lower-cased */
  name: string
  /** processes and schedules run in the preview too (else none) */
  processes: boolean
  /** the preview answers on `<name>.<domain>` */
  domain?: string
  /** at most this many previews of the project on a host: the least recently deployed go first */
  limit?: number
  /** previews of the project not deployed for this many days are removed by any preview deploy */
  ttlDays?: number
  /** a PostgreSQL database of its own (preview-database-url) */
  database?: PreviewDatabase
}

/** A preview's own PostgreSQL database, made and dropped by the admin role of preview-database-url. */
export interface PreviewDatabase {
  /** the admin's connection (libpq's PGHOST, PGPORT...): root's on the host, never the app's */
  admin: {
    host: string
    port: number
    user: string
    password: string
    /** the database the admin connects to (the URL's path, else postgres) */
    database: string
    sslmode?: string
  }
  /** preview-database-url as given: masked in the log */
  adminUrl: string
  /** the database's and the app's role's name: `<project>_<name>` */
  name: string
  /** the database it is copied from (preview-database-template), else it starts empty */
  template?: string
  /** the dotenv variable the app reads its URL from (preview-database-env) */
  env: string
  /** the app's role's password (derived: server/preview-database.ts) */
  password: string
}

export interface Settings {
  // Connection
  hosts: HostAddress[]
  username: string
  privateKey?: string
  passphrase?: string
  password?: string
  /** known_hosts text as given (validated line by line) */
  knownHosts: string
  /** the same, parsed once: the host key check looks hosts up here */
  knownHostEntries: readonly KnownHostEntry[]
  /** bare SHA256:... fingerprints as ssh-keygen -lf prints them: for hosts known-hosts does not name */
  fingerprints: string[]
  /** host=SHA256:... fingerprints: each for its host only, where known-hosts does not name it */
  hostFingerprints: HostFingerprint[]
  insecureSkipHostKeyCheck: boolean
  jumpHost?: JumpHost
  connectTimeoutMs: number
  commandTimeoutMs: number

  // Project
  /** the Django project package (wsgi-module and settings-module default from it) */
  projectName: string
  /**
   * what the host knows the instance by: every unit, socket, site, certificate and the defaults
   * of deploy-path and app-user derive from it. The project name, or `<project>-<preview>`.
   */
  instanceName: string
  /** set: the run is a preview of the project, isolated from its production instance */
  preview?: PreviewSettings
  wsgiModule: string
  settingsModule: string
  /** absolute, normalised, no trailing slash */
  deployPath: string
  /** absolute path of the workspace folder to upload, or null for `source: none` */
  source: string | null
  /** the default patterns, then the input's (.git and credential files are never uploaded) */
  exclude: string[]
  /** path relative to the release folder */
  requirements: string
  /** how the venv's dependencies are found and installed (src/inputs/dependencies.ts) */
  dependencies: DependencySettings
  python: string
  systemSitePackages: boolean
  /** ordered KEY=VALUE pairs */
  dotenv: Array<[string, string]>
  migrate: boolean
  collectstatic: boolean
  checkDeploy: boolean
  preRestart: string
  /** paths relative to the release, kept in shared/ (a trailing / marks a folder) */
  sharedPaths: string[]
  /** folders the app writes at run time, besides shared/ */
  writablePaths: string[]
  /** manage.py commands (words) run with the Django steps before the switch */
  buildCommands: string[][]
  postDeploy: string
  keepReleases: number
  appUser: string
  workers: number | 'auto'
  gunicornArgs: string[]
  /** set: served as ASGI by gunicorn with uvicorn's workers (wsgiModule is then unused) */
  asgiModule?: string
  asgiServer: AsgiServer
  /** nginx's proxy_read_timeout for an ASGI site: an idle WebSocket lives this long */
  proxyReadTimeoutS?: number

  // Background processes
  processes: ProcessSpec[]
  schedules: ScheduleSpec[]
  /** how long a process gets to stop gracefully (a Celery warm shutdown) */
  processStopTimeoutSec: number
  /** `name:port` of the host that runs what must run once; the first host when unset */
  singletonHost?: string

  // nginx
  serverNames: string[]
  listen: { address?: string; port: number }
  staticUrl?: string
  staticRoot?: string
  mediaUrl?: string
  mediaRoot?: string
  clientMaxBodySize: string
  nginxDirectives: string
  tlsCertificate?: string
  tlsCertificateKey?: string
  /** the port the site serves HTTPS on (and the health check asks) */
  tlsListen: number
  /** Strict-Transport-Security max-age on HTTPS answers; 0: none */
  hstsMaxAge: number
  /** tls: auto: the certificate comes from this ACME server, for every server name */
  acme?: AcmeSettings

  // Health, GitHub, modes
  healthPath: string
  healthExpect: StatusRange[]
  healthTimeoutMs: number
  healthUrl?: string
  /** how long the old instance may take to finish its requests after the switch, in seconds */
  drainTimeoutS: number
  githubToken: string
  environment: string
  environmentUrl: string
  deployment: boolean
  dryRun: boolean
  rollback: boolean
  maxParallel: number
  /** install the Debian packages the deploy needs when missing (server/provision.ts) */
  provision: boolean
  /** apt-packages: Debian packages the project needs, installed when missing */
  aptPackages: string[]
  /** how long a deploy waits for another one on the same host (and for apt's lock) */
  lockWaitMs: number
  /** back up the database before applying migrations */
  backup: boolean
  /** with rollback: restore the backup taken before the rolled-back migrations */
  restoreDatabase: boolean
  /** restore even when releases other than the live one would lose data */
  force: boolean
  /** a deploy, or an operation on the live release */
  operation: Operation

  // Maintenance
  /** the page the site answers with while in maintenance (HTML); the built-in one when unset */
  maintenancePage?: string
  /** addresses (as nginx writes $remote_addr) that still reach the app during maintenance */
  maintenanceAllow: string[]
  /** a deploy that applies migrations shows the page from before migrate until it is healthy */
  maintenanceDuringMigrations: boolean
}

/**
 * A dotenv name that says its value is a secret: a key, secret, password, token, credential,
 * private or signing value, a Sentry DSN, a PIN. Others (host names, ALLOWED_HOSTS, flags such
 * as DEBUG=0) are no secret, and masking them would hide the site's name in the log and summary.
 */
export const SECRET_NAME =
  /KEY|SECRET|PASS|PWD|TOKEN|CREDENTIAL|PRIVATE|AUTH|DSN|SALT|(?:^|_)PIN(?:_|$)/i

/** Credentials inside a URL (`scheme://user:password@host`, or `scheme://key@host`): the URL, and its password. */
const URL_CREDENTIALS = /[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s:@/]*)(?::([^\s@/]*))?@[^\s,;]*/g

/** What of a dotenv value is secret: all of it by its name, else credentials inside URLs. */
function dotenvSecrets(name: string, value: string): string[] {
  if (SECRET_NAME.test(name)) return [value]
  return [...value.matchAll(URL_CREDENTIALS)].flatMap((m) => [m[0], m[2] ?? m[1]])
}

/** Values that must never appear in a log: registered with the runner by the caller. */
export function secretValues(s: Settings): string[] {
  const db = s.preview?.database
  const values = [s.privateKey, s.passphrase, s.password, s.githubToken]
  if (db) values.push(db.adminUrl, db.admin.password, db.password)
  // An index URL with credentials is secret whole, and so is its password alone.
  for (const url of [s.dependencies.indexUrl, s.dependencies.extraIndexUrl])
    if (/^https?:\/\/[^/@]*@/i.test(url)) values.push(url, ...urlPassword(url))
  // Short values (DEBUG=0, a 3-letter password) would mask every such text in the log.
  for (const [name, value] of s.dotenv)
    values.push(...dotenvSecrets(name, value).filter((v) => v.length >= 4))
  if (s.privateKey)
    values.push(...s.privateKey.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')))
  return values.filter((v): v is string => !!v)
}

/** Where the venv's packages come from when a lock is read on the runner (docs/dependencies.md). */
export interface DependencySettings {
  /** the lock (or pyproject.toml) to read, relative to the source; unset: `requirements` as it is */
  lock?: string
  /** dependency-groups: groups and extras installed besides the main dependencies */
  groups: string[]
  /** pip-index-url and pip-extra-index-url ('' when unset): pip's environment only, masked */
  indexUrl: string
  extraIndexUrl: string
  /** wheels: where the locked files are downloaded */
  wheels: 'server' | 'runner'
}

/** The password (or token) of a URL's credentials, as written and as decoded. */
function urlPassword(url: string): string[] {
  const userinfo = /^https?:\/\/([^/@]*)@/i.exec(url)?.[1] ?? ''
  const secret = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : userinfo
  let decoded = secret
  try {
    decoded = decodeURIComponent(secret)
  } catch {
    // as written only
  }
  return [...new Set([secret, decoded])].filter((v) => v.length >= 4)
}
