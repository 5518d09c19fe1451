// One host's deploy as a small state machine: locked → inspected → released → gated → switched →
// healthy, or failed / rolled back (a dry run: locked, inspected, then its plan). It executes the
// planner's steps through one executor and returns a result value; nothing else decides what
// runs. See ARCHITECTURE.md.

import { assumedSettings, planRun, type Plan, type Secure } from '../plan.js'
import type { RunResult } from '../remote/connection.js'
import { projectModules, StepError } from '../server/cause.js'
import type { GateResult, HostOutcome } from '../report/report.js'
import { parseServerFacts } from '../server/asgi.js'
import { acmeProblem, parseCertificateStep } from '../server/acme.js'
import { GATE_FAILED } from '../server/step-script.js'
import { parseProjectSettings, SETTINGS_CHANGED, type ProjectSettings } from '../server/discover.js'
import { parseHealth, type HealthResult } from '../server/health.js'
import type { HostFacts } from '../server/facts.js'
import { inspectStep, parseFacts } from '../server/inspect.js'
import { parseProcessStates } from '../server/processes.js'

import { dryRun } from './dry-run.js'
import { DISK_FULL } from '../server/cause.js'
import {
  acmeRefusedMessage,
  alreadyLiveMessage,
  cleanupWarning,
  diskFullMessage,
  DRY_RUN_DONE,
  errorMessage,
  failureNote,
  GATE_DONE,
  gateFailedMessage,
  healthCause,
  HTTPS_GATE_DONE,
  httpsFailedMessage,
  MAINTENANCE_KEPT,
  maintenanceWindowClosed,
  maintenanceWindowOpened,
  neverServedNote,
  notHealthyMessage,
  renewalFailedWarning,
  tellServer,
  rollbackNote,
  SETTINGS_CHANGED_NOTE,
  sharedNotices,
  staleLockWarning,
  stayedDownMessage,
  WAITING_FOR_FIRST_HOST
} from './notices.js'
import { parseDiskSpace } from '../server/release.js'
import { lockResolved, venvInput } from './dependencies.js'
import { PENDING_STEP } from '../server/django.js'
import { parseMigrationPlan } from '../server/migrations.js'
import type { Step } from '../server/step.js'
import { checkAlreadyLive } from './already-live.js'
import { applyPreviewLimits } from './previews.js'
import { RunRecord } from './record.js'
import { provisionHost } from './provision.js'
import { discoverSettings, healthPathFails, stopOnProblems } from './first-run.js'
import { Stop } from './stop.js'

export type HostState =
  | 'connected'
  | 'locked'
  | 'inspected'
  | 'released'
  | 'gated'
  | 'switched'
  | 'healthy'
  | 'rolled-back'
  | 'failed'

import type { HostDeps } from './deps.js'

export type { HostOutcome }

/** the project's own packages, which a hint never says to install */
const own = (deps: HostDeps) => projectModules(deps.settings)

const output = (error: StepError) => error.result.stdout + error.result.stderr

export class HostDeploy {
  state: HostState = 'connected'
  /** every state the run went through, for the log and the tests */
  readonly states: HostState[] = ['connected']
  /** everything the host's report says, recorded as the run learns it */
  private readonly record = new RunRecord()
  private projectSettings: ProjectSettings = {}
  /** maintenance-during-migrations: the step that ends the maintenance this run put up */
  private window?: Step
  /** what the message says of that maintenance when the run failed */
  private windowNote = ''

  constructor(private readonly deps: HostDeps) {}

  private to(state: HostState): void {
    this.state = state
    this.states.push(state)
  }

  async run(newRelease: () => string): Promise<HostOutcome> {
    const s = this.deps.settings
    try {
      // A dry run takes the lock too: it reads the new code from a staged upload (and may build
      // its venv), which must not race a deploy. The host check goes with the lock, run at once.
      const check = inspectStep(s)
      const lock = await this.deps.takeLock(check)
      if (lock.staleHolder) this.deps.warn(staleLockWarning(lock.staleHolder))
      // How the run ended, for the audit line the lock's holder appends as it lets go.
      let ended = 'success'
      try {
        this.to('locked')
        // Under the lock: what another deploy did while this one waited is seen.
        const facts = await applyPreviewLimits(this.deps, await this.inspect(check, lock.first))
        if (s.dryRun) return await this.dryRun(facts, newRelease())
        const live = await checkAlreadyLive(this.deps, facts)
        if (live) return this.alreadyLive(facts.live, live)
        await this.deploy(facts, newRelease())
        return this.record.outcome('success', facts.maintenance ? MAINTENANCE_KEPT : '')
      } catch (error) {
        ended = error instanceof Stop ? error.status : 'failure'
        await this.closeWindow(true)
        throw error
      } finally {
        await lock.release(ended)
      }
    } catch (error) {
      this.to(error instanceof Stop && error.status === 'rolled-back' ? 'rolled-back' : 'failed')
      const record = this.record
      if (error instanceof StepError && !record.failedStep)
        record.failedStep = { title: error.step.title, output: output(error) }
      const note = failureNote(record.database.report, record.facts?.live, this.states)
      const message = this.explain(error) + note + this.windowNote
      return record.outcome(error instanceof Stop ? error.status : 'failure', message)
    } finally {
      // The other hosts must never wait on a first host that stopped before its migrations.
      if (this.deps.isFirst)
        this.deps.rollout.migrated(
          this.state === 'healthy' || this.state === 'inspected'
            ? undefined
            : new Error('stopped: the first host failed')
        )
    }
  }

  /**
   * The message a person reads first: the cause, what the action did about it, what to do next
   * (a step's last lines are in the summary, folded).
   */
  private explain(error: unknown): string {
    if (error instanceof Stop) return error.message
    const unswitched = this.states.includes('locked') && !this.states.includes('switched')
    return errorMessage(error, unswitched ? (this.record.facts?.live ?? '') : undefined)
  }

  /**
   * What the host has and serves: the run from here on is planned with it. provision,
   * apt-packages: what it lacks of them installed first (a dry run lists them).
   */
  private async inspect(check: Step, sent?: Promise<RunResult>): Promise<HostFacts> {
    const result = sent ? await this.deps.receive(check, sent) : await this.deps.run(check)
    const facts = await lockResolved(this.deps, (this.record.facts = parseFacts(result.stdout)))
    this.to('inspected')
    if (facts.renewalProblem) {
      const warning = renewalFailedWarning(facts.renewalProblem, facts.certificate)
      this.deps.warn(warning.message, warning.title)
    }
    return provisionHost(this.deps, this.record, check, facts)
  }

  /** The live release is this deploy, and answers: the run changed nothing. */
  private alreadyLive(live: string, health: HealthResult): HostOutcome {
    this.record.health = health
    this.record.alreadyLive = live
    this.to('healthy')
    return this.record.outcome('success', alreadyLiveMessage(live))
  }

  /**
   * Plans with what the project's settings say, once the release to read them from exists
   * (`assumed`: what the live release's said, which the Django process then checks); the run's
   * plan from then on.
   */
  private planWith(
    facts: HostFacts,
    newRelease: string,
    projectSettings: ProjectSettings,
    assumed = false
  ): Plan {
    this.projectSettings = projectSettings
    return (this.record.plan = planRun({
      settings: this.deps.settings,
      facts,
      newRelease,
      ...venvInput(this.deps, facts),
      projectSettings,
      assumed,
      singletons: this.deps.runsSingletons ?? this.deps.isFirst,
      firstHost: this.deps.isFirst,
      deployKey: this.deps.deployKey(facts)
    }))
  }

  /** What the project's settings say: the live release's when recorded, else read in the release. */
  private async readSettings(facts: HostFacts, newRelease: string, first: Plan): Promise<Plan> {
    const assumed = assumedSettings(this.deps.settings, facts, newRelease)
    // The first plan assumes nothing: it has the step that reads them.
    const read =
      assumed ??
      (first.discover && (await discoverSettings(this.deps, this.record, first.discover)))
    return this.planWith(facts, newRelease, read ?? {}, !!assumed)
  }

  private async deploy(facts: HostFacts, newRelease: string): Promise<void> {
    let plan = this.planWith(facts, newRelease, {})
    // The release is this run's once its upload went through (an upload refused because the
    // release exists is another run's release).
    let uploaded = false
    try {
      for (const step of plan.release) {
        await this.deps.run(step, { stdin: step.stdin && this.deps.stdin(step.stdin) })
        if (step.id === 'upload') uploaded = true
      }
      plan = await this.readSettings(facts, newRelease, plan)
      this.to('released')
      this.record.database.noticeRollback(this.deps, plan)
      const changed = await this.build(plan)
      if (changed) {
        this.deps.info(SETTINGS_CHANGED_NOTE)
        plan = this.planWith(facts, newRelease, changed, false)
        await this.build(plan)
      }
      // Said once the settings are known to say it (the Django process checked them).
      for (const n of sharedNotices(this.deps.settings, plan, this.projectSettings))
        this.deps.notice(n.message, n.title)
      if (plan.certificate?.beforeGates)
        await this.obtainCertificate(plan, plan.certificate.step, !!facts.certificate)
      await this.runGates(plan)
    } catch (error) {
      if (error instanceof StepError && plan.removePartial && DISK_FULL.test(output(error)))
        throw await this.diskFull(error, plan.removePartial, plan.previous)
      // Nothing was switched; the new release stays for inspection, never chosen by a rollback:
      // nor one whose venv could not be built, or whose settings could not be read or were refused.
      if (uploaded && plan.mode === 'deploy' && plan.markFailed)
        await this.deps.run(plan.markFailed, { allowFailure: true })
      throw error
    }
    this.to('gated')
    await this.switchAndCheck(plan)
    this.to('healthy')
    if (plan.certificate && !plan.certificate.beforeGates) {
      await this.obtainCertificate(plan, plan.certificate.step, !!facts.certificate)
      if (plan.secure) await this.secure(plan.secure)
    }
    for (const step of plan.finish) {
      // Old releases that could not be removed, or an old instance slow to stop, are no reason
      // to call a healthy deploy failed.
      const result = await this.deps.run(step, {
        allowFailure: step.id === 'prune' || step.id === 'drain'
      })
      if (result.code !== 0) {
        const warning = cleanupWarning(step.title, result)
        this.deps.warn(warning.message, warning.title)
      }
    }
  }

  /** A dry run (flow/dry-run.ts), planned as the deploy would plan. */
  private async dryRun(facts: HostFacts, id: string): Promise<HostOutcome> {
    const planWith = (projectSettings: ProjectSettings, assumed: boolean) =>
      this.planWith(facts, id, projectSettings, assumed)
    this.record.dryRun = await dryRun(this.deps, facts, id, this.record.database, planWith)
    return this.record.outcome('success', DRY_RUN_DONE)
  }

  /** A step failed on a full disk: the partial release goes, and the error says how full. */
  private async diskFull(error: StepError, removePartial: Step, live: string): Promise<Stop> {
    this.record.failedStep = { title: error.step.title, output: output(error) }
    const removed = await this.deps.run(removePartial, { allowFailure: true })
    const message = diskFullMessage({
      step: error.step.title,
      cause: error.cause,
      deployPath: this.deps.settings.deployPath,
      live,
      ...parseDiskSpace(removed.stdout)
    })
    return new Stop(message, 'failure')
  }

  /**
   * Migrations never run on two hosts at once: the first host runs its Django steps before any
   * other host starts its own (with a shared database theirs are then no-ops). Returns what the
   * settings say when the Django process found them other than the plan assumed (it changed
   * nothing then).
   */
  private async build(plan: Plan): Promise<ProjectSettings | undefined> {
    const { rollout, isFirst } = this.deps
    if (plan.build.length === 0 && plan.mode !== 'deploy') {
      if (isFirst) rollout.migrated()
      return undefined
    }
    if (!isFirst) {
      this.deps.info(WAITING_FOR_FIRST_HOST)
      await rollout.firstMigration
    }
    try {
      for (const step of plan.build) {
        // What the Django process did to the database is read even when it then failed.
        const result = await this.deps.run(step, { allowFailure: true })
        if (step.id === 'django' && !plan.discover)
          stopOnProblems(this.deps, this.record, step, result)
        // The settings the plan assumed (it has no step to read them) say other things now.
        const now = step.id === 'django' && !plan.discover && parseProjectSettings(result.stdout)
        if (now && result.code === SETTINGS_CHANGED) return now
        if (step.id === 'asgi-import' && result.code === 0)
          tellServer(this.deps, (this.record.server = parseServerFacts(result.stdout)))
        this.record.database.afterStep(this.deps, step, result, plan, this.projectSettings)
        if (result.code !== 0) throw new StepError(step, result, own(this.deps))
        if (step.id === PENDING_STEP) await this.openWindow(plan, result.stdout)
      }
      if (isFirst) rollout.migrated()
      return undefined
    } catch (error) {
      if (isFirst)
        rollout.migrated(new Error(`stopped: the first host could not run its Django steps`))
      throw error
    }
  }

  private async runGates(plan: Pick<Plan, 'gates'>, done = GATE_DONE): Promise<void> {
    for (const step of plan.gates) {
      const gate: GateResult = { name: step.title, passed: false, output: '' }
      this.record.gates.push(gate)
      const result = await this.deps.run(step, { allowFailure: true })
      gate.output = (result.stdout + result.stderr).trim()
      if (result.code === GATE_FAILED) {
        this.record.failedStep = { title: step.title, output: result.stdout + result.stderr }
        throw new Stop(gateFailedMessage(step.title, done, result.stderr))
      }
      if (result.code !== 0) throw new StepError(step, result)
      gate.passed = true
    }
  }

  /**
   * The new release starts beside the live one and must answer on its own socket before it gets
   * any traffic; from the switch on, any failure moves traffic back to the old instance.
   */
  private async switchAndCheck(plan: Plan): Promise<void> {
    const s = this.deps.settings
    const record = this.record
    await this.startAndCheck(plan)
    let health: HealthResult
    try {
      await this.deps.run(plan.switch)
      this.to('switched')
      await this.closeWindow()
      health = parseHealth((await this.deps.run(plan.health, { allowFailure: true })).stdout)
    } catch (error) {
      health = { healthy: false, status: 0, durationMs: 0, detail: (error as Error).message }
    }
    record.health = health
    // In maintenance the public address answers 503 by design.
    const asked = health.healthy && s.healthUrl && !record.facts?.maintenance
    const publicProblem = asked ? await this.deps.checkPublicUrl() : ''
    if (health.healthy && !publicProblem) {
      if (!plan.processes) return
      // The web release is healthy: now the processes move to it, and must stay up.
      const restart = await this.deps.run(plan.processes.restart, { allowFailure: true })
      record.processes = parseProcessStates(restart.stdout)
      if (restart.code === 0) return
      return this.processesFailed(plan, restart)
    }
    const diagnostics = (await this.deps.run(plan.diagnostics, { allowFailure: true })).stdout
    record.diagnostics = diagnostics
    const cause = publicProblem || healthCause(s, health)
    const rolledBack = await this.rollBack(plan)
    const done = rollbackNote(rolledBack, plan.previous)
    throw new Stop(
      notHealthyMessage(plan.target, cause, done, diagnostics, own(this.deps)),
      rolledBack ? 'rolled-back' : 'failure'
    )
  }

  /**
   * maintenance-during-migrations: the migration plan read before the Django process has some to
   * apply, so the site shows the maintenance page from now until the switch (or the run's end).
   */
  private async openWindow(plan: Plan, stdout: string): Promise<void> {
    const pending = parseMigrationPlan(stdout)?.pending ?? []
    if (!plan.maintenance || pending.length === 0 || this.window) return
    await this.deps.run(plan.maintenance.on)
    this.window = plan.maintenance.off
    this.deps.info(maintenanceWindowOpened(pending))
  }

  /** The maintenance this run put up comes down: at the switch, or when the run fails. */
  private async closeWindow(failed = false): Promise<void> {
    const off = this.window
    if (!off) return
    this.window = undefined
    const result = await this.deps.run(off, { allowFailure: true })
    if (failed) this.windowNote = maintenanceWindowClosed(result.code === 0)
    else if (result.code !== 0) {
      const warning = cleanupWarning(off.title, result)
      this.deps.warn(warning.message, warning.title)
    }
  }

  /**
   * A process did not stay up on a healthy web release: the whole release goes back, web and
   * processes, and the message leads with the process's error (its journal is the step's output).
   */
  private async processesFailed(plan: Plan, restart: RunResult): Promise<never> {
    const output = restart.stdout + restart.stderr
    this.record.failedStep = { title: plan.processes?.restart.title ?? '', output }
    const rolledBack = await this.rollBack(plan, true)
    const done = rollbackNote(rolledBack, plan.previous) + (rolledBack ? ' The processes too.' : '')
    throw new Stop(
      stayedDownMessage(restart.stderr, plan.target, done, own(this.deps)),
      rolledBack ? 'rolled-back' : 'failure'
    )
  }

  /**
   * A release that fails its own health check, on its socket before any traffic reached it,
   * never serves: nothing is switched.
   */
  private async startAndCheck(plan: Plan): Promise<void> {
    let health: HealthResult
    try {
      await this.deps.run(plan.start)
      health = parseHealth(
        (await this.deps.run(plan.instanceHealth, { allowFailure: true })).stdout
      )
    } catch (error) {
      health = { healthy: false, status: 0, durationMs: 0, detail: (error as Error).message }
    }
    // A health path that does not exist fails a first deploy, and is said on a later one.
    const missing = healthPathFails(this.deps, health, plan.previous)
    if (health.healthy && !missing) return
    this.record.health = health
    const diagnostics = (await this.deps.run(plan.diagnostics, { allowFailure: true })).stdout
    this.record.diagnostics = diagnostics
    if (plan.markFailed) await this.deps.run(plan.markFailed, { allowFailure: true })
    await this.deps.run(plan.abandon, { allowFailure: true })
    const cause = missing?.cause ?? healthCause(this.deps.settings, health, ' on its own socket')
    const done = neverServedNote(plan.previous) + (missing ? `\n${missing.fix}` : '')
    throw new Stop(
      notHealthyMessage(plan.target, cause, done, diagnostics, own(this.deps)),
      // The previous release serves, as after a rollback.
      plan.previous ? 'rolled-back' : 'failure'
    )
  }

  /** tls: auto: certbot asks the ACME server; a refusal stops the run with the server's words. */
  private async obtainCertificate(plan: Plan, step: Step, hadCertificate: boolean): Promise<void> {
    const result = await this.deps.run(step, { allowFailure: true })
    if (result.code === 0) {
      this.record.certificate = parseCertificateStep(result.stdout)
      return
    }
    const output = result.stdout + result.stderr
    this.record.failedStep = { title: step.title, output }
    throw new Stop(
      acmeRefusedMessage({
        names: this.deps.settings.serverNames.join(', '),
        said: acmeProblem(output) || `certbot exited with ${result.code}`,
        switched: this.states.includes('switched'),
        hadCertificate,
        previous: plan.previous,
        target: plan.target
      })
    )
  }

  /** The first certificate is there: the HTTPS site, behind its gate, or the HTTP site back. */
  private async secure(secure: Secure): Promise<void> {
    await this.runGates({ gates: [secure.gate] }, HTTPS_GATE_DONE)
    await this.deps.run(secure.reload)
    const health = parseHealth((await this.deps.run(secure.health, { allowFailure: true })).stdout)
    if (health.healthy) {
      this.record.health = health
      return
    }
    await this.deps.run(secure.undo, { allowFailure: true })
    throw new Stop(httpsFailedMessage(health))
  }

  /** Puts the previous release back; true when it answers healthy again. */
  private async rollBack(plan: Plan, processesRestarted = false): Promise<boolean> {
    if (plan.markFailed) await this.deps.run(plan.markFailed, { allowFailure: true })
    await this.deps.run(plan.rollback, { allowFailure: true })
    // Before their restart the processes' new files are not in place: nothing to put back.
    if (plan.processes && processesRestarted) {
      const result = await this.deps.run(plan.processes.rollback, { allowFailure: true })
      this.record.processes = parseProcessStates(result.stdout)
    }
    if (!plan.previous) return false
    return parseHealth((await this.deps.run(plan.health, { allowFailure: true })).stdout).healthy
  }
}
