# The health check's request (server/health.ts): argv `target` (host:port, through nginx, or a
# unix socket's path: an instance, directly, with the headers nginx would add, so the app sees
# the same request either way), path, Host header, scheme (plain, tls, upgrade), timeout in
# seconds, the healthy status ranges (lo-hi,...), and for an instance its service and when it was
# started (seconds since the epoch): the wait ends as soon as the host says the instance cannot
# boot (boot_watch.py). Prints `healthy|unhealthy <status> <ms> [detail]`.
import os, socket, sys, time  # threading: imported by boot_watch.py, sent before
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
request_lines = ['GET %s HTTP/1.0' % path, 'Host: ' + header, 'User-Agent: django-deploy-action health check']
if direct:
    request_lines += ['X-Forwarded-For: 127.0.0.1', 'X-Forwarded-Proto: ' + ('https' if secure else 'http'), 'X-Real-IP: 127.0.0.1']
request = ('\r\n'.join(request_lines) + '\r\n\r\n').encode('latin-1')

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
    # 5 s for the whole answer, whatever pace the app sends it at, and at most 64 KiB of head.
    deadline = time.monotonic() + 5
    try:
        sock.sendall(request)
        data = b''
        while b'\r\n\r\n' not in data or len(data) < length(data):
            if b'\r\n\r\n' not in data and len(data) > 65536:
                raise ConnectionError('the answer has more than 64 KiB of headers')
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no whole answer within 5 s')
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    if not data or not lines[0].startswith('HTTP/'):
        raise ConnectionError('the server closed the connection without an answer')
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(':') for line in lines[1:]))
    return int(lines[0].split()[1]), headers.get('location', ''), body[:65536].decode('utf-8', 'replace')

def length(data):
    # The whole answer's bytes once its headers are in (at most 64 KiB of body is read).
    head, _, _ = data.partition(b'\r\n\r\n')
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length' and value.strip().isdigit():
            return len(head) + 4 + min(int(value), 65536)
    return len(head) + 4 + 65536

start = time.monotonic(); status = 0; detail = ''
# One verdict is printed: the answer's, or the watch's.
printed = threading.Lock()

def watch(unit, since):
    # Beside the requests: a request to a socket nobody serves waits its whole 5 s.
    while True:
        time.sleep(0.5)
        try:
            problem = boot_problem(unit, since)
        except Exception:
            # The watch only shortens the wait: whatever it met, the requests go on.
            continue
        if problem and printed.acquire(blocking=False):
            print('unhealthy', status, int((time.monotonic() - start) * 1000), problem, flush=True)
            os._exit(1)

if len(sys.argv) > 8:
    threading.Thread(target=watch, args=(sys.argv[7], sys.argv[8]), daemon=True).start()
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
        printed.acquire(); print('healthy', status, elapsed); sys.exit(0)
    # A refusal is Django's final word: no need to wait for it to change.
    if refused or elapsed >= timeout * 1000:
        printed.acquire(); print('unhealthy', status, elapsed, detail); sys.exit(1)
    time.sleep(delay); delay = min(delay * 1.5, 0.5)
