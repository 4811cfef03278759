# NotAlone — the two set-up commands on a fresh machine are `make up` and `make test`.
# Every target installs what it needs first; nothing relies on a hand-installed tool.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Root installs Debian packages directly; anyone else goes through sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := libsodium23
# The browser tests drive Debian's chromium through Playwright; never a downloaded browser.
BROWSER_PACKAGES := chromium
# The core-dump canary scan (tests/e2e) dumps the running servers with gdb's gcore.
TEST_PACKAGES := gdb
# The survivor's pages run the protocol in JavaScript (js/): npm installs it from the lock
# file, esbuild bundles it into the package's static files.
JS_STAMP   := js/node_modules/.installed
JS_BUNDLE  := src/notalone/web/static/js/notalone.js
JS_SOURCES := $(shell find js/src js/test js/build.mjs -type f 2>/dev/null)

.PHONY: help install system-deps node-deps browser-deps test-deps postgres test test-slow audit test-js lint typecheck up bench vectors lock clean

help:
	@echo "make up        install, then start NotAlone on embedded defaults"
	@echo "make test      install, then run the whole test suite (lint, types, tests)"
	@echo "make test-slow the fault-injection, fuzzing, canary and timing tests at full size"
	@echo "make bench     install, then run the benchmarks in bench/ (oprf, escrow, browser)"
	@echo "make vectors   regenerate the cross-language test vectors in vectors/"
	@echo "make lock      re-resolve requirements.lock from pyproject.toml (hashes pinned)"
	@echo "make audit     known vulnerabilities in the locked Python and npm packages (online)"

install: $(STAMP) $(JS_BUNDLE)

# Installs the Debian packages named in $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
endef

system-deps:
	$(call apt_install,$(SYSTEM_PACKAGES))

browser-deps:
	$(call apt_install,$(BROWSER_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_PACKAGES))

node-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "Installing Debian packages: nodejs npm"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs npm; }

$(JS_STAMP): js/package.json js/package-lock.json | node-deps
	cd js && npm ci --no-audit --no-fund
	touch $(JS_STAMP)

$(JS_BUNDLE): $(JS_STAMP) $(JS_SOURCES)
	cd js && node build.mjs

$(STAMP): requirements.lock pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	# --no-deps: the lock already lists every package; without it pip 23 re-resolves
	# extras such as pytest-cov's coverage[toml] against the index and fetches an unpinned
	# newer release, which --require-hashes then refuses. pip check proves it is complete.
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip check
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Storage tests run against the machine's PostgreSQL (127.0.0.1:5432, trust auth) as well
# as SQLite; start the cluster if it has stopped, and fail clearly if there is none.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL is not installed: the storage tests need it at 127.0.0.1:5432" >&2; exit 1; }; \
	  echo "Starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL did not come up at 127.0.0.1:5432" >&2; exit 1; }

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

# The core (errors, crypto, protocol) must keep 100 % branch coverage (style rule 12).
CORE_COVERAGE := --cov=notalone.errors --cov=notalone.crypto --cov=notalone.protocol \
	--cov-branch --cov-report=term-missing:skip-covered --cov-fail-under=100

# The JavaScript protocol against the Python-generated vectors, in node (Chromium: pytest).
test-js: install
	cd js && npm test

# Two workers: the slow tests (crash, power cuts, canaries, fuzzing, browser) mostly wait
# on processes, disks and browsers, so two of them share the machine well. --dist
# loadfile keeps a file's tests (and its module fixtures) on one worker.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

# Tests marked `timing` compare response times: they run after the others, alone.
# Tests marked `slow` run at a quick size here and at full size in `make test-slow`
# (tests/sizes.py), which CI runs after this.
test: install postgres browser-deps test-deps lint typecheck test-js
	NOTALONE_TEST_SIZE=quick $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  -m "not timing" $(CORE_COVERAGE) $(PYTEST_ARGS)
	NOTALONE_TEST_SIZE=quick $(BIN)/python -m pytest -m timing $(PYTEST_ARGS)

# The figures docs/threat-model.md quotes: 10,000 fuzzed requests, 50 SIGKILLs, 40 power
# cuts, 1,000 canaries of each kind, 10,000 timed requests (about 15 minutes here).
test-slow: install postgres browser-deps test-deps
	NOTALONE_TEST_SIZE=full $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	  -m "slow and not timing" -rP $(PYTEST_ARGS)
	NOTALONE_TEST_SIZE=full $(BIN)/python -m pytest -m "slow and timing" -rP $(PYTEST_ARGS)

up: install
	$(BIN)/notalone up

bench: install browser-deps
	$(BIN)/python bench/oprf.py
	$(BIN)/python bench/escrow.py
	$(BIN)/python bench/browser.py

vectors: install
	$(BIN)/notalone vectors --out vectors

# Known vulnerabilities in the pinned packages: pip-audit looks up each package of
# requirements.lock at its pinned version (PyPI's JSON API), npm audit those of
# js/package-lock.json (the npm registry's audit endpoint); high or critical fails.
# --strict makes a package that could not be looked up fail the run instead of passing
# unchecked. Both services must be reachable: from this project's CI machines they are
# not (SECURITY.md, "Supply chain").
audit: install
	$(BIN)/pip-audit --strict --disable-pip --require-hashes -r requirements.lock
	cd js && npm audit --audit-level=high

# pip itself stays the venv's own (pip-audit asks for it): a lock that pinned pip would
# have pip replace itself halfway through installing the lock.
lock: install
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes \
	  --python-version 3.11 --universal --no-emit-package pip -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov js/node_modules \
	  src/notalone/web/static/js build/js-test
