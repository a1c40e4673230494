# Two commands for a fresh machine: `make run` (the whole system) and `make test` (lint + tests).
VENV ?= .venv
PY ?= python3.11

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The agent console and Swagger UI assets, from npm (no CDN at run time).
api/static/console/index.html: api/console/package-lock.json api/console/*.js api/console/*.mjs api/console/*.html api/console/*.css
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

# xdist workers: each gets its own PostgreSQL database and Redis database (TEST_REDIS_URL + N, at most 15).
# Two on this 2-core box: measured back to back, 164 s with 2 workers, 199 s with 4 (the CPU-bound tests, the
# schema fuzzing above all, starve); raise it on a machine with more cores.
TEST_WORKERS ?= 2
test: lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS)
