"""Replay after a reconnect gives what a live socket would have heard: the user's rooms and the ticket it follows,
not every event of the tenant, even for a supervisor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, Ticket
from models.base import utcnow
from models.events import RealtimeEvent
from models.services.window import warn_closing
from tests.api.conftest import login


def _closing_ticket(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> int:
    """Bruno's WhatsApp ticket whose 24-hour window closes in half an hour."""
    channel = tenants["channels"]["106540352242922"]
    with sessions() as s, s.begin():
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000077", name="Maria")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, agent_id=tenants["users"]["bruno"].id, status="assigned",
                        last_customer_message_at=utcnow() - timedelta(hours=23, minutes=30))
        s.add(ticket)
        s.flush()
        return ticket.id


def _names(client: FlaskClient, headers: dict[str, str], after: int, ticket_id: int | None = None) -> list[str]:
    query = f"/api/events?after={after}" + (f"&ticket_id={ticket_id}" if ticket_id is not None else "")
    resp = client.get(query, headers=headers)
    assert resp.status_code == 200, resp.json
    return [e["name"] for e in resp.json]


def test_a_colleagues_own_warning_is_not_replayed_to_a_supervisor_unless_they_follow_the_ticket(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id = _closing_ticket(sessions, tenants)
    with sessions() as s:
        before = s.scalar(select(func.coalesce(func.max(RealtimeEvent.id), 0)))
    with sessions() as s, s.begin():
        assert warn_closing(s, utcnow(), lead_seconds=3600) == 1
    as_bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    as_carla = login(client, "acme", "carla@acme.example", "pw-carla")  # a supervisor
    as_ana = login(client, "acme", "ana@acme.example", "pw-ana")

    assert _names(client, as_bruno, before) == ["window.closing"]  # his own room
    assert _names(client, as_carla, before) == []  # only Bruno's room and the ticket's heard it live
    assert _names(client, as_carla, before, ticket_id) == ["window.closing"]  # she had the ticket open
    assert _names(client, as_ana, before, ticket_id) == ["window.closing"]  # any colleague who had it open
    assert _names(client, as_ana, before) == []


def test_following_another_tenants_ticket_is_a_404(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id = _closing_ticket(sessions, tenants)
    resp = client.get(f"/api/events?after=0&ticket_id={ticket_id}",
                      headers=login(client, "globex", "gina@globex.example", "pw-gina"))
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"
