# first-deploy/08-start.sh: the step `start` (phase restart, as root): Start 20261205T120000Z-1a2b3c4 in gunicorn-mysite@blue.service, beside the live instance.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
systemctl stop 'gunicorn-mysite@blue.service' 'gunicorn-mysite@blue.socket' 2>/dev/null || true
systemctl reset-failed 'gunicorn-mysite@blue.service' 2>/dev/null || true
changed=$(cat /srv/mysite/.deploy/changed 2>/dev/null || echo all)
was() { printf '%s
' $changed | grep -qxE "all|$1"; }
if was 'gunicorn-mysite@\.socket|gunicorn-mysite@\.service' || [ -e '/run/systemd/system/gunicorn-mysite@blue.socket' ] || [ -e '/run/systemd/system/gunicorn-mysite@blue.service' ]; then
  mkdir -p /run/systemd/system
  cp /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket' '/run/systemd/system/gunicorn-mysite@blue.socket'
  cp /srv/mysite/.deploy/staged/'gunicorn-mysite@.service' '/run/systemd/system/gunicorn-mysite@blue.service'
  systemctl daemon-reload
fi
mkdir -p /srv/mysite/instances && chmod 755 /srv/mysite/instances
ln -sfn ../releases/20261205T120000Z-1a2b3c4 /srv/mysite/instances/.blue.new && mv -T /srv/mysite/instances/.blue.new /srv/mysite/instances/blue
date +%s > /srv/mysite/.deploy/started
systemctl start 'gunicorn-mysite@blue.socket'
systemctl start 'gunicorn-mysite@blue.service' || echo "gunicorn did not start; the health check will tell" >&2
DDA_DETACHED
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"
exit $rc
