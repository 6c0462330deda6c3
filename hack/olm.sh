#!/usr/bin/env bash
# hack/olm.sh tools|catalog|up|down|e2e — the real Operator Lifecycle Manager
# on the local cluster of hack/cluster, to install and upgrade this operator
# the way our users do.
#
#   tools          build olm, catalog and opm (hack/olm/go.mod) into
#                  bin/olm/<version>/ and print that directory
#   catalog DIR BUNDLE_DIR[=IMAGE]...
#                  write a file-based catalog (FBC) of the bundles into DIR,
#                  each replacing the one before, validated by opm
#   up             start OLM (its CRDs, the olm and catalog operators) and
#                  the test catalog's image on 127.0.0.1; the cluster must be up
#   down           stop what `up` started (by PID)
#   e2e            cluster up without the EgressGateway CRD (OLM installs it),
#                  OLM up, the OLM end-to-end suite, everything down again
#
# Both OLM operators run out of the cluster with the cluster's kubeconfig, as
# they would in their Deployments; the catalog image, built from the FBC and
# run in a chroot, stands for the CatalogSource's registry Pod, so the
# CatalogSource points at its address and no registry is needed. kwok runs
# the Pods OLM creates without running their images, so the suite runs the
# manager itself, with the ServiceAccount OLM made.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

module="$root/hack/olm"
OLM_VERSION=$(go -C "$module" list -m -f '{{.Version}}' github.com/operator-framework/operator-lifecycle-manager)
tools="$root/bin/olm/$OLM_VERSION"
state="$root/bin/e2e/state/olm"
kubeconfig="$root/bin/e2e/kubeconfig"
# The catalog's gRPC address, as a CatalogSource's spec.address names it:
# the catalog image's `opm serve` on its default port.
CATALOG_ADDR=127.0.0.1:50051
CATALOG_IMG=${CATALOG_IMG:-ghcr.io/ambient-egress/ambient-egress-operator-catalog:e2e}
# NEXT_VERSION is the second bundle the catalog publishes, replacing bundle/'s.
NEXT_VERSION=${NEXT_VERSION:-0.2.0}

log() { echo "olm: $*" >&2; }

build_tools() {
  local start=$SECONDS built=()
  mkdir -p "$tools"
  for cmd in olm catalog; do
    [[ -x "$tools/$cmd" ]] && continue
    log "building $cmd (OLM $OLM_VERSION; cold: several minutes)"
    go build -C "$module" -trimpath -ldflags "-s -w" -o "$tools/$cmd.tmp" \
      "github.com/operator-framework/operator-lifecycle-manager/cmd/$cmd"
    mv "$tools/$cmd.tmp" "$tools/$cmd"; built+=("$cmd")
  done
  if [[ ! -x "$tools/opm" ]]; then
    # opm's own build: static, SQLite's JSON1 and no gpgme.
    log "building opm (operator-registry $(go -C "$module" list -m -f '{{.Version}}' github.com/operator-framework/operator-registry))"
    CGO_ENABLED=0 go build -C "$module" -trimpath -ldflags "-s -w" -tags json1,containers_image_openpgp \
      -o "$tools/opm.tmp" github.com/operator-framework/operator-registry/cmd/opm
    mv "$tools/opm.tmp" "$tools/opm"; built+=(opm)
  fi
  [[ ${#built[@]} -eq 0 ]] || log "built ${built[*]} in $((SECONDS - start))s"
  echo "$tools"
}

# catalog writes an FBC for the package into DIR from bundle directories,
# oldest first, each replacing the one before it on the bundle's default
# channel. A directory given as DIR=IMAGE names its bundle image, which OLM
# pulls when it needs the bundle's content (opm leaves it empty for a
# directory).
catalog() { # dir bundle[=image]...
  local out=$1 opm="$tools/opm"; shift
  local pkg channel
  pkg=$(sed -n 's/.*operators.operatorframework.io.bundle.package.v1: //p' bundle/metadata/annotations.yaml)
  channel=$(sed -n 's/.*operators.operatorframework.io.bundle.channel.default.v1: //p' bundle/metadata/annotations.yaml)
  rm -rf "$out"; mkdir -p "$out/$pkg"
  local fbc="$out/$pkg/catalog.yaml" entries="" prev="" names=()
  "$opm" init "$pkg" --default-channel "$channel" --output yaml >"$fbc"
  for b in "$@"; do
    local dir=${b%%=*} image="" name
    [[ $b == *=* ]] && image=${b#*=}
    name=$(sed -n 's/^  name: //p' "$dir"/manifests/*.clusterserviceversion.yaml | head -n 1)
    if [[ -n $image ]]; then
      "$opm" render "$dir" --output yaml | sed "s|^image: \"\"\$|image: $image|" >>"$fbc"
    else
      "$opm" render "$dir" --output yaml >>"$fbc"
    fi
    entries+="- name: $name"$'\n'
    [[ -z $prev ]] || entries+="  replaces: $prev"$'\n'
    prev=$name; names+=("$name")
  done
  printf -- '---\nschema: olm.channel\npackage: %s\nname: %s\nentries:\n%s' "$pkg" "$channel" "$entries" >>"$fbc"
  "$opm" validate "$out"
  log "catalog of ${names[*]} on $channel: $fbc"
}

# test_catalog is the catalog the end-to-end suite installs from: bundle/ as
# committed and the next version generated from this tree, replacing it.
test_catalog() { # dir
  local next_dir image
  next_dir=$(mktemp -d)
  image=$(sed -n 's/^ *containerImage: //p' bundle/manifests/*.clusterserviceversion.yaml)
  go run ./hack/bundle -version "$NEXT_VERSION" -image "${image%:*}:v$NEXT_VERSION" -out "$next_dir/bundle" >/dev/null
  catalog "$1" "$root/bundle" "$next_dir/bundle"
  rm -rf "$next_dir"
}

kubectl() { "$k8s/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# serve_catalog_image builds the catalog image from the FBC (hack/image
# catalog: opm, /configs and opm's cache) and runs it as a container runtime
# would run the CatalogSource's registry Pod: its filesystem unpacked, its
# entrypoint and command as its user in a chroot, with the /etc/hosts a
# runtime mounts. The image's command serves on opm's default port, 50051.
serve_catalog_image() {
  local root_dir="$state/catalog-root"
  go run ./hack/image catalog -configs "$state/catalog" -opm "$tools/opm" \
    -image "$CATALOG_IMG" -out "$state/catalog-image" >/dev/null 2>"$state/catalog-image.log" ||
    { cat "$state/catalog-image.log" >&2; return 1; }
  rm -rf "$root_dir"
  local config user entrypoint cmd
  config=$(go run ./hack/image unpack -layout "$state/catalog-image" -out "$root_dir")
  user=$(sed -n 's/^user=//p' <<<"$config")
  entrypoint=$(sed -n 's/^entrypoint=//p' <<<"$config")
  cmd=$(sed -n 's/^cmd=//p' <<<"$config")
  mkdir -p "$root_dir/etc"
  echo "127.0.0.1 localhost" >"$root_dir/etc/hosts"
  log "serving the catalog image on $CATALOG_ADDR: $entrypoint $cmd (user $user)"
  # shellcheck disable=SC2086 # the image's argv, split as the runtime would
  start opm chroot --userspec "$user:$user" "$root_dir" $entrypoint $cmd
}

# start runs a command in the background with its log and PID under $state.
start() { # name command...
  local name=$1; shift
  "$@" >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

up() {
  [[ -f "$kubeconfig" ]] || { log "no cluster: run hack/cluster up first"; return 1; }
  [[ ! -f "$state/olm.pid" ]] || { log "already up (run 'hack/olm.sh down' first)"; return 1; }
  k8s=$(hack/controlplane.sh | tail -n 1)
  build_tools >/dev/null
  mkdir -p "$state"
  local olm_module
  olm_module=$(go -C "$module" list -m -f '{{.Dir}}' github.com/operator-framework/operator-lifecycle-manager)
  log "installing OLM's CRDs"
  kubectl apply --server-side -f "$olm_module/deploy/chart/crds" >/dev/null
  kubectl wait --for condition=Established crd --all --timeout 60s >/dev/null
  for ns in olm operators; do
    kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  done
  # Both operators serve metrics on :8443 with a certificate and :8080
  # without; istiod holds 127.0.0.1:8080, so each gets a certificate. The
  # second to bind :8443 logs that the port is taken and carries on: the
  # metrics endpoint is the only thing it serves there.
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=olm.localhost \
    -keyout "$state/tls.key" -out "$state/tls.crt" 2>/dev/null
  log "starting the olm and catalog operators"
  KUBECONFIG="$kubeconfig" start olm "$tools/olm" --namespace olm --writeStatusName "" \
    --tls-cert "$state/tls.crt" --tls-key "$state/tls.key"
  start catalog "$tools/catalog" --kubeconfig "$kubeconfig" --namespace olm --writeStatusName "" \
    --tls-cert "$state/tls.crt" --tls-key "$state/tls.key"
  test_catalog "$state/catalog"
  serve_catalog_image
  local deadline=$((SECONDS + 120))
  until (exec 3<>"/dev/tcp/${CATALOG_ADDR%:*}/${CATALOG_ADDR##*:}") 2>/dev/null; do
    for p in olm catalog opm; do
      kill -0 "$(cat "$state/$p.pid")" 2>/dev/null ||
        { log "$p exited; its log:"; tail -n 20 "$state/$p.log" >&2; return 1; }
    done
    ((SECONDS < deadline)) || { log "the catalog is not serving after 120s ($state/opm.log)"; return 1; }
    sleep 0.5
  done
  log "up: CatalogSource address $CATALOG_ADDR"
}

down() {
  for p in opm catalog olm; do
    [[ -f "$state/$p.pid" ]] || continue
    local pid; pid=$(cat "$state/$p.pid")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $p (pid $pid)"
      kill "$pid"; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$p.pid"
  done
}

leftovers() { pgrep -a -f "^($root/bin/|/tmp/egress-manager-olm-|/bin/opm serve /configs)" || true; }

e2e() {
  teardown() {
    local code=$?
    down || code=1
    hack/cluster down || code=1
    local left; left=$(leftovers)
    if [[ -n "$left" ]]; then
      log "processes still running after teardown:"; echo "$left" >&2; code=1
    else
      log "teardown left no process running"
    fi
    exit "$code"
  }
  trap teardown EXIT
  trap 'exit 130' INT TERM
  build_tools >/dev/null
  local start=$SECONDS
  EGRESS_CRD=false hack/cluster up
  up
  log "cluster and OLM up in $((SECONDS - start))s; running the suite"
  CATALOG_ADDR="$CATALOG_ADDR" go test -tags olm -count=1 -timeout 20m -v ./controllers/e2e/olm/ "$@"
}

case "${1:-}" in
  tools) build_tools ;;
  catalog) [[ $# -ge 3 ]] || { echo "usage: hack/olm.sh catalog DIR BUNDLE_DIR[=IMAGE]..." >&2; exit 2; }
    shift; build_tools >/dev/null; catalog "$@" ;;
  up) up ;;
  down) down ;;
  e2e) shift; e2e "$@" ;;
  *) echo "usage: hack/olm.sh tools|catalog DIR BUNDLE_DIR[=IMAGE]...|up|down|e2e" >&2; exit 2 ;;
esac
