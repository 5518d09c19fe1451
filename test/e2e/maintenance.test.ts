// maintenance on a real host, run as a GitHub runner runs the action: the switch under load (every
// request answered 503 with the page and Retry-After, static files too, none reaching the app; an
// allowed address still served; no nginx reload), the state after a reboot, a deploy while it is
// on (checked on its own socket, the page left up), off under load, and a deploy with
// maintenance-during-migrations (the page up while migrate runs, down after it, also after a
// failed migration). One host for the file.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import { annotations, deployInputs, get, newCommit, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let workspace: string
let project: string

const PAGE = '<!doctype html><title>Back soon</title><h1>Back at five, mysite-maintenance-page</h1>'

beforeAll(async () => {
  host = await bootHost('maintenance')
  ;({ workspace, project } = workspaceWith('v1'))
  writeFileSync(join(workspace, 'maintenance.html'), PAGE)
})
afterAll(async () => {
  await host?.stop()
})

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, { 'maintenance-page': 'maintenance.html', ...overrides })

const action = (overrides: Record<string, string> = {}) =>
  runAction(inputs(overrides), { workspace, env: newCommit() })

function succeeded(run: ActionRun): void {
  if (run.outputs.status !== 'success')
    throw new Error(`the run did not succeed (${run.outputs.status}):\n${run.stdout}`)
  expect(run.code).toBe(0)
}

interface Answer {
  status: number
  retryAfter?: string
  page: boolean
  /** when the request was sent (ms since the epoch) */
  sent: number
}

/**
 * Requests the paths over and over from 6 clients at once while `during` runs, and a moment more:
 * every answer, and when `during` ended (a request sent after it sees the state it left).
 */
async function underLoad<T>(
  during: () => Promise<T>,
  paths = ['/healthz', '/static/notes/site.css', '/']
): Promise<{ result: T; answers: Answer[]; ended: number }> {
  const answers: Answer[] = []
  let done = false
  const client = async (i: number) => {
    while (!done) {
      const path = paths[(answers.length + i) % paths.length]
      const sent = Date.now()
      answers.push(await pageAnswer(path).catch(() => ({ status: 0, page: false, sent })))
    }
  }
  const clients = Array.from({ length: 6 }, (_, i) => client(i))
  // A moment of load before the switch, so that it lands among requests in flight.
  await new Promise((r) => setTimeout(r, 500))
  const result = await during()
  const ended = Date.now()
  await new Promise((r) => setTimeout(r, 1000))
  done = true
  await Promise.all(clients)
  return { result, answers, ended }
}

/** The maintenance answer: 503, Retry-After, the page. */
const isPage = (a: Answer) => a.status === 503 && a.retryAfter === '120' && a.page
/** An answer of the app (or of nginx's static files). */
const isServed = (a: Answer) => a.status === 200 && !a.page

/** nginx's processes: a reload would replace its workers. */
const nginxProcesses = () => onHost(host, 'pgrep -f "^nginx: " | sort -n | tr "\\n" " "')

/** A GET from the host itself (127.0.0.1), as an allowed address. */
const fromHost = (path: string) =>
  onHost(host, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1${path}`)

describe('maintenance', () => {
  test('on, under load: every request gets 503 with the page, none reaches the app; the allowed address does; no reload', async () => {
    succeeded(await action())
    expect((await get(host, '/healthz')).status).toBe(200)

    // A dry run changes nothing.
    const dry = await action({ maintenance: 'on', 'dry-run': 'true' })
    succeeded(dry)
    expect(dry.stdout).toContain('would turn it on')
    expect(dry.outputs.maintenance).toBe('off')
    expect((await get(host, '/healthz')).status).toBe(200)

    const before = await nginxProcesses()
    const {
      result: run,
      answers,
      ended
    } = await underLoad(() => action({ maintenance: 'on', 'maintenance-allow': '127.0.0.1' }))
    succeeded(run)
    expect(run.outputs.maintenance).toBe('on')
    expect(run.summary).toContain('maintenance on')
    // Served until the switch, the page from then on (a request in flight at the switch either):
    // nothing failed, and from the run's end on nothing reached the app.
    expect(answers.filter((a) => !isServed(a) && !isPage(a))).toEqual([])
    expect(answers.filter((a) => a.sent > ended && !isPage(a))).toEqual([])
    expect(answers.filter((a) => a.sent > ended).length).toBeGreaterThan(0)
    expect(answers.filter(isServed).length).toBeGreaterThan(0)

    // After the run: the page for every path and method, static files too.
    for (const path of ['/healthz', '/static/notes/site.css', '/admin/login/'])
      expect(isPage(await pageAnswer(path))).toBe(true)
    const post = await onHost(
      host,
      `curl -s -X POST -d a=b -H 'Host: example.com' -o /dev/null -w '%{http_code}' http://${host.address}/admin/login/`
    )
    expect(post).toBe('503')
    // The allowed address reaches the app.
    expect(await fromHost('/healthz')).toBe('200')
    expect(await nginxProcesses()).toBe(before)
  })

  test('outlives a reboot', async () => {
    await host.reboot()
    expect(isPage(await pageAnswer('/healthz'))).toBe(true)
    expect(await fromHost('/healthz')).toBe('200')
  })

  test('a deploy while it is on checks the new release on its socket and leaves the page up', async () => {
    writeFileSync(join(project, 'VERSION'), 'v2\n')
    const run = await action()
    succeeded(run)
    expect(run.outputs.maintenance).toBe('on')
    expect(run.summary).toContain('maintenance is on')
    expect(run.stdout).toMatch(
      /GET \/healthz from the live instance on \/run\/gunicorn-mysite\.sock/
    )
    expect(isPage(await pageAnswer('/healthz'))).toBe(true)
    const version = await onHost(host, 'curl -s http://127.0.0.1/healthz')
    expect(JSON.parse(version).version).toBe('v2')
  })

  test('off, under load: the site serves again, nothing fails, no reload', async () => {
    const before = await nginxProcesses()
    const { result: run, answers, ended } = await underLoad(() => action({ maintenance: 'off' }))
    succeeded(run)
    expect(run.outputs.maintenance).toBe('off')
    expect(answers.filter((a) => !isServed(a) && !isPage(a))).toEqual([])
    expect(answers.filter((a) => a.sent > ended && !isServed(a))).toEqual([])
    expect(answers.filter((a) => a.sent > ended).length).toBeGreaterThan(0)
    expect(answers.filter(isPage).length).toBeGreaterThan(0)
    expect(await nginxProcesses()).toBe(before)
    const log = await onHost(host, 'cat /srv/mysite/.deploy/audit.log')
    expect(log).toMatch(/mode="maintenance \(dry run\)" argument="on" result="success"/)
    expect(log).toMatch(/mode="maintenance" argument="on" result="success"/)
    expect(log).toMatch(/mode="maintenance" argument="off" result="success"/)
  })

  test('maintenance-during-migrations: the page is up while migrate runs, down once the release serves', async () => {
    addMigration('0002_wait', '0001_initial', 'wait_for_go')
    writeFileSync(join(project, 'VERSION'), 'v3\n')
    const deploy = action({ 'maintenance-during-migrations': 'true' })
    // The migration waits for a file the test makes once it has seen the page.
    await untilPage()
    await onHost(host, 'touch /srv/mysite/shared/go')
    const run = await deploy
    succeeded(run)
    expect(run.stdout).toContain(
      'Maintenance on until the new release serves: 1 migration to apply'
    )
    expect(run.outputs.maintenance).toBe('off')
    const page = await get(host, '/healthz')
    expect(page.status).toBe(200)
    expect(JSON.parse(page.text).version).toBe('v3')

    // Without a migration to apply, the site never leaves service.
    writeFileSync(join(project, 'VERSION'), 'v4\n')
    const { result: quiet, answers } = await underLoad(() =>
      action({ 'maintenance-during-migrations': 'true' })
    )
    succeeded(quiet)
    expect(answers.filter((a) => !isServed(a))).toEqual([])
  })

  test('maintenance-during-migrations: a failed migration takes the page down again and says so', async () => {
    addMigration('0003_fail', '0002_wait', 'fail_after_go')
    writeFileSync(join(project, 'VERSION'), 'v5\n')
    const deploy = action({ 'maintenance-during-migrations': 'true' })
    await untilPage()
    await onHost(host, 'touch /srv/mysite/shared/go-fail')
    const run = await deploy
    expect(run.code).not.toBe(0)
    expect(run.outputs.status).toBe('failure')
    const message = annotations(run.stdout, 'error')
      .map((a) => a.message)
      .join('\n')
    expect(message).toContain('maintenance page put up for the migrations is down again')
    const page = await get(host, '/healthz')
    expect(page.status).toBe(200)
    expect(JSON.parse(page.text).version).toBe('v4')
  })
})

/** A migration of the notes app that waits for a file in shared/ (then fails, for `fail_after_go`). */
function addMigration(name: string, after: string, kind: 'wait_for_go' | 'fail_after_go'): void {
  const file = kind === 'wait_for_go' ? 'go' : 'go-fail'
  writeFileSync(
    join(project, 'notes', 'migrations', `${name}.py`),
    `import os, time
from django.db import migrations


def ${kind}(apps, schema_editor):
    deadline = time.time() + 120
    while not os.path.exists('/srv/mysite/shared/${file}') and time.time() < deadline:
        time.sleep(0.2)
    ${kind === 'fail_after_go' ? "raise RuntimeError('deliberate failure of a migration')" : 'pass'}


class Migration(migrations.Migration):
    dependencies = [('notes', '${after}')]
    operations = [migrations.RunPython(${kind}, migrations.RunPython.noop)]
`
  )
}

/** One request's answer, as underLoad records it. */
async function pageAnswer(path: string): Promise<Answer> {
  const sent = Date.now()
  const a = await get(host, path)
  return {
    sent,
    status: a.status,
    retryAfter: a.headers.get('retry-after'),
    page: a.text.includes('mysite-maintenance-page')
  }
}

/** Waits until the site answers with the maintenance page. */
async function untilPage(): Promise<void> {
  const deadline = Date.now() + 180_000
  while (Date.now() < deadline) {
    const a = await get(host, '/healthz').catch(() => undefined)
    if (a?.status === 503 && a.text.includes('mysite-maintenance-page')) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('the maintenance page never came up')
}
