// logs on a real host, run as a GitHub runner runs the action: where nothing is deployed a
// success that says so; after a deploy with a worker that prints a line every second and a view
// that writes to stderr (requested through nginx, with a missing static file beside it), the
// web instance's, the worker's and nginx's lines in folded groups of the log (inside the server
// text's blocks) and in the summary; logs-since shows fewer; `::warning::x` from the app stays
// text. One host, one deploy.
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import { annotations, deployInputs, edit, get, onHost, workspaceWith } from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
let workspace: string

beforeAll(async () => {
  host = await bootHost('logs')
  const copy = workspaceWith('v1')
  workspace = copy.workspace
  const commands = join(copy.project, 'notes', 'management', 'commands')
  mkdirSync(commands, { recursive: true })
  writeFileSync(join(copy.project, 'notes', 'management', '__init__.py'), '')
  writeFileSync(join(commands, '__init__.py'), '')
  writeFileSync(
    join(commands, 'tick.py'),
    [
      'import time',
      'from django.core.management.base import BaseCommand',
      '',
      'class Command(BaseCommand):',
      '    def handle(self, *args, **options):',
      '        n = 0',
      '        while True:',
      '            n += 1',
      "            print('logs-e2e tick %d' % n, flush=True)",
      '            time.sleep(1)',
      ''
    ].join('\n')
  )
  edit(
    copy.project,
    'notes/views.py',
    (text) =>
      `${text}\n\ndef say(request):\n    import sys\n    print('logs-e2e web line', file=sys.stderr, flush=True)\n    print('::warning::x', file=sys.stderr, flush=True)\n    return JsonResponse({'said': True})\n`
  )
  edit(copy.project, 'mysite/urls.py', (text) =>
    text.replace("    path('admin/'", "    path('say', views.say),\n    path('admin/'")
  )
})
afterAll(async () => {
  await host?.stop()
})

const inputs = (overrides: Record<string, string> = {}) =>
  deployInputs(host, { processes: 'ticker: python manage.py tick', ...overrides })

const logs = (overrides: Record<string, string>) =>
  runAction(inputs({ source: 'none', ...overrides }), { workspace })

/** The log without the server's text: what the runner reads commands from. */
function outsideServerText(stdout: string): string {
  return stdout.replace(/^::stop-commands::(\S+)\n[\s\S]*?^::\1::\n/gm, '')
}

/** Each folded group's server text (the lines inside stop-commands blocks), by title. */
function groups(stdout: string): Map<string, string[]> {
  const found = new Map<string, string[]>()
  let open: string[] | undefined
  let stoppedBy = ''
  for (const line of stdout.split('\n')) {
    const stop = /^::stop-commands::(.+)$/.exec(line)
    if (!stoppedBy && stop) stoppedBy = stop[1]
    else if (stoppedBy && line === `::${stoppedBy}::`) stoppedBy = ''
    else if (stoppedBy) open?.push(line)
    else if (line.startsWith('::group::')) found.set(line.slice('::group::'.length), (open = []))
    else if (line === '::endgroup::') open = undefined
  }
  return found
}

function part(run: ActionRun, title: RegExp): string[] {
  const all = groups(run.stdout)
  const key = [...all.keys()].find((t) => title.test(t))
  if (key === undefined)
    throw new Error(`no group ${title} in:\n${[...all.keys()].join('\n')}\n${run.stdout}`)
  return all.get(key) ?? []
}

const ticks = (lines: string[]) => lines.filter((l) => /logs-e2e tick \d+/.test(l)).length

describe('logs', () => {
  test('where nothing is deployed: a success that says so', async () => {
    const run = await logs({ logs: '20' })
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    expect(annotations(run.stdout, 'warning').map((a) => a.message)).toContainEqual(
      expect.stringContaining(`nothing of mysite is deployed on ${host.address}`)
    )
    expect(run.summary).toContain('(no instance is live)')
  })

  test("after a deploy: the web instance's, the worker's and nginx's lines, folded, inert", async () => {
    const deploy = await runAction(inputs(), { workspace })
    if (deploy.outputs.status !== 'success') throw new Error(deploy.stdout)
    expect((await get(host, '/say')).status).toBe(200)
    expect((await get(host, '/static/logs-e2e-missing.css')).status).toBe(404)
    // The worker has printed a few lines.
    for (let i = 0; i < 30; i++) {
      const said = await onHost(host, 'journalctl -u mysite-ticker.service -o cat --no-pager')
      if ((said.match(/logs-e2e tick/g) ?? []).length >= 8) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }

    const run = await logs({ logs: '50' })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('success')
    const web = part(
      run,
      /^journal of gunicorn-mysite@(blue|green)\.service \(the live web instance\)$/
    )
    expect(web.join('\n')).toContain('logs-e2e web line')
    expect(web).toContainEqual(expect.stringMatching(/::warning::x$/))
    const worker = part(run, /^journal of mysite-ticker\.service$/)
    expect(ticks(worker)).toBeGreaterThanOrEqual(8)
    expect(part(run, /^nginx's error log/).join('\n')).toContain('logs-e2e-missing.css')
    expect(part(run, /^audit log/).join('\n')).toContain('mode="deploy"')
    // Printed inside the server text's blocks only: never read as a command.
    expect(annotations(outsideServerText(run.stdout), 'warning')).toEqual([])
    expect(outsideServerText(run.stdout)).not.toContain('logs-e2e')

    expect(run.summary).toMatch(
      /<summary>[^<]*journal of mysite-ticker\.service \(\d+ lines\)<\/summary>/
    )
    expect(run.summary).toContain('logs-e2e web line')
    expect(run.summary).toMatch(/logs-e2e tick \d+/)
    expect(run.summary).toContain('logs-e2e-missing.css')
    expect((run.summary.match(/<details>/g) ?? []).length).toBe(4)

    const since = await logs({ logs: '50', 'logs-since': '2s' })
    expect(since.code).toBe(0)
    const recent = ticks(part(since, /^journal of mysite-ticker\.service$/))
    expect(recent).toBeLessThan(ticks(worker))
    expect(recent).toBeLessThanOrEqual(4)
    expect(part(since, /live web instance/).join('\n')).not.toContain('logs-e2e web line')
  })

  test('bad input is refused before anything is sent', async () => {
    const run = await logs({ logs: '50', 'logs-since': '1 hour ago' })
    expect(run.code).not.toBe(0)
    expect(annotations(run.stdout, 'error').at(-1)?.message).toMatch(
      /^Input 'logs-since': '1 hour ago' is not a span back from now/
    )
    const audit = await onHost(host, 'cat /srv/mysite/.deploy/audit.log')
    expect(
      audit
        .trim()
        .split('\n')
        .map((l) => /mode="([^"]+)"/.exec(l)?.[1])
    ).toEqual(['logs', 'deploy', 'logs', 'logs'])
    expect(audit).toContain('argument="50 since 2s"')
  })
})
