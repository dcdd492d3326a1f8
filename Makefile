# signbridge: one Makefile for people and for `sam build` (BuildMethod: makefile, ContextPath: .).
#
#   make test       create .venv, install, npm ci, run lint, types and every test (what CI runs)
#   make dev        run the whole system locally on MiniStack with the provider fakes (no Docker)
#   make demo       the whole journey against the running local stack
#   make dev-stop   stop the local stack and the fakes
#   make build      sam build for AWS (python3.13, arm64)
#   make validate   sam validate --lint
#   make openapi    regenerate openapi.json from the models
#   make bench      benchmarks (figures printed, see README)
#   make sam-local  every function through `sam local invoke` (Docker, else Podman), checked

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV := $(ROOT)/.venv
VPY := $(VENV)/bin/python
SAM := $(ROOT)/.venv-sam/bin/sam

# ---------------------------------------------------------------- sam build targets
# LAYER_TARGET=aws (default): wheels for Lambda (CPython 3.13) on LAYER_ARCH, the template's
#   Architecture parameter: arm64 (default) or x86_64 (`make sam-local` on an x86_64 machine).
# LAYER_TARGET=local: wheels for this machine's python3, which MiniStack runs handlers with.
LAYER_TARGET ?= aws
LAYER_ARCH ?= arm64
ifeq ($(LAYER_TARGET),aws)
PIP_PLATFORM := --platform manylinux2014_$(if $(filter x86_64,$(LAYER_ARCH)),x86_64,aarch64) --implementation cp --python-version 3.13 --only-binary=:all:
endif

build-SharedLayer:
	$(PYTHON) -m pip install --quiet --no-compile --no-deps --disable-pip-version-check $(PIP_PLATFORM) \
		-r $(ROOT)/layers/shared/requirements.txt --target "$(ARTIFACTS_DIR)/python"
	cp -R $(ROOT)/layers/shared/signbridge "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -type d -prune -exec rm -rf {} +

# make runs these in a copy of the function's CodeUri folder.
build-ProductsFunction build-WebhooksFunction build-OrdersFunction build-OutboxFunction build-ForwarderFunction:
	cp app.py "$(ARTIFACTS_DIR)/"

# ---------------------------------------------------------------- developer targets
.PHONY: venv test lint unit dev dev-stop demo build validate openapi bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	for f in functions/*/app.py; do $(VENV)/bin/mypy --follow-imports=silent $$f || exit 1; done
	$(VPY) -m signbridge_tools.openapi --check
	bash local/stack.sh venvs
	$(SAM) validate --lint

# Unit, handler and integration suites in parallel; then the end-to-end suite, serially (its tests
# share the running stack and its fakes), which skips when no `make dev` stack is running.
test: venv node_modules/.installed lint
	$(VENV)/bin/pytest -n 2 -m "not e2e"
	$(VENV)/bin/pytest -m e2e

dev: venv
	bash local/dev.sh up

demo: venv
	$(VPY) -m signbridge_tools.demo

dev-stop:
	bash local/dev.sh down

build: venv
	bash local/stack.sh venvs
	$(SAM) build --parallel

validate:
	bash local/stack.sh venvs
	$(SAM) validate --lint

openapi: venv
	$(VPY) -m signbridge_tools.openapi --output openapi.json

bench: venv node_modules/.installed
	$(VPY) -m benchmarks

# Every function through `sam local invoke` (Docker, else Podman provisioned here), against the
# local stack on MINISTACK_PORT (started if needed); SAMLOCAL_ARCH=arm64 runs the Lambda architecture under qemu.
.PHONY: sam-local
sam-local: venv
	bash local/sam-local.sh

clean:
	rm -rf .aws-sam .local
