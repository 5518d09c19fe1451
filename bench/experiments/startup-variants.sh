#!/usr/bin/env bash
# Start-up experiment (issue #7): builds the action three other ways from a copy of src/ (src/ is
# not touched) and measures them beside dist/ with bench/startup.ts in one run:
#
#   rebuilt     scripts/bundle.mjs's ncc build of the copy, as dist/ is made
#   minified    the same with ncc --minify
#   lean        @actions/core replaced by actions-core-shim.mjs (the functions the action uses,
#               without @actions/http-client and undici), and @actions/github imported only when
#               a deployment is made (a dynamic import: ncc puts it in a chunk of its own)
#
#   bash bench/experiments/startup-variants.sh        (Node 24 first on PATH; BENCH_RUNS=30)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dda-startup-variants.XXXXXX)
ncc=$root/node_modules/@vercel/ncc/dist/ncc/cli.js

copy() { # a project folder with src/ and node_modules (the shim in place of @actions/core for lean)
  local dir=$1 lean=$2 entry
  mkdir -p "$dir/node_modules/@actions"
  cp -r "$root/src" "$root/package.json" "$dir/"
  sed 's/"include": \[[^]]*\]/"include": ["src"]/' "$root/tsconfig.json" >"$dir/tsconfig.json"
  for entry in "$root"/node_modules/* "$root"/node_modules/.bin; do
    [[ $(basename "$entry") == @actions ]] || ln -s "$entry" "$dir/node_modules/"
  done
  for entry in "$root"/node_modules/@actions/*; do
    [[ $lean == lean && $(basename "$entry") == core ]] || ln -s "$entry" "$dir/node_modules/@actions/"
  done
  if [[ $lean == lean ]]; then
    local core=$dir/node_modules/@actions/core
    mkdir -p "$core/lib"
    cp "$root/bench/experiments/actions-core-shim.mjs" "$core/index.js"
    cp "$root"/node_modules/@actions/core/lib/*.d.ts "$core/lib/"
    printf '%s\n' '{ "name": "@actions/core", "version": "0.0.0-shim", "type": "module", "types": "./lib/core.d.ts", "exports": { ".": { "types": "./lib/core.d.ts", "import": "./index.js" } } }' >"$core/package.json"
    local deployment=$dir/src/report/deployment.ts
    grep -q "^import \* as github from '@actions/github'$" "$deployment" ||
      { echo "src/report/deployment.ts no longer imports @actions/github as expected" >&2; exit 1; }
    # Not loaded at start; a real change would `await import()` it where a deployment is made.
    sed -i "s|^import \* as github from '@actions/github'$|// eslint-disable-next-line @typescript-eslint/no-explicit-any\nlet github: any\nexport async function loadGithub(): Promise<void> {\n  github = await import('@actions/github')\n}|" "$deployment"
  fi
}

build() { # folder, output, ncc options...
  local dir=$1 out=$2
  shift 2
  (cd "$dir" && node "$ncc" build src/index.ts -o "$out" --target es2023 -q "$@")
  rm -f "$out/pagent.exe"
  echo "built $out: $(du -sb "$out" | cut -f1) bytes" >&2
}

copy "$work/orig" orig
copy "$work/lean" lean
build "$work/orig" "$work/out/rebuilt"
build "$work/orig" "$work/out/minified" -m
build "$work/lean" "$work/out/lean"

cd "$root"
BENCH_EXTRA_BUNDLES="rebuilt=$work/out/rebuilt/index.js,minified=$work/out/minified/index.js,lean core + lazy github=$work/out/lean/index.js" \
  node --import ./bench/register.mjs bench/startup.ts
rm -rf "$work"
