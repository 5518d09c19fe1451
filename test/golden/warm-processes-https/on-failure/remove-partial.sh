# warm-processes-https/on-failure/remove-partial.sh: the step `remove-partial` (phase cleanup, as root): Remove the partial release 20261205T120000Z-1a2b3c4 (the disk is full).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
echo "written=$(du -sk /srv/mysite/releases/20261205T120000Z-1a2b3c4 2>/dev/null | cut -f1)"
rm -rf /srv/mysite/releases/20261205T120000Z-1a2b3c4
for v in /srv/mysite/venvs/*; do [ -d "$v" ] && [ ! -e "$v/.complete" ] && rm -rf "$v"; done; true
echo "free=$(df -Pk /srv/mysite | awk 'NR == 2 { print $4 }')"
