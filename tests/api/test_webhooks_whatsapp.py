"""POST/GET /webhooks/whatsapp as Meta calls them: signed deliveries stored once, bad input refused cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import InboxEvent, OutboxTask
from tests.fakes.whatsapp import encode, sign, status_delivery, text_delivery


def post(client: FlaskClient, raw: bytes, signature: str | None = "auto", **headers: str) -> Any:
    hdrs = {"Content-Type": "application/json", **headers}
    if signature == "auto":
        signature = sign(raw)
    if signature is not None:
        hdrs["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/whatsapp", data=raw, headers=hdrs)


def stored(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(InboxEvent)) or 0,
                s.scalar(select(func.count()).select_from(OutboxTask)) or 0)


def test_handshake_echoes_the_challenge_for_a_known_verify_token(client: FlaskClient,
                                                                 tenants: dict[str, Any]) -> None:
    ok = client.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-acme&hub.challenge=1158201444")
    assert (ok.status_code, ok.get_data(as_text=True), ok.mimetype) == (200, "1158201444", "text/plain")
    bad = client.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    assert bad.status_code == 403 and bad.json["error"]["code"] == "bad_verify_token"
    assert client.get("/webhooks/whatsapp?hub.verify_token=verify-acme").status_code == 400


def test_a_signed_delivery_is_stored_once_with_its_task(client: FlaskClient, sessions: sessionmaker[Session],
                                                        tenants: dict[str, Any]) -> None:
    raw = encode(text_delivery("wamid.HBgM1"))
    first = post(client, raw)
    assert (first.status_code, first.json) == (200, {"stored": 1, "duplicates": 0})
    again = post(client, raw)  # Meta redelivers the same bytes
    assert (again.status_code, again.json) == (200, {"stored": 0, "duplicates": 1})
    assert stored(sessions) == (1, 1)


def test_statuses_are_stored_as_events_too(client: FlaskClient, sessions: sessionmaker[Session],
                                           tenants: dict[str, Any]) -> None:
    for status in ("delivered", "read", "read"):
        assert post(client, encode(status_delivery("wamid.out", status))).status_code == 200
    assert stored(sessions) == (2, 2)


@pytest.mark.parametrize(("case", "status", "code"), [
    ("missing signature", 401, "missing_signature"),
    ("wrong signature", 403, "invalid_signature"),
    ("other tenant's secret", 403, "invalid_signature"),
    ("malformed json", 400, "malformed_json"),
    ("not whatsapp", 400, "malformed_delivery"),
    ("unknown phone number id", 404, "unknown_channel"),
    ("wrong content type", 415, "unsupported_media_type"),
    ("oversized", 413, "request_entity_too_large"),
])
def test_bad_deliveries_get_a_precise_error_and_store_nothing(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any],
        case: str, status: int, code: str) -> None:
    raw = encode(text_delivery("wamid.bad"))
    if case == "missing signature":
        resp = post(client, raw, signature=None)
    elif case == "wrong signature":
        resp = post(client, raw, signature=sign(raw, "guessed"))
    elif case == "other tenant's secret":
        resp = post(client, raw, signature=sign(raw, "globex-secret"))
    elif case == "malformed json":
        resp = post(client, b'{"object": "whatsapp_business_account", "entry": [')
    elif case == "not whatsapp":
        resp = post(client, encode({"object": "page", "entry": []}))
    elif case == "unknown phone number id":
        resp = post(client, encode(text_delivery("wamid.bad", phone_number_id="123")))
    elif case == "wrong content type":
        resp = post(client, raw, **{"Content-Type": "text/plain"})
    else:
        big = text_delivery("wamid.bad", body="x" * (2 * 1024 * 1024))
        resp = post(client, encode(big))
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.json["error"]["code"] == code
    assert stored(sessions) == (0, 0)
