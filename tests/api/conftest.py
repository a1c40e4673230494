"""The API under test: one app per run (per xdist worker), built from the run's `settings`.

A test that needs other settings builds its own with `create_app(settings.with_(...))` and closes it
(`app.extensions["atendimento.system"].close()`). API tests get real commits (tests/conftest.py): a request's
work is committed by the app on its own connections, and the tables are emptied after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.extensions import socketio
from models.infra.config import Settings
from tests.conftest import TestDatabase


@pytest.fixture(scope="session")
def shared_app(shared_settings: Settings) -> Iterator[Flask]:
    app = create_app(shared_settings)
    app.extensions["tests.socketio_server"] = socketio.server
    yield app
    app.extensions["atendimento.system"].close()


@pytest.fixture
def app(shared_app: Flask, _database: TestDatabase) -> Flask:
    """The run's app; its outbox marker is stopped and the tables emptied after each test (`_database`)."""
    # create_app binds the module-level SocketIO to the app it built last: after a test built its own app,
    # the shared one must emit through its own server again, not through that app's.
    socketio.server = shared_app.extensions["tests.socketio_server"]
    return shared_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, tenant: str, email: str, password: str) -> dict[str, str]:
    resp = client.post("/api/auth/login", json={"tenant": tenant, "email": email, "password": password})
    assert resp.status_code == 200, resp.json
    return {"Authorization": f"Bearer {resp.json['access_token']}"}
