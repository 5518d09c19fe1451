# warm-processes-https/on-failure/abandon.sh: the step `abandon` (phase health, as root): Stop gunicorn-mysite@green.service, which never served.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
systemctl stop 'gunicorn-mysite@green.service' 'gunicorn-mysite@green.socket' 2>/dev/null || true
systemctl reset-failed 'gunicorn-mysite@green.service' 'gunicorn-mysite@green.socket' 2>/dev/null || true
rm -f '/run/systemd/system/gunicorn-mysite@green.socket' '/run/systemd/system/gunicorn-mysite@green.service'
systemctl daemon-reload
DDA_DETACHED
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"
exit $rc
