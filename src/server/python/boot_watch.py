# Whether a gunicorn instance can still become healthy (server/health.ts), from what the host
# says of it: its service's state (`systemctl show`: KEY=VALUE lines) and its journal since it
# was started. Sent before health.py, which asks it while it waits for an answer.
import subprocess, threading

# What is read of a command's output: the app writes its journal, and root reads it.
LIMIT = 262144

# gunicorn's arbiter giving up (Arbiter.halt's reason, said in a `Reason:` line or a HaltServer
# traceback), and its last words when it stops for any reason.
REASONS = ('Worker failed to boot', 'App failed to load')
STOPPED = 'Shutting down: Master'

def boot_verdict(show, journal):
    """'' while the instance may still answer; otherwise why it cannot (one line)."""
    state = {}
    for line in show.splitlines():
        key, _, value = line.partition('=')
        state[key.strip()] = value.strip()
    # The start of each line is enough for gunicorn's words, whatever the app printed after them.
    lines = [line[:200] for line in journal.splitlines()]
    # From this start's first line on (its restarts included): a leftover instance stopped just
    # before it, in the same second, said its own goodbye.
    starts = [i for i, line in enumerate(lines) if 'Starting gunicorn' in line]
    ours = lines[starts[0]:] if starts else []
    count = state.get('NRestarts', '')
    restarts = int(count) if count.isdigit() else 0
    for reason in REASONS:
        if any(reason in line for line in ours):
            return 'gunicorn stopped: %s.' % reason
    if any(STOPPED in line for line in ours):
        return 'gunicorn stopped (%s)' % STOPPED
    if state.get('ActiveState') == 'failed':
        return 'the service failed (%s)' % (state.get('Result') or 'failed')
    if state.get('SubState') == 'auto-restart' or restarts > 0:
        return 'gunicorn exited and systemd restarted it (%d time%s)' % (max(restarts, 1), '' if restarts <= 1 else 's')
    return ''

def boot_problem(unit, since):
    """Asks the host about `unit`, started at `since` (seconds since the epoch)."""
    def output(*command):
        # At most LIMIT bytes, within 5 s, decoded whatever the bytes (the app's own lines).
        try:
            with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
                timer = threading.Timer(5, proc.kill)
                timer.start()
                try:
                    data = proc.stdout.read(LIMIT) if proc.stdout else b''
                finally:
                    timer.cancel()
                    proc.kill()
            return data.decode('utf-8', 'replace')
        except (OSError, ValueError):
            return ''
    show = output('systemctl', 'show', '-p', 'ActiveState,SubState,NRestarts,Result', unit)
    journal = output('journalctl', '-u', unit, '--since', '@' + since, '-n', '400', '--no-pager', '-o', 'cat')
    return boot_verdict(show, journal)
