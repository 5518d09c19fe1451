// Is the release serving? The health check through nginx on the host, and, when it is not,
// what the journal and nginx's error log say.

import type { Settings } from '../settings.js'
import { raw, script, sh, type ShellText } from '../shell.js'
import { instanceSocketPath, layout, unitNames, type Instance } from './layout.js'
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

// `target` is host:port (through nginx) or a unix socket's path (an instance, directly, with the
// headers nginx would add: the app sees the same request either way).
export const HEALTH_PY = `
import socket, sys, time
target, path, header, scheme, timeout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
direct = target.startswith('/')
host, port = ('', 0) if direct else (target.rsplit(':', 1)[0], int(target.rsplit(':', 1)[1]))
secure = scheme == 'tls'
tls = secure and not direct
# tls: auto before its first certificate: HTTPS is coming, so the app's redirect to it is no refusal.
upgrading = scheme == 'upgrade'
ranges = [tuple(map(int, r.split('-'))) for r in sys.argv[6].split(',')]
if tls:
    import ssl
    context = ssl._create_unverified_context()
# HTTP/1.0 on a socket, as nginx speaks to gunicorn: no chunked answer to undo, and no
# http.client, whose imports take longer than the request.
request = ['GET %s HTTP/1.0' % path, 'Host: ' + header, 'User-Agent: django-deploy-action health check']
if direct:
    request += ['X-Forwarded-For: 127.0.0.1', 'X-Forwarded-Proto: ' + ('https' if secure else 'http'), 'X-Real-IP: 127.0.0.1']
request = ('\\r\\n'.join(request) + '\\r\\n\\r\\n').encode('latin-1')

def fetch():
    if direct:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(target)
    else:
        sock = socket.create_connection((host, port), 5)
        # To nginx on this host, with the site's name in the TLS handshake (SNI), as a browser.
        if tls:
            sock = context.wrap_socket(sock, server_hostname=header)
    try:
        sock.sendall(request)
        data = b''
        while b'\\r\\n\\r\\n' not in data or len(data) < length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b'\\r\\n\\r\\n')
    lines = head.decode('latin-1').split('\\r\\n')
    if not data or not lines[0].startswith('HTTP/'):
        raise ConnectionError('the server closed the connection without an answer')
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(':') for line in lines[1:]))
    return int(lines[0].split()[1]), headers.get('location', ''), body[:65536].decode('utf-8', 'replace')

def length(data):
    # The whole answer's bytes once its headers are in (at most 64 KiB of body is read).
    head, _, _ = data.partition(b'\\r\\n\\r\\n')
    for line in head.split(b'\\r\\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length' and value.strip().isdigit():
            return len(head) + 4 + min(int(value), 65536)
    return len(head) + 4 + 65536

start = time.monotonic(); status = 0; detail = ''
# Asked again soon at first (a new instance answers within a second or so), then less often.
delay = 0.05
while True:
    refused = False
    try:
        status, location, body = fetch(); detail = ''
        # Answers that health-expect's range would take, but that are no answer of the app's:
        # Django refusing the Host header, and a redirect to HTTPS where there is none.
        exact = any(lo == hi == status for lo, hi in ranges)
        if status == 400 and not exact and ('DisallowedHost' in body or '<h1>Bad Request (400)</h1>' in body):
            refused, detail = True, "DisallowedHost: Invalid HTTP_HOST header: '%s'" % header
        if 300 <= status < 400 and not exact and not secure and not upgrading and location.startswith('https:'):
            refused, detail = True, 'answered %d to %s: the settings redirect plain HTTP to HTTPS' % (status, location)
    except Exception as error:
        status = 0; detail = str(error) or type(error).__name__
    elapsed = int((time.monotonic() - start) * 1000)
    if not refused and any(lo <= status <= hi for lo, hi in ranges):
        print('healthy', status, elapsed); sys.exit(0)
    # A refusal is Django's final word: no need to wait for it to change.
    if refused or elapsed >= timeout * 1000:
        print('unhealthy', status, elapsed, detail); sys.exit(1)
    time.sleep(delay); delay = min(delay * 1.5, 0.5)
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
  return {
    id: 'health',
    phase: 'health',
    title: `GET ${tls ? 'https' : 'http'}://${healthHost(s)}${s.healthPath} through nginx`,
    privileged: false,
    command: healthCommand(s, `${address}:${port}`, timeoutMs, scheme)
  }
}

/**
 * Requests health-path from an instance on its own socket, before nginx sends it anything: the
 * Host header and the X-Forwarded-* headers nginx would send. As root: the socket is nginx's.
 */
export function instanceHealthStep(s: Settings, instance: Instance): Step {
  const unit = unitNames(s.projectName).instance(instance).service
  return {
    id: 'instance-health',
    phase: 'health',
    title: `GET ${s.healthPath} from ${unit} on its socket (Host: ${healthHost(s)})`,
    privileged: true,
    command: healthCommand(
      s,
      instanceSocketPath(s.projectName, instance),
      s.healthTimeoutMs,
      s.tlsCertificate ? 'tls' : s.acme ? 'upgrade' : 'plain'
    )
  }
}

function healthCommand(
  s: Settings,
  target: string,
  timeoutMs: number,
  scheme: 'tls' | 'plain' | 'upgrade'
): ShellText {
  const ranges = s.healthExpect.map((r) => `${r.min}-${r.max}`).join(',')
  return sh`${s.python} -I -c ${HEALTH_PY} ${target} ${s.healthPath} ${healthHost(s)} ${scheme} ${timeoutMs / 1000} ${ranges}`
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
  const service = unitNames(s.projectName).instance(instance).service
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
