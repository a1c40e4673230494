"""Replies and interactive messages: quoting both ways, location and contact cards as such, buttons and lists
validated and sent, and the customer's choice linked to the message that offered it."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Message
from models.base import utcnow
from models.infra.config import Settings
from models.services import outbound
from models.tickets import DeliveryStatus, Direction
from tests.api.conftest import login
from tests.api.test_webhooks_sms_email import work
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, message_delivery


def _inbound(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], message: dict[str, Any]) -> Message:
    wamid = message.setdefault("id", f"wamid.{uuid.uuid4().hex[:10]}")
    assert post(client, encode(message_delivery(message))).status_code == 200
    work(app, sessions)
    with sessions() as s:
        return s.scalars(select(Message).where(Message.provider_message_id == wamid)).one()


def _text(body: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}, **extra}


def _send_queued(sessions: sessionmaker[Session], settings: Settings) -> None:
    with sessions() as s:
        ids = list(s.scalars(select(Message.id).where(Message.direction == Direction.OUTBOUND,
                                                      Message.status == DeliveryStatus.QUEUED).order_by(Message.id)))
    for message_id in ids:
        with sessions() as s, s.begin():
            assert outbound.send_message(s, message_id, utcnow(), settings) == "sent"


def _messages(client: FlaskClient, headers: dict[str, str], ticket_id: int) -> dict[int, dict[str, Any]]:
    return {m["id"]: m for m in client.get(f"/api/tickets/{ticket_id}/messages", headers=headers).json["items"]}


def test_quoting_both_ways(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                           tenants: dict[str, Any], graph: GraphServer, settings: Settings) -> None:
    first = _inbound(client, app, sessions, _text("Meu pedido 123 atrasou"))
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.post(f"/api/tickets/{first.ticket_id}/messages", headers=headers,
                       json={"body": "Vou verificar o 123", "reply_to": first.id})
    assert resp.status_code == 202 and resp.json["reply_to"] == first.id
    before = len(graph.requests)
    _send_queued(sessions, settings)
    assert graph.requests[before]["body"]["context"] == {"message_id": first.provider_message_id}
    with sessions() as s:
        ours = s.get_one(Message, resp.json["id"])
    quoted = _inbound(client, app, sessions, _text("obrigada!", context={"from": "15550783881",
                                                                         "id": ours.provider_message_id}))
    assert _messages(client, headers, first.ticket_id)[quoted.id]["reply_to"] == ours.id
    unknown = _inbound(client, app, sessions, _text("e este?", context={"from": "1555", "id": "wamid.elsewhere"}))
    assert _messages(client, headers, first.ticket_id)[unknown.id]["reply_to"] is None
    resp = client.post(f"/api/tickets/{first.ticket_id}/messages", headers=headers,
                       json={"body": "x", "reply_to": 999999})
    assert resp.status_code == 404


def test_location_and_contact_cards_are_structured(app: Flask, client: FlaskClient,
                                                   sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    place = _inbound(client, app, sessions, {"type": "location", "location": {
        "latitude": -23.5614, "longitude": -46.6559, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}})
    card = _inbound(client, app, sessions, {"type": "contacts", "contacts": [{
        "name": {"formatted_name": "João Souza", "first_name": "João"},
        "phones": [{"phone": "+55 11 91234-5678", "wa_id": "5511912345678", "type": "CELL"}],
        "emails": [{"email": "joao@example.com", "type": "WORK"}]}]})
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    items = _messages(client, headers, place.ticket_id)
    assert items[place.id]["location"] == {"latitude": -23.5614, "longitude": -46.6559, "name": "Loja Paulista",
                                           "address": "Av. Paulista, 1000"}
    assert items[card.id]["contacts"] == [{"name": "João Souza", "phones": ["5511912345678"],
                                           "emails": ["joao@example.com"]}]


def test_buttons_go_out_and_the_choice_comes_back_linked(app: Flask, client: FlaskClient,
                                                         sessions: sessionmaker[Session], tenants: dict[str, Any],
                                                         graph: GraphServer, settings: Settings) -> None:
    first = _inbound(client, app, sessions, _text("Oi"))
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    offer = {"buttons": [{"id": "track", "title": "Rastrear pedido"}, {"id": "human", "title": "Falar com alguém"}]}
    resp = client.post(f"/api/tickets/{first.ticket_id}/messages", headers=headers,
                       json={"body": "Como posso ajudar?", "interactive": offer})
    assert resp.status_code == 202 and resp.json["kind"] == "interactive"
    before = len(graph.requests)
    _send_queued(sessions, settings)
    sent = graph.requests[before]["body"]
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "button"
    assert [b["reply"] for b in sent["interactive"]["action"]["buttons"]] == offer["buttons"]
    with sessions() as s:
        wamid = s.get_one(Message, resp.json["id"]).provider_message_id
    choice = _inbound(client, app, sessions, {"type": "interactive", "context": {"from": "15550783881", "id": wamid},
                                              "interactive": {"type": "button_reply",
                                                              "button_reply": {"id": "track",
                                                                               "title": "Rastrear pedido"}}})
    shown = _messages(client, headers, first.ticket_id)[choice.id]
    assert (shown["reply_to"], shown["interactive"]["id"], shown["body"]) == (resp.json["id"], "track",
                                                                              "Rastrear pedido")


def test_lists_are_sent_and_limits_refused(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                           tenants: dict[str, Any], graph: GraphServer, settings: Settings) -> None:
    first = _inbound(client, app, sessions, _text("Oi"))
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    url = f"/api/tickets/{first.ticket_id}/messages"

    def rows(n: int) -> list[dict[str, str]]:
        return [{"id": f"r{i}", "title": f"Opção {i}", "description": "detalhe"} for i in range(n)]

    refused = [
        {"buttons": [{"id": str(i), "title": "x"} for i in range(4)]},
        {"buttons": [{"id": "a", "title": "x" * 21}]},
        {"list": {"button": "Ver", "sections": [{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5)}]}},
        {"buttons": [{"id": "a", "title": "x"}], "list": {"button": "Ver", "sections": [{"rows": rows(1)}]}},
    ]
    for spec in refused:
        resp = client.post(url, headers=headers, json={"body": "Escolha", "interactive": spec})
        assert resp.status_code == 422, spec
    listing = {"list": {"button": "Ver opções", "sections": [{"title": "Pedidos", "rows": rows(10)}]}}
    assert client.post(url, headers=headers, json={"body": "Escolha", "interactive": listing}).status_code == 202
    before = len(graph.requests)
    _send_queued(sessions, settings)
    sent = graph.requests[before]["body"]["interactive"]
    assert sent["type"] == "list" and sent["action"]["button"] == "Ver opções"
    assert len(sent["action"]["sections"][0]["rows"]) == 10
