"""The SendGrid adapter: Inbound Parse fields, signed Event Webhook posts, and Mail Send against a local server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from models.providers import sendgrid
from models.providers.base import MalformedDelivery, ProviderError
from tests.fakes.sendgrid import (
    API_KEY,
    CUSTOMER,
    SIGNATURE_HEADER,
    SUPPORT,
    TIMESTAMP_HEADER,
    EventSigner,
    SendGridServer,
    event_item,
    inbound_parse_fields,
    sendgrid_error,
)

# --- Inbound Parse -------------------------------------------------------------------------------------------------


def test_parse_inbound_reads_threading_headers() -> None:
    fields = inbound_parse_fields(message_id="reply-1@mail.example.com", in_reply_to="out-2@acme.example",
                                  references=["out-1@acme.example", "in-1@mail.example.com", "out-2@acme.example"],
                                  attachments=[("nota.pdf", "application/pdf"), ("foto.jpg", "image/jpeg")])
    event = sendgrid.parse_inbound(fields, files_count=2)
    assert (event.kind, event.channel_ref) == ("message", SUPPORT)
    assert event.event_id == f"reply-1@mail.example.com:{SUPPORT}"
    p = event.payload
    assert (p["message_id"], p["in_reply_to"]) == ("reply-1@mail.example.com", "out-2@acme.example")
    assert p["references"] == ["out-1@acme.example", "in-1@mail.example.com", "out-2@acme.example"]
    assert p["attachments"] == [
        {"field": "attachment1", "filename": "nota.pdf", "type": "application/pdf", "content_id": None},
        {"field": "attachment2", "filename": "foto.jpg", "type": "image/jpeg", "content_id": None}]
    assert p["envelope"] == {"to": [SUPPORT], "from": CUSTOMER}
    assert (p["from"], p["to"], p["subject"]) == (fields["from"], fields["to"], "Pedido 123")
    json.dumps(p)  # stored as JSON


def test_channel_ref_falls_back_to_the_to_header_without_display_name_or_case() -> None:
    fields = inbound_parse_fields(to='"Acme, Support" <Support@Acme.Example>, other@example.org')
    del fields["envelope"]
    assert sendgrid.parse_inbound(fields).channel_ref == SUPPORT


def test_plus_addressed_reply_reaches_the_channel_and_keeps_its_token() -> None:
    fields = inbound_parse_fields(to="Acme <support+t123abc@acme.example>",
                                  envelope_to=["Support+t123abc@acme.example"])
    event = sendgrid.parse_inbound(fields)
    assert event.channel_ref == SUPPORT
    assert sendgrid.ticket_token(event.payload["recipient"]) == "t123abc"


@pytest.mark.parametrize(("address", "token"), [
    ("support+t123abc@acme.example", "t123abc"),
    ("Acme Support <support+t9_z-1@acme.example>", "t9_z-1"),
    ("support@acme.example", None),
    ("support+@acme.example", None),
    ("support+bad token@acme.example", None),
    ("support+a+b@acme.example", None),
    ("not an address", None),
])
def test_ticket_token(address: str, token: str | None) -> None:
    assert sendgrid.ticket_token(address) == token


def test_without_message_id_redeliveries_still_dedupe() -> None:
    fields = inbound_parse_fields(message_id="")
    first, again = sendgrid.parse_inbound(fields), sendgrid.parse_inbound(dict(fields))
    assert first.payload["message_id"] is None
    assert first.event_id == again.event_id and first.event_id.startswith("sha256:")
    other = sendgrid.parse_inbound({**fields, "text": "outra coisa"})
    assert other.event_id != first.event_id
    parsed = sendgrid.parse_message(first.payload)
    assert parsed.provider_message_id == sendgrid.parse_message(again.payload).provider_message_id != ""
    assert parsed.provider_message_id != sendgrid.parse_message(other.payload).provider_message_id


def test_the_same_email_to_two_channels_is_two_events() -> None:
    a = sendgrid.parse_inbound(inbound_parse_fields(message_id="x@mail.example.com"))
    b = sendgrid.parse_inbound(inbound_parse_fields(message_id="x@mail.example.com", to="help@globex.example",
                                                    envelope_to=["help@globex.example"]))
    assert a.event_id != b.event_id
    assert a.payload["message_id"] == b.payload["message_id"]


def test_overlong_ids_are_hashed_to_fit_their_columns() -> None:
    event = sendgrid.parse_inbound(inbound_parse_fields(message_id="x" * 300 + "@mail.example.com"))
    assert len(event.event_id) <= 255
    assert len(sendgrid.parse_message(event.payload).provider_message_id) <= 200


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda f: f.pop("from"), "from"),
    (lambda f: f.pop("to"), "to"),
    (lambda f: f.update(to="undisclosed-recipients:;", envelope="{}"), "to"),
    (lambda f: f.update(envelope="{not json"), "envelope"),
    (lambda f: f.update({"attachment-info": "[broken"}), "attachment-info"),
])
def test_malformed_parse_posts_name_the_field(mutate: Any, field: str) -> None:
    fields = inbound_parse_fields()
    mutate(fields)
    with pytest.raises(MalformedDelivery, match=field):
        sendgrid.parse_inbound(fields)


def test_attachments_without_info_are_counted() -> None:
    fields = inbound_parse_fields()
    fields["attachments"] = "2"
    assert sendgrid.parse_inbound(fields).payload["attachments"] == [
        {"field": f"attachment{i}", "filename": None, "type": None} for i in (1, 2)]
    assert len(sendgrid.parse_inbound(inbound_parse_fields(), files_count=1).payload["attachments"]) == 1


def test_parse_message() -> None:
    fields = inbound_parse_fields(from_='"Silva, Maria" <Maria@Example.COM>', in_reply_to="out-1@acme.example")
    parsed = sendgrid.parse_message(sendgrid.parse_inbound(fields).payload)
    assert (parsed.sender, parsed.sender_name, parsed.kind, parsed.body) == (
        CUSTOMER, "Silva, Maria", "email", "Olá, preciso de ajuda\n")
    assert parsed.extra["subject"] == "Pedido 123"
    assert parsed.extra["in_reply_to"] == "out-1@acme.example"
    assert parsed.provider_message_id == parsed.extra["message_id"]


def test_html_only_mail_is_stripped_to_text() -> None:
    fields = inbound_parse_fields(text="", html="<html><style>p{color:red}</style><body><p>Olá &amp; bom dia</p>"
                                                "<p>Pedido <b>123</b></p><script>x()</script></body></html>")
    parsed = sendgrid.parse_message(sendgrid.parse_inbound(fields).payload)
    assert parsed.body == "Olá & bom dia\nPedido 123"


# --- Event Webhook -------------------------------------------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def signer() -> EventSigner:
    return EventSigner()


def _verify(signer: EventSigner, raw: bytes, headers: dict[str, str | None], key: str | None = None,
            now: float = NOW) -> bool:
    return sendgrid.verify_event_signature(key or signer.public_key_b64, headers.get(SIGNATURE_HEADER),
                                           headers.get(TIMESTAMP_HEADER), raw, now=now)


def test_event_signature_good_and_tampered(signer: EventSigner) -> None:
    raw = json.dumps([event_item("abc", "delivered")]).encode()
    headers: dict[str, str | None] = dict(signer.sign(raw, str(int(NOW))))
    assert _verify(signer, raw, headers)
    assert not _verify(signer, raw + b" ", headers)
    assert not _verify(signer, raw, headers, key=EventSigner().public_key_b64)
    assert not _verify(signer, raw, {**headers, TIMESTAMP_HEADER: str(int(NOW) + 1)})  # timestamp is signed


@pytest.mark.parametrize(("skew", "ok"), [(-299, True), (299, True), (-301, False), (301, False)])
def test_event_signature_refuses_stale_and_future_timestamps(signer: EventSigner, skew: int, ok: bool) -> None:
    raw = b"[]"
    assert _verify(signer, raw, dict(signer.sign(raw, str(int(NOW) + skew)))) is ok


@pytest.mark.parametrize("bad", ["no-signature", "no-timestamp", "garbage-signature", "garbage-key", "not-der-key",
                                 "text-timestamp", "unicode-digit-timestamp", "der-garbage"])
def test_event_signature_refuses_malformed_input(signer: EventSigner, bad: str) -> None:
    raw = b"[]"
    headers: dict[str, str | None] = dict(signer.sign(raw, str(int(NOW))))
    key = signer.public_key_b64
    if bad == "no-signature":
        headers[SIGNATURE_HEADER] = None
    elif bad == "no-timestamp":
        headers[TIMESTAMP_HEADER] = None
    elif bad == "garbage-signature":
        headers[SIGNATURE_HEADER] = "%%%not-base64%%%"
    elif bad == "garbage-key":
        key = "@@@"
    elif bad == "not-der-key":
        key = "TUZrd0V3WUhLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FF"  # valid base64, not a DER key
    elif bad == "text-timestamp":
        headers[TIMESTAMP_HEADER] = "yesterday"
    elif bad == "unicode-digit-timestamp":
        headers[TIMESTAMP_HEADER] = "1700000000²"  # str.isdigit() says yes, int() says no
    else:
        headers[SIGNATURE_HEADER] = "AAAA"  # valid base64, not a DER signature
    assert not _verify(signer, raw, headers, key=key)


def test_parse_events_normalises_and_skips_non_delivery_events() -> None:
    items = [event_item("m1", "processed"), event_item("m1", "deferred", response="try later"),
             event_item("m1", "delivered"), event_item("m1", "open"), event_item("m1", "click", url="https://x"),
             event_item("m2", "bounce", reason="550 5.1.1 unknown user"), event_item("m3", "dropped",
                                                                                   reason="Bounced Address"),
             event_item("m1", "spamreport"), event_item("m1", "unsubscribe"), event_item("m1", "group_unsubscribe")]
    events = sendgrid.parse_events(items)
    assert [(e.payload["id"], e.payload["status"]) for e in events] == [
        ("m1", "sent"), ("m1", "delivered"), ("m1", "read"), ("m2", "failed"), ("m3", "failed")]
    assert all(e.kind == "status" and e.channel_ref == "" for e in events)
    bounce = events[3]
    assert (bounce.event_id, bounce.payload["reason"], bounce.payload["raw"]) == (
        items[5]["sg_event_id"], "550 5.1.1 unknown user", items[5])


def test_events_without_a_message_id_are_skipped() -> None:
    item = event_item("m1", "delivered")
    del item["sg_message_id"]
    assert sendgrid.parse_events([item]) == []


@pytest.mark.parametrize("doc", [{"event": "delivered"}, [{"event": "delivered"}],
                                 [{"sg_event_id": "e1"}], ["string"]])
def test_malformed_event_posts(doc: Any) -> None:
    with pytest.raises(MalformedDelivery):
        sendgrid.parse_events(doc)


# --- Mail Send -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _server() -> Iterator[SendGridServer]:
    s = SendGridServer()
    yield s
    s.close()


@pytest.fixture
def server(_server: SendGridServer) -> Iterator[SendGridServer]:
    yield _server
    _server.responder, _server.delay = None, 0.0


def _send(server: SendGridServer, **overrides: Any) -> str:
    args: dict[str, Any] = {"base_url": server.url, "api_key": API_KEY, "from_email": SUPPORT,
                            "from_name": "Acme Support", "to": CUSTOMER, "subject": "Re: Pedido 123",
                            "text": "Olá!", "in_reply_to": None, "references": [], "timeout": (1, 1)}
    args.update(overrides)
    return sendgrid.send_mail(**args)


def test_send_posts_the_documented_request(server: SendGridServer) -> None:
    before = len(server.requests)
    message_id = _send(server, in_reply_to="in-2@mail.example.com",
                       references=["<in-1@mail.example.com>", "in-2@mail.example.com"])
    request = server.requests[before]
    assert message_id == request["message_id"] and message_id
    assert (request["path"], request["authorization"]) == ("/v3/mail/send", f"Bearer {API_KEY}")
    assert request["body"] == {
        "personalizations": [{"to": [{"email": CUSTOMER}]}], "from": {"email": SUPPORT, "name": "Acme Support"},
        "subject": "Re: Pedido 123", "content": [{"type": "text/plain", "value": "Olá!"}],
        "headers": {"In-Reply-To": "<in-2@mail.example.com>",
                    "References": "<in-1@mail.example.com> <in-2@mail.example.com>"}}


def test_a_first_message_has_no_threading_headers(server: SendGridServer) -> None:
    before = len(server.requests)
    _send(server, from_name=None)
    body = server.requests[before]["body"]
    assert "headers" not in body and body["from"] == {"email": SUPPORT}


def test_client_errors_are_permanent_with_the_first_message(server: SendGridServer) -> None:
    with pytest.raises(ProviderError) as info:
        _send(server, subject="")
    assert (info.value.code, info.value.reason, info.value.retryable, info.value.http_status) == (
        "400", "The subject is required.", False, 400)
    with pytest.raises(ProviderError) as info:
        _send(server, api_key="SG.wrong")
    assert (info.value.code, info.value.retryable) == ("401", False)


def test_throttling_is_retryable_until_the_reset(server: SendGridServer) -> None:
    reset = int(time.time()) + 30
    server.responder = lambda r: (429, sendgrid_error("too many requests"), {"X-RateLimit-Reset": str(reset)})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.retryable) == ("429", True)
    assert info.value.retry_after is not None and 25 <= info.value.retry_after <= 30


def test_server_errors_are_retryable(server: SendGridServer) -> None:
    server.responder = lambda r: (502, None, {})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.retryable, info.value.retry_after) == ("502", True, None)


def test_an_accepted_send_without_message_id_is_a_bad_response(server: SendGridServer) -> None:
    server.responder = lambda r: (202, None, {})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.retryable) == ("bad_response", True)


def test_a_hanging_provider_times_out() -> None:
    hanging = SendGridServer(delay=1.5)  # its own server: the sleeping handler must not answer later tests
    try:
        with pytest.raises(ProviderError) as info:
            _send(hanging, timeout=(1, 0.3))
        assert (info.value.code, info.value.retryable) == ("timeout", True)
    finally:
        hanging.close()
