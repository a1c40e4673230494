# Two commands for a fresh machine: `make run` (the whole system) and `make test` (lint + tests).
VENV ?= .venv
PY ?= python3.11

# Installs come from the lock (requirements/*.txt: every package pinned, every file hashed), never from
# setup.cfg's ranges directly, so a fresh machine gets what CI tested, with the venv's own pip (23.x is enough).
$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(VENV)/.locked: requirements/dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install -q --require-hashes -r requirements/dev.txt
	touch $@

# The project itself adds no package (--no-deps); requirements/check.py then fails if setup.cfg asks for
# something the lock does not hold, i.e. setup.cfg was changed without `make lock`.
$(VENV)/.installed: $(VENV)/.locked setup.cfg pyproject.toml requirements/check.py
	$(VENV)/bin/pip install -q --no-deps -e .
	$(VENV)/bin/pip check
	$(VENV)/bin/python requirements/check.py
	touch $@

# The one way to change the lock: edit setup.cfg, then `make lock`. uv resolves for the platform CI and the
# image run on (CPython 3.11, Linux x86_64) whatever machine runs it, and keeps every pin it is not forced to
# move (`make lock UPGRADE=1` moves them all to the newest that setup.cfg allows, `make lock PACKAGE=flask`
# only that one). The runtime lock is resolved inside the dev lock, so the image runs the versions the tests ran.
LOCK_FLAGS = --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) $(if $(PACKAGE),--upgrade-package $(PACKAGE))
lock: $(VENV)/.locked
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) --extra dev -o requirements/dev.txt
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/main.txt

# The agent console and Swagger UI assets, from npm (no CDN at run time).
CONSOLE_SRC := $(shell find api/console/src api/console/scripts -type f) $(wildcard api/console/*.html api/console/*.ts api/console/*.json)
api/static/console/index.html: $(CONSOLE_SRC)
	npm ci --prefix api/console --no-audit --no-fund
	npm run build --prefix api/console

.PHONY: install run demo test lint console lock
install: $(VENV)/.installed api/static/console/index.html
console: api/static/console/index.html

# Migrates, then runs API + worker + beat on http://$(HOST):$(PORT) (`make run PORT=9000`). The embedded default
# (SQLite under ./var, in-process tasks, unless DATABASE_URL / REDIS_URL are set) loads the example tenant
# (ops/provision.example.json) first; the real mode never writes demo users into a real database unasked:
# `make demo` loads them there. Browsers and Socket.IO check PUBLIC_BASE_URL, so it follows the port.
HOST ?= 127.0.0.1
PORT ?= 8000
export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(VENV)/bin/atendimento migrate
ifeq ($(DATABASE_URL)$(REDIS_URL),)
	$(VENV)/bin/flask --app api provision ops/provision.example.json
else
	@echo "real mode: the example tenant (acme, a sandbox channel) is not loaded; 'make demo' loads it"
endif
	@echo "console: $(PUBLIC_BASE_URL)/console/ (tenant acme, ana@acme.example / change-me-ana);" \
	  "a customer: $(VENV)/bin/atendimento simulate --url $(PUBLIC_BASE_URL) --text 'Oi'"
	$(VENV)/bin/atendimento run --host $(HOST) --port $(PORT)

# The example tenant of ops/provision.example.json (idempotent), into whichever database is configured.
demo: install
	$(VENV)/bin/atendimento migrate
	$(VENV)/bin/flask --app api provision ops/provision.example.json

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# xdist workers: each gets its own PostgreSQL database and Redis database (TEST_REDIS_URL + N, at most 15).
# Two on this 2-core box: measured back to back, 164 s with 2 workers, 199 s with 4 (the CPU-bound tests, the
# schema fuzzing above all, starve); raise it on a machine with more cores.
TEST_WORKERS ?= 2
test: lint
	npm test --prefix api/console
	$(VENV)/bin/pytest -n $(TEST_WORKERS)
