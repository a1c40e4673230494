"""Twilio SMS and SendGrid email webhooks as the providers call them, and the replies they lead to."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import InboxEvent, Message, OutboxTask, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_session_factory
from models.org import AgentStatus
from models.services import conversation, outbound
from models.services.agents import set_status
from models.tickets import DeliveryStatus
from tests.conftest import EVENT_SIGNER, PUBLIC_BASE_URL
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.services.helpers import drain

SMS_URL = "/webhooks/twilio/sms"
STATUS_URL = "/webhooks/twilio/status"
EVENTS_URL = "/webhooks/sendgrid/events/parse-secret-acme"


def inbox_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(InboxEvent)) or 0


def post_twilio(client: FlaskClient, path: str, form: dict[str, str], token: str = tw.AUTH_TOKEN,
                sign: bool = True) -> Any:
    headers = tw.signed_headers(PUBLIC_BASE_URL + path, form, token) if sign else {}
    return client.post(path, data=form, headers={k: v for k, v in headers.items() if k != "Content-Type"})


def parse(client: FlaskClient, token: str, fields: dict[str, str]) -> Any:
    """Post like Inbound Parse: multipart/form-data to the channel's secret URL."""
    return client.post(f"/webhooks/sendgrid/inbound/{token}", data=fields, content_type="multipart/form-data")


def work(app: Flask, sessions: sessionmaker[Session]) -> RecordingBus:
    """Run the outbox's tasks as a worker would."""
    bus = RecordingBus()
    with sessions() as s:
        # The API also published these to Redis after commit; here they run in-process instead.
        bus.tasks = [(r.task, r.args) for r in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
        s.query(OutboxTask).delete()
        s.commit()
    drain(make_session_factory(app.extensions["atendimento.engine"], bus), bus)
    return bus


def test_an_sms_is_stored_once_and_answered_with_empty_twiml(client: FlaskClient, sessions: sessionmaker[Session],
                                                            tenants: dict[str, Any]) -> None:
    form = tw.inbound_form()
    first = post_twilio(client, SMS_URL, form)
    assert first.status_code == 200 and first.mimetype == "text/xml"
    assert first.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert post_twilio(client, SMS_URL, form).status_code == 200
    assert inbox_count(sessions) == 1


@pytest.mark.parametrize(("case", "status", "code"), [
    ("unsigned", 401, "missing_signature"),
    ("wrong token", 403, "invalid_signature"),
    ("unknown number", 404, "unknown_channel"),
    ("missing MessageSid", 400, "malformed_delivery"),
    ("json body", 415, "unsupported_media_type"),
])
def test_bad_sms_webhooks_are_refused_and_store_nothing(client: FlaskClient, sessions: sessionmaker[Session],
                                                        tenants: dict[str, Any], case: str, status: int,
                                                        code: str) -> None:
    form = tw.inbound_form()
    if case == "unsigned":
        resp = post_twilio(client, SMS_URL, form, sign=False)
    elif case == "wrong token":
        resp = post_twilio(client, SMS_URL, form, token="guessed")
    elif case == "unknown number":
        resp = post_twilio(client, SMS_URL, tw.inbound_form(to="+15550009999"))
    elif case == "missing MessageSid":
        form.pop("MessageSid")
        resp = post_twilio(client, SMS_URL, form)
    else:
        resp = client.post(SMS_URL, json=form)
    assert (resp.status_code, resp.json["error"]["code"]) == (status, code)
    assert inbox_count(sessions) == 0


def test_sms_conversation_with_status_callbacks(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                                settings: Settings, twilio_server: tw.TwilioServer,
                                                tenants: dict[str, Any]) -> None:
    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, ana.id), AgentStatus.ONLINE, utcnow())
    post_twilio(client, SMS_URL, tw.inbound_form(body="Cadê meu pedido?"))
    work(app, sessions)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.agent_id == ana.id
        message_id = conversation.reply(s, s.get_one(User, ana.id), ticket.id, "Já verifico!", utcnow()).id
    before = len(twilio_server.requests)
    with sessions() as s, s.begin():
        outbound.send_message(s, message_id, utcnow(), settings)
    sent = twilio_server.requests[before:]
    assert len(sent) == 1 and sent[0]["form"]["To"] == tw.CUSTOMER and sent[0]["form"]["Body"] == "Já verifico!"
    assert sent[0]["form"]["From"] == tw.OUR_NUMBER
    with sessions() as s:
        sid = s.get_one(Message, message_id).provider_message_id
    for status in ("delivered", "sent", "delivered"):  # out of order and repeated
        assert post_twilio(client, STATUS_URL, tw.status_form(sid, status)).status_code == 200
    work(app, sessions)
    with sessions() as s:
        assert s.get_one(Message, message_id).status == DeliveryStatus.DELIVERED


def test_an_email_is_stored_with_the_url_secret_and_the_reply_is_threaded(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], settings: Settings,
        sendgrid_server: sg.SendGridServer, tenants: dict[str, Any]) -> None:
    fields = sg.inbound_parse_fields(message_id="abc123@mail.example.com")
    assert parse(client, "wrong", fields).status_code == 403
    assert parse(client, "parse-secret-acme", fields).json == {
        "stored": 1, "duplicates": 0}
    assert parse(client, "parse-secret-acme", fields).json["duplicates"] == 1
    work(app, sessions)
    carla = tenants["users"]["carla"]
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.subject == "Pedido 123" and ticket.contact.email == sg.CUSTOMER
        message_id = conversation.reply(s, s.get_one(User, carla.id), ticket.id, "Seu pedido saiu hoje.",
                                        utcnow()).id
    before = len(sendgrid_server.requests)
    with sessions() as s, s.begin():
        outbound.send_message(s, message_id, utcnow(), settings)
    body = sendgrid_server.requests[before]["body"]
    assert body["personalizations"][0]["to"][0]["email"] == sg.CUSTOMER
    assert body["subject"] == "Re: Pedido 123"
    assert body["headers"]["In-Reply-To"] == "<abc123@mail.example.com>"
    reply_to = body["reply_to"]["email"]
    assert reply_to.startswith("support+t") and reply_to.endswith("@acme.example")
    # A colleague of the customer answers from another address, to the signed reply address: same ticket.
    fields = sg.inbound_parse_fields(from_="Joao <joao@example.com>", to=reply_to, envelope_to=[reply_to],
                                     subject="Re: Pedido 123", text="Eu também preciso disso")
    assert parse(client, "parse-secret-acme", fields).json["stored"] == 1
    work(app, sessions)
    with sessions() as s:
        assert [t.id for t in s.scalars(select(Ticket))] == [ticket.id]
        assert s.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id)) == 3


def test_signed_email_events_update_status_and_bad_signatures_are_refused(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], settings: Settings,
        tenants: dict[str, Any]) -> None:
    parse(client, "parse-secret-acme", sg.inbound_parse_fields())
    work(app, sessions)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        message_id = conversation.reply(s, s.get_one(User, tenants["users"]["carla"].id), ticket.id, "ok",
                                        utcnow()).id
    with sessions() as s, s.begin():
        outbound.send_message(s, message_id, utcnow(), settings)
    with sessions() as s:
        x_message_id = s.get_one(Message, message_id).provider_message_id
    raw = json.dumps([sg.event_item(f"{x_message_id}.filter0001.16648.5515E0B88.0", "delivered")]).encode()
    now = str(int(time.time()))
    assert client.post(EVENTS_URL, data=raw, headers={"Content-Type": "application/json"}
                       ).status_code == 401
    stale = EVENT_SIGNER.sign(raw, str(int(time.time()) - 26 * 3600))  # beyond SendGrid's 24 h of retries
    assert client.post(EVENTS_URL, data=raw, headers=stale).status_code == 403
    future = EVENT_SIGNER.sign(raw, str(int(time.time()) + 3600))
    assert client.post(EVENTS_URL, data=raw, headers=future).status_code == 403
    tampered = EVENT_SIGNER.sign(raw, now)
    assert client.post(EVENTS_URL, data=raw + b" ", headers=tampered).status_code == 403
    good = client.post(EVENTS_URL, data=raw, headers=EVENT_SIGNER.sign(raw, now))
    assert good.json == {"stored": 1, "duplicates": 0}
    assert client.post(EVENTS_URL, data=raw, headers=EVENT_SIGNER.sign(raw, now)
                       ).json["duplicates"] == 1
    work(app, sessions)
    with sessions() as s:
        assert s.get_one(Message, message_id).status == DeliveryStatus.DELIVERED
