# warm-processes-https/04-venv.app1.sh: run as the app user by warm-processes-https/04-venv.sh.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
set -eu
python3 -I -m venv --without-pip  /srv/mysite/venvs/742bd9cc4c3e52b0
if [ -f /srv/mysite/releases/20261205T120000Z-1a2b3c4/requirements.txt ]; then
  wheel=$(/srv/mysite/venvs/742bd9cc4c3e52b0/bin/python -I -c '<python/pip_wheel.py>')
  if [ -z "$wheel" ]; then echo 'python3 has no pip wheel for ensurepip: install python3-venv (or python3.N-venv) on the host' >&2; exit 1; fi
  /srv/mysite/venvs/742bd9cc4c3e52b0/bin/python -I "$wheel/pip" install --no-input --quiet --disable-pip-version-check -r /srv/mysite/releases/20261205T120000Z-1a2b3c4/requirements.txt
  echo 'installed requirements.txt'
fi
: > /srv/mysite/venvs/742bd9cc4c3e52b0/.built
