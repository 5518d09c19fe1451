# warm-processes-https/05-django.app1.sh: run as the app user by warm-processes-https/05-django.sh.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
set -eu
if [ ! -e /srv/mysite/shared/db.sqlite3 ] && [ ! -L /srv/mysite/shared/db.sqlite3 ] && [ -e db.sqlite3 ] && [ ! -L db.sqlite3 ]; then
  mkdir -p /srv/mysite/shared && cp -a db.sqlite3 /srv/mysite/shared/db.sqlite3
fi
if [ ! -e /srv/mysite/shared/media ] && [ ! -L /srv/mysite/shared/media ] && [ -e media ] && [ ! -L media ]; then
  mkdir -p /srv/mysite/shared && cp -a media /srv/mysite/shared/media
fi
