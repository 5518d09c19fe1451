# first-deploy/09-instance-health.sh: the step `instance-health` (phase health, as root): GET / from gunicorn-mysite@blue.service on its socket (Host: example.com).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
started=$(cat /srv/mysite/.deploy/started 2>/dev/null || echo 0)
python3 -I -c '<python/boot_watch.py + python/health.py>' '/run/gunicorn-mysite@blue.sock' / example.com plain 60 200-499 'gunicorn-mysite@blue.service' "$started"
