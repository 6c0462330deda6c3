#!/usr/bin/env bash
# make e2e: bring the cluster up (hack/cluster), run the end-to-end suite
# against it with a manager built from this tree, and bring it down again,
# also on failure or Ctrl-C. Then check, from the process list, that nothing
# built by this repository is still running.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

leftovers() {
  # Every binary the suite starts lives under bin/ or is the manager built
  # into the temporary directory.
  pgrep -a -f "^($root/bin/|/tmp/egress-manager-e2e-)" || true
}

teardown() {
  local code=$?
  hack/cluster down || code=1
  local left; left=$(leftovers)
  if [[ -n "$left" ]]; then
    echo "e2e: processes still running after teardown:" >&2
    echo "$left" >&2
    code=1
  else
    echo "e2e: teardown left no process running"
  fi
  exit "$code"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start=$SECONDS
hack/cluster up
echo "e2e: cluster up in $((SECONDS - start))s; running the suite"
go test -tags e2e -count=1 -timeout 20m -v ./controllers/e2e/ "$@"
