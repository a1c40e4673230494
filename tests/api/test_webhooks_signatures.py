"""Signatures the providers' own SDKs accept verify here too; and what a signature alone does not make true."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import InboxEvent
from models.org import Channel
from tests.conftest import EVENT_SIGNER, PUBLIC_BASE_URL
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw

SMS_URL = "/webhooks/twilio/sms"
SHARED_KEY = ("HK" + "0a1b2c3d" * 4, "rule-shared-key-secret")


def stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(InboxEvent)) or 0


def post_sms(client: FlaskClient, form: dict[str, str], headers: dict[str, str]) -> Any:
    return client.post(SMS_URL, data=form, headers={k: v for k, v in headers.items() if k != "Content-Type"})


@pytest.mark.parametrize("signed_url", [f"{PUBLIC_BASE_URL}{SMS_URL}",
                                        PUBLIC_BASE_URL.replace(".com", ".com:443") + SMS_URL])
def test_twilio_signs_https_urls_with_or_without_the_default_port(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any], signed_url: str) -> None:
    form = tw.inbound_form()
    resp = post_sms(client, form, tw.signed_headers(signed_url, form))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert stored(sessions) == 1


def test_another_port_is_another_url(client: FlaskClient, sessions: sessionmaker[Session],
                                     tenants: dict[str, Any]) -> None:
    form = tw.inbound_form()
    url = PUBLIC_BASE_URL.replace(".com", ".com:8443") + SMS_URL
    assert post_sms(client, form, tw.signed_headers(url, form)).status_code == 403
    assert stored(sessions) == 0


def test_a_webhooks_rule_signing_with_hmac_sha256_verifies_with_the_channels_shared_key(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    form = tw.inbound_form()
    headers = tw.signed_headers(PUBLIC_BASE_URL + SMS_URL, form, shared_key=SHARED_KEY)
    refused = post_sms(client, form, headers)  # the channel has no shared key yet
    assert refused.status_code == 403 and "webhook_shared_key" in refused.json["error"]["message"]
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == tw.OUR_NUMBER)).one()
        channel.credentials = {**channel.credentials, "webhook_shared_key": SHARED_KEY[1]}
    assert post_sms(client, form, headers).status_code == 200
    # The auth token's SHA-1 signature under a SHA-256 announcement is not accepted, nor another key's.
    forged = {**headers, "X-Twilio-Signature": tw.signature(PUBLIC_BASE_URL + SMS_URL, form)}
    assert post_sms(client, tw.inbound_form(), forged).status_code == 403
    assert stored(sessions) == 1


def test_a_machine_open_does_not_mark_the_message_read(client: FlaskClient, sessions: sessionmaker[Session],
                                                       tenants: dict[str, Any]) -> None:
    items = [sg.event_item("msg1", "open", sg_machine_open=True), sg.event_item("msg1", "open", sg_machine_open=False)]
    raw = json.dumps(items).encode()
    resp = client.post("/webhooks/sendgrid/events/parse-secret-acme", data=raw,
                       headers=EVENT_SIGNER.sign(raw, str(int(time.time()))))
    assert resp.json == {"stored": 1, "duplicates": 0}  # the human open only
    with sessions() as s:
        (row,) = s.scalars(select(InboxEvent)).all()
    assert row.payload["raw"]["sg_machine_open"] is False and row.payload["status"] == "read"


def _whatsapp(client: FlaskClient, wamid: str, secret: str) -> Any:
    from tests.fakes.whatsapp import encode, sign, text_delivery

    raw = encode(text_delivery(wamid))
    return client.post("/webhooks/whatsapp", data=raw, headers={"Content-Type": "application/json",
                                                                "X-Hub-Signature-256": sign(raw, secret)})


def test_a_rotated_whatsapp_app_secret_works_at_once_and_the_old_one_stops(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    # The check before parsing keeps the active channels' app secrets for a while (no channel scan per delivery);
    # a signature they do not match is checked against a fresh read, and the channel's own secret decides.
    from tests.fakes.whatsapp import APP_SECRET, PHONE_NUMBER_ID

    assert _whatsapp(client, "wamid.rot.1", APP_SECRET).status_code == 200  # the secrets are now held
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
        channel.credentials = {**channel.credentials, "app_secret": "rotated-app-secret"}
    old = _whatsapp(client, "wamid.rot.2", APP_SECRET)  # still held, so parsed; the channel's own secret refuses
    assert old.status_code == 403 and old.json["error"]["code"] == "invalid_signature"
    assert _whatsapp(client, "wamid.rot.3", "rotated-app-secret").status_code == 200  # not held: read afresh
    with sessions() as s, s.begin():
        s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one().active = False
    gone = _whatsapp(client, "wamid.rot.4", "rotated-app-secret")  # the held secret passes; the channel is gone
    assert gone.status_code in (403, 404) and stored(sessions) == 2


def test_a_channel_read_lately_costs_a_delivery_one_statement_and_is_checked_by_it(
        app: Any, client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    # The process holds the channels webhooks named lately; the statement storing the events checks the row
    # still holds what was held, so a channel given to another tenant a moment ago stores for that tenant.
    from sqlalchemy import event

    from tests.fakes.whatsapp import APP_SECRET, PHONE_NUMBER_ID

    assert _whatsapp(client, "wamid.held.1", APP_SECRET).status_code == 200  # read, and now held
    executed: list[str] = []
    engine = app.extensions["atendimento.engine"]

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        executed.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert _whatsapp(client, "wamid.held.2", APP_SECRET).json == {"stored": 1, "duplicates": 0}
        assert len(executed) == 1 and executed[0].lstrip().startswith("WITH")
        assert _whatsapp(client, "wamid.held.2", APP_SECRET).json == {"stored": 0, "duplicates": 1}
        assert len(executed) == 2  # a redelivery is told from a changed channel by the same statement
        with sessions() as s, s.begin():
            channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
            other = next(c for c in tenants["channels"].values() if c.tenant_id != channel.tenant_id)
            channel.tenant_id = other.tenant_id
        executed.clear()
        assert _whatsapp(client, "wamid.held.3", APP_SECRET).json == {"stored": 1, "duplicates": 0}
        assert len(executed) == 3  # the write that found the channel changed, the fresh read, the write
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with sessions() as s:
        row = s.scalars(select(InboxEvent).where(InboxEvent.event_id == "wamid.held.3")).one()
    assert row.tenant_id == other.tenant_id
