// Migrations done safely (server/migrations.ts and its place in the plan): the plan's steps for
// each database, the parsers of the plan and the backup, a rollback's view of the schema, the
// restore and its refusals, pruning, and what the summary says.

import { boundaryOps } from '../src/server/boundary.js'
import { databasePlan, planRun, PlanError } from '../src/plan.js'
import { summaryMarkdown, type HostReport } from '../src/report/report.js'
import { djangoSteps } from '../src/server/django.js'
import type { HostFacts } from '../src/server/facts.js'
import { parseFacts } from '../src/server/inspect.js'
import {
  databaseKind,
  describePlan,
  parseBackup,
  parseMigrated,
  parseMigrationPlan
} from '../src/server/migrations.js'
import { pruneStep } from '../src/server/release.js'
import { failureNote, migrationWarnings } from '../src/flow/notices.js'
import { settingsFor, hostFacts } from './settings-fixture.js'

const R1 = '20261101T100000Z-1111111'
const R2 = '20261110T100000Z-2222222'
const R3 = '20261120T100000Z-3333333'
const NEW = '20261125T081500Z-1a2b3c4'
const PG = { databaseEngine: 'django.db.backends.postgresql' }
const SQLITE = { databaseEngine: 'django.db.backends.sqlite3' }

const facts = (overrides: Partial<HostFacts> = {}): HostFacts =>
  hostFacts({
    live: R3,
    releases: [R3, R2, R1],
    served: [R3, R2, R1],
    instance: 'blue',
    ...overrides
  })

const ids = (steps: Array<{ id: string }>) => steps.map((step) => step.id)

describe('the Django steps for the database', () => {
  const s = settingsFor()
  const django = (found: typeof PG | typeof SQLITE | object, settings = s) =>
    djangoSteps(settings, NEW, found).find((step) => step.id === 'django')

  test('one Django process decides: the plan, and the backup and migrate only when it has something to apply', () => {
    expect(ids(djangoSteps(s, NEW, PG))).toEqual(['django'])
    expect(django(PG)?.title).toBe('manage.py migrate (when a migration is unapplied)')
    // With nothing else to do, the process still imports the WSGI application (ASGI: its own step).
    const noMigrate = settingsFor({ migrate: false })
    expect(django(PG, noMigrate)?.title).toBe('Import mysite.wsgi:application as gunicorn will')
    const asgi = settingsFor({ migrate: false, asgiModule: 'mysite.asgi:application' })
    expect(ids(djangoSteps(asgi, NEW, PG))).toEqual(['asgi-import'])
  })

  test('the client tools are checked first on PostgreSQL with a backup, and the check names the package', () => {
    const text = django(PG)?.command.text ?? ''
    expect(text).toContain('Install the package postgresql-client')
    expect(text.indexOf('postgresql-client')).toBeLessThan(text.indexOf('systemd-run'))
    expect(django(SQLITE)?.command.text).not.toContain('postgresql-client')
    expect(django(PG, settingsFor({ backup: false }))?.command.text).not.toContain(
      'postgresql-client'
    )
  })

  test('the backup is written by the app user, then root keeps it (0600) beside the releases', () => {
    const text = django(PG)?.command.text ?? ''
    expect(text).toContain('--uid=mysite')
    expect(text).toContain(`/srv/mysite/backups/${NEW}.pgdump`)
    expect(boundaryOps(text)).toContainEqual({
      op: 'keep',
      path: `/srv/mysite/backups/.new-${NEW}/backup`,
      to: `/srv/mysite/backups/${NEW}.pgdump`,
      say: 'DATABASE-BACKUP '
    })
    // No credential on a command line: the script reads them from the settings.
    expect(text).not.toMatch(/PASSWORD=|PGPASSWORD=/)
    expect(django(SQLITE)?.command.text).toContain(`/srv/mysite/backups/${NEW}.sqlite3`)
    // Another database, or backup: false: nothing to keep.
    expect(django({ databaseEngine: 'django.db.backends.mysql' })?.command.text).not.toContain(
      '/srv/mysite/backups/2026'
    )
  })

  test('migrate records that the release applied migrations, for a later rollback', () => {
    const text = django(SQLITE)?.command.text ?? ''
    expect(text).toContain(`/srv/mysite/.deploy/migrated/${NEW}`)
    expect(parseMigrated('x\nDJANGO-MIGRATED\n')).toBe(true)
    expect(parseMigrated('DJANGO-MIGRATED please')).toBe(false)
  })

  test('databaseKind', () => {
    expect(databaseKind('django.db.backends.postgresql')).toBe('postgresql')
    expect(databaseKind('django.contrib.gis.db.backends.postgis')).toBe('postgresql')
    expect(databaseKind('django.db.backends.sqlite3')).toBe('sqlite')
    expect(databaseKind('django.db.backends.mysql')).toBeUndefined()
    expect(databaseKind(undefined)).toBeUndefined()
  })
})

describe('parsers', () => {
  test('the migration plan: the last marked line; names validated', () => {
    const line = (v: unknown) => `DJANGO-MIGRATIONS ${JSON.stringify(v)}`
    const stdout = [
      line({ pending: ['fake.0001_x'], irreversible: [] }),
      line({
        pending: ['shop.0002_price', 'blog.0003_tags', '$(reboot).x', 'a b.c'],
        irreversible: ['shop.0002_price: RunPython without reverse code', 'x: $(id)']
      })
    ].join('\n')
    expect(parseMigrationPlan(stdout)).toEqual({
      pending: ['shop.0002_price', 'blog.0003_tags'],
      irreversible: ['shop.0002_price: RunPython without reverse code']
    })
    expect(parseMigrationPlan('nothing')).toBeUndefined()
    expect(parseMigrationPlan('DJANGO-MIGRATIONS {')).toBeUndefined()
  })

  test('the plan as a person reads it: per app, or none', () => {
    expect(
      describePlan({
        pending: ['shop.0002_a', 'blog.0001_initial', 'shop.0003_b'],
        irreversible: []
      })
    ).toBe('Migrations to apply (3):\n  shop: 0002_a, 0003_b\n  blog: 0001_initial')
    expect(describePlan({ pending: [], irreversible: [] })).toBe('No migrations to apply.')
  })

  test('the backup line', () => {
    expect(parseBackup(`x\nDATABASE-BACKUP 1234 /srv/mysite/backups/${NEW}.pgdump\n`)).toEqual({
      path: `/srv/mysite/backups/${NEW}.pgdump`,
      bytes: 1234
    })
    expect(parseBackup('DATABASE-BACKUP 12 relative')).toBeUndefined()
  })

  test('the inspection lists the releases that migrated and the backups', () => {
    const parsed = parseFacts(
      `live=${R3}\nmigrated=${R2} ${R3}\nbackups=${R2}.pgdump ${R3}.pgdump\n`
    )
    expect(parsed.migrated).toEqual([R2, R3])
    expect(parsed.backups).toEqual([`${R2}.pgdump`, `${R3}.pgdump`])
  })
})

describe('a rollback and the database', () => {
  const rollback = settingsFor({ rollback: true, source: null })
  const restore = settingsFor({ rollback: true, source: null, restoreDatabase: true })

  test('the schema stays ahead: the releases newer than the target that migrated, and their backup', () => {
    const f = facts({ migrated: [R1, R3], backups: [`${R1}.pgdump`, `${R3}.pgdump`] })
    expect(databasePlan(rollback, f, R2)).toEqual({
      ahead: [R3],
      backup: `/srv/mysite/backups/${R3}.pgdump`,
      restore: false
    })
    expect(databasePlan(rollback, facts(), R2)).toEqual({ ahead: [], restore: false })
    // A deploy is no rollback.
    expect(databasePlan(settingsFor(), f, NEW).ahead).toEqual([])
  })

  test('restore-database: the restore before the switch, in the target release', () => {
    const plan = planRun({
      settings: restore,
      facts: facts({ migrated: [R3], backups: [`${R3}.sqlite3`] }),
      newRelease: NEW,
      venvKey: null,
      projectSettings: SQLITE
    })
    expect(plan.target).toBe(R2)
    expect(ids(plan.build)).toEqual(['restore-database'])
    const text = plan.build[0].command.text
    expect(text).toContain(`/srv/mysite/backups/${R3}.sqlite3`)
    expect(text).toContain(`/srv/mysite/releases/${R2}`)
    expect(text).toContain(`/srv/mysite/.deploy/migrated/${R3}`)
    // Without it, nothing touches the database.
    expect(
      planRun({
        settings: rollback,
        facts: facts({ migrated: [R3], backups: [`${R3}.sqlite3`] }),
        newRelease: NEW,
        venvKey: null,
        projectSettings: SQLITE
      }).build
    ).toEqual([])
  })

  test('refused without force when other releases would lose data, or without a backup', () => {
    // R2 is live; R3 (rolled back from before) applied migrations after R1's time.
    const f = facts({
      live: R2,
      releases: [R3, R2, R1],
      migrated: [R3],
      backups: [`${R3}.pgdump`]
    })
    expect(() => databasePlan(restore, f, R1)).toThrow(PlanError)
    expect(() => databasePlan(restore, f, R1)).toThrow(/Set force: true/)
    expect(databasePlan({ ...restore, force: true }, f, R1)).toMatchObject({
      ahead: [R3],
      restore: true
    })
    expect(() => databasePlan(restore, facts({ migrated: [R3] }), R2)).toThrow(
      /no backup taken before them/
    )
  })
})

test('pruning a release takes its backup and its record of migrations', () => {
  const text = pruneStep(settingsFor(), 5, R3, R2).command.text
  expect(text).toContain('/srv/mysite/backups/"$release".pgdump')
  expect(text).toContain('/srv/mysite/backups/"$release".sqlite3')
  expect(text).toContain('/srv/mysite/.deploy/migrated/"$release"')
})

describe('what the run says', () => {
  test('irreversible migrations and a database without backup are warnings', () => {
    const warnings = migrationWarnings(
      settingsFor(),
      { pending: ['shop.0002_a'], irreversible: ['shop.0002_a: RunPython without reverse code'] },
      { databaseEngine: 'django.db.backends.mysql' }
    )
    expect(warnings.map((w) => w.title)).toEqual(['Irreversible migrations', 'No database backup'])
    expect(warnings[0].message).toContain('shop.0002_a: RunPython without reverse code')
  })

  test('a failure after migrations names the schema and the backup', () => {
    const note = failureNote(
      { applied: ['shop.0002_a'], backup: { path: '/srv/mysite/backups/x.pgdump', bytes: 10 } },
      R3,
      ['connected', 'locked', 'failed']
    )
    expect(note).toContain(`the schema is ahead of the release that serves, ${R3}`)
    expect(note).toContain('kept for inspection: /srv/mysite/backups/x.pgdump')
    expect(note).toContain('pg_restore')
  })

  test('a first deploy that failed after its migrations: no schema ahead of anything', () => {
    const note = failureNote({ applied: ['shop.0001_initial'] }, '', ['connected', 'failed'])
    expect(note).not.toContain('ahead')
    expect(note).toContain('(no release served before): the next deploy starts from them')
  })

  test('the summary: the migrations, the backup; after a rollback, the schema ahead', () => {
    const report = (database: HostReport['database']): HostReport => ({
      host: 'app1',
      release: NEW,
      previousRelease: R3,
      status: 'success',
      gates: [],
      phaseMs: {},
      durationMs: 1000,
      message: '',
      database
    })
    const deployed = summaryMarkdown(settingsFor(), [
      report({
        pending: ['shop.0002_a'],
        applied: ['shop.0002_a'],
        irreversible: ['shop.0002_a: RunPython without reverse code'],
        backup: { path: `/srv/mysite/backups/${NEW}.pgdump`, bytes: 2048 }
      })
    ])
    expect(deployed).toContain('Applied: `shop.0002_a`')
    expect(deployed).toContain('Irreversible: `shop.0002_a: RunPython without reverse code`')
    expect(deployed).toContain(
      `Backup before the migrations: \`/srv/mysite/backups/${NEW}.pgdump\` (2048 bytes)`
    )
    const rolledBack = summaryMarkdown(settingsFor(), [
      report({ ahead: [R3], aheadBackup: `/srv/mysite/backups/${R3}.pgdump` })
    ])
    expect(rolledBack).toContain('The schema stays ahead of the code')
    expect(rolledBack).toContain(`/srv/mysite/backups/${R3}.pgdump`)
  })
})
