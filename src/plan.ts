// The planner: one pure function from the settings and what the host reported to the steps of a
// run, for every mode. The deploy executes this plan (flow/host.ts) and the dry run prints it,
// so what a dry run shows is what a deploy does.

import { certificateStep, needsCertificate, renewalTimerStep, servesTls } from './server/acme.js'
import {
  configFiles,
  installConfigStep,
  verifyUnitsStep,
  type ConfigFiles
} from './server/config.js'
import { discoverStep, rebaseProjectSettings, type ProjectSettings } from './server/discover.js'
import { appWritable, djangoSteps, hookStep } from './server/django.js'
import { diagnosticsStep, instanceHealthStep, siteHealthStep } from './server/health.js'
import type { HostFacts } from './server/facts.js'
import { idleInstance, layout, type Instance } from './server/layout.js'
import { projectFolderProblem, servedPaths } from './server/settings-folders.js'
import { maintenanceOffStep, maintenanceOnStep } from './server/maintenance.js'
import { backupOf, migrationPlanStep, removeStagedStep, restoreStep } from './server/migrations.js'
import { sharedPaths, shareStep } from './server/shared.js'
import {
  dotenvStep,
  markFailedStep,
  removePartialStep,
  prepareStep,
  pruneStep,
  earlyVenv,
  type SentInstall,
  uploadStep,
  venvStep,
  type EarlyVenv
} from './server/release.js'
import {
  checkCalendarsStep,
  hasProcesses,
  processFiles,
  readProcessesStep,
  restartProcessesStep,
  rollbackProcessesStep,
  verifyProcessesStep,
  type ProcessFiles
} from './server/processes.js'
import { foldedIntoFirst, type Step } from './server/step.js'
import {
  abandonStep,
  drainStep,
  reloadNginxStep,
  rollbackStep,
  startStep,
  switchStep,
  undoSiteStep
} from './server/switch.js'
import type { SitePaths } from './render/nginx.js'
import type { Settings } from './settings.js'
import { previewDatabaseStep } from './server/preview-database.js'
import type { RequirementsFile } from './workspace.js'

/**
 * deploy: a new release from `source`; configs: `source: none`, the live release with new
 * configuration; rollback: the newest good release before the live one.
 */
export type Mode = 'deploy' | 'configs' | 'rollback'

export interface PlanInput {
  settings: Settings
  facts: HostFacts
  /** the run's release id, used when the mode uploads one */
  newRelease: string
  /** the key of the venv for the source's requirements (read on the runner) */
  venvKey: string | null
  /** the requirements files the key covers: sent ahead, the venv is built beside the upload */
  requirements?: RequirementsFile[] | null
  /** a lock's list (resolved for this host): `requirements` are its files, the venv built from them */
  install?: SentInstall
  /**
   * what the project's settings say (the discover step, or the live release's record); {}
   * before; what was printed is recorded once the deploy went well
   */
  projectSettings: ProjectSettings
  /** `projectSettings` is the live release's record (assumedSettings): the Django process checks it first */
  assumed?: boolean
  /** this host runs the processes and schedules that must run once (the singleton host) */
  singletons?: boolean
  /** this host runs its Django steps first (the others wait for it): it makes a preview's database */
  firstHost?: boolean
  /** what this run deploys, as one hash (deploy-key.ts); recorded once the deploy went well */
  deployKey?: string | null
}

/** The background processes and schedules of the run (server/processes.ts). */
export interface ProcessPlan {
  files: ProcessFiles
  /**
   * after the web release is healthy: the new unit files in place (nothing new is where systemd
   * reads it before), the processes restarted and checked to stay up, the old ones removed
   */
  restart: Step
  /** the processes were restarted on the failed release: their files and the previous release back */
  rollback: Step
  /** the dry run's read of the live unit files */
  read: Step
}

/** A rollback and the database: the schema it leaves ahead, and the backup that takes it back. */
export interface DatabasePlan {
  /** releases newer than the target whose deploys applied migrations, oldest first */
  ahead: string[]
  /** the backup taken before the first of them: the schema the target had */
  backup?: string
  /** restore-database: the backup is restored before the switch */
  restore: boolean
}

export interface Plan {
  mode: Mode
  /** the release this run puts live */
  target: string
  /** the release live before the run ('' on a first deploy) */
  previous: string
  files: ConfigFiles
  /** before the project's settings are read: layout, .env, upload, venv */
  release: Step[]
  /** a lock's list for this host: where it came from and the packages the venv holds */
  dependencies?: Pick<SentInstall, 'summary' | 'packages' | 'changes'>
  /** none when the plan assumes the live release's settings (the Django process checks them) */
  discover?: Step
  /** the Django steps on a new release; none when the release is already built */
  build: Step[]
  gates: Step[]
  /** the instance the target starts in, beside the live one */
  instance: Instance
  /** the target started in the idle instance */
  start: Step
  /** the idle instance checked on its own socket, before it gets any traffic */
  instanceHealth: Step
  /** when that check fails: the instance stops, the previous files go back */
  abandon: Step
  /** traffic moved to the new instance */
  switch: Step
  /** through nginx, after the switch */
  health: Step
  /** after a healthy switch: the old instance drained and stopped, post-deploy, pruning */
  finish: Step[]
  /** when the run fails before the switch: the new release is marked, never chosen again */
  markFailed?: Step
  /** when a step before the switch found the disk full: the new release is removed */
  removePartial?: Step
  /** when the switched release is unhealthy: traffic back to the old instance */
  rollback: Step
  diagnostics: Step
  /** none when the run has no process to run or remove */
  processes?: ProcessPlan
  database: DatabasePlan
  /**
   * tls: auto, when the host's certificate is missing, lacks a name or nears its end: certbot,
   * before the gates when the live site answers the challenges, else once the new site does.
   */
  certificate?: { step: Step; beforeGates: boolean }
  /** tls: auto on a host without a certificate: once one is issued, the HTTPS site goes live */
  secure?: Secure
  /**
   * maintenance-during-migrations: when the Django steps' first read of the migration plan
   * (PENDING_STEP) has some to apply, the site goes into maintenance until the switch
   */
  maintenance?: { on: Step; off: Step }
}

/** The HTTPS site after the first certificate: gated, loaded, checked, or the HTTP site back. */
export interface Secure {
  files: ConfigFiles
  gate: Step
  reload: Step
  health: Step
  undo: Step
}

/** A run that cannot be planned (nothing to roll back to): said before anything changed. */
export class PlanError extends Error {
  override name = 'PlanError'
}

export function modeOf(s: Settings): Mode {
  return s.rollback ? 'rollback' : s.source === null ? 'configs' : 'deploy'
}

/** The release a mode puts live. */
export function targetRelease(s: Settings, facts: HostFacts, newRelease: string): string {
  const mode = modeOf(s)
  if (mode === 'rollback') {
    // Only a release that went live: not one a killed run left half-built. (Hosts deployed
    // before releases were marked so have no marks: there, any release not marked failed.)
    const candidates = facts.releases.filter(
      (r) =>
        r < facts.live &&
        !facts.failed.includes(r) &&
        (facts.served.length === 0 || facts.served.includes(r))
    )
    if (!facts.live || candidates.length === 0) {
      throw new PlanError(
        `rollback: there is no earlier good release on the host (releases: ${facts.releases.join(', ') || 'none'})`
      )
    }
    return candidates[0]
  }
  if (mode === 'configs') {
    if (!facts.live)
      throw new PlanError(
        'source: none deploys configs for the live release, but the host has none yet'
      )
    return facts.live
  }
  return newRelease
}

/**
 * What the project's settings said, refused when it is not safe or cannot work: a folder the app
 * may not have, data kept in the code (server/settings-folders.ts), a name ALLOWED_HOSTS refuses.
 */
export function checkProjectSettings(
  s: Settings,
  projectSettings: ProjectSettings,
  target: string
): void {
  const problem = projectFolderProblem(s, projectSettings, target)
  if (problem) throw new PlanError(problem)
  const refused = projectSettings.refusedHosts ?? []
  if (refused.length > 0)
    throw new PlanError(
      `ALLOWED_HOSTS in the project's settings does not allow ${refused.map((n) => `'${n}'`).join(', ')}: ` +
        `Django would answer 400 (DisallowedHost) to every request for ${refused.length > 1 ? 'them' : 'it'}. ` +
        `Add ${refused.map((n) => `'${n}'`).join(', ')} to ALLOWED_HOSTS (for example from an ` +
        `environment variable set in dotenv)` +
        (s.serverNames.includes('_')
          ? "; with server-name: _ the health check asks for localhost, or set server-name to the site's name."
          : '.')
    )
}

/**
 * What a rollback to `target` does to the database: the migrations of newer releases stay
 * applied, unless restore-database puts back the backup taken before them. Refused when that
 * backup would also take away data of releases other than the live one, unless forced.
 */
export function databasePlan(s: Settings, facts: HostFacts, target: string): DatabasePlan {
  const ahead =
    modeOf(s) === 'rollback' ? (facts.migrated ?? []).filter((r) => r > target).sort() : []
  const backup = ahead.length > 0 ? backupOf(s, ahead[0], facts.backups ?? []) : undefined
  const restore = s.restoreDatabase && ahead.length > 0
  if (restore && !backup)
    throw new PlanError(
      `restore-database: ${ahead[0]} applied migrations, but the host has no backup taken before them ` +
        `(deployed with backup: false, or pruned): there is nothing to restore. Roll back without restore-database.`
    )
  const others = ahead.filter((r) => r !== facts.live)
  if (restore && others.length > 0 && !s.force)
    throw new PlanError(
      `restore-database: the backup ${backup} was taken before the migrations of ${ahead.join(', ')}; ` +
        `restoring it also takes away what ${others.join(', ')} wrote with ${others.length > 1 ? 'their' : 'its'} migrations, ` +
        `not only the live release ${facts.live}. Set force: true to restore it anyway.`
    )
  return { ahead, backup, restore }
}

/** The processes and schedules of this host, or none when there is nothing to run or remove. */
function processPlan(
  s: Settings,
  facts: HostFacts,
  singletons: boolean,
  writable: readonly string[]
): ProcessPlan | undefined {
  const pf = processFiles(s, { singletons, live: facts.processUnits ?? [], writable })
  if (!hasProcesses(pf)) return undefined
  return {
    files: pf,
    restart: restartProcessesStep(s, pf),
    rollback: rollbackProcessesStep(s, pf),
    read: readProcessesStep(pf)
  }
}

export function planRun(input: PlanInput): Plan {
  const { settings: s, facts, projectSettings } = input
  const mode = modeOf(s)
  const target = targetRelease(s, facts, input.newRelease)
  checkProjectSettings(s, projectSettings, target)
  const isNew = mode === 'deploy'
  const writable = appWritable(s, target, projectSettings).filter((f) => f !== layout(s).shared)
  const files = configFiles(s, facts, servedPaths(s, target, projectSettings), writable)
  const processes = processPlan(s, facts, input.singletons ?? true, writable)
  const instance = idleInstance(facts.instance)
  const database = databasePlan(s, facts, target)
  const restore = restoreSteps(s, target, database, projectSettings)
  const certificate = needsCertificate(s, facts)
    ? { step: certificateStep(s), beforeGates: !!facts.certificate && !!facts.challengeServed }
    : undefined
  const secure = securePlan(s, facts, servedPaths(s, target, projectSettings), writable)
  const scheme = servesTls(s, facts) ? 'tls' : s.acme ? 'upgrade' : 'plain'
  const w = window(s, facts, isNew)
  return {
    mode,
    dependencies: input.install,
    target,
    previous: facts.live,
    files,
    release: releasePlan(s, input, target, isNew),
    discover: input.assumed ? undefined : discoverStep(s, target),
    build: isNew
      ? djangoSteps(s, target, projectSettings, facts.live, input.assumed, !!w)
      : restore,
    maintenance: w,
    gates: [
      verifyUnitsStep(s, target, files),
      ...(processes?.files.units.length ? [verifyProcessesStep(s, target, processes.files)] : []),
      installConfigStep(s, files)
    ],
    instance,
    start: startStep(s, target, instance, files),
    instanceHealth: instanceHealthStep(s, instance),
    abandon: abandonStep(s, instance),
    switch: switchStep(s, target, instance, facts.instance, files),
    health: siteHealthStep(s, facts, undefined, scheme),
    finish: finishSteps(s, facts, target, isNew ? input.deployKey : null, projectSettings),
    // With `source: none` the release stays as it was; only its new files go.
    markFailed: target !== facts.live ? markFailedStep(s, target) : undefined,
    removePartial: isNew ? removePartialStep(s, target) : undefined,
    rollback: rollbackStep(s, facts.live, instance, facts.instance, files),
    diagnostics: diagnosticsStep(s, instance),
    processes,
    database,
    certificate,
    secure
  }
}

/** restore-database: the backup restored before the switch. */
function restoreSteps(
  s: Settings,
  target: string,
  { backup, ahead, restore }: DatabasePlan,
  projectSettings: ProjectSettings
): Step[] {
  if (!restore || !backup) return []
  return [restoreStep(s, target, backup, ahead, appWritable(s, target, projectSettings))]
}

/** maintenance-during-migrations; a site already in maintenance stays so (it is for a live site). */
function window(s: Settings, facts: HostFacts, isNew: boolean): Plan['maintenance'] {
  return isNew && s.maintenanceDuringMigrations && s.migrate && !facts.maintenance
    ? { on: maintenanceOnStep(s), off: maintenanceOffStep(s) }
    : undefined
}

/**
 * The release's steps; first, before anything is uploaded, a preview's database, made by the host
 * that migrates first (a fleet shares the database server): one that cannot be made stops the run.
 */
function releasePlan(s: Settings, input: PlanInput, target: string, isNew: boolean): Step[] {
  return [
    ...(s.preview?.database && (input.firstHost ?? true) ? [previewDatabaseStep(s)] : []),
    ...releaseSteps(
      s,
      target,
      isNew,
      input.venvKey,
      earlyVenv(input.venvKey, input.requirements, input.install),
      sentVenv(input)
    )
  ]
}

/** Before the project's settings are read: the layout (with the .env or the upload), venv. */
function releaseSteps(
  s: Settings,
  target: string,
  isNew: boolean,
  venvKey: string | null,
  early?: EarlyVenv,
  sent?: EarlyVenv
): Step[] {
  return [
    // A calendar systemd refuses stops the run before anything is uploaded or installed.
    ...(s.schedules.length > 0 ? [checkCalendarsStep(s)] : []),
    ...foldedIntoFirst(
      [prepareStep(s)],
      [
        ...(s.dotenv.length > 0 ? [dotenvStep(s)] : []),
        ...(isNew ? [uploadStep(s, target, early), venvStep(s, target, venvKey, sent)] : [])
      ]
    )
  ]
}

/** A lock's list, which the venv step builds from whatever its size (never from the release). */
export function sentVenv(
  input: Pick<PlanInput, 'venvKey' | 'requirements' | 'install'>
): EarlyVenv | undefined {
  const { venvKey, requirements, install } = input
  return install && venvKey && requirements
    ? { key: venvKey, files: requirements, install }
    : undefined
}

/** After a healthy switch: the old instance drained, the renewal timer, post-deploy, pruning. */
function finishSteps(
  s: Settings,
  facts: HostFacts,
  target: string,
  deployKey?: string | null,
  projectSettings?: ProjectSettings
): Step[] {
  return [
    ...(facts.instance ? [drainStep(s, facts.instance)] : []),
    ...(s.acme ? [renewalTimerStep(s)] : []),
    ...(s.postDeploy ? [hookStep(s, target, 'post-deploy', s.postDeploy, 'cleanup')] : []),
    pruneStep(
      s,
      s.keepReleases,
      target,
      facts.live === target ? '' : facts.live,
      deployKey,
      projectSettings
    )
  ]
}

/**
 * tls: auto on a host without a certificate yet: the HTTPS site, gated, loaded and checked once
 * the certificate is there (the deploy itself goes live over HTTP first).
 */
function securePlan(
  s: Settings,
  facts: HostFacts,
  site: SitePaths,
  writable: string[]
): Secure | undefined {
  if (!s.acme || facts.certificate) return undefined
  // The certificate's names and days do not change the site: any will do to render it.
  const issued = { ...facts, certificate: { daysLeft: 90, names: s.serverNames } }
  const tlsFiles = configFiles(s, issued, site, writable)
  return {
    files: tlsFiles,
    gate: { ...installConfigStep(s, tlsFiles), title: 'nginx -t with the HTTPS site' },
    reload: reloadNginxStep(s, tlsFiles),
    health: siteHealthStep(s, facts, undefined, 'tls'),
    undo: undoSiteStep(s, tlsFiles)
  }
}

/** The steps of a run that goes well, in the order the deploy runs them: what a dry run lists. */
export function planSteps(plan: Plan): Step[] {
  return [
    ...plan.release,
    ...(plan.discover ? [plan.discover] : []),
    ...plan.build,
    ...(plan.certificate?.beforeGates ? [plan.certificate.step] : []),
    ...plan.gates,
    plan.start,
    plan.instanceHealth,
    plan.switch,
    plan.health,
    ...(plan.processes ? [plan.processes.restart] : []),
    ...(plan.certificate && !plan.certificate.beforeGates ? [plan.certificate.step] : []),
    ...(plan.secure ? [plan.secure.gate, plan.secure.reload, plan.secure.health] : []),
    ...plan.finish
  ]
}

/**
 * What a new release's settings will most likely say: what the live release's said when it was
 * deployed (recorded with its deploy key), its paths moved to the new release. A warm deploy
 * plans with it and its Django process checks it, instead of a process of its own to read them.
 */
export function assumedSettings(
  s: Settings,
  facts: HostFacts,
  newRelease: string
): ProjectSettings | undefined {
  if (modeOf(s) !== 'deploy' || !facts.live || !facts.projectSettings) return undefined
  return rebaseProjectSettings(s, facts.projectSettings, facts.live, newRelease)
}

/**
 * The dry run's reading of the new code: uploaded to `id` (a staged folder, never a release) with
 * its venv, its settings read, its shared paths linked and its migration plan read as the app
 * user; then removed. Nothing that serves changes.
 */
export function stagingSteps(
  s: Settings,
  id: string,
  venvKey: string | null,
  sent?: EarlyVenv
): {
  prepare: Step[]
  discover: Step
  read: (projectSettings: ProjectSettings) => Step[]
  remove: Step
} {
  return {
    prepare: [uploadStep(s, id), venvStep(s, id, venvKey, sent)],
    discover: discoverStep(s, id),
    read: (projectSettings) => {
      const shared = sharedPaths(s, id, projectSettings)
      return [
        ...(shared.length > 0 ? [shareStep(s, id, shared)] : []),
        migrationPlanStep(s, id, appWritable(s, id, projectSettings))
      ]
    },
    remove: removeStagedStep(s, id)
  }
}
