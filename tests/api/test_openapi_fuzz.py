"""Schemathesis against our own OpenAPI document: generated requests (valid and not) to every operation, as a
signed-in supervisor, on the real database. No 5xx, and every response matches the documented schema.
Bounded and deterministic: a few examples per operation, derandomized (the same examples on every run, no
example database carried between runs), so CI does not pass or fail by luck. The classes of input it once found
by luck (a NUL in a login field, JSON nested past the parser's limit) are explicit cases in test_bad_input.py,
over every operation of the same document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api import create_app
from models.infra.config import Settings
from tests.api.conftest import login
from tests.conftest import truncate_all


@pytest.fixture(scope="module")
def fuzz_app(database_url: str, redis_url: str, engine: Any, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Flask, dict[str, str]]]:
    from sqlalchemy.orm import sessionmaker  # noqa: F401

    from models.infra.bus import RecordingBus
    from models.infra.db import make_session_factory
    from models.services.accounts import provision
    from tests.conftest import TENANTS

    cfg = Settings.from_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                             "SECRET_KEY": "fuzz-secret-of-at-least-32-characters-long",
                             "DATA_DIR": str(tmp_path_factory.mktemp("fuzz")), "RATELIMIT_DEFAULT": "100000/minute",
                             "WHATSAPP_GRAPH_BASE_URL": "http://127.0.0.1:9"})
    sessions = make_session_factory(engine, RecordingBus())
    with sessions() as s, s.begin():
        provision(s, TENANTS)
    app = create_app(cfg)
    headers = login(app.test_client(), "acme", "carla@acme.example", "pw-carla")
    yield app, headers
    app.extensions["atendimento.engine"].dispose()
    truncate_all(engine)


@pytest.fixture(scope="module")
def api_schema(fuzz_app: tuple[Flask, dict[str, str]]) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app[0])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: Any, fuzz_app: tuple[Flask, dict[str, str]]) -> None:
    case.call_and_validate(headers=fuzz_app[1], checks=[not_a_server_error, response_schema_conformance])
