"""What every provider adapter shares: the inbound event shape and the send error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class MalformedDelivery(ValueError):
    """The delivery is not shaped as the provider documents it; the message names what is wrong."""


@dataclass(frozen=True)
class InboundEvent:
    """One item of a provider delivery, ready to store in the inbox."""

    channel_ref: str  # how the payload names our channel (phone_number_id, number, address)
    event_id: str  # unique per provider: a redelivery carries the same id
    kind: str  # "message" | "status"
    payload: dict[str, Any]


@dataclass(frozen=True)
class ParsedMessage:
    """An inbound customer message, provider-neutral."""

    provider_message_id: str
    sender: str  # phone number or email address
    sender_name: str | None
    kind: str  # text, image, audio, video, document, sticker, location, contacts, interactive, ...
    body: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderError(Exception):
    """A send that failed. `retryable` says whether trying again may succeed (timeouts, 429, 5xx)."""

    code: str
    reason: str
    retryable: bool
    retry_after: float | None = None
    http_status: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"
