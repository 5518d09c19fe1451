#!/usr/bin/env bash
# Start-up experiment (issue #7, #13): builds other bundles from a copy of src/ (src/ is not
# touched) and measures them beside dist/ with bench/startup.ts in one run:
#
#   rebuilt     scripts/bundle.mjs's ncc build of the copy, as dist/ is made
#   minified    the same with ncc --minify
#   ssh2 alone  a bundle that only imports ssh2's Client and connects with the key: the floor for
#               any action that speaks SSH with ssh2 (what the action adds above it is its own)
#
#   bash bench/experiments/startup-variants.sh        (Node 24 first on PATH; BENCH_RUNS=30;
#                                                     BENCH_EXTRA_BUNDLES: more builds beside)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dda-startup-variants.XXXXXX)
ncc=$root/node_modules/@vercel/ncc/dist/ncc/cli.js

# A project folder with src/ and node_modules.
mkdir -p "$work/orig"
cp -r "$root/src" "$root/package.json" "$work/orig/"
sed 's/"include": \[[^]]*\]/"include": ["src"]/' "$root/tsconfig.json" >"$work/orig/tsconfig.json"
ln -s "$root/node_modules" "$work/orig/node_modules"
# ssh2 alone: the same __dirname shim as the action's entry, then one connection (bench inputs).
cat >"$work/orig/src/ssh2-alone.ts" <<'TS'
import './esm-globals.js'
import { Client } from 'ssh2'
const [host, port] = (process.env.INPUT_HOST ?? '').split(':')
new Client()
  .on('error', () => {})
  .connect({ host, port: Number(port), username: 'root', privateKey: process.env.INPUT_KEY })
TS

build() { # entry, output, ncc options...
  local entry=$1 out=$2
  shift 2
  (cd "$work/orig" && node "$ncc" build "$entry" -o "$out" --target es2023 -q "$@")
  rm -f "$out/pagent.exe"
  echo "built $out: $(du -sb "$out" | cut -f1) bytes" >&2
}

build src/index.ts "$work/out/rebuilt"
build src/index.ts "$work/out/minified" -m
build src/ssh2-alone.ts "$work/out/ssh2"

cd "$root"
# Its results file: bench/results/<date>-variants-startup.md (the builds are gone after it).
BENCH_NAME="${BENCH_NAME:-variants}" BENCH_EXTRA_BUNDLES="${BENCH_EXTRA_BUNDLES:+$BENCH_EXTRA_BUNDLES,}rebuilt=$work/out/rebuilt/index.js,minified=$work/out/minified/index.js,ssh2 alone=$work/out/ssh2/index.js" \
  node --experimental-transform-types --import ./bench/register.mjs bench/startup.ts
rm -rf "$work"
