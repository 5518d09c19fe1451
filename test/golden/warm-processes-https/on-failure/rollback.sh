# warm-processes-https/on-failure/rollback.sh: the step `rollback` (phase health, as root): Roll back to 20261201T090000Z-0f0e0d0.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
changed=$(cat /srv/mysite/.deploy/changed 2>/dev/null || echo all)
was() { printf '%s
' $changed | grep -qxE "all|$1"; }
ln -sfn '/run/gunicorn-mysite@blue.sock' /run/.gunicorn-mysite.sock.new && mv -T /run/.gunicorn-mysite.sock.new /run/gunicorn-mysite.sock
mkdir -p /etc/systemd/system/sockets.target.wants /etc/systemd/system/multi-user.target.wants
ln -sfn '/etc/systemd/system/gunicorn-mysite@.socket' '/etc/systemd/system/sockets.target.wants/gunicorn-mysite@blue.socket' && ln -sfn '/etc/systemd/system/gunicorn-mysite@.service' '/etc/systemd/system/multi-user.target.wants/gunicorn-mysite@blue.service'
if [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket' ]; then cp -p '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.socket'.new '/etc/systemd/system/gunicorn-mysite@.socket'; elif [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket'.absent ]; then rm -f '/etc/systemd/system/gunicorn-mysite@.socket'; fi
if [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.service' ]; then cp -p '/srv/mysite/.deploy/previous/gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.service'.new '/etc/systemd/system/gunicorn-mysite@.service'; elif [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.service'.absent ]; then rm -f '/etc/systemd/system/gunicorn-mysite@.service'; fi
if [ -e /srv/mysite/.deploy/previous/mysite ]; then cp -p /srv/mysite/.deploy/previous/mysite /etc/nginx/sites-available/mysite.new && mv -f /etc/nginx/sites-available/mysite.new /etc/nginx/sites-available/mysite; elif [ -e /srv/mysite/.deploy/previous/mysite.absent ]; then rm -f /etc/nginx/sites-available/mysite; fi
if [ -e /srv/mysite/.deploy/previous/certbot-renew-mysite.service ]; then cp -p /srv/mysite/.deploy/previous/certbot-renew-mysite.service /etc/systemd/system/certbot-renew-mysite.service.new && mv -f /etc/systemd/system/certbot-renew-mysite.service.new /etc/systemd/system/certbot-renew-mysite.service; elif [ -e /srv/mysite/.deploy/previous/certbot-renew-mysite.service.absent ]; then rm -f /etc/systemd/system/certbot-renew-mysite.service; fi
if [ -e /srv/mysite/.deploy/previous/certbot-renew-mysite.timer ]; then cp -p /srv/mysite/.deploy/previous/certbot-renew-mysite.timer /etc/systemd/system/certbot-renew-mysite.timer.new && mv -f /etc/systemd/system/certbot-renew-mysite.timer.new /etc/systemd/system/certbot-renew-mysite.timer; elif [ -e /srv/mysite/.deploy/previous/certbot-renew-mysite.timer.absent ]; then rm -f /etc/systemd/system/certbot-renew-mysite.timer; fi
if [ -e /srv/mysite/.deploy/previous/site-link.absent ]; then rm -f /etc/nginx/sites-enabled/mysite; fi
if [ -e /srv/mysite/.deploy/previous/default-link ]; then ln -sfn /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default; fi
printf '%s
' 'L+ /run/gunicorn-mysite.sock - - - - /run/gunicorn-mysite@blue.sock' | tee /etc/tmpfiles.d/gunicorn-mysite.conf.new >/dev/null && mv -f /etc/tmpfiles.d/gunicorn-mysite.conf.new /etc/tmpfiles.d/gunicorn-mysite.conf
ln -sfn releases/20261201T090000Z-0f0e0d0 /srv/mysite/.current.new && mv -T /srv/mysite/.current.new /srv/mysite/current
rm -f '/run/systemd/system/gunicorn-mysite@green.socket' '/run/systemd/system/gunicorn-mysite@green.service'
rm -f '/etc/systemd/system/sockets.target.wants/gunicorn-mysite@green.socket' '/etc/systemd/system/multi-user.target.wants/gunicorn-mysite@green.service'
systemctl daemon-reload
systemctl stop 'gunicorn-mysite@green.service' 'gunicorn-mysite@green.socket' 2>/dev/null || true
if was 'mysite|default-site'; then
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
