# warm-processes-https/15-renewal-timer.sh: the step `renewal-timer` (phase cleanup, as root): Enable certbot-renew-mysite.timer (certbot renew).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
systemctl daemon-reload
systemctl enable --now --quiet certbot-renew-mysite.timer
