// The units of the background processes and schedules: a service per process, a timer and a
// oneshot service per schedule. They run the live release with its venv and .env, as the app
// user, in the web unit's sandbox (HARDENING).

import { layout } from '../server/layout.js'
import type { ProcessSpec, ScheduleSpec, Settings } from '../settings.js'
import { HARDENING, MANAGED_HEADER } from './gunicorn.js'
import { systemdExecutable, systemdQuote, systemdValue, systemdWord } from './systemd-escape.js'

/** The line that marks a unit as one of the project's processes: how a removed one is found. */
export function processMarker(instanceName: string): string {
  return `# django-deploy-action process of ${instanceName}`
}

/** `<project>-<name>`: not `dda-<project>-*`, the transient units a lock holder stops. */
export function processUnitBase(instanceName: string, name: string): string {
  return `${instanceName}-${name}`
}

/**
 * What the web unit has and a process must not: gunicorn's socket (Requires=) and readiness
 * (Type=notify) are the web's own. The sandbox itself is the same, line for line.
 */
function sandbox(s: Settings, writable: readonly string[]): string[] {
  return [
    ...HARDENING.map((d) => (typeof d === 'string' ? d : d(s))),
    ...writable.map((path) => `ReadWritePaths=${systemdWord(path)}`)
  ]
}

function runAs(
  s: Settings,
  spec: ProcessSpec,
  appRoot: string,
  writable: readonly string[]
): string[] {
  // env(1) finds the program on PATH: the release's venv first, then the distribution's.
  const execStart = [
    systemdExecutable('/usr/bin/env'),
    ...spec.command.map((word) => systemdQuote(word))
  ].join(' ')
  return [
    `User=${systemdValue(s.appUser)}`,
    `Group=${systemdValue(s.appUser)}`,
    `WorkingDirectory=${systemdValue(appRoot)}`,
    `Environment=${systemdWord(`DJANGO_SETTINGS_MODULE=${s.settingsModule}`)}`,
    'Environment=PYTHONUNBUFFERED=1',
    `Environment=${systemdWord(`PATH=${appRoot}/.venv/bin:/usr/local/bin:/usr/bin:/bin`)}`,
    `EnvironmentFile=-${systemdValue(layout(s).env)}`,
    `ExecStart=${execStart}`,
    '',
    ...sandbox(s, writable)
  ]
}

export interface ProcessUnitOptions {
  /** `<deploy-path>/current` when live; the release folder when verified before the switch */
  appRoot: string
  writable?: readonly string[]
}

export function renderProcessService(
  s: Settings,
  spec: ProcessSpec,
  opts: ProcessUnitOptions
): string {
  return unitFile(s, [
    [
      'Unit',
      [
        `Description=${systemdValue(`${s.instanceName} process ${spec.name}`)}`,
        'After=network.target'
      ]
    ],
    [
      'Service',
      [
        'Type=exec',
        // SIGTERM to the main process only: a Celery worker then stops taking tasks, finishes the
        // ones it runs (warm shutdown) and ends its pool itself; the rest get SIGKILL at the timeout.
        'KillMode=mixed',
        `TimeoutStopSec=${s.processStopTimeoutSec}`,
        'Restart=always',
        'RestartSec=1',
        ...runAs(s, spec, opts.appRoot, opts.writable ?? [])
      ]
    ],
    ['Install', ['WantedBy=multi-user.target']]
  ])
}

/** The oneshot service a schedule's timer starts. */
export function renderScheduleService(
  s: Settings,
  spec: ScheduleSpec,
  opts: ProcessUnitOptions
): string {
  return unitFile(s, [
    ['Unit', [`Description=${systemdValue(`${s.instanceName} schedule ${spec.name}`)}`]],
    [
      'Service',
      [
        'Type=oneshot',
        'KillMode=mixed',
        `TimeoutStopSec=${s.processStopTimeoutSec}`,
        ...runAs(s, spec, opts.appRoot, opts.writable ?? [])
      ]
    ]
  ])
}

export function renderScheduleTimer(s: Settings, spec: ScheduleSpec): string {
  return unitFile(s, [
    ['Unit', [`Description=${systemdValue(`${s.instanceName} schedule ${spec.name}`)}`]],
    [
      'Timer',
      [
        // The grammar of the input allows no quote, %, \ or line break; systemd judges the rest.
        `OnCalendar=${systemdValue(spec.calendar)}`,
        // systemd's default is a minute: a schedule of seconds would drift by up to that much.
        'AccuracySec=1s',
        // A run missed while the host was down is made up once at boot.
        'Persistent=true'
      ]
    ],
    ['Install', ['WantedBy=timers.target']]
  ])
}

function unitFile(s: Settings, sections: Array<[string, string[]]>): string {
  const body = sections.map(([name, lines]) => [`[${name}]`, ...lines].join('\n')).join('\n\n')
  return `${MANAGED_HEADER}\n${processMarker(s.instanceName)}\n${body}\n`
}
