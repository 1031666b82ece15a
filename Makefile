# Loket -- developer entry points.
#
#   make test [PYTEST_ARGS=...]   whole suite, on SQLite and on a throwaway PostgreSQL
#   make run  [SERVE_ARGS=...]    serve the local store (var/loket.sqlite) on 127.0.0.1:8000
#   make demo [SERVE_ARGS=...]    serve a store filled with the reference demo data
#   make bench [BENCH_ARGS=...]   scripts/bench.py against a throwaway PostgreSQL
#   make soak  [SOAK_ARGS=...]    the long reliability runs; figures into docs/reliability.md
#   make clean                    remove .venv, var/ and caches
#
# The virtualenv (.venv) is created on first use and reinstalled whenever
# pyproject.toml changes.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
SERVE_ARGS  ?=
BENCH_ARGS  ?=
SOAK_ARGS   ?=
DEMO_DATA   := var/demo.jsonl
DEMO_DB     := var/demo.sqlite
DEMO_STORE  := sqlite:///$(CURDIR)/$(DEMO_DB)

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PRECIOUS: $(CHROMIUM)
.PHONY: help venv $(VENV) run test demo bench soak clean

help:
	@sed -n 's/^#   make/  make/p' $(firstword $(MAKEFILE_LIST))

# --- virtualenv ----------------------------------------------------------------
venv $(VENV): $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# --- run -----------------------------------------------------------------------
run: $(STAMP)
	$(BIN)/loket serve $(SERVE_ARGS)

# --- test ----------------------------------------------------------------------
# The browser tests drive Debian's Chromium; it is installed when missing (as root, or with sudo).
CHROMIUM    := /usr/bin/chromium
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test: $(STAMP) $(CHROMIUM)
	bash scripts/with-postgres $(BIN)/python -m pytest -q $(PYTEST_ARGS)

$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium \
	  || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

# --- demo ----------------------------------------------------------------------
# The reference data is generated once; the demo store (var/demo.sqlite plus its
# side files such as .keys) is rebuilt from it when missing or older than the
# data, so `make demo` twice does not import twice. Delete var/demo.sqlite to
# start over. The import must succeed outright (exit 0): the data is clean.
demo: $(STAMP) $(DEMO_DB)
	LOKET_STORE=$(DEMO_STORE) $(BIN)/loket serve $(SERVE_ARGS)

$(DEMO_DATA): | $(STAMP)
	mkdir -p $(@D)
	$(BIN)/loket demo-data --out $@

$(DEMO_DB): $(DEMO_DATA) | $(STAMP)
	rm -f $@ $@-* $@.*
	LOKET_STORE=$(DEMO_STORE) $(BIN)/loket import $(DEMO_DATA) || { rm -f $@ $@-* $@.*; exit 1; }

# --- bench ---------------------------------------------------------------------
bench: $(STAMP) $(VENV)/.bench
	bash scripts/with-postgres $(BIN)/python scripts/bench.py $(BENCH_ARGS)

$(VENV)/.bench: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# --- soak ----------------------------------------------------------------------
# kill -9 of imports and servers, store faults, schemathesis and hostile files at length (15-30 min).
soak: $(STAMP)
	bash scripts/with-postgres $(BIN)/python scripts/soak.py $(SOAK_ARGS)

# --- clean ---------------------------------------------------------------------
clean:
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache
	find . -name .git -prune -o -type d -name __pycache__ -exec rm -rf {} +
