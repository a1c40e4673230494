"""Pending and snooze over HTTP: SLA clocks pause, bad times are refused precisely, a customer reply resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, RealtimeEvent, SlaPause
from tests.api.conftest import login
from tests.api.workday import assigned_ticket, customer_writes


def changes(sessions: sessionmaker[Session], ticket_id: int) -> list[str]:
    with sessions() as s:
        return [e.data["change"] for e in s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "ticket.updated")
                                                    .order_by(RealtimeEvent.id))
                if e.data.get("id") == ticket_id and "change" in e.data]


def test_pending_pauses_the_clocks_until_the_customer_replies(client: FlaskClient, app: Flask,
                                                              sessions: sessionmaker[Session],
                                                              tenants: dict[str, Any]) -> None:
    ticket_id, ana = assigned_ticket(client, app, sessions)
    resp = client.post(f"/api/tickets/{ticket_id}/pending", headers=ana)
    assert resp.status_code == 200
    assert (resp.json["status"], resp.json["snoozed"], resp.json["snoozed_until"]) == ("pending", False, None)
    assert client.post(f"/api/tickets/{ticket_id}/pending", headers=ana).status_code == 200  # idempotent
    with sessions() as s:
        assert s.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)).one().ended_at is None
    bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    assert client.post(f"/api/tickets/{ticket_id}/pending", headers=bruno).status_code == 403
    customer_writes(client, app, sessions, "wamid.back", body="Pronto, enviei")
    ticket = client.get(f"/api/tickets/{ticket_id}", headers=ana).json
    assert ticket["status"] == "assigned" and ticket["agent_id"] == tenants["users"]["ana"].id
    with sessions() as s:
        assert s.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)).one().ended_at is not None
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.entity_id == ticket_id,
                                                                       AuditEntry.action.like("ticket.%"))
                                               .order_by(AuditEntry.id))]
    assert actions[-2:] == ["ticket.pending", "ticket.resumed"]
    assert changes(sessions, ticket_id) == ["pending", "resumed"]


def test_snooze_until_a_time_or_a_reply_and_bad_times_refused(client: FlaskClient, app: Flask,
                                                              sessions: sessionmaker[Session],
                                                              tenants: dict[str, Any]) -> None:
    ticket_id, ana = assigned_ticket(client, app, sessions)
    url = f"/api/tickets/{ticket_id}/snooze"
    past = client.post(url, json={"until": "2020-01-01T09:00:00-03:00"}, headers=ana)
    assert past.status_code == 400 and past.json["error"]["code"] == "snooze_in_past"
    assert past.json["error"]["details"]["field"] == "until"
    naive = client.post(url, json={"until": "2099-01-01T09:00:00"}, headers=ana)
    assert naive.status_code == 422 and "until" in naive.json["error"]["details"]["json"]
    assert client.post(url, json={}, headers=ana).status_code == 422
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    both = client.post(url, json={"until": later.isoformat(), "until_customer_replies": True}, headers=ana)
    assert both.status_code == 422
    assert client.post(url, json={"until": (later + timedelta(days=400)).isoformat()}, headers=ana
                       ).status_code == 422
    assert client.get(f"/api/tickets/{ticket_id}", headers=ana).json["status"] == "assigned"  # nothing changed
    brasilia = later.astimezone(timezone(timedelta(hours=-3)))
    snoozed = client.post(url, json={"until": brasilia.isoformat()}, headers=ana)
    assert snoozed.status_code == 200
    assert (snoozed.json["status"], snoozed.json["snoozed"]) == ("pending", True)
    assert datetime.fromisoformat(snoozed.json["snoozed_until"]) == later
    # Until the customer replies instead; the reply wakes it.
    again = client.post(url, json={"until_customer_replies": True}, headers=ana).json
    assert (again["snoozed"], again["snoozed_until"]) == (True, None)
    customer_writes(client, app, sessions, "wamid.back")
    ticket = client.get(f"/api/tickets/{ticket_id}", headers=ana).json
    assert (ticket["status"], ticket["snoozed"], ticket["snoozed_until"]) == ("assigned", False, None)
    assert changes(sessions, ticket_id) == ["snoozed", "snoozed", "resumed"]
    # An agent can take it back early, and a resolved ticket cannot be snoozed.
    client.post(url, json={"until": later.isoformat()}, headers=ana)
    resumed = client.post(f"/api/tickets/{ticket_id}/resume", headers=ana)
    assert resumed.status_code == 200 and (resumed.json["status"], resumed.json["snoozed_until"]) == ("assigned", None)
    assert client.post(f"/api/tickets/{ticket_id}/resume", headers=ana).status_code == 409
    assert client.post(f"/api/tickets/{ticket_id}/resolve", headers=ana).status_code == 200
    assert client.post(url, json={"until_customer_replies": True}, headers=ana).status_code == 409
    assert client.post(f"/api/tickets/{ticket_id}/pending", headers=ana).status_code == 409
