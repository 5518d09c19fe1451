# warm-processes-https/03-upload.sh: the step `upload` (phase upload, as root, reading the source's tar stream on stdin): Upload /home/runner/work/mysite/mysite to releases/20261205T120000Z-1a2b3c4.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
if [ -e /srv/mysite/releases/20261205T120000Z-1a2b3c4 ]; then printf '%s
' 'release 20261205T120000Z-1a2b3c4 already exists on the host (one commit deployed twice in a second?)' >&2; exit 1; fi
mkdir /srv/mysite/releases/20261205T120000Z-1a2b3c4
venv_log=$(mktemp)
(set -eu
if ! python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"ready","path":"/srv/mysite/venvs/742bd9cc4c3e52b0"}]' /srv/mysite; then
  rm -rf /srv/mysite/venvs/742bd9cc4c3e52b0 && mkdir -p /srv/mysite/venvs && mkdir /srv/mysite/venvs/742bd9cc4c3e52b0
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"files","path":"/srv/mysite/venvs/742bd9cc4c3e52b0/.requirements","files":[["requirements.txt","RGphbmdvPT01LjIuOApndW5pY29ybj09MjMuMC4wCmNlbGVyeT09NS41LjMK"]]},{"op":"folder","path":"/srv/mysite/venvs/742bd9cc4c3e52b0","owner":{"user":"mysite","group":"mysite"},"mode":"755"}]' /srv/mysite
printf %s '<base64 of 03-upload.app1.sh>' | base64 -d | systemd-run --quiet --pipe --wait --collect --service-type=exec --unit=dda-mysite-venv-"$$" --uid=mysite --gid=mysite -p 'WorkingDirectory=/srv/mysite/venvs/742bd9cc4c3e52b0' -p 'EnvironmentFile=-/srv/mysite/.deploy/env' -p 'Environment=DJANGO_SETTINGS_MODULE=mysite.settings' -p 'Environment=PATH=/usr/local/bin:/usr/bin:/bin' -p 'Environment=PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1' -p 'RuntimeMaxSec=600' -p 'ProtectSystem=strict' -p 'ProtectHome=true' -p 'PrivateTmp=true' -p 'PrivateDevices=true' -p 'NoNewPrivileges=true' -p 'ProtectKernelTunables=true' -p 'ProtectKernelModules=true' -p 'ProtectKernelLogs=true' -p 'ProtectControlGroups=true' -p 'ProtectClock=true' -p 'ProtectHostname=true' -p 'ProtectProc=invisible' -p 'ProcSubset=pid' -p 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' -p 'RestrictNamespaces=true' -p 'RestrictRealtime=true' -p 'RestrictSUIDSGID=true' -p 'LockPersonality=true' -p 'SystemCallArchitectures=native' -p 'SystemCallFilter=@system-service' -p 'CapabilityBoundingSet=' -p 'PrivateUsers=true' -p 'DevicePolicy=closed' -p 'ReadWritePaths=/srv/mysite/venvs/742bd9cc4c3e52b0' -p 'UMask=0022' -- /bin/sh -s
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"venv","path":"/srv/mysite/venvs/742bd9cc4c3e52b0","tree":"/srv/mysite/venvs/742bd9cc4c3e52b0","mode":"public","group":"mysite","user":"mysite","remove":[".requirements"]}]' /srv/mysite
  echo 'built the venv 742bd9cc4c3e52b0 beside the upload'
fi) </dev/null >"$venv_log" 2>&1 &
venv_pid=$!
if ! tar -xzf - -C /srv/mysite/releases/20261205T120000Z-1a2b3c4 --no-same-owner --no-same-permissions; then
  [ "$(df -Pk /srv/mysite/releases/20261205T120000Z-1a2b3c4 | awk 'NR == 2 { print $4 }')" -ge 1024 ] || echo 'tar: No space left on device' >&2
  systemctl stop dda-mysite-venv-"$$" 2>/dev/null || true
  exit 2
fi
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"remove","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","names":[".venv",".deploy-failed"]},{"op":"take","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","group":"mysite","mode":"code"}]' /srv/mysite
venv_status=0; wait "$venv_pid" || venv_status=$?
cat "$venv_log"; rm -f "$venv_log"
[ "$venv_status" = 0 ] || echo "the venv beside the upload failed (exit $venv_status): the venv step builds it again"
