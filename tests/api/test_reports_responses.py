"""GET /api/reports/responses, /responses/tickets and /volume: supervisors only, their tenant only, JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from models.infra.bus import RecordingBus
from tests.api.conftest import login
from tests.services.test_reports import MON, WED, Desk, a_week_of_ana

WINDOW = {"start": MON.isoformat(), "end": WED.isoformat()}


@pytest.fixture
def desk(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> Desk:
    return Desk(sessions, bus, tenants)


def test_a_supervisor_reads_figures_and_drills_down_to_the_tickets(client: FlaskClient, desk: Desk) -> None:
    ticket_id = a_week_of_ana(desk)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.get("/api/reports/responses", query_string={**WINDOW, "group": "agent"}, headers=carla)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (body["group"], body["bucket"], body["clock"]) == ("agent", "day", "business")
    first = [r for r in body["rows"] if r["metric"] == "first_response"]
    assert [(r["bucket"], r["group_name"], r["count"], r["p50"]) for r in first] == [
        ("2026-03-02", "Ana", 1, 1200.0), ("2026-03-03", "Ana", 1, 1800.0)]

    drill = client.get("/api/reports/responses/tickets", headers=carla, query_string={
        **WINDOW, "group": "agent", "metric": "resolution", "group_value": first[0]["group_value"],
        "bucket_value": "2026-03-03", "clock": "wall", "limit": 1})
    assert drill.status_code == 200, drill.json
    (span,) = drill.json["rows"]
    assert (span["ticket_id"], span["cycle"], span["seconds"]) == (ticket_id, 1, 90000.0)
    rest = client.get("/api/reports/responses/tickets", headers=carla, query_string={
        **WINDOW, "group": "agent", "metric": "resolution", "group_value": first[0]["group_value"],
        "bucket_value": "2026-03-03", "clock": "wall", "after": drill.json["next_after"]}).json
    assert [(s["cycle"], s["seconds"]) for s in rest["rows"]] == [(2, 3600.0)] and rest["next_after"] is None

    volume = client.get("/api/reports/volume", query_string=WINDOW, headers=carla).json
    assert [(r["bucket"], r["messages_in"], r["tickets_opened"], r["tickets_resolved"]) for r in volume["rows"]] == [
        ("2026-03-02", 5, 1, 0), ("2026-03-03", 2, 1, 2)]


def test_csv_by_accept_header_or_format(client: FlaskClient, desk: Desk) -> None:
    a_week_of_ana(desk)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    by_header = client.get("/api/reports/responses", query_string={**WINDOW, "bucket": "none"},
                           headers={**carla, "Accept": "text/csv"})
    by_format = client.get("/api/reports/responses", query_string={**WINDOW, "bucket": "none", "format": "csv"},
                           headers=carla)
    assert by_header.status_code == by_format.status_code == 200
    assert by_header.mimetype == "text/csv" and by_header.data == by_format.data
    rows = list(csv.DictReader(io.StringIO(by_header.get_data(as_text=True))))
    assert [(r["metric"], r["count"], r["unanswered"], r["p50"]) for r in rows] == [
        ("first_response", "2", "0", "1500.0"), ("next_response", "2", "1", "1500.0"),
        ("resolution", "2", "0", "18000.0")]
    spans = client.get("/api/reports/responses/tickets", headers={**carla, "Accept": "text/csv"},
                       query_string={**WINDOW, "metric": "next_response", "limit": 2})
    assert spans.mimetype == "text/csv" and spans.headers["X-Next-After"]
    assert len(list(csv.DictReader(io.StringIO(spans.get_data(as_text=True))))) == 2
    volume = client.get("/api/reports/volume", query_string={**WINDOW, "format": "csv"}, headers=carla)
    assert volume.get_data(as_text=True).splitlines()[0] == (
        "group_value,group_name,bucket,messages_in,messages_out,tickets_opened,tickets_resolved")


def test_another_tenant_and_agents_see_nothing(client: FlaskClient, desk: Desk, sessions: sessionmaker[Session],
                                               tenants: dict[str, Any]) -> None:
    a_week_of_ana(desk)
    from models import Role, User

    with sessions() as s, s.begin():
        s.get_one(User, tenants["users"]["gina"].id).role = Role.SUPERVISOR
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    ana = tenants["users"]["ana"].id
    for path, extra in (("/api/reports/responses", {}), ("/api/reports/volume", {}),
                        ("/api/reports/responses/tickets", {"metric": "resolution", "group_value": str(ana)})):
        resp = client.get(path, query_string={**WINDOW, "group": "agent", **extra}, headers=gina)
        assert resp.status_code == 200 and resp.json["rows"] == [], (path, resp.json)
    agent = login(client, "acme", "ana@acme.example", "pw-ana")
    for path in ("/api/reports/responses", "/api/reports/volume", "/api/reports/responses/tickets"):
        assert client.get(path, query_string=WINDOW).status_code == 401
        resp = client.get(path, query_string={**WINDOW, "metric": "resolution"}, headers=agent)
        assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize("query", [
    {},
    {"start": "2026-03-02T00:00:00Z"},
    {**WINDOW, "group": "colour"},
    {**WINDOW, "bucket": "week"},
    {**WINDOW, "clock": "moon"},
    {**WINDOW, "format": "xml"},
    {"start": WED.isoformat(), "end": MON.isoformat()},
    {"start": "2024-01-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
])
def test_bad_filters_are_422(client: FlaskClient, tenants: dict[str, Any], query: dict[str, str]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    for path in ("/api/reports/responses", "/api/reports/volume"):
        resp = client.get(path, query_string=query, headers=carla)
        assert resp.status_code == 422, (path, resp.json)
        assert set(resp.json["error"]) >= {"code", "message"}
    for extra in ({}, {"metric": "happiness"}, {"metric": "resolution", "limit": 5000},
                  {"metric": "resolution", "group": "agent", "group_value": "ana"},
                  {"metric": "resolution", "bucket": "hour", "bucket_value": "yesterday"},
                  {"metric": "resolution", "bucket": "day", "bucket_value": "yesterday"}):
        resp = client.get("/api/reports/responses/tickets", query_string={**WINDOW, **extra}, headers=carla)
        assert resp.status_code == 422, (extra, resp.json)


def test_the_endpoints_are_in_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    for path in ("/api/reports/responses", "/api/reports/responses/tickets", "/api/reports/volume"):
        op = doc["paths"][path]["get"]
        assert {p["name"] for p in op["parameters"]} >= {"start", "end", "group", "bucket", "clock", "format"}
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv"}
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].startswith(
            "#/components/schemas/")
    drill = doc["paths"]["/api/reports/responses/tickets"]["get"]
    assert {p["name"] for p in drill["parameters"]} >= {"metric", "group_value", "bucket_value", "after", "limit"}
