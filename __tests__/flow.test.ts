// The per-host flow (flow/host.ts) through the real executor, with a scripted transport in place
// of SSH: which steps run, in which order, and what the result says, for every mode and failure.

import { PROBLEMS, PROBLEMS_MARK } from '../src/server/preflight.js'
import { boundaryOps } from '../src/server/boundary.js'
import { jest } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { deployHost, operationHost, runContext } from '../src/main.js'
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
  readonly ran: Array<{ step: string; title: string; command: string; privileged?: boolean }> = []
  lockReleased = false
  constructor(private readonly answers: Record<string, Answer> = {}) {}

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const step = options.step?.id ?? '?'
    this.ran.push({
      step,
      title: options.step?.title ?? '',
      command: command.text,
      privileged: options.privileged
    })
    if (step === 'lock') {
      options.onStdout?.(Buffer.from('STALE \nLOCKED\n'))
      // The step sent with the lock: its answer comes framed in the lock's output.
      const first = options.step?.first
      if (first) {
        this.ran.push({ step: first, title: '', command: command.text })
        const answer = this.answers[first] ?? DEFAULT_ANSWERS[first] ?? {}
        const given = {
          code: 0,
          stdout: '',
          stderr: '',
          ...(typeof answer === 'function' ? answer(command.text) : answer)
        }
        const [out, err] = [Buffer.from(given.stdout), Buffer.from(given.stderr)]
        options.onStdout?.(Buffer.from(`THEN ${given.code} ${out.length} ${err.length}\n`))
        options.onStdout?.(Buffer.concat([out, err]))
      }
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
    stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${LIVE}\nreleases=${LIVE} ${OLDER}\nfailed=\ninstance=blue\n`
  },
  discover: discovered,
  migrations: {
    stdout: `DJANGO-MIGRATIONS ${JSON.stringify({ pending: ['notes.0002_note'], irreversible: [] })}\n`
  },
  'nginx-t': { stdout: 'changed= mysite\n' },
  health: { stdout: 'healthy 200 12\n' },
  'instance-health': { stdout: 'healthy 200 900\n' },
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
    // A dry run changes nothing: a deploy's new code is read from a staged upload, removed at
    // the end. It holds the lock meanwhile, so that it never races a deploy's venv.
    expect(dry.steps()).toEqual(
      s.source && !s.rollback
        ? [
            'lock',
            'inspect',
            'upload',
            'venv',
            'discover',
            'migrations',
            'remove-staged',
            'read-config'
          ]
        : ['lock', 'inspect', 'discover', 'read-config']
    )
    expect(dry.lockReleased).toBe(true)
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
    expect(planned.plan).toContain(
      `Start ${OLDER} in gunicorn-mysite@green.service, beside the live instance`
    )
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

describe('every root step holds the steps lock', () => {
  // The deploy lock's holder waits for that lock before it lets go: a step of a dead run never
  // runs beside the next deploy. The executor sends every step so, whatever slot it came from.
  const holdsStepsLock = (command: string) =>
    command.startsWith(
      'if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi\n'
    )

  const runs: Array<[string, Partial<Settings>]> = [
    [
      'a deploy with every kind of step',
      {
        dotenv: [['SECRET_KEY', 'x'.repeat(20)]],
        postDeploy: 'echo done',
        processes: [{ name: 'worker', command: ['python', '-m', 'celery', 'worker'], once: false }],
        schedules: [
          {
            name: 'report',
            command: ['python', 'manage.py', 'report'],
            calendar: 'daily',
            once: true
          }
        ],
        acme: { email: 'admin@example.com', directory: 'https://acme.example.com/dir' },
        serverNames: ['example.com']
      }
    ],
    ['source: none', { source: null }],
    ['rollback: true', { rollback: true, source: null }]
  ]

  test.each(runs)('%s, and its dry run', async (_, overrides) => {
    for (const dryRun of [false, true]) {
      const t = new ScriptedTransport()
      const result = await deploy(settingsFor({ source, ...overrides, dryRun }), t)
      expect(result.status).toBe('success')
      // The lock command itself, and the host check it runs as soon as the lock is taken, are
      // the two that need not: the lock is what the holder lets go.
      const sent = t.ran.filter((r) => r.step !== 'lock' && r.step !== 'inspect')
      const root = sent.filter((r) => r.privileged)
      expect(root.length).toBeGreaterThan(dryRun ? 1 : 8)
      expect(root.filter((r) => !holdsStepsLock(r.command)).map((r) => r.step)).toEqual([])
      // A step run as the SSH user is read-only, and could not open the lock (root's alone).
      const asUser = sent.filter((r) => !r.privileged).map((r) => r.step)
      expect(asUser.filter((id) => !['health', 'check-calendars'].includes(id))).toEqual([])
    }
  })

  test('logs, and its dry run (which reads the logs too: it changes nothing)', async () => {
    for (const dryRun of [false, true]) {
      const t = new ScriptedTransport()
      const s = settingsFor({ operation: { kind: 'logs', lines: 20 }, dryRun })
      const report = await operationHost(s, s.hosts[0], runContext({}), async () => t)
      expect(report.status).toBe('success')
      const sent = t.ran.filter((r) => r.step !== 'lock' && r.step !== 'inspect')
      expect(sent.map((r) => [r.step, r.privileged])).toEqual([['logs', true]])
      expect(holdsStepsLock(sent[0].command)).toBe(true)
    }
  })
})

describe('every root step of a remove holds the steps lock', () => {
  const listed = [
    'unit gunicorn-mysite@.service',
    'file /etc/nginx/sites-available/mysite',
    'certificate',
    'user',
    'entry releases'
  ].join('\n')
  test.each([false, true])('force, dry run %s', async (dryRun) => {
    const t = new ScriptedTransport({ 'remove-list': { stdout: listed } })
    const s = settingsFor({ operation: { kind: 'remove', force: true }, dryRun })
    const result = await operationHost(s, s.hosts[0], runContext({}), async () => t)
    expect(result.status).toBe('success')
    const root = t.ran.filter((r) => r.step !== 'lock' && r.step !== 'inspect' && r.privileged)
    expect(root.length).toBe(dryRun ? 2 : 6)
    expect(
      root
        .filter((r) => !r.command.startsWith('if [ -f /srv/mysite/.deploy.steps ]; then exec 8<'))
        .map((r) => r.step)
    ).toEqual([])
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
      'upload',
      'venv',
      'discover',
      'django',
      'verify-units',
      'nginx-t',
      'start',
      'instance-health',
      'switch',
      'health',
      'drain',
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
      django: { code: 1, stderr: 'Traceback\ndjango.db.utils.OperationalError: no such table' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(
      /^manage.py migrate \(when a migration is unapplied\), collectstatic failed: django.db.utils.OperationalError: no such table/
    )
    expect(result.failedStep?.title).toBe(
      'manage.py migrate (when a migration is unapplied), collectstatic'
    )
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

  test('every problem the first Django process found, in one message: nothing migrated or switched', async () => {
    const found = {
      problems: [
        {
          cause: 'The settings read environment variables that are not set: A, B',
          fix: 'Add A, B to dotenv.'
        },
        {
          cause: 'The WSGI module mysite.wsgi is not in the release',
          fix: 'Set the wsgi-module input.'
        }
      ],
      warnings: ['No requirements file at requirements.txt']
    }
    const t = new ScriptedTransport({
      discover: { code: PROBLEMS, stdout: `${PROBLEMS_MARK}${JSON.stringify(found)}\n` }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(result.message).toMatch(
      /^The release has 2 problems to fix before it can run:\n1\. The settings read environment variables that are not set: A, B\.\n {3}Add A, B to dotenv\.\n2\. The WSGI module/
    )
    expect(result.message).toContain(`Nothing was migrated or switched: ${LIVE} still serves.`)
    expect(t.steps()).not.toContain('django')
    expect(t.steps()).not.toContain('switch')
    expect(t.steps().slice(-1)).toEqual(['mark-failed'])
  })

  describe('a health path that does not exist (404)', () => {
    const firstDeploy = {
      stdout: 'cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=\nreleases=\nfailed=\n'
    }
    const notFound = { 'instance-health': { stdout: 'healthy 404 30\n' } }

    test('fails a first deploy before the switch, saying so and how to fix it', async () => {
      const t = new ScriptedTransport({ inspect: firstDeploy, ...notFound })
      const result = await deploy(settingsFor({ source, healthPath: '/healthz' }), t)
      expect(result.status).toBe('failure')
      expect(result.message).toContain(
        `${NEW} was not healthy: health-path /healthz does not exist: the app answered 404 to it.`
      )
      expect(result.message).toContain('set health-expect')
      expect(t.steps()).not.toContain('switch')
    })

    test('is a warning on a later deploy, and fine when health-expect says so', async () => {
      const later = new ScriptedTransport(notFound)
      expect((await deploy(settingsFor({ source }), later)).status).toBe('success')
      const given = new ScriptedTransport({ inspect: firstDeploy, ...notFound })
      const s = settingsFor({ source, healthExpect: [{ min: 200, max: 404 }] })
      expect((await deploy(s, given)).status).toBe('success')
    })
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

  test('a release that fails its own health check never gets traffic: nothing is switched', async () => {
    const t = new ScriptedTransport({
      'instance-health': { code: 1, stdout: 'unhealthy 0 60000 [Errno 111] Connection refused\n' },
      diagnostics: { stdout: '--- errors in the journal\nImportError: no module x\n' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('rolled-back')
    expect(result.message.split('\n')[0]).toBe('ImportError: no module x')
    expect(result.message).toContain(
      `${NEW} was not healthy: the health check got no answer ([Errno 111] Connection refused) from / on its own socket within 60 s. It never served a request: nothing was switched, ${LIVE} still serves.`
    )
    expect(t.steps().slice(-5)).toEqual([
      'start',
      'instance-health',
      'diagnostics',
      'mark-failed',
      'abandon'
    ])
    expect(t.steps()).not.toContain('switch')
    // The journal read is the new instance's: the live one is blue.
    expect(t.ran.find((r) => r.step === 'diagnostics')?.title).toContain('gunicorn-mysite@green')
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

  test('a failed prune or drain after a healthy switch is a warning, not a failed deploy', async () => {
    const t = new ScriptedTransport({
      prune: { code: 1, stderr: 'rm: cannot remove' },
      drain: { code: 1, stderr: 'Failed to stop' }
    })
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
    const first = new ScriptedTransport({ django: { code: 1, stderr: 'boom' } })
    const second = new ScriptedTransport()
    const [a, b] = await Promise.all([
      deployHost(s, hosts[0], rollout, runContext({}), async () => first),
      deployHost(s, hosts[1], rollout, runContext({}), async () => second)
    ])
    expect(a.status).toBe('failure')
    expect(b.status).toBe('failure')
    expect(b.message).toMatch(/stopped: the first host could not run its Django steps/)
    expect(second.steps()).not.toContain('django')
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

describe('a deploy of what already serves', () => {
  /** The inspection of a host whose live release was deployed to its end with `key`. */
  const deployedWith = (key: string) => ({
    stdout: `cpus=2\npython=3.11.2 /usr/bin/python3.11\nlive=${LIVE}\ndeployed=${key}\nreleases=${LIVE} ${OLDER}\nfailed=\ninstance=blue\n`
  })
  /** The key the run computes: recorded by the prune step of a deploy that went well. */
  async function keyOf(s: Settings): Promise<string> {
    const t = new ScriptedTransport()
    await deploy(s, t)
    const prune = t.ran.find((r) => r.step === 'prune')?.command ?? ''
    const key = /([0-9a-f]{64}) \S+ > \/srv\/mysite\/\.deploy\/deployed\//.exec(prune)?.[1]
    if (!key) throw new Error(`the prune step records no deploy key:\n${prune}`)
    return key
  }

  test('the same key: nothing uploaded or restarted, the live site checked, success', async () => {
    const s = settingsFor({ source })
    const t = new ScriptedTransport({ inspect: deployedWith(await keyOf(s)) })
    const result = await deploy(s, t)
    expect(t.steps()).toEqual(['lock', 'inspect', 'health'])
    expect(result).toMatchObject({ status: 'success', release: LIVE, httpStatus: 200 })
    // The summary's count: the lock (with the host check in it), the check through nginx.
    expect(result.roundTrips).toBe(2)
    expect(result.message).toBe(
      `${LIVE} already serves this commit with these settings: nothing was uploaded or restarted.`
    )
    expect(t.lockReleased).toBe(true)
    // Its dry run says so, and still lists what a deploy would do when the site does not answer.
    const dry = new ScriptedTransport({ inspect: deployedWith(await keyOf(s)) })
    let logged = ''
    const write = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => ((logged += String(chunk)), true))
    await deploy({ ...s, dryRun: true }, dry).finally(() => write.mockRestore())
    expect(logged).toContain(
      `A deploy would change nothing: ${LIVE} already serves this commit with these settings (the deploy checks that it answers, and deploys it again if it does not).`
    )
  })

  test('another commit, other settings, or a live site that does not answer: a full deploy', async () => {
    const s = settingsFor({ source })
    const key = await keyOf(s)
    const changed = mkdtempSync(join(tmpdir(), 'dda-flow-'))
    writeFileSync(join(changed, 'manage.py'), '# changed\n')
    writeFileSync(join(changed, 'requirements.txt'), 'Django\n')
    const runs = [
      [settingsFor({ source: changed }), {}],
      [settingsFor({ source, workers: 3 }), {}],
      [s, { health: { stdout: 'unhealthy 502 40\n' } }]
    ] as const
    for (const [settings, answers] of runs) {
      const t = new ScriptedTransport({ inspect: deployedWith(key), ...answers })
      await deploy(settings, t)
      expect(t.steps()).toContain('upload')
      expect(t.steps()).toContain('switch')
    }
    // Connection settings are not what the host serves: the same key.
    expect(await keyOf(settingsFor({ source, connectTimeoutMs: 5000 }))).toBe(key)
  })

  test("source: none and rollbacks forget the live release's key: its files are no longer that deploy's", async () => {
    for (const overrides of [{ source: null }, { rollback: true, source: null }]) {
      const t = new ScriptedTransport({ inspect: deployedWith('a'.repeat(64)) })
      await deploy(settingsFor(overrides), t)
      expect(t.steps()).toContain('switch')
      expect(t.ran.find((r) => r.step === 'prune')?.command).toMatch(
        /rm -f \/srv\/mysite\/\.deploy\/deployed\/2026/
      )
    }
  })
})

describe("a warm deploy plans with the live release's settings", () => {
  /** What the live release's settings said, recorded with its deploy key. */
  const recorded = (media = '/srv/mysite/shared/media') => ({
    STATIC_URL: '/static/',
    STATIC_ROOT: `/srv/mysite/releases/${LIVE}/staticfiles`,
    MEDIA_URL: '/media/',
    MEDIA_ROOT: media
  })
  const inspectWith = (settings: object) => ({
    stdout: `${DEFAULT_ANSWERS.inspect && (DEFAULT_ANSWERS.inspect as { stdout: string }).stdout}deployed=${'a'.repeat(64)}\nsettings=${Buffer.from(JSON.stringify(settings)).toString('base64')}\n`
  })
  /** The script a step runs as the app user (sandbox.ts sends it base64-encoded). */
  const appScripts = (command: string) =>
    [...command.matchAll(/printf %s (\S+) \| base64 -d/g)]
      .map((m) => Buffer.from(m[1].replace(/^'|'$/g, ''), 'base64').toString())
      .join('\n')
  const recordedBy = (prune: string) => {
    const base64 = /[0-9a-f]{64} (\S+) > /.exec(prune)?.[1].replace(/\\/g, '') ?? ''
    return JSON.parse(Buffer.from(base64, 'base64').toString()) as Record<string, unknown>
  }

  test('no process of its own reads them: the Django process checks them, and they are recorded again', async () => {
    const t = new ScriptedTransport({ inspect: inspectWith(recorded()) })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('success')
    expect(t.steps()).not.toContain('discover')
    const django = t.ran.filter((r) => r.step === 'django')
    expect(django).toHaveLength(1)
    // The live release's paths moved to the new release, as the new settings will say them.
    expect(appScripts(django[0].command)).toContain(
      `"settings":{"expect":{"STATIC_URL":"/static/","STATIC_ROOT":"/srv/mysite/releases/${NEW}/staticfiles"`
    )
    expect(recordedBy(t.ran.find((r) => r.step === 'prune')?.command ?? '')).toEqual({
      ...recorded(),
      STATIC_ROOT: `/srv/mysite/releases/${NEW}/staticfiles`
    })
  })

  test('settings that say other things now: planned again with them, the Django process run again', async () => {
    const now = {
      ...recorded('/srv/mysite/shared/uploads'),
      STATIC_ROOT: `/srv/mysite/releases/${NEW}/staticfiles`
    }
    let runs = 0
    const t = new ScriptedTransport({
      inspect: inspectWith(recorded()),
      django: () =>
        ++runs === 1
          ? {
              code: 75,
              stdout: `DJANGO-SETTINGS ${JSON.stringify(now)}\n`,
              stderr: 'say other things'
            }
          : {}
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('success')
    const django = t.ran.filter((r) => r.step === 'django')
    expect(django).toHaveLength(2)
    expect(appScripts(django[0].command)).toContain('"settings":{"expect"')
    // Planned with what the settings say now: the new media folder prepared, nothing assumed.
    expect(appScripts(django[1].command)).not.toContain('"settings":')
    expect(django[1].command).toContain('/srv/mysite/shared/uploads')
    expect(t.steps()).not.toContain('discover')
    expect(recordedBy(t.ran.find((r) => r.step === 'prune')?.command ?? '')).toEqual(now)
  })

  test('that exit without what the settings say (a build command of its own exits so): a failure', async () => {
    const t = new ScriptedTransport({
      inspect: inspectWith(recorded()),
      django: { code: 75, stderr: 'compress: exit 75' }
    })
    const result = await deploy(settingsFor({ source }), t)
    expect(result.status).toBe('failure')
    expect(t.ran.filter((r) => r.step === 'django')).toHaveLength(1)
    expect(result.message).toContain('failed: compress: exit 75')
  })

  test('without a record (an earlier version deployed it), or for another mode: read as before', async () => {
    const t = new ScriptedTransport()
    await deploy(settingsFor({ source }), t)
    expect(t.steps()).toContain('discover')
    expect(appScripts(t.ran.find((r) => r.step === 'django')?.command ?? '')).not.toContain(
      '"settings":'
    )
    // The dry run lists the steps as the deploy will run them.
    const dry = await deploy(
      { ...settingsFor({ source }), dryRun: true },
      new ScriptedTransport({ inspect: inspectWith(recorded()) })
    )
    expect(dry.plan?.join('\n')).not.toContain("Read the project's settings")
    expect(
      (await deploy({ ...settingsFor({ source }), dryRun: true }, t)).plan?.join('\n')
    ).toContain("Read the project's settings")
    const configs = new ScriptedTransport({ inspect: inspectWith(recorded()) })
    await deploy(settingsFor({ source: null }), configs)
    expect(configs.steps()).toContain('discover')
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
    expect(t.steps().slice(4, 7)).toEqual(['discover', 'asgi-import', 'django'])
    // The folders the app writes are made in the import's script, before it.
    expect(boundaryOps(t.ran.find((r) => r.step === 'asgi-import')?.command ?? '')).toContainEqual({
      op: 'folder',
      path: '/srv/mysite/shared/media',
      owner: { user: 'mysite', group: 'www-data' },
      mode: '2750'
    })
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
    expect(t.steps()).not.toContain('django')
    expect(t.steps()).not.toContain('switch')
    expect(t.steps().slice(-1)).toEqual(['mark-failed'])
  })
})

describe('background processes: restarted after health, rolled back with the web release', () => {
  const withWorker = (): Settings =>
    settingsFor({
      source,
      processes: [{ name: 'worker', command: ['python', '-m', 'celery', 'worker'], once: false }]
    })

  test('the dry run lists the restart of the processes where the deploy runs it', async () => {
    const real = new ScriptedTransport()
    await deploy(withWorker(), real)
    const dry = new ScriptedTransport()
    const planned = await deploy({ ...withWorker(), dryRun: true }, dry)
    expect(planned.plan).toEqual(titlesRun(real))
    // The dry run reads the new code's settings and migrations from a staged upload it removes.
    expect(dry.steps()).toEqual([
      'lock',
      'inspect',
      'upload',
      'venv',
      'discover',
      'migrations',
      'remove-staged',
      'read-config',
      'read-processes'
    ])
    const ids = real.steps()
    expect(ids.indexOf('restart-processes')).toBe(ids.indexOf('health') + 1)
  })

  test("a dry run checks the schedules' calendars too, and changes nothing", async () => {
    const dry = new ScriptedTransport({
      'check-calendars': {
        code: 1,
        stderr:
          "Input 'schedules': 'x': systemd cannot parse the calendar expression 'dayly' (on:).\n"
      }
    })
    const s = settingsFor({
      source,
      dryRun: true,
      schedules: [
        { name: 'x', calendar: 'dayly', command: ['python', 'manage.py', 'x'], once: true }
      ]
    })
    const planned = await deploy(s, dry)
    expect(planned.status).toBe('failure')
    expect(planned.message).toContain("systemd cannot parse the calendar expression 'dayly'")
    expect(dry.steps()).toEqual(['lock', 'inspect', 'check-calendars'])
  })

  test('a process that does not stay up: everything rolled back, its error first', async () => {
    const transport = new ScriptedTransport({
      'restart-processes': {
        code: 1,
        stdout: `process=worker mysite-worker.service activating ${NEW}\n`,
        stderr:
          '=== mysite-worker.service did not stay up (5 s); its journal:\nTraceback (most recent call last):\n' +
          "ModuleNotFoundError: No module named 'reportlab'\n" +
          'mysite-worker.service did not stay up: it exited and was restarted by systemd\n'
      },
      'rollback-processes': {
        stdout: `process=worker mysite-worker.service active ${LIVE}\n`
      }
    })
    const result = await deploy(withWorker(), transport)
    expect(result.status).toBe('rolled-back')
    expect(result.message.split('\n')[0]).toBe("ModuleNotFoundError: No module named 'reportlab'")
    expect(result.message).toContain(`mysite-worker.service of ${NEW} did not stay up`)
    expect(transport.steps()).toEqual(
      expect.arrayContaining(['mark-failed', 'rollback', 'rollback-processes'])
    )
    expect(result.processes).toEqual([
      { name: 'worker', unit: 'mysite-worker.service', state: 'active', release: LIVE }
    ])
  })

  test('an unhealthy web release: the processes and their files are never touched', async () => {
    const transport = new ScriptedTransport({ health: { stdout: 'unhealthy 502 30000\n' } })
    const result = await deploy({ ...withWorker(), healthTimeoutMs: 1000 }, transport)
    expect(result.status).not.toBe('success')
    expect(transport.steps()).not.toContain('restart-processes')
    expect(transport.steps()).not.toContain('rollback-processes')
    // The gate verified them in a folder of its own; nothing is written under /etc before.
    const gate = transport.ran.find((r) => r.step === 'verify-processes')?.command ?? ''
    expect(gate).not.toContain('/etc/systemd/system')
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

describe('maintenance in a deploy', () => {
  const PENDING = {
    stdout: `DJANGO-MIGRATIONS ${JSON.stringify({ pending: ['notes.0002_note'], irreversible: [] })}\n`
  }
  const NOTHING = {
    stdout: `DJANGO-MIGRATIONS ${JSON.stringify({ pending: [], irreversible: [] })}\n`
  }
  const during = () => settingsFor({ source, maintenanceDuringMigrations: true })

  test('with migrations to apply, the page is up from before the Django process until the switch', async () => {
    const t = new ScriptedTransport({ 'pending-migrations': PENDING })
    const result = await deploy(during(), t)
    expect(result.status).toBe('success')
    expect(result.maintenance).toBe('off')
    const steps = t.steps()
    const at = (id: string) => steps.indexOf(id)
    expect(at('pending-migrations')).toBeGreaterThan(-1)
    expect(at('pending-migrations')).toBeLessThan(at('maintenance-on'))
    expect(at('maintenance-on')).toBeLessThan(at('django'))
    expect(at('switch')).toBeLessThan(at('maintenance-off'))
    expect(at('maintenance-off')).toBeLessThan(at('health'))
    expect(steps.filter((s) => s.startsWith('maintenance-'))).toEqual([
      'maintenance-on',
      'maintenance-off'
    ])
  })

  test('without migrations to apply, nothing changes; without the input, no read either', async () => {
    const quiet = new ScriptedTransport({ 'pending-migrations': NOTHING })
    expect((await deploy(during(), quiet)).status).toBe('success')
    expect(quiet.steps().filter((s) => s.startsWith('maintenance-'))).toEqual([])
    const plain = new ScriptedTransport()
    expect((await deploy(settingsFor({ source }), plain)).status).toBe('success')
    expect(plain.steps()).not.toContain('pending-migrations')
  })

  test('a failed migration takes the page down again, and the message says so', async () => {
    const t = new ScriptedTransport({
      'pending-migrations': PENDING,
      django: { code: 1, stderr: 'django.db.utils.OperationalError: no such table\n' }
    })
    const result = await deploy(during(), t)
    expect(result.status).toBe('failure')
    expect(t.steps().filter((s) => s.startsWith('maintenance-'))).toEqual([
      'maintenance-on',
      'maintenance-off'
    ])
    expect(t.steps()).not.toContain('switch')
    expect(result.message).toContain('maintenance page put up for the migrations is down again')
  })

  test('a site in maintenance: checked on the live socket, the page left up and said', async () => {
    const t = new ScriptedTransport({
      inspect: {
        stdout: `${(DEFAULT_ANSWERS.inspect as { stdout: string }).stdout}maintenance=on\n`
      },
      'pending-migrations': PENDING
    })
    const result = await deploy(during(), t)
    expect(result.status).toBe('success')
    expect(result.maintenance).toBe('on')
    expect(result.message).toContain('maintenance is on')
    // The window is for a live site: the page was up already and stays up.
    expect(t.steps()).not.toContain('maintenance-on')
    expect(t.steps()).not.toContain('maintenance-off')
    const health = t.ran.find((r) => r.step === 'health')
    expect(health?.title).toContain('from the live instance on /run/gunicorn-mysite.sock')
    expect(health?.privileged).toBe(true)
    expect(health?.command).toContain('/run/gunicorn-mysite.sock')
  })
})
