// Background processes and schedules: the inputs, the units, the planner's steps and the report.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Input } from '../src/constants.js'
import { planRun, planSteps } from '../src/plan.js'
import {
  renderProcessService,
  renderScheduleService,
  renderScheduleTimer
} from '../src/render/processes.js'
import { deploymentOutcome } from '../src/report/deployment.js'
import type { HostReport } from '../src/report/report.js'
import type { HostFacts } from '../src/server/facts.js'
import { parseFacts } from '../src/server/inspect.js'
import {
  parseProcessStates,
  PROCESS_SETTLE_SECONDS,
  processDiff,
  processFiles,
  settle
} from '../src/server/processes.js'
import { readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'
import { settingsFor, hostFacts, inputError } from './settings-fixture.js'

function read(overrides: Record<string, string>): Settings {
  const values: Record<string, string> = {
    host: 'app1.example.com\napp2.example.com',
    username: 'deploy',
    password: 'secret-password',
    'insecure-skip-host-key-check': 'true',
    'project-name': 'mysite',
    source: 'none',
    ...overrides
  }
  return readSettings({ getInput: (name) => values[name] ?? '', workspace: '/tmp' })
}

const refusal = (overrides: Record<string, string>) =>
  inputError(() => read(overrides))?.message ?? 'accepted'

const WORKER = 'python -m celery -A mysite worker -l info'

describe('the processes and schedules inputs', () => {
  test('a mapping of name to command, or to { run, once }; beat runs once by default', () => {
    const s = read({
      processes: [
        `worker: ${WORKER}`,
        'beat: python -m celery -A mysite beat',
        'alerts: { run: "python manage.py sendalerts --note \'a b\'", once: true }'
      ].join('\n')
    })
    expect(s.processes).toEqual([
      { name: 'worker', command: WORKER.split(' '), once: false },
      { name: 'beat', command: ['python', '-m', 'celery', '-A', 'mysite', 'beat'], once: true },
      {
        name: 'alerts',
        command: ['python', 'manage.py', 'sendalerts', '--note', 'a b'],
        once: true
      }
    ])
    expect(s.processStopTimeoutSec).toBe(300)
    expect(s.singletonHost).toBeUndefined()
  })

  test('schedules: { on, run }, once by default; `on` stays a string (YAML 1.2)', () => {
    const s = read({
      schedules:
        'clearsessions: { on: daily, run: python manage.py clearsessions }\n' +
        "cache: { on: '*:0/15', run: python manage.py warm, once: false }"
    })
    expect(s.schedules).toEqual([
      {
        name: 'clearsessions',
        calendar: 'daily',
        command: ['python', 'manage.py', 'clearsessions'],
        once: true
      },
      { name: 'cache', calendar: '*:0/15', command: ['python', 'manage.py', 'warm'], once: false }
    ])
  })

  test.each([
    [{ processes: 'Worker!: x' }, "Input 'processes': 'Worker!' is not a name"],
    [{ processes: 'dda-x: x' }, 'accepted'],
    [{ processes: '- celery worker' }, "Input 'processes': must be a YAML mapping"],
    [{ processes: 'just text' }, "Input 'processes': must be a YAML mapping"],
    [{ processes: 'worker: [a, b]' }, "Input 'processes': 'worker' must be a command or a mapping"],
    [{ processes: 'worker: "a\\nb"' }, "Input 'processes': 'worker': the command must be one line"],
    [{ processes: 'worker: celery $X' }, "Input 'processes': 'worker': the command uses $"],
    [{ processes: 'worker: a && b' }, "the shell syntax '&&'"],
    [{ processes: 'worker: a > log' }, "the shell syntax '>'"],
    [{ processes: 'worker: { run: a, user: root }' }, "'worker' has 'user'; allowed: run, once"],
    [{ processes: 'worker: { run: a, once: yes }' }, "'worker': once must be true or false"],
    [{ processes: 'a: x\na: y' }, "Input 'processes': is not valid YAML"],
    [{ schedules: 'daily: python manage.py x' }, "Input 'schedules': 'daily' must be a mapping"],
    [{ schedules: 'x: { on: "daily\'", run: a }' }, "Input 'schedules': 'x': on must be"],
    [{ schedules: 'x: { on: "%h", run: a }' }, "Input 'schedules': 'x': on must be"],
    [{ schedules: 'x: { run: a }' }, "Input 'schedules': 'x': on must be"],
    [{ schedules: 'x: { on: "daily\\\\", run: a }' }, "Input 'schedules': 'x': on must be"],
    [
      { schedules: 'x: { on: "daily\\nOnCalendar=x", run: a }' },
      "Input 'schedules': 'x': on must be"
    ],
    [{ schedules: 'x: { on: "$(id)", run: a }' }, "Input 'schedules': 'x': on must be"],
    [
      { processes: 'x: a', schedules: 'x: { on: daily, run: b }' },
      "Input 'schedules': 'x' is also a process"
    ],
    [
      { processes: 'worker: a', 'process-stop-timeout': '590' },
      "Input 'process-stop-timeout': 590 s does not fit"
    ],
    // Without a process or a schedule, nothing waits for one to stop.
    [{ 'process-stop-timeout': '590' }, 'accepted'],
    [{ 'singleton-host': 'app3.example.com' }, "Input 'singleton-host': 'app3.example.com' is not"]
  ])('%j → %s', (overrides, message) => {
    const said = refusal(overrides)
    if (message === 'accepted') expect(said).toBe('accepted')
    else expect(said).toContain(message)
  })

  test('singleton-host names one of the hosts, by name or name:port', () => {
    expect(read({ [Input.SingletonHost]: 'app2.example.com' }).singletonHost).toBe(
      'app2.example.com:22'
    )
    expect(read({ [Input.SingletonHost]: 'app2.example.com:22' }).singletonHost).toBe(
      'app2.example.com:22'
    )
  })
})

const withProcesses = (): Settings =>
  settingsFor({
    processes: [
      { name: 'worker', command: WORKER.split(' '), once: false },
      { name: 'beat', command: ['python', '-m', 'celery', '-A', 'mysite', 'beat'], once: true }
    ],
    schedules: [
      {
        name: 'clearsessions',
        calendar: 'daily',
        command: ['python', 'manage.py', 'clearsessions'],
        once: true
      }
    ]
  })

describe('the units', () => {
  const s = withProcesses()
  const opts = { appRoot: '/srv/mysite/current', writable: ['/srv/mysite/cache'] }

  test('a process: the live release, its venv first on PATH, .env, the app user, the sandbox', () => {
    const text = renderProcessService(s, s.processes[0], opts)
    expect(text).toContain('# django-deploy-action process of mysite\n')
    for (const line of [
      'Type=exec',
      'KillMode=mixed',
      'TimeoutStopSec=300',
      'Restart=always',
      'User=mysite',
      'WorkingDirectory=/srv/mysite/current',
      'Environment=DJANGO_SETTINGS_MODULE=mysite.settings',
      'Environment=PATH=/srv/mysite/current/.venv/bin:/usr/local/bin:/usr/bin:/bin',
      'EnvironmentFile=-/srv/mysite/.deploy/env',
      'ExecStart=/usr/bin/env python -m celery -A mysite worker -l info',
      'ProtectSystem=strict',
      'ReadWritePaths=/srv/mysite/shared',
      'ReadWritePaths=/srv/mysite/cache',
      'NoNewPrivileges=true',
      'SystemCallFilter=~@privileged @resources',
      'WantedBy=multi-user.target'
    ])
      expect(text.split('\n')).toContain(line)
    expect(text).not.toMatch(/Requires=gunicorn|Type=notify/)
  })

  test('each word of a command is one argument: quotes, % and spaces stay literal', () => {
    const text = renderProcessService(
      s,
      { name: 'x', command: ['python', 'manage.py', 'run', 'a b', '100%', '"q"'], once: false },
      opts
    )
    expect(text).toContain('ExecStart=/usr/bin/env python manage.py run "a b" 100%% "\\"q\\""\n')
  })

  test('a schedule: a timer to the second and a oneshot service', () => {
    const timer = renderScheduleTimer(s, s.schedules[0])
    expect(timer.split('\n')).toEqual(
      expect.arrayContaining(['OnCalendar=daily', 'AccuracySec=1s', 'WantedBy=timers.target'])
    )
    const service = renderScheduleService(s, s.schedules[0], opts)
    expect(service).toContain('Type=oneshot')
    expect(service).toContain('ExecStart=/usr/bin/env python manage.py clearsessions')
    expect(service).not.toContain('[Install]')
  })
})

describe('the plan', () => {
  const facts: HostFacts = hostFacts({
    live: '20261125T081500Z-1a2b3c4',
    releases: ['20261125T081500Z-1a2b3c4'],
    processUnits: ['mysite-old.service', 'mysite-beat.service'],
    instance: 'blue',
    migrated: undefined,
    backups: undefined
  })
  const plan = (s: Settings, singletons = true) =>
    planRun({
      settings: s,
      facts,
      newRelease: '20261126T090000Z-abcdef0',
      venvKey: 'k',
      projectSettings: {},
      singletons
    })

  test('calendars first; units verified with the gates; put in place and restarted after health', () => {
    const ids = planSteps(plan(withProcesses())).map((step) => step.id)
    expect(ids[0]).toBe('check-calendars')
    expect(ids.indexOf('verify-processes')).toBeGreaterThan(ids.indexOf('verify-units'))
    expect(ids).not.toContain('install-processes')
    expect(ids.indexOf('restart-processes')).toBe(ids.indexOf('health') + 1)
  })

  test('the calendar check names each schedule, and runs systemd-analyze calendar', () => {
    const check = plan(withProcesses()).release[0]
    expect(check.command.text).toContain('systemd-analyze calendar -- daily')
    expect(check.command.text).toContain("'clearsessions'")
  })

  test('what runs once is only on the singleton host; what left the inputs is removed', () => {
    const here = plan(withProcesses(), true).processes!
    expect(here.files.units.map((u) => u.unit)).toEqual([
      'mysite-worker.service',
      'mysite-beat.service',
      'mysite-clearsessions.timer'
    ])
    expect(here.files.removed).toEqual(['mysite-old.service'])
    expect(here.restart.title).toBe(
      'Processes: restart worker, beat, clearsessions; remove mysite-old.service'
    )
    const other = plan(withProcesses(), false).processes!
    expect(other.files.units.map((u) => u.unit)).toEqual(['mysite-worker.service'])
    expect(other.files.removed).toEqual(['mysite-beat.service', 'mysite-old.service'])
  })

  test('no process and none on the host: no step at all', () => {
    const p = planRun({
      settings: settingsFor(),
      facts: { ...facts, processUnits: [] },
      newRelease: '20261126T090000Z-abcdef0',
      venvKey: 'k',
      projectSettings: {}
    })
    expect(p.processes).toBeUndefined()
    expect(planSteps(p).map((step) => step.id)).not.toContain('restart-processes')
  })

  test('the dry run diff shows a removed unit as deleted', () => {
    const pf = processFiles(settingsFor(), { singletons: true, live: ['mysite-old.service'] })
    const diff = processDiff(
      pf,
      new Map([['/etc/systemd/system/mysite-old.service', '[Service]\n']])
    )
    expect(diff).toContain('--- /etc/systemd/system/mysite-old.service')
    expect(diff).toContain('+++ /dev/null')
  })
})

describe('the report', () => {
  test('inspect lists the units; the restart step says each state and release', () => {
    expect(
      parseFacts('cpus=1\nprocess-units=mysite-worker.service mysite-x.timer junk\n').processUnits
    ).toEqual(['mysite-worker.service', 'mysite-x.timer'])
    expect(
      parseProcessStates('process=worker mysite-worker.service active 20261126T090000Z-abcdef0\n')
    ).toEqual([
      {
        name: 'worker',
        unit: 'mysite-worker.service',
        state: 'active',
        release: '20261126T090000Z-abcdef0'
      }
    ])
  })

  test('the deployment status says which processes run which release', () => {
    const report = (host: string, names: string[]): HostReport => ({
      host,
      release: 'R2',
      previousRelease: 'R1',
      status: 'success',
      gates: [],
      phaseMs: {},
      durationMs: 1,
      message: '',
      processes: names.map((name) => ({
        name,
        unit: `mysite-${name}.service`,
        state: 'active',
        release: 'R2'
      }))
    })
    expect(deploymentOutcome([report('a', ['worker', 'beat']), report('b', ['worker'])])).toEqual([
      'success',
      'Deployed R2 to a, b; worker, beat on R2'
    ])
  })
})

describe('how long a restarted process is watched', () => {
  /** The watch under dash, on a host whose process crashes after `crashAfter` seconds (never: -1). */
  function watched(crashAfter: number): { failed: string; seconds: number } {
    const dir = mkdtempSync(join(tmpdir(), 'dda-settle-'))
    writeFileSync(
      join(dir, 'systemctl'),
      [
        '#!/bin/sh',
        'case "$*" in',
        `  *ActiveState*) if [ -e ${dir}/crashed ]; then echo activating; else echo active; fi ;;`,
        '  *InvocationID*) echo run-1 ;;',
        'esac'
      ].join('\n'),
      { mode: 0o755 }
    )
    const crash = crashAfter >= 0 ? `( sleep ${crashAfter}; : > ${dir}/crashed ) &\n` : ''
    const text = `${crash}${settle(['mysite-worker.service']).text}\necho "failed=$failed"`
    const started = Date.now()
    const out = execFileSync('dash', ['-c', text], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }
    })
    return { failed: out.trim().split('\n').pop() ?? '', seconds: (Date.now() - started) / 1000 }
  }

  test('one that exits is told when it exits, not at the end of the wait', () => {
    const run = watched(1)
    expect(run.failed).toBe('failed= mysite-worker.service')
    expect(run.seconds).toBeLessThan(PROCESS_SETTLE_SECONDS - 1)
  })

  test('one that stays up is watched the whole wait', () => {
    const run = watched(-1)
    expect(run.failed).toBe('failed=')
    expect(run.seconds).toBeGreaterThanOrEqual(PROCESS_SETTLE_SECONDS)
  }, 15000)
})
