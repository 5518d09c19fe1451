# first-deploy/04-discover.app1.sh: run as the app user by first-deploy/04-discover.sh.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
set -eu
python -c '<python/preflight.py + python/settings.py + python/discover.py>' '{"application":{"module":"mysite.wsgi:application","input":"wsgi-module"},"tls":false,"programs":[],"requirements":"requirements.txt"}' example.com
