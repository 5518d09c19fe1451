# warm-processes-https/on-failure/rollback-processes.sh: the step `rollback-processes` (phase health, as root): Roll back the processes.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
if [ -e /srv/mysite/.deploy/previous-processes/mysite-worker.service ]; then cp -p /srv/mysite/.deploy/previous-processes/mysite-worker.service /etc/systemd/system/mysite-worker.service; elif [ -e /srv/mysite/.deploy/previous-processes/mysite-worker.service.absent ]; then systemctl disable --now mysite-worker.service >/dev/null 2>&1 || true; rm -f /etc/systemd/system/mysite-worker.service; fi
if [ -e /srv/mysite/.deploy/previous-processes/mysite-clearsessions.timer ]; then cp -p /srv/mysite/.deploy/previous-processes/mysite-clearsessions.timer /etc/systemd/system/mysite-clearsessions.timer; elif [ -e /srv/mysite/.deploy/previous-processes/mysite-clearsessions.timer.absent ]; then systemctl disable --now mysite-clearsessions.timer >/dev/null 2>&1 || true; rm -f /etc/systemd/system/mysite-clearsessions.timer; fi
if [ -e /srv/mysite/.deploy/previous-processes/mysite-clearsessions.service ]; then cp -p /srv/mysite/.deploy/previous-processes/mysite-clearsessions.service /etc/systemd/system/mysite-clearsessions.service; elif [ -e /srv/mysite/.deploy/previous-processes/mysite-clearsessions.service.absent ]; then systemctl disable --now mysite-clearsessions.service >/dev/null 2>&1 || true; rm -f /etc/systemd/system/mysite-clearsessions.service; fi
systemctl daemon-reload
if [ -e /etc/systemd/system/mysite-worker.service ]; then systemctl enable --quiet mysite-worker.service; systemctl restart mysite-worker.service || true; fi
if [ -e /etc/systemd/system/mysite-clearsessions.timer ]; then systemctl enable --quiet mysite-clearsessions.timer; systemctl restart mysite-clearsessions.timer || true; fi
release=$(basename "$(readlink /srv/mysite/current)")
printf 'process=%s %s %s %s
' worker mysite-worker.service "$(systemctl show -p ActiveState --value mysite-worker.service)" "$release"
printf 'process=%s %s %s %s
' clearsessions mysite-clearsessions.timer "$(systemctl show -p ActiveState --value mysite-clearsessions.timer)" "$release"
DDA_DETACHED
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"
exit $rc
