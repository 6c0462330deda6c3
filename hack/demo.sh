#!/usr/bin/env bash
# make demo: the seed scenario end to end on a local cluster (hack/demo/main.go
# says what it runs), then a check from the process list that nothing it
# started is still running, on success, failure and Ctrl-C alike.
#
#   DEMO_CLUSTER=auto   (default) the kwok + istiod cluster when its binaries
#                       are built, otherwise etcd + kube-apiserver only
#   DEMO_CLUSTER=full   the kwok + istiod cluster, building what is missing
#   DEMO_CLUSTER=plain  etcd + kube-apiserver only
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

start=$SECONDS
# Every process the demo starts inherits this variable (the demo's children,
# theirs, hack/cluster's kwok and istiod), so the check below finds exactly
# what this run started, and not, say, a `make e2e` running beside it.
run_id="$$-$(date +%s%N)"

ours() {
  local p pid
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if grep -qzxF "EGRESS_DEMO_RUN=$run_id" "$p/environ" 2>/dev/null; then
      echo "$pid $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
    fi
  done
}

finish() {
  local code=$?
  local left; left=$(ours)
  if [[ -n "$left" ]]; then
    echo "demo: still running after the teardown (pid, command):" >&2
    echo "$left" >&2
    code=1
  else
    echo "demo: process list checked: nothing the demo started is still running"
  fi
  echo "demo: total time $((SECONDS - start))s"
  exit "$code"
}
trap finish EXIT
trap 'exit 130' INT TERM

ldflags="-X main.version=${VERSION:-dev}"
echo "demo: building bin/manager, bin/egressctl and the demo driver from this tree (first time: a few minutes)"
build_start=$SECONDS
go build -ldflags "$ldflags" -o bin/manager ./cmd/manager
go build -ldflags "$ldflags" -o bin/egressctl ./cmd/egressctl
go build -o bin/demo/egress-demo ./hack/demo
echo "demo: built in $((SECONDS - build_start))s"

# The driver's output is also its transcript: make demo-check compares it,
# with the volatile parts masked, to docs/demo-transcript.txt.
EGRESS_DEMO_RUN=$run_id bin/demo/egress-demo | tee bin/demo/transcript.txt
