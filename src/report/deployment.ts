// The only code that speaks to GitHub's REST API: the run's deployment and its statuses.
// Reporting never fails or stops a deploy: every API error becomes one warning, then silence.

import * as core from '@actions/core'
// Loaded when the first request is made: a deploy connects to its hosts before it needs it.
import type * as GitHub from '@actions/github'
import type { Settings } from '../settings.js'
// Types only: the post step's bundle must not pull in the settings and SSH code.
import type { HostReport } from './report.js'

export type FinalState = 'success' | 'failure'

export interface DeploymentReporter {
  /** The deployment's id once created; undefined when there is none. */
  readonly id: number | undefined
  /** Creates the deployment for the run's commit and marks it in progress. */
  start(): Promise<void>
  /** Another in-progress status: how far a rolling deploy has come. */
  progress(description: string): Promise<void>
  finish(state: FinalState, description: string): Promise<void>
}

/** Names under which the main step leaves the deployment to the post step (core.saveState). */
export const DeploymentState = { Id: 'deployment-id', Final: 'deployment-final' } as const

/** GitHub refuses longer descriptions with a 422. */
export const DESCRIPTION_MAX = 140
// Long enough for a slow API, short enough that an unreachable one costs the deploy little.
const REQUEST_TIMEOUT_MS = 20_000

/** One line of at most 140 characters (code points, as GitHub counts them). */
export function statusDescription(text: string): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim())
  return chars.length <= DESCRIPTION_MAX
    ? chars.join('')
    : `${chars.slice(0, DESCRIPTION_MAX - 1).join('')}…`
}

/** The final status for the run's host reports: a rolled-back deploy is a failed one. */
export function deploymentOutcome(reports: HostReport[]): [FinalState, string] {
  if (reports.length > 0 && reports.every((r) => r.status === 'success')) {
    const release = reports[0]?.release ?? ''
    return [
      'success',
      `Deployed ${release} to ${reports.map((r) => r.host).join(', ')}${processesNote(reports)}`
    ]
  }
  const failed = reports.find((r) => r.status !== 'success' && r.status !== 'skipped')
  const why = failed?.message.split('\n')[0] ?? ''
  return [
    'failure',
    (failed ? `${failed.host} ${failed.status}: ${why}` : 'Deploy failed') + processesNote(reports)
  ]
}

/** Which processes run which release, e.g. "; worker, beat on 20261125T081500Z-1a2b3c4". */
export function processesNote(reports: HostReport[]): string {
  const byRelease = new Map<string, Set<string>>()
  for (const r of reports)
    for (const p of r.processes ?? []) {
      if (p.state !== 'active') continue
      byRelease.set(p.release, (byRelease.get(p.release) ?? new Set()).add(p.name))
    }
  return [...byRelease]
    .map(([release, names]) => `; ${[...names].join(', ')} on ${release}`)
    .join('')
}

/** The in-progress text of a rolling deploy after a batch, e.g. "2/3 hosts on <release>". */
export function rolloutProgress(done: HostReport[], hostCount: number): string {
  const healthy = done.filter((r) => r.status === 'success')
  return `${healthy.length}/${hostCount} hosts on ${done[0]?.release ?? ''}`
}

export function createDeployments(
  s: Settings,
  env: NodeJS.ProcessEnv = process.env
): DeploymentReporter {
  const skip = reasonToSkip(s, env)
  if (skip) {
    if (s.deployment) core.info(`No GitHub deployment: ${skip}.`)
    return NO_DEPLOYMENT
  }
  return new GitHubDeployment(s, repositoryApi(s.githubToken, env), env)
}

function reasonToSkip(s: Settings, env: NodeJS.ProcessEnv): string {
  if (!s.deployment) return 'deployment is false'
  if (s.dryRun) return 'a dry run creates none'
  if (!s.githubToken) return 'github-token is empty'
  if (!REPOSITORY.test(env.GITHUB_REPOSITORY ?? '')) return 'GITHUB_REPOSITORY is not set'
  if (!env.GITHUB_SHA && !env.GITHUB_REF_NAME) return 'the run names no commit (GITHUB_SHA)'
  return ''
}

const REPOSITORY = /^[\w.-]+\/[\w.-]+$/

const NO_DEPLOYMENT: DeploymentReporter = {
  id: undefined,
  start: async () => {},
  progress: async () => {},
  finish: async () => {}
}

/** The client and the names every call needs. */
interface RepositoryApi {
  octokit: () => Promise<ReturnType<typeof GitHub.getOctokit>>
  owner: string
  repo: string
  /** the run's log page, linked from every status */
  logUrl: string
}

function repositoryApi(token: string, env: NodeJS.ProcessEnv): RepositoryApi {
  // @actions/github reads GITHUB_API_URL when it is first imported; passing it here also
  // honours a value set later (the tests' contract server).
  let client: Promise<ReturnType<typeof GitHub.getOctokit>> | undefined
  const octokit = () =>
    (client ??= import('@actions/github').then((github) =>
      github.getOctokit(token, { baseUrl: env.GITHUB_API_URL || 'https://api.github.com' })
    ))
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/')
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  return {
    octokit,
    owner,
    repo,
    logUrl: `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID ?? ''}`
  }
}

class GitHubDeployment implements DeploymentReporter {
  id: number | undefined
  /** set by the first failed call: later calls would fail the same way, each after a timeout */
  private stopped = false

  constructor(
    private readonly s: Settings,
    private readonly api: RepositoryApi,
    private readonly env: NodeJS.ProcessEnv
  ) {}

  async start(): Promise<void> {
    const { s, api, env } = this
    const refName = env.GITHUB_REF_NAME || env.GITHUB_SHA?.slice(0, 7) || ''
    const hosts = s.hosts.map((h) => h.name).join(', ')
    const production = s.environment === 'production'
    await this.call('create the deployment', async () => {
      const { data } = await (
        await api.octokit()
      ).rest.repos.createDeployment({
        owner: api.owner,
        repo: api.repo,
        // The commit itself: a tag or branch may move while the deploy runs.
        ref: env.GITHUB_SHA || (env.GITHUB_REF_NAME as string),
        auto_merge: false,
        // The workflow already decided to deploy; commit statuses are not GitHub's to check here.
        required_contexts: [],
        environment: s.environment,
        production_environment: production,
        transient_environment: !production,
        description: statusDescription(`${s.rollback ? 'Rollback' : 'Deploy'} of ${refName}`),
        task: s.rollback ? 'deploy:rollback' : 'deploy',
        request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
      })
      // 202 (an auto-merge answer) carries no deployment; auto_merge is off, but be sure.
      if (!('id' in data)) throw new Error(data.message ?? 'GitHub created no deployment')
      this.id = data.id
      core.saveState(DeploymentState.Id, String(data.id))
    })
    await this.status(
      'in_progress',
      `${s.rollback ? 'Rolling back' : 'Deploying'} ${refName} to ${hosts}`
    )
  }

  progress(description: string): Promise<void> {
    return this.status('in_progress', description)
  }

  async finish(state: FinalState, description: string): Promise<void> {
    if (this.id === undefined) return
    const url = state === 'success' && this.s.environmentUrl
    await this.status(state, description, url ? { environment_url: url } : {})
    // Reached even when the call failed: the post step is for a main step that never got here.
    core.saveState(DeploymentState.Final, 'true')
  }

  private async status(
    state: 'in_progress' | FinalState,
    description: string,
    extra: { environment_url?: string } = {}
  ): Promise<void> {
    const { api, id } = this
    if (id === undefined) return
    await this.call(`post the ${state} status`, () =>
      postStatus(api, id, state, description, extra)
    )
  }

  private async call(what: string, request: () => Promise<unknown>): Promise<void> {
    if (this.stopped) return
    try {
      await request()
    } catch (error) {
      this.stopped = true
      warnApiError(what, error)
    }
  }
}

async function postStatus(
  api: RepositoryApi,
  id: number,
  state: 'in_progress' | 'error' | 'inactive' | FinalState,
  description: string,
  extra: { environment_url?: string } = {}
): Promise<unknown> {
  return (await api.octokit()).rest.repos.createDeploymentStatus({
    owner: api.owner,
    repo: api.repo,
    deployment_id: id,
    state,
    description: statusDescription(description),
    log_url: api.logUrl,
    ...extra,
    request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
  })
}

/** 403 and 404 mean the token may not write deployments: say what to add to the workflow. */
function warnApiError(
  what: string,
  error: unknown,
  outcome = 'The deploy went on without a GitHub deployment status.'
): void {
  const status = (error as { status?: unknown }).status
  const message = error instanceof Error ? error.message : String(error)
  if (status === 403 || status === 404) {
    core.warning(
      `Could not ${what}: GitHub answered ${status} (${message}). The token may not write ` +
        'deployments. Give the job the permission in the workflow:\n' +
        `permissions:\n  contents: read\n  deployments: write\n${outcome}`,
      { title: 'No deployment status: add permissions: deployments: write' }
    )
  } else {
    core.warning(`Could not ${what} on GitHub (${message}). ${outcome}`, {
      title: 'Deployment status not posted'
    })
  }
}

/**
 * The post step: a deployment the main step created but never finished (the job was cancelled,
 * or the process was killed) is marked `error` instead of staying in progress for ever.
 */
export async function markUnfinishedDeployment(
  token: string,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  const id = Number(core.getState(DeploymentState.Id))
  if (!id || core.getState(DeploymentState.Final) === 'true') return
  if (!token || !REPOSITORY.test(env.GITHUB_REPOSITORY ?? '')) return
  try {
    await postStatus(
      repositoryApi(token, env),
      id,
      'error',
      'The deploy step ended without reporting (cancelled or killed)'
    )
    core.info(`Marked deployment ${id} as error: the deploy step ended without reporting.`)
  } catch (error) {
    warnApiError(
      `mark deployment ${id} as error`,
      error,
      'The deployment may still show as in progress.'
    )
  }
}

/**
 * remove: every deployment of the repository in the environment marked `inactive` (those whose
 * latest status is not inactive already), so GitHub no longer shows the project as deployed
 * there. Returns how many were marked; an API error is one warning, and the remove stands.
 */
export async function markDeploymentsInactive(
  s: Settings,
  env: NodeJS.ProcessEnv = process.env
): Promise<number> {
  const skip = s.deployment
    ? !s.githubToken
      ? 'github-token is empty'
      : !REPOSITORY.test(env.GITHUB_REPOSITORY ?? '')
        ? 'GITHUB_REPOSITORY is not set'
        : ''
    : 'deployment is false'
  if (skip) {
    core.info(`No GitHub deployment marked inactive: ${skip}.`)
    return 0
  }
  const api = repositoryApi(s.githubToken, env)
  let marked = 0
  try {
    const octokit = await api.octokit()
    const request = { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
    const deployments = await octokit.paginate(octokit.rest.repos.listDeployments, {
      owner: api.owner,
      repo: api.repo,
      environment: s.environment,
      per_page: 100,
      request
    })
    for (const deployment of deployments) {
      const { data: latest } = await octokit.rest.repos.listDeploymentStatuses({
        owner: api.owner,
        repo: api.repo,
        deployment_id: deployment.id,
        per_page: 1,
        request
      })
      if (latest[0]?.state === 'inactive') continue
      await postStatus(api, deployment.id, 'inactive', `Removed from ${s.environment}`)
      marked++
    }
    core.info(`Marked ${marked} GitHub deployments in ${s.environment} inactive.`)
  } catch (error) {
    warnApiError(
      `mark the deployments in ${s.environment} inactive`,
      error,
      `The project was removed; ${marked} deployments were marked inactive before the error.`
    )
  }
  return marked
}
