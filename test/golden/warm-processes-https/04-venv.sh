# warm-processes-https/04-venv.sh: the step `venv` (phase venv, as root): Venv 742bd9cc4c3e52b0 (built when its requirements change).
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
ready=0
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"ready","path":"/srv/mysite/venvs/742bd9cc4c3e52b0"},{"op":"symlink","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","name":".venv","target":"../../venvs/742bd9cc4c3e52b0"},{"op":"compile","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","group":"mysite","skip":[".venv"]}]' /srv/mysite || ready=$?
if [ "$ready" = 4 ]; then
  rm -rf /srv/mysite/venvs/742bd9cc4c3e52b0
  mkdir -p /srv/mysite/venvs && mkdir /srv/mysite/venvs/742bd9cc4c3e52b0
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"folder","path":"/srv/mysite/venvs/742bd9cc4c3e52b0","owner":{"user":"mysite","group":"mysite"},"mode":"755"}]' /srv/mysite
printf %s '<base64 of 04-venv.app1.sh>' | base64 -d | systemd-run --quiet --pipe --wait --collect --service-type=exec --unit=dda-mysite-venv-"$$" --uid=mysite --gid=mysite -p 'WorkingDirectory=/srv/mysite/releases/20261205T120000Z-1a2b3c4' -p 'EnvironmentFile=-/srv/mysite/.deploy/env' -p 'Environment=DJANGO_SETTINGS_MODULE=mysite.settings' -p 'Environment=PATH=/usr/local/bin:/usr/bin:/bin' -p 'Environment=PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1' -p 'RuntimeMaxSec=600' -p 'ProtectSystem=strict' -p 'ProtectHome=true' -p 'PrivateTmp=true' -p 'PrivateDevices=true' -p 'NoNewPrivileges=true' -p 'ProtectKernelTunables=true' -p 'ProtectKernelModules=true' -p 'ProtectKernelLogs=true' -p 'ProtectControlGroups=true' -p 'ProtectClock=true' -p 'ProtectHostname=true' -p 'ProtectProc=invisible' -p 'ProcSubset=pid' -p 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' -p 'RestrictNamespaces=true' -p 'RestrictRealtime=true' -p 'RestrictSUIDSGID=true' -p 'LockPersonality=true' -p 'SystemCallArchitectures=native' -p 'SystemCallFilter=@system-service' -p 'CapabilityBoundingSet=' -p 'PrivateUsers=true' -p 'DevicePolicy=closed' -p 'ReadWritePaths=/srv/mysite/venvs/742bd9cc4c3e52b0' -p 'UMask=0022' -- /bin/sh -s
python3 -I -S -c '<python/boundary_trees.py + python/boundary.py>' '[{"op":"venv","path":"/srv/mysite/venvs/742bd9cc4c3e52b0","tree":"/srv/mysite/venvs/742bd9cc4c3e52b0","mode":"public","group":"mysite","user":"mysite","remove":[]},{"op":"symlink","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","name":".venv","target":"../../venvs/742bd9cc4c3e52b0"},{"op":"compile","path":"/srv/mysite/releases/20261205T120000Z-1a2b3c4","group":"mysite","skip":[".venv"]}]' /srv/mysite
  echo "built the venv 742bd9cc4c3e52b0"
elif [ "$ready" != 0 ]; then exit "$ready"
else echo "reused the venv 742bd9cc4c3e52b0"
fi
