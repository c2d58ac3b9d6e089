# consent-service: the two commands of the README's Quick start are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint typecheck format serve migrate clean browser-deps pg-client-deps assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The design system (DKFDS, pinned in package-lock.json) is installed with npm and its built
# files are copied into the static folder; nothing of it is committed.
ASSETS := consent_service/web/static/dkfds/.built
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf consent_service/web/static/dkfds
	mkdir -p consent_service/web/static/dkfds/css consent_service/web/static/dkfds/js consent_service/web/static/dkfds/img
	cp node_modules/dkfds/dist/css/dkfds.min.css consent_service/web/static/dkfds/css/
	cp node_modules/dkfds/dist/js/dkfds.min.js consent_service/web/static/dkfds/js/
	cp -r node_modules/dkfds/dist/img/. consent_service/web/static/dkfds/img/
	cp -r node_modules/dkfds/dist/fonts consent_service/web/static/dkfds/fonts
	cp node_modules/dkfds/LICENSE.md consent_service/web/static/dkfds/LICENSE.md
	touch $@

assets: $(ASSETS)

# Install, make keys (once), migrate, create the first administrator (once), then serve on
# :8000 with the worker beside it (`consent-service run`; Ctrl-C stops both). In production
# run `consent-service serve` and `consent-service worker` separately (README).
run: $(STAMP) $(ASSETS)
	$(BIN)/consent-service generate-keys
	$(BIN)/consent-service migrate
	$(BIN)/consent-service bootstrap-admin
	$(BIN)/consent-service run

# Headless Chromium for the browser tests comes from Debian, never a browser download.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing and cannot be installed here: browser tests will be skipped (they fail under CI=true)"; \
	  fi; \
	fi

# pg_dump and pg_restore (`consent-service backup`/`restore` on PostgreSQL) come from Debian's
# postgresql-client.
pg-client-deps:
	@if ! command -v pg_dump >/dev/null 2>&1 || ! command -v pg_restore >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's postgresql-client for the backup tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null; \
	  else \
	    echo "pg_dump/pg_restore are missing and cannot be installed here: PostgreSQL backup tests will be skipped (they fail under CI=true)"; \
	  fi; \
	fi

lint: $(TSTAMP)
	$(BIN)/ruff check consent_service tests bench audit
	$(BIN)/ruff format --check consent_service tests bench audit
	$(BIN)/mypy

# Install the test dependencies, then lint, type-check and run the whole suite in
# TEST_WORKERS processes (pytest-xdist; each has its own databases and browser), printing
# the 30 slowest tests. An idle process takes queued tests from the busy one (worksteal).
TEST_WORKERS ?= 2
test: $(TSTAMP) $(ASSETS) browser-deps pg-client-deps lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=30

format: $(TSTAMP)
	$(BIN)/ruff format consent_service tests bench audit
	$(BIN)/ruff check --fix consent_service tests bench audit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
