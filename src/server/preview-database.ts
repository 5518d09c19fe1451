// A preview's own PostgreSQL database: created (empty, or from preview-database-template) by a
// deploy of the preview, dropped with it. Root runs psql on the host with the admin role's
// connection read from stdin: the admin credentials are on no command line, in no file, and
// never in the app's dotenv; the app gets a role of its own, which owns the database.

import { createHmac } from 'node:crypto'
import type { PreviewDatabase, Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import type { Step } from './step.js'

/** The database and the app's role of a preview: `<project>_<name>` (- as _), lower case. */
export function previewDatabaseName(projectName: string, previewName: string): string {
  return `${projectName}_${previewName}`.toLowerCase().replace(/-/g, '_')
}

/**
 * The app role's password: derived from the admin's password and the database's name, so every
 * deploy of the preview writes the same one (and a new admin password gives it a new one).
 */
export function previewDatabasePassword(adminPassword: string, database: string): string {
  return createHmac('sha256', adminPassword)
    .update(`preview database ${database}`)
    .digest('hex')
    .slice(0, 32)
}

/** The URL the preview's app connects with: its own role and database on the admin's server. */
export function previewDatabaseUrl(db: PreviewDatabase): string {
  const host = db.admin.host.includes(':') ? `[${db.admin.host}]` : db.admin.host
  const query = db.admin.sslmode ? `?sslmode=${encodeURIComponent(db.admin.sslmode)}` : ''
  return `postgres://${db.name}:${db.password}@${host}:${db.admin.port}/${db.name}${query}`
}

/**
 * What the database steps read on stdin, one value a line: libpq's variables for the admin's
 * connection, then the app role's password.
 */
export function previewDatabaseStdin(db: PreviewDatabase): string {
  const { host, port, user, password, database, sslmode } = db.admin
  return [host, String(port), user, password, database, sslmode ?? '', db.password, ''].join('\n')
}

/** The admin's connection read from stdin into libpq's variables, and psql checked for. */
function connect(): ShellText {
  return script(
    raw('set -eu'),
    raw('IFS= read -r PGHOST; IFS= read -r PGPORT; IFS= read -r PGUSER; IFS= read -r PGPASSWORD'),
    raw('IFS= read -r PGDATABASE; IFS= read -r PGSSLMODE; IFS= read -r app_password'),
    raw('export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGCONNECT_TIMEOUT=10'),
    // psql's notices (a role already granted, a database that was not there) are no news.
    raw("export PGOPTIONS='-c client_min_messages=warning'"),
    raw('if [ -n "$PGSSLMODE" ]; then export PGSSLMODE; else unset PGSSLMODE; fi'),
    sh`command -v psql >/dev/null 2>&1 || { echo ${'psql is not on the host: preview-database-url needs it (apt-get install postgresql-client)'} >&2; exit 1; }`
  )
}

/** An SQL identifier, quoted (names are checked when read; quoting keeps them one identifier). */
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
/** An SQL string literal. */
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`

/** psql as the admin: no psqlrc, quiet, the first error stops it. */
const PSQL = 'psql -X -q -v ON_ERROR_STOP=1'

/**
 * Statements, one per line, for psql's stdin. Each `\gexec` runs what the query before it
 * returns: a role or a statement made only when needed.
 */
function statements(...lines: string[]): string {
  return `${lines.join('\n')}\n`
}

/** The objects of the copied template handed to the preview's role (it must migrate them). */
function ownershipStatements(name: string): string {
  return statements(
    `SELECT format('ALTER %s %I.%I OWNER TO %I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, n.nspname, c.relname, ${literal(name)}) ` +
      'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ' +
      "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' " +
      // A sequence of a serial or identity column goes with its table.
      "AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))",
    '\\gexec',
    `ALTER SCHEMA public OWNER TO ${ident(name)};`
  )
}

/**
 * The preview's role (its password set again each deploy) and its database, made when missing:
 * from the template (its tables then the role's) or empty. A database that exists is kept.
 */
export function previewDatabaseStep(s: Settings): Step {
  const db = s.preview?.database as PreviewDatabase
  const { name, template } = db
  const role = statements(
    `SELECT 'CREATE ROLE ${ident(name)} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(name)})`,
    '\\gexec',
    // The admin may then make the database the role's (PostgreSQL 16 asks this of a non-superuser).
    `GRANT ${ident(name)} TO CURRENT_USER;`
  )
  const create = `CREATE DATABASE ${ident(name)} OWNER ${ident(name)}${template ? ` TEMPLATE ${ident(template)}` : ''}`
  return {
    id: 'preview-database',
    phase: 'upload',
    title: `The preview's database ${name} (${template ? `from the template ${template}` : 'empty'}, when it is new)`,
    privileged: true,
    stdin: 'preview-database',
    command: script(
      connect(),
      sh`{ printf '%s' ${role}; printf ${`ALTER ROLE ${ident(name)} WITH LOGIN PASSWORD '%s';\n`} "$app_password"; } | ${raw(PSQL)}`,
      sh`if [ "$(psql -X -tA -c ${`SELECT 1 FROM pg_database WHERE datname = ${literal(name)}`})" = 1 ]; then`,
      sh`  echo ${`the database ${name} exists: kept`}`,
      raw('else'),
      sh`  ${raw(PSQL)} -c ${create}`,
      // Every role may connect to a new database by default: not to a preview's.
      sh`  ${raw(PSQL)} -c ${`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(name)} FROM PUBLIC`}`,
      ...(template
        ? [
            sh`  printf '%s' ${ownershipStatements(name)} | PGDATABASE=${name} ${raw(PSQL)} >/dev/null`
          ]
        : []),
      sh`  echo ${`created the database ${name}${template ? ` from ${template}` : ''}`}`,
      raw('fi')
    )
  }
}

/** The preview's database and role dropped (its remove, or a removal by the limits). */
export function dropPreviewDatabaseStep(s: Settings): Step {
  const name = (s.preview?.database as PreviewDatabase).name
  return {
    id: 'remove-preview-database',
    phase: 'cleanup',
    title: `Drop the preview's database ${name} and its role`,
    privileged: true,
    stdin: 'preview-database',
    command: script(
      connect(),
      sh`${raw(PSQL)} -c ${`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`}`,
      sh`${raw(PSQL)} -c ${`DROP ROLE IF EXISTS ${ident(name)}`}`,
      sh`echo ${`database-removed ${name}`}`
    )
  }
}
