"""The channel-adapter contract, run against every adapter with its local fake server (the sandbox needs none).

Each case builds deliveries exactly as its provider sends and signs them (tests/fakes); the assertions are the
same for all: what triage, outbound and the webhook views rely on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.infra.config import Settings
from models.org import Channel, ChannelKind
from models.providers.adapter import ChannelAdapter, Transport
from models.providers.base import (
    InteractiveButton,
    MalformedDelivery,
    MediaRef,
    OutboundMessage,
    ProviderError,
    Refused,
    SignatureInvalid,
    SignatureMissing,
    WebhookRequest,
)
from models.providers.registry import ADAPTERS, adapter_for
from models.providers.sandbox import sign as sandbox_sign
from models.tickets import DeliveryStatus
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes import whatsapp as wa
from tests.fakes.graph import GraphServer
from tests.fakes.sendgrid import EventSigner, SendGridServer
from tests.fakes.twilio import TwilioServer

PUBLIC = "https://atendimento.example.com"
SIGNER = EventSigner()


class Directory:
    """The channels an adapter may find, in memory."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self.channels = list(channels)

    def find(self, refs: Iterable[str]) -> dict[str, Channel]:
        wanted = set(refs)
        return {c.external_id: c for c in self.channels if c.external_id in wanted}

    def active(self) -> list[Channel]:
        return list(self.channels)

    def secrets(self, name: str, fresh: bool = False) -> frozenset[str]:
        return frozenset(str((c.credentials or {}).get(name) or "") for c in self.channels) - {""}


@dataclass
class Case:
    kind: ChannelKind
    channel: Callable[[], Channel]
    customer: str  # the contact's address as outbound hands it to the adapter
    sender: str  # the sender as parse_message reports it
    message: Callable[[Channel, str], WebhookRequest]  # a signed text delivery with this body
    status: Callable[[Channel, str], WebhookRequest]  # a signed "delivered" report for our message id
    tamper: Callable[[WebhookRequest], WebhookRequest]  # the same delivery, no longer matching its signature
    unsigned: Callable[[WebhookRequest], WebhookRequest] | None
    malformed: Callable[[Channel], WebhookRequest]
    bad_credentials: Callable[[Channel], Channel]


def _channel(kind: ChannelKind, external_id: str, **credentials: str) -> Channel:
    return Channel(id=1, tenant_id=1, kind=kind, name="Acme", external_id=external_id, credentials=credentials,
                   settings={}, active=True)


def _replace(request: WebhookRequest, **changes: Any) -> WebhookRequest:
    return WebhookRequest(**{**request.__dict__, **changes})


def _without(request: WebhookRequest, header: str) -> WebhookRequest:
    return _replace(request, headers={k: v for k, v in request.headers.items() if k.lower() != header.lower()})


# -- WhatsApp ---------------------------------------------------------------------------------------------------

def _wa_json(doc: dict[str, Any], secret: str) -> WebhookRequest:
    raw = wa.encode(doc)
    return WebhookRequest(route="messages", raw_body=raw, mimetype="application/json",
                          headers={"X-Hub-Signature-256": wa.sign(raw, secret)})


WHATSAPP = Case(
    kind=ChannelKind.WHATSAPP,
    channel=lambda: _channel(ChannelKind.WHATSAPP, wa.PHONE_NUMBER_ID, app_secret=wa.APP_SECRET,
                             verify_token="v", access_token="example-graph-token"),
    customer="5511987654321", sender="5511987654321",
    message=lambda c, body: _wa_json(wa.text_delivery("wamid.c1", body=body), wa.APP_SECRET),
    status=lambda c, mid: _wa_json(wa.status_delivery(mid, "delivered"), wa.APP_SECRET),
    tamper=lambda r: _replace(r, raw_body=r.raw_body.replace(b"wamid.c1", b"wamid.c2")),
    unsigned=lambda r: _without(r, "X-Hub-Signature-256"),
    malformed=lambda c: _wa_json({"object": "page", "entry": []}, wa.APP_SECRET),
    bad_credentials=lambda c: _channel(c.kind, c.external_id, access_token="revoked"),
)


# -- Twilio -----------------------------------------------------------------------------------------------------

def _tw_form(route: str, form: dict[str, str]) -> WebhookRequest:
    url = f"{PUBLIC}/webhooks/twilio/{'sms' if route == 'messages' else 'status'}"
    return WebhookRequest(route=route, raw_body=b"", mimetype="application/x-www-form-urlencoded",
                          headers=tw.signed_headers(url, form), url=url, form=list(form.items()))


TWILIO = Case(
    kind=ChannelKind.SMS,
    channel=lambda: _channel(ChannelKind.SMS, tw.OUR_NUMBER, account_sid=tw.ACCOUNT_SID, auth_token=tw.AUTH_TOKEN),
    customer="5511987654321", sender=tw.CUSTOMER,
    message=lambda c, body: _tw_form("messages", tw.inbound_form(body=body)),
    status=lambda c, mid: _tw_form("status", tw.status_form(mid, "delivered")),
    tamper=lambda r: _replace(r, form=[(k, v + "!" if k == "Body" else v) for k, v in r.form]),
    unsigned=lambda r: _without(r, "X-Twilio-Signature"),
    malformed=lambda c: _tw_form("messages", {k: v for k, v in tw.inbound_form().items() if k != "MessageSid"}),
    bad_credentials=lambda c: _channel(c.kind, c.external_id, account_sid=tw.ACCOUNT_SID, auth_token="guessed"),
)


# -- SendGrid ---------------------------------------------------------------------------------------------------

def _sg_parse(fields: dict[str, str], token: str = "parse-secret") -> WebhookRequest:
    return WebhookRequest(route="inbound", raw_body=b"", mimetype="multipart/form-data", form=list(fields.items()),
                          path_token=token)


def _sg_events(items: list[dict[str, Any]]) -> WebhookRequest:
    raw = json.dumps(items).encode()
    return WebhookRequest(route="events", raw_body=raw, mimetype="application/json",
                          headers=SIGNER.sign(raw, str(int(time.time()))), path_token="parse-secret")


SENDGRID = Case(
    kind=ChannelKind.EMAIL,
    channel=lambda: _channel(ChannelKind.EMAIL, sg.SUPPORT, api_key=sg.API_KEY, inbound_secret="parse-secret",
                             event_public_key=SIGNER.public_key_b64),
    customer=sg.CUSTOMER, sender=sg.CUSTOMER,
    message=lambda c, body: _sg_parse(sg.inbound_parse_fields(text=body)),
    status=lambda c, mid: _sg_events([sg.event_item(mid, "delivered")]),
    # Inbound Parse signs nothing: its URL secret is what a forger gets wrong.
    tamper=lambda r: _replace(r, path_token="guessed") if r.route == "inbound" else _replace(
        r, raw_body=r.raw_body + b" "),
    unsigned=None,
    malformed=lambda c: _sg_parse({k: v for k, v in sg.inbound_parse_fields().items() if k != "from"}),
    bad_credentials=lambda c: _channel(c.kind, c.external_id, api_key="SG.revoked"),
)


# -- Sandbox ----------------------------------------------------------------------------------------------------

SANDBOX_SECRET = "sandbox-secret-0123456789"


def _sbx(channel: Channel, doc: dict[str, Any], secret: str = SANDBOX_SECRET) -> WebhookRequest:
    raw = json.dumps(doc).encode()
    return WebhookRequest(route="messages", raw_body=raw, mimetype="application/json",
                          headers={"X-Sandbox-Signature": sandbox_sign(raw, secret)}, path_token=channel.external_id)


SANDBOX = Case(
    kind=ChannelKind.SANDBOX,
    channel=lambda: _channel(ChannelKind.SANDBOX, "acme-sandbox", secret=SANDBOX_SECRET),
    customer="5511987654321", sender="+5511987654321",
    message=lambda c, body: _sbx(c, {"messages": [{"id": "m1", "from": "+5511987654321", "name": "Maria",
                                                   "type": "text", "text": body}]}),
    status=lambda c, mid: _sbx(c, {"statuses": [{"id": mid, "status": "delivered"}]}),
    tamper=lambda r: _replace(r, raw_body=r.raw_body.replace(b'"m1"', b'"m2"')),
    unsigned=lambda r: _without(r, "X-Sandbox-Signature"),
    malformed=lambda c: _sbx(c, {"messages": [{"id": "m1", "from": "+5511987654321", "type": "image"}]}),
    bad_credentials=lambda c: _channel(c.kind, c.external_id, secret="short"),
)

CASES = [pytest.param(c, id=c.kind.value) for c in (WHATSAPP, TWILIO, SENDGRID, SANDBOX)]


@pytest.fixture(scope="module")
def transport(graph: GraphServer, twilio_server: TwilioServer, sendgrid_server: SendGridServer) -> Transport:
    return Transport(Settings.from_env({
        "SECRET_KEY": "x" * 32, "WHATSAPP_GRAPH_BASE_URL": graph.url, "TWILIO_API_BASE_URL": twilio_server.url,
        "SENDGRID_API_BASE_URL": sendgrid_server.url, "PUBLIC_BASE_URL": PUBLIC, "HTTP_READ_TIMEOUT": "2"}))


def _accept(adapter: ChannelAdapter, request: WebhookRequest, channels: list[Channel]) -> Any:
    adapter.authenticate(request, Directory(channels))
    delivery = adapter.parse_delivery(request)
    return adapter.verify_delivery(request, delivery, Directory(channels))


def test_every_channel_kind_has_an_adapter_registered_under_it() -> None:
    assert set(ADAPTERS) == set(ChannelKind)
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind and adapter_for(kind) is adapter and adapter.address in ("phone", "email")
    assert len({a.provider for a in ADAPTERS.values()}) == len(ADAPTERS)


@pytest.mark.parametrize("case", CASES)
def test_a_signed_message_becomes_one_stored_event_and_a_parsed_message(case: Case) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    request = case.message(channel, "Olá, preciso de ajuda")
    verified = _accept(adapter, request, [channel])
    assert [e.kind for e in verified.events] == ["message"]
    event = verified.events[0]
    assert verified.channels[event.channel_ref] is channel
    stored = json.loads(json.dumps(event.payload))  # what the inbox keeps is plain JSON
    parsed = adapter.parse_message(stored)
    assert (parsed.sender, parsed.body.strip()) == (case.sender, "Olá, preciso de ajuda")
    assert parsed.provider_message_id
    again = _accept(adapter, request, [channel])
    assert again.events[0].event_id == event.event_id  # a redelivery is the same event


@pytest.mark.parametrize("case", CASES)
def test_a_status_report_normalises_to_our_delivery_status(case: Case) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    verified = _accept(adapter, case.status(channel, "OUT-1"), [channel])
    [event] = verified.events
    update = adapter.normalise_status(json.loads(json.dumps(event.payload)))
    assert update is not None
    assert (update.provider_message_id, update.status) == ("OUT-1", DeliveryStatus.DELIVERED)


@pytest.mark.parametrize("case", CASES)
def test_forged_unsigned_malformed_and_unknown_deliveries_are_refused(case: Case) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    good = case.message(channel, "oi")
    with pytest.raises(Refused) as forged:
        _accept(adapter, case.tamper(good), [channel])
    assert forged.value.status == 403
    if case.unsigned is not None:
        with pytest.raises(SignatureMissing):
            _accept(adapter, case.unsigned(good), [channel])
    with pytest.raises(MalformedDelivery) as malformed:
        _accept(adapter, case.malformed(channel), [channel])
    assert (malformed.value.status, malformed.value.code) == (400, "malformed_delivery")
    with pytest.raises(Refused) as unknown:
        _accept(adapter, good, [])
    assert unknown.value.status in (403, 404)  # SendGrid's inbound answers 403 so secrets are not probed


@pytest.mark.parametrize("case", CASES)
def test_a_text_reply_is_accepted_with_the_providers_id(case: Case, transport: Transport) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    message = OutboundMessage(ticket_id=7, to=case.customer, body="Já verifico!", subject="Pedido 123")
    first = adapter.send(channel, message, transport, datetime.now(UTC))
    second = adapter.send(channel, message, transport, datetime.now(UTC))
    assert first.provider_message_id and first.provider_message_id != second.provider_message_id
    for event in first.events:  # follow-up reports (the sandbox's) name the message they report on
        update = adapter.normalise_status(event.payload)
        assert update is not None and update.provider_message_id == first.provider_message_id


@pytest.mark.parametrize("case", CASES)
def test_media_and_buttons_are_sent_or_refused_as_unsupported(case: Case, transport: Transport) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    for message in (
            OutboundMessage(ticket_id=7, to=case.customer, body="foto",
                            media=MediaRef(kind="image", url="https://cdn.example/p.jpg", mime_type="image/jpeg")),
            OutboundMessage(ticket_id=7, to=case.customer, body="Escolha",
                            buttons=(InteractiveButton("a", "Vendas"), InteractiveButton("b", "Suporte")))):
        try:
            outcome: tuple[object, ...] = (bool(adapter.send(channel, message, transport,
                                                              datetime.now(UTC)).provider_message_id),)
        except ProviderError as exc:
            outcome = (exc.code, exc.retryable)
        assert outcome in ((True,), ("unsupported", False))


@pytest.mark.parametrize("case", CASES)
def test_credentials_are_checked_against_the_provider(case: Case, transport: Transport) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    adapter.validate_credentials(channel, transport)
    with pytest.raises(ProviderError) as info:
        adapter.validate_credentials(case.bad_credentials(channel), transport)
    assert not info.value.retryable


@pytest.mark.parametrize("case", CASES)
def test_fetch_media_returns_bytes_or_says_unsupported(case: Case, transport: Transport, graph: GraphServer,
                                                       twilio_server: TwilioServer) -> None:
    adapter, channel = adapter_for(case.kind), case.channel()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    graph.media["MEDIA1"] = (png, "image/png")  # the reference as each provider's own media server knows it
    url = twilio_server.add_media(png, "image/png") if case.kind == ChannelKind.SMS else \
        "data:image/png;base64,iVBORw0KGgo="
    ref = MediaRef(kind="image", id="MEDIA1", url=url, mime_type="image/png")
    try:
        media = adapter.fetch_media(channel, ref, transport)
        outcome: tuple[object, ...] = (media.content.startswith(b"\x89PNG"), media.mime_type)
    except ProviderError as exc:
        outcome = (exc.code, exc.retryable)
    assert outcome in ((True, "image/png"), ("unsupported", False))


def test_whatsapp_validation_names_the_number_it_checked(graph: GraphServer, transport: Transport) -> None:
    before = len(graph.gets)
    adapter_for(ChannelKind.WHATSAPP).validate_credentials(WHATSAPP.channel(), transport)
    assert graph.gets[before]["path"] == f"/v21.0/{wa.PHONE_NUMBER_ID}"
    other = _channel(ChannelKind.WHATSAPP, "999", access_token="example-graph-token")
    with pytest.raises(ProviderError) as info:
        adapter_for(ChannelKind.WHATSAPP).validate_credentials(other, transport)
    assert info.value.code == "100"


def test_sendgrid_validation_needs_the_mail_send_scope(sendgrid_server: SendGridServer, transport: Transport) -> None:
    sendgrid_server.scopes = ("user.profile.read",)
    try:
        with pytest.raises(ProviderError) as info:
            adapter_for(ChannelKind.EMAIL).validate_credentials(SENDGRID.channel(), transport)
        assert info.value.code == "missing_scope"
    finally:
        sendgrid_server.scopes = ("mail.send", "user.profile.read")


def test_sandbox_reports_delivered_then_read_a_moment_after_the_send(transport: Transport) -> None:
    adapter, channel = adapter_for(ChannelKind.SANDBOX), SANDBOX.channel()
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    message = OutboundMessage(ticket_id=7, to="5511987654321", body="oi")
    real = Transport(Settings.from_env({"SECRET_KEY": "x" * 32, "REDIS_URL": "redis://127.0.0.1:1/0",
                                        "DATABASE_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/none"}))
    receipt = adapter.send(channel, message, real, now)
    updates = [adapter.normalise_status(e.payload) for e in receipt.events]
    assert [(u.status, u.not_before) for u in updates if u] == [
        (DeliveryStatus.DELIVERED, now + timedelta(seconds=1)), (DeliveryStatus.READ, now + timedelta(seconds=2))]
    assert len({e.event_id for e in receipt.events}) == 2
    # Embedded (in-memory broker, whose retries are lost): the same reports, due at once.
    assert transport.settings.embedded
    embedded = [adapter.normalise_status(e.payload) for e in adapter.send(channel, message, transport, now).events]
    assert [(u.status, u.not_before) for u in embedded if u] == [
        (DeliveryStatus.DELIVERED, None), (DeliveryStatus.READ, None)]


def test_whatsapp_typed_fields_for_every_message_kind() -> None:
    adapter = adapter_for(ChannelKind.WHATSAPP)

    def parse(message: dict[str, Any]) -> Any:
        return adapter.parse_message({"metadata": {}, "contact": None, "message": {
            "from": "5511987654321", "id": "wamid.x", **message}})

    image = parse({"type": "image", "image": {"id": "M1", "mime_type": "image/jpeg", "caption": "foto"},
                   "context": {"from": "15550783881", "id": "wamid.quoted"}})
    assert (image.media[0].id, image.media[0].kind, image.reply_to) == ("M1", "image", "wamid.quoted")
    reaction = parse({"type": "reaction", "reaction": {"message_id": "wamid.out", "emoji": "👍"}})
    assert reaction.reaction is not None and reaction.reaction.emoji == "👍"
    location = parse({"type": "location", "location": {"latitude": -23.5, "longitude": -46.6, "name": "Loja"}})
    assert location.location is not None and (location.location.latitude, location.body) == (-23.5, "Loja")
    contacts = parse({"type": "contacts", "contacts": [{"name": {"formatted_name": "João"},
                                                        "phones": [{"phone": "+55 11 9999", "wa_id": "551199"}]}]})
    assert [(c.name, c.phones) for c in contacts.contacts] == [("João", ("551199",))]
    button = parse({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
        "id": "r1", "title": "Vendas", "description": "Comprar"}}})
    assert button.interactive is not None and button.interactive.description == "Comprar"
    assert parse({"type": "text", "text": {"body": "oi"}}).content() == {}


def test_a_refusal_carries_the_answer_the_webhook_gives() -> None:
    exc = SignatureInvalid("nope")
    assert (exc.status, exc.code, exc.message) == (403, "invalid_signature", "nope")


def test_twilio_finds_a_number_only_within_its_account() -> None:
    adapter, channel = adapter_for(ChannelKind.SMS), TWILIO.channel()
    form = tw.inbound_form()
    form["AccountSid"] = "AC" + "9" * 32
    with pytest.raises(Refused) as info:
        _accept(adapter, _tw_form("messages", form), [channel])
    assert (info.value.status, info.value.code) == (404, "unknown_channel")
    service = _channel(ChannelKind.SMS, tw.MESSAGING_SERVICE_SID, account_sid=tw.ACCOUNT_SID,
                       auth_token=tw.AUTH_TOKEN)
    verified = _accept(adapter, _tw_form("messages", tw.inbound_form(
        messaging_service_sid=tw.MESSAGING_SERVICE_SID)), [channel, service])
    assert list(verified.channels.values()) == [service]  # the service wins over the number
