# warm-processes-https/02-dotenv.sh: the step `dotenv` (phase upload, as root, reading the .env text on stdin): Write the .env.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
set -eu
if ! id -u mysite >/dev/null 2>&1; then useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin mysite; echo "created the system user mysite"; fi
mkdir -p /srv/mysite/releases /srv/mysite/.deploy /srv/mysite/.deploy/failed
chown -h root:root /srv/mysite /srv/mysite/releases /srv/mysite/.deploy /srv/mysite/.deploy/failed && chmod 755 /srv/mysite /srv/mysite/releases && chmod 700 /srv/mysite/.deploy
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"user","user":"mysite"},{"op":"folder","path":"/srv/mysite/shared","owner":{"user":"mysite","group":"www-data"},"mode":"710"}]' /srv/mysite
set -eu
umask 077; cat > /srv/mysite/.deploy/env.new
mv -f /srv/mysite/.deploy/env.new /srv/mysite/.deploy/env
