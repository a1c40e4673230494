"""SendGrid's Event Webhook per channel: the URL names the channel, only that channel's key verifies its posts."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import InboxEvent
from models.org import Channel
from models.services.accounts import provision
from tests.api.conftest import login
from tests.fakes import sendgrid as sg
from tests.fakes.sendgrid import EventSigner

VICTIM = EventSigner()


def _tenant(slug: str, address: str, secret: str, key: str) -> dict[str, Any]:
    return {"slug": slug, "name": slug.title(), "queues": [{"name": "Support"}],
            "users": [{"email": f"sup@{slug}.example", "name": "Sup", "role": "supervisor", "password": "pw-sup"}],
            "channels": [{"kind": "email", "external_id": address, "default_queue": "Support",
                          "credentials": {"api_key": sg.API_KEY, "inbound_secret": secret, "event_public_key": key}}]}


def _post(client: FlaskClient, path: str, items: list[dict[str, Any]], signer: EventSigner = VICTIM,
          timestamp: int | None = None) -> Any:
    raw = json.dumps(items).encode()
    return client.post(path, data=raw, headers=signer.sign(raw, str(timestamp or int(time.time()))))


def test_a_tenant_with_another_tenants_public_key_cannot_capture_its_events(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    # The attacker's channel is older (a lower id): the old shared URL tried keys in id order and stored the
    # victim's events under the attacker's channel.
    with sessions() as s, s.begin():
        provision(s, {"tenants": [_tenant("mallory", "help@mallory.example", "mallory-secret", VICTIM.public_key_b64),
                                  _tenant("alice", "help@alice.example", "alice-secret", VICTIM.public_key_b64)]})
    with sessions() as s:
        alice = s.scalars(select(Channel).where(Channel.external_id == "help@alice.example")).one()
    items = [sg.event_item("msgAlice1", "delivered")]
    assert _post(client, "/webhooks/sendgrid/events/alice-secret", items).json == {"stored": 1, "duplicates": 0}
    # Replayed at the attacker's own URL, it lands on the attacker's channel and hides nothing from its owner.
    assert _post(client, "/webhooks/sendgrid/events/mallory-secret", items).status_code == 200
    assert _post(client, "/webhooks/sendgrid/events/alice-secret", items).json == {"stored": 0, "duplicates": 1}
    with sessions() as s:
        rows = s.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    assert rows[0].tenant_id == alice.tenant_id and rows[0].channel_id == alice.id
    assert [r.tenant_id for r in rows].count(alice.tenant_id) == 1


def test_events_are_verified_with_the_channel_named_by_the_url_only(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    from tests.conftest import EVENT_SIGNER
    items = [sg.event_item("msg1", "delivered")]
    assert _post(client, "/webhooks/sendgrid/events/not-a-secret", items, EVENT_SIGNER).status_code == 403
    other = EventSigner()  # signed by a key that is not the channel's
    resp = _post(client, "/webhooks/sendgrid/events/parse-secret-acme", items, other)
    assert (resp.status_code, resp.json["error"]["code"]) == (403, "invalid_signature")
    assert _post(client, "/webhooks/sendgrid/events/parse-secret-acme", items, EVENT_SIGNER).json["stored"] == 1


def test_the_old_shared_url_answers_gone_with_where_to_move(client: FlaskClient, tenants: dict[str, Any]) -> None:
    from tests.conftest import EVENT_SIGNER
    resp = _post(client, "/webhooks/sendgrid/events", [sg.event_item("msg1", "delivered")], EVENT_SIGNER)
    assert resp.status_code == 410
    assert resp.json["error"]["code"] == "moved"
    assert resp.json["error"]["details"]["location"] == "/webhooks/sendgrid/events/<inbound_secret>"


def test_an_event_public_key_that_is_not_a_p256_key_is_refused_when_saved(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    channel_id = tenants["channels"][sg.SUPPORT].id
    for bad in ("not base64!", "aGVsbG8=", EventSigner.p384_public_key_b64()):
        resp = client.patch(f"/api/admin/channels/{channel_id}", headers=headers,
                            json={"credentials": {"event_public_key": bad}})
        assert resp.status_code == 422, resp.json
        assert resp.json["error"]["details"]["field"] == "credentials.event_public_key"
    with sessions() as s:
        assert s.get_one(Channel, channel_id).credentials["event_public_key"] != "aGVsbG8="
    fresh = EventSigner().public_key_b64
    resp = client.patch(f"/api/admin/channels/{channel_id}", headers=headers,
                        json={"credentials": {"event_public_key": fresh}})
    assert resp.status_code == 200, resp.json


def test_a_retry_signed_hours_ago_is_taken_once(client: FlaskClient, sessions: sessionmaker[Session],
                                                tenants: dict[str, Any]) -> None:
    """SendGrid retries a failed post for 24 h and may sign the retry with the first attempt's timestamp: the
    retry must verify (a refusal loses the event for good), and its events are stored once."""
    from tests.conftest import EVENT_SIGNER
    items = [sg.event_item("msg1", "delivered")]
    hours_ago = int(time.time()) - 20 * 3600
    first = _post(client, "/webhooks/sendgrid/events/parse-secret-acme", items, EVENT_SIGNER, hours_ago)
    assert first.json == {"stored": 1, "duplicates": 0}
    again = _post(client, "/webhooks/sendgrid/events/parse-secret-acme", items, EVENT_SIGNER, hours_ago)
    assert again.json == {"stored": 0, "duplicates": 1}
