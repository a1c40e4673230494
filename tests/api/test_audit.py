"""The audit log for supervisors: filters by ticket, user, action and time, keyset pages, the tenant's only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry
from models.org import Role
from tests.api.conftest import login
from tests.api.workday import assigned_ticket

URL = "/api/admin/audit"


def test_supervisors_read_the_audit_log_with_filters_and_pages(client: FlaskClient, app: Flask,
                                                               sessions: sessionmaker[Session],
                                                               tenants: dict[str, Any]) -> None:
    ticket_id, ana = assigned_ticket(client, app, sessions)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    label = client.post("/api/labels", json={"name": "vip"}, headers=carla).json
    client.post(f"/api/tickets/{ticket_id}/labels/{label['id']}", headers=ana)
    client.post(f"/api/tickets/{ticket_id}/pending", headers=ana)
    client.post(f"/api/tickets/{ticket_id}/resume", headers=ana)
    client.post("/api/canned-responses", json={"code": "ola", "body": "Olá"}, headers=ana)
    assert client.get(URL, headers=ana).status_code == 403
    everything = client.get(URL, headers=carla).json["items"]
    actions = [e["action"] for e in everything]
    assert actions[:5] == ["canned_response.created", "ticket.resumed", "ticket.pending", "ticket.labels_changed",
                           "label.created"]  # newest first
    assert "ticket.assigned" in actions
    about = client.get(f"{URL}?ticket_id={ticket_id}", headers=carla).json["items"]
    assert {e["entity_id"] for e in about} == {ticket_id} and {e["entity"] for e in about} == {"ticket"}
    by_ana = client.get(f"{URL}?user_id={tenants['users']['ana'].id}", headers=carla).json["items"]
    assert [e["action"] for e in by_ana] == ["canned_response.created", "ticket.resumed", "ticket.pending",
                                             "ticket.labels_changed", "agent.status"]
    exact = client.get(f"{URL}?action=ticket.pending", headers=carla).json["items"]
    assert [e["action"] for e in exact] == ["ticket.pending"] and exact[0]["actor_id"] == tenants["users"]["ana"].id
    prefixed = client.get(f"{URL}?action=ticket.*&user_id={tenants['users']['ana'].id}", headers=carla).json
    assert [e["action"] for e in prefixed["items"]] == ["ticket.resumed", "ticket.pending", "ticket.labels_changed"]
    assert client.get(f"{URL}?action=ticket%25", headers=carla).json["items"] == []  # a wildcard is literal
    # Pages: keyset, no repeats, no gaps, also when new entries arrive meanwhile.
    seen, cursor = [], ""
    while True:
        page = client.get(f"{URL}?limit=2{cursor}", headers=carla).json
        seen += [e["id"] for e in page["items"]]
        if len(seen) == 2:
            client.post(f"/api/tickets/{ticket_id}/pending", headers=ana)  # newer than the first page
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [e["id"] for e in everything]
    assert client.get(f"{URL}?cursor=nonsense", headers=carla).status_code == 422


def test_time_range_and_bad_ranges(client: FlaskClient, sessions: sessionmaker[Session],
                                   tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    base = datetime(2026, 11, 30, 12, tzinfo=UTC)
    acme = tenants["users"]["carla"].tenant_id
    with sessions() as s, s.begin():
        for hours in range(5):
            s.add(AuditEntry(tenant_id=acme, actor_id=None, action="ticket.woken", entity="ticket", entity_id=1,
                             data={}, created_at=base + timedelta(hours=hours)))
    since = quote((base + timedelta(hours=1)).isoformat())
    until = quote((base + timedelta(hours=3)).astimezone(datetime.now().astimezone().tzinfo).isoformat())
    got = client.get(f"{URL}?from={since}&to={until}", headers=carla).json["items"]
    assert [e["at"] for e in got] == [(base + timedelta(hours=h)).isoformat() for h in (2, 1)]
    backwards = client.get(f"{URL}?from={until}&to={since}", headers=carla)
    assert backwards.status_code == 422 and backwards.json["error"]["details"]["field"] == "from"
    naive = client.get(f"{URL}?from=2026-11-30T12:00:00", headers=carla)
    assert naive.status_code == 422 and "from" in naive.json["error"]["details"]["query"]


def test_another_tenants_supervisor_sees_none_of_it(client: FlaskClient, sessions: sessionmaker[Session],
                                                    tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    client.post("/api/labels", json={"name": "vip"}, headers=carla)
    with sessions() as s, s.begin():
        s.get_one(type(tenants["users"]["gina"]), tenants["users"]["gina"].id).role = Role.SUPERVISOR
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get(URL, headers=gina).json["items"] == []
    assert client.get(f"{URL}?user_id={tenants['users']['carla'].id}", headers=gina).json["items"] == []
