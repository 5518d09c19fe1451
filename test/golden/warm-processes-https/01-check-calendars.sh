# warm-processes-https/01-check-calendars.sh: the step `check-calendars` (phase connect, as the SSH user): systemd-analyze calendar for the schedules.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -u
bad=0
if ! out=$(systemd-analyze calendar -- daily 2>&1); then printf '%s
' "$out" >&2; printf '%s
' "Input 'schedules': 'clearsessions': systemd cannot parse the calendar expression 'daily' (on:). See man systemd.time, \"Calendar Events\"." >&2; bad=1; fi
exit $bad
