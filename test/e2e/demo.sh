#!/usr/bin/env bash
# `npm run demo`: boots a local disposable test host and deploys test/fixtures/mysite to it with
# `node dist/index.js`, exactly as a GitHub runner would start the action. The host stays up.
set -euo pipefail
cd "$(dirname "$0")/../.."
testhost=test/e2e/testhost.sh
name=${DEMO_HOST:-demo}

state=${TESTHOST_STATE:-/run/django-deploy-action-testhost}
if bash "$testhost" list | awk -v n="$name" '$1 == n && $3 == "up" { found = 1 } END { exit !found }'; then
  info=$(cat "$state/$name/host.json")
else
  info=$(bash "$testhost" boot "$name")
fi
address=$(node -e 'console.log(JSON.parse(process.argv[1]).address)' "$info")
field() { node -e 'const h = JSON.parse(process.argv[1]); console.log(process.argv[2].split(".").reduce((o, k) => o[k], h))' "$info" "$1"; }

run=$(mktemp -d)
: > "$run/output"
: > "$run/summary"
set +e
env -i PATH="$PATH" HOME="$HOME" \
  GITHUB_WORKSPACE="$PWD" GITHUB_OUTPUT="$run/output" GITHUB_STEP_SUMMARY="$run/summary" \
  GITHUB_SHA="$(git rev-parse HEAD 2>/dev/null || echo local)" GITHUB_REPOSITORY=example/mysite \
  INPUT_HOST="$address" INPUT_USERNAME=deploy INPUT_KEY="$(cat "$(field keys.ed25519)")" \
  INPUT_KNOWN-HOSTS="$(field knownHosts)" INPUT_PROJECT-NAME=mysite \
  INPUT_SOURCE=test/fixtures/mysite INPUT_SYSTEM-SITE-PACKAGES=true INPUT_HEALTH-PATH=/healthz \
  INPUT_DEPLOYMENT=false \
  node dist/index.js
status=$?
set -e

echo
echo "=== job summary ($run/summary)"
cat "$run/summary"
echo "=== outputs"
grep -v '^ghadelimiter' "$run/output" | sed 's/<<ghadelimiter.*/:/'
echo
echo "The site: http://$address/  (health view: curl http://$address/healthz)"
echo "A shell on the host: bash $testhost exec $name -- bash"
echo "Stop the host when done: bash $testhost stop $name"
exit $status
