# Whether a gunicorn instance can still become healthy (server/health.ts), from what the host
# says of it: its service's state (`systemctl show`: KEY=VALUE lines) and its journal since it
# was started. Sent before health.py, which asks it while it waits for an answer.
import subprocess

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
    lines = journal.splitlines()
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
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return ''
    show = output('systemctl', 'show', '-p', 'ActiveState,SubState,NRestarts,Result', unit)
    journal = output('journalctl', '-u', unit, '--since', '@' + since, '-n', '400', '--no-pager', '-o', 'cat')
    return boot_verdict(show, journal)
