#!/usr/bin/env bash
# Fails when anything under simulator/ depends, directly or transitively, on
# packages the simulator must stay free of (STYLE.md habit 5): controller-runtime,
# Helm, client-go's REST machinery, or this module's apis/ and controllers/.
# The simulator is a library shared by the CLI and the controller; it may use
# Istio's API types and apimachinery, never anything that talks to a cluster.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
module="$(go list -m)"

forbidden=(
  '^sigs\.k8s\.io/controller-runtime(/|$)'
  '^helm\.sh/'
  '^k8s\.io/client-go/(rest|kubernetes|dynamic|discovery|tools/clientcmd|transport)(/|$)'
  '^istio\.io/client-go/pkg/clientset(/|$)'
  "^${module//./\\.}/(apis|controllers)(/|$)"
)
pattern="$(IFS='|'; echo "${forbidden[*]}")"

status=0
for pkg in $(go list ./simulator/...); do
  bad="$(go list -deps "$pkg" | grep -E "$pattern" || true)"
  if [[ -n "$bad" ]]; then
    echo "$pkg imports forbidden packages:" >&2
    sed 's/^/  /' <<<"$bad" >&2
    status=1
  fi
done
if [[ $status -eq 0 ]]; then
  echo "simulator imports OK"
fi
exit $status
