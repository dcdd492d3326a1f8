# signbridge: one Makefile for people and for `sam build` (BuildMethod: makefile, ContextPath: .).
#
#   make test       create .venv, install, npm ci, run lint, types and every test (what CI runs)
#   make dev        run the whole system locally on MiniStack with the provider fakes (no Docker)
#   make demo       the whole journey against the running local stack
#   make dev-stop   stop the local stack and the fakes
#   make build      sam build for AWS (python3.13, arm64)
#   make validate   sam validate --lint
#   make openapi    regenerate openapi.json from the models
#   make bench      benchmarks (figures printed, see docs/benchmarks.md)
#   make sam-local  every function through `sam local invoke` (Docker, else Podman), checked
#   make start-api  `sam local start-api` on 127.0.0.1:3000 with the same engine, stack and fakes
#   make test-fast  unit, handler, tools, fakes and fuzz suites (no DynamoDB Local, no stack)
#   make soak       the delivery model and the fault suite at soak size (long)
#   make sam-events regenerate tests/fixtures/sam_generated/ with `sam local generate-event`

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

# The layer ships bytecode compiled by the interpreter that will run it (/opt is read-only, so
# without it every cold start compiles pydantic, Powertools and signbridge from source):
# CPython 3.13 for AWS, this machine's python3 for the local stack. `unchecked-hash` pycs are
# used as they are, without comparing them to the source's mtime (which a zip does not keep).
# CPython 3.13: `apt-get install python3.13` (Debian trixie, Ubuntu 24.10+), or pyenv.
ifeq ($(LAYER_TARGET),aws)
LAYER_PYTHON ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { command -v "$$p"; break; }; done)
else
LAYER_PYTHON ?= $(PYTHON)
endif

# Library files that read their own source at run time: they keep it (see below).
KEEP_SOURCE := anyio/__init__.py|anyio/abc/__init__.py

build-SharedLayer:
	@[ -n "$(LAYER_PYTHON)" ] || { echo "build-SharedLayer: no CPython 3.13 found to compile the layer's bytecode;" \
		"install python3.13 (apt-get install python3.13 on Debian trixie, or pyenv) or set LAYER_PYTHON=" >&2; exit 1; }
	$(PYTHON) -m pip install --quiet --no-compile --no-deps --disable-pip-version-check $(PIP_PLATFORM) \
		-r $(ROOT)/layers/shared/requirements.txt --target "$(ARTIFACTS_DIR)/python"
	cp -R $(ROOT)/layers/shared/signbridge "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -type d -prune -exec rm -rf {} +
	# What signbridge never reads: pycountry's translation catalogues (22 MB; names are looked up
	# in English) and its language and script databases (it reads ISO 3166 only), the test suites
	# packages ship, Powertools' Swagger UI assets (no function serves Swagger UI) and the
	# Powertools utilities no function imports (idempotency, data masking, feature flags, streaming,
	# Kafka, circuit breaker, auth, JSON Schema validation), pydantic's v1 compatibility copy
	# (nothing imports pydantic.v1), C sources of compiled extensions and type stubs.
	rm -rf "$(ARTIFACTS_DIR)/python/pycountry/locales" "$(ARTIFACTS_DIR)/python/pydantic/v1" \
		"$(ARTIFACTS_DIR)/python/aws_lambda_powertools/event_handler/openapi/swagger_ui/"swagger-ui*
	rm -rf "$(ARTIFACTS_DIR)"/python/aws_lambda_powertools/utilities/{idempotency,data_masking,feature_flags,streaming,kafka,circuit_breaker,auth_alpha,validation}
	rm -f "$(ARTIFACTS_DIR)"/python/pycountry/databases/{iso639-3,iso639-5,iso15924,iso4217}.json
	find "$(ARTIFACTS_DIR)/python" -mindepth 2 -maxdepth 2 -type d -name tests -prune -exec rm -rf {} +
	find "$(ARTIFACTS_DIR)/python" \( -name '*.c' -o -name '*.pyi' \) -type f -delete
	# Libraries ship as bytecode only (a .pyc where each .py was: half the bytes, and nothing to
	# stat), so their frames in a traceback show file and line but not the line's text;
	# signbridge keeps its source beside its bytecode, so its frames read in full. So do anyio's
	# two package __init__ files: anyio reads their source to decide what to import lazily, and
	# without it imports all 39 of its modules up front (44 ms instead of 8 on a first request).
	$(LAYER_PYTHON) -m compileall -q -j 0 -b -x '/python/(signbridge/|$(KEEP_SOURCE))' "$(ARTIFACTS_DIR)/python"
	find "$(ARTIFACTS_DIR)/python" -name '*.py' -type f ! -path '*/python/signbridge/*' \
		$(foreach f,$(subst |, ,$(KEEP_SOURCE)),! -path '*/python/$(f)') -delete
	$(LAYER_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python/signbridge" \
		$(foreach f,$(subst |, ,$(KEEP_SOURCE)),"$(ARTIFACTS_DIR)/python/$(f)")

# make runs these in a copy of the function's CodeUri folder.
build-ProductsFunction build-WebhooksFunction build-OrdersFunction build-OutboxFunction build-ForwarderFunction build-SweeperFunction:
	cp app.py "$(ARTIFACTS_DIR)/"

# ---------------------------------------------------------------- developer targets
.PHONY: venv test test-fast soak lint unit dev dev-stop demo build validate openapi bench clean

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

# The suites that need neither DynamoDB Local nor a running stack, two workers: the quick loop.
FAST_SUITES := tests/unit tests/handlers tests/tools tests/fakes tests/fuzz
test-fast: venv
	bash local/stack.sh venvs
	$(VENV)/bin/pytest -n 2 -m "not dynamodb_local and not e2e and not samlocal" $(FAST_SUITES)

# Long runs, by hand or nightly: the model-based delivery test with many steps, then the fault suite.
soak: venv node_modules/.installed
	SIGNBRIDGE_MODEL_STEPS=50000 $(VENV)/bin/pytest tests/integration/test_delivery_model.py -s
	FAULT_ORDERS=5000 $(VENV)/bin/pytest tests/integration/test_fault_injection.py -s

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
.PHONY: sam-local start-api sam-events
sam-local: venv
	bash local/sam-local.sh

# `sam local start-api` on 127.0.0.1:$(SAMLOCAL_API_PORT) (default 3000) until Ctrl-C, each request
# answered by its function in a container; prints the URLs and a signed curl. See docs/sam.md.
start-api: venv
	bash local/sam-local.sh start-api

# AWS's own event shapes for tests/unit/test_generated_events.py.
sam-events:
	bash local/sam-generated-events.sh

clean:
	rm -rf .aws-sam .local
