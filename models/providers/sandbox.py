"""The sandbox channel: a provider that lives inside atendimento, for the embedded default and demos.

Nothing leaves the process. Customer messages are *simulated*: a JSON delivery posted to
`POST /webhooks/sandbox/<external_id>`, signed `X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of the raw body>`
with the channel's `secret` credential, goes through the same path as any provider's webhook (verify, inbox,
triage). Its body:

    {"messages": [{"id": "m1", "from": "+5511987654321", "name": "Maria", "type": "text", "text": "Olá"},
                  {"id": "m2", "from": "...", "type": "image", "media": {"url": "data:image/png;base64,...",
                   "mime_type": "image/png", "caption": "foto"}},
                  {"id": "m3", "from": "...", "type": "reaction", "reaction": {"message_id": "sbx-..", "emoji": "👍"}},
                  {"id": "m4", "from": "...", "type": "location", "location": {"latitude": -23.5, "longitude": -46.6}},
                  {"id": "m5", "from": "...", "type": "interactive", "interactive": {"id": "opt-1", "title": "Vendas"},
                   "reply_to": "sbx-.."}],
     "statuses": [{"id": "sbx-..", "status": "read"}, {"id": "sbx-..", "status": "failed",
                   "error": {"code": "E1", "reason": "simulated"}}]}

Types: text, image, audio, video, document, sticker, location, contacts, interactive, reaction. Ids are scoped by
channel in the inbox, so two tenants' simulators may reuse "m1".

Replies are "delivered" locally: `send` accepts at once with a fresh `sbx-...` id, and its receipt carries two
status events, `delivered` (SANDBOX_DELIVERED_AFTER seconds later) and `read` (SANDBOX_READ_AFTER), each with a
`not_before` time. The sender stores them in the inbox in the transaction that records the send, exactly as if
a webhook had brought them, so they take the normal status path:

- exactly once: each is an inbox row under a unique (provider, event id) = `<channel>:<id>:<status>`; the send
  itself happens once per message (the outbound claim), and a redelivered triage task finds the row processed;
- forward only: triage applies them with the same rank rule as every provider (a simulated `read` posted
  before the automatic `delivered` leaves the message read);
- "a moment later": triage refuses a status before its `not_before` (`triage.StatusNotDue`, a kind of
  StatusBeforeMessage), and the worker retries it with its usual short backoff, while beat's inbox re-ask
  is the safety net. No new task, no timer outside the database.

In the embedded mode the reports carry no delay: there a Celery retry on the in-memory broker is never
delivered again (seen with the solo WorkController the embedded mode runs), so a delayed report would wait for
beat's inbox re-ask (a minute). Without a delay they apply right after the send, in order, by the same path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from models.org import Channel, ChannelKind
from models.providers.adapter import ChannelDirectory, Transport, Verified, credentials, json_body
from models.providers.base import (
    Ack,
    Delivery,
    InboundEvent,
    InteractiveReply,
    Location,
    MalformedDelivery,
    MediaContent,
    MediaKind,
    MediaRef,
    OutboundMessage,
    ParsedMessage,
    ProviderError,
    Reaction,
    Refused,
    SendReceipt,
    SharedContact,
    SignatureInvalid,
    SignatureMissing,
    StatusUpdate,
    UnknownChannel,
    WebhookRequest,
    unsupported,
)
from models.tickets import DeliveryStatus

PROVIDER = "sandbox"
SIGNATURE_HEADER = "X-Sandbox-Signature"
SANDBOX_DELIVERED_AFTER = timedelta(seconds=1)
SANDBOX_READ_AFTER = timedelta(seconds=2)
_MEDIA: tuple[MediaKind, ...] = ("image", "audio", "video", "document", "sticker")
_TYPES = {"text", "location", "contacts", "interactive", "reaction", *_MEDIA}
_STATUSES = {"sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED, "read": DeliveryStatus.READ,
             "failed": DeliveryStatus.FAILED}


def sign(raw_body: bytes, secret: str) -> str:
    """The `X-Sandbox-Signature` value for a body: what a simulator sends."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_signature(raw_body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(raw_body, secret), header)


def _str(doc: dict[str, Any], name: str, where: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedDelivery(f"{where}.{name}: a non-empty string is required")
    return value


def _object(doc: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{where}.{name}: an object is required")
    return value


def _check_message(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise MalformedDelivery(f"{where}: an object is required")
    _str(item, "id", where)
    _str(item, "from", where)
    kind = item.get("type", "text")
    if kind not in _TYPES:
        raise MalformedDelivery(f"{where}.type: one of {', '.join(sorted(_TYPES))}")
    if kind == "text":
        _str(item, "text", where)
    elif kind in _MEDIA:
        media = _object(item, "media", where)
        if not media.get("id") and not media.get("url"):
            raise MalformedDelivery(f"{where}.media: id or url is required")
    elif kind == "location":
        location = _object(item, "location", where)
        for name in ("latitude", "longitude"):
            if not isinstance(location.get(name), int | float) or isinstance(location.get(name), bool):
                raise MalformedDelivery(f"{where}.location.{name}: a number is required")
    elif kind == "contacts":
        if not isinstance(item.get("contacts"), list) or not item["contacts"]:
            raise MalformedDelivery(f"{where}.contacts: a non-empty list is required")
    elif kind == "interactive":
        interactive = _object(item, "interactive", where)
        _str(interactive, "id", f"{where}.interactive")
    else:
        reaction = _object(item, "reaction", where)
        _str(reaction, "message_id", f"{where}.reaction")
        if not isinstance(reaction.get("emoji", ""), str):
            raise MalformedDelivery(f"{where}.reaction.emoji: a string is required")
    return item


def _check_status(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise MalformedDelivery(f"{where}: an object is required")
    _str(item, "id", where)
    if item.get("status") not in _STATUSES:
        raise MalformedDelivery(f"{where}.status: one of {', '.join(_STATUSES)}")
    return item


def _list(doc: dict[str, Any], name: str) -> list[Any]:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise MalformedDelivery(f"{name}: a list is required")
    return value


def parse_delivery(doc: Any, channel_ref: str) -> list[InboundEvent]:
    """The events of a simulated delivery for the channel `channel_ref`."""
    if not isinstance(doc, dict):
        raise MalformedDelivery("body: an object with messages and/or statuses is required")
    messages, statuses = _list(doc, "messages"), _list(doc, "statuses")
    if not messages and not statuses:
        raise MalformedDelivery("messages, statuses: at least one item is required")
    events = []
    for i, item in enumerate(messages):
        message = _check_message(item, f"messages[{i}]")
        events.append(InboundEvent(channel_ref, f"{channel_ref}:{message['id']}", "message", {"message": message}))
    for i, item in enumerate(statuses):
        status = _check_status(item, f"statuses[{i}]")
        events.append(InboundEvent(channel_ref, f"{channel_ref}:{status['id']}:{status['status']}", "status",
                                   {"status": status}))
    return events


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_message(payload: dict[str, Any]) -> ParsedMessage:
    """The customer message inside a stored sandbox payload, every typed field filled from its own key."""
    message = payload["message"]
    kind = str(message.get("type", "text"))
    body = str(message.get("text") or "")
    typed: dict[str, Any] = {}
    if kind in _MEDIA:
        media = message["media"]
        ref = MediaRef(kind=kind, id=_opt(media.get("id")), url=_opt(media.get("url")),
                       mime_type=_opt(media.get("mime_type")), filename=_opt(media.get("filename")),
                       caption=_opt(media.get("caption")))
        typed["media"] = (ref,)
        body = body or ref.caption or ""
    elif kind == "location":
        doc = message["location"]
        location = Location(float(doc["latitude"]), float(doc["longitude"]), _opt(doc.get("name")),
                            _opt(doc.get("address")))
        typed["location"] = location
        body = body or location.name or f"{location.latitude},{location.longitude}"
    elif kind == "contacts":
        contacts = tuple(SharedContact(name=str(c.get("name") or ""),
                                       phones=tuple(str(p) for p in c.get("phones") or []),
                                       emails=tuple(str(e) for e in c.get("emails") or []))
                         for c in message["contacts"] if isinstance(c, dict))
        typed["contacts"] = contacts
        body = body or ", ".join(c.name for c in contacts)
    elif kind == "interactive":
        doc = message["interactive"]
        reply = InteractiveReply(str(doc["id"]), str(doc.get("title") or doc["id"]), _opt(doc.get("description")))
        typed["interactive"] = reply
        body = body or reply.title
    elif kind == "reaction":
        doc = message["reaction"]
        typed["reaction"] = Reaction(str(doc["message_id"]), str(doc.get("emoji") or ""))
        body = body or typed["reaction"].emoji
    return ParsedMessage(provider_message_id=str(message["id"]), sender=str(message["from"]),
                         sender_name=_opt(message.get("name")), kind=kind, body=body,
                         reply_to=_opt(message.get("reply_to")), **typed)


def normalise_status(payload: dict[str, Any]) -> StatusUpdate | None:
    item = payload["status"]
    status = _STATUSES.get(str(item.get("status")))
    if status is None:
        return None
    error = item.get("error") if isinstance(item.get("error"), dict) else {}
    not_before = payload.get("not_before")
    return StatusUpdate(provider_message_id=str(item["id"]), status=status, error_code=_opt(error.get("code")),
                        error_reason=_opt(error.get("reason")),
                        not_before=datetime.fromisoformat(not_before) if not_before else None)


def receipt(channel_ref: str, now: datetime, delayed: bool = True) -> tuple[str, tuple[InboundEvent, ...]]:
    """A fresh message id and the delivered/read reports that will follow it (`delayed`: not before a moment)."""
    message_id = f"sbx-{uuid.uuid4().hex}"
    events = tuple(
        InboundEvent(channel_ref, f"{channel_ref}:{message_id}:{status}", "status",
                     {"status": {"id": message_id, "status": status},
                      "not_before": (now + after).isoformat() if delayed else None})
        for status, after in (("delivered", SANDBOX_DELIVERED_AFTER), ("read", SANDBOX_READ_AFTER)))
    return message_id, events


class SandboxAdapter:
    """The sandbox. Channel: `external_id` = any name unique among sandbox channels (it is the webhook path);
    credentials `secret` (signs simulated deliveries). Route: "messages"."""

    kind = ChannelKind.SANDBOX
    provider = PROVIDER
    address: Literal["phone", "email"] = "phone"

    def authenticate(self, request: WebhookRequest, directory: ChannelDirectory) -> None:
        return None  # verify_delivery checks the raw-body HMAC of the channel the path names

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        ref = request.path_token or ""
        return Delivery(parse_delivery(json_body(request), ref), (ref,))

    def verify_delivery(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        ref = delivery.refs[0]
        channel = directory.find([ref]).get(ref)
        if channel is None:
            raise UnknownChannel("no sandbox channel by this name")
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise SignatureMissing(f"{SIGNATURE_HEADER} header is required")
        if not verify_signature(request.raw_body, signature, credentials(channel, "secret")):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")
        return Verified({ref: channel}, delivery.events)

    def acknowledge(self, request: WebhookRequest) -> Ack | None:
        return None

    def handshake(self, request: WebhookRequest, directory: ChannelDirectory) -> Ack:
        raise Refused("the sandbox has no subscription handshake", status=404, code="not_found")

    def parse_message(self, payload: dict[str, Any]) -> ParsedMessage:
        return parse_message(payload)

    def normalise_status(self, payload: dict[str, Any]) -> StatusUpdate | None:
        return normalise_status(payload)

    def ticket_named(self, channel: Channel, message: ParsedMessage) -> int | None:
        return None

    def send(self, channel: Channel, message: OutboundMessage, transport: Transport, now: datetime) -> SendReceipt:
        if not message.to:
            raise ProviderError("no_recipient", "the contact has no phone number")
        message_id, events = receipt(channel.external_id, now, delayed=not transport.settings.embedded)
        return SendReceipt(message_id, events)

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        """Simulated media travels inline as a `data:` URL; anything else cannot be fetched from here."""
        url = media.url or ""
        header, sep, data = url.partition(",")
        if not url.startswith("data:") or not sep or not header.endswith(";base64"):
            raise unsupported("media other than base64 data: URLs", PROVIDER)
        try:
            content = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ProviderError("bad_media", f"not base64: {exc}") from exc
        mime = header.removeprefix("data:").removesuffix(";base64") or "application/octet-stream"
        return MediaContent(content, media.mime_type or mime, media.filename)

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        if len(credentials(channel, "secret")) < 16:
            raise ProviderError("invalid_credentials", "a sandbox channel needs a secret of 16+ characters")


ADAPTER = SandboxAdapter()
