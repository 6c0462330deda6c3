# syntax=docker/dockerfile:1
#
# The manager's image for Docker and Podman users: the same image as
# `make image` (hack/image) builds without either, and hack/image's tests
# hold the two together (base, user, entrypoint, labels, build flags, CA
# bundle). Multi-arch, cross-compiled on the build machine:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     -t ghcr.io/ambient-egress/ambient-egress-operator:v0.1.0 .
#   podman build --platform linux/amd64 --build-arg VERSION=0.1.0 -t ambient-egress-operator .

FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=0.1.0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Only what the manager and hack/image compile from (hack/image's tests check
# that this covers their packages), so bin/ and the rest stay out.
COPY apis/ apis/
COPY cmd/ cmd/
COPY config/ config/
COPY controllers/ controllers/
COPY simulator/ simulator/
COPY hack/image/ hack/image/
# The CA bundle: Mozilla's roots from golang.org/x/crypto/x509roots/fallback,
# pinned by go.sum, written by the same code as make image's.
RUN go run ./hack/image rootfs /out/rootfs
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOAMD64=v1 GOARM64=v8.0 \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/rootfs/manager ./cmd/manager

# No shell, no package manager, no libc: the static manager and the CA bundle.
FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
COPY --from=build /out/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/manager"]
LABEL org.opencontainers.image.title="ambient-egress-operator" \
      org.opencontainers.image.description="Runs Istio ambient-mode egress gateways and reports who can reach which external host, method and path." \
      org.opencontainers.image.source="https://github.com/ambient-egress/ambient-egress-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
