// Migrations done safely, on PostgreSQL (Debian's, started here, configured through dotenv) and on
// SQLite (startproject's default path): the dry run lists what migrate would apply; a deploy backs
// the database up before it applies anything (and takes no backup when there is nothing to
// apply); a failing migration switches nothing and leaves the schema as it was; a rollback says
// the schema stays ahead, and with restore-database puts the rows back. One host for the file.
import { type ActionRun, runAction } from './action.js'
import {
  annotations,
  checkout,
  deployInputs,
  get,
  newCommit,
  onHost,
  summaryCause
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

let host: TestHost

const PASSWORD = 'pg-pass-4c1e9a7b5d'
// dotenv values are masked in the log: names that no other text of the run contains.
const PG_ENV = {
  DATABASE_NAME: 'books_db',
  DATABASE_USER: 'bookkeeper',
  DATABASE_PASSWORD: PASSWORD,
  DATABASE_HOST: '127.0.0.1'
}

beforeAll(async () => {
  host = await bootHost('migrations')
  await onHost(host, 'systemctl start postgresql')
  await onHost(
    host,
    `runuser -u postgres -- psql -v ON_ERROR_STOP=1 -c "CREATE ROLE bookkeeper LOGIN PASSWORD '${PASSWORD}'" && ` +
      'runuser -u postgres -- createdb -O bookkeeper books_db'
  )
})
afterAll(async () => {
  await host?.stop()
})

const must = (cmd: string) => onHost(host, cmd)

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the run did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** 0002: a field, and data filled in by a RunPython that has no way back. */
const ADD_NOTE = `from django.db import migrations, models


def fill(apps, schema_editor):
    apps.get_model('ledger', 'Entry').objects.update(note='before 0002')


class Migration(migrations.Migration):

    dependencies = [('ledger', '0001_initial')]

    operations = [
        migrations.AddField('entry', 'note', models.CharField(default='', max_length=100)),
        migrations.RunPython(fill),
    ]
`
/** 0003: a field, then SQL that fails: the whole migration is undone (transactional DDL). */
const BROKEN = `from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [('ledger', '0002_entry_note')]

    operations = [
        migrations.AddField('entry', 'amount', models.IntegerField(default=0)),
        migrations.RunSQL('SELECT no_such_function()'),
    ]
`

/** The ledger fixture at a version, with the migrations (and model fields) of that version. */
function project(version: string, migrations: Array<'0002' | '0003'> = []): string {
  const workspace = checkout('ledger', version)
  const folder = join(workspace, 'ledger', 'migrations')
  mkdirSync(folder, { recursive: true })
  const fields = ['    text = models.CharField(max_length=200)']
  if (migrations.includes('0002')) {
    writeFileSync(join(folder, '0002_entry_note.py'), ADD_NOTE)
    fields.push("    note = models.CharField(max_length=100, default='')")
  }
  if (migrations.includes('0003')) {
    writeFileSync(join(folder, '0003_entry_amount.py'), BROKEN)
    fields.push('    amount = models.IntegerField(default=0)')
  }
  writeFileSync(
    join(workspace, 'ledger', 'models.py'),
    `from django.db import models\n\n\nclass Entry(models.Model):\n${fields.join('\n')}\n`
  )
  return workspace
}

interface Database {
  name: 'postgresql' | 'sqlite'
  deployPath: string
  extension: string
  dotenv: string
  /** the environment the app's settings read, for a shell as the app user */
  env: Record<string, string>
  /** the columns of ledger_entry */
  columns(): Promise<string[]>
  /** the rows of ledger_entry in a backup file, restored into a scratch database */
  rowsInBackup(file: string): Promise<string[]>
}

const postgres: Database = {
  name: 'postgresql',
  deployPath: '/srv/ledger-pg',
  extension: 'pgdump',
  dotenv: Object.entries(PG_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n'),
  env: PG_ENV,
  columns: async () =>
    (
      await must(
        `runuser -u postgres -- psql -d books_db -tAc "SELECT column_name FROM information_schema.columns WHERE table_name = 'ledger_entry' ORDER BY column_name"`
      )
    )
      .split('\n')
      .filter(Boolean),
  rowsInBackup: async (file) =>
    (
      await must(
        'runuser -u postgres -- dropdb --if-exists scratch && runuser -u postgres -- createdb scratch && ' +
          `cp ${file} /tmp/scratch.pgdump && chown postgres /tmp/scratch.pgdump && ` +
          'runuser -u postgres -- pg_restore --no-owner -d scratch /tmp/scratch.pgdump && ' +
          `runuser -u postgres -- psql -d scratch -tAc "SELECT text FROM ledger_entry ORDER BY text"`
      )
    )
      .split('\n')
      .filter(Boolean)
}

const sqliteQuery = (file: string, sql: string) =>
  must(
    `python3 -c 'import sqlite3, sys; [print(*row) for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' ${file} "${sql}"`
  )

const sqlite: Database = {
  name: 'sqlite',
  deployPath: '/srv/ledger-sqlite',
  extension: 'sqlite3',
  dotenv: '',
  env: {},
  columns: async () =>
    (
      await sqliteQuery(
        '/srv/ledger-sqlite/shared/db.sqlite3',
        "SELECT name FROM pragma_table_info('ledger_entry') ORDER BY name"
      )
    )
      .split('\n')
      .filter(Boolean),
  rowsInBackup: async (file) =>
    (await sqliteQuery(file, 'SELECT text FROM ledger_entry ORDER BY text'))
      .split('\n')
      .filter(Boolean)
}

function inputs(db: Database, overrides: Record<string, string> = {}): Record<string, string> {
  return deployInputs(host, {
    source: '.',
    'deploy-path': db.deployPath,
    'health-path': '/status/',
    ...(db.dotenv ? { dotenv: db.dotenv } : {}),
    ...overrides
  })
}

/** The live page: entries and version. */
async function status(): Promise<{ entries: number; version: string }> {
  const page = await get(host, '/status/', { Host: 'localhost' })
  if (page.status !== 200)
    throw new Error(`/status/ answered ${page.status}: ${page.text.slice(0, 500)}`)
  return JSON.parse(page.text)
}

/** A row written as the app writes them: as the app user, in the live release. */
async function addEntry(db: Database, text: string): Promise<void> {
  const env = Object.entries(db.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  await must(
    `cd ${db.deployPath}/current && runuser -u mysite -- env ${env} DJANGO_SETTINGS_MODULE=mysite.settings ` +
      `.venv/bin/python manage.py shell -c "from ledger.models import Entry; Entry.objects.create(text='${text}')"`
  )
}

const backups = (db: Database) =>
  must(`ls -1 ${db.deployPath}/backups`).then((t) => t.split('\n').filter(Boolean))
const live = (db: Database) =>
  must(`basename "$(readlink ${db.deployPath}/current)"`).then((t) => t.trim())

/** What a user can see of a run, without the runner's own ::add-mask:: commands. */
const visible = (run: ActionRun) =>
  [
    ...run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')),
    run.stderr,
    JSON.stringify(run.outputs),
    run.summary
  ].join('\n')

describe('PostgreSQL, configured through dotenv', () => {
  const db = postgres
  let v2 = ''
  let v3 = ''

  test('the first deploy migrates; a deploy with no new migration takes no backup', async () => {
    const first = await runAction(inputs(db), { env: newCommit(), workspace: project('v1') })
    succeeded(first)
    await addEntry(db, 'a')
    await addEntry(db, 'b')
    expect(await status()).toEqual({ entries: 2, version: 'v1' })

    const second = await runAction(inputs(db), { env: newCommit(), workspace: project('v2') })
    succeeded(second)
    v2 = second.outputs.release
    expect(second.stdout).toContain('No migrations to apply: migrate did not run.')
    // Decided in the Django process: migrate never ran.
    expect(second.stdout).not.toContain('Operations to perform')
    expect(second.outputs.migrations).toBe('')
    expect(second.outputs['database-backup']).toBe('')
    expect(await backups(db)).not.toContainEqual(expect.stringContaining(v2))
    expect(visible(first) + visible(second)).not.toContain(PASSWORD)
  })

  test('the dry run lists the migration; the deploy backs up first, warns of the irreversible one', async () => {
    const before = await backups(db)
    const dry = await runAction(inputs(db, { 'dry-run': 'true' }), {
      env: newCommit(),
      workspace: project('v3', ['0002'])
    })
    succeeded(dry)
    expect(dry.stdout).toContain('Migrations to apply (1):\n  ledger: 0002_entry_note')
    expect(dry.summary).toMatch(/\d+\. manage\.py migrate \(when a migration is unapplied\)/)
    expect(dry.summary).toContain('Migrations to apply: `ledger.0002_entry_note`')
    // Nothing changed: no column, no backup, no staged upload left.
    expect(await db.columns()).toEqual(['id', 'text'])
    expect(await backups(db)).toEqual(before)
    expect(await must(`ls -1 ${db.deployPath}/releases`)).not.toContain('dry-run')

    const run = await runAction(inputs(db), {
      env: newCommit(),
      workspace: project('v3', ['0002'])
    })
    succeeded(run)
    v3 = run.outputs.release
    const backup = `${db.deployPath}/backups/${v3}.pgdump`
    expect(run.outputs['database-backup']).toBe(backup)
    expect(run.outputs.migrations).toBe('ledger.0002_entry_note')
    expect(await must(`stat -c '%U %a' ${backup}`)).toBe('root 600\n')
    expect(run.summary).toContain(`Backup before the migrations: \`${backup}\``)
    const warning = annotations(run.stdout, 'warning').find(
      (a) => a.title === 'Irreversible migrations'
    )
    expect(warning?.message).toContain('ledger.0002_entry_note: RunPython without reverse code')
    // The plan, read by the process before it applied anything.
    const order = (text: string) => run.stdout.indexOf(text)
    expect(order('DJANGO-MIGRATIONS ')).toBeGreaterThan(-1)
    expect(order('DJANGO-MIGRATIONS ')).toBeLessThan(order('Operations to perform'))
    // The backup holds the rows written before, and restores.
    expect(await db.rowsInBackup(backup)).toEqual(['a', 'b'])
    expect(await db.columns()).toEqual(['id', 'note', 'text'])
    expect(visible(dry) + visible(run)).not.toContain(PASSWORD)
    await addEntry(db, 'c')
    expect(await status()).toEqual({ entries: 3, version: 'v3' })
  })

  test('no client tools: the package named, nothing applied; a migration that fails: nothing switched, the schema as before, the backup kept, the cause first', async () => {
    // pg_dump is Debian's wrapper from postgresql-client-common: hidden, as on a host without it.
    await must('mv /usr/bin/pg_dump /usr/bin/pg_dump.hidden')
    const noTools = await runAction(inputs(db), {
      env: newCommit(),
      workspace: project('v4', ['0002', '0003'])
    }).finally(() => must('mv /usr/bin/pg_dump.hidden /usr/bin/pg_dump'))
    expect(noTools.outputs.status).toBe('failure')
    expect(summaryCause(noTools.summary)[0]).toContain(
      'missing on the host: pg_dump: the database backup needs them. Install the package postgresql-client'
    )
    expect(await backups(db)).not.toContainEqual(expect.stringContaining(noTools.outputs.release))

    const run = await runAction(inputs(db), {
      env: newCommit(),
      workspace: project('v4', ['0002', '0003'])
    })
    expect(run.outputs.status).toBe('failure')
    const v4 = run.outputs.release
    expect(await live(db)).toBe(v3)
    expect(await db.columns()).toEqual(['id', 'note', 'text'])
    expect(await backups(db)).toContain(`${v4}.pgdump`)
    expect(summaryCause(run.summary)[0]).toMatch(
      /ProgrammingError: function no_such_function\(\) does not exist/
    )
    expect(run.summary).toContain(`kept for inspection: ${db.deployPath}/backups/${v4}.pgdump`)
    expect(await status()).toEqual({ entries: 3, version: 'v3' })
  })

  test('rollback: the schema stays ahead, said with the backup; restore-database puts the rows back', async () => {
    const back = await runAction(inputs(db, { rollback: 'true' }), { env: newCommit() })
    succeeded(back)
    expect(back.outputs.release).toBe(v2)
    expect(back.outputs['schema-ahead']).toBe('true')
    expect(back.outputs['database-backup']).toBe(`${db.deployPath}/backups/${v3}.pgdump`)
    expect(back.summary).toContain('The schema stays ahead of the code')
    expect(back.summary).toContain(`${db.deployPath}/backups/${v3}.pgdump`)
    expect(await db.columns()).toEqual(['id', 'note', 'text'])

    // Now v2 is live and v3's migrations are ahead of v1 too: a restore would take them from
    // a release that is not the live one, so it wants force.
    const refused = await runAction(inputs(db, { rollback: 'true', 'restore-database': 'true' }), {
      env: newCommit()
    })
    expect(refused.outputs.status).toBe('failure')
    expect(summaryCause(refused.summary)[0]).toContain('Set force: true')
    expect(await live(db)).toBe(v2)

    const restored = await runAction(
      inputs(db, { rollback: 'true', 'restore-database': 'true', force: 'true' }),
      { env: newCommit() }
    )
    succeeded(restored)
    expect(restored.outputs['schema-ahead']).toBe('false')
    expect(restored.summary).toContain(
      `Restored the database from \`${db.deployPath}/backups/${v3}.pgdump\``
    )
    expect(await db.columns()).toEqual(['id', 'text'])
    expect(await status()).toEqual({ entries: 2, version: 'v1' })
    expect(visible(back) + visible(restored)).not.toContain(PASSWORD)
  })
})

describe("SQLite at startproject's default path", () => {
  const db = sqlite
  let v2 = ''

  test('the dry run lists the migration; the deploy backs up first (online backup API)', async () => {
    succeeded(await runAction(inputs(db), { env: newCommit(), workspace: project('v1') }))
    await addEntry(db, 'a')
    await addEntry(db, 'b')

    const dry = await runAction(inputs(db, { 'dry-run': 'true' }), {
      env: newCommit(),
      workspace: project('v2', ['0002'])
    })
    succeeded(dry)
    expect(dry.stdout).toContain('Migrations to apply (1):\n  ledger: 0002_entry_note')
    expect(await db.columns()).toEqual(['id', 'text'])

    const run = await runAction(inputs(db), {
      env: newCommit(),
      workspace: project('v2', ['0002'])
    })
    succeeded(run)
    v2 = run.outputs.release
    const backup = `${db.deployPath}/backups/${v2}.sqlite3`
    expect(run.outputs['database-backup']).toBe(backup)
    expect(run.stdout).toMatch(/Database backup: \S+\.sqlite3 \(\d+ bytes\)/)
    expect(await db.rowsInBackup(backup)).toEqual(['a', 'b'])
    expect(await db.columns()).toEqual(['id', 'note', 'text'])
    await addEntry(db, 'c')
  })

  test('a migration that fails: nothing switched, the schema as before, the backup kept', async () => {
    const run = await runAction(inputs(db), {
      env: newCommit(),
      workspace: project('v3', ['0002', '0003'])
    })
    expect(run.outputs.status).toBe('failure')
    expect(await live(db)).toBe(v2)
    expect(await db.columns()).toEqual(['id', 'note', 'text'])
    expect(await backups(db)).toContain(`${run.outputs.release}.sqlite3`)
    expect(summaryCause(run.summary)[0]).toMatch(
      /OperationalError: no such function: no_such_function/
    )
  })

  test('rollback with restore-database: the rows as they were before the migrating deploy', async () => {
    const restored = await runAction(inputs(db, { rollback: 'true', 'restore-database': 'true' }), {
      env: newCommit()
    })
    succeeded(restored)
    expect(restored.summary).toContain(
      `Restored the database from \`${db.deployPath}/backups/${v2}.sqlite3\``
    )
    expect(await db.columns()).toEqual(['id', 'text'])
    expect(await status()).toEqual({ entries: 2, version: 'v1' })
  })
})
