#!/usr/bin/env bash
# make scorecard: run the bundle's scorecard tests (bundle/tests/scorecard/
# config.yaml) for real, with operator-sdk's scorecard-test binary built from
# the Go module proxy (hack/scorecard/go.mod) into bin/scorecard/<version>/.
#
# `operator-sdk scorecard` runs each test in a Pod whose image reads the
# bundle from /bundle; here each test runs in a chroot holding the static
# binary and a copy of bundle/ at /bundle, which needs root. No cluster and no
# container engine are involved: these six tests only read the bundle.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
module="$root/hack/scorecard"
version=$(go -C "$module" list -m -f '{{.Version}}' github.com/operator-framework/operator-sdk)
bin="$root/bin/scorecard/$version/scorecard-test"
if [[ ! -x "$bin" ]]; then
  echo "scorecard: building scorecard-test (operator-sdk $version)" >&2
  start=$SECONDS
  mkdir -p "$(dirname "$bin")"
  # Static, so it runs in a chroot with nothing else in it.
  CGO_ENABLED=0 go build -C "$module" -trimpath -ldflags "-s -w" -o "$bin.tmp" \
    github.com/operator-framework/operator-sdk/images/scorecard-test
  mv "$bin.tmp" "$bin"
  echo "scorecard: built in $((SECONDS - start))s" >&2
fi
SCORECARD_TEST="$bin" SCORECARD_VERSION="$version" go test -tags scorecard -count=1 -run TestScorecard -v ./hack/bundle/
