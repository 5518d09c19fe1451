// A preview's own PostgreSQL database: the inputs (the admin's URL read, never repeated in an
// error; the names refused that a remove would drop), the app's URL in the preview's dotenv in
// place of production's, the secrets masked, and the steps' scripts run here against a stand-in
// psql that records what it was given: the admin's password and the app's never on a command
// line, the statements as PostgreSQL would get them.

import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { siblingPreview } from '../src/server/previews.js'
import {
  dropPreviewDatabaseStep,
  previewDatabaseStdin,
  previewDatabaseStep,
  scramVerifier
} from '../src/server/preview-database.js'
import { removeSteps, type RemoveListing } from '../src/server/remove.js'
import { secretValues, type Settings } from '../src/settings.js'
import { readInputs, refusalOf } from './settings-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'dda-preview-db-'))
writeFileSync(join(dir, 'manage.py'), '')

const ADMIN_PASSWORD = 'adm1n-S3cret/pw'
const ADMIN_URL = `postgres://previews:${encodeURIComponent(ADMIN_PASSWORD)}@127.0.0.1:5433/postgres`

const read = (overrides: Record<string, string>): Settings =>
  readInputs(
    {
      preview: 'pr-7',
      'preview-domain': 'preview.example.net',
      'preview-database-url': ADMIN_URL,
      ...overrides
    },
    dir
  )
const refused = (overrides: Record<string, string>) =>
  refusalOf(() => read(overrides), overrides).message

describe('the preview database inputs', () => {
  test("the admin's connection is read from the URL, the database named <project>_<name>", () => {
    const db = read({ 'preview-database-template': 'staging_copy' }).preview?.database
    expect(db?.admin).toEqual({
      host: '127.0.0.1',
      port: 5433,
      user: 'previews',
      password: ADMIN_PASSWORD,
      database: 'postgres'
    })
    expect([db?.name, db?.template, db?.env]).toEqual([
      'mysite_pr_7',
      'staging_copy',
      'DATABASE_URL'
    ])
  })

  test("the preview's dotenv holds its own URL, in place of the one the dotenv gave (production's)", () => {
    const s = read({
      dotenv: 'DATABASE_URL=postgres://prod:prodpw@db/prod\nDEBUG=0',
      'preview-database-env': 'DATABASE_URL'
    })
    const urls = s.dotenv.filter(([name]) => name === 'DATABASE_URL').map(([, v]) => v)
    expect(urls).toEqual([
      `postgres://mysite_pr_7:${s.preview?.database?.password}@127.0.0.1:5433/mysite_pr_7`
    ])
    expect(s.dotenv.map(([, v]) => v).join('\n')).not.toContain(ADMIN_PASSWORD)
    expect(s.preview?.database?.password).toMatch(/^[0-9a-f]{32}$/)
    // The same preview gets the same password on every deploy; another preview another.
    expect(read({}).preview?.database?.password).toBe(s.preview?.database?.password)
    expect(read({ preview: 'pr-8' }).preview?.database?.password).not.toBe(
      s.preview?.database?.password
    )
  })

  test("the admin's URL and password, and the app's, are masked", () => {
    const s = read({})
    expect(secretValues(s)).toEqual(
      expect.arrayContaining([ADMIN_URL, ADMIN_PASSWORD, s.preview?.database?.password])
    )
  })

  test('a production deploy reads (and checks) the inputs but makes no database', () => {
    const s = readInputs({ 'preview-database-url': ADMIN_URL }, dir)
    expect(s.preview).toBeUndefined()
    expect(s.dotenv).toEqual([])
    expect(
      refusalOf(() => readInputs({ 'preview-database-url': 'mysql://a:b@h/x' }, dir), {}).message
    ).toContain('rather than postgres:')
  })

  test.each([
    ['postgres://previews:pw@/postgres', 'is not a URL'],
    ['postgres://previews:pw@bad_host!/postgres', 'needs a host'],
    ['postgres://:pw@127.0.0.1/postgres', 'needs a user'],
    ['postgres://previews:pw@127.0.0.1/postgres?options=-c', 'only sslmode is read'],
    ['postgres://previews:pw@127.0.0.1/postgres?sslmode=maybe', 'one of disable'],
    ['postgres://previews:p%0Aw@127.0.0.1/postgres', 'control character'],
    ['postgres://previews@127.0.0.1/postgres', "needs the role's password"],
    ['not a url', 'is not a URL']
  ])('%s is refused (%s), the error never repeating the password', (url, expected) => {
    const message = refused({ 'preview-database-url': url })
    expect(message).toContain('preview-database-url')
    expect(message).toContain(expected)
    expect(message).not.toMatch(/pw|p%0Aw/)
  })

  test.each([
    [
      { 'preview-database-template': 'mysite_pr_7' },
      'preview-database-template is named mysite_pr_7'
    ],
    [
      { 'preview-database-url': 'postgres://mysite_pr_7:pw@127.0.0.1/postgres' },
      'the admin role is named mysite_pr_7'
    ],
    [{ 'preview-database-template': "x'; drop" }, 'is not a database name'],
    [{ 'preview-database-env': '1DB' }, "is not an environment variable's name"],
    [
      { 'preview-database-url': '', 'preview-database-template': 'seed' },
      'needs preview-database-url'
    ]
  ])('%j is refused: %s', (overrides, expected) => {
    expect(refused(overrides)).toContain(expected)
  })
})

/**
 * Runs a step's script with a stand-in psql that records its arguments, its environment's PG
 * variables and its stdin, one file each call, and answers the first call with `answer` (what
 * the real psql prints for the first session: CREATED, FOREIGN..., or nothing).
 */
function runWithPsql(
  step: ReturnType<typeof previewDatabaseStep>,
  s: Settings,
  answer: string,
  path?: string
): { code: number; stdout: string; stderr: string; calls: Array<{ args: string; stdin: string }> } {
  const bin = mkdtempSync(join(tmpdir(), 'dda-psql-'))
  writeFileSync(
    join(bin, 'psql'),
    [
      '#!/bin/sh',
      `n=$(ls ${bin}/call.*.args 2>/dev/null | wc -l)`,
      `printf '%s\\n' "$@" > ${bin}/call.$n.args`,
      `env | grep '^PG' | sort >> ${bin}/call.$n.args`,
      `cat > ${bin}/call.$n.stdin`,
      `if [ "$n" = 0 ]; then printf '%s' '${answer}'; fi`
    ].join('\n')
  )
  chmodSync(join(bin, 'psql'), 0o755)
  const ran = spawnSync('/bin/bash', ['-c', step.command.text], {
    input: previewDatabaseStdin(s.preview!.database!),
    env: { PATH: path ?? `${bin}:/usr/bin:/bin`, HOME: bin },
    encoding: 'utf8'
  })
  const calls = []
  for (let n = 0; existsSync(join(bin, `call.${n}.args`)); n++)
    calls.push({
      args: readFileSync(join(bin, `call.${n}.args`), 'utf8'),
      stdin: readFileSync(join(bin, `call.${n}.stdin`), 'utf8')
    })
  return { code: ran.status ?? -1, stdout: ran.stdout, stderr: ran.stderr, calls }
}

describe("the preview's database steps", () => {
  const s = read({ 'preview-database-template': 'staging_copy' })
  const db = s.preview!.database!
  const MARK = "'django-deploy-action preview mysite/pr-7'"

  test("a new database: made the admin's, the template's objects handed over, then the role's", () => {
    const ran = runWithPsql(previewDatabaseStep(s), s, 'CREATED\n')
    expect([ran.code, ran.stderr]).toEqual([0, ''])
    expect(ran.stdout).toContain('created the database mysite_pr_7 from staging_copy')
    const [prepare, owners, handover] = ran.calls
    // A role or database of the name without this preview's mark stops the session.
    expect(prepare.stdin).toContain(
      `coalesce((SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = 'mysite_pr_7') <> ${MARK}, false) AS role_foreign`
    )
    expect(prepare.stdin).toContain(
      `CREATE ROLE "mysite_pr_7" LOGIN;\nCOMMENT ON ROLE "mysite_pr_7" IS ${MARK};`
    )
    // The role's password reaches the server as its SCRAM verifier, from stdin.
    expect(prepare.stdin).toContain(
      `\\set verifier '${scramVerifier(db.password, ADMIN_PASSWORD)}'`
    )
    expect(prepare.stdin).toContain(`ALTER ROLE "mysite_pr_7" WITH LOGIN PASSWORD :'verifier';`)
    expect(prepare.stdin).not.toContain(db.password)
    // The admin's until handed over; no one else may connect to it.
    expect(prepare.stdin).toContain(
      'CREATE DATABASE "mysite_pr_7" TEMPLATE "staging_copy" ALLOW_CONNECTIONS false;'
    )
    expect(prepare.stdin).toContain('ALTER DATABASE "mysite_pr_7" ALLOW_CONNECTIONS true;')
    expect(prepare.stdin.indexOf('ALLOW_CONNECTIONS true')).toBeGreaterThan(
      prepare.stdin.indexOf('REVOKE CONNECT')
    )
    expect(prepare.stdin).toContain(
      'REVOKE CONNECT, TEMPORARY ON DATABASE "mysite_pr_7" FROM PUBLIC;'
    )
    expect(owners.args).toContain('PGDATABASE=mysite_pr_7')
    expect(owners.stdin).toContain('ALTER SCHEMA public OWNER TO "mysite_pr_7";')
    expect(owners.stdin).not.toMatch(/LIKE/)
    expect(handover.args).toContain('ALTER DATABASE "mysite_pr_7" OWNER TO "mysite_pr_7"')
    expect(handover.args).toContain(`COMMENT ON DATABASE "mysite_pr_7" IS ${MARK}`)
    // libpq's variables carry the admin's connection; names resolve in pg_catalog alone.
    for (const line of [
      'PGHOST=127.0.0.1',
      'PGPORT=5433',
      'PGUSER=previews',
      'PGDATABASE=postgres',
      `PGPASSWORD=${ADMIN_PASSWORD}`,
      'PGOPTIONS=-c search_path=pg_catalog -c client_min_messages=warning',
      'PGREQUIREAUTH=scram-sha-256'
    ])
      expect(prepare.args.split('\n')).toContain(line)
    for (const call of ran.calls) {
      const argv = call.args.split('\n').filter((line) => !line.startsWith('PG'))
      expect(argv.join('\n')).not.toContain(ADMIN_PASSWORD)
      expect(argv.join('\n')).not.toContain(db.password)
    }
    expect(previewDatabaseStep(s).command.text).not.toContain(ADMIN_PASSWORD)
    expect(previewDatabaseStep(s).command.text).not.toContain(db.password)
  })

  test('a database that exists is kept: one session (the role and its password)', () => {
    const ran = runWithPsql(previewDatabaseStep(s), s, '')
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain('the database mysite_pr_7 exists: kept')
    expect(ran.calls).toHaveLength(1)
  })

  test("a role or database of the name that is someone else's: refused, nothing more sent", () => {
    const ran = runWithPsql(previewDatabaseStep(s), s, 'FOREIGN role mysite_pr_7\n')
    expect(ran.code).toBe(1)
    expect(ran.stderr).toContain(
      "a role or a database named mysite_pr_7 exists and is not this preview's (it has no mark of mysite-pr-7)"
    )
    expect(ran.calls).toHaveLength(1)
  })

  test("the verifier is the SCRAM-SHA-256 one PostgreSQL stores (checked by Python's hashlib)", () => {
    const verifier = scramVerifier('pencil', 'a key')
    const python = [
      'import base64, hashlib, hmac, sys',
      "head, keys = sys.argv[1].split('$', 1)[1].split('$')",
      "iterations, salt = head.split(':')",
      "salted = hashlib.pbkdf2_hmac('sha256', b'pencil', base64.b64decode(salt), int(iterations))",
      "client = hmac.new(salted, b'Client Key', 'sha256').digest()",
      "server = hmac.new(salted, b'Server Key', 'sha256').digest()",
      "print(base64.b64encode(hashlib.sha256(client).digest()).decode() + ':' + base64.b64encode(server).decode())"
    ].join('\n')
    const expected = spawnSync('python3', ['-c', python, verifier], { encoding: 'utf8' })
    expect(verifier.split('$')[2]).toBe(expected.stdout.trim())
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$/)
    // Stable for a key and password (every deploy sends the same), another key another salt.
    expect(scramVerifier('pencil', 'a key')).toBe(verifier)
    expect(scramVerifier('pencil', 'other')).not.toBe(verifier)
  })

  test('without psql on the host: said, with the package to install', () => {
    const ran = runWithPsql(previewDatabaseStep(s), s, '', '/nonexistent')
    expect(ran.code).not.toBe(0)
    expect(ran.stderr).toContain('psql is not on the host')
  })

  test("the remove drops the preview's database and role, after its units stop, before its files", () => {
    const listing: RemoveListing = {
      units: ['gunicorn-mysite-pr-7-blue.service'],
      files: [],
      entries: ['releases'],
      appEntries: [],
      paths: [],
      certificate: false,
      user: true
    }
    const steps = removeSteps(s, { kind: 'remove', force: true }, listing).map((step) => step.id)
    expect(steps.indexOf('remove-preview-database')).toBeGreaterThan(steps.indexOf('remove-units'))
    expect(steps.indexOf('remove-preview-database')).toBeLessThan(steps.indexOf('remove-files'))
    const [drop] = runWithPsql(dropPreviewDatabaseStep(s), s, '').calls
    // Only what carries this preview's mark; the role loses its login first.
    expect(drop.stdin).toContain(
      `IN (${MARK}, 'django-deploy-action preview mysite/pr-7 (being made)'), false) AS database_ours`
    )
    expect(drop.stdin).toContain('\\if :database_ours\nDROP DATABASE "mysite_pr_7" WITH (FORCE);')
    expect(drop.stdin).toContain(`= ${MARK}, false) AS role_ours`)
    expect(drop.stdin).toContain(
      'ALTER ROLE "mysite_pr_7" NOLOGIN PASSWORD NULL;\nDROP OWNED BY "mysite_pr_7";'
    )
    expect(drop.stdin).toContain('DROP ROLE "mysite_pr_7";')
  })

  test("another preview removed by the limits drops its own database, by its own mark, never this preview's", () => {
    const sibling = siblingPreview(s, 'pr-3')
    expect(sibling.preview?.database?.name).toBe('mysite_pr_3')
    const [drop] = runWithPsql(dropPreviewDatabaseStep(sibling), sibling, '').calls
    expect(drop.stdin).toContain('"mysite_pr_3"')
    expect(drop.stdin).toContain("'django-deploy-action preview mysite/pr-3'")
    expect(drop.stdin).not.toContain('mysite_pr_7')
    expect(drop.stdin).not.toContain('pr-7')
  })
})
