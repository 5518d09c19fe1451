// Is the release serving? The health check through nginx on the host, and, when it is not,
// what the journal and nginx's error log say.

import type { Settings } from '../settings.js'
import { raw, script, sh } from '../shell.js'
import { unitNames } from './layout.js'
import type { Step } from './step.js'

/** A server name as a request carries it: a wildcard as one of the names it stands for. */
export function requestName(name: string): string {
  return name.replace(/^\*\./, 'www.').replace(/^\./, '').replace(/\.\*$/, '.com')
}

/** The Host header the health check sends: the first server name, or none for the catch-all. */
export function healthHost(s: Settings): string {
  const name = s.serverNames[0]
  return name === '_' ? 'localhost' : requestName(name)
}

const HEALTH_PY = `
import http.client, socket, ssl, sys, time
host, port, path, header, tls, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == 'tls', float(sys.argv[6])
# tls: auto before its first certificate: HTTPS is coming, so the app's redirect to it is no refusal.
upgrading = sys.argv[5] == 'upgrade'
ranges = [tuple(map(int, r.split('-'))) for r in sys.argv[7].split(',')]
start = time.monotonic(); status = 0; detail = ''
class Named(http.client.HTTPSConnection):
    # To nginx on this host, with the site's name in the TLS handshake (SNI), as a browser.
    def connect(self):
        self.sock = self._context.wrap_socket(socket.create_connection((host, port), 5), server_hostname=header)
while True:
    refused = False
    try:
        if tls:
            conn = Named(header, port, timeout=5, context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request('GET', path, headers={'Host': header, 'User-Agent': 'django-deploy-action health check'})
        response = conn.getresponse(); status = response.status; detail = ''
        body = response.read(65536).decode('utf-8', 'replace')
        location = response.getheader('Location') or ''
        conn.close()
        # Answers that health-expect's range would take, but that are no answer of the app's:
        # Django refusing the Host header, and a redirect to HTTPS where there is none.
        exact = any(lo == hi == status for lo, hi in ranges)
        if status == 400 and not exact and ('DisallowedHost' in body or '<h1>Bad Request (400)</h1>' in body):
            refused, detail = True, "DisallowedHost: Invalid HTTP_HOST header: '%s'" % header
        if 300 <= status < 400 and not exact and not tls and not upgrading and location.startswith('https:'):
            refused, detail = True, 'answered %d to %s: the settings redirect plain HTTP to HTTPS' % (status, location)
    except Exception as error:
        status = 0; detail = str(error)
    elapsed = int((time.monotonic() - start) * 1000)
    if not refused and any(lo <= status <= hi for lo, hi in ranges):
        print('healthy', status, elapsed); sys.exit(0)
    # A refusal is Django's final word: no need to wait for it to change.
    if refused or elapsed >= timeout * 1000:
        print('unhealthy', status, elapsed, detail); sys.exit(1)
    time.sleep(0.25)
`

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
  const ranges = s.healthExpect.map((r) => `${r.min}-${r.max}`).join(',')
  return {
    id: 'health',
    phase: 'health',
    title: `GET ${tls ? 'https' : 'http'}://${healthHost(s)}${s.healthPath} through nginx`,
    privileged: false,
    command: sh`${s.python} -c ${HEALTH_PY} ${address} ${port} ${s.healthPath} ${healthHost(s)} ${scheme} ${timeoutMs / 1000} ${ranges}`
  }
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

const ERRORS_HEADER = '--- errors in the journal'

export function diagnosticsStep(s: Settings): Step {
  const units = unitNames(s.projectName)
  return {
    id: 'diagnostics',
    phase: 'health',
    title: "Collect the service's journal and nginx's error log",
    privileged: true,
    command: script(
      // The exception that stopped the app is usually above gunicorn's own traceback.
      raw(`echo '${ERRORS_HEADER}'`),
      sh`journalctl -u ${units.service} -n 400 --no-pager -o cat 2>/dev/null | grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(: |$)' | grep -v '^gunicorn\.errors\.' | awk '!seen[$0]++' | tail -n 5 || true`,
      sh`echo "--- journalctl -u ${units.service} (last 40 lines)"`,
      sh`journalctl -u ${units.service} -n 40 --no-pager -o short-iso 2>&1 || true`,
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
