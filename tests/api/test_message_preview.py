"""The inbox preview of a ticket is its conversation's last message: `notes=false` leaves internal notes out."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, Message, Ticket
from tests.api.conftest import login


def test_the_preview_page_skips_a_newer_note_but_the_thread_keeps_it(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    channel = tenants["channels"]["106540352242922"]
    with sessions() as s, s.begin():
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000088", name="Maria")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, agent_id=tenants["users"]["ana"].id, status="assigned")
        s.add(ticket)
        s.flush()
        s.add(Message(tenant_id=channel.tenant_id, ticket_id=ticket.id, channel_id=channel.id, direction="in",
                      body="Meu pedido não chegou", status="received"))
        ticket_id = ticket.id
    as_ana = login(client, "acme", "ana@acme.example", "pw-ana")
    resp = client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana, json={"body": "cliente VIP, cuidado"})
    assert resp.status_code == 201, resp.json

    preview = client.get(f"/api/tickets/{ticket_id}/messages?limit=1&notes=false", headers=as_ana)
    assert preview.status_code == 200, preview.json
    assert [m["body"] for m in preview.json["items"]] == ["Meu pedido não chegou"]
    thread = client.get(f"/api/tickets/{ticket_id}/messages", headers=as_ana).json["items"]
    assert [m["direction"] for m in thread] == ["in", "note"]  # the thread still shows the note, by default
    bad = client.get(f"/api/tickets/{ticket_id}/messages?notes=maybe", headers=as_ana)
    assert bad.status_code == 422
