# Two commands for a fresh machine: `make run` (the whole system) and `make test` (lint + tests).
VENV ?= .venv
PY ?= python3.11

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The agent console and Swagger UI assets, from npm (no CDN at run time).
CONSOLE_SRC := $(shell find api/console/src api/console/scripts -type f) $(wildcard api/console/*.html api/console/*.ts api/console/*.json)
api/static/console/index.html: $(CONSOLE_SRC)
	npm ci --prefix api/console --no-audit --no-fund
	npm run build --prefix api/console

.PHONY: install run test lint console
install: $(VENV)/.installed api/static/console/index.html
console: api/static/console/index.html

# Migrates, loads the example tenant (ops/provision.example.json), then runs API + worker + beat.
# Embedded default (SQLite under ./var, in-process tasks) unless DATABASE_URL / REDIS_URL are set.
run: install
	$(VENV)/bin/atendimento migrate
	$(VENV)/bin/flask --app api provision ops/provision.example.json
	$(VENV)/bin/atendimento run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: lint
	npm test --prefix api/console
	$(VENV)/bin/pytest
