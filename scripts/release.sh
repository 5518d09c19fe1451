#!/usr/bin/env bash
# The release steps, run by .github/workflows/release.yml on a pushed tag vX.Y.Z (and by hand):
#
#   scripts/release.sh notes vX.Y.Z            the CHANGELOG.md section of vX.Y.Z (the release's
#                                              text); fails when there is none
#   scripts/release.sh check-dist              rebuilds dist/ and fails when it differs from the
#                                              committed one (users run the committed dist/)
#   scripts/release.sh move-major vX.Y.Z [--push [REMOTE]]
#                                              points the major tag vX at vX.Y.Z's commit (force),
#                                              and pushes it to REMOTE (origin) with --push
#
# RELEASE_BUILD overrides the command check-dist builds dist/ with.
set -euo pipefail

die() {
  echo "release: $*" >&2
  exit 1
}

# A release tag is vMAJOR.MINOR.PATCH, numbers without leading zeros: what users pin.
check_version() {
  [[ ${1-} =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] ||
    die "'${1-}' is not a release tag: a release is tagged vX.Y.Z (e.g. v1.2.3)"
}

# The lines under "## vX.Y.Z" (the heading may go on with a date) up to the next "## " heading,
# without the heading and the blank lines around them.
notes() {
  check_version "${1-}"
  local changelog=${CHANGELOG:-CHANGELOG.md}
  [ -f "$changelog" ] || die "$changelog not found"
  local section
  section=$(awk -v heading="## $1" '
    /^## / { inside = ($0 == heading || index($0, heading " ") == 1); next }
    inside { print }
  ' "$changelog" | sed -e '/./,$!d')
  [ -n "$section" ] ||
    die "$changelog has no section for $1: add a \"## $1\" heading with the release's changes"
  printf '%s\n' "$section"
}

check_dist() {
  local build=${RELEASE_BUILD:-npm ci --ignore-scripts && npm run bundle}
  echo "release: building dist/ with: $build"
  bash -c "$build" || die "the build failed: $build"
  # Files the build changed or deleted, and files it made that were never committed.
  if [ -n "$(git status --porcelain -- dist/)" ]; then
    git status --short -- dist/ >&2
    die "dist/ does not match src/: run npm run bundle, commit dist/, and tag that commit"
  fi
  echo "release: dist/ matches src/"
}

# vX follows the newest release of major X: a patch to an older line leaves it where it is.
move_major() {
  check_version "${1-}"
  local version=$1 major=${1%%.*} push=false remote=origin
  shift
  if [ "${1-}" = --push ]; then
    push=true
    remote=${2:-origin}
  elif [ $# -gt 0 ]; then
    die "move-major: unknown argument '$1' (only --push [REMOTE])"
  fi
  local commit newest
  commit=$(git rev-parse --verify --quiet "refs/tags/$version^{commit}") ||
    die "there is no tag $version in this repository"
  newest=$(git tag --list "$major.*.*" |
    grep -E '^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$' | sort -V | tail -n 1)
  if [ "$newest" != "$version" ]; then
    echo "release: $newest is newer than $version: $major stays where it is"
    return 0
  fi
  git tag --force "$major" "$commit" >/dev/null
  echo "release: $major -> $version ($commit)"
  if [ "$push" = true ]; then
    git push --force "$remote" "refs/tags/$major:refs/tags/$major"
  fi
}

case "${1-}" in
  notes) notes "${@:2}" ;;
  check-dist) check_dist ;;
  move-major) move_major "${@:2}" ;;
  *) die "usage: $0 notes vX.Y.Z | check-dist | move-major vX.Y.Z [--push [REMOTE]]" ;;
esac
