# CRIER — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
INSTALLED := $(VENV)/.installed

.PHONY: help install prepare run serve dev test test-fast browser lint migrate superuser clean-data

help:
	@echo "make run        set everything up and serve CRIER on http://$(HOST):$(PORT) with a worker"
	@echo "make dev        the same with Django's development server, reloading on code changes"
	@echo "make test       run the whole test suite (SQLite unless DATABASE_URL is set)"
	@echo "make test-fast  the suite without the browser (e2e) tests"
	@echo "make browser    install Chromium for the e2e tests (apt-get, as root)"
	@echo "make lint       ruff + OpenAPI schema validation"
	@echo "make superuser  create an admin account"

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(PY) manage.py migrate --noinput

# Everything the app needs before it serves: schema (and the cache table), static files, the
# offline encoder, the example corpus.
prepare: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py encoder prepare --selectable
	$(PY) manage.py seed_example_corpus

# Serves the app through gunicorn (CRIER_WEB_WORKERS × CRIER_WEB_THREADS) and a django-q worker
# together, as the two production services do; Ctrl-C stops both.
run: prepare serve

serve:
	@echo "CRIER on http://$(HOST):$(PORT)/ — Ctrl-C stops the server and the worker."
	@$(PY) manage.py qcluster & worker=$$!; \
	CRIER_BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn -c crier_site/gunicorn_conf.py \
	  crier_site.wsgi & server=$$!; \
	trap 'kill -TERM $$server $$worker 2>/dev/null; wait $$server $$worker' INT TERM; \
	wait -n $$server $$worker; \
	kill -TERM $$server $$worker 2>/dev/null; wait $$server $$worker

# Development: runserver reloads on code changes (DEBUG on), with a worker; Ctrl-C stops both.
dev: prepare
	@echo "CRIER (development) on http://$(HOST):$(PORT)/ — Ctrl-C stops the server and the worker."
	@$(PY) manage.py qcluster & worker=$$!; \
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT) & server=$$!; \
	trap 'kill -TERM $$server $$worker 2>/dev/null; wait $$server $$worker' INT TERM; \
	wait -n $$server $$worker; \
	kill -TERM $$server $$worker 2>/dev/null; wait $$server $$worker

test: install browser
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not e2e"

# The e2e tests drive Debian's Chromium through Playwright (Playwright's own download is not used).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends chromium; \
	else \
	  echo "The browser (e2e) tests need Chromium: sudo apt-get install -y chromium" >&2; \
	fi

# ruff, and the OpenAPI schema must generate and validate without a single warning.
lint: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py spectacular --validate --fail-on-warn > /dev/null

superuser: migrate
	$(PY) manage.py createsuperuser
