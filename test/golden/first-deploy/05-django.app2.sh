# first-deploy/05-django.app2.sh: run as the app user by first-deploy/05-django.sh.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
set -eu
python -c '<python/preflight.py + python/settings.py + python/migration_plan.py + python/pg_env.py + python/backup.py + python/collectstatic.py + python/django_process.py>' '{"migrate":true,"backup":true,"collectstatic":true,"check":false,"commands":[],"application":"mysite.wsgi:application"}' /srv/mysite/backups/.new-20261205T120000Z-1a2b3c4
