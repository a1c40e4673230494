"""Our reference on every send, and back in each provider's status callbacks as the local fakes echo it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from models.infra.config import Settings
from models.org import Channel, ChannelKind
from models.providers.adapter import Transport
from models.providers.base import OutboundMessage, WebhookRequest
from models.providers.registry import adapter_for
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer, status_for
from tests.fakes.sendgrid import EventSigner, SendGridServer
from tests.fakes.twilio import TwilioServer
from tests.fakes.whatsapp import APP_SECRET, PHONE_NUMBER_ID, encode, sign

PUBLIC = "https://atendimento.example.com"
SIGNER = EventSigner()
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def transport(graph: GraphServer, twilio_server: TwilioServer, sendgrid_server: SendGridServer) -> Transport:
    return Transport(Settings.from_env({
        "SECRET_KEY": "x" * 32, "WHATSAPP_GRAPH_BASE_URL": graph.url, "TWILIO_API_BASE_URL": twilio_server.url,
        "SENDGRID_API_BASE_URL": sendgrid_server.url, "PUBLIC_BASE_URL": PUBLIC, "HTTP_READ_TIMEOUT": "2"}))


def _channel(kind: ChannelKind, external_id: str, **creds: str) -> Channel:
    return Channel(id=7, tenant_id=1, kind=kind, external_id=external_id, name="Acme", credentials=creds, settings={})


def test_whatsapp_sends_carry_our_reference_and_its_status_webhooks_return_it(graph: GraphServer,
                                                                             transport: Transport) -> None:
    adapter = adapter_for(ChannelKind.WHATSAPP)
    channel = _channel(ChannelKind.WHATSAPP, PHONE_NUMBER_ID, access_token=graph.token, app_secret=APP_SECRET)
    receipt = adapter.send(channel, OutboundMessage(ticket_id=1, to="5511987654321", body="oi", reference="42"),
                           transport, NOW)
    record = graph.requests[-1]
    assert record["body"]["biz_opaque_callback_data"] == "42"
    raw = encode(status_for(record, receipt.provider_message_id, "sent"))
    request = WebhookRequest(route="messages", raw_body=raw, mimetype="application/json",
                             headers={"X-Hub-Signature-256": sign(raw)})
    [event] = adapter.parse_delivery(request).events
    update = adapter.normalise_status(json.loads(json.dumps(event.payload)))
    assert update is not None and (update.provider_message_id, update.reference) == (receipt.provider_message_id, "42")


def test_twilio_sends_name_a_status_callback_url_carrying_our_reference(twilio_server: TwilioServer,
                                                                        transport: Transport) -> None:
    adapter = adapter_for(ChannelKind.SMS)
    channel = _channel(ChannelKind.SMS, tw.OUR_NUMBER, account_sid=tw.ACCOUNT_SID, auth_token=tw.AUTH_TOKEN)
    receipt = adapter.send(channel, OutboundMessage(ticket_id=1, to="5511987654321", body="oi", reference="42"),
                           transport, NOW)
    url, form = tw.status_callback_for(twilio_server.requests[-1], receipt.provider_message_id, "delivered")
    assert url == f"{PUBLIC}/webhooks/twilio/status?ref=42"
    request = WebhookRequest(route="status", raw_body=b"", mimetype="application/x-www-form-urlencoded",
                             headers=tw.signed_headers(url, form), url=url, form=list(form.items()),
                             query={"ref": "42"})
    delivery = adapter.parse_delivery(request)
    verified = adapter.verify_delivery(request, delivery, _Directory([channel]))  # the signature covers ?ref=
    update = adapter.normalise_status(verified.events[0].payload)
    assert update is not None and (update.provider_message_id, update.reference) == (receipt.provider_message_id, "42")
    assert urlsplit(url).query == "ref=42"


def test_sendgrid_sends_carry_custom_args_that_come_back_on_every_event(sendgrid_server: SendGridServer,
                                                                       transport: Transport) -> None:
    adapter = adapter_for(ChannelKind.EMAIL)
    channel = _channel(ChannelKind.EMAIL, sg.SUPPORT, api_key=sg.API_KEY, inbound_secret="s" * 20,
                       event_public_key=SIGNER.public_key_b64)
    receipt = adapter.send(channel, OutboundMessage(ticket_id=1, to=sg.CUSTOMER, body="oi", reference="42"),
                           transport, NOW)
    record = sendgrid_server.requests[-1]
    assert record["body"]["custom_args"] == {"atendimento_ref": "42"}
    raw = json.dumps(sg.events_for(record, "delivered")).encode()
    request = WebhookRequest(route="events", raw_body=raw, mimetype="application/json",
                             headers=SIGNER.sign(raw, str(int(time.time()))), path_token="s" * 20)
    adapter.authenticate(request, _Directory([channel]))
    [event] = adapter.parse_delivery(request).events
    update = adapter.normalise_status(event.payload)
    assert update is not None and (update.provider_message_id, update.reference) == (receipt.provider_message_id, "42")


class _Directory:
    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels

    def find(self, refs: object) -> dict[str, Channel]:
        return {c.external_id: c for c in self.channels if c.external_id in refs}  # type: ignore[operator]

    def active(self) -> list[Channel]:
        return list(self.channels)

    def secrets(self, name: str, fresh: bool = False) -> frozenset[str]:
        return frozenset(str((c.credentials or {}).get(name) or "") for c in self.channels) - {""}
