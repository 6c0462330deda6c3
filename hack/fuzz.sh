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
for t in "${targets[@]}"; do
  read -r dir name <<<"$t"
  echo "fuzz: $dir $name for $FUZZTIME"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir"
done
echo "fuzz: ${#targets[@]} targets passed"
