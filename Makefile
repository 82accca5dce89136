# ekiden developer tasks. Every install step is guarded by a stamp file, so a second
# `make test` installs nothing and goes straight to the checks.
#
#   make run [ARGS="--port 0"]   install the package and run `ekiden serve`
#   make test                    install everything, then lint, type-check and run tests/
#   make lint | fmt | typecheck | clean

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
QUERY_VENV := .venv-query
JS_DIR := tests/js
PIP := --quiet --disable-pip-version-check --no-input
NPM := --no-audit --no-fund --loglevel=error

# The last boto3/botocore that send SQS requests as Query/XML (1.31.x and later use JSON).
QUERY_PINS := boto3==1.26.165 botocore==1.29.165

VENV_PY := $(VENV)/bin/python
QUERY_PY := $(QUERY_VENV)/bin/python
RUN_STAMP := $(VENV)/.ekiden-run.stamp
DEV_STAMP := $(VENV)/.ekiden-dev.stamp
QUERY_STAMP := $(QUERY_VENV)/.ekiden-query.stamp
JS_STAMP := $(JS_DIR)/node_modules/.ekiden.stamp

.PHONY: run test install install-dev install-query install-js lint fmt typecheck clean

run: $(RUN_STAMP)
	$(VENV)/bin/ekiden serve $(ARGS)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV_PY) -m pytest -n 2 tests/

install: install-dev install-query install-js
install-dev: $(DEV_STAMP)
install-query: $(QUERY_STAMP)
install-js: $(JS_STAMP)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

# --clear: the interpreter is missing or its link is broken, so the venv is unusable;
# rebuilding it also drops the stamps inside it, which forces a reinstall.
$(VENV_PY):
	$(PYTHON) -m venv --clear $(VENV)

$(QUERY_PY):
	$(PYTHON) -m venv --clear $(QUERY_VENV)

$(RUN_STAMP): pyproject.toml | $(VENV_PY)
	$(VENV_PY) -m pip install $(PIP) -e .
	touch $@

# The dev extras include everything `run` needs.
$(DEV_STAMP): pyproject.toml | $(VENV_PY)
	$(VENV_PY) -m pip install $(PIP) -e '.[dev]'
	touch $@ $(RUN_STAMP)

# Depends on this Makefile because QUERY_PINS lives here.
$(QUERY_STAMP): Makefile | $(QUERY_PY)
	$(QUERY_PY) -m pip install $(PIP) $(QUERY_PINS)
	touch $@

$(JS_STAMP): $(JS_DIR)/package.json $(wildcard $(JS_DIR)/package-lock.json)
	cd $(JS_DIR) && if [ -f package-lock.json ]; then npm ci $(NPM); else npm install $(NPM); fi
	touch $@

clean:
	rm -rf $(VENV) $(QUERY_VENV) $(JS_DIR)/node_modules
	rm -rf .mypy_cache .ruff_cache .pytest_cache build dist src/*.egg-info
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
