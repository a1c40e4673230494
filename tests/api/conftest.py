from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from models.infra.config import Settings
from tests.conftest import truncate_all


@pytest.fixture
def app(settings: Settings, engine: Any) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["atendimento.engine"].dispose()
    truncate_all(engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, tenant: str, email: str, password: str) -> dict[str, str]:
    resp = client.post("/api/auth/login", json={"tenant": tenant, "email": email, "password": password})
    assert resp.status_code == 200, resp.json
    return {"Authorization": f"Bearer {resp.json['access_token']}"}
