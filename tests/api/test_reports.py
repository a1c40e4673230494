"""GET /api/reports/sla: supervisors and admins only, their own tenant only, a validated [from, to) range."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from api import reports
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.services import sla
from tests.api.conftest import login
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    if "reports" not in app.blueprints:  # until api/__init__.py registers the blueprint itself
        from api.extensions import api

        api.register_blueprint(reports.blp)
    return app.test_client()


def window() -> dict[str, str]:
    now = utcnow()
    return {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}


def test_a_supervisor_gets_the_report_of_their_tenant_only(
        client: FlaskClient, sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    with sessions() as s, s.begin():
        sla.save_policy(s, tenants["users"]["carla"], {"name": "default", "first_response_seconds": 600}, utcnow())
    store(sessions, text_delivery("wamid.a1", sender="5511911111111"))
    store(sessions, text_delivery("wamid.a2", sender="5511922222222"))
    store(sessions, text_delivery("wamid.g1", sender="5511933333333", phone_number_id="999000111"))  # globex
    drain(sessions, bus)
    auth = login(client, "acme", "carla@acme.example", "pw-carla")

    resp = client.get("/api/reports/sla", query_string=window(), headers=auth)
    assert resp.status_code == 200, resp.json
    (row,) = resp.json["rows"]
    assert resp.json["group_by"] == "tenant" and row["name"] == "Acme"
    assert (row["opened"], row["resolved"]) == (2, 0)
    assert row["tickets_with_clock"]["first_response"] == 2 and row["breach_rate"]["first_response"] == 0.0
    assert row["first_response"] == {"count": 0, "p50": None, "p90": None}

    by_queue = client.get("/api/reports/sla", query_string={**window(), "group_by": "queue"}, headers=auth).json
    assert [(r["name"], r["opened"]) for r in by_queue["rows"]] == [("Support", 2)]
    by_agent = client.get("/api/reports/sla", query_string={**window(), "group_by": "agent"}, headers=auth).json
    assert [(r["key"], r["opened"]) for r in by_agent["rows"]] == [(None, 2)]  # nobody online: unassigned


def test_agents_and_strangers_are_refused(client: FlaskClient, tenants: dict[str, Any]) -> None:
    assert client.get("/api/reports/sla", query_string=window()).status_code == 401
    auth = login(client, "acme", "ana@acme.example", "pw-ana")
    resp = client.get("/api/reports/sla", query_string=window(), headers=auth)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize("query", [
    {},
    {"from": "2026-03-02T00:00:00Z"},
    {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
    {"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
    {"from": "2025-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
    {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "group_by": "channel"},
    {"from": "yesterday", "to": "2026-03-02T00:00:00Z"},
    {"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-02T00:00:00+14:00"},  # not even a UTC instant
])
def test_bad_ranges_are_422(client: FlaskClient, tenants: dict[str, Any], query: dict[str, str]) -> None:
    auth = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.get("/api/reports/sla", query_string=query, headers=auth)
    assert resp.status_code == 422, resp.json
    assert set(resp.json["error"]) >= {"code", "message"}


def test_a_range_without_offset_is_utc(client: FlaskClient, tenants: dict[str, Any]) -> None:
    auth = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.get("/api/reports/sla", query_string={"from": "2026-03-01T00:00:00", "to": "2026-03-02T00:00:00"},
                      headers=auth)
    assert resp.status_code == 200, resp.json
    assert resp.json["from"].startswith("2026-03-01T00:00:00") and resp.json["from"].endswith("+00:00")


def test_the_endpoint_is_in_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    assert "get" in doc["paths"]["/api/reports/sla"]
    assert {p["name"] for p in doc["paths"]["/api/reports/sla"]["get"]["parameters"]} >= {"from", "to", "group_by"}
