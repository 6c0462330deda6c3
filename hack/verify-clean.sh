#!/usr/bin/env bash
# hack/verify-clean.sh snapshot|check: fails when regenerating (go mod tidy,
# make manifests generate bundle) changed, added or removed a generated file,
# so generated files never drift from the code.
#
# It compares the files before and after regenerating rather than asking git,
# so it also holds in a working tree with uncommitted changes: `make test`
# runs it, and what it checks is that the generated files match the sources
# as they are now, committed or not.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
snapshot=bin/verify-snapshot
generated=(apis config bundle go.mod go.sum)

list() { find "${generated[@]}" -type f -print0 | sort -z | xargs -0 sha256sum; }

case "${1:-}" in
  snapshot)
    mkdir -p bin
    list >"$snapshot"
    ;;
  check)
    [[ -f $snapshot ]] || { echo "verify: no snapshot; run make verify" >&2; exit 2; }
    if ! changes=$(diff <(cat "$snapshot") <(list)); then
      echo "generated files were out of date and are now regenerated; review and commit them:" >&2
      # Lines only in the snapshot are files changed or removed; lines only
      # in the new list are files changed or added.
      sed -n 's/^[<>] [0-9a-f]*  //p' <<<"$changes" | sort -u >&2
      rm -f "$snapshot"
      exit 1
    fi
    rm -f "$snapshot"
    echo "verify: generated files are up to date"
    ;;
  *) echo "usage: hack/verify-clean.sh snapshot|check" >&2; exit 2 ;;
esac
