// The cutover without a gap (issue 19): each deploy under keep-alive load through nginx, every
// answer kept in order. The new release starts in the idle instance and answers on its own socket
// before it gets a request; traffic moves by one rename; the old instance drains and stops; a
// failure moves traffic back to the old instance, still running. One host through a history:
// the upgrade from an earlier version's single instance, a deploy, a broken release, a rollback
// after the switch, and rollback: true.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { ROOT, runAction, type ActionRun } from './action.js'
import { activeStates, breakUnderGunicorn, deployInputs, health, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const releases: Record<string, string> = {}

beforeAll(async () => {
  host = await bootHost('cutover')
})
afterAll(async () => {
  await host?.stop()
})

/** One request's answer: the version that served it, or the error (status 0). */
interface Answer {
  /** the keep-alive connection (its requests go one after the other) */
  connection: number
  status: number
  version: string
  error?: string
}

/** Keep-alive connections through nginx that request /healthz back to back while `during` runs. */
async function underLoad<T>(during: () => Promise<T>): Promise<{ result: T; answers: Answer[] }> {
  const CONNECTIONS = 4
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const answers: Answer[] = []
  let done = false
  const once = (connection: number) =>
    new Promise<Answer>((resolve) => {
      const req = request(
        { host: host.address, port: 80, path: '/healthz', agent, timeout: 10000 },
        (res) => {
          let text = ''
          res.on('data', (chunk: Buffer) => (text += chunk.toString()))
          res.on('end', () => {
            let version = ''
            try {
              version = JSON.parse(text).version
            } catch {
              // not the app's answer
            }
            resolve({ connection, status: res.statusCode ?? 0, version })
          })
        }
      )
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (error) =>
        resolve({ connection, status: 0, version: '', error: error.message })
      )
      req.end()
    })
  const loops = Array.from({ length: CONNECTIONS }, async (_, connection) => {
    while (!done) {
      answers.push(await once(connection))
      await new Promise((r) => setTimeout(r, 5))
    }
  })
  try {
    // Load before, during and after the deploy.
    await new Promise((r) => setTimeout(r, 500))
    const result = await during()
    await new Promise((r) => setTimeout(r, 500))
    return { result, answers }
  } finally {
    done = true
    await Promise.all(loops)
    agent.destroy()
  }
}

async function deploy(
  version: string,
  inputs: Record<string, string> = {},
  change?: (project: string) => void
): Promise<{ run: ActionRun; answers: Answer[] }> {
  const { workspace, project } = workspaceWith(version)
  change?.(project)
  const { result: run, answers } = await underLoad(() =>
    runAction(deployInputs(host, inputs), { workspace })
  )
  if (run.outputs.release) releases[version] = run.outputs.release
  return { run, answers }
}

const failed = (answers: Answer[]) => answers.filter((a) => a.status !== 200)
/**
 * The versions each connection saw, in the order it saw them, each run of one version once (a
 * connection's requests go one after the other: its order is the order of events). The distinct
 * sequences, e.g. [['v1', 'v2']] when every connection saw v1, then v2.
 */
function sequences(answers: Answer[]): string[][] {
  const seen = new Map<number, string[]>()
  for (const { connection, version } of answers) {
    const versions = seen.get(connection) ?? []
    if (versions[versions.length - 1] !== version) versions.push(version)
    seen.set(connection, versions)
  }
  const distinct = new Set([...seen.values()].map((versions) => JSON.stringify(versions)))
  return [...distinct].map((json) => JSON.parse(json) as string[])
}

const sh = async (cmd: string) => (await host.exec(cmd)).stdout.trim()
const mainPid = (unit: string) => sh(`systemctl show -p MainPID --value ${unit}`)

test('a host an earlier version deployed (one socket-activated instance) moves to two instances under load, without a failed request', async () => {
  // v1 by this version, then the host as an earlier version leaves it: its single instance's
  // units, serving v1 on /run/gunicorn-mysite.sock itself.
  expect((await deploy('v1')).run.code).toBe(0)
  const legacy = join(ROOT, 'test/fixtures/single-instance')
  const unit = (name: string) =>
    `printf %s '${Buffer.from(readFileSync(join(legacy, name))).toString('base64')}' | base64 -d > /etc/systemd/system/${name}`
  await host.exec(
    [
      'set -e',
      'systemctl disable --now gunicorn-mysite@blue.service gunicorn-mysite@blue.socket',
      'rm -rf /etc/systemd/system/gunicorn-mysite@.* /etc/tmpfiles.d/gunicorn-mysite.conf /run/gunicorn-mysite.sock /srv/mysite/instances',
      unit('gunicorn-mysite.socket'),
      unit('gunicorn-mysite.service'),
      'systemctl daemon-reload',
      'systemctl enable --now gunicorn-mysite.socket gunicorn-mysite.service'
    ].join('\n')
  )
  expect(await sh('test -S /run/gunicorn-mysite.sock && ! test -L /run/gunicorn-mysite.sock')).toBe(
    ''
  )
  expect((await health(host)).version).toBe('v1')
  const nginx = await mainPid('nginx')

  const { run, answers } = await deploy('v2')
  expect(run.code).toBe(0)
  expect(failed(answers)).toEqual([])
  expect(sequences(answers)).toEqual([['v1', 'v2']])
  // The earlier instance is gone, units and all; traffic goes through the link to blue.
  expect(await sh('readlink /run/gunicorn-mysite.sock')).toBe('/run/gunicorn-mysite@blue.sock')
  expect(await sh('ls /etc/systemd/system | grep gunicorn-mysite')).toBe(
    'gunicorn-mysite@.service\ngunicorn-mysite@.socket'
  )
  expect(await activeStates(host, 'gunicorn-mysite.service gunicorn-mysite.socket')).toBe(
    'inactive\ninactive'
  )
  // nginx was not reloaded: its site names the same socket path as before.
  expect(await mainPid('nginx')).toBe(nginx)
  expect(run.stdout).toContain('Drain and stop gunicorn-mysite.service')
})

test('a deploy under load: the new release answers on its own socket first, then takes all traffic; 0 failed requests, no nginx reload', async () => {
  const blue = await mainPid('gunicorn-mysite@blue.service')
  const nginxWorkers = await sh('ps -C nginx -o pid= | sort')
  const { run, answers } = await deploy('v3')
  expect(run.code).toBe(0)
  expect(failed(answers)).toEqual([])
  expect(sequences(answers)).toEqual([['v2', 'v3']])
  // The steps, in order: start beside the live one, its own check, the switch, the drain.
  const order = [
    `::group::Start ${run.outputs.release} in gunicorn-mysite@green.service`,
    '::group::GET /healthz from gunicorn-mysite@green.service on its socket',
    '::group::Move traffic to gunicorn-mysite@green.service',
    '/healthz through nginx',
    '::group::Drain and stop gunicorn-mysite@blue.service'
  ].map((title) => run.stdout.indexOf(title))
  expect(order.every((at) => at >= 0)).toBe(true)
  expect([...order].sort((a, b) => a - b)).toEqual(order)
  expect(await sh('readlink /run/gunicorn-mysite.sock')).toBe('/run/gunicorn-mysite@green.sock')
  // blue served v2 until the switch and was stopped after; nginx's workers are the same ones.
  expect(blue).not.toBe('0')
  expect(
    await activeStates(host, 'gunicorn-mysite@blue.service gunicorn-mysite@green.service')
  ).toBe('inactive\nactive')
  expect(await sh('ps -C nginx -o pid= | sort')).toBe(nginxWorkers)
  // What the next boot brings up: the link, and green.
  expect(await sh('cat /etc/tmpfiles.d/gunicorn-mysite.conf')).toBe(
    'L+ /run/gunicorn-mysite.sock - - - - /run/gunicorn-mysite@green.sock'
  )
  expect(
    await sh('systemctl is-enabled gunicorn-mysite@green.socket gunicorn-mysite@blue.socket; true')
  ).toBe('enabled\ndisabled')
})

test('a release whose WSGI import fails never answers a request: 0 failed, every answer from the live release, which was never restarted', async () => {
  const green = await mainPid('gunicorn-mysite@green.service')
  const { run, answers } = await deploy('broken', { 'health-timeout': '8' }, (project) =>
    breakUnderGunicorn(project)
  )
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('rolled-back')
  expect(failed(answers)).toEqual([])
  expect(new Set(answers.map((a) => a.version))).toEqual(new Set(['v3']))
  expect(run.summary).toContain("ImportError: cannot import name 'no_such_name'")
  expect(run.summary).toContain(`nothing was switched, ${releases.v3} still serves`)
  expect(run.stdout).not.toContain('::group::Move traffic')
  expect(await mainPid('gunicorn-mysite@green.service')).toBe(green)
  expect(await activeStates(host, 'gunicorn-mysite@blue.service')).toBe('inactive')
  expect(await sh(`test -f /srv/mysite/.deploy/failed/${releases.broken} && echo marked`)).toBe(
    'marked'
  )
})

test('a release that fails after the switch: traffic goes back to the old instance, still running; 0 failed', async () => {
  const green = await mainPid('gunicorn-mysite@green.service')
  // The runner's check of health-url fails (a 500): the new release served, then is rolled back.
  const { run, answers } = await deploy('v4', {
    'health-url': `http://${host.address}/boom`,
    'health-timeout': '5'
  })
  expect(run.outputs.status).toBe('rolled-back')
  expect(failed(answers)).toEqual([])
  // v4 answered after the switch; after the way back, only v3: no answer from v4 follows one
  // from v3, and the instance that answers is the one that served before (same process: it was
  // not started again, so it answered at once).
  expect(sequences(answers)).toEqual([['v3', 'v4', 'v3']])
  expect(await mainPid('gunicorn-mysite@green.service')).toBe(green)
  expect(await sh('readlink /run/gunicorn-mysite.sock')).toBe('/run/gunicorn-mysite@green.sock')
  expect(await activeStates(host, 'gunicorn-mysite@blue.service')).toBe('inactive')
  expect((await health(host)).release).toBe(releases.v3)
})

test('rollback: true under load: the previous good release starts beside the live one, then takes over; 0 failed', async () => {
  const { result: run, answers } = await underLoad(() =>
    runAction(deployInputs(host, { rollback: 'true' }))
  )
  expect(run.code).toBe(0)
  expect(run.outputs.release).toBe(releases.v2)
  expect(failed(answers)).toEqual([])
  expect(sequences(answers)).toEqual([['v3', 'v2']])
  expect(await sh('readlink /run/gunicorn-mysite.sock')).toBe('/run/gunicorn-mysite@blue.sock')
  expect(
    await activeStates(host, 'gunicorn-mysite@blue.service gunicorn-mysite@green.service')
  ).toBe('active\ninactive')
})
