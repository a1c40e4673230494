"""Templates from the synced catalogue: listed for agents, offered by the 24-hour answer, filled on send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Message, Ticket
from models.base import utcnow
from models.services import templates
from models.tickets import TicketStatus
from tests.api.conftest import login

CATALOGUE = [
    {"id": "1", "name": "pedido_enviado", "language": "pt_BR", "category": "UTILITY", "status": "APPROVED",
     "components": [{"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega."}]},
    {"id": "2", "name": "promo", "language": "pt_BR", "category": "MARKETING", "status": "REJECTED",
     "components": [{"type": "BODY", "text": "Oferta!"}]},
]


def _stale_ticket(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> int:
    """An assigned WhatsApp ticket whose customer last wrote two days ago: the window is closed."""
    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        templates.replace_catalogue(s, channel, CATALOGUE, utcnow())
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000002", name="Maria")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, agent_id=ana.id, status=TicketStatus.ASSIGNED,
                        last_customer_message_at=utcnow() - timedelta(days=2))
        s.add(ticket)
        s.flush()
        return ticket.id


def test_agents_list_approved_templates_with_what_they_need(client: FlaskClient, sessions: sessionmaker[Session],
                                                            tenants: dict[str, Any]) -> None:
    _stale_ticket(sessions, tenants)
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    listed = client.get("/api/templates", headers=ana).json
    assert [(t["name"], t["needs"]["body"]) for t in listed] == [("pedido_enviado", 2)]
    assert {t["name"] for t in client.get("/api/templates?status=ALL", headers=ana).json} == {"pedido_enviado",
                                                                                               "promo"}
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/templates", headers=gina).json == []


def test_a_closed_window_offers_the_templates_and_a_filled_one_is_queued(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id = _stale_ticket(sessions, tenants)
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    url = f"/api/tickets/{ticket_id}/messages"
    refused = client.post(url, json={"body": "Oi"}, headers=ana)
    assert (refused.status_code, refused.json["error"]["code"]) == (422, "template_required")
    assert [t["name"] for t in refused.json["error"]["details"]["templates"]] == ["pedido_enviado"]
    few = client.post(url, json={"template": {"name": "pedido_enviado", "language": "pt_BR",
                                              "variables": ["Maria"]}}, headers=ana)
    assert (few.status_code, few.json["error"]["code"]) == (422, "template_variables")
    assert few.json["error"]["details"]["needs"]["body"] == 2
    rejected = client.post(url, json={"template": {"name": "promo", "language": "pt_BR", "variables": []}},
                           headers=ana)
    assert (rejected.status_code, rejected.json["error"]["code"]) == (422, "template_not_approved")
    sent = client.post(url, json={"template": {"name": "pedido_enviado", "language": "pt_BR",
                                               "variables": ["Maria", "#123"]}}, headers=ana)
    assert sent.status_code == 202 and sent.json["body"] == "Olá Maria, seu pedido #123 saiu para entrega."
    with sessions() as s:
        payload = s.get_one(Message, sent.json["id"]).payload["template"]
    assert payload == {"name": "pedido_enviado", "language": {"code": "pt_BR"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "#123"}]}]}


def test_a_sync_adds_updates_and_removes(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        assert templates.replace_catalogue(s, channel, CATALOGUE, utcnow()) == {
            "added": 2, "updated": 0, "removed": 0, "total": 2}
        changed = [{**CATALOGUE[1], "status": "APPROVED"}]
        assert templates.replace_catalogue(s, channel, changed, utcnow()) == {
            "added": 0, "updated": 1, "removed": 1, "total": 1}
        assert [t.name for t in templates.listed(s, channel.tenant_id, channel.id)] == ["promo"]
