// Every text the run prints besides the steps' own output and the job summary: the notices,
// warnings and messages, built from what the run learnt (pure). The flow decides when to say them.

import type { Plan } from '../plan.js'
import { describeServer } from '../asgi.js'
import { causeOf, hintFor, StepError } from '../server/cause.js'
import type { DatabaseReport } from '../report/report.js'
import { acmeHint, type CertificateFacts } from '../server/acme.js'
import type { RunResult } from '../remote/connection.js'
import { parseErrors, type HealthResult } from '../server/health.js'
import {
  closesWebSocketsCleanly,
  describeVersions,
  uncleanCloseWarning,
  type ServerFacts
} from '../server/asgi.js'
import type { ProjectSettings } from '../server/discover.js'
import {
  databaseKind,
  describePlan,
  restoreHint,
  type MigrationPlan
} from '../server/migrations.js'
import { productionValue } from '../server/previews.js'
import { parseStayedDown } from '../server/processes.js'
import { sharedNotice, sharedPaths } from '../server/shared.js'
import type { Settings } from '../settings.js'

export interface Notice {
  message: string
  title: string
}

/** Data the settings keep inside the release is kept in shared/: what, where and why. */
export function sharedNotices(s: Settings, plan: Plan, projectSettings: ProjectSettings): Notice[] {
  if (plan.build.length === 0) return []
  const notices: Notice[] = []
  const notice = sharedNotice(s, sharedPaths(s, plan.target, projectSettings))
  if (notice) notices.push({ message: notice, title: 'Kept in shared/' })
  if (s.collectstatic && !projectSettings.staticRoot && !s.staticRoot)
    notices.push({
      message:
        "STATIC_ROOT is not set in the project's settings, so collectstatic was skipped and nginx " +
        "serves no static files (the admin's included). Set it, e.g. STATIC_ROOT = BASE_DIR / " +
        "'staticfiles', or set collectstatic: false to say this is meant.",
      title: 'No static files'
    })
  return notices
}

/** The Django process found the settings other than the live release's: planned again. */
export const SETTINGS_CHANGED_NOTE =
  "The project's settings say other things than the live release's did: planned again with what they say now"

/** A step found the disk full: the cause, how full, what was done, what to do. */
export function diskFullMessage(d: {
  step: string
  cause: string
  deployPath: string
  live?: string
  writtenMb: number
  freeMb: number
}): string {
  return (
    `${d.step} failed: the server's disk is full (${d.cause}).\n` +
    `The disk that holds ${d.deployPath} had no room left` +
    (d.writtenMb > 0 ? `: the release needed more than the ${d.writtenMb} MB it had written` : '') +
    `. The partial release was removed; ${d.freeMb} MB are free now.` +
    ` Nothing was switched${d.live ? `: ${d.live} still serves` : ''}.\n` +
    `Free space on it (\`df -h ${d.deployPath}\`, \`du -sh ${d.deployPath}/*\`), or keep fewer ` +
    'releases (keep-releases), then deploy again.'
  )
}

export function rollbackNote(rolledBack: boolean, previous: string): string {
  return rolledBack
    ? ` Rolled back to ${previous}, which answers again.`
    : previous
      ? ' The rollback did not bring the previous release back to health either.'
      : ' There was no previous release to roll back to.'
}

/**
 * An error's message, cause first; `unswitchedLive` (the live release, or '' on a first deploy)
 * when the run held the lock and switched nothing.
 */
export function errorMessage(error: unknown, unswitchedLive?: string): string {
  const done =
    unswitchedLive === undefined
      ? ''
      : `\nNothing was switched${unswitchedLive ? `: ${unswitchedLive} still serves` : ''}.`
  if (error instanceof StepError)
    return `${error.step.title} failed: ${error.cause}${done}${error.hint ? `\n${error.hint}` : ''}`
  return `${(error as Error).message}${done}`
}

/** The ACME server refused: its words, what serves now, what to do. */
export function acmeRefusedMessage(a: {
  names: string
  said: string
  switched: boolean
  hadCertificate: boolean
  previous: string
  target: string
}): string {
  const where = !a.switched
    ? `Nothing was switched${a.previous ? `: ${a.previous} still serves` : ''}, with the certificate it had.`
    : a.hadCertificate
      ? `${a.target} is live, with the certificate the site had.`
      : `${a.target} is live over plain HTTP; the site switches to HTTPS once a certificate is issued.`
  return `The ACME server did not issue the certificate for ${a.names}:\n${a.said}\n${where}\n${acmeHint(a.said)}`
}

/** Which uvicorn serves, and a warning when it would cut open WebSockets at a restart. */
export function serverNotices(facts?: ServerFacts): { info?: string; warning?: Notice } {
  if (!facts) return {}
  return {
    info: `Serves with ${describeVersions(facts)}`,
    warning:
      closesWebSocketsCleanly(facts) === false
        ? { message: uncleanCloseWarning(facts), title: 'WebSockets cut at a restart' }
        : undefined
  }
}

/** Says which uvicorn serves, and warns when it would cut open WebSockets at a restart. */
export function tellServer(
  log: { info(message: string): void; warn(message: string, title?: string): void },
  facts?: ServerFacts
): void {
  const said = serverNotices(facts)
  if (said.info) log.info(said.info)
  if (said.warning) log.warn(said.warning.message, said.warning.title)
}

/** The last lines a step printed, for a warning. */
export function lastLines(result: RunResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n')
}

/** tls: auto: the first HTTPS site did not answer; the plain one is back. */
export function httpsFailedMessage(health: HealthResult): string {
  return (
    `The site did not answer over HTTPS: the health check got ${health.status || 'no answer'}` +
    `${health.detail ? ` (${health.detail})` : ''}. The plain HTTP site is back in place; ` +
    'the certificate is on the host for the next deploy.'
  )
}

/** insecure-skip-host-key-check is on. */
export const INSECURE_HOST_KEY: Notice = {
  message:
    'insecure-skip-host-key-check is on: the host key is not checked, so anyone who can intercept ' +
    'the connection can impersonate the server and receive your code and secrets. Pin known-hosts instead.',
  title: 'Host key not checked'
}

/** A host the rolling deploy did not reach. */
export const NOT_REACHED = 'not deployed: an earlier host failed'

export const WAITING_FOR_FIRST_HOST = 'Waiting for the first host to finish its migrations'

export const DRY_RUN_DONE = 'dry run: nothing was changed'

export const FIRST_DEPLOY_MIGRATIONS =
  'First deploy: migrate applies every migration of the project.'

/** The deploy lock was left by a run that ended without letting it go. */
export function staleLockWarning(holder: string): string {
  return `Took over the deploy lock left by a run that ended without releasing it: ${holder}`
}

/** tls: auto: the host's last renewal of the certificate failed. */
export function renewalFailedWarning(
  problem: string,
  certificate: CertificateFacts | undefined
): Notice {
  return {
    message: `The last renewal of the certificate on the host failed${certificate ? ` (${certificate.daysLeft} days left)` : ''}: ${problem}`,
    title: 'Certificate renewal failed'
  }
}

/** A step after a healthy switch failed: no reason to call the deploy failed. */
export function cleanupWarning(title: string, result: RunResult): Notice {
  return { message: `${title} failed: ${lastLines(result)}`, title: 'Clean-up failed' }
}

/** What a gate said when it refused the new files; `done`: what is in place now. */
export function gateFailedMessage(title: string, done: string, stderr: string): string {
  return `Gate failed: ${title}. ${done}\n${stderr.trim()}`
}

export const GATE_DONE = 'The previous files are back in place and nothing was restarted.'
export const HTTPS_GATE_DONE = 'The plain HTTP site is back in place.'

/** The dry run's plan, as the log prints it. */
export function dryRunPlanMessage(s: Settings, titles: string[]): string {
  return `Dry run: nothing was changed. Served by ${describeServer(s)}. The plan:\n${titles.map((t, i) => `${i + 1}. ${t}`).join('\n')}`
}

/** The dry run could not read the new code: it goes on with the live release's settings. */
export function stagingWarning(error: unknown): Notice {
  return {
    message: `The dry run could not read the new code's settings and migrations: ${error instanceof StepError ? `${error.step.title}: ${error.cause}` : (error as Error).message}`,
    title: 'Dry run'
  }
}

export function alreadyLiveMessage(live: string, dryRun = false): string {
  return dryRun
    ? `A deploy would change nothing: ${live} already serves this commit with these settings (the deploy checks that it answers, and deploys it again if it does not).`
    : `${live} already serves this commit with these settings: nothing was uploaded or restarted.`
}

/** The live release is this deploy but does not answer: what the check got. */
export function liveNotAnswering(s: Settings, health: HealthResult): string {
  return `${s.healthPath} answered ${health.status || 'nothing'}`
}

export function redeployMessage(live: string, problem: string): string {
  return `${live} was deployed with this commit and these settings, but ${problem}: deploying it again.`
}

/** What the health check got, from where (`where`: on the instance's own socket). */
export function healthCause(s: Settings, health: HealthResult, where = ''): string {
  return (
    `the health check got ${health.status || 'no answer'}${health.detail ? ` (${health.detail})` : ''} from ${s.healthPath}${where}` +
    // A refusal (DisallowedHost, a redirect to HTTPS) ends the check at once.
    (health.durationMs >= s.healthTimeoutMs ? ` within ${s.healthTimeoutMs / 1000} s` : '')
  )
}

/**
 * A release that was not healthy: the exception that stopped the app first (the last one the
 * journal has), then what happened and what was done (`done`), then what to do.
 */
export function notHealthyMessage(
  target: string,
  cause: string,
  done: string,
  diagnostics: string,
  own: readonly string[] = []
): string {
  const errors = parseErrors(diagnostics)
  const hint = hintFor(`${cause}\n${errors.join('\n')}`, own)
  return (
    (errors.length ? `${errors[errors.length - 1]}\n` : '') +
    `${target} was not healthy: ${cause}.${done}` +
    (hint ? `\n${hint}` : '') +
    (errors.length > 1 ? `\nThe app said: ${errors.join('\n')}` : '')
  )
}

/** The new release failed its own check on its socket: it never served a request. */
export function neverServedNote(previous: string): string {
  return ` It never served a request: nothing was switched${previous ? `, ${previous} still serves` : ''}.`
}

/** The process's error first (from its journal), what happened, what was done, what to do. */
export function stayedDownMessage(
  restartStderr: string,
  target: string,
  done: string,
  own: readonly string[] = []
): string {
  const { units, journal } = parseStayedDown(restartStderr)
  const cause = causeOf(journal)
  const hint = hintFor(journal, own)
  return (
    (cause ? `${cause}\n` : '') +
    `${units.join(', ') || 'a process'} of ${target} did not stay up after the web release was healthy.` +
    done +
    (hint ? `\n${hint}` : '')
  )
}

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
  projectSettings: ProjectSettings
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
  const engine = projectSettings.databaseEngine
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
  // A first deploy has no release the schema could be ahead of: the next deploy starts from it.
  if (applied?.length && !healthy)
    lines.push(
      live
        ? `The migrations ${applied.join(', ')} were applied and stay applied: the schema is ahead of the release that serves, ${live}.`
        : `The migrations ${applied.join(', ')} were applied and stay applied (no release served before): the next deploy starts from them.`
    )
  if (backup)
    lines.push(
      `The database backup taken before the migrations is kept for inspection: ${backup.path} (${backup.bytes} bytes).` +
        (applied?.length ? ` To restore it: ${restoreHint(backup.path)}.` : '')
    )
  return lines.length > 0 ? `\n${lines.join('\n')}` : ''
}

/** An operation on a host where no release is live. */
export function nothingDeployedMessage(host: string): string {
  return `nothing is deployed on ${host} yet: deploy first`
}

/** The last line a command printed that says something: the cause a person reads first. */
export function lastErrorLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '')
  return lines.at(-1)?.trim() ?? ''
}

/** A management command that ended with a non-zero status: its last error line first. */
export function operationFailedMessage(a: {
  command: string
  host: string
  live: string
  code: number
  output: string
}): string {
  const cause = lastErrorLine(a.output)
  return [
    cause || `${a.command} printed nothing`,
    `${a.command} exited with ${a.code} on ${a.host} (release ${a.live}); the release and what serves are unchanged.`
  ].join('\n')
}

/** A dry run of an operation: what it would run, where. */
export function operationDryRunMessage(command: string, live: string): string {
  return `dry run: would run ${command} in ${live} as the app user; nothing was run`
}

/** Maintenance switched: the state, and how to leave it. */
export function maintenanceMessage(s: Settings, host: string, state: 'on' | 'off'): string {
  if (state === 'off') return `maintenance is off on ${host}: the site serves the app again`
  const allowed =
    s.maintenanceAllow.length > 0 ? ` (${s.maintenanceAllow.join(', ')} still reach the app)` : ''
  return `maintenance is on on ${host}: every request of the site gets 503 with the maintenance page${allowed}; run with maintenance: off to serve again`
}

/** A dry run of the switch: the state now, what it would do. */
export function maintenanceDryRunMessage(host: string, state: 'on' | 'off', on: boolean): string {
  return `dry run: maintenance is ${state} on ${host}; would turn it ${on ? 'on' : 'off'}; nothing was changed`
}

/** The switch failed: the host's words first, then the state the site is in. */
export function maintenanceFailedMessage(host: string, cause: string, state: 'on' | 'off'): string {
  return `${cause}\nNothing was switched on ${host}: maintenance is still ${state}.`
}

/** A deploy while the site is in maintenance: checked on its socket, the page still up. */
export const MAINTENANCE_KEPT =
  'maintenance is on: the new release answered on its own socket and serves behind the maintenance page, which stays up; run with maintenance: off to serve it'

/** maintenance-during-migrations put the page up. */
export function maintenanceWindowOpened(pending: string[]): string {
  const shown = pending.slice(0, 5).join(', ') + (pending.length > 5 ? ', ...' : '')
  return `Maintenance on until the new release serves: ${pending.length} migration${pending.length === 1 ? '' : 's'} to apply (${shown})`
}

/** The run failed with the maintenance page up: it came down (or could not). */
export function maintenanceWindowClosed(off: boolean): string {
  return off
    ? ' The maintenance page put up for the migrations is down again: the site serves as before.'
    : ' The maintenance page put up for the migrations could not be taken down: run with maintenance: off.'
}

/** remove on a host that holds nothing of the project. */
export function nothingToRemoveMessage(project: string, host: string): string {
  return `nothing of ${project} on ${host}`
}

/** A remove whose site removal failed nginx's gate: the site is back, nothing else was touched. */
export function removeGateMessage(host: string, stderr: string): string {
  return [
    lastErrorLine(stderr) || 'nginx -t failed',
    `nginx -t failed on ${host} without the project's site, so its files were put back and nginx was not reloaded; nothing was removed. Fix the configuration nginx -t names, then run the remove again.`
  ].join('\n')
}

/** A remove step that failed: what is left is removed by running it again. */
export function removeFailedMessage(host: string, title: string, output: string): string {
  return [
    lastErrorLine(output) || `${title} failed`,
    `${title} failed on ${host}; what was removed before it stays removed: run the remove again to finish.`
  ].join('\n')
}

/** A remove's dry run: how much would go, where; nothing changed. */
export function removeDryRunMessage(host: string, count: number): string {
  return `dry run: would remove ${count} paths of the project on ${host}; nothing was changed`
}

/** logs on a host where no release is live: what it shows is what the host still has. */
export function nothingDeployedLogsMessage(project: string, host: string): string {
  return `nothing of ${project} is deployed on ${host}: no release is live (shown: what the host still has, e.g. the lines of a first deploy that failed, and the audit log)`
}

/** A dry run of logs: it runs, since it changes nothing. */
export const LOGS_DRY_RUN = 'dry run: logs changes nothing, so it reads the logs as a run does'

/** preview-limit or preview-ttl: another preview of the project removed before this deploy. */
export function previewRemovedNotice(instance: string, reason: string): string {
  return `Removing the preview ${instance}: ${reason}`
}

/** A preview the limits would remove, left alone: a run holds it, or a step failed. */
export function previewNotRemovedWarning(instance: string, why: string): string {
  return `The preview ${instance} was not removed (${why}); remove it with remove: true and preview`
}

/** A preview beside a production whose shared/ every local user may pass through. */
/** A preview's database role that owns objects elsewhere: kept, without login. */
export function previewRoleKeptWarning(s: Settings, output: string): string {
  const name = s.preview?.database?.name ?? ''
  const why = output
    .split('\n')
    .filter((line) => /^(ERROR|DETAIL):/.test(line))
    .join(' ')
  return (
    `The database role ${name} was kept, without login: ${why || 'it could not be dropped'}. ` +
    `Drop what it owns in that database (DROP OWNED BY ${name}), then the role.`
  )
}

/** A preview's first deploy whose derived user or deploy path someone else has. */
export function previewTakenMessage(s: Settings, taken: string[]): string {
  const what = [
    ...(taken.includes('user') ? [`the user ${s.appUser}`] : []),
    ...(taken.includes('path') ? [`a deployed project at ${s.deployPath}`] : [])
  ].join(' and ')
  return (
    `The preview ${s.instanceName} is new on this host, but ${what} is there already (another ` +
    `project's?): a preview takes a user and a deploy path of its own, and would take these over. ` +
    `Nothing was changed. Use another preview name, or remove what is there.`
  )
}

export function productionSharedOpenMessage(s: Settings): string {
  return (
    `${productionValue(s, s.deployPath)}/shared is passable by every local user (an earlier version made it 0711), so a ` +
    `preview's code could read production's files there (a SQLite database): nothing was changed. ` +
    `Deploy production once with this version (it makes shared/ 0710), then the preview.`
  )
}

/** A lock that cannot be installed on this host: said before anything is uploaded. */
export function lockRefusedMessage(problem: string): string {
  return `${problem}. Nothing was uploaded or installed; the live site is unchanged.`
}
