"""Setting a ticket's priority over HTTP: who may, what is refused, and what follows (SLA policy, audit, event)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, RealtimeEvent, TicketSla
from tests.api.conftest import login
from tests.api.workday import assigned_ticket


def _updates(sessions: sessionmaker[Session], ticket_id: int) -> list[dict[str, Any]]:
    with sessions() as s:
        return [dict(e.data) for e in s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "ticket.updated")
                                                .order_by(RealtimeEvent.id)) if e.data.get("id") == ticket_id]


def _audited(sessions: sessionmaker[Session], ticket_id: int) -> list[dict[str, Any]]:
    with sessions() as s:
        return [dict(a.data) for a in s.scalars(select(AuditEntry).where(
            AuditEntry.entity_id == ticket_id, AuditEntry.action == "ticket.priority").order_by(AuditEntry.id))]


def test_the_agent_raises_the_priority_and_the_sla_policy_follows(client: FlaskClient, app: Flask,
                                                                  sessions: sessionmaker[Session],
                                                                  tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    policies = {}
    for name, priority, first in (("Default", None, 3600), ("Urgent", 2, 300)):
        created = client.post("/api/admin/sla-policies", headers=carla, json={
            "name": name, "priority": priority, "first_response_seconds": first, "resolution_seconds": 86400})
        assert created.status_code == 201, created.json
        policies[name] = created.json["id"]
    ticket_id, ana = assigned_ticket(client, app, sessions)
    with sessions() as s:
        assert s.get_one(TicketSla, ticket_id).policy_id == policies["Default"]
    before = client.get(f"/api/tickets/{ticket_id}", headers=ana).json
    assert before["priority"] == 0 and before["channel_kind"] == "whatsapp"

    resp = client.post(f"/api/tickets/{ticket_id}/priority", json={"priority": 2}, headers=ana)
    assert resp.status_code == 200 and resp.json["priority"] == 2
    with sessions() as s:
        assert s.get_one(TicketSla, ticket_id).policy_id == policies["Urgent"]
    after = client.get(f"/api/tickets/{ticket_id}", headers=ana).json
    assert after["first_response_due_at"] < before["first_response_due_at"]  # 5 minutes instead of an hour
    [event] = _updates(sessions, ticket_id)
    assert (event["priority"], event["channel_kind"]) == (2, "whatsapp")
    assert _audited(sessions, ticket_id) == [{"priority": 2, "previous": 0}]

    # The same priority again changes nothing: no event, no audit entry.
    assert client.post(f"/api/tickets/{ticket_id}/priority", json={"priority": 2}, headers=ana).status_code == 200
    assert len(_updates(sessions, ticket_id)) == 1 and len(_audited(sessions, ticket_id)) == 1

    # A supervisor may set any ticket's; back to normal, the default policy applies again.
    assert client.post(f"/api/tickets/{ticket_id}/priority", json={"priority": 0}, headers=carla).json[
        "priority"] == 0
    with sessions() as s:
        assert s.get_one(TicketSla, ticket_id).policy_id == policies["Default"]
    assert _audited(sessions, ticket_id)[-1] == {"priority": 0, "previous": 2}


def test_other_agents_bad_values_other_tenants_and_resolved_tickets_are_refused(
        client: FlaskClient, app: Flask, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id, ana = assigned_ticket(client, app, sessions)
    url = f"/api/tickets/{ticket_id}/priority"
    bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    resp = client.post(url, json={"priority": 1}, headers=bruno)
    assert (resp.status_code, resp.json["error"]["code"]) == (403, "forbidden")
    for bad in ({"priority": 4}, {"priority": -1}, {"priority": "high"}, {"priority": 1.5}, {"priority": None}, {}):
        resp = client.post(url, json=bad, headers=ana)
        assert resp.status_code == 422 and "priority" in resp.json["error"]["details"]["json"], bad
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    resp = client.post(url, json={"priority": 1}, headers=gina)
    assert (resp.status_code, resp.json["error"]["code"]) == (404, "not_found")
    assert client.post("/api/tickets/999999/priority", json={"priority": 1}, headers=ana).status_code == 404
    assert client.post(f"/api/tickets/{ticket_id}/resolve", headers=ana).status_code == 200
    resp = client.post(url, json={"priority": 1}, headers=ana)
    assert (resp.status_code, resp.json["error"]["code"]) == (409, "conflict")
    assert client.get(f"/api/tickets/{ticket_id}", headers=ana).json["priority"] == 0
    assert _audited(sessions, ticket_id) == []
    assert [e["priority"] for e in _updates(sessions, ticket_id)] == [0]  # only the resolve's
