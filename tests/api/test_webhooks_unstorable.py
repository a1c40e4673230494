"""Signed deliveries carrying text PostgreSQL refuses get a 400 with the JSON error, and nothing is stored; the
signature is checked before the body is parsed wherever the scheme allows it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import InboxEvent, OutboxTask
from tests.conftest import EVENT_SIGNER, PUBLIC_BASE_URL
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.whatsapp import encode, sign, text_delivery


def stored(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(InboxEvent)) or 0,
                s.scalar(select(func.count()).select_from(OutboxTask)) or 0)


def whatsapp(client: FlaskClient, raw: bytes, signature: str | None = None) -> Any:
    return client.post("/webhooks/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature or sign(raw)})


def refused(resp: Any, sessions: sessionmaker[Session], status: int = 400) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert set(resp.json["error"]) >= {"code", "message"}
    assert stored(sessions) == (0, 0)
    return dict(resp.json["error"])


@pytest.mark.parametrize("where", ["message id", "body", "name"])
def test_a_signed_whatsapp_delivery_with_a_nul_character_is_refused(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any], where: str) -> None:
    args = {"message id": {"wamid": "wamid.\x00abc"}, "body": {"wamid": "wamid.1", "body": "oi\x00"},
            "name": {"wamid": "wamid.1", "name": "Ma\x00ria"}}[where]
    raw = encode(text_delivery(**args))  # JSON carries it as the escape \u0000, which Meta may send
    assert b"\\u0000" in raw
    assert refused(whatsapp(client, raw), sessions)["code"] == "malformed_delivery"


def test_an_unpaired_surrogate_escape_is_refused(client: FlaskClient, sessions: sessionmaker[Session],
                                                 tenants: dict[str, Any]) -> None:
    raw = encode(text_delivery("wamid.1")).replace(b"Maria Silva", b"Maria \\ud800")
    refused(whatsapp(client, raw), sessions)


def test_a_deeply_nested_body_is_refused_unread_when_unsigned_and_400_when_signed(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    raw = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert refused(whatsapp(client, raw, signature=sign(raw, "guessed")), sessions, 403)["code"] \
        == "invalid_signature"
    assert refused(whatsapp(client, raw), sessions)["code"] == "malformed_json"


def test_a_forged_whatsapp_body_is_refused_before_it_is_parsed(client: FlaskClient, sessions: sessionmaker[Session],
                                                               tenants: dict[str, Any]) -> None:
    raw = b'{"not json'
    assert refused(whatsapp(client, raw, signature=sign(raw, "guessed")), sessions, 403)["code"] \
        == "invalid_signature"


@pytest.mark.parametrize("field", ["MessageSid", "Body", "From"])
def test_a_signed_sms_with_a_nul_character_is_refused(client: FlaskClient, sessions: sessionmaker[Session],
                                                      tenants: dict[str, Any], field: str) -> None:
    form = tw.inbound_form()
    form[field] = form[field] + "\x00"
    headers = tw.signed_headers(PUBLIC_BASE_URL + "/webhooks/twilio/sms", form)
    resp = client.post("/webhooks/twilio/sms", data=form,
                       headers={k: v for k, v in headers.items() if k != "Content-Type"})
    refused(resp, sessions)


def test_an_email_with_a_nul_character_is_refused(client: FlaskClient, sessions: sessionmaker[Session],
                                                  tenants: dict[str, Any]) -> None:
    fields = sg.inbound_parse_fields(subject="Pedido\x00 123")
    resp = client.post("/webhooks/sendgrid/inbound/parse-secret-acme", data=fields, content_type="multipart/form-data")
    refused(resp, sessions)


def test_signed_email_events_with_a_nul_character_are_refused(client: FlaskClient, sessions: sessionmaker[Session],
                                                              tenants: dict[str, Any]) -> None:
    raw = json.dumps([sg.event_item("msg\x00", "delivered")]).encode()
    resp = client.post("/webhooks/sendgrid/events/parse-secret-acme", data=raw,
                       headers=EVENT_SIGNER.sign(raw, str(int(time.time()))))
    refused(resp, sessions)
