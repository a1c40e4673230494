"""Reactions end to end: a customer's reaction annotates the message it names (no message, ticket, reopen or
SLA event; an empty emoji removes it), and an agent's reaction is recorded and sent to WhatsApp."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Message, Reaction, SlaNotice, SlaPause, Ticket, TicketSla
from models.base import utcnow
from models.infra.config import Settings
from models.services import outbound, tickets
from models.tickets import DeliveryStatus, Direction, TicketStatus
from tests.api.conftest import login
from tests.api.test_webhooks_sms_email import SMS_URL, post_twilio, work
from tests.api.test_webhooks_whatsapp import post
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, message_delivery, text_delivery


def _customer_writes(client: FlaskClient, app: Flask, sessions: sessionmaker[Session]) -> tuple[int, str]:
    wamid = f"wamid.{uuid.uuid4().hex[:10]}"
    assert post(client, encode(text_delivery(wamid))).status_code == 200
    work(app, sessions)
    with sessions() as s:
        return int(s.scalar(select(Message.ticket_id).where(Message.provider_message_id == wamid))), wamid


def _react_in(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], target: str, emoji: str,
              sender: str = "5511987654321") -> None:
    doc = message_delivery({"id": f"wamid.{uuid.uuid4().hex[:10]}", "type": "reaction",
                            "reaction": {"message_id": target, "emoji": emoji}}, sender=sender)
    assert post(client, encode(doc)).status_code == 200
    work(app, sessions)


def _snapshot(sessions: sessionmaker[Session]) -> tuple[Any, ...]:
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        clocks = sorted(str({k: v for k, v in row.__dict__.items() if not k.startswith("_")})
                        for row in s.scalars(select(TicketSla)))
        return (s.scalar(select(func.count(Message.id))), s.scalar(select(func.count(Ticket.id))), ticket.status,
                ticket.last_customer_message_at, ticket.updated_at, clocks,
                s.scalar(select(func.count(SlaPause.id))), s.scalar(select(func.count(SlaNotice.id))))


def test_a_customer_reaction_annotates_and_changes_nothing_else(app: Flask, client: FlaskClient,
                                                                sessions: sessionmaker[Session],
                                                                tenants: dict[str, Any]) -> None:
    ticket_id, wamid = _customer_writes(client, app, sessions)
    before = _snapshot(sessions)
    _react_in(client, app, sessions, wamid, "👍")
    _react_in(client, app, sessions, wamid, "🙏")  # replaces
    assert _snapshot(sessions) == before
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    [message] = client.get(f"/api/tickets/{ticket_id}/messages", headers=headers).json["items"]
    assert [(r["reactor"], r["emoji"]) for r in message["reactions"]] == [("customer", "🙏")]
    _react_in(client, app, sessions, wamid, "")  # removed
    with sessions() as s:
        assert s.scalar(select(func.count(Reaction.id))) == 0


def test_a_reaction_never_reopens_and_cannot_reach_another_conversation(app: Flask, client: FlaskClient,
                                                                        sessions: sessionmaker[Session],
                                                                        tenants: dict[str, Any]) -> None:
    ticket_id, wamid = _customer_writes(client, app, sessions)
    with sessions() as s, s.begin():
        carla = s.get_one(type(tenants["users"]["carla"]), tenants["users"]["carla"].id)
        tickets.resolve(s, carla, ticket_id, utcnow())
    _react_in(client, app, sessions, wamid, "❤️")
    _react_in(client, app, sessions, wamid, "😡", sender="5511900001111")  # someone else's reaction: ignored
    _react_in(client, app, sessions, "wamid.unknown", "👍")
    with sessions() as s:
        assert s.scalars(select(Ticket)).one().status == TicketStatus.RESOLVED
        assert [(r.reactor, r.emoji) for r in s.scalars(select(Reaction))] == [("customer", "❤️")]
        assert s.scalar(select(func.count(Message.id))) == 1


def test_an_agent_reacts_and_whatsapp_hears_it(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                               tenants: dict[str, Any], graph: GraphServer,
                                               settings: Settings) -> None:
    ticket_id, wamid = _customer_writes(client, app, sessions)
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    with sessions() as s:
        message_id = s.scalar(select(Message.id).where(Message.provider_message_id == wamid))
    url = f"/api/tickets/{ticket_id}/messages/{message_id}/reaction"
    resp = client.put(url, json={"emoji": "👍"}, headers=headers)
    assert resp.status_code == 200, resp.json
    carla = tenants["users"]["carla"].id
    assert [(r["reactor"], r["emoji"]) for r in resp.json["reactions"]] == [(f"user:{carla}", "👍")]
    assert client.put(url, json={"emoji": "👍"}, headers=headers).status_code == 200  # the same: nothing new sent
    with sessions() as s:
        [send] = s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).all()
    before = len(graph.requests)
    with sessions() as s, s.begin():
        assert outbound.send_message(s, send.id, utcnow(), settings) == "sent"
    body = graph.requests[before]["body"]
    assert (body["type"], body["reaction"]) == ("reaction", {"message_id": wamid, "emoji": "👍"})
    # The conversation shows the reaction on the customer's message, not a message of its own.
    items = client.get(f"/api/tickets/{ticket_id}/messages", headers=headers).json["items"]
    assert [m["id"] for m in items] == [message_id]
    assert client.put(url, json={"emoji": ""}, headers=headers).json["reactions"] == []
    with sessions() as s:
        assert s.scalar(select(func.count(Message.id)).where(Message.kind == "reaction",
                                                             Message.status == DeliveryStatus.QUEUED)) == 1


def test_reactions_are_refused_where_they_cannot_go(app: Flask, client: FlaskClient,
                                                   sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    assert post_twilio(client, SMS_URL, tw.inbound_form()).status_code == 200
    work(app, sessions)
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    with sessions() as s:
        message = s.scalars(select(Message)).one()
    resp = client.put(f"/api/tickets/{message.ticket_id}/messages/{message.id}/reaction", json={"emoji": "👍"},
                      headers=headers)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "reactions_unsupported"
    resp = client.put(f"/api/tickets/{message.ticket_id}/messages/999999/reaction", json={"emoji": "👍"},
                      headers=headers)
    assert resp.status_code == 404
