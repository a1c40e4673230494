"""The one interface every channel speaks: receive a webhook, read what it carries, send, fetch, validate.

Triage, outbound and the webhook views talk to a `ChannelAdapter` from `models.providers.registry` (keyed by
`ChannelKind`) and never to a provider module. A new channel kind is one module implementing this Protocol, one
entry in the registry, and a migration widening the `channelkind` check constraint.

How a webhook delivery is taken in (`models.services.inbound.receive`):
0. `authenticate(request, directory)`: the signature checks that need no parsing (WhatsApp's HMAC of the raw
   body, SendGrid's ECDSA for the channel its URL names), so a forged body is refused before it is even parsed.
1. `parse_delivery(request)`: content type, shape, events; raises `MalformedDelivery` / `UnsupportedMediaType`.
2. `verify_delivery(request, delivery, directory)`: find the delivery's channel(s) through the directory and check
   the signature with each channel's secret; raises `UnknownChannel`, `SignatureMissing`, `SignatureInvalid` (or a
   `Refused` of its own). Returns the events keyed to the channels they belong to.
3. The events are stored once each in the inbox; `acknowledge` may shape the answer (TwiML for Twilio).

Later, a worker reads a stored event back with `parse_message` or `normalise_status`, both pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import requests

from models.infra.config import Settings
from models.org import Channel, ChannelKind, ChannelRef
from models.providers.base import (
    Ack,
    Delivery,
    InboundEvent,
    MalformedDelivery,
    MediaContent,
    MediaRef,
    OutboundMessage,
    ParsedMessage,
    SendReceipt,
    StatusUpdate,
    UnsupportedMediaType,
    WebhookRequest,
)


class ChannelDirectory(Protocol):
    """The active channels of one kind, as the adapter's `verify_delivery` may look them up."""

    def find(self, refs: Iterable[str]) -> dict[str, ChannelRef]:
        """Channels by external id, for those of `refs` that name one."""
        ...

    def active(self) -> list[ChannelRef]:
        """Every active channel of the kind (for deliveries only a signature names the channel of)."""
        ...

    def secrets(self, name: str, fresh: bool = False) -> frozenset[str]:
        """The non-empty credential `name` of every active channel of the kind: what a signature that names no
        channel may have been made with. May be a few seconds old unless `fresh` (ask again before refusing)."""
        ...


@dataclass(frozen=True)
class Verified:
    """A delivery that passed `verify_delivery`: each event's `channel_ref` is a key of `channels`."""

    channels: dict[str, ChannelRef]
    events: list[InboundEvent]


@dataclass(frozen=True)
class Transport:
    """How an adapter reaches its provider: base URLs and timeouts from the settings, an optional session."""

    settings: Settings
    http: requests.Session | None = None

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.http_connect_timeout, self.settings.http_read_timeout)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return (self.http or requests).post(url, timeout=self.timeout, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return (self.http or requests).get(url, timeout=self.timeout, **kwargs)


class ChannelAdapter(Protocol):
    """One provider's channel. Implementations are stateless: everything arrives as arguments."""

    kind: ChannelKind  # the registry key, and the kind of channel rows this adapter serves
    provider: str  # the name inbox rows, breakers and metrics use
    address: Literal["phone", "email"]  # how a customer of this channel is identified

    # -- receiving ------------------------------------------------------------------------------------------
    def authenticate(self, request: WebhookRequest, directory: ChannelDirectory) -> None:
        """Refuse a delivery whose raw signature no channel's secret verifies, before it is parsed; a no-op where
        the scheme signs parsed content (Twilio signs the form) or the channel is only known from the body."""
        ...

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        """The events of one webhook delivery (not yet authenticated)."""
        ...

    def verify_delivery(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        """Find the channel(s) the delivery is for and check it was signed with their secret."""
        ...

    def acknowledge(self, request: WebhookRequest) -> Ack | None:
        """The answer for an accepted delivery, or None for the default JSON count of stored events."""
        ...

    def handshake(self, request: WebhookRequest, directory: ChannelDirectory) -> Ack:
        """A provider's subscription check (WhatsApp's GET hub.challenge); `Refused` where there is none."""
        ...

    def parse_message(self, payload: dict[str, Any]) -> ParsedMessage:
        """The customer message inside a stored inbox payload of kind "message"."""
        ...

    def normalise_status(self, payload: dict[str, Any]) -> StatusUpdate | None:
        """Our delivery status for a stored payload of kind "status"; None when it changes nothing."""
        ...

    def ticket_named(self, channel: Channel, message: ParsedMessage) -> int | None:
        """The ticket id a message names itself (an email's signed reply address), or None."""
        ...

    # -- sending --------------------------------------------------------------------------------------------
    def send(self, channel: Channel, message: OutboundMessage, transport: Transport, now: datetime) -> SendReceipt:
        """Send a text or a template (media and interactive where implemented, else ProviderError "unsupported").
        Raises ProviderError."""
        ...

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        """The bytes of an inbound media reference. Raises ProviderError ("unsupported" where not implemented)."""
        ...

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        """Ask the provider whether the channel's credentials work; raises ProviderError when they do not."""
        ...


def json_body(request: WebhookRequest) -> Any:
    """The JSON document of a delivery: 415 for another content type, 400 when it does not parse."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("expected Content-Type: application/json")
    try:
        return json.loads(request.raw_body)
    except RecursionError as exc:  # nested past the parser's limit: a malformed delivery, never a 500
        raise MalformedDelivery("body is nested too deeply", code="malformed_json") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedDelivery(f"body is not valid JSON: {exc}", code="malformed_json") from exc


def credentials(channel: Channel | ChannelRef, name: str) -> str:
    """A credential of the channel as a string ("" when unset)."""
    value: Mapping[str, Any] = channel.credentials or {}
    return str(value.get(name) or "")
