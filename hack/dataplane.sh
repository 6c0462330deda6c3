#!/usr/bin/env bash
# make dataplane: check the simulator's NetworkPolicy verdicts, and the
# lockdown policy the operator writes, against a real data plane.
#
# kube-router's network policy controller (iptables + ipset) enforces the
# NetworkPolicies of a real etcd + kube-apiserver on "pods" that are Linux
# network namespaces; the Go test in hack/dataplane/ builds that topology,
# applies each configuration, opens real connections and compares them with
# simulator/netpol and with `egressctl simulate`.
#
# kube-router v2.1.0 is a test-only program with reported security flaws: it
# is built from the Go module proxy into bin/dataplane/, runs only inside the
# test's own network namespaces and is never imported by the product.
#
# Needs root (network namespaces, iptables). Installs iptables and ipset
# from Debian when their commands are missing. Whatever happens, also on
# failure or Ctrl-C, the trap removes the test's namespaces and processes and
# then fails if any is left, or if the machine's own iptables rules changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
kube_router_bin="$root/bin/dataplane/kube-router-$KUBE_ROUTER_VERSION"
# Every network namespace, process argument and temporary directory of one
# run carries this prefix, so the teardown finds exactly what this run made.
prefix="egdp-$(printf '%04x' $((RANDOM % 65536)))-"

log() { echo "dataplane: $*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "needs root (network namespaces, iptables)"; exit 1; }

# packages installs the Debian packages whose commands are missing.
packages() {
  local missing=() c pkg
  for c in iptables:iptables iptables-save:iptables ipset:ipset ip:iproute2 sysctl:procps; do
    pkg=${c#*:}
    command -v "${c%%:*}" >/dev/null || missing+=("$pkg")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]} from Debian"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# gobuild installs a main package at a version into a cache directory unless
# it is already there (as hack/cluster does).
gobuild() { # dir pkg@version
  local dir=$1 pkg=$2 name
  name=${pkg%@*}; name=${name##*/}
  [[ -x "$dir/$name" ]] && return 0
  log "building $pkg (cold: about 6 minutes on 2 cores)"
  local start=$SECONDS
  mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath "$pkg"
  log "built in $((SECONDS - start))s"
}

# Our network namespaces, processes and directories, by prefix.
our_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix" || true; }
our_procs() { pgrep -a -f "$prefix" || true; } # kube-router, etcd and kube-apiserver name files under the work dir
our_dirs() { compgen -G "${TMPDIR:-/tmp}/$prefix*" || true; }

# root_rules prints the machine's own iptables and ipset state, which the
# test must never change: everything it does happens in its namespaces.
root_rules() {
  iptables-save 2>/dev/null | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//' || true
  ipset list -n 2>/dev/null || true
  if command -v nft >/dev/null; then nft list ruleset 2>/dev/null || true; fi
}

teardown() {
  local code=$? dirty=0 ns pid left
  # The test cleans up after itself; this is the second line, for a test
  # binary killed by its timeout or a signal.
  for ns in $(our_netns); do
    log "removing leftover network namespace $ns"
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    dirty=1
  done
  left=$(our_procs)
  if [[ -n "$left" ]]; then
    log "processes still running after the test, killing them:"; echo "$left" >&2
    for pid in $(awk '{print $1}' <<<"$left"); do kill -9 "$pid" 2>/dev/null || true; done
    dirty=1
  fi
  left=$(our_dirs)
  if [[ -n "$left" ]]; then
    log "directories left after the test, removing them:"; echo "$left" >&2
    while read -r d; do rm -rf "$d"; done <<<"$left"
    dirty=1
  fi
  left=$(our_netns)
  if [[ -n "$left" ]]; then
    log "network namespaces still present:"; echo "$left" >&2
    dirty=1
  fi
  if [[ -n ${rules_before+x} ]] && [[ $(root_rules) != "$rules_before" ]]; then
    log "the machine's own iptables/ipset/nftables state changed during the test:"
    diff <(echo "$rules_before") <(root_rules) >&2 || true
    dirty=1
  fi
  if ((dirty)); then
    log "teardown was incomplete (see above)"
    code=1
  else
    log "teardown left no network namespace, process or directory; the machine's iptables, ipsets and nftables are unchanged"
  fi
  exit "$code"
}

packages
gobuild "$kube_router_bin" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
k8s=$(hack/controlplane.sh etcd kube-apiserver | tail -n 1)

rules_before=$(root_rules)
trap teardown EXIT
trap 'exit 130' INT TERM

start=$SECONDS
status=0
DATAPLANE_PREFIX="$prefix" \
  DATAPLANE_K8S_BIN="$k8s" \
  DATAPLANE_KUBE_ROUTER="$kube_router_bin/kube-router" \
  go test -tags dataplane -count=1 -timeout 20m -v ./hack/dataplane/ "$@" || status=$?
log "test finished in $((SECONDS - start))s (exit $status)"
exit "$status"
