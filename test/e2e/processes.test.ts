// Background processes: a Celery worker and beat (Debian's python3-celery, Redis from Debian as
// the broker) and a schedule run from the live release, restarted after the web release is
// healthy, rolled back with it, removed when they leave the inputs, beat on one host of a fleet.
// The project is startproject's output plus celery.py as Celery's Django guide writes it and an
// app whose tasks record which release ran them.
import { type ActionRun, runAction } from './action.js'
import { checkout, deployInputs, edit, get, newCommit, onHost } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let second: TestHost

beforeAll(async () => {
  ;[host, second] = await Promise.all([bootHost('workers'), bootHost('workers-2')])
  // Redis is the broker on each host, as a small deployment runs it.
  await Promise.all([host, second].map((h) => onHost(h, 'systemctl start redis-server')))
})
afterAll(async () => {
  await Promise.all([host?.stop(), second?.stop()])
})

// Debian's python3-celery has no `celery` script: `python -m celery` runs the venv's python.
const WORKER = 'worker: python -m celery -A mysite worker -l info --concurrency 2'
const BEAT =
  'beat: python -m celery -A mysite beat -l info -s /srv/mysite/shared/celerybeat-schedule'
const PROCESSES = `${WORKER}\n${BEAT}`
const STAMP = "stamp: { on: '*:*:0/1', run: python manage.py stamp }"

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, {
    source: '.',
    'health-path': '/status/',
    processes: PROCESSES,
    ...overrides
  })

/** The project at a version, its task code at `code` (ticks/tasks.py CODE). */
function project(version: string, code = version): string {
  const workspace = checkout('celeryproject', version)
  edit(workspace, 'ticks/tasks.py', (text) => text.replace("CODE = 'v1'", `CODE = '${code}'`))
  return workspace
}

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the deploy did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

/** GET through nginx as the app's own name (ALLOWED_HOSTS = [] with DEBUG: localhost). */
async function json(on: TestHost, path: string): Promise<Record<string, unknown>> {
  const page = await get(on, path, { Host: 'localhost' })
  if (page.status !== 200)
    throw new Error(`${path} answered ${page.status}: ${page.text.slice(0, 500)}`)
  return JSON.parse(page.text)
}

/** Sends a task through the web app; with wait, its result. */
const send = (name: string, query = '', on = host) => json(on, `/tasks/${name}/?${query}`)
const result = (id: string) =>
  json(host, `/tasks/result/${id}/`) as Promise<{ state: string; result: unknown }>

/** Polls until `check` returns a value (not undefined), or fails naming what it waited for. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  let last: unknown
  for (let i = 0; i < 120; i++) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`waited in vain for ${what}${last ? `: ${String(last)}` : ''}`)
}

/** The last entry a task or command pushed to a Redis list on the host. */
const lastEntry = async (list: string, on = host) =>
  (await onHost(on, `redis-cli --raw lrange ${list} -1 -1`)).trim()

/** Waits for an entry of `release` in the list: a tick or stamp run by that release's code. */
const recorded = (list: string, release: string, on = host) =>
  until(`a ${list} entry from ${release} on ${on.name}`, async () =>
    (await lastEntry(list, on)) === release ? release : undefined
  )

const processStates = (run: ActionRun, index = 0) =>
  (
    JSON.parse(run.outputs.hosts)[index] as {
      processes: Array<{ name: string; state: string; release: string }>
    }
  ).processes.map((p) => [p.name, p.state, p.release])

const unitExists = async (on: TestHost, unit: string) =>
  (await on.exec(`test -e /etc/systemd/system/${unit}`)).code === 0

let v1 = ''
let v2 = ''

test('bad input is refused before connecting, naming the input', async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ processes: 'Worker!: python -m celery' }, "Input 'processes': 'Worker!' is not a name"],
    [
      { processes: 'worker: "python -m celery\\nworker"' },
      "Input 'processes': 'worker': the command must be one line"
    ],
    [{ processes: '- python -m celery worker' }, "Input 'processes': must be a YAML mapping"],
    [{ schedules: 'daily: python manage.py clearsessions' }, "Input 'schedules': 'daily' must be"]
  ]
  for (const [overrides, message] of cases) {
    const run = await runAction(inputs(overrides), { workspace: project('v0') })
    expect(run.code).toBe(1)
    expect(run.everything).toContain(message)
    // Refused before the first step: nothing was sent to the host.
    expect(run.stdout).not.toContain('▶ Check the host')
  }
})

test('a calendar systemd rejects is refused before anything is installed, naming the schedule', async () => {
  const run = await runAction(
    inputs({ schedules: "reports: { on: 'every tuesday', run: python manage.py stamp }" }),
    { workspace: project('v0'), env: newCommit() }
  )
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('failure')
  expect(run.everything).toContain(
    "Input 'schedules': 'reports': systemd cannot parse the calendar expression 'every tuesday'"
  )
  // Nothing uploaded (the deploy path holds the locks, and the audit log says the run failed),
  // no unit written.
  const entries = (await onHost(host, 'ls -A /srv/mysite')).split('\n').filter(Boolean)
  expect(entries.filter((name) => !/^\.deploy(\.lock|\.steps)?$/.test(name))).toEqual([])
  expect((await onHost(host, 'ls -A /srv/mysite/.deploy')).trim()).toBe('audit.log')
  expect((await onHost(host, 'cat /srv/mysite/.deploy/audit.log')).trim()).toMatch(
    / result="failure"$/
  )
  expect(await onHost(host, 'ls /etc/systemd/system')).not.toMatch(/mysite/)
})

test('worker, beat and a schedule run the release: a task sent by the web app, beat, the schedule', async () => {
  const run = await runAction(inputs({ schedules: STAMP }), {
    workspace: project('v1'),
    env: newCommit()
  })
  succeeded(run)
  v1 = run.outputs.release
  expect(processStates(run)).toEqual([
    ['worker', 'active', v1],
    ['beat', 'active', v1],
    ['stamp', 'active', v1]
  ])
  expect(run.summary).toContain('### Processes')

  expect((await send('whoami', 'wait=1')).result).toEqual({ release: v1, code: 'v1' })
  await recorded('ticks', v1)
  await recorded('stamps', v1)

  // The web unit's sandbox, as the app user.
  const worker = await onHost(
    host,
    'systemctl show mysite-worker.service -p User -p ProtectSystem -p NoNewPrivileges -p KillMode'
  )
  expect(worker).toContain('User=mysite')
  expect(worker).toContain('ProtectSystem=strict')
  expect(worker).toContain('NoNewPrivileges=yes')
  expect(worker).toContain('KillMode=mixed')
})

test('dry run: a schedule left out of the input is in the plan and the diff, and stays', async () => {
  const run = await runAction(inputs({ 'dry-run': 'true' }), {
    workspace: project('v2'),
    env: newCommit()
  })
  succeeded(run)
  expect(run.summary).toContain(
    'Processes: restart worker, beat; remove mysite-stamp.service, mysite-stamp.timer'
  )
  expect(run.summary).toMatch(/--- \/etc\/systemd\/system\/mysite-stamp\.timer\s/)
  expect(run.summary).toContain('+++ /dev/null')
  expect(await onHost(host, 'systemctl is-active mysite-stamp.timer')).toBe('active\n')
})

test('new task code: long tasks finish on the old worker (warm shutdown), no task is lost, the schedule is removed', async () => {
  // Two long tasks fill the v1 worker's two processes: they run until the key is set.
  const holds: string[] = []
  for (let i = 0; i < 2; i++) holds.push((await send('hold', 'arg=release-hold')).id as string)
  for (const id of holds)
    await until('the long tasks to start', async () =>
      (await result(id)).state === 'STARTED' ? true : undefined
    )
  // Tasks waiting behind them: the v1 worker has taken them from Redis, and cannot run them yet.
  const waiting: string[] = []
  for (let i = 0; i < 5; i++) waiting.push((await send('whoami')).id as string)

  let log = ''
  let stopping: Promise<unknown> | undefined
  const whileStopping = async () => {
    // The old worker is in its warm shutdown (the unit is stopping) and still runs the tasks.
    await until('the old worker to be stopping', async () =>
      (await host.exec('systemctl show -p ActiveState --value mysite-worker')).stdout.trim() ===
      'deactivating'
        ? true
        : undefined
    )
    for (const id of holds) expect((await result(id)).state).toBe('STARTED')
    await onHost(host, 'redis-cli set release-hold 1')
  }
  const run = await runAction(inputs(), {
    workspace: project('v2'),
    env: newCommit(),
    onStdout: (text) => {
      log += text
      if (!stopping && log.includes('Processes: restart worker, beat'))
        stopping = whileStopping().then(
          () => undefined,
          (error: unknown) => error
        )
    }
  })
  succeeded(run)
  v2 = run.outputs.release
  if (!stopping) throw new Error(`the processes were never restarted:\n${run.stdout}`)
  const error = await stopping
  if (error) throw error

  // The long tasks were not killed: they finished on the v1 worker.
  for (const id of holds)
    expect(await result(id)).toEqual({ state: 'SUCCESS', result: { release: v1, code: 'v1' } })
  // The tasks waiting behind them ran, none lost: on the old worker before it stopped, or given
  // back to Redis at its shutdown and run by the new one.
  for (const id of waiting) {
    const done = await until(`task ${id}`, async () => {
      const r = await result(id)
      return r.state === 'SUCCESS' ? (r.result as { release: string }) : undefined
    })
    expect([v1, v2]).toContain(done.release)
  }
  expect((await send('whoami', 'wait=1')).result).toEqual({ release: v2, code: 'v2' })
  await recorded('ticks', v2)

  // The schedule left the input: stopped, disabled, its files gone.
  expect(await unitExists(host, 'mysite-stamp.timer')).toBe(false)
  expect(await unitExists(host, 'mysite-stamp.service')).toBe(false)
  expect((await host.exec('systemctl is-active mysite-stamp.timer')).stdout.trim()).not.toBe(
    'active'
  )
})

test('a worker whose import fails: web and worker back on the previous release, the summary shows the error', async () => {
  const workspace = project('v3')
  edit(workspace, 'ticks/tasks.py', (text) => `import reportlab\n${text}`)
  const run = await runAction(inputs(), { workspace, env: newCommit() })
  expect(run.code).toBe(1)
  expect(run.outputs.status).toBe('rolled-back')
  expect(run.summary).toContain("ModuleNotFoundError: No module named 'reportlab'")
  expect(run.summary).toContain('mysite-worker.service')

  expect(await json(host, '/status/')).toMatchObject({ version: 'v2' })
  expect((await send('whoami', 'wait=1')).result).toEqual({ release: v2, code: 'v2' })
  expect(processStates(run)).toEqual([
    ['worker', 'active', v2],
    ['beat', 'active', v2]
  ])
})

test('beat runs on exactly one host of a fleet, and moves to the host named', async () => {
  const fleet = (overrides: Record<string, string> = {}) =>
    inputs({
      host: `${host.address}\n${second.address}`,
      'max-parallel': '2',
      'known-hosts': `${host.knownHosts}\n${second.knownHosts}`,
      ...overrides
    })
  const run = await runAction(fleet(), { workspace: project('v4'), env: newCommit() })
  succeeded(run)
  const v4 = run.outputs.release
  expect(processStates(run, 0)).toEqual([
    ['worker', 'active', v4],
    ['beat', 'active', v4]
  ])
  expect(processStates(run, 1)).toEqual([['worker', 'active', v4]])
  expect(await unitExists(second, 'mysite-beat.service')).toBe(false)
  await recorded('ticks', v4)
  expect((await send('whoami', 'wait=1', second)).result).toEqual({ release: v4, code: 'v4' })

  // The same release, beat on the second host: it moves.
  const moved = await runAction(fleet({ source: 'none', 'singleton-host': second.address }), {
    workspace: project('v4'),
    env: newCommit()
  })
  succeeded(moved)
  expect(processStates(moved, 0)).toEqual([['worker', 'active', v4]])
  expect(processStates(moved, 1)).toEqual([
    ['worker', 'active', v4],
    ['beat', 'active', v4]
  ])
  expect(await unitExists(host, 'mysite-beat.service')).toBe(false)
  await recorded('ticks', v4, second)
})
