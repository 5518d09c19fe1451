# warm-processes-https/12-health.sh: the step `health` (phase health, as the SSH user): GET https://example.com/ through nginx.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
python3 -I -c '<python/boot_watch.py + python/health.py>' '127.0.0.1:443' / example.com tls 60 200-499
