// The action's phases, nothing else: read the settings, deploy every host in turn (rolling),
// report. Each host's run is flow/host.ts; what runs on a server is server/.

import * as core from '@actions/core'
import type { HostDeps } from './flow/deps.js'
import { HostDeploy } from './flow/host.js'
import { checkPublicUrl } from './http-check.js'
import { archiveStream, sourceDigest } from './remote/archive.js'
import { SshTransport, type Transport } from './remote/connection.js'
import { Executor, type StepLog } from './remote/executor.js'
import { acquireLock } from './remote/lock.js'
import { connectWithRetries } from './remote/retry.js'
import {
  createDeployments,
  deploymentOutcome,
  markDeploymentsInactive,
  rolloutProgress
} from './report/deployment.js'
import {
  hostReport,
  overallStatus,
  unreachedOutcome,
  writeDeploymentId,
  writeInputError,
  writeReport,
  type HostOutcome,
  type HostReport
} from './report/report.js'
import { INSECURE_HOST_KEY, NOT_REACHED } from './flow/notices.js'
import { LINE_END, neutralise, untrustedLines, untrustedStream } from './report/untrusted.js'
import { writeOperationReport } from './report/operation.js'
import { runOperation } from './flow/operation.js'
import type { AuditEntry } from './server/audit.js'
import { operationTitle } from './server/operations.js'
import { modeOf } from './plan.js'
import { createRollout, rollOut, type Rollout } from './rollout.js'
import { previewDatabaseStdin } from './server/preview-database.js'
import type { Step } from './server/step.js'
import { siblingPreview } from './server/previews.js'
import type { Readable } from 'node:stream'
import { dotenvText, pipIndexText, releaseClock } from './server/release.js'
import { fetchWheels, lockOf, requirementsFor, venvKeyOf } from './venv-source.js'
import { InputError, readSettings } from './inputs/settings.js'
import { secretValues, type HostAddress, type Settings } from './settings.js'
import { actionDigest, deployKey } from './deploy-key.js'

/** Where the run came from: the runner's environment, read once. */
export interface RunContext {
  sha: string
  holder: string
  now: Date
  /** GITHUB_RUN_ID ('' outside GitHub), the repository and the actor: for the audit log */
  run: string
  repository: string
  actor: string
  /** the previews the limits removed, on any host: their GitHub deployments go inactive at the end */
  removedPreviews: Set<string>
}

export function runContext(env: NodeJS.ProcessEnv, now = new Date()): RunContext {
  const clean = (v: string | undefined) => (v ?? '').replace(/[^\w./@:+-]/g, '')
  const run = env.GITHUB_RUN_ID
    ? `run ${clean(env.GITHUB_RUN_ID)} of ${clean(env.GITHUB_REPOSITORY)}`
    : 'a local run'
  return {
    sha: clean(env.GITHUB_SHA),
    holder: `${run} by ${clean(env.GITHUB_ACTOR) || 'someone'} (${clean(env.GITHUB_REF_NAME) || 'no ref'}) since ${now.toISOString()}`,
    now,
    run: env.GITHUB_RUN_ID ?? '',
    repository: env.GITHUB_REPOSITORY ?? '',
    actor: env.GITHUB_ACTOR ?? '',
    removedPreviews: new Set()
  }
}

/** What the run is, for its line in each host's audit log. */
export function auditEntry(s: Settings, context: RunContext): AuditEntry {
  const op = s.operation
  const mode = op.kind === 'deploy' ? modeOf(s) : op.kind
  return {
    run: context.run,
    repository: context.repository,
    actor: context.actor,
    mode: s.dryRun ? `${mode} (dry run)` : mode,
    argument: auditArgument(op, mode, context)
  }
}

/** What the audit line says the run was given: the commit, the command line, the switch. */
function auditArgument(op: Settings['operation'], mode: string, context: RunContext): string {
  switch (op.kind) {
    case 'manage':
      return op.line
    case 'maintenance':
      return op.on ? 'on' : 'off'
    case 'remove':
      return operationTitle(op)
    case 'logs':
      return `${op.lines}${op.since ? ` since ${op.since.given}` : ''}`
    case 'deploy':
      return mode === 'deploy' ? context.sha : ''
  }
}

/** The action: settings, every host in turn (rolling), the report. */
export async function run(): Promise<void> {
  let settings: Settings
  try {
    settings = readSettings({
      getInput: (name) => core.getInput(name, { trimWhitespace: false }),
      workspace: process.env.GITHUB_WORKSPACE || process.cwd()
    })
  } catch (error) {
    if (error instanceof InputError) {
      writeInputError(error.message)
      return
    }
    throw error
  }
  for (const secret of secretValues(settings)) core.setSecret(secret)
  if (settings.insecureSkipHostKeyCheck)
    core.warning(INSECURE_HOST_KEY.message, { title: INSECURE_HOST_KEY.title })

  const context = runContext(process.env)
  if (settings.operation.kind !== 'deploy') return runOperations(settings, context)
  const rollout = createRollout(settings.hosts, releaseClock(context.sha))
  const deployment = createDeployments(settings)
  // Created while the hosts connect: the first SSH byte waits for no request to GitHub.
  const started = deployment.start().then(() => writeDeploymentId(deployment.id))
  const reports = await rollOut(
    settings.hosts,
    settings.maxParallel,
    (host) => deployHost(settings, host, rollout, context),
    notReached,
    async (done) => {
      if (settings.hosts.length > 1) {
        await started
        await deployment.progress(rolloutProgress(done, settings.hosts.length))
      }
    }
  )
  await started
  await deployment.finish(...deploymentOutcome(reports))
  // Previews the limits removed: GitHub no longer links their pull requests to them.
  for (const name of context.removedPreviews)
    await markDeploymentsInactive(siblingPreview(settings, name))
  await writeReport(settings, reports)
}

/** The hosts an operation runs on: the first, or all (manage-hosts); logs: every host. */
export function operationHosts(s: Settings): HostAddress[] {
  const op = s.operation
  return op.kind === 'manage' && op.hosts === 'first' ? s.hosts.slice(0, 1) : s.hosts
}

/**
 * An operation (manage...): on the first host, or on every host in batches of max-parallel (a
 * failure stops the next batch); no GitHub deployment, since nothing is deployed.
 */
async function runOperations(s: Settings, context: RunContext): Promise<void> {
  const reports = await rollOut(
    operationHosts(s),
    s.maxParallel,
    (host) => operationHost(s, host, context),
    notReached
  )
  // Removed from every host: GitHub no longer shows the project as deployed there.
  if (s.operation.kind === 'remove' && !s.dryRun && overallStatus(reports) === 'success')
    await markDeploymentsInactive(s)
  await writeOperationReport(s, reports)
}

function hostLabel(host: HostAddress): string {
  return host.port === 22 ? host.name : `${host.name}:${host.port}`
}

function notReached(host: HostAddress): HostReport {
  return hostReport(hostLabel(host), unreachedOutcome('skipped', NOT_REACHED), { durationMs: 0 })
}

function hostLog(label: string, multiple: boolean): StepLog {
  const prefix = multiple ? `[${label}] ` : ''
  // The action's own lines may hold what an input said (a step's title names the manage line):
  // `##[` neutralised, a carriage return a line of its own with the host's name.
  const info = (message: string) =>
    core.info(prefix + neutralise(message).split(LINE_END).join(`\n${prefix}`))
  return {
    info,
    remote: (text) => {
      const [stop, body, resume] = untrustedLines(text)
      core.info(stop)
      info(body)
      core.info(resume)
    },
    stream: () => untrustedStream((line) => core.info(line), prefix),
    // Hosts deployed at once would interleave their groups: there every line names its host.
    group: multiple
      ? async (title, body) => {
          info(`▶ ${title}`)
          return body()
        }
      : (title, body) => core.group(neutralise(title).replace(/[\r\n]+/g, ' '), body)
  }
}

type Connect = (s: Settings, host: HostAddress, timeoutMs: number) => Promise<Transport>

/** What a host's run is handed once connected. */
interface Connected {
  transport: Transport
  exec: Executor
  log: StepLog
  label: string
}

/**
 * One host: connect (a transient failure tried again), run `body` (a deploy's flow or an
 * operation's), report; a connection that fails is the host's failure (`lost` told first).
 */
async function onHost(
  s: Settings,
  host: HostAddress,
  connect: Connect,
  body: (connected: Connected) => Promise<HostOutcome>,
  lost: () => void = () => {}
): Promise<HostReport> {
  const started = Date.now()
  const label = hostLabel(host)
  const log = hostLog(label, s.hosts.length > 1)
  let transport: Transport | undefined
  let exec: Executor | undefined
  try {
    transport = await connectWithRetries(
      (timeoutMs) => connect(s, host, timeoutMs),
      s.connectTimeoutMs,
      log.info
    )
    exec = new Executor(transport, log, s)
    exec.phaseMs.set('connect', Date.now() - started)
    const outcome = await body({ transport, exec, log, label })
    return hostReport(label, outcome, {
      phaseMs: exec.phaseMs,
      // The lock is one command more, held for the run.
      roundTrips: exec.roundTrips + 1,
      durationMs: Date.now() - started
    })
  } catch (error) {
    // Only the connection gets here: the flows return their failures as a result.
    lost()
    return hostReport(label, unreachedOutcome('failure', (error as Error).message), {
      phaseMs: exec?.phaseMs,
      durationMs: Date.now() - started
    })
  } finally {
    transport?.close()
  }
}

/** One host's deploy (flow/host.ts). */
export async function deployHost(
  s: Settings,
  host: HostAddress,
  rollout: Rollout,
  context: RunContext,
  connect: Connect = SshTransport.connect
): Promise<HostReport> {
  return onHost(
    s,
    host,
    connect,
    ({ transport, exec, log }) =>
      new HostDeploy(hostDeps(s, rollout, host, transport, exec, context, log)).run(
        rollout.nextRelease
      ),
    () => {
      if (rollout.isFirst(host)) rollout.migrated(new Error(`stopped: ${hostLabel(host)} failed`))
    }
  )
}

/** One host's operation (flow/operation.ts), with the same connection and lock as a deploy. */
export async function operationHost(
  s: Settings,
  host: HostAddress,
  context: RunContext,
  connect: Connect = SshTransport.connect
): Promise<HostReport> {
  return onHost(s, host, connect, ({ transport, exec, log, label }) =>
    runOperation({ ...lockedDeps(s, transport, exec, context, log), host: label, group: log.group })
  )
}

/** The source's and the action's digests, read once per run (every host deploys the same). */
const digests = new WeakMap<Settings, { source: string; action: string }>()

function hostDeps(
  s: Settings,
  rollout: Rollout,
  host: HostAddress,
  transport: Transport,
  exec: Executor,
  context: RunContext,
  log: StepLog
): HostDeps {
  /** wheels: runner: this host's files, linked into a folder of their own */
  let wheelsFolder = ''
  return {
    rollout,
    isFirst: rollout.isFirst(host),
    runsSingletons: s.singletonHost
      ? s.singletonHost === `${host.name}:${host.port}`
      : rollout.isFirst(host),
    ...lockedDeps(s, transport, exec, context, log),
    stdin: (kind) => stepStdin(s, kind, wheelsFolder),
    previewRemoved: (name) => context.removedPreviews.add(name),
    venvKey: (facts) => venvKeyOf(s, facts),
    requirements: (facts) => requirementsFor(s, facts),
    lock: (facts) => lockOf(s, facts),
    fetchWheels: async (facts) => {
      const fetched = await fetchWheels(s, facts, log.info)
      wheelsFolder = fetched.folder
      return fetched.problem
    },
    deployKey: (facts) => {
      const venv = venvKeyOf(s, facts)
      if (s.source === null || venv === null) return null
      const known = digests.get(s) ?? {
        source: sourceDigest(s.source, s.exclude),
        action: actionDigest()
      }
      digests.set(s, known)
      return deployKey(s, { venv, ...known })
    },
    checkPublicUrl: () => checkPublicUrl(s)
  }
}

/**
 * What a step reads on stdin: the .env text, the preview database's connection, the private
 * index's URLs, the lock's files (wheels: runner, from `wheelsFolder`), the source.
 */
function stepStdin(
  s: Settings,
  kind: NonNullable<Step['stdin']>,
  wheelsFolder = ''
): string | Readable {
  if (kind === 'dotenv') return dotenvText(s)
  if (kind === 'pip-index') return pipIndexText(s)
  if (kind === 'wheels') return archiveStream(wheelsFolder, [])
  if (kind === 'preview-database' && s.preview?.database)
    return previewDatabaseStdin(s.preview.database)
  return archiveStream(s.source as string, s.exclude)
}

/** What every run on a host shares: its steps, the deploy lock (with the audit line), the log. */
function lockedDeps(
  s: Settings,
  transport: Transport,
  exec: Executor,
  context: RunContext,
  log: StepLog
): Pick<
  HostDeps,
  'settings' | 'run' | 'takeLock' | 'lockOther' | 'receive' | 'info' | 'remote' | 'warn' | 'notice'
> {
  return {
    settings: s,
    // A step that reads the .env or the database's connection gets it unless the caller gives one.
    run: (step, options) =>
      exec.run(step, {
        ...options,
        stdin:
          options?.stdin ??
          (step.stdin === 'dotenv' || step.stdin === 'preview-database'
            ? stepStdin(s, step.stdin)
            : undefined)
      }),
    takeLock: (first) =>
      acquireLock(
        transport,
        s,
        context.holder,
        s.lockWaitMs / 1000,
        (holder) => log.remote(`Waiting for the deploy lock, held by ${holder}`),
        first,
        auditEntry(s, context)
      ),
    lockOther: (other) =>
      acquireLock(
        transport,
        other,
        context.holder,
        0,
        () => {},
        undefined,
        auditEntry(other, context)
      ),
    receive: (step, result) => exec.receive(step, result),
    info: log.info,
    remote: log.remote,
    warn: (message, title) => core.warning(message, title ? { title } : {}),
    notice: (message, title) => core.notice(message, { title })
  }
}
