"""An agent taking a waiting ticket by hand is heard by the queue's other members, as an automatic assignment is:
their consoles drop the ticket from "Unassigned" without a reload (and a reconnecting one replays it)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, Ticket
from tests.api.conftest import login


def test_a_colleague_of_the_queue_hears_the_ticket_taken(client: FlaskClient, sessions: sessionmaker[Session],
                                                         tenants: dict[str, Any]) -> None:
    channel = tenants["channels"]["106540352242922"]
    with sessions() as s, s.begin():
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000077", name="Joana")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id)
        s.add(ticket)
        s.flush()
        ticket_id = ticket.id
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    assert client.post(f"/api/tickets/{ticket_id}/accept", headers=ana).status_code == 200
    taken = [e["data"] for e in client.get("/api/events?after=0", headers=bruno).json if e["name"] == "ticket.assigned"]
    assert [(d["id"], d["agent_id"]) for d in taken] == [(ticket_id, tenants["users"]["ana"].id)]
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/events?after=0", headers=gina).json == []
