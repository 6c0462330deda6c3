# ambient-egress-operator — run `make help` for the targets.

# Image the bundle and config/manager refer to.
VERSION ?= 0.1.0
IMG ?= ghcr.io/ambient-egress/ambient-egress-operator:v$(VERSION)
# The OLM bundle and catalog images of a release.
BUNDLE_IMG ?= ghcr.io/ambient-egress/ambient-egress-operator-bundle:v$(VERSION)
CATALOG_IMG ?= ghcr.io/ambient-egress/ambient-egress-operator-catalog:v$(VERSION)

# Tools are built from the Go module proxy at pinned versions, never
# downloaded as binaries.
GOLANGCI_LINT_VERSION ?= v2.15.0
TOOLS_BIN := $(CURDIR)/bin/tools
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
CONTROLLER_GEN := go tool controller-gen

LDFLAGS := -X main.version=$(VERSION)

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: demo
demo: ## Run the seed scenario end to end on a local cluster and print its report (DEMO_CLUSTER=auto|plain|full).
	VERSION=$(VERSION) hack/demo.sh

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and the RBAC role from the code's markers, and copy the Istio CRDs egressctl validates against.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="{./apis/...,./controllers/...}" output:crd:artifacts:config=config/crd/bases
	go run ./hack/istiocrds

.PHONY: generate
generate: ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./apis/..."

.PHONY: fmt
fmt: ## Format the code with gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet on every package.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with the checked-in .golangci.yml.
	# Another golangci-lint on the machine (an editor, a second checkout)
	# holds a machine-wide lock; wait for it instead of failing.
	$(GOLANGCI_LINT) run --allow-serial-runners ./...

.PHONY: bundle
bundle: manifests ## Regenerate the OLM bundle in bundle/ from config/ (VERSION=x.y.z IMG=...).
	go run ./hack/bundle -version $(VERSION) -image $(IMG)

.PHONY: tidy
tidy: ## Tidy go.mod and go.sum.
	go mod tidy

.PHONY: verify
verify: ## Regenerate everything (tidy, manifests, generate, bundle) and fail if a generated file changed.
	@hack/verify-clean.sh snapshot
	$(MAKE) --no-print-directory tidy manifests generate bundle
	@hack/verify-clean.sh check

##@ Test

.PHONY: controlplane
controlplane: ## Build kube-apiserver, etcd and kubectl from Go modules into bin/k8s/ (skipped when present).
	@hack/controlplane.sh >/dev/null

.PHONY: test
test: verify vet lint check-imports integration fuzz demo-check scorecard e2e olm dataplane ## Run every check and test: generated files up to date, vet, lint, import rules, unit and envtest integration tests, each fuzz target briefly, the demo against its documented transcript, the bundle's scorecard tests, then the end-to-end suite, the install and upgrade through the real OLM, and the NetworkPolicy data-plane test.

.PHONY: demo-check
demo-check: ## Run the demo on etcd + kube-apiserver and compare its transcript with docs/demo-transcript.txt.
	@mkdir -p bin/demo
	DEMO_CLUSTER=plain VERSION=$(VERSION) hack/demo.sh >bin/demo/demo-check.log 2>&1 || { tail -n 40 bin/demo/demo-check.log; exit 1; }
	EGRESS_DEMO_TRANSCRIPT=$(CURDIR)/bin/demo/transcript.txt go test -count=1 -v -run 'TestTranscript$$' ./hack/demo

.PHONY: integration
integration: ## Run the unit and envtest integration tests (a real kube-apiserver and etcd, and Debian's prometheus, installed when missing).
	@hack/prometheus.sh
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh | tail -n 1)" go test -count=1 ./...

.PHONY: e2e
e2e: ## Run the end-to-end suite on a local cluster (kwok nodes + real istiod), then tear it down.
	hack/e2e.sh

.PHONY: olm
olm: ## Install, upgrade and uninstall the operator through the real OLM on a local cluster (builds OLM and opm once), then tear it down.
	hack/olm.sh e2e

.PHONY: scorecard
scorecard: ## Run the bundle's six scorecard tests with operator-sdk's scorecard-test (built once; needs root for chroot).
	hack/scorecard.sh

.PHONY: dataplane
dataplane: ## Run the real NetworkPolicy data-plane test (kube-router in network namespaces; needs root).
	hack/dataplane.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s; their seed corpora also run in every go test).
	hack/fuzz.sh

.PHONY: check-imports
check-imports: ## Fail if simulator/ imports controller-runtime, Helm, client-go REST or the operator.
	@hack/check-simulator-imports.sh

.PHONY: bench
bench: ## Run the benchmarks with memory statistics.
	go test -run '^$$' -bench . -benchmem ./...

##@ Build

.PHONY: build
build: ## Build the manager and egressctl into bin/.
	go build -ldflags "$(LDFLAGS)" -o bin/manager ./cmd/manager
	go build -ldflags "$(LDFLAGS)" -o bin/egressctl ./cmd/egressctl

.PHONY: image
image: ## Build the manager's image without Docker (linux/amd64+arm64, reproducible): bin/image/oci/ (OCI layout) and bin/image/manager.tar (docker load).
	go run ./hack/image build -version $(VERSION) -image $(IMG) -out bin/image

.PHONY: bundle-image
bundle-image: ## Build the bundle image from bundle/ (its bundle.Dockerfile) into bin/bundle-image/ (OCI layout).
	go run ./hack/image bundle -dir bundle -image $(BUNDLE_IMG) -out bin/bundle-image

.PHONY: release
release: ## Build a release into bin/release/: the manager image, the bundle pinned to its digest, the bundle and catalog images.
	VERSION=$(VERSION) IMG=$(IMG) BUNDLE_IMG=$(BUNDLE_IMG) CATALOG_IMG=$(CATALOG_IMG) hack/release.sh

.PHONY: push-release
push-release: ## Push what `make release` built to IMG, BUNDLE_IMG and CATALOG_IMG, in that order.
	go run ./hack/image push -layout bin/release/manager-image/oci -image $(IMG)
	go run ./hack/image push -layout bin/release/bundle-image -image $(BUNDLE_IMG)
	go run ./hack/image push -layout bin/release/catalog-image -image $(CATALOG_IMG)

.PHONY: push
push: image ## Push the image index built by `make image` to IMG (credentials from ~/.docker/config.json or its helpers).
	go run ./hack/image push -layout bin/image/oci -image $(IMG)

.PHONY: run
run: manifests ## Run the manager against the cluster in the current kubeconfig.
	go run -ldflags "$(LDFLAGS)" ./cmd/manager --leader-elect=false --metrics-bind-address=127.0.0.1:8443 --health-probe-bind-address=127.0.0.1:8081

$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS_BIN)
	@echo "building golangci-lint $(GOLANGCI_LINT_VERSION) from the Go module proxy (a few minutes, once)"
	GOBIN=$(TOOLS_BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS_BIN)/golangci-lint $(GOLANGCI_LINT)
