// One host's deploy as a small state machine: locked → inspected → released → gated → switched →
// healthy, or failed / rolled back (a dry run: locked, inspected, then its plan). It executes the
// planner's steps through one executor and returns a result value; nothing else decides what
// runs. See ARCHITECTURE.md.

import { assumedSettings, planRun, type Plan, type Secure } from '../plan.js'
import type { RunResult } from '../remote/connection.js'
import type { GateResult, HostReport } from '../report/report.js'
import { parseServerFacts, type ServerFacts } from '../server/asgi.js'
import { acmeProblem, parseCertificateStep, type CertificateFacts } from '../server/acme.js'
import { GATE_FAILED } from '../server/step-script.js'
import {
  djangoFacts,
  SETTINGS_CHANGED,
  settingsRead,
  type DjangoFacts,
  type SettingsRead
} from '../server/discover.js'
import { parseErrors, parseHealth, type HealthResult } from '../server/health.js'
import type { HostFacts } from '../server/facts.js'
import { inspectStep, parseFacts } from '../server/inspect.js'
import { parseProcessStates, type ProcessState } from '../server/processes.js'
import { stayedDownMessage } from './processes.js'
import { DatabaseWatch, failureNote } from './database.js'
import { dryRun } from './dry-run.js'
import { DISK_FULL, hintFor, StepError } from '../server/cause.js'
import {
  acmeRefusedMessage,
  diskFullMessage,
  errorMessage,
  httpsFailedMessage,
  lastLines,
  tellServer,
  rollbackNote,
  SETTINGS_CHANGED_NOTE,
  sharedNotices
} from './notices.js'
import { parseDiskSpace } from '../server/release.js'
import type { Step } from '../server/step.js'
import { neverServed } from './never-served.js'
import { alreadyLiveMessage, checkAlreadyLive } from './already-live.js'

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

/** The result of one host's run: the report without the host's name and timing. */
export type HostOutcome = Omit<HostReport, 'host' | 'phaseMs' | 'durationMs'>

const output = (error: StepError) => error.result.stdout + error.result.stderr

/** A failure the flow already explained: its message is the report's. */
class Stop extends Error {
  constructor(
    message: string,
    readonly status: 'failure' | 'rolled-back' = 'failure'
  ) {
    super(message)
  }
}

export class HostDeploy {
  state: HostState = 'connected'
  /** every state the run went through, for the log and the tests */
  readonly states: HostState[] = ['connected']
  private facts?: HostFacts
  private plan?: Plan
  private readonly gates: GateResult[] = []
  private health?: HealthResult
  private diagnostics?: string
  private failedStep?: { title: string; output: string }
  private found: DjangoFacts = {}
  /** what the run learnt and did about the database */
  private readonly database = new DatabaseWatch()
  private server?: ServerFacts
  private processes?: ProcessState[]
  /** tls: auto: the certificate the certificate step reported */
  private certificate?: CertificateFacts

  constructor(private readonly deps: HostDeps) {}

  private to(state: HostState): void {
    this.state = state
    this.states.push(state)
  }

  async run(newRelease: () => string): Promise<HostOutcome> {
    const s = this.deps.settings
    try {
      // A dry run takes the lock too: it reads the new code from a staged upload (and may build
      // its venv), which must not race a deploy.
      // The host check goes with the lock, and runs as soon as it is taken.
      const check = inspectStep(s)
      const lock = await this.deps.takeLock(check)
      if (lock.staleHolder) {
        this.deps.warn(
          `Took over the deploy lock left by a run that ended without releasing it: ${lock.staleHolder}`
        )
      }
      try {
        this.to('locked')
        // Under the lock: what another deploy did while this one waited is seen.
        await this.inspect(check, lock.first)
        if (s.dryRun) return await this.dryRun(newRelease())
        const live = await checkAlreadyLive(this.deps, this.facts as HostFacts)
        if (live) return this.alreadyLive(live)
        await this.deploy(newRelease())
        return this.outcome('success', '')
      } finally {
        await lock.release()
      }
    } catch (error) {
      this.to(error instanceof Stop && error.status === 'rolled-back' ? 'rolled-back' : 'failed')
      if (error instanceof StepError && !this.failedStep)
        this.failedStep = {
          title: error.step.title,
          output: error.result.stdout + error.result.stderr
        }
      const message =
        this.explain(error) + failureNote(this.database.report, this.facts?.live, this.states)
      return this.outcome(error instanceof Stop ? error.status : 'failure', message)
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
    return errorMessage(error, unswitched ? (this.facts?.live ?? '') : undefined)
  }

  private async inspect(check: Step, sent?: Promise<RunResult>): Promise<void> {
    const result = sent ? await this.deps.receive(check, sent) : await this.deps.run(check)
    this.facts = parseFacts(result.stdout)
    this.to('inspected')
    const { certificate, renewalProblem } = this.facts
    if (renewalProblem)
      this.deps.warn(
        `The last renewal of the certificate on the host failed${certificate ? ` (${certificate.daysLeft} days left)` : ''}: ${renewalProblem}`,
        'Certificate renewal failed'
      )
  }

  /** The live release is this deploy, and answers: the run changed nothing. */
  private alreadyLive(health: HealthResult): HostOutcome {
    const live = (this.facts as HostFacts).live
    this.health = health
    this.to('healthy')
    return { ...this.outcome('success', alreadyLiveMessage(live)), release: live }
  }

  private outcome(status: HostOutcome['status'], message: string): HostOutcome {
    return {
      release: this.plan?.target ?? '',
      previousRelease: this.facts?.live ?? '',
      status,
      gates: this.gates,
      message,
      httpStatus: this.health?.status,
      healthDurationMs: this.health?.durationMs,
      failedStep: this.failedStep,
      diagnostics: this.diagnostics,
      files: this.plan?.files,
      database: this.database.outcome(),
      server: this.server,
      processes: this.processes,
      processFiles: this.plan?.processes?.files.units.flatMap((u) => u.files),
      certificate: this.certificateReport()
    }
  }

  private certificateReport(): HostOutcome['certificate'] {
    const certificate = this.certificate ?? this.facts?.certificate
    const renewalProblem = this.facts?.renewalProblem
    if (!certificate && !renewalProblem) return undefined
    return { daysLeft: -1, names: [], ...certificate, renewalProblem }
  }

  /**
   * Plans with what the project's settings say, once the release to read them from exists
   * (`assumed`: what the live release's said, which the Django process then checks); the run's
   * plan from then on.
   */
  private planWith(
    newRelease: string,
    found: DjangoFacts,
    assumed = false,
    read?: SettingsRead
  ): Plan {
    const facts = this.facts as HostFacts
    this.found = found
    return (this.plan = planRun({
      settings: this.deps.settings,
      facts,
      newRelease,
      venvKey: this.deps.venvKey(facts),
      requirements: this.deps.requirements(),
      found,
      settingsRead: read,
      assumed,
      singletons: this.deps.runsSingletons ?? this.deps.isFirst,
      deployKey: this.deps.deployKey(facts)
    }))
  }

  /** What the project's settings say: the live release's when recorded, else read in the release. */
  private async readSettings(newRelease: string, discover: Step): Promise<Plan> {
    const assumed = assumedSettings(this.deps.settings, this.facts as HostFacts, newRelease)
    const read = assumed ?? settingsRead((await this.deps.run(discover)).stdout)
    return this.planWith(newRelease, read ? djangoFacts(read) : {}, !!assumed, read)
  }

  private async deploy(newRelease: string): Promise<void> {
    let plan = this.planWith(newRelease, {})
    // The release is this run's once its upload went through (an upload refused because the
    // release exists is another run's release).
    let uploaded = false
    try {
      for (const step of plan.release) {
        await this.deps.run(step, { stdin: step.stdin && this.deps.stdin(step.stdin) })
        if (step.id === 'upload') uploaded = true
      }
      plan = await this.readSettings(newRelease, plan.discover as Step)
      this.to('released')
      this.database.noticeRollback(this.deps, plan)
      const changed = await this.build(plan)
      if (changed) {
        this.deps.info(SETTINGS_CHANGED_NOTE)
        plan = this.planWith(newRelease, djangoFacts(changed), false, changed)
        await this.build(plan)
      }
      // Said once the settings are known to say it (the Django process checked them).
      for (const n of sharedNotices(this.deps.settings, plan, this.found))
        this.deps.notice(n.message, n.title)
      if (plan.certificate?.beforeGates) await this.obtainCertificate(plan)
      await this.runGates(plan)
    } catch (error) {
      if (error instanceof StepError && plan.removePartial && DISK_FULL.test(output(error)))
        throw await this.diskFull(error, plan.removePartial)
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
      await this.obtainCertificate(plan)
      if (plan.secure) await this.secure(plan.secure)
    }
    for (const step of plan.finish) {
      // Old releases that could not be removed, or an old instance slow to stop, are no reason
      // to call a healthy deploy failed.
      const result = await this.deps.run(step, {
        allowFailure: step.id === 'prune' || step.id === 'drain'
      })
      if (result.code !== 0)
        this.deps.warn(`${step.title} failed: ${lastLines(result)}`, 'Clean-up failed')
    }
  }

  /** A dry run (flow/dry-run.ts), planned as the deploy would plan. */
  private async dryRun(id: string): Promise<HostOutcome> {
    const planWith = (found: DjangoFacts, assumed: boolean) => this.planWith(id, found, assumed)
    const dry = await dryRun(this.deps, this.facts as HostFacts, id, this.database, planWith)
    const said = this.outcome('success', 'dry run: nothing was changed')
    return { ...said, plan: dry.titles, diff: dry.diff }
  }

  /** A step failed on a full disk: the partial release goes, and the error says how full. */
  private async diskFull(error: StepError, removePartial: Step): Promise<Stop> {
    this.failedStep = { title: error.step.title, output: output(error) }
    const removed = await this.deps.run(removePartial, { allowFailure: true })
    const message = diskFullMessage({
      step: error.step.title,
      cause: error.cause,
      deployPath: this.deps.settings.deployPath,
      live: this.facts?.live,
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
  private async build(plan: Plan): Promise<SettingsRead | undefined> {
    const { rollout, isFirst } = this.deps
    if (plan.build.length === 0 && plan.mode !== 'deploy') {
      if (isFirst) rollout.migrated()
      return undefined
    }
    if (!isFirst) {
      this.deps.info('Waiting for the first host to finish its migrations')
      await rollout.firstMigration
    }
    try {
      for (const step of plan.build) {
        // What the Django process did to the database is read even when it then failed.
        const result = await this.deps.run(step, { allowFailure: true })
        // The settings the plan assumed (it has no step to read them) say other things now.
        const now = step.id === 'django' && !plan.discover && settingsRead(result.stdout)
        if (now && result.code === SETTINGS_CHANGED) return now
        if (step.id === 'asgi-import' && result.code === 0)
          tellServer(this.deps, (this.server = parseServerFacts(result.stdout)))
        this.database.afterStep(this.deps, step, result, plan, this.found)
        if (result.code !== 0) throw new StepError(step, result)
      }
      if (isFirst) rollout.migrated()
      return undefined
    } catch (error) {
      if (isFirst)
        rollout.migrated(new Error(`stopped: the first host could not run its Django steps`))
      throw error
    }
  }

  private async runGates(
    plan: Pick<Plan, 'gates'>,
    done = 'The previous files are back in place and nothing was restarted.'
  ): Promise<void> {
    for (const step of plan.gates) {
      const gate: GateResult = { name: step.title, passed: false, output: '' }
      this.gates.push(gate)
      const result = await this.deps.run(step, { allowFailure: true })
      gate.output = (result.stdout + result.stderr).trim()
      if (result.code === GATE_FAILED) {
        this.failedStep = { title: step.title, output: result.stdout + result.stderr }
        throw new Stop(`Gate failed: ${step.title}. ${done}\n${result.stderr.trim()}`)
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
    await this.startAndCheck(plan)
    try {
      await this.deps.run(plan.switch)
      this.to('switched')
      this.health = parseHealth((await this.deps.run(plan.health, { allowFailure: true })).stdout)
    } catch (error) {
      this.health = { healthy: false, status: 0, durationMs: 0, detail: (error as Error).message }
    }
    const health = this.health
    const publicProblem = health.healthy && s.healthUrl ? await this.deps.checkPublicUrl() : ''
    if (health.healthy && !publicProblem) {
      if (!plan.processes) return
      // The web release is healthy: now the processes move to it, and must stay up.
      const restart = await this.deps.run(plan.processes.restart, { allowFailure: true })
      this.processes = parseProcessStates(restart.stdout)
      if (restart.code === 0) return
      return this.processesFailed(plan, restart)
    }
    this.diagnostics = (await this.deps.run(plan.diagnostics, { allowFailure: true })).stdout
    const cause =
      publicProblem ||
      `the health check got ${health.status || 'no answer'}${health.detail ? ` (${health.detail})` : ''} from ${s.healthPath}` +
        // A refusal (DisallowedHost, a redirect to HTTPS) ends the check at once.
        (health.durationMs >= s.healthTimeoutMs ? ` within ${s.healthTimeoutMs / 1000} s` : '')
    const rolledBack = await this.rollBack(plan)
    const errors = parseErrors(this.diagnostics)
    const hint = hintFor(`${cause}\n${errors.join('\n')}`)
    // The exception that stopped the app first (the last one the journal has), then what
    // happened, then what to do.
    throw new Stop(
      (errors.length ? `${errors[errors.length - 1]}\n` : '') +
        `${plan.target} was not healthy: ${cause}.${rollbackNote(rolledBack, plan.previous)}` +
        (hint ? `\n${hint}` : '') +
        (errors.length > 1 ? `\nThe app said: ${errors.join('\n')}` : ''),
      rolledBack ? 'rolled-back' : 'failure'
    )
  }

  /**
   * A process did not stay up on a healthy web release: the whole release goes back, web and
   * processes, and the message leads with the process's error (its journal is the step's output).
   */
  private async processesFailed(plan: Plan, restart: RunResult): Promise<never> {
    const output = restart.stdout + restart.stderr
    this.failedStep = { title: plan.processes?.restart.title ?? '', output }
    const rolledBack = await this.rollBack(plan, true)
    const done = rollbackNote(rolledBack, plan.previous) + (rolledBack ? ' The processes too.' : '')
    throw new Stop(
      stayedDownMessage(restart.stderr, plan.target, done),
      rolledBack ? 'rolled-back' : 'failure'
    )
  }

  /** A release that fails its own health check never serves: nothing is switched. */
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
    if (health.healthy) return
    this.health = health
    this.diagnostics = (await this.deps.run(plan.diagnostics, { allowFailure: true })).stdout
    if (plan.markFailed) await this.deps.run(plan.markFailed, { allowFailure: true })
    await this.deps.run(plan.abandon, { allowFailure: true })
    const { message, status } = neverServed(plan, health, this.deps.settings, this.diagnostics)
    throw new Stop(message, status)
  }

  /** tls: auto: certbot asks the ACME server; a refusal stops the run with the server's words. */
  private async obtainCertificate(plan: Plan): Promise<void> {
    const step = plan.certificate?.step as Step
    const result = await this.deps.run(step, { allowFailure: true })
    if (result.code === 0) {
      this.certificate = parseCertificateStep(result.stdout)
      return
    }
    const output = result.stdout + result.stderr
    this.failedStep = { title: step.title, output }
    throw new Stop(
      acmeRefusedMessage({
        names: this.deps.settings.serverNames.join(', '),
        said: acmeProblem(output) || `certbot exited with ${result.code}`,
        switched: this.states.includes('switched'),
        hadCertificate: !!this.facts?.certificate,
        previous: plan.previous,
        target: plan.target
      })
    )
  }

  /** The first certificate is there: the HTTPS site, behind its gate, or the HTTP site back. */
  private async secure(secure: Secure): Promise<void> {
    await this.runGates({ gates: [secure.gate] }, 'The plain HTTP site is back in place.')
    await this.deps.run(secure.reload)
    const health = parseHealth((await this.deps.run(secure.health, { allowFailure: true })).stdout)
    if (health.healthy) {
      this.health = health
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
      this.processes = parseProcessStates(result.stdout)
    }
    if (!plan.previous) return false
    return parseHealth((await this.deps.run(plan.health, { allowFailure: true })).stdout).healthy
  }
}
