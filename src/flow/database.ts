// What the flow says about the database: pure texts from what the run learnt (the migration
// plan, the backup, a rollback's schema), so host.ts only decides when to say them.

import { stagingSteps, type Plan } from '../plan.js'
import { StepError } from '../server/cause.js'
import { discoverStep, parseDjangoFacts, rebaseFound } from '../server/discover.js'
import type { HostFacts } from '../server/facts.js'
import { stagedRelease } from '../server/layout.js'
import { parseBackup, parseMigrated, parseMigrationPlan } from '../server/migrations.js'
import type { RunResult } from '../remote/connection.js'
import type { Step } from '../server/step.js'
import type { HostDeps } from './deps.js'
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
export function failureNote(
  database: DatabaseReport,
  live: string | undefined,
  states: readonly string[]
): string {
  const { applied, backup } = database
  const healthy = states.includes('healthy')
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

type Deps = Pick<HostDeps, 'settings' | 'info' | 'warn'>

/** What one host's run learnt and did about the database, and what it said as it went. */
export class DatabaseWatch {
  readonly report: DatabaseReport = {}

  outcome(): DatabaseReport | undefined {
    return Object.keys(this.report).length > 0 ? { ...this.report } : undefined
  }

  /**
   * After a Django step, failed or not: the migration plan it read, the backup it took and
   * whether it applied the migrations; a restore.
   */
  afterStep(deps: Deps, step: Step, result: RunResult, plan: Plan, found: DjangoFacts): void {
    if (result.code === 0 && step.id === 'restore-database')
      this.report.restored = plan.database.backup
    const migrations = step.id === 'django' ? parseMigrationPlan(result.stdout) : undefined
    if (!migrations) return
    this.tellMigrations(deps, migrations, found)
    this.report.backup = parseBackup(result.stdout)
    const b = this.report.backup
    if (b) deps.info(`Database backup: ${b.path} (${b.bytes} bytes)`)
    if (parseMigrated(result.stdout)) this.report.applied = this.report.pending
  }

  /** The migration plan, said before anything is applied; warnings for what cannot go back. */
  readMigrations(deps: Deps, stdout: string, found: DjangoFacts): MigrationPlan {
    const migrations = parseMigrationPlan(stdout)
    if (!migrations) throw new Error('The migration plan could not be read from its step.')
    this.tellMigrations(deps, migrations, found)
    return migrations
  }

  private tellMigrations(deps: Deps, migrations: MigrationPlan, found: DjangoFacts): void {
    this.report.pending = migrations.pending
    this.report.irreversible = migrations.irreversible
    deps.info(planMessage(migrations, deps.settings.dryRun))
    for (const w of migrationWarnings(deps.settings, migrations, found))
      deps.warn(w.message, w.title)
  }

  /** A rollback over releases that applied migrations: the schema stays theirs, or is restored. */
  noticeRollback(deps: Deps, plan: Plan): void {
    const { ahead, backup } = plan.database
    if (ahead.length === 0) return
    this.report.ahead = ahead
    this.report.aheadBackup = backup
    const warning = schemaAheadWarning(plan)
    if (warning) deps.warn(warning, 'Schema ahead of the code')
  }
}

/**
 * The dry run's look at the new code: uploaded beside the releases (layout.ts stagedRelease)
 * and read as the app user: its settings and what migrate would apply. Removed whatever
 * happens; a problem is a warning, and the dry run goes on with the live release's settings.
 */
export async function stage(
  deps: HostDeps,
  facts: HostFacts,
  newRelease: string,
  watch: DatabaseWatch
): Promise<{ found: DjangoFacts; migrations?: MigrationPlan } | undefined> {
  const s = deps.settings
  const steps = stagingSteps(s, stagedRelease(newRelease), deps.venvKey(facts))
  try {
    for (const step of steps.prepare)
      await deps.run(step, { stdin: step.stdin && deps.stdin(step.stdin) })
    const found = parseDjangoFacts((await deps.run(steps.discover)).stdout)
    if (!s.migrate) return { found }
    for (const step of steps.read(found)) {
      const result = await deps.run(step)
      if (step.id === 'migrations')
        return { found, migrations: watch.readMigrations(deps, result.stdout, found) }
    }
    return { found }
  } catch (error) {
    deps.warn(
      `The dry run could not read the new code's settings and migrations: ${error instanceof StepError ? `${error.step.title}: ${error.cause}` : (error as Error).message}`,
      'Dry run'
    )
    return undefined
  } finally {
    await deps.run(steps.remove, { allowFailure: true })
  }
}

/**
 * What the dry run plans with: the new code's settings and migrations from a staged upload, or,
 * with no live release (or for a rollback), the settings of the release that exists; their
 * paths moved to where the target release has them.
 */
export async function readForDryRun(
  deps: HostDeps,
  facts: HostFacts,
  newRelease: string,
  target: string,
  watch: DatabaseWatch
): Promise<{ found: DjangoFacts; migrations?: MigrationPlan }> {
  const s = deps.settings
  const staged =
    target === newRelease && facts.live ? await stage(deps, facts, newRelease, watch) : undefined
  if (staged)
    return {
      found: rebaseFound(s, staged.found, stagedRelease(newRelease), target),
      migrations: staged.migrations
    }
  if (target === newRelease && s.migrate && !facts.live)
    deps.info('First deploy: migrate applies every migration of the project.')
  const readable = target === newRelease ? facts.live : target
  if (!readable) return { found: {} }
  const result = await deps.run(discoverStep(s, readable), { allowFailure: true })
  return { found: rebaseFound(s, parseDjangoFacts(result.stdout), readable, target) }
}
