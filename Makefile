# Ferroflux developer entry points. `make help` lists them.
#
# Caches live outside the clone so a fresh clone on a warm machine reuses them:
# FERROFLUX_CACHE holds the built control plane, the reference binaries and
# (unless CARGO_TARGET_DIR is set) the cargo target directory.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export FERROFLUX_CACHE ?= $(HOME)/.cache/ferroflux
export CARGO_TARGET_DIR ?= $(FERROFLUX_CACHE)/target
CARGO ?= cargo

.PHONY: help demo deps fmt lint crds verify build test e2e soak testenv fuzz bench-source bench-mttp bench-mttp-helm bench-kustomize bench-notify bench-helm bench-helmrepo bench-oci

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

demo: deps ## The sample app (an overlay and a Helm chart) delivered from git by the four controllers on a local control plane; Ctrl-C stops it
	$(CARGO) build --locked --bins -p ferroflux-e2e -p ferroflux-cli -p ferroflux-source-controller \
		-p ferroflux-kustomize-controller -p ferroflux-helm-controller -p ferroflux-notification-controller
	$(CARGO_TARGET_DIR)/debug/ferroflux-demo

deps: ## Install apt packages, build the test control plane, fetch kubectl/helm, install s3s-fs (cached)
	bash scripts/install-deps.sh all

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

crds: deps ## Regenerate crds/ from crates/api, the chart's copy and the CLI's install manifest
	$(CARGO) run --quiet --locked -p ferroflux-crdgen -- crds
	cp crds/*_*.yaml charts/ferroflux/crds/
	bash scripts/render-install.sh

verify: ## Fail when generated files (crds/) are stale
	$(CARGO) run --quiet --locked -p ferroflux-crdgen -- --check crds

build: ## Build every crate
	$(CARGO) build --workspace --all-targets --locked

test: deps lint verify ## Everything CI runs: deps, lint, generated-file checks, all tests
	$(CARGO) test --workspace --locked

e2e: deps ## The end-to-end suite alone (e2e/; make test runs it too)
	$(CARGO) build --locked --bins -p ferroflux-source-controller -p ferroflux-kustomize-controller \
		-p ferroflux-helm-controller -p ferroflux-notification-controller -p ferroflux-cli
	$(CARGO) test --locked -p ferroflux-e2e

soak: deps ## Fault injection: kills, API-server restarts, a git outage under commits; SOAK_* settings (see e2e/README.md)
	$(CARGO) build --locked --bins -p ferroflux-source-controller -p ferroflux-kustomize-controller \
		-p ferroflux-helm-controller -p ferroflux-notification-controller -p ferroflux-e2e
	$(CARGO_TARGET_DIR)/debug/ferroflux-soak

fuzz: ## Fuzz each parser taking tenant input: FUZZ_RUNS (a million) executions each, FUZZ_SECONDS (900) at most (docs/fuzzing.md)
	bash scripts/fuzz.sh

testenv: deps ## Start a test control plane by hand and print its kubeconfig
	$(CARGO) run --quiet --locked -p ferroflux-testenv

bench-source: deps ## Benchmark the source-controller against git + tar (release build; see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-source-controller --bins --examples
	$(CARGO_TARGET_DIR)/release/examples/bench_source

bench-helmrepo: deps ## A HelmRepository with a 20,000-version index and 50 HelmCharts: time, source-controller peak RSS, requests per unchanged refetch (see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-source-controller --bins --example bench_helmrepo
	$(CARGO_TARGET_DIR)/release/examples/bench_helmrepo

bench-oci: deps ## Time until 100/500/1000 OCIRepositories are Ready against a local registry, and peak RSS (see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-source-controller --bins --examples
	$(CARGO_TARGET_DIR)/release/examples/bench_oci

bench-kustomize: deps ## Benchmark ferroflux-kustomize against kubectl kustomize (release build; see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-kustomize --bins
	python3 scripts/bench-kustomize.py

bench-helm: deps ## Benchmark ferroflux-helm against helm template on the shared corpus (release build; see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-helm --bins
	python3 scripts/bench-helm.py

bench-mttp: deps ## Time until 100/500/1000 Kustomizations are Ready, against a bare client (see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-source-controller -p ferroflux-kustomize-controller --bins --examples
	$(CARGO_TARGET_DIR)/release/examples/bench_mttp

bench-mttp-helm: deps ## Time until 100/500/1000 HelmReleases of one chart are Ready, against a bare client; RSS of both controllers (see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-source-controller -p ferroflux-helm-controller --bins --example bench_mttp_helm
	$(CARGO_TARGET_DIR)/release/examples/bench_mttp_helm

bench-notify: deps ## Events at 500/s for 60 s through the notification-controller: loss, latency, RSS (see docs/benchmarks.md)
	$(CARGO) build --release --locked -p ferroflux-notification-controller --bins --examples
	$(CARGO_TARGET_DIR)/release/examples/bench_notify
