"""Simulated customers: the supervisor's endpoint and `atendimento simulate`, both through the sandbox webhook path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from api import serve
from models import Channel, InboxEvent, Message, Ticket, User
from models.base import utcnow
from models.infra.config import Settings
from models.org import AgentStatus
from models.services import conversation, outbound, triage
from models.services.agents import set_status
from models.tickets import DeliveryStatus
from tests.api.conftest import login
from tests.api.test_webhooks_sandbox import SECRET, sandbox, work  # noqa: F401 - the fixture

URL = "/api/admin/sandbox/simulate"
PHONE = "5511999990000"


def settle(sessions: sessionmaker[Session]) -> None:
    """Process every stored inbox event a few seconds from now, as the worker's retries would (the sandbox's
    delivered/read reports of a reply are not due before then)."""
    later = utcnow() + timedelta(seconds=10)
    with sessions() as s:
        pending = list(s.scalars(select(InboxEvent.id).where(InboxEvent.processed_at.is_(None)).order_by(
            InboxEvent.id)))
    for inbox_id in pending:
        with sessions() as s, s.begin():
            triage.process_event(s, inbox_id, later)


def reply_to_customer(app: Flask, sessions: sessionmaker[Session], settings: Settings, ana: User) -> str:
    """Ana answers the simulated customer's ticket; the sandbox "sends" it: its provider id."""
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        message_id = conversation.reply(s, s.get_one(User, ana.id), ticket.id, "Claro!", utcnow()).id
    with sessions() as s, s.begin():
        assert outbound.send_message(s, message_id, utcnow(), settings) == "sent"
    with sessions() as s:
        return str(s.get_one(Message, message_id).provider_message_id)


def test_a_supervisor_simulates_a_customer_who_writes_sends_a_photo_and_reacts(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], settings: Settings,
        tenants: dict[str, Any], sandbox: Channel) -> None:  # noqa: F811
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    listed = client.get("/api/admin/sandbox/channels", headers=carla)
    assert [c["external_id"] for c in listed.json] == ["acme-sandbox"]
    assert "secret" not in str(listed.json) and SECRET not in listed.get_data(as_text=True)

    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, ana.id), AgentStatus.ONLINE, utcnow())
    resp = client.post(URL, json={"kind": "text", "from": PHONE, "name": "Maria", "text": "Oi, tudo bem?"},
                       headers=carla)
    assert (resp.status_code, resp.json) == (200, {"stored": 1, "duplicates": 0})
    assert client.post(URL, json={"kind": "image", "from": PHONE}, headers=carla).json["stored"] == 1
    # Nothing to react to yet: a precise 409, and nothing stored.
    early = client.post(URL, json={"kind": "reaction", "from": PHONE, "emoji": "❤️"}, headers=carla)
    assert (early.status_code, early.json["error"]["code"]) == (409, "no_reply")
    work(app, sessions)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.contact.name == "Maria" and ticket.agent_id == ana.id
        kinds = [m.kind for m in s.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id))]
    assert kinds == ["text", "image"]

    provider_id = reply_to_customer(app, sessions, settings, ana)
    assert client.post(URL, json={"kind": "reaction", "from": PHONE, "emoji": "❤️"}, headers=carla).json["stored"] == 1
    assert client.post(URL, json={"kind": "status", "from": PHONE, "status": "read"}, headers=carla).json == {
        "stored": 0, "duplicates": 1}  # the sandbox's own "read" report for this reply is already in the inbox
    settle(sessions)
    with sessions() as s:
        reply = s.scalars(select(Message).where(Message.provider_message_id == provider_id)).one()
        assert reply.status == DeliveryStatus.READ
        # A reaction annotates the message it names: never a message of its own (issue 15).
        assert [(r.reactor, r.emoji) for r in reply.reactions] == [("customer", "❤️")]
        assert s.scalars(select(Message).where(Message.kind == "reaction")).all() == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"kind": "text", "from": PHONE}, 422, "unprocessable_entity"),
    ({"kind": "shout", "from": PHONE, "text": "x"}, 422, "unprocessable_entity"),
    ({"kind": "text", "from": "not-a-phone", "text": "x"}, 422, "unprocessable_entity"),
    ({"kind": "text", "from": PHONE, "text": "x", "channel_id": 999999}, 404, "not_found"),
])
def test_a_bad_simulation_is_refused_precisely(client: FlaskClient, sessions: sessionmaker[Session],
                                               sandbox: Channel, body: dict[str, Any], status: int,  # noqa: F811
                                               code: str) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.post(URL, json=body, headers=carla)
    assert (resp.status_code, resp.json["error"]["code"]) == (status, code)
    with sessions() as s:
        assert s.scalars(select(InboxEvent)).first() is None


def test_agents_and_other_tenants_cannot_simulate(client: FlaskClient, sessions: sessionmaker[Session],
                                                  sandbox: Channel) -> None:  # noqa: F811
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.post(URL, json={"kind": "text", "from": PHONE, "text": "x"}, headers=ana).status_code == 403
    other = login(client, "globex", "gina@globex.example", "pw-gina")
    resp = client.post(URL, json={"kind": "text", "from": PHONE, "text": "x"}, headers=other)
    assert resp.status_code in (403, 404)
    with sessions() as s:
        assert s.scalars(select(InboxEvent)).first() is None


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a real port: the command posts over HTTP, as against `atendimento run`."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


def command(settings: Settings) -> Any:
    return lambda argv: serve.simulate(serve.build_parser().parse_args(["simulate", *argv]), settings)


def test_the_command_posts_a_signed_delivery_of_each_kind(app: Flask, sessions: sessionmaker[Session],
                                                          settings: Settings, tenants: dict[str, Any],
                                                          sandbox: Channel, served: str,  # noqa: F811
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    cli = command(settings)
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, tenants["users"]["ana"].id), AgentStatus.ONLINE, utcnow())
    assert cli(["--url", served, "--text", "Oi", "--from", PHONE, "--name", "Maria"]) == 0
    assert '"stored":1' in capsys.readouterr().out
    assert cli(["--url", served, "--image", "--from", PHONE]) == 0
    assert cli(["--url", served, "--reaction", "👍", "--from", PHONE]) == 2  # no reply yet
    assert "reply" in capsys.readouterr().err
    assert cli(["--url", served, "--secret", "wrong-secret-1234", "--from", PHONE]) == 1
    assert "403" in capsys.readouterr().err
    work(app, sessions)
    provider_id = reply_to_customer(app, sessions, settings, tenants["users"]["ana"])
    assert cli(["--url", served, "--reaction", "👍", "--from", PHONE]) == 0
    assert cli(["--url", served, "--status", "failed", "--reason", "phone off",
                       "--message", provider_id]) == 0
    settle(sessions)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert [m.kind for m in s.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(
            Message.id))] == ["text", "image", "text"]
        reply = s.scalars(select(Message).where(Message.provider_message_id == provider_id)).one()
        assert reply.status == DeliveryStatus.FAILED and reply.error_reason == "phone off"
        assert [r.emoji for r in reply.reactions] == ["👍"]


def _cards(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    [ticket] = client.get("/api/tickets", headers=headers).json["items"]
    items = client.get(f"/api/tickets/{ticket['id']}/messages", headers=headers).json["items"]
    return [{k: m[k] for k in ("kind", "body", "location", "contacts")} for m in items]


def test_a_location_and_a_contact_card_are_simulated_as_cards(app: Flask, client: FlaskClient,
                                                              sessions: sessionmaker[Session], settings: Settings,
                                                              sandbox: Channel, served: str) -> None:  # noqa: F811
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    place = {"kind": "location", "from": PHONE, "name": "Maria", "latitude": -22.9519, "longitude": -43.2105,
             "place": "Cristo Redentor", "address": "Parque Nacional da Tijuca"}
    assert client.post(URL, json=place, headers=carla).json["stored"] == 1
    card = {"kind": "contacts", "from": PHONE, "contact_name": "Pedro Lima", "contact_phone": "+5521988887777",
            "contact_email": "pedro@example.com"}
    assert client.post(URL, json=card, headers=carla).json["stored"] == 1
    # Half a coordinate, or a card with a phone that is no phone: refused, nothing stored.
    for bad in ({"kind": "location", "from": PHONE, "latitude": 1.0}, {**card, "contact_phone": "call me"}):
        resp = client.post(URL, json=bad, headers=carla)
        assert (resp.status_code, resp.json["error"]["code"]) == (422, "unprocessable_entity"), bad
    cli = command(settings)
    assert cli(["--url", served, "--location", "--from", PHONE]) == 0  # a sample place
    assert cli(["--url", served, "--contact", "Ana Paula", "--contact-phone", "5511977776666", "--from", PHONE]) == 0
    assert cli(["--url", served, "--location", "north", "--from", PHONE]) == 2  # not LAT,LON
    work(app, sessions)
    assert _cards(client, carla) == [
        {"kind": "location", "body": "Cristo Redentor", "contacts": None, "location": {
            "latitude": -22.9519, "longitude": -43.2105, "name": "Cristo Redentor",
            "address": "Parque Nacional da Tijuca"}},
        {"kind": "contacts", "body": "Pedro Lima", "location": None, "contacts": [
            {"name": "Pedro Lima", "phones": ["+5521988887777"], "emails": ["pedro@example.com"]}]},
        {"kind": "location", "body": "Loja Paulista", "contacts": None, "location": {
            "latitude": -23.5614, "longitude": -46.6559, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}},
        {"kind": "contacts", "body": "Ana Paula", "location": None, "contacts": [
            {"name": "Ana Paula", "phones": ["5511977776666"], "emails": []}]},
    ]
