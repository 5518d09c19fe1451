// What the flow says about the database: pure texts from what the run learnt (the migration
// plan, the backup, a rollback's schema), so host.ts only decides when to say them.

import type { Plan } from '../plan.js'
import type { DatabaseReport } from '../report/report.js'
import type { DjangoFacts } from '../server/discover.js'
import {
  databaseKind,
  describePlan,
  restoreHint,
  type MigrationPlan
} from '../server/migrations.js'
import type { Settings } from '../settings.js'

/** The plan in the log; a deploy with nothing to apply says migrate did not run. */
export function planMessage(migrations: MigrationPlan, dryRun: boolean): string {
  return migrations.pending.length === 0 && !dryRun
    ? 'No migrations to apply: migrate did not run.'
    : describePlan(migrations)
}

/** Warnings before anything is applied: one-way migrations, a database the action cannot back up. */
export function migrationWarnings(
  s: Settings,
  migrations: MigrationPlan,
  found: DjangoFacts
): Array<{ message: string; title: string }> {
  const warnings: Array<{ message: string; title: string }> = []
  if (migrations.irreversible.length > 0)
    warnings.push({
      title: 'Irreversible migrations',
      message:
        `These migrations cannot be reversed (migrate backwards stops at them): ${migrations.irreversible.join('; ')}. ` +
        (s.backup
          ? 'The database is backed up before they run.'
          : 'backup is false: no backup is taken before they run.')
    })
  const engine = found.databaseEngine
  if (migrations.pending.length > 0 && s.backup && engine && !databaseKind(engine))
    warnings.push({
      title: 'No database backup',
      message:
        `No backup before the migrations: the action backs up SQLite and PostgreSQL, and the database's ENGINE is ${engine}. ` +
        'Back it up before deploying, or set backup: false to say this is meant.'
    })
  return warnings
}

/** A rollback that leaves migrations of newer releases applied: said, with the way back. */
export function schemaAheadWarning(plan: Plan): string {
  const { ahead, backup, restore } = plan.database
  if (ahead.length === 0 || restore) return ''
  return (
    `The schema stays ahead: ${ahead.join(', ')} applied migrations that stay applied, and the code of ` +
    `${plan.target} runs against them. ` +
    (backup
      ? `The backup taken before them: ${backup}. To restore it: ${restoreHint(backup)}.`
      : 'No backup was taken before them (backup: false).')
  )
}

/**
 * After a failure: where the database stands when migrations ran (the schema ahead of the
 * release that serves), and the backup taken before them.
 */
export function failureNote(database: DatabaseReport, live: string, healthy: boolean): string {
  const { applied, backup } = database
  const lines: string[] = []
  if (applied?.length && !healthy)
    lines.push(
      `The migrations ${applied.join(', ')} were applied and stay applied: the schema is ahead of ` +
        `${live ? `the release that serves, ${live}` : 'the code'}.`
    )
  if (backup)
    lines.push(
      `The database backup taken before the migrations is kept for inspection: ${backup.path} (${backup.bytes} bytes).` +
        (applied?.length ? ` To restore it: ${restoreHint(backup.path)}.` : '')
    )
  return lines.length > 0 ? `\n${lines.join('\n')}` : ''
}
