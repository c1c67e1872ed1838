# sncguard: the targets operator users expect. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CLUSTER_DIR ?= .cluster
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## create .venv with sncguard and the test tools (idempotent)

binaries: ## build (or reuse) the pinned Kubernetes and etcd binaries, and the linters of deploy/
	bash hack/cluster/build.sh >/dev/null
	-bash hack/tools.sh >/dev/null  # a tool the registries do not serve is noted, and its tests say so

crds: $(STAMP) ## regenerate crds/ from the pydantic models
	$(BIN)/sncguard crds --write crds

i18n: $(STAMP) ## extract the messages into locale/sncguard.pot, merge them into each catalogue, compile them
	$(BIN)/python hack/i18n.py

lint: $(STAMP) ## ruff and the import-layer contracts
	$(BIN)/ruff check operator tests hack
	cd operator && ../$(BIN)/lint-imports --config ../pyproject.toml

unit: $(STAMP) binaries ## the fast tests: rules, plans, models, loader, CLI
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

test: $(STAMP) binaries ## every test: lint, unit, and integration on the real local control plane
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest tests -q -ra $(PYTEST_ARGS)

test-e2e: $(STAMP) binaries ## only the integration tests
	$(BIN)/pytest tests/integration -q -ra $(PYTEST_ARGS)

SEEDS ?= 10
test-differential: $(STAMP) binaries ## the operator against `sncguard check` on SEEDS random worlds (default 10)
	SNCGUARD_DIFF_SEEDS=$$(seq -s, 1 $(SEEDS)) $(BIN)/pytest tests/integration/test_differential.py -q -ra $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP) binaries ## the property-based tests, FUZZ_EXAMPLES examples each (10000: ~2 h; `make test`: 300 and 60)
	SNCGUARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/unit/test_fuzz_check.py tests/integration/test_fuzz_api.py \
		-q -ra --timeout=0 --hypothesis-show-statistics $(PYTEST_ARGS)

cluster-up: $(STAMP) ## start the local control plane; then: source $(CLUSTER_DIR)/env
	$(BIN)/python hack/cluster/localcluster.py up --dir $(CLUSTER_DIR) --name sncguard-demo

cluster-down: $(STAMP) ## stop the local control plane and everything demo started on it
	-@test -f $(CLUSTER_DIR)/operator.pid && kill $$(cat $(CLUSTER_DIR)/operator.pid) 2>/dev/null; rm -f $(CLUSTER_DIR)/operator.pid
	$(BIN)/python hack/cluster/localcluster.py down --dir $(CLUSTER_DIR)

install-crds: $(STAMP) ## apply crds/ to the current KUBECONFIG
	kubectl apply --server-side -f crds/

run: $(STAMP) ## run the operator against the current KUBECONFIG
	$(BIN)/sncguard run

demo: $(STAMP) binaries ## the main job: cluster, CRDs, operator, examples, status
	bash hack/demo.sh $(CLUSTER_DIR)

image: ## build the operator image (podman or docker)
	$${CONTAINER_TOOL:-podman} build -f Containerfile -t sncguard:latest .

argocd: $(STAMP) ## regenerate the argocd-cm patches from argocd/health/*/health.lua
	$(BIN)/python argocd/render_cm_patch.py --write

kind-up: ## for users with Docker: a kind cluster with three workers in three zones
	kind create cluster --name sncguard --config hack/kind.yaml
	kubectl apply --server-side -f crds/

bench: $(STAMP) binaries ## the benchmark on its own local control plane (~15 min): bench/results.json; BENCH_ARGS=--help
	$(BIN)/python hack/bench/run.py $(BENCH_ARGS)

# 10x the default: 2,000 namespaces in 200 tenants, 20,000 Deployments, 40,000 pods, 240 nodes, 4,200 policies,
# 10,000 Velero Backups; growth from bench/results.json in its `scaling` block. A 120 s quiet window, not 300.
BENCH_SCALE_ARGS ?=
bench-scale: $(STAMP) binaries ## the benchmark at 10x the default size (~40 min): bench/results-10x.json, with growth exponents
	$(BIN)/python hack/bench/run.py --namespaces 2000 --tenants 200 --nodes-per-zone 80 --backups-per-namespace 5 \
		--workers 8 --quiet-seconds 120 --baseline-rss --scale-from bench/results.json \
		--output bench/results-10x.json $(BENCH_SCALE_ARGS)

clean: cluster-down ## stop everything and remove local state
	rm -rf $(CLUSTER_DIR)

.PHONY: help install binaries crds i18n lint unit test test-e2e test-differential fuzz cluster-up cluster-down install-crds run demo kind-up bench bench-scale clean image argocd
