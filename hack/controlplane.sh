#!/usr/bin/env bash
# Builds the real control plane the tests run against (kube-apiserver, etcd,
# kubectl) from their Go modules into bin/k8s/<version>/, and prints that
# directory last, so callers can use it as KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS=$(hack/controlplane.sh | tail -n 1)
#
# Arguments name other components to build instead, for the end-to-end
# cluster: hack/controlplane.sh kube-controller-manager kube-scheduler
#
# Release binaries cannot be downloaded on our build machines, and
# `go install ...@version` cannot build k8s.io/kubernetes (its go.mod carries
# replace directives), so hack/controlplane/ is a small build-only module whose
# go.mod maps the staging modules to their published tags. A binary that
# exists and answers --version is not rebuilt.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module="$root/hack/controlplane"
k8s_version=$(go -C "$module" list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(go -C "$module" list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
out="$root/bin/k8s/$k8s_version"
mkdir -p "$out"

log() { echo "controlplane: $*" >&2; }

# The ldflags kube's own build sets, so `kube-apiserver --version` and the
# /version endpoint report the real release instead of v0.0.0-master.
minor=${k8s_version#v1.}; minor=${minor%%.*}
k8s_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

build() { # name ldflags
  local name=$1 ldflags=$2 bin="$out/$1"
  local probe=(--version)
  [[ $name == kubectl ]] && probe=(version --client)
  if [[ -x "$bin" ]] && "$bin" "${probe[@]}" >/dev/null 2>&1; then
    log "$name present in ${out#"$root"/}, not rebuilding"
    return
  fi
  log "building $name (k8s $k8s_version, etcd $etcd_version); a cold build takes several minutes"
  local start=$SECONDS
  go build -C "$module" -trimpath -ldflags "$ldflags" -o "$bin.tmp" "./$name"
  mv "$bin.tmp" "$bin"
  log "built $name in $((SECONDS - start))s"
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(etcd kube-apiserver kubectl)
for c in "${components[@]}"; do
  case "$c" in
    etcd) build etcd "-s -w" ;;
    kube-apiserver | kubectl | kube-controller-manager | kube-scheduler) build "$c" "$k8s_ldflags" ;;
    *) log "unknown component $c"; exit 2 ;;
  esac
done
echo "$out"
