"""The Twilio SMS adapter against documented signatures and forms, and a local server speaking Twilio's API."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from models.providers import twilio
from models.providers.base import MalformedDelivery, ProviderError
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CUSTOMER,
    MESSAGING_SERVICE_SID,
    OUR_NUMBER,
    TwilioServer,
    inbound_form,
    signed_headers,
    status_form,
    twilio_error,
)

WEBHOOK = "https://atendimento.example/webhooks/twilio/sms?tenant=acme"

# Twilio's documented example (security docs; also the vectors of Twilio's own helper libraries).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309",
              "To": "+18005551212"}


def test_documented_signature_example() -> None:
    assert twilio.compute_signature(DOC_URL, DOC_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio.verify_signature(DOC_URL, DOC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345")


def test_repeated_names_sort_their_values_whatever_the_arrival_order() -> None:
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU="  # Twilio helper-library vector for this form
    assert twilio.compute_signature(DOC_URL, pairs, "12345") == expected
    assert twilio.compute_signature(DOC_URL, list(reversed(pairs)), "12345") == expected
    # A multi-valued mapping (what Flask hands the web layer) keeps both values.
    assert twilio.compute_signature(DOC_URL, MultiDict(pairs), "12345") == expected


def test_signature_matches_the_fake_and_order_does_not_matter() -> None:
    form = inbound_form(body="Olá, ação ✓", media=[("https://api.twilio.com/m/1", "image/jpeg")])
    header = signed_headers(WEBHOOK, form)["X-Twilio-Signature"]
    assert twilio.verify_signature(WEBHOOK, form, header, AUTH_TOKEN)
    assert twilio.verify_signature(WEBHOOK, dict(reversed(list(form.items()))), header, AUTH_TOKEN)
    assert twilio.verify_signature(WEBHOOK, list(form.items()), f" {header} ", AUTH_TOKEN)


@pytest.mark.parametrize("tamper", ["body", "added", "removed", "url", "query", "token", "none", "empty", "junk"])
def test_tampered_deliveries_fail_verification(tamper: str) -> None:
    form = inbound_form()
    header: str | None = signed_headers(WEBHOOK, form)["X-Twilio-Signature"]
    url, token = WEBHOOK, AUTH_TOKEN
    if tamper == "body":
        form["Body"] += "!"
    elif tamper == "added":
        form["Extra"] = ""
    elif tamper == "removed":
        del form["FromCity"]
    elif tamper == "url":
        url = url.replace("https://", "http://")
    elif tamper == "query":
        url = url.split("?")[0]
    elif tamper == "token":
        token = "another-token"
    elif tamper == "none":
        header = None
    elif tamper == "empty":
        header = ""
    else:
        header = "not base64 at all"
    assert not twilio.verify_signature(url, form, header, token)


def test_parse_inbound_text() -> None:
    form = inbound_form("SM" + "a" * 32, body="Oi")
    event = twilio.parse_inbound(form)
    assert (event.channel_ref, event.event_id, event.kind) == (OUR_NUMBER, "SM" + "a" * 32, "message")
    assert event.payload == form and event.payload is not form
    parsed = twilio.parse_message(event.payload)
    assert (parsed.provider_message_id, parsed.sender, parsed.sender_name, parsed.kind, parsed.body) == (
        "SM" + "a" * 32, CUSTOMER, None, "text", "Oi")
    assert parsed.extra == {"media": [], "num_segments": 1}


def test_parse_inbound_media() -> None:
    media = [("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg"),
             ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", "application/pdf")]
    parsed = twilio.parse_message(twilio.parse_inbound(inbound_form(body="", media=media, num_segments=2)).payload)
    assert (parsed.kind, parsed.body, parsed.extra["num_segments"]) == ("media", "", 2)
    assert parsed.extra["media"] == [{"url": u, "content_type": t} for u, t in media]


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_inbound_without_required_fields_is_malformed(missing: str) -> None:
    form = inbound_form()
    del form[missing]
    with pytest.raises(MalformedDelivery, match=missing):
        twilio.parse_inbound(form)


def test_channel_refs_try_the_messaging_service_first() -> None:
    assert twilio.channel_refs(inbound_form()) == [OUR_NUMBER]
    form = inbound_form(messaging_service_sid=MESSAGING_SERVICE_SID)
    assert twilio.channel_refs(form) == [MESSAGING_SERVICE_SID, OUR_NUMBER]
    status = status_form("SM1", "sent", messaging_service_sid=MESSAGING_SERVICE_SID)
    assert twilio.channel_refs(status, status=True) == [MESSAGING_SERVICE_SID, OUR_NUMBER]


@pytest.mark.parametrize(("raw", "ours"), [
    ("accepted", "queued"), ("scheduled", "queued"), ("queued", "queued"), ("sending", "queued"),
    ("sent", "sent"), ("delivered", "delivered"), ("read", "read"),
    ("undelivered", "failed"), ("failed", "failed"), ("canceled", "failed"), ("receiving", None),
])
def test_status_callbacks_are_normalised(raw: str, ours: str | None) -> None:
    form = status_form("SM" + "b" * 32, raw)
    event = twilio.parse_status(form)
    assert (event.kind, event.event_id, event.channel_ref) == ("status", f"SM{'b' * 32}:{raw}", OUR_NUMBER)
    assert event.payload == {"id": "SM" + "b" * 32, "status": ours, "error_code": None, "raw": form}


def test_failed_status_carries_the_error_code_and_each_step_is_a_new_event() -> None:
    failed = twilio.parse_status(status_form("SM1", "undelivered", error_code="30005"))
    assert (failed.payload["status"], failed.payload["error_code"]) == ("failed", "30005")
    assert twilio.parse_status(status_form("SM1", "sent")).event_id != twilio.parse_status(
        status_form("SM1", "delivered")).event_id


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_status_without_required_fields_is_malformed(missing: str) -> None:
    form = status_form("SM1", "sent")
    del form[missing]
    with pytest.raises(MalformedDelivery, match=missing):
        twilio.parse_status(form)


def test_empty_twiml_is_an_empty_response_document() -> None:
    assert ET.fromstring(twilio.EMPTY_TWIML.encode()).tag == "Response"  # noqa: S314 - our own constant


@pytest.fixture(scope="module")
def _server() -> Iterator[TwilioServer]:
    s = TwilioServer()
    yield s
    s.close()


@pytest.fixture
def server(_server: TwilioServer) -> Iterator[TwilioServer]:
    yield _server
    _server.responder, _server.delay = None, 0.0


def _send(server: TwilioServer, **overrides: Any) -> str:
    args: dict[str, Any] = {"base_url": server.url, "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                            "from_": OUR_NUMBER, "messaging_service_sid": None, "to": CUSTOMER, "body": "Olá!",
                            "status_callback": None, "timeout": (1, 1)}
    args.update(overrides)
    return twilio.send_sms(**args)


def test_send_posts_the_documented_request(server: TwilioServer) -> None:
    before = len(server.requests)
    sid = _send(server, status_callback="https://atendimento.example/webhooks/twilio/status")
    request = server.requests[before]
    assert sid.startswith("SM") and len(sid) == 34
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["auth"] == (ACCOUNT_SID, AUTH_TOKEN)
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {"To": CUSTOMER, "From": OUR_NUMBER, "Body": "Olá!",
                               "StatusCallback": "https://atendimento.example/webhooks/twilio/status"}


def test_send_through_a_messaging_service(server: TwilioServer) -> None:
    before = len(server.requests)
    _send(server, from_=None, messaging_service_sid=MESSAGING_SERVICE_SID)
    assert server.requests[before]["form"] == {"To": CUSTOMER, "MessagingServiceSid": MESSAGING_SERVICE_SID,
                                               "Body": "Olá!"}


def test_send_without_any_sender_is_refused_before_calling(server: TwilioServer) -> None:
    before = len(server.attempts)
    with pytest.raises(ProviderError) as info:
        _send(server, from_=None)
    assert (info.value.code, info.value.retryable) == ("no_sender", False)
    assert len(server.attempts) == before


@pytest.mark.parametrize(("overrides", "code", "status"), [
    ({"to": "not-a-number"}, "21211", 400),
    ({"auth_token": "wrong"}, "20003", 401),
])
def test_client_errors_are_permanent_and_carry_twilios_code(server: TwilioServer, overrides: dict[str, Any],
                                                            code: str, status: int) -> None:
    with pytest.raises(ProviderError) as info:
        _send(server, **overrides)
    assert (info.value.code, info.value.retryable, info.value.http_status) == (code, False, status)
    assert info.value.reason


def test_unsubscribed_recipient_is_permanent(server: TwilioServer) -> None:
    server.responder = lambda r: (400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), {})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.reason, info.value.retryable) == (
        "21610", "Attempt to send to unsubscribed recipient", False)


def test_throttling_is_retryable_with_retry_after(server: TwilioServer) -> None:
    server.responder = lambda r: (429, twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": "7"})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.retryable, info.value.retry_after, info.value.http_status) == (
        "20429", True, 7.0, 429)


@pytest.mark.parametrize("value", ["Wed, 21 Oct 2015 07:28:00 GMT", "nan", "-5"])
def test_unusable_retry_after_is_ignored(server: TwilioServer, value: str) -> None:
    server.responder = lambda r: (429, twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": value})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert info.value.retry_after == (0.0 if value == "-5" else None)


def test_server_errors_are_retryable(server: TwilioServer) -> None:
    server.responder = lambda r: (503, {}, {})
    with pytest.raises(ProviderError) as info:
        _send(server)
    assert (info.value.code, info.value.retryable, info.value.retry_after, info.value.http_status) == (
        "503", True, None, 503)


def test_a_hanging_provider_times_out() -> None:
    hanging = TwilioServer(delay=1.5)  # its own server: the sleeping handler must not answer later tests
    try:
        with pytest.raises(ProviderError) as info:
            _send(hanging, timeout=(1, 0.3))
        assert (info.value.code, info.value.retryable) == ("timeout", True)
    finally:
        hanging.close()


def test_an_unreachable_provider_is_retryable() -> None:
    closed = TwilioServer()
    closed.close()
    with pytest.raises(ProviderError) as info:
        _send(closed)
    assert (info.value.code, info.value.retryable) == ("connection", True)
