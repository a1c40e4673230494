"""The WhatsApp adapter against documented payloads and a local server speaking the Graph API."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from models.providers import whatsapp
from models.providers.base import MalformedDelivery, ProviderError
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import APP_SECRET, encode, sign, status_delivery, text_delivery


def test_signature_is_checked_over_the_raw_bytes() -> None:
    raw = encode(text_delivery("wamid.1", body="Olá, ação"))
    assert b"\\u00e1" in raw  # escaped as Meta sends it
    assert whatsapp.verify_signature(raw, sign(raw), APP_SECRET)
    assert not whatsapp.verify_signature(raw, sign(raw, "other"), APP_SECRET)
    assert not whatsapp.verify_signature(raw + b" ", sign(raw), APP_SECRET)
    assert not whatsapp.verify_signature(raw, None, APP_SECRET)
    assert not whatsapp.verify_signature(raw, sign(raw).removeprefix("sha256="), APP_SECRET)


def test_a_delivery_with_several_entries_changes_and_items_yields_every_event() -> None:
    doc = text_delivery("wamid.1")
    second = copy.deepcopy(doc["entry"][0])
    second["changes"][0]["value"]["messages"][0]["id"] = "wamid.2"
    second["changes"].append(status_delivery("wamid.out", "read")["entry"][0]["changes"][0])
    doc["entry"].append(second)
    delivery = whatsapp.parse_delivery(doc)
    assert [(e.kind, e.event_id) for e in delivery.events] == [
        ("message", "wamid.1"), ("message", "wamid.2"), ("status", "wamid.out:read")]
    assert delivery.refs == {"106540352242922"}


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.update(object="page"), "object"),
    (lambda d: d.pop("entry"), "entry"),
    (lambda d: d["entry"][0]["changes"][0]["value"].pop("metadata"), "metadata.phone_number_id"),
    (lambda d: d["entry"][0]["changes"][0]["value"]["messages"][0].pop("from"), "messages[]"),
])
def test_malformed_deliveries_name_what_is_wrong(mutate: Any, field: str) -> None:
    doc = text_delivery("wamid.1")
    mutate(doc)
    with pytest.raises(MalformedDelivery, match=field.replace("[", r"\[").replace("]", r"\]")):
        whatsapp.parse_delivery(doc)


def test_parse_media_and_interactive_messages() -> None:
    image = {"metadata": {}, "contact": None, "message": {
        "from": "5511987654321", "id": "wamid.i", "type": "image",
        "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "abc", "caption": "foto"}}}
    parsed = whatsapp.parse_message(image)
    assert (parsed.kind, parsed.body, parsed.extra["id"], parsed.extra["mime_type"]) == (
        "image", "foto", "MEDIA1", "image/jpeg")
    button = {"metadata": {}, "contact": None, "message": {
        "from": "5511987654321", "id": "wamid.b", "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "opt-2", "title": "Vendas"}}}}
    parsed = whatsapp.parse_message(button)
    assert (parsed.body, parsed.extra["reply_id"]) == ("Vendas", "opt-2")


def _send(graph: GraphServer, token: str = "example-graph-token") -> str:
    return whatsapp.send(base_url=graph.url, version="v21.0", phone_number_id="106540352242922", token=token,
                              to="5511987654321", body="Olá!", timeout=(1, 1))


def test_send_text_posts_the_documented_request(graph: GraphServer) -> None:
    before = len(graph.requests)
    wamid = _send(graph)
    request = graph.requests[before]
    assert wamid.startswith("wamid.")
    assert request["path"] == "/v21.0/106540352242922/messages"
    assert request["body"] == {"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to": "5511987654321", "type": "text", "text": {"body": "Olá!"}}


def test_a_bad_token_is_a_permanent_error(graph: GraphServer) -> None:
    with pytest.raises(ProviderError) as info:
        _send(graph, token="wrong")
    assert (info.value.code, info.value.retryable, info.value.http_status) == ("190", False, 401)


def test_server_errors_and_throttling_are_retryable() -> None:
    server = GraphServer(responder=lambda r: (429, {"error": {"message": "rate", "code": 130429}},
                                              {"Retry-After": "7"}))
    try:
        with pytest.raises(ProviderError) as info:
            _send(server)
        assert (info.value.retryable, info.value.retry_after) == (True, 7.0)
        server.responder = lambda r: (503, {"error": {"message": "down", "code": 2}}, {})
        with pytest.raises(ProviderError) as info:
            _send(server)
        assert info.value.retryable
    finally:
        server.close()


def test_a_hanging_provider_times_out() -> None:
    server = GraphServer(delay=3)
    try:
        with pytest.raises(ProviderError) as info:
            _send(server)
        assert (info.value.code, info.value.retryable) == ("timeout", True)
    finally:
        server.close()
