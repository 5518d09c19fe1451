// The gunicorn socket and service units: templates, one instance each for blue and green
// (`gunicorn-<project>@blue.service`), each with its own socket, so a new release starts beside the
// live one. Socket activation: the socket is systemd's, made before gunicorn starts and owned
// by nginx's user.

import { layout } from '../server/layout.js'
import { appModule, DEFAULT_GRACEFUL_TIMEOUT, serverArgs } from '../asgi.js'
import type { Settings } from '../settings.js'
import { systemdExecutable, systemdQuote, systemdValue, systemdWord } from './systemd-escape.js'

export const MANAGED_HEADER =
  '# Managed by django-deploy-action; changes are overwritten on the next deploy.'

/** nginx's workers run as www-data on Debian and Ubuntu; only they may connect. */
export const SOCKET_OWNER = 'www-data'
/** The targets that start an enabled instance's units at boot (their [Install] sections). */
export const WANTED_BY = { socket: 'sockets.target', service: 'multi-user.target' } as const

/** A hardening line, or one that depends on the settings. */
export type HardeningDirective = string | ((s: Settings) => string)

// Aimed at `systemd-analyze security` ≤ 2.0 while the app can still read its release and write
// <deploy-path>/shared (sqlite, media). One list, so the e2e check can prune it in one place.
// IPAddressDeny= is left out on purpose: the app may call other services.
export const HARDENING: readonly HardeningDirective[] = [
  'ProtectSystem=strict',
  (s) => `ReadWritePaths=${systemdWord(`${s.deployPath}/shared`)}`,
  // ProtectHome=true hides /home entirely, and nothing can be re-allowed beneath it.
  (s) => `ProtectHome=${isUnderHome(s.deployPath) ? 'read-only' : 'true'}`,
  'PrivateTmp=true',
  'PrivateDevices=true',
  'NoNewPrivileges=true',
  'ProtectKernelTunables=true',
  'ProtectKernelModules=true',
  'ProtectKernelLogs=true',
  'ProtectControlGroups=true',
  'ProtectClock=true',
  'ProtectHostname=true',
  'ProtectProc=invisible',
  'ProcSubset=pid',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
  'RestrictNamespaces=true',
  'RestrictRealtime=true',
  'RestrictSUIDSGID=true',
  'LockPersonality=true',
  // Breaks Python code that needs writable+executable memory (cffi callbacks, JITs).
  'MemoryDenyWriteExecute=true',
  'SystemCallArchitectures=native',
  'SystemCallFilter=@system-service',
  'SystemCallFilter=~@privileged @resources',
  // gunicorn's workers always call setuid/setgid (to the uid they already have); without these
  // the seccomp filter kills every worker at boot with SIGSYS.
  'SystemCallFilter=setuid setgid setgroups',
  'CapabilityBoundingSet=',
  'AmbientCapabilities=',
  'PrivateUsers=true',
  'UMask=0027',
  'RemoveIPC=true',
  'DevicePolicy=closed'
]

export function isUnderHome(path: string): boolean {
  return ['/home', '/root', '/run/user'].some((p) => path === p || path.startsWith(`${p}/`))
}

/**
 * The graceful timeout gunicorn will use, read from its arguments as its own parser would: the last
 * `--graceful-timeout N` or `--graceful-timeout=N` wins.
 */
export function gracefulTimeout(gunicornArgs: readonly string[]): number {
  let seconds = DEFAULT_GRACEFUL_TIMEOUT
  for (let i = 0; i < gunicornArgs.length; i++) {
    const arg = gunicornArgs[i]
    let value: string | undefined
    if (arg === '--graceful-timeout') value = gunicornArgs[++i]
    else if (arg.startsWith('--graceful-timeout=')) value = arg.slice('--graceful-timeout='.length)
    else continue
    const n = Number(value)
    if (value !== undefined && value.trim() !== '' && Number.isFinite(n) && n >= 0) {
      seconds = Math.ceil(n)
    }
  }
  return seconds
}

/** systemd's specifier for the instance name (blue, green), kept literal by the escaping. */
const INSTANCE = '%i'
const keepInstance = (escaped: string) => escaped.replaceAll('%%i', INSTANCE)

/** The folder an instance runs from: a link to its release, `<deploy-path>/instances/%i`. */
export function instanceRoot(s: Settings): string {
  return layout(s).instance(INSTANCE)
}

export function renderSocket(s: Settings): string {
  return unitFile([
    ['Unit', [`Description=${systemdValue(`gunicorn socket for ${s.instanceName}`)}, %i`]],
    [
      'Socket',
      [
        // instanceSocketPath(project, '%i')
        `ListenStream=${systemdValue(`/run/gunicorn-${s.instanceName}@`)}%i.sock`,
        `SocketUser=${SOCKET_OWNER}`,
        `SocketGroup=${SOCKET_OWNER}`,
        'SocketMode=0600'
      ]
    ],
    ['Install', [`WantedBy=${WANTED_BY.socket}`]]
  ])
}

/**
 * `appRoot` is the folder the app runs from: the instance's link (`instanceRoot`) when installed,
 * the release folder itself when a unit is verified before the switch. `command` is what the venv's
 * python runs (gunicorn's arguments by default): other servers of the app are one argument away.
 */
export function renderService(
  s: Settings,
  opts: { appRoot: string; workers: number; writable?: readonly string[]; command?: string[] }
): string {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${opts.workers}`)
  }
  // The venv's python finds gunicorn in the venv or, with system-site-packages, in the distribution.
  const command = opts.command ?? gunicornCommand(s, opts.workers)
  const execStart = [
    keepInstance(systemdExecutable(`${opts.appRoot}/.venv/bin/python`)),
    ...command.map(systemdQuote)
  ].join(' ')

  return unitFile([
    [
      'Unit',
      [
        `Description=${systemdValue(`gunicorn for ${s.instanceName}`)}, %i`,
        // the instance's own socket, gunicorn-<project>@%i.socket
        `Requires=${systemdValue(`gunicorn-${s.instanceName}@`)}%i.socket`,
        `After=${systemdValue(`gunicorn-${s.instanceName}@`)}%i.socket`,
        'After=network.target'
      ]
    ],
    [
      'Service',
      [
        'Type=notify',
        'NotifyAccess=main',
        `User=${systemdValue(s.appUser)}`,
        `Group=${systemdValue(s.appUser)}`,
        `WorkingDirectory=${keepInstance(systemdValue(opts.appRoot))}`,
        `Environment=${systemdWord(`DJANGO_SETTINGS_MODULE=${s.settingsModule}`)}`,
        'Environment=PYTHONUNBUFFERED=1',
        // '-': the service starts before any dotenv was ever written. systemd reads it as root.
        `EnvironmentFile=-${systemdValue(layout(s).env)}`,
        `ExecStart=${execStart}`,
        'ExecReload=/bin/kill -s HUP $MAINPID',
        // SIGTERM to gunicorn's arbiter only: it stops its workers gracefully itself.
        'KillMode=mixed',
        `TimeoutStopSec=${gracefulTimeout([...serverArgs(s), ...s.gunicornArgs]) + 5}`,
        'Restart=on-failure',
        'RestartSec=1',
        '',
        ...HARDENING.map((d) => (typeof d === 'string' ? d : d(s))),
        ...(opts.writable ?? []).map((path) => `ReadWritePaths=${systemdWord(path)}`)
      ]
    ],
    ['Install', [`WantedBy=${WANTED_BY.service}`]]
  ])
}

/** gunicorn serving the WSGI application, as `python -m` arguments. */
export function gunicornCommand(s: Settings, workers: number): string[] {
  // The server's own arguments (ASGI's worker class, the drain) before the user's: a -k wins.
  return [
    ...['-m', 'gunicorn', '--workers', String(workers), ...serverArgs(s)],
    ...[...s.gunicornArgs, appModule(s)]
  ]
}

function unitFile(sections: Array<[string, string[]]>): string {
  const body = sections.map(([name, lines]) => [`[${name}]`, ...lines].join('\n')).join('\n\n')
  return `${MANAGED_HEADER}\n${body}\n`
}
