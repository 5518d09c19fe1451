// Migrations done safely: the plan of what migrate would apply (and which of it cannot be
// reversed), a backup of the database before anything is applied, the record of which release
// applied migrations, and the restore a rollback may ask for. Every Django and database client
// command runs as the app user in the sandbox, with the credentials the project's settings read
// from the .env: none of them is on a command line, in a log or on the runner.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { inRelease } from './sandbox.js'
import { asRoot, type BoundaryOp } from './boundary.js'
import { layout } from './layout.js'
import type { Step } from './step.js'
import { pythonFile } from './python.js'

/** The mark of the plan's line (PLAN_MARK in python/migration_plan.py). */
export const PLAN_MARK = 'DJANGO-MIGRATIONS '
const BACKUP_MARK = 'DATABASE-BACKUP '
const MIGRATED_MARK = 'DJANGO-MIGRATED'

/** What `migrate` would apply on the default database, in order, and what of it is one-way. */
export interface MigrationPlan {
  /** app_label.name, in the order migrate applies them */
  pending: string[]
  /** app_label.name: the operation that has no way back */
  irreversible: string[]
}

/** The databases the action backs up and restores. */
export type DatabaseKind = 'sqlite' | 'postgresql'

export function databaseKind(engine: string | undefined): DatabaseKind | undefined {
  if (!engine) return undefined
  if (/sqlite|spatialite/.test(engine)) return 'sqlite'
  if (/postgresql|postgis/.test(engine)) return 'postgresql'
  return undefined
}

/** The extension of a backup file names its format. */
const EXTENSION: Record<DatabaseKind, string> = { sqlite: 'sqlite3', postgresql: 'pgdump' }

export function backupPath(s: Settings, id: string, kind: DatabaseKind): string {
  return `${layout(s).backups}/${id}.${EXTENSION[kind]}`
}

/** The backup file of a release among the backups folder's names, if it has one. */
export function backupOf(s: Settings, id: string, files: readonly string[]): string | undefined {
  const file = files.find((f) => f === `${id}.sqlite3` || f === `${id}.pgdump`)
  return file && `${layout(s).backups}/${file}`
}

/**
 * `migrate --plan` as data: Django's own planner on the default database, nothing written.
 * Prints the marked line (PLAN_MARK) and returns what is pending (manage.ts runs it in its one
 * process); python/migration_plan.py.
 */
export const PLAN_FN = pythonFile(new URL('./python/migration_plan.py', import.meta.url))

/** The migration plan alone (python/plan.py): the dry run's read of the new code. */
export const PLAN_PY = PLAN_FN + pythonFile(new URL('./python/plan.py', import.meta.url))

export function migrationPlanStep(s: Settings, id: string, writable: string[]): Step {
  return {
    id: 'migrations',
    phase: 'django',
    title: 'List the migrations to apply (migrate --plan)',
    privileged: true,
    command: inRelease(s, id, 'migrations', writable, sh`python -c ${PLAN_PY}`)
  }
}

const migrationName = (v: unknown) =>
  typeof v === 'string' && /^[A-Za-z_][\w]{0,100}\.[\w]{1,200}$/.test(v) ? v : undefined

/** The plan's marked line (the last one: the settings may print anything before it). */
export function parseMigrationPlan(stdout: string): MigrationPlan | undefined {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(PLAN_MARK))
    .pop()
  if (!line) return undefined
  try {
    const v = JSON.parse(line.slice(PLAN_MARK.length)) as Record<string, unknown>
    const list = (x: unknown) => (Array.isArray(x) ? x : [])
    return {
      pending: list(v.pending).flatMap((n) => migrationName(n) ?? []),
      irreversible: list(v.irreversible).flatMap((n) =>
        typeof n === 'string' && /^[\w.]+: [\w ]{1,100}$/.test(n) ? [n] : []
      )
    }
  } catch {
    return undefined
  }
}

/** The plan as a person reads it: per app, in order, or that there is nothing to apply. */
export function describePlan(plan: MigrationPlan): string {
  if (plan.pending.length === 0) return 'No migrations to apply.'
  const apps = new Map<string, string[]>()
  for (const name of plan.pending) {
    const [app, migration] = name.split('.')
    apps.set(app, [...(apps.get(app) ?? []), migration])
  }
  return (
    `Migrations to apply (${plan.pending.length}):\n` +
    [...apps].map(([app, names]) => `  ${app}: ${names.join(', ')}`).join('\n')
  )
}

/** The default database's connection, for libpq's tools: in their environment, never argv (python/pg_env.py). */
const PG_ENV_PY = pythonFile(new URL('./python/pg_env.py', import.meta.url))

/**
 * Writes a consistent copy of the default database to `out`: SQLite through its online backup
 * API (a live file copied with cp may be torn), PostgreSQL with pg_dump's custom format
 * (python/backup.py).
 */
export const BACKUP_FN = PG_ENV_PY + pythonFile(new URL('./python/backup.py', import.meta.url))

/**
 * A folder of its own the app user writes the backup into (or reads the restore from), inside
 * the backups folder, which the app may only pass through.
 */
function appFolder(
  s: Settings,
  name: string
): { folder: string; make: ShellText; handOver: BoundaryOp } {
  const p = layout(s)
  const folder = `${p.backups}/.${name}`
  return {
    folder,
    // Root's until handed over: nothing the app puts there first can redirect root's writes.
    make: script(
      sh`mkdir -p ${p.backups} && chown root:root ${p.backups} && chmod 711 ${p.backups}`,
      sh`rm -rf ${folder} && mkdir -m 700 ${folder}`,
      sh`cleanup=${folder}`,
      raw(`trap 'rm -rf "$cleanup"' EXIT`)
    ),
    handOver: { op: 'hand', path: folder, user: s.appUser }
  }
}

/**
 * The folder the one Django process writes the backup (and the mark that migrate ran) into: made
 * by root before it (`make`) and handed to the app user (`handOver`, with root's other work
 * before the process), read by root after it: the backup linked out of the app's reach (by
 * the descriptor root checked) and kept only when it is a plain file of one link (`keep`, with root's other work after the
 * process; it says the backup's size on a line of its own, as migrate's last line may have no
 * line break), root's alone (0600), named after the release; and the record that this release
 * applied migrations (`migrated`: what a rollback reads to say the schema stays ahead).
 */
export function workFolder(
  s: Settings,
  id: string,
  kind: DatabaseKind | undefined
): {
  folder: string
  make: ShellText
  handOver: BoundaryOp
  keep: BoundaryOp[]
  migrated: ShellText
} {
  const { folder, make, handOver } = appFolder(s, `new-${id}`)
  const target = kind && backupPath(s, id, kind)
  const keep: BoundaryOp[] = target
    ? [{ op: 'keep', path: `${folder}/backup`, to: target, say: BACKUP_MARK }]
    : []
  const migrated = sh`if [ -e ${folder}/migrated ]; then mkdir -p ${layout(s).migrated} && : > ${`${layout(s).migrated}/${id}`} && printf '\n%s\n' ${MIGRATED_MARK}; fi`
  return { folder, make, handOver, keep, migrated }
}

export interface Backup {
  path: string
  bytes: number
}

/** Whether the Django process applied the plan's migrations (workFolder's `keep` prints it). */
export function parseMigrated(stdout: string): boolean {
  return new RegExp(`^${MIGRATED_MARK}$`, 'm').test(stdout)
}

export function parseBackup(stdout: string): Backup | undefined {
  const match = new RegExp(`^${BACKUP_MARK}(\\d+) (/[\\w./@+-]+)$`, 'm').exec(stdout)
  return match ? { path: match[2], bytes: Number(match[1]) } : undefined
}

/**
 * The client tools a PostgreSQL backup and restore need, checked before anything is applied:
 * the error names the package.
 */
export const checkClientTools: ShellText = script(
  raw('missing=""'),
  raw(
    'for tool in pg_dump pg_restore psql; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done'
  ),
  raw(
    'if [ -n "$missing" ]; then echo "missing on the host:$missing: the database backup needs them. Install the package postgresql-client (Debian/Ubuntu: apt-get install postgresql-client), or set backup: false" >&2; exit 3; fi'
  )
)

/**
 * Puts the backup back into the default database, in one go: SQLite through the backup API
 * (the live file is written in place, under SQLite's lock), PostgreSQL in one transaction that
 * drops the tables the app's role owns and loads the dump (a failure changes nothing); python/restore.py.
 */
export const RESTORE_PY = PG_ENV_PY + pythonFile(new URL('./python/restore.py', import.meta.url))

/**
 * Restores `backup` (a file in backups/) into the database of release `id`, then forgets that
 * the releases in `ahead` applied migrations: the schema is back where it was before them.
 */
export function restoreStep(
  s: Settings,
  id: string,
  backup: string,
  ahead: string[],
  writable: string[]
): Step {
  const { folder, make, handOver } = appFolder(s, `restore-${id}`)
  const copy = `${folder}/backup`
  return {
    id: 'restore-database',
    phase: 'django',
    title: `Restore the database from ${backup}`,
    privileged: true,
    command: script(
      raw('set -eu'),
      make,
      // The app reads a copy of its own; the backup stays root's.
      asRoot(s, { op: 'copy', from: backup, path: copy }, handOver),
      inRelease(s, id, 'restore', [...writable, folder], sh`python -c ${RESTORE_PY} ${copy}`),
      sh`rm -f ${ahead.map((r) => `${layout(s).migrated}/${r}`)}`
    )
  }
}

/** How to restore a backup by hand (the summary says it next to the backup's path). */
export function restoreHint(backup: string): string {
  return backup.endsWith('.pgdump')
    ? `pg_restore --clean --if-exists --no-owner --single-transaction -d <database> ${backup} (as a role that owns the tables), or run the action again with rollback: true and restore-database: true`
    : `stop the app, then python3 -c "import sqlite3; sqlite3.connect('${backup}').backup(sqlite3.connect('<the database file>'))" as the app user, or run the action again with rollback: true and restore-database: true`
}

/** The dry run's staged upload goes, whatever happened (layout.ts stagedRelease). */
export function removeStagedStep(s: Settings, id: string): Step {
  return {
    id: 'remove-staged',
    phase: 'cleanup',
    title: `Remove the dry run's upload releases/${id}`,
    privileged: true,
    command: sh`rm -rf -- ${layout(s).release(id)}`
  }
}
