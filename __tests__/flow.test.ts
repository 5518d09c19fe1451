// The per-host flow (flow/host.ts) through the real executor, with a scripted transport in place
// of SSH: which steps run, in which order, and what the result says, for every mode and failure.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { deployHost, runContext } from '../src/main.js'
import type { RunOptions, RunResult, Transport } from '../src/remote/connection.js'
import { createRollout } from '../src/rollout.js'
import type { Settings } from '../src/settings.js'
import type { ShellText } from '../src/shell.js'
import { settingsFor } from './settings-fixture.js'

const LIVE = '20261120T100000Z-aaaaaaa'
const OLDER = '20261110T100000Z-bbbbbbb'
const NEW = '20261125T081500Z-1a2b3c4'

type Answer = Partial<RunResult> | ((command: string) => Partial<RunResult>)

/** Answers each step by its id; records what ran. The lock is held until the flow lets it go. */
class ScriptedTransport implements Transport {
  readonly ran: Array<{ step: string; title: string; command: string }> = []
  lockReleased = false
  constructor(private readonly answers: Record<string, Answer> = {}) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    this.ran.push({ step, title: options.step?.title ?? '', command: command.text })
    if (step === 'lock') {
      options.onStdout?.(Buffer.from('STALE \nLOCKED\n'))
      await new Promise((resolve) => (options.stdin as Readable).on('finish', resolve))
      this.lockReleased = true
    } else if (options.stdin && typeof options.stdin !== 'string') {
      options.stdin.resume()
    }
    const answer = this.answers[step] ?? DEFAULT_ANSWERS[step] ?? {}
    const given = typeof answer === 'function' ? answer(command.text) : answer
    return { code: 0, stdout: '', stderr: '', durationMs: 1, ...given }
  }

  close(): void {}

  steps(): string[] {
    return this.ran.map((r) => r.step)
  }
}

/** Django's STATIC_ROOT inside whichever release the discovery ran in. */
function discovered(command: string): Partial<RunResult> {
  const release = /releases\/([\w.-]+)/.exec(command)?.[1] ?? 'unknown'
  const values = {
    STATIC_URL: '/static/',
    STATIC_ROOT: `/srv/mysite/releases/${release}/staticfiles`,
    MEDIA_URL: '/media/',
    MEDIA_ROOT: '/srv/mysite/shared/media'
  }
  return { stdout: `DJANGO-SETTINGS ${JSON.stringify(values)}\n` }
}

const DEFAULT_ANSWERS: Record<string, Answer> = {
  inspect: {
    stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${LIVE}\nreleases=${LIVE} ${OLDER}\nfailed=\n`
  },
  discover: discovered,
  migrations: {
    stdout: `DJANGO-MIGRATIONS ${JSON.stringify({ pending: ['notes.0002_note'], irreversible: [] })}\n`
  },
  'nginx-t': { stdout: 'changed= mysite\n' },
  health: { stdout: 'healthy 200 12\n' },
  'read-config': { stdout: '' }
}

function workspace(): string {
  const folder = mkdtempSync(join(tmpdir(), 'dda-flow-'))
  writeFileSync(join(folder, 'manage.py'), '')
  writeFileSync(join(folder, 'requirements.txt'), 'Django\n')
  return folder
}

async function deploy(s: Settings, transport: ScriptedTransport, host = s.hosts[0]) {
  const rollout = createRollout(s.hosts, () => NEW)
  return deployHost(s, host, rollout, runContext({}), async () => transport)
}

/** Every step the flow ran but the inspection and the lock, by title. */
function titlesRun(transport: ScriptedTransport): string[] {
  return transport.ran.filter((r) => r.step !== 'inspect' && r.step !== 'lock').map((r) => r.title)
}

let source: string
beforeAll(() => {
  source = workspace()
})

describe('the dry run prints the plan the deploy runs', () => {
  const modes: Array<[string, Partial<Settings>]> = [
    ['a deploy', { dotenv: [['SECRET_KEY', 'x'.repeat(20)]], postDeploy: 'echo done' }],
    ['source: none', { source: null }],
    ['rollback: true', { rollback: true, source: null }]
  ]

  test.each(modes)('%s', async (_, overrides) => {
    const s = settingsFor({ source, ...overrides })
    const real = new ScriptedTransport()
    const deployed = await deploy(s, real)
    expect(deployed.status).toBe('success')

    const dry = new ScriptedTransport()
    const planned = await deploy({ ...s, dryRun: true }, dry)
    expect(planned.status).toBe('success')
    expect(planned.plan).toEqual(titlesRun(real))
    // Same release, same files.
    expect(planned.release).toBe(deployed.release)
    expect(planned.files).toEqual(deployed.files)
    // A dry run takes no lock and changes nothing: a deploy's new code is read from a staged
    // upload, removed at the end.
    expect(dry.steps()).toEqual(
      s.source && !s.rollback
        ? ['inspect', 'upload', 'venv', 'discover', 'migrations', 'remove-staged', 'read-config']
        : ['inspect', 'discover', 'read-config']
    )
  })

  test('a normal deploy lists the dotenv and post-deploy steps when they are set', async () => {
    const s = settingsFor({
      source,
      dryRun: true,
      dotenv: [['SECRET_KEY', 'x'.repeat(20)]],
      postDeploy: 'echo done'
    })
    const planned = await deploy(s, new ScriptedTransport())
    expect(planned.plan).toContain('Write the .env')
    expect(planned.plan).toContain('post-deploy')
    expect(planned.plan?.some((t) => t.startsWith('Upload '))).toBe(true)
  })

  test('the dry run of rollback: true names the release it would switch to and uploads nothing', async () => {
    const s = settingsFor({ rollback: true, source: null, dryRun: true })
    const planned = await deploy(s, new ScriptedTransport())
    expect(planned.release).toBe(OLDER)
    expect(planned.plan).toContain(`Switch current to ${OLDER}, restart gunicorn, reload nginx`)
    expect(planned.plan?.some((t) => /^Upload|^Venv|manage\.py migrate/.test(t))).toBe(false)
  })

  test('rollback with nothing to roll back to is refused before anything runs', async () => {
    const t = new ScriptedTransport({
      inspect: { stdout: `cpus=2\nlive=${LIVE}\nreleases=${LIVE}\n` }
    })
    const result = await deploy(settingsFor({ rollback: true, source: null }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(/no earlier good release/)
    expect(t.steps()).toEqual(['lock', 'inspect'])
    expect(t.lockReleased).toBe(true)
  })
})

describe('transitions', () => {
  test('a healthy deploy: released, gated, switched, healthy; the lock is let go', async () => {
    const t = new ScriptedTransport()
    const result = await deploy(settingsFor({ source }), t)
    expect(result).toMatchObject({ status: 'success', release: NEW, previousRelease: LIVE })
    expect(t.steps()).toEqual([
      'lock',
      'inspect',
      'prepare',
      'upload',
      'venv',
      'discover',
      'media',
      'migrations',
      'migrate',
      'collectstatic',
      'verify-units',
      'nginx-t',
      'switch',
      'health',
      'prune'
    ])
    expect(result.gates.map((g) => g.passed)).toEqual([true, true])
    expect(t.lockReleased).toBe(true)
  })

  test('a gate failure restores, switches nothing and marks the release failed', async () => {
    const t = new ScriptedTransport({
      'nginx-t': { code: 42, stderr: 'unknown directive "x"' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(/^Gate failed: nginx -t with the new site\. The previous files/)
    expect(result.message).toContain('unknown directive "x"')
    expect(result.gates).toMatchObject([{ passed: true }, { passed: false }])
    expect(t.steps()).not.toContain('switch')
    expect(t.steps().slice(-1)).toEqual(['mark-failed'])
    expect(t.lockReleased).toBe(true)
  })

  test('a full disk: the partial release is removed (not marked), and the error says how full', async () => {
    const t = new ScriptedTransport({
      venv: {
        code: 1,
        stderr:
          'ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device'
      },
      'remove-partial': { code: 0, stdout: 'written=3072\nfree=512\n' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(
      /failed: the server's disk is full \(ERROR: Could not install packages due to an OSError: \[Errno 28\] No space left on device\)/
    )
    expect(result.message).toContain(
      'had no room left: the release needed more than the 3 MB it had written.'
    )
    expect(result.message).toContain('The partial release was removed; 0.5 MB are free now.')
    expect(result.message).toContain(`Nothing was switched: ${LIVE} still serves.`)
    expect(t.steps().slice(-1)).toEqual(['remove-partial'])
    expect(t.steps()).not.toContain('mark-failed')
    expect(t.lockReleased).toBe(true)
  })

  test('a failed Django step switches nothing and names the step', async () => {
    const t = new ScriptedTransport({
      migrate: { code: 1, stderr: 'Traceback\ndjango.db.utils.OperationalError: no such table' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(
      /^manage.py migrate --noinput failed: django.db.utils.OperationalError: no such table/
    )
    expect(result.failedStep?.title).toBe('manage.py migrate --noinput')
    expect(t.steps()).not.toContain('switch')
  })

  test.each([
    [
      'whose venv cannot be built',
      { venv: { code: 1, stderr: 'ERROR: No matching distribution' } }
    ],
    [
      'whose settings cannot be read',
      { discover: { code: 1, stderr: "Traceback\nKeyError: 'DJANGO_SECRET_KEY'" } }
    ],
    [
      'whose ALLOWED_HOSTS refuses the server name',
      {
        discover: {
          stdout: `DJANGO-SETTINGS ${JSON.stringify({ REFUSED_HOSTS: ['example.com'] })}\n`
        }
      }
    ]
  ])('a release %s is marked failed: a later rollback never picks it', async (_, answers) => {
    const t = new ScriptedTransport(answers)
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(t.steps()).not.toContain('switch')
    expect(t.steps().slice(-1)).toEqual(['mark-failed'])
    expect(t.ran.slice(-1)[0].command).toContain(NEW)
  })

  test("an upload refused because the release exists marks nothing: it is another run's", async () => {
    const t = new ScriptedTransport({
      upload: { code: 1, stderr: `release ${NEW} already exists on the host` }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(t.steps()).not.toContain('mark-failed')
  })

  test('an unhealthy release is rolled back, and the previous one confirmed healthy', async () => {
    let checks = 0
    const t = new ScriptedTransport({
      health: () =>
        ++checks === 1
          ? { code: 1, stdout: 'unhealthy 502 60000\n' }
          : { stdout: 'healthy 200 5\n' },
      diagnostics: { stdout: '--- errors in the journal\nImportError: no module x\n' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('rolled-back')
    expect(result.message.split('\n')[0]).toBe('ImportError: no module x')
    expect(result.message).toContain(`${NEW} was not healthy: the health check got 502`)
    expect(result.message).toContain(`Rolled back to ${LIVE}, which answers again.`)
    expect(t.steps().slice(-5)).toEqual([
      'health',
      'diagnostics',
      'mark-failed',
      'rollback',
      'health'
    ])
    expect(t.steps()).not.toContain('prune')
  })

  test('a rollback that does not bring the previous release back is a failure, said so', async () => {
    const t = new ScriptedTransport({ health: { code: 1, stdout: 'unhealthy 0 60000 refused\n' } })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toContain('The rollback did not bring the previous release back')
  })

  test('a switch that fails is rolled back like an unhealthy release', async () => {
    const t = new ScriptedTransport({
      switch: { code: 1, stderr: 'Failed to restart' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('rolled-back')
    expect(result.message).toContain('Failed to restart')
    expect(t.steps().slice(-4)).toEqual(
      ['switch', 'diagnostics', 'mark-failed', 'rollback', 'health'].slice(-4)
    )
  })

  test('a failed prune after a healthy switch is a warning, not a failed deploy', async () => {
    const t = new ScriptedTransport({ prune: { code: 1, stderr: 'rm: cannot remove' } })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('success')
  })

  test("the first host's failure releases the others: they run no Django step", async () => {
    const hosts = [
      { name: 'a', port: 22 },
      { name: 'b', port: 22 }
    ]
    const s = settingsFor({ source, hosts, maxParallel: 2 })
    const rollout = createRollout(hosts, () => NEW)
    const first = new ScriptedTransport({ migrate: { code: 1, stderr: 'boom' } })
    const second = new ScriptedTransport()
    const [a, b] = await Promise.all([
      deployHost(s, hosts[0], rollout, runContext({}), async () => first),
      deployHost(s, hosts[1], rollout, runContext({}), async () => second)
    ])
    expect(a.status).toBe('failure')
    expect(b.status).toBe('failure')
    expect(b.message).toMatch(/stopped: the first host could not run its Django steps/)
    expect(second.steps()).not.toContain('migrate')
    expect(second.lockReleased).toBe(true)
  })

  test('a connection that fails is the host failure, with the reason', async () => {
    const s = settingsFor({ source })
    const result = await deployHost(
      s,
      s.hosts[0],
      createRollout(s.hosts, () => NEW),
      runContext({}),
      () => Promise.reject(new Error('connection refused'))
    )
    expect(result).toMatchObject({ status: 'failure', message: 'connection refused', release: '' })
  })

  test('the first try at connecting has all of timeout; an error that is not transient is not tried again', async () => {
    const s = settingsFor({ source, connectTimeoutMs: 12_000 })
    const timeouts: number[] = []
    const result = await deployHost(
      s,
      s.hosts[0],
      createRollout(s.hosts, () => NEW),
      runContext({}),
      async (_s, _host, timeoutMs) => {
        timeouts.push(timeoutMs)
        throw new Error('not a connection failure')
      }
    )
    expect(result.status).toBe('failure')
    expect(timeouts).toEqual([12_000])
  })
})

describe('ASGI', () => {
  const asgi = () =>
    settingsFor({ source, asgiModule: 'mysite.asgi:application', proxyReadTimeoutS: 3600 })
  const facts = (ws: string, uvicorn: string) => ({
    stdout: `ASGI-SERVER ${JSON.stringify({ worker: 'uvicorn.workers.UvicornWorker', gunicorn: '20.1.0', uvicorn, ws, wsVersion: '1' })}\n`
  })

  test('the application is imported before migrate; what serves is in the result', async () => {
    const t = new ScriptedTransport({ 'asgi-import': facts('wsproto', '0.17.6') })
    const result = await deploy(asgi(), t)
    expect(result.status).toBe('success')
    expect(t.steps().slice(6, 10)).toEqual(['media', 'asgi-import', 'migrations', 'migrate'])
    expect(result.server).toMatchObject({ uvicorn: '0.17.6', ws: 'wsproto' })
  })

  test('an application that cannot be imported switches nothing, with the cause first', async () => {
    const t = new ScriptedTransport({
      'asgi-import': {
        code: 1,
        stderr:
          "Traceback (most recent call last):\nModuleNotFoundError: No module named 'chat.presence'"
      }
    })
    const result = await deploy(asgi(), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(
      /^Import mysite\.asgi:application with gunicorn's uvicorn\.workers\.UvicornWorker failed: ModuleNotFoundError: No module named 'chat\.presence'\nNothing was switched: 20261120T100000Z-aaaaaaa still serves\./
    )
    expect(t.steps()).not.toContain('migrate')
    expect(t.steps()).not.toContain('switch')
    expect(t.steps().slice(-1)).toEqual(['mark-failed'])
  })
})

describe('tls: auto', () => {
  const auto = () =>
    settingsFor({
      source,
      serverNames: ['example.com', 'www.example.com'],
      acme: { email: 'admin@example.com', directory: 'https://acme.example.com/dir' }
    })
  const inspect = (extra: string) => ({
    stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${LIVE}\nreleases=${LIVE} ${OLDER}\nfailed=\n${extra}`
  })
  const refused = {
    code: 1,
    stdout:
      'Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:\n' +
      '  Domain: www.example.com\n  Type:   dns\n  Detail: no valid A records found for www.example.com\n'
  }

  test('the first certificate: the HTTP site healthy, certbot, then the HTTPS site gated, reloaded, checked', async () => {
    const t = new ScriptedTransport({
      inspect: inspect(''),
      certificate: { stdout: 'certificate=89 example.com,www.example.com\n' }
    })
    const result = await deploy(auto(), t)
    expect(result.status).toBe('success')
    const steps = t.steps()
    expect(steps.slice(steps.indexOf('switch'))).toEqual([
      'switch',
      'health',
      'certificate',
      'nginx-t',
      'reload-nginx',
      'health',
      'renewal-timer',
      'prune'
    ])
    expect(
      t.ran
        .filter((r) => r.step === 'health')
        .map((r) => / (upgrade|tls|plain) [\d.]+ [\d,-]+$/.exec(r.command)?.[1])
    ).toEqual(['upgrade', 'tls'])
    expect(result.certificate).toEqual({ daysLeft: 89, names: ['example.com', 'www.example.com'] })
  })

  test("refused on a first deploy: the ACME server's words, the site stays on plain HTTP", async () => {
    const t = new ScriptedTransport({ inspect: inspect(''), certificate: refused })
    const result = await deploy(auto(), t)
    expect(result.status).toBe('failure')
    expect(result.message).toContain(
      'The ACME server did not issue the certificate for example.com, www.example.com:\nwww.example.com: dns: no valid A records found for www.example.com'
    )
    expect(result.message).toContain(`${NEW} is live over plain HTTP`)
    expect(t.steps()).not.toContain('reload-nginx')
  })

  test('a name added, refused: asked before the gates, nothing switched', async () => {
    const t = new ScriptedTransport({
      inspect: inspect('certificate=60 example.com\nchallenge=yes\n'),
      certificate: refused
    })
    const result = await deploy(auto(), t)
    expect(result.status).toBe('failure')
    expect(result.message).toContain(
      `Nothing was switched: ${LIVE} still serves, with the certificate it had.`
    )
    expect(t.steps()).not.toContain('switch')
    expect(t.steps()).not.toContain('nginx-t')
    expect(t.steps()).toContain('mark-failed')
  })

  test('a failed renewal: a warning and the summary say it, with the days left', async () => {
    const log = Buffer.from(
      'Failed to renew certificate mysite with error: Connection refused\n'
    ).toString('base64')
    const t = new ScriptedTransport({
      inspect: inspect(
        `certificate=12 example.com,www.example.com\nchallenge=yes\nrenewal-failed=${log}\n`
      ),
      certificate: { stdout: 'certificate=89 example.com,www.example.com\n' }
    })
    const result = await deploy(auto(), t)
    expect(result.status).toBe('success')
    expect(result.certificate?.daysLeft).toBe(89)
    expect(result.certificate?.renewalProblem).toContain('Connection refused')
    // 12 days left: renewed by this deploy, before the gates.
    expect(t.steps().indexOf('certificate')).toBeLessThan(t.steps().indexOf('nginx-t'))
  })
})
