# warm-processes-https/on-failure/mark-failed.sh: the step `mark-failed` (phase cleanup, as root): Mark 20261205T120000Z-1a2b3c4 as failed (kept for inspection until pruned).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
mkdir -p /srv/mysite/.deploy/failed && : > /srv/mysite/.deploy/failed/20261205T120000Z-1a2b3c4
if [ -d /srv/mysite/releases/20261205T120000Z-1a2b3c4 ] && [ ! -L /srv/mysite/releases/20261205T120000Z-1a2b3c4 ]; then python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"take","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","group":"mysite","mode":"code","user":"mysite"}]' /srv/mysite; fi
