// A stand-in for api.github.com on 127.0.0.1, reached through GITHUB_API_URL. Every request is
// checked against GitHub's own OpenAPI description and recorded; the deployment endpoints answer
// as GitHub does (and their answers are checked against the description too).

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { githubApi, type Match } from './openapi.js'

export interface RecordedRequest {
  method: string
  /** without the query */
  path: string
  /** the description's operationId, e.g. repos/create-deployment; '' when no operation matched */
  operation: string
  pathParams: Record<string, string>
  headers: IncomingHttpHeaders
  body: unknown
  /** what breaks GitHub's description or GitHub's rules; empty when the request is valid */
  errors: string[]
  valid: boolean
  /** the status this server answered */
  status: number
  /** what is wrong with this server's own answer (a bug here, not in the action) */
  answerErrors: string[]
}

export interface DeploymentStatusRecord {
  state: string
  description?: string
  environment_url?: string
  log_url?: string
  auto_inactive?: boolean
}

export interface DeploymentRecord {
  id: number
  ref: string
  environment: string
  request: Record<string, unknown>
  statuses: DeploymentStatusRecord[]
}

export interface GitHubServerOptions {
  /** answer 403, as GitHub does for a token without `deployments: write` */
  forbidDeployments?: boolean
}

export interface GitHubServer {
  /** for GITHUB_API_URL */
  url: string
  requests: RecordedRequest[]
  deployments: Map<number, DeploymentRecord>
  close(): Promise<void>
}

/** GitHub's limit on a status description (its 422 says "description is too long"). */
const DESCRIPTION_MAX = 140
const DOCS = 'https://docs.github.com/rest/deployments'

interface Answer {
  status: number
  body: Record<string, unknown> | Array<Record<string, unknown>>
}

export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<GitHubServer> {
  const api = githubApi()
  const requests: RecordedRequest[] = []
  const deployments = new Map<number, DeploymentRecord>()
  let nextDeploymentId = 1_000_001
  let nextStatusId = 1
  let base = ''

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base)
      const method = req.method ?? 'GET'
      const record: RecordedRequest = {
        method,
        path: url.pathname,
        operation: '',
        pathParams: {},
        headers: req.headers,
        body: undefined,
        errors: [],
        valid: false,
        status: 0,
        answerErrors: []
      }
      requests.push(record)
      const answer = handle(record, url, Buffer.concat(chunks).toString('utf8'))
      record.status = answer.status
      record.valid = record.errors.length === 0
      send(res, answer)
    })
  })

  function handle(record: RecordedRequest, url: URL, text: string): Answer {
    const match = api.find(record.method, record.path)
    if (!match) {
      record.errors.push(`${record.method} ${record.path} is no operation in GitHub's description`)
      return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } }
    }
    record.operation = match.operation.id
    record.pathParams = match.pathParams
    if (!/^(token|Bearer) \S+$/.test(record.headers.authorization ?? ''))
      record.errors.push('no Authorization header with a token')
    if (text !== '') {
      if (!/^application\/json\b/.test(record.headers['content-type'] ?? ''))
        record.errors.push('a body without Content-Type: application/json')
      try {
        record.body = JSON.parse(text)
      } catch {
        record.errors.push('the body is not JSON')
        return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: DOCS } }
      }
    }
    record.errors.push(...api.requestErrors(match, url.searchParams, record.body))
    record.errors.push(...githubRules(match, record.body))
    if (record.errors.length > 0) {
      return {
        status: 422,
        body: {
          message: 'Validation Failed',
          errors: record.errors.map((message) => ({ code: 'invalid', message })),
          documentation_url: DOCS
        }
      }
    }
    const answer = respond(match, record.body as Record<string, unknown>, url.searchParams)
    if (answer.status < 300)
      record.answerErrors = api.responseErrors(match.operation, answer.status, answer.body)
    return answer
  }

  /** The deployment endpoints, as GitHub answers them; anything else is not served here. */
  function respond(match: Match, body: Record<string, unknown>, query: URLSearchParams): Answer {
    const { owner, repo, deployment_id } = match.pathParams
    const repository = `${base}/repos/${owner}/${repo}`
    const now = new Date().toISOString()
    if (options.forbidDeployments && match.operation.id.startsWith('repos/create-deployment'))
      return {
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: DOCS,
          status: '403'
        }
      }
    if (match.operation.id === 'repos/create-deployment') {
      const id = nextDeploymentId++
      const environment = String(body.environment ?? 'production')
      deployments.set(id, {
        id,
        ref: String(body.ref),
        environment,
        request: body,
        statuses: []
      })
      const ref = String(body.ref)
      return {
        status: 201,
        body: {
          url: `${repository}/deployments/${id}`,
          id,
          node_id: `DE_kwDO${id}`,
          sha: /^[0-9a-f]{40}$/.test(ref) ? ref : '0'.repeat(40),
          ref,
          task: body.task ?? 'deploy',
          payload: body.payload ?? {},
          original_environment: environment,
          environment,
          description: body.description ?? null,
          creator: null,
          created_at: now,
          updated_at: now,
          statuses_url: `${repository}/deployments/${id}/statuses`,
          repository_url: repository,
          transient_environment: body.transient_environment ?? false,
          production_environment: body.production_environment ?? environment === 'production'
        }
      }
    }
    if (match.operation.id === 'repos/create-deployment-status') {
      const deployment = deployments.get(Number(deployment_id))
      if (!deployment)
        return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } }
      deployment.statuses.push(body as unknown as DeploymentStatusRecord)
      const id = nextStatusId++
      const deploymentUrl = `${repository}/deployments/${deployment.id}`
      return {
        status: 201,
        body: {
          url: `${deploymentUrl}/statuses/${id}`,
          id,
          node_id: `DES_kwDO${id}`,
          state: body.state,
          creator: null,
          description: body.description ?? '',
          environment: body.environment ?? deployment.environment,
          target_url: body.log_url ?? body.target_url ?? deploymentUrl,
          created_at: now,
          updated_at: now,
          deployment_url: deploymentUrl,
          repository_url: repository,
          ...(body.environment_url ? { environment_url: body.environment_url } : {}),
          ...(body.log_url ? { log_url: body.log_url } : {})
        }
      }
    }
    if (match.operation.id === 'repos/list-deployments') {
      const environment = query.get('environment')
      const listed = [...deployments.values()]
        .filter((d) => environment === null || d.environment === environment)
        .reverse()
      return { status: 200, body: listed.map((d) => deploymentBody(d, repository)) }
    }
    if (match.operation.id === 'repos/list-deployment-statuses') {
      const deployment = deployments.get(Number(deployment_id))
      if (!deployment)
        return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } }
      const perPage = Number(query.get('per_page') ?? 30)
      const statuses = deployment.statuses
        .map((status, i) => statusBody(repository, deployment, status, i + 1))
        .reverse()
        .slice(0, perPage)
      return { status: 200, body: statuses }
    }
    return {
      status: 501,
      body: { message: `${match.operation.id} is not served by the contract server` }
    }
  }

  /** A deployment as GitHub lists it. */
  function deploymentBody(d: DeploymentRecord, repository: string): Record<string, unknown> {
    const at = new Date(0).toISOString()
    return {
      url: `${repository}/deployments/${d.id}`,
      id: d.id,
      node_id: `DE_kwDO${d.id}`,
      sha: /^[0-9a-f]{40}$/.test(d.ref) ? d.ref : '0'.repeat(40),
      ref: d.ref,
      task: 'deploy',
      payload: {},
      original_environment: d.environment,
      environment: d.environment,
      description: null,
      creator: null,
      created_at: at,
      updated_at: at,
      statuses_url: `${repository}/deployments/${d.id}/statuses`,
      repository_url: repository,
      transient_environment: false,
      production_environment: d.environment === 'production'
    }
  }

  /** A deployment status as GitHub lists it. */
  function statusBody(
    repository: string,
    d: DeploymentRecord,
    status: DeploymentStatusRecord,
    id: number
  ): Record<string, unknown> {
    const deploymentUrl = `${repository}/deployments/${d.id}`
    const at = new Date(0).toISOString()
    return {
      url: `${deploymentUrl}/statuses/${id}`,
      id,
      node_id: `DES_kwDO${id}`,
      state: status.state,
      creator: null,
      description: status.description ?? '',
      environment: d.environment,
      target_url: status.log_url ?? deploymentUrl,
      created_at: at,
      updated_at: at,
      deployment_url: deploymentUrl,
      repository_url: repository
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: base,
    requests,
    deployments,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** What GitHub refuses beyond its description. */
function githubRules(match: Match, body: unknown): string[] {
  const description = (body as { description?: unknown } | undefined)?.description
  if (
    match.operation.id === 'repos/create-deployment-status' &&
    typeof description === 'string' &&
    Array.from(description).length > DESCRIPTION_MAX
  )
    return [`body/description is too long (maximum is ${DESCRIPTION_MAX} characters)`]
  return []
}

function send(res: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body)
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-github-media-type': 'github.v3; format=json'
  })
  res.end(text)
}
