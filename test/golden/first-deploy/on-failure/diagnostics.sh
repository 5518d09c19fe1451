# first-deploy/on-failure/diagnostics.sh: the step `diagnostics` (phase health, as root): Collect gunicorn-mysite@blue.service's journal and nginx's error log.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
started=/srv/mysite/.deploy/started
echo '--- errors in the journal'
journalctl -u 'gunicorn-mysite@blue.service' --since "@$(cat "$started" 2>/dev/null || echo 0)" -n 400 --no-pager -o cat 2>/dev/null | grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(: |$)' | grep -v '^gunicorn.errors.' | awk '!seen[$0]++' | tail -n 5 || true
echo "--- journalctl -u 'gunicorn-mysite@blue.service' (last 40 lines)"
journalctl -u 'gunicorn-mysite@blue.service' --since "@$(cat "$started" 2>/dev/null || echo 0)" -n 40 --no-pager -o short-iso 2>&1 || true
echo "--- /var/log/nginx/error.log (last 15 lines)"
tail -n 15 /var/log/nginx/error.log 2>&1 || true
