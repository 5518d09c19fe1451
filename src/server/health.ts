// Is the release serving? The health check through nginx on the host, and, when it is not,
// what the journal and nginx's error log say.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { instanceSocketPath, layout, socketPath, unitNames, type Instance } from './layout.js'
import type { Step } from './step.js'
import { pythonFile } from './python.js'

/** A server name as a request carries it: a wildcard as one of the names it stands for. */
export function requestName(name: string): string {
  return name.replace(/^\*\./, 'www.').replace(/^\./, '').replace(/\.\*$/, '.com')
}

/** The Host header the health check sends: the first server name, or none for the catch-all. */
export function healthHost(s: Settings): string {
  const name = s.serverNames[0]
  return name === '_' ? 'localhost' : requestName(name)
}

/**
 * Whether an instance can still boot, from its service's state and journal (python/boot_watch.py:
 * boot_verdict, boot_problem).
 */
export const BOOT_WATCH_PY = pythonFile(new URL('./python/boot_watch.py', import.meta.url))

/**
 * The health check's request (python/health.py): its arguments, healthCommand's. It carries
 * BOOT_WATCH_PY: what the host says of an instance that cannot boot ends its wait.
 */
export const HEALTH_PY = BOOT_WATCH_PY + pythonFile(new URL('./python/health.py', import.meta.url))

export interface HealthResult {
  healthy: boolean
  status: number
  durationMs: number
  detail: string
}

/** Requests health-path through nginx on the host until a healthy status or health-timeout. */
/**
 * `scheme`: how the site is served; `upgrade` is plain HTTP until tls: auto's first certificate.
 */
export function healthStep(
  s: Settings,
  timeoutMs = s.healthTimeoutMs,
  scheme: 'tls' | 'plain' | 'upgrade' = s.tlsCertificate ? 'tls' : 'plain'
): Step {
  const tls = scheme === 'tls'
  const port = tls ? s.tlsListen : s.listen.port
  const address =
    !s.listen.address || /^(0\.0\.0\.0|\[::\])$/.test(s.listen.address)
      ? '127.0.0.1'
      : s.listen.address.replace(/^\[|\]$/g, '')
  return {
    id: 'health',
    phase: 'health',
    title: `GET ${tls ? 'https' : 'http'}://${healthHost(s)}${s.healthPath} through nginx`,
    privileged: false,
    command: healthCommand(s, `${address}:${port}`, timeoutMs, scheme)
  }
}

/**
 * The site's check: through nginx, or, while the site is in maintenance (nginx answers everyone
 * 503), from the live instance on nginx's own socket path, with the headers nginx would send.
 */
export function siteHealthStep(
  s: Settings,
  facts: { maintenance?: boolean },
  timeoutMs = s.healthTimeoutMs,
  scheme: 'tls' | 'plain' | 'upgrade' = s.tlsCertificate ? 'tls' : 'plain'
): Step {
  if (!facts.maintenance) return healthStep(s, timeoutMs, scheme)
  return {
    id: 'health',
    phase: 'health',
    title: `GET ${s.healthPath} from the live instance on ${socketPath(s.instanceName)} (Host: ${healthHost(s)}; maintenance is on, so nginx answers 503)`,
    // The socket is nginx's.
    privileged: true,
    command: healthCommand(s, socketPath(s.instanceName), timeoutMs, scheme)
  }
}

/**
 * Requests health-path from an instance on its own socket, before nginx sends it anything: the
 * Host header and the X-Forwarded-* headers nginx would send. As root: the socket is nginx's, and
 * so are its service's state and journal, which end the wait as soon as they say it cannot boot
 * (the service failed or was restarted, gunicorn's arbiter gave up): a release merely slow to
 * boot still has the whole health-timeout.
 */
export function instanceHealthStep(s: Settings, instance: Instance): Step {
  const unit = unitNames(s.instanceName).instance(instance).service
  return {
    id: 'instance-health',
    phase: 'health',
    title: `GET ${s.healthPath} from ${unit} on its socket (Host: ${healthHost(s)})`,
    privileged: true,
    command: script(
      sh`started=$(cat ${startedAt(s)} 2>/dev/null || echo 0)`,
      healthCommand(
        s,
        instanceSocketPath(s.instanceName, instance),
        s.healthTimeoutMs,
        s.tlsCertificate ? 'tls' : s.acme ? 'upgrade' : 'plain',
        sh`${unit} "$started"`
      )
    )
  }
}

function healthCommand(
  s: Settings,
  target: string,
  timeoutMs: number,
  scheme: 'tls' | 'plain' | 'upgrade',
  watched?: ShellText
): ShellText {
  const ranges = s.healthExpect.map((r) => `${r.min}-${r.max}`).join(',')
  const request = sh`${s.python} -I -c ${HEALTH_PY} ${target} ${s.healthPath} ${healthHost(s)} ${scheme} ${timeoutMs / 1000} ${ranges}`
  return watched ? sh`${request} ${watched}` : request
}

export function parseHealth(stdout: string): HealthResult {
  const line = stdout.trim().split('\n').pop() ?? ''
  const [verdict, status, elapsed, ...detail] = line.split(' ')
  return {
    healthy: verdict === 'healthy',
    status: Number(status) || 0,
    durationMs: Number(elapsed) || 0,
    detail: detail.join(' ')
  }
}

/** When the new release's instance was last started (seconds since the epoch): its journal starts there. */
export function startedAt(s: Settings): string {
  return `${layout(s).state}/started`
}

const ERRORS_HEADER = '--- errors in the journal'

/** The journal of the instance the new release started in, since it started (`startedAt`). */
export function diagnosticsStep(s: Settings, instance: Instance): Step {
  const service = unitNames(s.instanceName).instance(instance).service
  const since = raw('--since "@$(cat "$started" 2>/dev/null || echo 0)"')
  return {
    id: 'diagnostics',
    phase: 'health',
    title: `Collect ${service}'s journal and nginx's error log`,
    privileged: true,
    command: script(
      sh`started=${startedAt(s)}`,
      // The exception that stopped the app is usually above gunicorn's own traceback.
      raw(`echo '${ERRORS_HEADER}'`),
      sh`journalctl -u ${service} ${since} -n 400 --no-pager -o cat 2>/dev/null | grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(: |$)' | grep -v '^gunicorn\.errors\.' | awk '!seen[$0]++' | tail -n 5 || true`,
      sh`echo "--- journalctl -u ${service} (last 40 lines)"`,
      sh`journalctl -u ${service} ${since} -n 40 --no-pager -o short-iso 2>&1 || true`,
      raw('echo "--- /var/log/nginx/error.log (last 15 lines)"'),
      raw('tail -n 15 /var/log/nginx/error.log 2>&1 || true')
    )
  }
}

/** The exception lines the diagnostics found, e.g. `ImportError: cannot import name ...`. */
export function parseErrors(diagnostics: string): string[] {
  const lines = diagnostics.split('\n')
  const start = lines.indexOf(ERRORS_HEADER)
  if (start < 0) return []
  const end = lines.findIndex((line, i) => i > start && line.startsWith('--- '))
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.trim() !== '')
}
