// The deployment statuses a real deploy posts, run as a GitHub runner runs the action (main step,
// then post step), against a booted Debian host and a local stand-in for api.github.com that
// checks every request against GitHub's own OpenAPI description.
import { startGitHubServer, type GitHubServer } from '../contract/github-server.js'
import { githubApi } from '../contract/openapi.js'
import { runAction, runPost, type ActionRun } from './action.js'
import { breakUnderGunicorn, deployInputs, health, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

describe('GitHub deployment statuses of real deploys', () => {
  let host: TestHost
  /** a second host, for a rolling deploy */
  let other: TestHost
  let github: GitHubServer

  beforeAll(async () => {
    githubApi()
    ;[host, other] = await Promise.all([bootHost('gh-statuses'), bootHost('gh-statuses-2')])
  })
  afterAll(async () => {
    await Promise.all([host?.stop(), other?.stop()])
  })
  beforeEach(async () => {
    github = await startGitHubServer()
  })
  afterEach(async () => {
    await github?.close()
  })

  const inputs = (overrides: Record<string, string> = {}) =>
    deployInputs(host, { deployment: 'true', 'github-token': 'ghs_contracttoken', ...overrides })
  const env = () => ({ GITHUB_API_URL: github.url, GITHUB_SERVER_URL: 'https://github.com' })
  /** operationId and state of every request, in order */
  const calls = () =>
    github.requests.map((r) =>
      [r.operation, (r.body as { state?: string } | undefined)?.state].filter(Boolean).join(' ')
    )
  const everyRequestValid = () => {
    expect(github.requests.filter((r) => !r.valid)).toEqual([])
    expect(github.requests.flatMap((r) => r.answerErrors)).toEqual([])
  }
  const onlyDeployment = () => {
    expect(github.deployments.size).toBe(1)
    return [...github.deployments.values()][0]
  }

  test('a healthy deploy: created, in_progress, success; the deployment-id output names it', async () => {
    const { workspace } = workspaceWith('v1')
    const run = await runAction(inputs(), { workspace, env: env() })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect((await health(host)).release).toBe(run.outputs.release)

    everyRequestValid()
    expect(calls()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status in_progress',
      'repos/create-deployment-status success'
    ])
    const deployment = onlyDeployment()
    expect(run.outputs['deployment-id']).toBe(String(deployment.id))
    expect(deployment.ref).toBe('1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d')
    expect(deployment.environment).toBe('production')
    expect(github.requests.every((r) => r.pathParams.repo === 'mysite')).toBe(true)
    expect(
      github.requests
        .slice(1)
        .every((r) => r.pathParams.deployment_id === run.outputs['deployment-id'])
    ).toBe(true)
    const success = deployment.statuses[1]
    expect(success.description).toContain(run.outputs.release)
    expect(success.environment_url).toBe(`http://${host.address}`)
    expect(success.log_url).toBe('https://github.com/example/mysite/actions/runs/4242')

    // The post step sees a finished deployment and leaves it alone.
    const post = await runPost(inputs(), run, { workspace, env: env() })
    expect(post.code).toBe(0)
    expect(github.requests).toHaveLength(3)
  })

  test('a release that does not start: rolled back, and the deployment ends in failure', async () => {
    const { workspace, project } = workspaceWith('v2')
    breakUnderGunicorn(project)
    const run = await runAction(inputs({ 'health-timeout': '8' }), { workspace, env: env() })
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('rolled-back')

    everyRequestValid()
    expect(calls()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status in_progress',
      'repos/create-deployment-status failure'
    ])
    const deployment = onlyDeployment()
    expect(run.outputs['deployment-id']).toBe(String(deployment.id))
    expect(deployment.statuses[1].description).toMatch(/rolled-back/)
    expect(deployment.statuses[1].environment_url).toBeUndefined()
    expect((await health(host)).version).toBe('v1')
  })

  test('a deploy killed mid-way: the post step marks the deployment error', async () => {
    const { workspace } = workspaceWith('v3')
    const run: ActionRun = await runAction(inputs(), {
      workspace,
      env: env(),
      // As a cancelled job ends: the step's process is gone before it could report.
      onStdout: (text, child) => {
        if (/::group::Upload /.test(text)) child.kill('SIGKILL')
      }
    })
    expect(run.signal).toBe('SIGKILL')
    expect(calls()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status in_progress'
    ])
    const deployment = onlyDeployment()
    expect(run.state['deployment-id']).toBe(String(deployment.id))
    expect(run.state['deployment-final']).toBeUndefined()

    const post = await runPost(inputs(), run, { workspace, env: env() })
    expect(post.code).toBe(0)
    expect(post.stdout).not.toMatch(/::(warning|error)/)
    everyRequestValid()
    expect(deployment.statuses.map((s) => s.state)).toEqual(['in_progress', 'error'])
    expect(deployment.statuses[1].description).toMatch(/ended without reporting/)
  })

  test('a token without deployments: write: one warning, and the deploy succeeds', async () => {
    await github.close()
    github = await startGitHubServer({ forbidDeployments: true })
    const { workspace } = workspaceWith('v4')
    const run = await runAction(inputs(), { workspace, env: env() })
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    expect(run.outputs['deployment-id']).toBe('')
    const warnings = run.stdout.split('\n').filter((line) => line.startsWith('::warning'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('deployments: write')
    expect(calls()).toEqual(['repos/create-deployment'])
  })

  test('a rolling deploy to two hosts: progress after each host, then success', async () => {
    const { workspace } = workspaceWith('v5')
    const run = await runAction(
      inputs({
        host: `${host.address}\n${other.address}`,
        'known-hosts': `${host.knownHosts}\n${other.knownHosts}`
      }),
      { workspace, env: env() }
    )
    expect(run.code).toBe(0)
    everyRequestValid()
    const release = run.outputs.release
    expect(onlyDeployment().statuses.map((s) => `${s.state} ${s.description}`)).toEqual([
      `in_progress Deploying v1.0.0 to ${host.address}, ${other.address}`,
      `in_progress 1/2 hosts on ${release}`,
      `in_progress 2/2 hosts on ${release}`,
      `success Deployed ${release} to ${host.address}, ${other.address}`
    ])
  })
})
