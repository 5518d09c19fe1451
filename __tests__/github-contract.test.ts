// The deployment reporter against a local server that checks every request against GitHub's own
// OpenAPI description (test/contract/github-server.ts), and that server's own checks.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jest } from '@jest/globals'
import {
  createDeployments,
  deploymentOutcome,
  markUnfinishedDeployment,
  rolloutProgress,
  statusDescription
} from '../src/report/deployment.js'
import type { HostReport } from '../src/report/report.js'
import { startGitHubServer, type GitHubServer } from '../test/contract/github-server.js'
import { githubApi } from '../test/contract/openapi.js'
import { settingsFor } from './settings-fixture.js'

const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d'
let server: GitHubServer
let stdout: string
let stateFile: string

const runEnv = (): NodeJS.ProcessEnv => ({
  GITHUB_API_URL: server.url,
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'example/mysite',
  GITHUB_SHA: SHA,
  GITHUB_REF_NAME: 'v1.0.0',
  GITHUB_RUN_ID: '4242'
})

/** What the action saved for its post step (the GITHUB_STATE file). */
const savedState = () => readFileSync(stateFile, 'utf8')
const warnings = () => stdout.split('\n').filter((line) => line.startsWith('::warning'))

beforeAll(() => githubApi(), 60_000)

beforeEach(async () => {
  server = await startGitHubServer()
  stdout = ''
  // @actions/core writes workflow commands (::warning::) to stdout.
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString()
    return true
  })
  stateFile = join(mkdtempSync(join(tmpdir(), 'dda-state-')), 'state')
  writeFileSync(stateFile, '')
  process.env.GITHUB_STATE = stateFile
})

afterEach(async () => {
  jest.restoreAllMocks()
  delete process.env.GITHUB_STATE
  await server.close()
})

const operations = () => server.requests.map((r) => `${r.operation} ${r.status}`)
const states = (id: number) => server.deployments.get(id)?.statuses.map((s) => s.state)

describe('the deployment reporter against GitHub’s description', () => {
  test('a deploy: create the deployment, in_progress, success; every request valid', async () => {
    const deployment = createDeployments(settingsFor(), runEnv())
    await deployment.start()
    await deployment.finish('success', 'Deployed 20261125T081500Z-1a2b3c4 to app1.example.com')

    expect(operations()).toEqual([
      'repos/create-deployment 201',
      'repos/create-deployment-status 201',
      'repos/create-deployment-status 201'
    ])
    expect(server.requests.filter((r) => !r.valid)).toEqual([])
    expect(server.requests.flatMap((r) => r.answerErrors)).toEqual([])
    expect(deployment.id).toBe([...server.deployments.keys()][0])
    const [create, progress, success] = server.requests.map(
      (r) => r.body as Record<string, unknown>
    )
    expect(create).toEqual({
      ref: SHA,
      auto_merge: false,
      required_contexts: [],
      environment: 'production',
      production_environment: true,
      transient_environment: false,
      description: 'Deploy of v1.0.0',
      task: 'deploy'
    })
    expect(progress).toMatchObject({ state: 'in_progress' })
    expect(progress.description).toContain('app1.example.com')
    expect(success).toEqual({
      state: 'success',
      description: 'Deployed 20261125T081500Z-1a2b3c4 to app1.example.com',
      environment_url: 'http://example.com',
      log_url: 'https://github.com/example/mysite/actions/runs/4242'
    })
    expect(server.requests[0].headers.authorization).toBe('token token')
    expect(savedState()).toContain(`deployment-id<<`)
    expect(savedState()).toContain(`\n${deployment.id}\n`)
    expect(savedState()).toMatch(/deployment-final<<.*\ntrue\n/)
    expect(warnings()).toEqual([])
  })

  test('a failed deploy ends in failure, without an environment URL', async () => {
    const deployment = createDeployments(settingsFor({ environment: 'staging' }), runEnv())
    await deployment.start()
    await deployment.finish('failure', 'app1.example.com rolled-back: the health check got 500')
    expect(server.requests.every((r) => r.valid)).toBe(true)
    expect(states(deployment.id as number)).toEqual(['in_progress', 'failure'])
    const create = server.requests[0].body as Record<string, unknown>
    expect(create).toMatchObject({
      environment: 'staging',
      production_environment: false,
      transient_environment: true
    })
    const final = server.requests[2].body as Record<string, unknown>
    expect(final.environment_url).toBeUndefined()
    expect(final.log_url).toBe('https://github.com/example/mysite/actions/runs/4242')
  })

  test('a rolling deploy posts its progress; long descriptions are cut to 140 characters', async () => {
    const deployment = createDeployments(settingsFor(), runEnv())
    await deployment.start()
    const long = `2/3 hosts on 20261125T081500Z-1a2b3c4 ${'é'.repeat(300)}`
    await deployment.progress(long)
    await deployment.finish('failure', `app2 failure: ${'x'.repeat(500)}\nsecond line`)
    // The server refuses a description over 140 characters, as GitHub does.
    expect(server.requests.filter((r) => !r.valid)).toEqual([])
    const statuses = server.deployments.get(deployment.id as number)?.statuses ?? []
    expect(statuses.map((s) => s.state)).toEqual(['in_progress', 'in_progress', 'failure'])
    expect(Array.from(statuses[1].description ?? '')).toHaveLength(140)
    expect(statuses[1].description).toMatch(/^2\/3 hosts on 20261125T081500Z-1a2b3c4 é+…$/)
    expect(statuses[2].description).not.toContain('\n')
  })

  test('a 403 (no deployments: write) is one warning that says what to add, and no error', async () => {
    await server.close()
    server = await startGitHubServer({ forbidDeployments: true })
    const deployment = createDeployments(settingsFor(), runEnv())
    await expect(deployment.start()).resolves.toBeUndefined()
    await deployment.progress('1/2 hosts on r1')
    await expect(deployment.finish('success', 'Deployed r1')).resolves.toBeUndefined()

    expect(deployment.id).toBeUndefined()
    expect(operations()).toEqual(['repos/create-deployment 403'])
    expect(server.requests[0].valid).toBe(true)
    expect(warnings()).toHaveLength(1)
    const warning = warnings()[0].replace(/%0A/g, '\n')
    expect(warning).toContain('403')
    expect(warning).toContain('permissions:\n  contents: read\n  deployments: write')
    expect(savedState()).toBe('')
  })

  test('an API that does not answer is a warning too, and the deploy goes on', async () => {
    const env = { ...runEnv(), GITHUB_API_URL: 'http://127.0.0.1:9' }
    const deployment = createDeployments(settingsFor(), env)
    await deployment.start()
    await deployment.finish('success', 'Deployed r1')
    expect(deployment.id).toBeUndefined()
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('Could not create the deployment')
  })

  test('deployment: false, a dry run, no token or no repository: nothing is sent', async () => {
    const cases = [
      createDeployments(settingsFor({ deployment: false }), runEnv()),
      createDeployments(settingsFor({ dryRun: true }), runEnv()),
      createDeployments(settingsFor({ githubToken: '' }), runEnv()),
      createDeployments(settingsFor(), { ...runEnv(), GITHUB_REPOSITORY: '' })
    ]
    for (const deployment of cases) {
      await deployment.start()
      await deployment.progress('1/2 hosts')
      await deployment.finish('success', 'done')
      expect(deployment.id).toBeUndefined()
    }
    expect(server.requests).toEqual([])
    expect(warnings()).toEqual([])
    // Said once each where a deployment was asked for; nothing when it was turned off.
    expect(stdout).not.toContain('deployment is false')
    expect(stdout).toContain('No GitHub deployment: a dry run creates none.')
    expect(stdout).toContain('No GitHub deployment: github-token is empty.')
    expect(stdout).toContain('No GitHub deployment: GITHUB_REPOSITORY is not set.')
  })
})

describe('the post step', () => {
  const withState = async (state: Record<string, string>, body: () => Promise<void>) => {
    for (const [name, value] of Object.entries(state)) process.env[`STATE_${name}`] = value
    try {
      await body()
    } finally {
      for (const name of Object.keys(state)) delete process.env[`STATE_${name}`]
    }
  }

  test('marks a deployment the main step never finished as error', async () => {
    const deployment = createDeployments(settingsFor(), runEnv())
    await deployment.start()
    await withState({ 'deployment-id': String(deployment.id) }, () =>
      markUnfinishedDeployment('token', runEnv())
    )
    expect(server.requests.every((r) => r.valid)).toBe(true)
    expect(states(deployment.id as number)).toEqual(['in_progress', 'error'])
    expect(server.deployments.get(deployment.id as number)?.statuses[1].description).toMatch(
      /ended without reporting/
    )
  })

  test('leaves a finished deployment, and a run without one, alone', async () => {
    await withState({ 'deployment-id': '1000001', 'deployment-final': 'true' }, () =>
      markUnfinishedDeployment('token', runEnv())
    )
    await withState({}, () => markUnfinishedDeployment('token', runEnv()))
    expect(server.requests).toEqual([])
  })

  test('a failing API is a warning, never an error', async () => {
    await withState({ 'deployment-id': '999' }, () =>
      expect(markUnfinishedDeployment('token', runEnv())).resolves.toBeUndefined()
    )
    expect(operations()).toEqual(['repos/create-deployment-status 404'])
    expect(warnings()).toHaveLength(1)
  })
})

describe('the contract server refuses what GitHub refuses', () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: 'token t', 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body)
    })

  test('a deployment without ref', async () => {
    const response = await post('/repos/example/mysite/deployments', { environment: 'production' })
    expect(response.status).toBe(422)
    expect(server.requests[0]).toMatchObject({ operation: 'repos/create-deployment', valid: false })
    expect(server.requests[0].errors.join('\n')).toMatch(/required property 'ref'/)
  })

  test('a wrong type, an unknown state, a misspelt field, no token, an unknown path', async () => {
    await post('/repos/example/mysite/deployments', { ref: 'main', auto_merge: 'no' })
    await post('/repos/example/mysite/deployments', { ref: 'main', enviroment: 'production' })
    await post('/repos/example/mysite/deployments/1/statuses', { state: 'done' })
    await post('/repos/example/mysite/deployments', { ref: 'main' }, { authorization: '' })
    await post('/repos/example/mysite/deployment', { ref: 'main' })
    await post('/repos/example/mysite/deployments/abc/statuses', { state: 'success' })
    const errors = server.requests.map((r) => r.errors.join('; '))
    expect(server.requests.map((r) => r.valid)).toEqual([false, false, false, false, false, false])
    expect(errors[0]).toMatch(/body\/auto_merge must be boolean/)
    expect(errors[1]).toMatch(/field enviroment is not in the description/)
    expect(errors[2]).toMatch(/body\/state must be equal to one of the allowed values/)
    expect(errors[3]).toMatch(/no Authorization header/)
    expect(errors[4]).toMatch(/is no operation in GitHub's description/)
    expect(errors[5]).toMatch(/path parameter deployment_id must be integer/)
  })

  test('a status description over 140 characters', async () => {
    await post('/repos/example/mysite/deployments', { ref: 'main' })
    const response = await post('/repos/example/mysite/deployments/1000001/statuses', {
      state: 'success',
      description: 'x'.repeat(141)
    })
    expect(response.status).toBe(422)
    expect(server.requests[1].errors).toEqual([
      'body/description is too long (maximum is 140 characters)'
    ])
  })
})

describe('what the statuses say', () => {
  const report = (host: string, status: HostReport['status'], message = ''): HostReport => ({
    host,
    release: '20261125T081500Z-1a2b3c4',
    previousRelease: '',
    status,
    gates: [],
    phaseMs: {},
    durationMs: 0,
    message
  })

  test('success names the release and the hosts; failure the first host that failed', () => {
    expect(deploymentOutcome([report('app1', 'success'), report('app2', 'success')])).toEqual([
      'success',
      'Deployed 20261125T081500Z-1a2b3c4 to app1, app2'
    ])
    expect(
      deploymentOutcome([
        report('app1', 'success'),
        report('app2', 'rolled-back', 'r was not healthy: 500.\nThe app said: boom'),
        report('app3', 'skipped')
      ])
    ).toEqual(['failure', 'app2 rolled-back: r was not healthy: 500.'])
    expect(deploymentOutcome([])[0]).toBe('failure')
  })

  test('progress counts the healthy hosts', () => {
    expect(rolloutProgress([report('app1', 'success'), report('app2', 'success')], 3)).toBe(
      '2/3 hosts on 20261125T081500Z-1a2b3c4'
    )
  })

  test('descriptions are one line of at most 140 characters', () => {
    expect(statusDescription('a\n b\tc ')).toBe('a b c')
    expect(statusDescription('x'.repeat(140))).toBe('x'.repeat(140))
    expect(statusDescription('x'.repeat(141))).toBe(`${'x'.repeat(139)}…`)
    expect(Array.from(statusDescription('😀'.repeat(200)))).toHaveLength(140)
  })
})
