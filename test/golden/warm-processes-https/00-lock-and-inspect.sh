# warm-processes-https/00-lock-and-inspect.sh: the step `lock-and-inspect` (phase connect, as root): Check the host (nginx, systemd, python, sudo).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
set -u
if [ -L /srv/mysite ] || { [ -e /srv/mysite ] && [ "$(stat -c %u /srv/mysite)" != 0 ]; }; then
  if [ ! -L /srv/mysite ] && [ -d /srv/mysite ] && [ -z "$(ls -A /srv/mysite)" ]; then chown root:root /srv/mysite && chmod 755 /srv/mysite; fi
  if [ -L /srv/mysite ] || [ "$(stat -c %u /srv/mysite)" != 0 ] || [ -L /srv/mysite/.deploy.lock ]; then
    printf '%s
' "/srv/mysite exists, is not empty and is not root's: deploy-path must be a new folder, an empty one or one this action made" >&2; exit 1
  fi
fi
mkdir -p /srv/mysite
if [ -L /srv/mysite/.deploy.steps ]; then rm -f /srv/mysite/.deploy.steps; fi; [ -f /srv/mysite/.deploy.steps ] || (umask 077; : > /srv/mysite/.deploy.steps)
[ -e /srv/mysite/.deploy.lock ] || (umask 077; : > /srv/mysite/.deploy.lock)
chmod 600 /srv/mysite/.deploy.steps /srv/mysite/.deploy.lock
exec 9<>/srv/mysite/.deploy.lock
if ! flock -n 9; then
  echo "WAITING $(head -c 500 /srv/mysite/.deploy.lock | tr '
' ' ')"
  if ! flock -w 300 9; then echo "the deploy lock is held by: $(head -c 500 /srv/mysite/.deploy.lock)" >&2; exit 75; fi
fi
if [ ! /srv/mysite/.deploy.lock -ef /dev/fd/9 ]; then echo 'the deploy lock was removed while this run waited for it (a remove took the project off the host): run again' >&2; exit 1; fi
echo "STALE $(head -c 500 /srv/mysite/.deploy.lock | tr '
' ' ')"
printf '%s
' 'run 1 by octocat (main) since 2026-12-05T12:00:00.000Z' > /srv/mysite/.deploy.lock
echo LOCKED
then=$(mktemp -d)
(
set -u
missing=""
for tool in nginx systemctl systemd-analyze runuser python3; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done
if [ -n "$missing" ]; then echo "missing on the host:$missing" >&2; exit 3; fi
if ! python=$(python3 -I -S -c '<python/interpreter.py>' 2>/dev/null); then
  package=python3-venv; [ -z "$python" ] || package="python$(echo "$python" | cut -d. -f1,2)-venv"
  printf '%s cannot create a venv: install the package %s (Debian/Ubuntu: apt-get install %s)
' python3 "$package" "$package" >&2
  exit 4
fi
echo "cpus=$(nproc)"
echo "python=$python"
live=$(basename "$(readlink /srv/mysite/current 2>/dev/null)" 2>/dev/null); echo "live=$live"
[ -z "$live" ] || echo "deployed=$(head -c 64 /srv/mysite/.deploy/deployed/"$live" 2>/dev/null)"
[ -z "$live" ] || echo "settings=$(sed -n 2p /srv/mysite/.deploy/deployed/"$live" 2>/dev/null | head -c 65536)"
sock=/run/gunicorn-mysite.sock legacy=/etc/systemd/system/gunicorn-mysite.socket
if [ -L "$sock" ]; then to=$(readlink "$sock"); to=${to##*@}; echo "instance=${to%.sock}"; elif [ -S "$sock" ] || [ -e "$legacy" ]; then echo instance=legacy; else echo instance=; fi
# shellcheck disable=SC2010 # ls: root's folder, names root chose (no line break in any)
echo "releases=$(ls -1 /srv/mysite/releases 2>/dev/null | grep -xE '[0-9]{8}T[0-9]{6}Z-[0-9a-z]+' | sort -r | tr '
' ' ')"
# shellcheck disable=SC2012 # ls: root's folder, names root chose (no line break in any)
echo "served=$(ls -1 /srv/mysite/.deploy/served 2>/dev/null | tr '
' ' ')"
# shellcheck disable=SC2012 # ls: root's folder, names root chose (no line break in any)
echo "migrated=$(ls -1 /srv/mysite/.deploy/migrated 2>/dev/null | tr '
' ' ')"
# shellcheck disable=SC2012 # ls: root's folder, names root chose (no line break in any)
echo "backups=$(ls -1 /srv/mysite/backups 2>/dev/null | tr '
' ' ')"
# shellcheck disable=SC2012 # ls: root's folder, names root chose (no line break in any)
echo "failed=$(ls -1 /srv/mysite/.deploy/failed 2>/dev/null | tr '
' ' ') $(cd /srv/mysite/releases 2>/dev/null && for r in *; do [ -f "$r"/.deploy-failed ] && printf '%s ' "$r"; done)"
[ ! -e /srv/mysite/maintenance/on ] || [ "$(stat -c %u /srv/mysite/maintenance)" != 0 ] || echo maintenance=on
echo "process-units=$(grep -l -x -F -- '# django-deploy-action process of mysite' /etc/systemd/system/*.service /etc/systemd/system/*.timer 2>/dev/null | xargs -r -n1 basename | tr '
' ' ')"
if ! command -v certbot >/dev/null 2>&1; then
  echo 'tls: auto needs certbot on the host: install the package certbot (Debian/Ubuntu: apt-get install certbot)' >&2
  exit 3
fi
if [ -f /etc/letsencrypt/live/mysite/fullchain.pem ]; then python3 -I -c '<python/certificate.py>' /etc/letsencrypt/live/mysite/fullchain.pem || true; fi
grep -qF /.well-known/acme-challenge/ /etc/nginx/sites-available/mysite 2>/dev/null && echo challenge=yes
result=$(systemctl show -p Result --value certbot-renew-mysite.service 2>/dev/null)
if [ -n "$result" ] && [ "$result" != success ]; then
  echo "renewal-failed=$(journalctl -u certbot-renew-mysite.service -n 40 -o cat --no-pager 2>/dev/null | base64 -w0)"
fi
true
) > "$then/out" 2> "$then/err"
echo "THEN $? $(wc -c < "$then/out") $(wc -c < "$then/err")"
cat "$then/out" "$then/err"; rm -rf "$then"
line=$(head -c 8192 | head -n 1)
cat > /dev/null
[ -n "$line" ] || line=$(printf 'time="%s" %s' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "run=\"42\" repository=\"octo/shop\" actor=\"o'cto \$(id)\" mode=\"deploy\" argument=\"1a2b3c4\" result=\"interrupted\"")
if [ ! -L /srv/mysite/.deploy ] && { [ -d /srv/mysite/.deploy ] || mkdir -m 700 /srv/mysite/.deploy; } && [ ! -L /srv/mysite/.deploy/audit.log ]; then
  (umask 027; printf '%s\n' "$line" >> /srv/mysite/.deploy/audit.log; chmod 0640 /srv/mysite/.deploy/audit.log) 2>/dev/null || true
fi
systemctl stop 'dda-mysite-*.service' 2>/dev/null || true
flock -x -w 610 /srv/mysite/.deploy.steps true || true
: > /srv/mysite/.deploy.lock
