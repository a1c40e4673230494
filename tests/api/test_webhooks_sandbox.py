"""The sandbox channel through the real webhook path: simulated customer messages in, replies "delivered" locally."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, InboxEvent, Message, OutboxTask, Reaction, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_session_factory
from models.org import AgentStatus, ChannelKind
from models.providers.sandbox import sign
from models.services import conversation, outbound, triage
from models.services.accounts import provision
from models.services.agents import set_status
from models.tickets import DeliveryStatus, Direction
from tests.services.helpers import drain

SECRET = "sandbox-secret-of-acme-0123"
URL = "/webhooks/sandbox/acme-sandbox"
MARIA = "+5511987654321"


@pytest.fixture
def sandbox(tenants: dict[str, Any], sessions: sessionmaker[Session]) -> Channel:
    """Acme's sandbox channel, next to the tenants' provider channels."""
    with sessions() as s, s.begin():
        provision(s, {"tenants": [{"slug": "acme", "name": "Acme", "queues": [{"name": "Support"}], "channels": [
            {"kind": "sandbox", "external_id": "acme-sandbox", "name": "Sandbox", "default_queue": "Support",
             "credentials": {"secret": SECRET}}]}]})
    with sessions() as s:
        return s.scalars(select(Channel).where(Channel.kind == ChannelKind.SANDBOX)).one()


def simulate(client: FlaskClient, doc: Any, secret: str | None = SECRET, url: str = URL,
             content_type: str = "application/json") -> Any:
    raw = json.dumps(doc).encode()
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Sandbox-Signature"] = sign(raw, secret)
    return client.post(url, data=raw, headers=headers)


def text(message_id: str, body: str) -> dict[str, Any]:
    return {"id": message_id, "from": MARIA, "name": "Maria", "type": "text", "text": body}


def work(app: Flask, sessions: sessionmaker[Session]) -> None:
    """Run the outbox's tasks as a worker would."""
    bus = RecordingBus()
    with sessions() as s:
        bus.tasks = [(r.task, r.args) for r in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
        s.query(OutboxTask).delete()
        s.commit()
    drain(make_session_factory(app.extensions["atendimento.engine"], bus), bus)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(InboxEvent)) or 0,
                s.scalar(select(func.count()).select_from(OutboxTask)) or 0)


def test_a_simulated_message_of_every_kind_reaches_a_ticket(app: Flask, client: FlaskClient,
                                                            sessions: sessionmaker[Session], sandbox: Channel) -> None:
    doc = {"messages": [
        text("m1", "Olá, preciso de ajuda"),
        {"id": "m2", "from": MARIA, "type": "image", "media": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                                "mime_type": "image/png", "caption": "a nota"}},
        {"id": "m3", "from": MARIA, "type": "location", "location": {"latitude": -23.56, "longitude": -46.65,
                                                                      "name": "Loja Paulista"}},
        {"id": "m4", "from": MARIA, "type": "reaction", "reaction": {"message_id": "m1", "emoji": "👍"}},
    ]}
    first = simulate(client, doc)
    assert (first.status_code, first.json) == (200, {"stored": 4, "duplicates": 0})
    assert simulate(client, doc).json == {"stored": 0, "duplicates": 4}
    work(app, sessions)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.channel_id == sandbox.id and ticket.contact.phone == "5511987654321"
        assert ticket.contact.name == "Maria" and ticket.queue_id == sandbox.default_queue_id
        messages = s.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)).all()
        reactions = [(r.message_id, r.reactor, r.emoji) for r in s.scalars(select(Reaction))]
    # The reaction annotates the message it names; it is no message of its own.
    assert [(m.kind, m.body) for m in messages] == [
        ("text", "Olá, preciso de ajuda"), ("image", "a nota"), ("location", "Loja Paulista")]
    assert reactions == [(messages[0].id, "customer", "👍")]
    assert messages[1].payload["content"]["media"][0]["mime_type"] == "image/png"
    assert messages[2].payload["content"]["location"]["latitude"] == -23.56


def test_a_reply_goes_sent_then_delivered_then_read(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                                    bus: RecordingBus, settings: Settings,
                                                    tenants: dict[str, Any], sandbox: Channel) -> None:
    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, ana.id), AgentStatus.ONLINE, utcnow())
    simulate(client, {"messages": [text("m1", "Cadê meu pedido?")]})
    work(app, sessions)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.agent_id == ana.id
        message_id = conversation.reply(s, s.get_one(User, ana.id), ticket.id, "Já verifico!", utcnow()).id
    sent_at = utcnow()
    with sessions() as s, s.begin():
        assert outbound.send_message(s, message_id, sent_at, settings) == "sent"

    def status() -> DeliveryStatus:
        with sessions() as s:
            return s.get_one(Message, message_id).status

    def process(at: Any) -> list[str]:
        """Run the pending status events at time `at`, as the worker's (retried) task would."""
        results = []
        with sessions() as s:
            ids = s.scalars(select(InboxEvent.id).where(InboxEvent.kind == "status",
                                                        InboxEvent.processed_at.is_(None)).order_by(InboxEvent.id))
            pending = list(ids)
        for inbox_id in pending:
            try:
                with sessions() as s, s.begin():
                    results.append(triage.process_event(s, inbox_id, at))
            except triage.StatusBeforeMessage:
                results.append("not yet")
        return results

    assert status() == DeliveryStatus.SENT
    with sessions() as s:
        assert s.get_one(Message, message_id).provider_message_id.startswith("sbx-")
    assert [name for name, _ in bus.tasks].count("triage.process_event") == 2  # through the outbox, once each
    assert process(sent_at) == ["not yet", "not yet"]
    assert status() == DeliveryStatus.SENT
    assert process(sent_at + timedelta(seconds=1.5)) == ["processed", "not yet"]
    assert status() == DeliveryStatus.DELIVERED
    assert process(sent_at + timedelta(seconds=3)) == ["processed"]
    assert status() == DeliveryStatus.READ
    assert process(sent_at + timedelta(seconds=9)) == []  # each report applied exactly once
    # A simulated repeat of a report is the same inbox event; a late "sent" never moves the message back.
    with sessions() as s:
        provider_id = s.get_one(Message, message_id).provider_message_id
    assert simulate(client, {"statuses": [{"id": provider_id, "status": "delivered"}]}).json == {
        "stored": 0, "duplicates": 1}
    assert simulate(client, {"statuses": [{"id": provider_id, "status": "sent"}]}).json["stored"] == 1
    assert process(utcnow()) == ["processed"]
    assert status() == DeliveryStatus.READ


def test_a_simulated_failure_carries_its_code(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                              settings: Settings, sandbox: Channel) -> None:
    simulate(client, {"messages": [text("m1", "oi")]})
    work(app, sessions)
    with sessions() as s, s.begin():
        message_id = outbound.queue_text(s, s.scalars(select(Ticket)).one(), "Olá!", None, utcnow()).id
    with sessions() as s, s.begin():
        outbound.send_message(s, message_id, utcnow(), settings)
    with sessions() as s:
        provider_id = s.get_one(Message, message_id).provider_message_id
    simulate(client, {"statuses": [{"id": provider_id, "status": "failed",
                                    "error": {"code": "E42", "reason": "simulated outage"}}]})
    with sessions() as s, s.begin():
        inbox_id = s.scalars(select(InboxEvent.id).where(InboxEvent.event_id.like("%:failed"))).one()
        triage.process_event(s, inbox_id, utcnow())
    with sessions() as s:
        failed = s.get_one(Message, message_id)
    assert (failed.status, failed.error_code, failed.error_reason, failed.direction) == (
        DeliveryStatus.FAILED, "E42", "simulated outage", Direction.OUTBOUND)


@pytest.mark.parametrize(("case", "status", "code"), [
    ("unsigned", 401, "missing_signature"),
    ("bad signature", 403, "invalid_signature"),
    ("another channel's secret", 403, "invalid_signature"),
    ("unknown channel", 404, "unknown_channel"),
    ("malformed json", 400, "malformed_json"),
    ("no items", 400, "malformed_delivery"),
    ("image without media", 400, "malformed_delivery"),
    ("unknown type", 400, "malformed_delivery"),
    ("wrong content type", 415, "unsupported_media_type"),
])
def test_bad_simulations_are_refused_and_store_nothing(client: FlaskClient, sessions: sessionmaker[Session],
                                                       sandbox: Channel, case: str, status: int, code: str) -> None:
    doc: Any = {"messages": [text("m1", "oi")]}
    if case == "unsigned":
        resp = simulate(client, doc, secret=None)
    elif case == "bad signature":
        resp = simulate(client, doc, secret="guessed-secret-guessed")
    elif case == "another channel's secret":
        resp = simulate(client, doc, secret="example-app-secret")
    elif case == "unknown channel":
        resp = simulate(client, doc, url="/webhooks/sandbox/nobody")
    elif case == "malformed json":
        resp = client.post(URL, data=b'{"messages": [', headers={"Content-Type": "application/json",
                                                                 "X-Sandbox-Signature": sign(b'{"messages": [',
                                                                                             SECRET)})
    elif case == "no items":
        resp = simulate(client, {"messages": []})
    elif case == "image without media":
        resp = simulate(client, {"messages": [{"id": "m1", "from": MARIA, "type": "image"}]})
    elif case == "unknown type":
        resp = simulate(client, {"messages": [{"id": "m1", "from": MARIA, "type": "hologram"}]})
    else:
        resp = simulate(client, doc, content_type="text/plain")
    assert (resp.status_code, resp.json["error"]["code"]) == (status, code), resp.json
    if status == 400:
        assert resp.json["error"]["message"]  # names what is wrong
    assert counts(sessions) == (0, 0)
