// A preview's own PostgreSQL database: created (empty, or from preview-database-template) by a
// deploy of the preview, dropped with it. Root runs psql on the host with the admin role's
// connection read from stdin: the admin credentials are on no command line, in no file, and
// never in the app's dotenv; the app gets a role of its own, which owns the database.
//
// The preview's code is hostile to the admin: every admin session resolves names in pg_catalog
// alone (an operator the preview plants is never called), the database is the admin's until its
// tables are handed over, and a role or database is altered or dropped only when it carries this
// preview's mark (a comment), so a name that is someone else's (production's `shop_prod` for the
// preview `prod`) is refused, never taken over.

import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
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

/**
 * The password as PostgreSQL stores it (a SCRAM-SHA-256 verifier, RFC 5802/7677): sent instead of
 * the password, so no server log can show the password. Its salt is derived too (stable input).
 */
export function scramVerifier(password: string, saltKey: string): string {
  const iterations = 4096
  const salt = createHmac('sha256', saltKey).update(`salt ${password}`).digest().subarray(0, 16)
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256')
  const hmac = (text: string) => createHmac('sha256', salted).update(text).digest()
  const stored = createHash('sha256').update(hmac('Client Key')).digest('base64')
  const server = hmac('Server Key').toString('base64')
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${stored}:${server}`
}

/** The URL the preview's app connects with: its own role and database on the admin's server. */
export function previewDatabaseUrl(db: PreviewDatabase): string {
  const host = db.admin.host.includes(':') ? `[${db.admin.host}]` : db.admin.host
  const query = db.admin.sslmode ? `?sslmode=${encodeURIComponent(db.admin.sslmode)}` : ''
  return `postgres://${db.name}:${db.password}@${host}:${db.admin.port}/${db.name}${query}`
}

/**
 * What the database steps read on stdin, one value a line: libpq's variables for the admin's
 * connection, then the verifier of the app role's password.
 */
export function previewDatabaseStdin(db: PreviewDatabase): string {
  const { host, port, user, password, database, sslmode } = db.admin
  const verifier = scramVerifier(db.password, db.admin.password)
  return [host, String(port), user, password, database, sslmode ?? '', verifier, ''].join('\n')
}

/** The comment that marks a role and a database as this preview's (and one being made). */
function markOf(s: Settings): { made: string; making: string } {
  const made = `django-deploy-action preview ${s.projectName}/${s.preview?.name ?? ''}`
  return { made, making: `${made} (being made)` }
}

/** The admin's connection read from stdin into libpq's variables, and psql checked for. */
function connect(): ShellText {
  return script(
    raw('set -eu'),
    raw('IFS= read -r PGHOST; IFS= read -r PGPORT; IFS= read -r PGUSER; IFS= read -r PGPASSWORD'),
    raw('IFS= read -r PGDATABASE; IFS= read -r PGSSLMODE; IFS= read -r verifier'),
    raw('export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGCONNECT_TIMEOUT=10'),
    raw('if [ -n "$PGSSLMODE" ]; then export PGSSLMODE; else unset PGSSLMODE; fi'),
    // Names resolve in pg_catalog alone: nothing a preview plants runs as the admin. Notices (a
    // role already granted) are no news.
    raw("export PGOPTIONS='-c search_path=pg_catalog -c client_min_messages=warning'"),
    // The password goes only to a server that proves it knows it (libpq 16 and later): a local
    // user listening where PostgreSQL should be does not get it in clear.
    raw('export PGREQUIREAUTH=scram-sha-256'),
    sh`command -v psql >/dev/null 2>&1 || { echo ${'psql is not on the host: preview-database-url needs it (apt-get install postgresql-client)'} >&2; exit 1; }`
  )
}

/** An SQL identifier, quoted (names are checked when read; quoting keeps them one identifier). */
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
/** An SQL string literal. */
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`

/** psql as the admin: no psqlrc, the first error stops it, rows unaligned. */
const PSQL = 'psql -X -q -tA -v ON_ERROR_STOP=1'

/** A psql script, one line each, for psql's stdin. */
const psqlScript = (...lines: string[]) => `${lines.join('\n')}\n`

/** `<column>`: the comment of the role or the database `name`, '' when it has none. */
function markQuery(kind: 'role' | 'database', name: string): string {
  return kind === 'role'
    ? `(SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = ${literal(name)})`
    : `(SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = ${literal(name)})`
}

/**
 * The first session: a role or database of the name that is not this preview's stops it; else
 * the role (made and marked when missing, its password set), and, when missing (or half made by
 * an interrupted run), the database: the admin's, marked as being made, no one else's to connect.
 */
function prepareScript(s: Settings): string {
  const db = s.preview?.database as PreviewDatabase
  const { made, making } = markOf(s)
  const name = ident(db.name)
  const role = markQuery('role', db.name)
  const database = markQuery('database', db.name)
  return psqlScript(
    // A NULL would leave the variable unset: every flag is true or false.
    `SELECT coalesce(${role} <> ${literal(made)}, false) AS role_foreign, coalesce(${database} NOT IN (${literal(made)}, ${literal(making)}), false) AS database_foreign, ${role} IS NULL AS role_missing, coalesce(${database} = ${literal(making)}, false) AS database_half \\gset`,
    '\\if :role_foreign',
    `\\echo 'FOREIGN role ${db.name}'`,
    '\\quit',
    '\\endif',
    '\\if :database_foreign',
    `\\echo 'FOREIGN database ${db.name}'`,
    '\\quit',
    '\\endif',
    '\\if :role_missing',
    `CREATE ROLE ${name} LOGIN;`,
    `COMMENT ON ROLE ${name} IS ${literal(made)};`,
    '\\endif',
    `ALTER ROLE ${name} WITH LOGIN PASSWORD :'verifier';`,
    // The admin may then make the database the role's (PostgreSQL 16 asks this of a non-superuser).
    `GRANT ${name} TO CURRENT_USER;`,
    '\\if :database_half',
    `DROP DATABASE ${name} WITH (FORCE);`,
    '\\endif',
    `SELECT ${database} IS NULL AS database_missing \\gset`,
    '\\if :database_missing',
    // Closed from its first moment: no other role's session may be in it before it is revoked.
    `CREATE DATABASE ${name}${db.template ? ` TEMPLATE ${ident(db.template)}` : ''} ALLOW_CONNECTIONS false;`,
    `COMMENT ON DATABASE ${name} IS ${literal(making)};`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC;`,
    `ALTER DATABASE ${name} ALLOW_CONNECTIONS true;`,
    `\\echo 'CREATED'`,
    '\\endif'
  )
}

/** In the new database, still the admin's: the copied template's objects handed to the role. */
function ownershipScript(name: string): string {
  return psqlScript(
    // First: a table's new owner must be allowed to create in its schema; no one else may.
    `ALTER SCHEMA public OWNER TO ${ident(name)};`,
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC;',
    `SELECT format('ALTER %s %I.%I OWNER TO %I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, n.nspname, c.relname, ${literal(name)}) ` +
      'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ' +
      "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_' " +
      // A sequence of a serial or identity column goes with its table.
      "AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))",
    '\\gexec'
  )
}

/**
 * The preview's role (its password set again each deploy) and its database, made when missing:
 * from the template (its tables then the role's) or empty. A database that exists is kept. Run
 * by one host of a fleet (they share the database server): hosts never race to make it.
 */
export function previewDatabaseStep(s: Settings): Step {
  const db = s.preview?.database as PreviewDatabase
  const { name, template } = db
  const { made } = markOf(s)
  const psql = raw(PSQL)
  return {
    id: 'preview-database',
    phase: 'upload',
    title: `The preview's database ${name} (${template ? `from the template ${template}` : 'empty'}, when it is new)`,
    privileged: true,
    stdin: 'preview-database',
    command: script(
      connect(),
      // The verifier as a psql variable (quoted there as :'verifier'): on stdin, never an argument.
      sh`said=$({ printf '%s %s\n' ${'\\set verifier'} "'$verifier'"; printf '%s' ${prepareScript(s)}; } | ${psql})`,
      raw('case $said in *FOREIGN*)'),
      sh`  echo ${`a role or a database named ${name} exists and is not this preview's (it has no mark of ${s.instanceName}): nothing was changed. Use another preview name (or drop it, if it is a leftover of yours)`} >&2`,
      raw('  exit 1;;'),
      raw('esac'),
      raw('case $said in *CREATED*)'),
      ...(template
        ? [sh`  printf '%s' ${ownershipScript(name)} | PGDATABASE=${name} ${psql}`]
        : []),
      sh`  ${psql} -c ${`ALTER DATABASE ${ident(name)} OWNER TO ${ident(name)}`} -c ${`COMMENT ON DATABASE ${ident(name)} IS ${literal(made)}`}`,
      sh`  echo ${`created the database ${name}${template ? ` from ${template}` : ''}`};;`,
      sh`*) echo ${`the database ${name} exists: kept`};;`,
      raw('esac')
    )
  }
}

/**
 * The preview's database and role dropped (its remove, or a removal by the limits), each only
 * when it has this preview's mark. The role first loses its login; one the preview made hard to
 * drop (it owns objects elsewhere) is kept without login, said as `role-kept`.
 */
export function dropPreviewDatabaseStep(s: Settings): Step {
  const name = (s.preview?.database as PreviewDatabase).name
  const { made, making } = markOf(s)
  const id = ident(name)
  const dropScript = psqlScript(
    `SELECT coalesce(${markQuery('database', name)} IN (${literal(made)}, ${literal(making)}), false) AS database_ours, coalesce(${markQuery('role', name)} = ${literal(made)}, false) AS role_ours \\gset`,
    '\\if :database_ours',
    `DROP DATABASE ${id} WITH (FORCE);`,
    `\\echo 'database-removed ${name}'`,
    '\\endif',
    '\\if :role_ours',
    `ALTER ROLE ${id} NOLOGIN PASSWORD NULL;`,
    `DROP OWNED BY ${id};`,
    '\\set ON_ERROR_STOP off',
    `DROP ROLE ${id};`,
    `SELECT ${markQuery('role', name)} IS NOT NULL AS role_left \\gset`,
    '\\if :role_left',
    `\\echo 'role-kept ${name}'`,
    '\\endif',
    '\\endif'
  )
  return {
    id: 'remove-preview-database',
    phase: 'cleanup',
    title: `Drop the preview's database ${name} and its role`,
    privileged: true,
    stdin: 'preview-database',
    command: script(connect(), sh`printf '%s' ${dropScript} | ${raw(PSQL)} 2>&1`)
  }
}
