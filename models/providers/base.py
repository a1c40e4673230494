"""The provider-neutral shapes every channel adapter speaks (see `models.providers.adapter` for the interface).

Inbound: a webhook request (`WebhookRequest`) becomes `InboundEvent`s stored in the inbox; a stored message
event becomes a `ParsedMessage`, a stored status event a `StatusUpdate`. Outbound: an `OutboundMessage` goes out
and a `SendReceipt` comes back. Refusals of a delivery are `Refused` (with the HTTP answer the webhook gives),
failures of a call to the provider are `ProviderError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from models.tickets import DeliveryStatus


class Refused(Exception):
    """A webhook delivery we do not accept: `status` and `code` are the answer the provider gets."""

    status = 400
    code = "bad_delivery"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else type(self).status
        self.code = code if code is not None else type(self).code
        self.details = details


class MalformedDelivery(Refused, ValueError):
    """The delivery is not shaped as the provider documents it; the message names what is wrong."""

    status, code = 400, "malformed_delivery"


class UnsupportedMediaType(Refused):
    status, code = 415, "unsupported_media_type"


class SignatureMissing(Refused):
    status, code = 401, "missing_signature"


class SignatureInvalid(Refused):
    status, code = 403, "invalid_signature"


class UnknownChannel(Refused):
    status, code = 404, "unknown_channel"


@dataclass(frozen=True)
class WebhookRequest:
    """What a webhook view hands an adapter: the raw bytes and whatever the provider signs or names us by.

    `route` says which of the provider's callbacks was called (e.g. "messages", "status", "events");
    `url` is the public URL as the provider requested it (PUBLIC_BASE_URL + path + query);
    `form` every (name, value) pair of a urlencoded or multipart body, repeated names included (`raw_body` is
    then empty: parsing the form consumed it);
    `path_token` the variable part of the URL, if the route has one (a secret or a channel ref).
    """

    route: str
    raw_body: bytes
    mimetype: str
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    form: Sequence[tuple[str, str]] = ()
    query: Mapping[str, str] = field(default_factory=dict)
    files_count: int = 0
    path_token: str | None = None

    def header(self, name: str) -> str | None:
        """A request header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def form_dict(self) -> dict[str, str]:
        """The form with the first value of each name (the documented providers never repeat one)."""
        out: dict[str, str] = {}
        for name, value in self.form:
            out.setdefault(name, value)
        return out


@dataclass(frozen=True)
class InboundEvent:
    """One item of a provider delivery, ready to store in the inbox."""

    channel_ref: str  # how the payload names our channel (phone_number_id, number, address)
    event_id: str  # unique per provider: a redelivery carries the same id
    kind: str  # "message" | "status"
    payload: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """A parsed webhook delivery: its events, and the refs naming the channel(s) it is for.

    `refs` are candidates the adapter resolves in `verify_delivery` (several channels for WhatsApp, the
    messaging service then the number for Twilio, none when the signature itself names the channel).
    """

    events: list[InboundEvent]
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ack:
    """A webhook answer other than the default JSON `{"stored", "duplicates"}` (e.g. Twilio's empty TwiML)."""

    body: str
    mimetype: str


# -- what a customer sent -------------------------------------------------------------------------------------

MediaKind = Literal["image", "audio", "video", "document", "sticker", "file"]


@dataclass(frozen=True)
class MediaRef:
    """A media item as the provider names it; fetching the bytes is `ChannelAdapter.fetch_media`."""

    kind: MediaKind
    id: str | None = None  # provider media id (WhatsApp)
    url: str | None = None  # provider URL (Twilio MMS)
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None
    caption: str | None = None
    inline_id: str | None = None  # an email's Content-ID: the HTML shows it in place as cid:<inline_id>
    stored: Mapping[str, Any] | None = None  # came inside the webhook, already in our store: {key, size, sha256}
    error: str | None = None  # came inside the webhook and was refused (size, type): why


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class SharedContact:
    """A contact card the customer shared."""

    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class InteractiveReply:
    """The customer's choice of a button or list row we offered (or a template's quick-reply button)."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Reaction:
    """An emoji on one of the conversation's messages; an empty emoji removes the reaction."""

    message_id: str
    emoji: str


@dataclass(frozen=True)
class EmailThread:
    """Email threading data: the headers a reply must carry and the address the customer wrote to."""

    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    recipient: str | None


@dataclass(frozen=True)
class ParsedMessage:
    """An inbound customer message, provider-neutral.

    `kind` and `body` are what every consumer needs (the bot reads `body`); the typed fields carry the rest.
    `extra` is the provider's own detail, stored with the message as it always was.
    """

    provider_message_id: str
    sender: str  # phone number or email address
    sender_name: str | None
    kind: str  # text, image, audio, video, document, sticker, location, contacts, interactive, reaction, email..
    body: str
    extra: dict[str, Any] = field(default_factory=dict)
    media: tuple[MediaRef, ...] = ()
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    interactive: InteractiveReply | None = None
    reaction: Reaction | None = None
    reply_to: str | None = None  # the provider id of the message this one quotes
    thread: EmailThread | None = None

    def content(self) -> dict[str, Any]:
        """The typed fields that are set, as a JSON document (stored with the message under "content")."""
        doc: dict[str, Any] = {}
        if self.media:
            doc["media"] = [_compact(m.__dict__) for m in self.media]
        if self.location is not None:
            doc["location"] = _compact(self.location.__dict__)
        if self.contacts:
            doc["contacts"] = [{"name": c.name, "phones": list(c.phones), "emails": list(c.emails)}
                               for c in self.contacts]
        if self.interactive is not None:
            doc["interactive"] = _compact(self.interactive.__dict__)
        if self.reaction is not None:
            doc["reaction"] = dict(self.reaction.__dict__)
        if self.reply_to is not None:
            doc["reply_to"] = self.reply_to
        return doc


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's delivery report on one of our outbound messages, in our terms.

    `not_before`: the update must not be applied before then (the sandbox's simulated delivery delay); the
    consumer retries it later, the inbox keeps it meanwhile.
    """

    provider_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    error_reason: str | None = None
    not_before: datetime | None = None
    reference: str | None = None  # our message's reference, echoed by the provider (OutboundMessage.reference)


# -- what we send ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InteractiveButton:
    id: str
    title: str


@dataclass(frozen=True)
class OutboundFile:
    """A file going out with a reply: our signed, expiring link for providers that fetch it (WhatsApp by link,
    Twilio MMS), `read()` for those that take the bytes inline (SendGrid). `kind` is the provider's media kind
    (models.rules.media.outbound_kind), checked before the message was queued."""

    filename: str
    content_type: str
    size: int
    url: str
    read: Callable[[], bytes]
    kind: str = "file"


@dataclass(frozen=True)
class OutboundMessage:
    """One reply to send, with what any adapter may need to address and thread it.

    `to` is the contact's address in the channel's terms (digits of the phone number, or the email address);
    `last_inbound` is the stored payload of the customer's latest message on the ticket (email threading).
    `reference` names our message to the provider, which echoes it in its status callbacks (WhatsApp
    `biz_opaque_callback_data`, SendGrid `custom_args`, Twilio's per-message StatusCallback URL): a send whose
    worker died after the provider took it is recognised by its callback instead of being sent again.
    """

    ticket_id: int
    to: str
    body: str
    template: dict[str, Any] | None = None
    media: MediaRef | None = None
    buttons: tuple[InteractiveButton, ...] = ()
    subject: str | None = None
    last_inbound: Mapping[str, Any] | None = None
    reply_to: str | None = None  # provider id of the message to quote
    reference: str | None = None
    files: tuple[OutboundFile, ...] = ()
    reaction: Reaction | None = None  # an emoji on the customer's message `reaction.message_id` ("" removes it)
    # quick-reply buttons {"buttons": [{id, title}]} or a list {"list": {button, sections: [{title?, rows}]}}
    interactive: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SendReceipt:
    """A send the provider accepted. `events` are reports the adapter already knows will follow (the sandbox's
    simulated delivered/read): the caller stores them in the inbox like a webhook delivery would."""

    provider_message_id: str
    events: tuple[InboundEvent, ...] = ()


@dataclass(frozen=True)
class MediaContent:
    """Fetched media bytes; `sha256` is the provider's own checksum of them when it reports one."""

    content: bytes
    mime_type: str
    filename: str | None = None
    sha256: str | None = None


@dataclass
class ProviderError(Exception):
    """A call to the provider that failed. `retryable` says whether trying again may succeed (timeouts, 429, 5xx).

    Code "unsupported" (never retryable) means the adapter does not implement the operation or message kind.
    """

    code: str
    reason: str
    retryable: bool = False
    retry_after: float | None = None
    http_status: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


def unsupported(what: str, provider: str) -> ProviderError:
    """The error an adapter raises for an operation it does not implement (yet)."""
    return ProviderError("unsupported", f"{provider} adapter does not support {what}", retryable=False)
