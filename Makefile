# PolyBot: two commands matter. `make up` sets everything up and starts the stack on the local
# venue; `make test` runs the whole suite (lint, types, import layers, tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp

.PHONY: setup system up down test lint typecheck pytest frontend-test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The Vue dashboard, built into frontend/dist (served by the API at /ui).
FRONTEND_STAMP := frontend/dist/index.html
$(FRONTEND_STAMP): $(wildcard frontend/package.json frontend/package-lock.json) $(shell find frontend/src -type f 2>/dev/null)
	if [ -f frontend/package.json ]; then \
	  npm ci --prefix frontend --no-audit --no-fund --loglevel=error && \
	  npm run build --prefix frontend; \
	fi

setup: $(STAMP) $(if $(wildcard frontend/package.json),$(FRONTEND_STAMP))

system:
	./scripts/setup-system.sh

up: setup
	$(BIN)/polybot up

down: setup
	$(BIN)/polybot down

lint: setup
	$(BIN)/ruff check $(wildcard polybot services tests bench scripts)
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

pytest: setup system  # the browser tests drive Debian chromium
	$(BIN)/pytest

frontend-test: setup
	if [ -f frontend/package.json ]; then npm test --prefix frontend; fi

test: lint typecheck pytest frontend-test

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
