#!/usr/bin/env bash
# make fuzz: run every Go fuzz target of the module for FUZZTIME each (10s
# by default; `make fuzz FUZZTIME=5m` for a longer hunt). `go test -fuzz`
# takes one target of one package at a time, so the targets are listed from
# the sources. A failure leaves its input under the package's
# testdata/fuzz/<target>/, which plain `go test` then replays for good.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FUZZTIME=${FUZZTIME:-10s}

mapfile -t targets < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  dir=$(dirname "$f")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$dir |"
done)
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
# fuzz_once runs one target and returns its exit status; its output is in
# $log as well as on stdout.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz_once() {
  set +e
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

for t in "${targets[@]}"; do
  read -r dir name <<<"$t"
  echo "fuzz: $dir $name for $FUZZTIME"
  if fuzz_once "$dir" "$name"; then
    continue
  fi
  # Go's fuzzing coordinator can fail a target with a bare "context deadline
  # exceeded" when -fuzztime runs out while a worker is busy
  # (https://go.dev/issue/75804): no input failed and none is written. That
  # failure alone is run again once; a real failure writes its input under
  # testdata/fuzz/ and says so, and a hang fails again.
  if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
    echo "fuzz: $name stopped with Go's spurious deadline error and no failing input; running it again once"
    fuzz_once "$dir" "$name" || exit 1
    continue
  fi
  exit 1
done
echo "fuzz: ${#targets[@]} targets passed"
