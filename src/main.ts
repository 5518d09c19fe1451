import * as core from '@actions/core'
import { createTwoFilesPatch } from 'diff'
import {
  configFiles,
  diagnosticsStep,
  discoverStep,
  djangoSteps,
  dotenvStep,
  dotenvText,
  GATE_FAILED,
  healthStep,
  inspectStep,
  installConfigStep,
  parseConfigFiles,
  parseDjangoPaths,
  parseFacts,
  parseHealth,
  postDeployStep,
  prepareStep,
  pruneStep,
  readConfigStep,
  releaseId,
  rollbackStep,
  sitePaths,
  switchStep,
  uploadStep,
  venvStep,
  verifyUnitsStep,
  type ConfigFiles,
  type HostFacts,
  type Step
} from './plan.js'
import { archiveStream } from './remote/archive.js'
import { SshTransport, type Transport } from './remote/connection.js'
import { Executor, StepError, type StepLog } from './remote/executor.js'
import { acquireLock } from './remote/lock.js'
import { type GateResult, type HostReport, writeReport } from './report/report.js'
import {
  InputError,
  readSettings,
  secretValues,
  type HostAddress,
  type Settings
} from './settings.js'

/** Where the run came from: the runner's environment, read once. */
export interface RunContext {
  sha: string
  holder: string
  now: Date
}

export function runContext(env: NodeJS.ProcessEnv, now = new Date()): RunContext {
  const clean = (v: string | undefined) => (v ?? '').replace(/[^\w./@:+-]/g, '')
  const run = env.GITHUB_RUN_ID
    ? `run ${clean(env.GITHUB_RUN_ID)} of ${clean(env.GITHUB_REPOSITORY)}`
    : 'a local run'
  return {
    sha: clean(env.GITHUB_SHA),
    holder: `${run} by ${clean(env.GITHUB_ACTOR) || 'someone'} (${clean(env.GITHUB_REF_NAME) || 'no ref'}) since ${now.toISOString()}`,
    now
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
      core.setOutput('status', 'failure')
      core.setFailed(error.message)
      return
    }
    throw error
  }
  for (const secret of secretValues(settings)) core.setSecret(secret)
  if (settings.insecureSkipHostKeyCheck) {
    core.warning(
      'insecure-skip-host-key-check is on: the host key is not checked, so anyone who can intercept ' +
        'the connection can impersonate the server and receive your code and secrets. Pin known-hosts instead.',
      { title: 'Host key not checked' }
    )
  }

  const context = runContext(process.env)
  const release = releaseId(context.now, context.sha)
  const reports: HostReport[] = []
  const pending = [...settings.hosts]
  let stopped = false
  while (pending.length > 0 && !stopped) {
    const batch = pending.splice(0, settings.maxParallel)
    const results = await Promise.all(
      batch.map((host) => deployHost(settings, host, release, context))
    )
    reports.push(...results)
    stopped = results.some((r) => r.status !== 'success')
  }
  for (const host of pending) reports.push(notReached(host, release))
  await writeReport(settings, reports)
}

function notReached(host: HostAddress, release: string): HostReport {
  return {
    ...emptyReport(host, release),
    status: 'skipped',
    message: 'not deployed: an earlier host failed'
  }
}

function emptyReport(host: HostAddress, release: string): HostReport {
  return {
    host: host.port === 22 ? host.name : `${host.name}:${host.port}`,
    release,
    previousRelease: '',
    status: 'failure',
    gates: [],
    phaseMs: {},
    durationMs: 0,
    message: ''
  }
}

function hostLog(label: string, multiple: boolean): StepLog {
  const prefix = multiple ? `[${label}] ` : ''
  return {
    info: (message) => core.info(prefix + message.split('\n').join(`\n${prefix}`)),
    group: (title, body) => core.group(prefix + title, body)
  }
}

/** One host, in the order of DESIGN.md: lock, release, gates, switch, health, rollback, prune. */
export async function deployHost(
  s: Settings,
  host: HostAddress,
  release: string,
  context: RunContext,
  connect: (s: Settings, host: HostAddress) => Promise<Transport> = SshTransport.connect
): Promise<HostReport> {
  const report = emptyReport(host, release)
  const started = Date.now()
  const log = hostLog(report.host, s.hosts.length > 1)
  let transport: Transport | undefined
  try {
    transport = await connect(s, host)
    const exec = new Executor(transport, log)
    const facts = parseFacts((await exec.run(inspectStep(s))).stdout)
    report.previousRelease = facts.live
    if (s.dryRun) await dryRun(s, exec, facts, release, report, log)
    else await deploy(s, exec, transport, facts, release, context, report, log)
    report.phaseMs = Object.fromEntries(exec.phaseMs)
  } catch (error) {
    report.status = report.status === 'rolled-back' ? 'rolled-back' : 'failure'
    report.message ||= (error as Error).message
    if (error instanceof StepError)
      report.failedStep = {
        title: error.step.title,
        output: error.result.stdout + error.result.stderr
      }
  } finally {
    transport?.close()
    report.durationMs = Date.now() - started
  }
  return report
}

async function deploy(
  s: Settings,
  exec: Executor,
  transport: Transport,
  facts: HostFacts,
  newRelease: string,
  context: RunContext,
  report: HostReport,
  log: StepLog
): Promise<void> {
  const lock = await acquireLock(transport, s, context.holder, 300, (holder) =>
    log.info(`Waiting for the deploy lock, held by ${holder}`)
  )
  if (lock.staleHolder) {
    core.warning(
      `Took over the deploy lock left by a run that ended without releasing it: ${lock.staleHolder}`
    )
  }
  try {
    await exec.run(prepareStep(s))
    if (s.dotenv.length > 0) await exec.run(dotenvStep(s), { stdin: dotenvText(s) })

    const target = await releaseToServe(s, exec, facts, newRelease)
    report.release = target
    const found = parseDjangoPaths((await exec.run(discoverStep(s, target))).stdout)
    if (target === newRelease) await exec.runAll(djangoSteps(s, target, found))

    const files = configFiles(s, facts, sitePaths(s, target, found))
    report.files = files
    const changed = await runGates(s, exec, target, files, report)
    await exec.run(
      switchStep(s, target, changed.includes(files.socket.path.split('/').pop() ?? ''))
    )

    const health = parseHealth((await exec.run(healthStep(s), { allowFailure: true })).stdout)
    report.httpStatus = health.status
    report.healthDurationMs = health.durationMs
    const publicProblem = health.healthy && s.healthUrl ? await checkPublicUrl(s) : ''
    if (!health.healthy || publicProblem) {
      const diagnostics = (await exec.run(diagnosticsStep(s), { allowFailure: true })).stdout
      report.diagnostics = diagnostics
      const cause =
        publicProblem ||
        `the health check got ${health.status || 'no answer'}${health.detail ? ` (${health.detail})` : ''} from ${s.healthPath} within ${s.healthTimeoutMs / 1000} s`
      await rollBack(s, exec, target, facts.live === target ? '' : facts.live, files, report)
      report.message = `${target} was not healthy: ${cause}.${rollbackNote(report)}\n${diagnostics.trim()}`
      throw new Error(report.message)
    }
    if (s.postDeploy) await exec.run(postDeployStep(s, target))
    await exec.run(pruneStep(s, s.keepReleases, target, facts.live === target ? '' : facts.live))
    report.status = 'success'
  } finally {
    await lock.release()
  }
}

function rollbackNote(report: HostReport): string {
  return report.status === 'rolled-back'
    ? ` Rolled back to ${report.previousRelease}, which answers again.`
    : report.previousRelease
      ? ' The rollback did not bring the previous release back to health either.'
      : ' There was no previous release to roll back to.'
}

/** The release this run puts live: a new upload, the live one (`source: none`), or a rollback. */
async function releaseToServe(
  s: Settings,
  exec: Executor,
  facts: HostFacts,
  newRelease: string
): Promise<string> {
  if (s.rollback) {
    const candidates = facts.releases.filter((r) => r < facts.live && !facts.failed.includes(r))
    if (!facts.live || candidates.length === 0) {
      throw new Error(
        `rollback: there is no earlier good release on the host (releases: ${facts.releases.join(', ') || 'none'})`
      )
    }
    return candidates[0]
  }
  if (s.source === null) {
    if (!facts.live)
      throw new Error(
        'source: none deploys configs for the live release, but the host has none yet'
      )
    return facts.live
  }
  await exec.run(uploadStep(s, newRelease), { stdin: archiveStream(s.source, s.exclude) })
  await exec.run(venvStep(s, newRelease))
  return newRelease
}

async function runGates(
  s: Settings,
  exec: Executor,
  target: string,
  files: ConfigFiles,
  report: HostReport
): Promise<string> {
  for (const step of [verifyUnitsStep(s, target, files), installConfigStep(s, files)]) {
    const gate: GateResult = { name: step.title, passed: false, output: '' }
    report.gates.push(gate)
    const result = await exec.run(step, { allowFailure: true })
    gate.output = (result.stdout + result.stderr).trim()
    if (result.code !== 0) {
      report.message =
        result.code === GATE_FAILED
          ? `Gate failed: ${step.title}. The previous files are back in place and nothing was restarted.\n${result.stderr.trim()}`
          : ''
      throw new StepError(step, result)
    }
    gate.passed = true
    if (step.id === 'nginx-t') return /^changed=(.*)$/m.exec(result.stdout)?.[1] ?? ''
  }
  return ''
}

async function rollBack(
  s: Settings,
  exec: Executor,
  failed: string,
  previous: string,
  files: ConfigFiles,
  report: HostReport
): Promise<void> {
  await exec.run(rollbackStep(s, failed, previous, files), { allowFailure: true })
  if (!previous) return
  const check = parseHealth((await exec.run(healthStep(s), { allowFailure: true })).stdout)
  if (check.healthy) report.status = 'rolled-back'
}

/** The public URL, from the runner, until healthy or health-timeout. */
async function checkPublicUrl(s: Settings): Promise<string> {
  const deadline = Date.now() + s.healthTimeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const response = await fetch(s.healthUrl as string, {
        redirect: 'manual',
        signal: AbortSignal.timeout(5000)
      })
      if (s.healthExpect.some((r) => response.status >= r.min && response.status <= r.max))
        return ''
      last = `${s.healthUrl} answered ${response.status}`
    } catch (error) {
      last = `${s.healthUrl} did not answer: ${(error as Error).message}`
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  return `health-url: ${last}`
}

async function dryRun(
  s: Settings,
  exec: Executor,
  facts: HostFacts,
  release: string,
  report: HostReport,
  log: StepLog
): Promise<void> {
  // Only reads: the live release's settings, the live files. No lock, no upload.
  const found = facts.live
    ? parseDjangoPaths((await exec.run(discoverStep(s, facts.live), { allowFailure: true })).stdout)
    : {}
  const files = configFiles(s, facts, sitePaths(s, facts.live || release, found))
  report.files = files
  const live = parseConfigFiles((await exec.run(readConfigStep(files))).stdout)
  report.diff = [files.socket, files.service, files.site]
    .map(({ path, text }) => {
      const before = live.get(path)
      if (before === text) return `${path}: unchanged`
      return createTwoFilesPatch(
        before === undefined ? '/dev/null' : path,
        path,
        before ?? '',
        text,
        'on the server',
        'this deploy'
      )
    })
    .join('\n')
  const plan: Step[] = [
    prepareStep(s),
    ...(s.source === null || s.rollback ? [] : [uploadStep(s, release), venvStep(s, release)]),
    ...(s.rollback ? [] : djangoSteps(s, release, found)),
    verifyUnitsStep(s, release, files),
    installConfigStep(s, files),
    switchStep(s, release, false),
    healthStep(s),
    pruneStep(s, s.keepReleases, release, facts.live)
  ]
  report.plan = plan.map((step) => step.title)
  log.info(
    `Dry run: nothing was changed. The plan:\n${plan.map((step, i) => `${i + 1}. ${step.title}`).join('\n')}`
  )
  log.info(report.diff)
  report.status = 'success'
  report.message = 'dry run: nothing was changed'
}
