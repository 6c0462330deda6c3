#!/usr/bin/env bash
# Measures the operator at the full benchmark size as live objects (10,000
# service accounts in 500 namespaces, 1,000 ServiceEntries, 2,000 policies)
# on the project's own etcd + kube-apiserver: time to the first report,
# policy edit to status (median of EGRESS_LATENCY_EDITS edits, default 15),
# peak memory, and the writes of an idle minute. Takes a few minutes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
assets=$(hack/controlplane.sh | tail -n 1)
EGRESS_LATENCY=1 KUBEBUILDER_ASSETS="$assets" go test ./controllers/ -count=1 -timeout 30m \
  -run '^TestEditLatencyAtFullSize$' -v "$@" | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|latency_test.go'
