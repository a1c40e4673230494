# Two commands for a fresh machine: `make run` (the whole system) and `make test` (lint + tests).
VENV ?= .venv
PY ?= python3.11

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

.PHONY: install run test lint
install: $(VENV)/.installed

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
	$(VENV)/bin/pytest
