// What the run learns and does about the database (the migration plan, the backup, a rollback's
// schema), and the dry run's read of the new code; what it says is in notices.ts.

import { sentVenv, stagingSteps, type Plan } from '../plan.js'
import { discoverStep, parseProjectSettings, rebaseProjectSettings } from '../server/discover.js'
import type { HostFacts } from '../server/facts.js'
import { stagedRelease } from '../server/layout.js'
import { parseBackup, parseMigrated, parseMigrationPlan } from '../server/migrations.js'
import type { RunResult } from '../remote/connection.js'
import type { Step } from '../server/step.js'
import type { HostDeps } from './deps.js'
import { venvInput } from './dependencies.js'
import type { DatabaseReport } from '../report/report.js'
import type { ProjectSettings } from '../server/discover.js'
import type { MigrationPlan } from '../server/migrations.js'
import {
  FIRST_DEPLOY_MIGRATIONS,
  migrationWarnings,
  planMessage,
  schemaAheadWarning,
  stagingWarning
} from './notices.js'

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
  afterStep(
    deps: Deps,
    step: Step,
    result: RunResult,
    plan: Plan,
    projectSettings: ProjectSettings
  ): void {
    if (result.code === 0 && step.id === 'restore-database')
      this.report.restored = plan.database.backup
    const migrations = step.id === 'django' ? parseMigrationPlan(result.stdout) : undefined
    if (!migrations) return
    this.tellMigrations(deps, migrations, projectSettings)
    this.report.backup = parseBackup(result.stdout)
    const b = this.report.backup
    if (b) deps.info(`Database backup: ${b.path} (${b.bytes} bytes)`)
    if (parseMigrated(result.stdout)) this.report.applied = this.report.pending
  }

  /** The migration plan, said before anything is applied; warnings for what cannot go back. */
  readMigrations(deps: Deps, stdout: string, projectSettings: ProjectSettings): MigrationPlan {
    const migrations = parseMigrationPlan(stdout)
    if (!migrations) throw new Error('The migration plan could not be read from its step.')
    this.tellMigrations(deps, migrations, projectSettings)
    return migrations
  }

  private tellMigrations(
    deps: Deps,
    migrations: MigrationPlan,
    projectSettings: ProjectSettings
  ): void {
    this.report.pending = migrations.pending
    this.report.irreversible = migrations.irreversible
    deps.info(planMessage(migrations, deps.settings.dryRun))
    for (const w of migrationWarnings(deps.settings, migrations, projectSettings))
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
): Promise<{ projectSettings: ProjectSettings; migrations?: MigrationPlan } | undefined> {
  const s = deps.settings
  const steps = stagingSteps(
    s,
    stagedRelease(newRelease),
    deps.venvKey(facts),
    sentVenv(venvInput(deps, facts))
  )
  try {
    for (const step of steps.prepare)
      await deps.run(step, { stdin: step.stdin && deps.stdin(step.stdin) })
    const projectSettings = parseProjectSettings((await deps.run(steps.discover)).stdout) ?? {}
    if (!s.migrate) return { projectSettings }
    for (const step of steps.read(projectSettings)) {
      const result = await deps.run(step)
      if (step.id === 'migrations')
        return {
          projectSettings,
          migrations: watch.readMigrations(deps, result.stdout, projectSettings)
        }
    }
    return { projectSettings }
  } catch (error) {
    const warning = stagingWarning(error)
    deps.warn(warning.message, warning.title)
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
): Promise<{ projectSettings: ProjectSettings; migrations?: MigrationPlan }> {
  const s = deps.settings
  const staged =
    target === newRelease && facts.live ? await stage(deps, facts, newRelease, watch) : undefined
  if (staged)
    return {
      projectSettings: rebaseProjectSettings(
        s,
        staged.projectSettings,
        stagedRelease(newRelease),
        target
      ),
      migrations: staged.migrations
    }
  if (target === newRelease && s.migrate && !facts.live) deps.info(FIRST_DEPLOY_MIGRATIONS)
  const readable = target === newRelease ? facts.live : target
  if (!readable) return { projectSettings: {} }
  const result = await deps.run(discoverStep(s, readable), { allowFailure: true })
  const said = parseProjectSettings(result.stdout) ?? {}
  return { projectSettings: rebaseProjectSettings(s, said, readable, target) }
}
