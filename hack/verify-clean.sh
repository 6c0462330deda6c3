#!/usr/bin/env bash
# Fails when regenerating (go mod tidy, make manifests generate bundle)
# changed or added files, so generated files never drift from the code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
changes=$(git status --porcelain -- apis config bundle go.mod go.sum)
if [[ -n "$changes" ]]; then
  echo "generated files are out of date; run 'make verify' and commit the result:" >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- apis config bundle go.mod go.sum >&2
  exit 1
fi
echo "verify: generated files are up to date"
