# warm-processes-https/14-drain.sh: the step `drain` (phase cleanup, as root): Drain and stop gunicorn-mysite@blue.service.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -u
busy() { ss -xaH src '/run/gunicorn-mysite@blue.sock' 2>/dev/null | awk '$2 != "LISTEN" || $3 > 0' | wc -l; }
for _ in $(seq 1 300); do [ "$(busy)" -eq 0 ] && break; sleep 0.1; done
left=$(busy)
[ "$left" -eq 0 ] || echo "$left connection(s) still open after drain-timeout: gunicorn stops them gracefully" >&2
rm -f '/etc/systemd/system/sockets.target.wants/gunicorn-mysite@blue.socket' '/etc/systemd/system/multi-user.target.wants/gunicorn-mysite@blue.service'
systemctl stop --no-block 'gunicorn-mysite@blue.service' 'gunicorn-mysite@blue.socket'
