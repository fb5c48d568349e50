# AutoIndex — two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: install run test lint typecheck migrations-check pytest bench bench-scale services stop clean flower

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the pinned requirements change.
$(STAMP): requirements/base.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

# Front-end libraries (package.json + package-lock.json) into node_modules/, served from our
# static files (config/settings/base.py STATICFILES_DIRS); without npm everything but the admin
# charts runs, and this says so.
NPM_STAMP := node_modules/.installed
$(NPM_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $(NPM_STAMP); \
	else \
		echo "npm not found: the admin charts are off (install Node.js + npm, then make install)"; \
	fi

install: $(STAMP) $(NPM_STAMP)

services: install  ## start (or reuse) the embedded PostgreSQL and Redis when the URLs are unset
	$(BIN)/python -m core.embedded up

stop:  ## stop the embedded servers (data in .data/ is kept)
	$(BIN)/python -m core.embedded down

# The Procfile's `fake` process is the offline TwelveData (port TWELVEDATA_FAKE_PORT, 8765) that
# local settings point at; its `banner` process ensures the demo admin and, once the web answers
# at WEB_BIND, prints the admin and API docs URLs and the login below the start-up output.
run: services  ## migrate, load demo data, then web + stream + worker + beat + fake API until Ctrl-C
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py ensure_partitions --years-ahead 1
	$(BIN)/python manage.py load_demo_data
	$(BIN)/python manage.py compute_index autoindex --unless-published
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Flower (Celery workers and tasks; Prometheus series at /metrics) for a running `make run`,
# on loopback only (docs/operations-monitoring.md).
FLOWER_PORT ?= 5555
flower: install  ## Flower on http://127.0.0.1:$(FLOWER_PORT) against the local broker
	$(BIN)/celery -A config flower --address=127.0.0.1 --port=$(FLOWER_PORT)

lint: install  ## ruff (lint + format) and the import contracts (layers, pure engine)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/mypy .

migrations-check: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# The coverage floor (pyproject `fail_under`) holds for the whole suite, not for a subset run.
COVERAGE_FLOOR := $(if $(PYTEST_ARGS),--cov-fail-under=0,)

pytest: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest --cov --cov-report=term:skip-covered $(COVERAGE_FLOOR) $(PYTEST_ARGS)

test: lint typecheck migrations-check pytest  ## everything CI runs

bench: install  ## benchmarks: one JSON object per line
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m bench

# Slow (minutes): grows a benchmark database's prices to >= 25 M rows, then times one asset's
# year of closes through the API (docs/performance.md).
bench-scale: install  ## the prices read over >= 25 M price rows, one JSON object per line
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
