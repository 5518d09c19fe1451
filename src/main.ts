import * as core from '@actions/core'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
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
  markFailedStep,
  installConfigStep,
  parseConfigFiles,
  parseDjangoPaths,
  parseFacts,
  parseErrors,
  parseHealth,
  postDeployStep,
  prepareStep,
  pruneStep,
  readConfigStep,
  releaseClock,
  rollbackStep,
  sitePaths,
  switchStep,
  uploadStep,
  venvKey,
  venvStep,
  verifyUnitsStep,
  type ConfigFiles,
  type DjangoPaths,
  type HealthResult,
  type HostFacts,
  type Step
} from './plan.js'
import { Output } from './constants.js'
import { archiveStream } from './remote/archive.js'
import { SshTransport, type Transport } from './remote/connection.js'
import { Executor, StepError, type StepLog } from './remote/executor.js'
import { acquireLock } from './remote/lock.js'
import { createRollout, rollOut, type Rollout } from './rollout.js'
import { createDeployments, deploymentOutcome, rolloutProgress } from './report/deployment.js'
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
  const rollout = createRollout(settings.hosts, releaseClock(context.sha))
  const deployment = createDeployments(settings)
  await deployment.start()
  core.setOutput(Output.DeploymentId, deployment.id ?? '')
  const reports = await rollOut(
    settings.hosts,
    settings.maxParallel,
    (host) => deployHost(settings, host, rollout, context),
    notReached,
    async (done) => {
      if (settings.hosts.length > 1)
        await deployment.progress(rolloutProgress(done, settings.hosts.length))
    }
  )
  await deployment.finish(...deploymentOutcome(reports))
  await writeReport(settings, reports)
}

function notReached(host: HostAddress): HostReport {
  return {
    ...emptyReport(host),
    status: 'skipped',
    message: 'not deployed: an earlier host failed'
  }
}

function emptyReport(host: HostAddress): HostReport {
  return {
    host: host.port === 22 ? host.name : `${host.name}:${host.port}`,
    release: '',
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
  const info = (message: string) => core.info(prefix + message.split('\n').join(`\n${prefix}`))
  return {
    info,
    // Hosts deployed at once would interleave their groups: there every line names its host.
    group: multiple
      ? async (title, body) => {
          info(`▶ ${title}`)
          return body()
        }
      : (title, body) => core.group(title, body)
  }
}

/** One host, in the order of DESIGN.md: lock, release, gates, switch, health, rollback, prune. */
export async function deployHost(
  s: Settings,
  host: HostAddress,
  rollout: Rollout,
  context: RunContext,
  connect: (s: Settings, host: HostAddress) => Promise<Transport> = SshTransport.connect
): Promise<HostReport> {
  const report = emptyReport(host)
  const started = Date.now()
  const log = hostLog(report.host, s.hosts.length > 1)
  let transport: Transport | undefined
  let exec: Executor | undefined
  try {
    transport = await connect(s, host)
    exec = new Executor(transport, log)
    exec.phaseMs.set('connect', Date.now() - started)
    const facts = parseFacts((await exec.run(inspectStep(s))).stdout)
    report.previousRelease = facts.live
    if (s.dryRun) await dryRun(s, exec, facts, rollout.nextRelease(), report, log)
    else await deploy(s, exec, transport, facts, rollout, host, context, report, log)
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
    // The other hosts must never wait on a first host that stopped before its migrations.
    if (rollout.isFirst(host)) {
      rollout.migrated(
        report.status === 'success' ? undefined : new Error(`stopped: ${report.host} failed`)
      )
    }
    if (exec) report.phaseMs = Object.fromEntries(exec.phaseMs)
    report.durationMs = Date.now() - started
  }
  return report
}

async function deploy(
  s: Settings,
  exec: Executor,
  transport: Transport,
  facts: HostFacts,
  rollout: Rollout,
  host: HostAddress,
  context: RunContext,
  report: HostReport,
  log: StepLog
): Promise<void> {
  const lock = await acquireLock(transport, s, context.holder, s.lockWaitMs / 1000, (holder) =>
    log.info(`Waiting for the deploy lock, held by ${holder}`)
  )
  if (lock.staleHolder) {
    core.warning(
      `Took over the deploy lock left by a run that ended without releasing it: ${lock.staleHolder}`
    )
  }
  try {
    const newRelease = rollout.nextRelease()
    await exec.run(prepareStep(s))
    if (s.dotenv.length > 0) await exec.run(dotenvStep(s), { stdin: dotenvText(s) })

    const target = await releaseToServe(s, exec, facts, newRelease)
    report.release = target
    let files: ConfigFiles
    let socketChanged: boolean
    try {
      const found = parseDjangoPaths((await exec.run(discoverStep(s, target))).stdout)
      warnAboutMedia(s, target, found)
      if (target === newRelease) await runDjangoSteps(s, exec, rollout, host, target, found, log)
      else if (rollout.isFirst(host)) rollout.migrated()
      files = configFiles(s, facts, sitePaths(s, target, found), found)
      report.files = files
      const changed = await runGates(s, exec, target, files, report)
      socketChanged = changed.includes(files.socket.path.split('/').pop() ?? '')
    } catch (error) {
      // Nothing was switched; the new release stays for inspection, marked so it is never
      // chosen by a rollback.
      if (target === newRelease) await exec.run(markFailedStep(s, target), { allowFailure: true })
      throw error
    }

    // From the switch on, any failure puts the previous release back.
    let health: HealthResult
    try {
      await exec.run(switchStep(s, target, socketChanged))
      health = parseHealth((await exec.run(healthStep(s), { allowFailure: true })).stdout)
    } catch (error) {
      health = { healthy: false, status: 0, durationMs: 0, detail: (error as Error).message }
    }
    report.httpStatus = health.status
    report.healthDurationMs = health.durationMs
    const publicProblem = health.healthy && s.healthUrl ? await checkPublicUrl(s) : ''
    if (!health.healthy || publicProblem) {
      const diagnostics = (await exec.run(diagnosticsStep(s), { allowFailure: true })).stdout
      report.diagnostics = diagnostics
      const cause =
        publicProblem ||
        `the health check got ${health.status || 'no answer'}${health.detail ? ` (${health.detail})` : ''} from ${s.healthPath} within ${s.healthTimeoutMs / 1000} s`
      await rollBack(s, exec, target, facts.live, files, report)
      const errors = parseErrors(diagnostics)
      report.message =
        `${target} was not healthy: ${cause}.${rollbackNote(report)}` +
        (errors.length ? `\nThe app said: ${errors.join('\n')}` : '')
      throw new Error(report.message)
    }
    if (s.postDeploy) await exec.run(postDeployStep(s, target))
    await exec.run(pruneStep(s, s.keepReleases, target, facts.live === target ? '' : facts.live))
    report.status = 'success'
  } finally {
    await lock.release()
  }
}

/** Uploads kept inside a release are gone with the next deploy: say so while it is cheap. */
function warnAboutMedia(s: Settings, release: string, found: DjangoPaths): void {
  const folder = `${s.deployPath}/releases/${release}`
  if (found.mediaRoot && (found.mediaRoot + '/').startsWith(`${folder}/`)) {
    core.warning(
      `MEDIA_ROOT (${found.mediaRoot}) is inside the release folder: files uploaded there are lost ` +
        `with the next deploy. Point it at ${s.deployPath}/shared/media (for example from an ` +
        'environment variable set in dotenv).',
      { title: 'Media would not survive a deploy' }
    )
  }
}

/**
 * Migrations never run on two hosts at once: the first host runs its Django steps before any
 * other host starts its own (with a shared database theirs are then no-ops).
 */
async function runDjangoSteps(
  s: Settings,
  exec: Executor,
  rollout: Rollout,
  host: HostAddress,
  release: string,
  found: DjangoPaths,
  log: StepLog
): Promise<void> {
  if (!rollout.isFirst(host)) {
    log.info('Waiting for the first host to finish its migrations')
    await rollout.firstMigration
    return exec.runAll(djangoSteps(s, release, found))
  }
  try {
    await exec.runAll(djangoSteps(s, release, found))
    rollout.migrated()
  } catch (error) {
    rollout.migrated(new Error(`stopped: the first host could not run its Django steps`))
    throw error
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
  await exec.run(venvStep(s, newRelease, releaseVenvKey(s, facts)))
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
  // With `source: none` the release stays; only its new files go.
  if (failed !== previous) await exec.run(markFailedStep(s, failed), { allowFailure: true })
  await exec.run(rollbackStep(s, previous, files), { allowFailure: true })
  if (!previous) return
  const check = parseHealth((await exec.run(healthStep(s), { allowFailure: true })).stdout)
  if (check.healthy) report.status = 'rolled-back'
}

function releaseVenvKey(s: Settings, facts: HostFacts): string | null {
  const files = s.source === null ? null : requirementsFiles(s.source, s.requirements)
  return venvKey(files, facts.python, s.systemSitePackages)
}

/**
 * The requirements file and the files it includes (-r, -c), read on the runner for the venv's
 * key; null when there is none.
 */
function requirementsFiles(
  source: string,
  requirements: string
): Array<{ path: string; text: string }> | null {
  const files: Array<{ path: string; text: string }> = []
  const visit = (path: string) => {
    if (files.some((f) => f.path === path) || files.length > 50 || !existsSync(join(source, path)))
      return
    const text = readFileSync(join(source, path), 'utf8')
    files.push({ path, text })
    for (const match of text.matchAll(/^\s*(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)/gm)) {
      visit(normalize(join(dirname(path), match[1])))
    }
  }
  visit(requirements)
  return files.length > 0 ? files : null
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
  const files = configFiles(s, facts, sitePaths(s, facts.live || release, found), found)
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
    ...(s.source === null || s.rollback
      ? []
      : [uploadStep(s, release), venvStep(s, release, releaseVenvKey(s, facts))]),
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
