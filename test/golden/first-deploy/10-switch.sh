# first-deploy/10-switch.sh: the step `switch` (phase restart, as root): Move traffic to gunicorn-mysite@blue.service (20261205T120000Z-1a2b3c4).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
changed=$(cat /srv/mysite/.deploy/changed 2>/dev/null || echo all)
was() { printf '%s
' $changed | grep -qxE "all|$1"; }
mkdir -p /srv/mysite/.deploy/served && : > /srv/mysite/.deploy/served/20261205T120000Z-1a2b3c4
old=$(readlink /srv/mysite/current 2>/dev/null || true); old=${old##*/}
if [ -n "$old" ] && [ -d /srv/mysite/releases/"$old" ]; then : > /srv/mysite/.deploy/served/"$old"; fi
mkdir -p /etc/systemd/system/sockets.target.wants /etc/systemd/system/multi-user.target.wants
ln -sfn '/etc/systemd/system/gunicorn-mysite@.socket' '/etc/systemd/system/sockets.target.wants/gunicorn-mysite@blue.socket' && ln -sfn '/etc/systemd/system/gunicorn-mysite@.service' '/etc/systemd/system/multi-user.target.wants/gunicorn-mysite@blue.service'
cmp -s /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket' || { cp -p /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.socket'.new '/etc/systemd/system/gunicorn-mysite@.socket'; }
cmp -s /srv/mysite/.deploy/staged/'gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service' || { cp -p /srv/mysite/.deploy/staged/'gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.service'.new '/etc/systemd/system/gunicorn-mysite@.service'; }
cmp -s /srv/mysite/.deploy/staged/mysite /etc/nginx/sites-available/mysite || { cp -p /srv/mysite/.deploy/staged/mysite /etc/nginx/sites-available/mysite.new && mv -f /etc/nginx/sites-available/mysite.new /etc/nginx/sites-available/mysite; }
ln -sfn /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/mysite
printf '%s
' 'L+ /run/gunicorn-mysite.sock - - - - /run/gunicorn-mysite@blue.sock' | tee /etc/tmpfiles.d/gunicorn-mysite.conf.new >/dev/null && mv -f /etc/tmpfiles.d/gunicorn-mysite.conf.new /etc/tmpfiles.d/gunicorn-mysite.conf
ln -sfn releases/20261205T120000Z-1a2b3c4 /srv/mysite/.current.new && mv -T /srv/mysite/.current.new /srv/mysite/current
ln -sfn '/run/gunicorn-mysite@blue.sock' /run/.gunicorn-mysite.sock.new && mv -T /run/.gunicorn-mysite.sock.new /run/gunicorn-mysite.sock
if was 'gunicorn-mysite@\.socket|gunicorn-mysite@\.service' || [ -e '/run/systemd/system/gunicorn-mysite@blue.socket' ] || [ -e '/run/systemd/system/gunicorn-mysite@blue.service' ]; then
  rm -f '/run/systemd/system/gunicorn-mysite@blue.socket' '/run/systemd/system/gunicorn-mysite@blue.service'
  systemctl daemon-reload
fi
if was 'mysite|default-site' || ! systemctl is-active --quiet nginx; then
nginx_workers() {
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in
      'nginx: worker process is shutting down'*) ;;
      'nginx: worker process'*) echo "${p#/proc/}" ;;
    esac
  done | sort
}
if systemctl is-active --quiet nginx; then
  before=$(nginx_workers); systemctl reload nginx
  for _ in $(seq 1 100); do
    still=$(printf "%s\n" $before $(nginx_workers) | sort | uniq -d)
    [ -z "$still" ] && break; sleep 0.1
  done
else systemctl start nginx; fi
fi
DDA_DETACHED
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"
exit $rc
