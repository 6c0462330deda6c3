#!/usr/bin/env bash
# make release: the three images of a release, each pinned to the one it
# names by digest, as OCI layouts under bin/release/ (make push-release
# pushes them):
#
#   manager-image/  the manager (hack/image build), for IMG
#   bundle/         the bundle for VERSION whose CSV runs the manager by digest
#                   (IMG's repository @ the index digest) and lists it in
#                   spec.relatedImages
#   bundle-image/   that bundle as an image (hack/image bundle), for BUNDLE_IMG
#   catalog/        the file-based catalog of that bundle, naming the bundle
#                   image by digest, validated by opm
#   catalog-image/  the catalog served by opm (hack/image catalog), for CATALOG_IMG
#
# A digest is known before any push (it is the content's), so nothing here
# needs a registry; the release is reproducible from the commit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
: "${VERSION:?}" "${IMG:?}" "${BUNDLE_IMG:?}" "${CATALOG_IMG:?}"
out=${RELEASE_DIR:-bin/release}

# repository strips the tag, not a registry's port.
repository() { local last=${1##*/}; [[ $last == *:* ]] && echo "${1%:*}" || echo "$1"; }

rm -rf "$out"; mkdir -p "$out"
digest=$(go run ./hack/image build -version "$VERSION" -image "$IMG" -out "$out/manager-image" | tail -n 1)
go run ./hack/bundle -version "$VERSION" -image "$(repository "$IMG")@$digest" -out "$out/bundle"
bundle_digest=$(go run ./hack/image bundle -dir "$out/bundle" -image "$BUNDLE_IMG" -out "$out/bundle-image" | tail -n 1)
opm=$(hack/olm.sh tools)/opm
hack/olm.sh catalog "$out/catalog" "$out/bundle=$(repository "$BUNDLE_IMG")@$bundle_digest"
catalog_digest=$(go run ./hack/image catalog -configs "$out/catalog" -opm "$opm" -image "$CATALOG_IMG" -out "$out/catalog-image" | tail -n 1)
cat <<EOF2
release $VERSION in $out:
  $IMG  $digest
  $BUNDLE_IMG  $bundle_digest
  $CATALOG_IMG  $catalog_digest
EOF2
