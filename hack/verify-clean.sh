#!/usr/bin/env bash
# Fails when regenerating (make manifests generate, later the bundle) changed
# or added files, so generated code never drifts from the markers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
changes=$(git status --porcelain -- apis config bundle)
if [[ -n "$changes" ]]; then
  echo "generated files are out of date; run 'make manifests generate' and commit:" >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- apis config bundle >&2
  exit 1
fi
echo "verify: generated files are up to date"
