"""WhatsApp Cloud API: webhook signature, delivery parsing and the Graph API send."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

import requests

from models.org import Channel, ChannelKind
from models.providers import whatsapp_media
from models.providers.adapter import ChannelDirectory, Transport, Verified, credentials, json_body
from models.providers.base import (
    Ack,
    Delivery,
    InboundEvent,
    InteractiveButton,
    InteractiveReply,
    Location,
    MalformedDelivery,
    MediaContent,
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

PROVIDER = "whatsapp"
_MEDIA = ("image", "audio", "video", "document", "sticker")
_STATUSES = {"sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED, "read": DeliveryStatus.READ,
             "failed": DeliveryStatus.FAILED}


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw bytes (never re-serialised JSON), constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _values(doc: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    if not isinstance(doc, dict) or doc.get("object") != "whatsapp_business_account":
        raise MalformedDelivery("object: expected 'whatsapp_business_account'")
    entries = doc.get("entry")
    if not isinstance(entries, list):
        raise MalformedDelivery("entry: expected a list")
    for i, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise MalformedDelivery(f"entry[{i}].changes: expected a list")
        for j, change in enumerate(changes):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                raise MalformedDelivery(f"entry[{i}].changes[{j}].value: expected an object")
            if change.get("field", "messages") != "messages":
                continue
            metadata = value.get("metadata")
            if not isinstance(metadata, dict) or not isinstance(metadata.get("phone_number_id"), str):
                raise MalformedDelivery(f"entry[{i}].changes[{j}].value.metadata.phone_number_id: required")
            yield entry.get("id"), value


@dataclass(frozen=True)
class ParsedDelivery:
    refs: set[str]  # phone_number_ids the delivery is for: whose app secrets must have signed it
    events: list[InboundEvent]


def parse_delivery(doc: Any) -> ParsedDelivery:
    """Every message and status of a delivery (several entries, changes and items may come at once)."""
    events: list[InboundEvent] = []
    refs: set[str] = set()
    for waba_id, value in _values(doc):
        ref = value["metadata"]["phone_number_id"]
        refs.add(ref)
        contacts = {c.get("wa_id"): c for c in value.get("contacts") or [] if isinstance(c, dict)}
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                raise MalformedDelivery("messages[]: id and from are required")
            payload = {"metadata": value["metadata"], "contact": contacts.get(message["from"]), "message": message,
                       "waba_id": None if waba_id is None else str(waba_id)}  # entry.id: the business account
            events.append(InboundEvent(ref, str(message["id"]), "message", payload))
        for status in value.get("statuses") or []:
            if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
                raise MalformedDelivery("statuses[]: id and status are required")
            # One row per (message, status): `read` after `delivered` is a new event, a redelivery is not.
            event_id = f"{status['id']}:{status['status']}"
            events.append(InboundEvent(ref, event_id, "status", {"metadata": value["metadata"], "status": status}))
    return ParsedDelivery(refs, events)


def parse_message(payload: dict[str, Any]) -> ParsedMessage:
    """The customer message inside a stored inbox payload."""
    message = payload["message"]
    contact = payload.get("contact") or {}
    kind = str(message.get("type", "text"))
    body, extra = "", {}
    typed: dict[str, Any] = {}
    if kind == "text":
        body = (message.get("text") or {}).get("body", "")
    elif kind in _MEDIA:
        media = message.get(kind) or {}
        extra = {k: media[k] for k in ("id", "mime_type", "sha256", "filename") if k in media}
        body = media.get("caption", "")
        typed["media"] = (MediaRef(kind=kind, id=_opt(media.get("id")), mime_type=_opt(media.get("mime_type")),  # type: ignore[arg-type]
                                   sha256=_opt(media.get("sha256")), filename=_opt(media.get("filename")),
                                   caption=_opt(media.get("caption"))),)
    elif kind == "interactive":
        reply = message["interactive"].get("button_reply") or message["interactive"].get("list_reply") or {}
        extra = {"reply_id": reply.get("id")}
        body = reply.get("title", "")
        typed["interactive"] = InteractiveReply(id=str(reply.get("id") or ""), title=str(body),
                                                description=_opt(reply.get("description")))
    elif kind == "button":
        extra = {"payload": message["button"].get("payload")}
        body = message["button"].get("text", "")
        typed["interactive"] = InteractiveReply(id=str(extra["payload"] or ""), title=str(body))
    elif kind == "location":
        extra = dict(message["location"])
        body = extra.get("name") or f"{extra.get('latitude')},{extra.get('longitude')}"
        typed["location"] = _location(extra)
    else:
        extra = {kind: message.get(kind)}
        if kind == "reaction" and isinstance(message.get("reaction"), dict):
            reaction = message["reaction"]
            typed["reaction"] = Reaction(message_id=str(reaction.get("message_id") or ""),
                                         emoji=str(reaction.get("emoji") or ""))
            body = typed["reaction"].emoji
        elif kind == "contacts" and isinstance(message.get("contacts"), list):
            typed["contacts"] = tuple(_contact(c) for c in message["contacts"] if isinstance(c, dict))
            body = ", ".join(c.name for c in typed["contacts"])
    context = message.get("context")
    reply_to = _opt(context.get("id")) if isinstance(context, dict) else None
    return ParsedMessage(
        provider_message_id=str(message["id"]),
        sender=str(message["from"]),
        sender_name=(contact.get("profile") or {}).get("name"),
        kind=kind,
        body=str(body),
        extra=extra,
        reply_to=reply_to,
        **typed,
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _location(doc: dict[str, Any]) -> Location:
    return Location(latitude=_float(doc.get("latitude")), longitude=_float(doc.get("longitude")),
                    name=_opt(doc.get("name")), address=_opt(doc.get("address")))


def _contact(doc: dict[str, Any]) -> SharedContact:
    name = doc.get("name") or {}
    phones = tuple(str(p.get("wa_id") or p.get("phone")) for p in doc.get("phones") or []
                   if isinstance(p, dict) and (p.get("wa_id") or p.get("phone")))
    emails = tuple(str(e["email"]) for e in doc.get("emails") or [] if isinstance(e, dict) and e.get("email"))
    return SharedContact(name=str(name.get("formatted_name") or name.get("first_name") or "") if isinstance(
        name, dict) else str(name), phones=phones, emails=emails)


def normalise_status(payload: dict[str, Any]) -> StatusUpdate | None:
    """A stored status item (nested in payload["status"]) in our terms; unknown ones change nothing."""
    item = payload.get("status") or {}
    status = _STATUSES.get(str(item.get("status")))
    if status is None:
        return None
    error = (item.get("errors") or [{}])[0] or {}
    code = error.get("code")
    reference = item.get("biz_opaque_callback_data")
    return StatusUpdate(provider_message_id=str(item["id"]), status=status,
                        error_code=None if code is None else str(code),
                        error_reason=error.get("title") or error.get("message"),
                        reference=None if reference is None else str(reference))


def message_doc(to: str, body: str, *, template: dict[str, Any] | None = None, media: MediaRef | None = None,
                buttons: tuple[InteractiveButton, ...] = (), reply_to: str | None = None,
                reference: str | None = None, reaction: Reaction | None = None,
                interactive: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Graph API request body for one outbound message (text, template, media by id or link, reply buttons,
    a reaction)."""
    doc: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if reaction is not None:
        doc.update(type="reaction", reaction={"message_id": reaction.message_id, "emoji": reaction.emoji})
    elif template:
        doc.update(type="template", template=template)
    elif media is not None:
        kind = media.kind if media.kind in _MEDIA else "document"
        item: dict[str, Any] = {"id": media.id} if media.id else {"link": media.url}
        if (media.caption or body) and kind != "audio":
            item["caption"] = media.caption or body
        if media.filename and kind == "document":
            item["filename"] = media.filename
        doc.update(type=kind, **{kind: item})
    elif interactive:
        doc.update(type="interactive", interactive=interactive_doc(body, interactive))
    elif buttons:
        if len(buttons) > 3:
            raise ProviderError("unsupported", "WhatsApp reply buttons: at most 3", retryable=False)
        doc.update(type="interactive", interactive={"type": "button", "body": {"text": body}, "action": {
            "buttons": [{"type": "reply", "reply": {"id": b.id, "title": b.title[:20]}} for b in buttons]}})
    else:
        doc.update(type="text", text={"body": body})
    if reply_to:
        doc["context"] = {"message_id": reply_to}
    if reference:  # echoed in this message's status webhooks
        doc["biz_opaque_callback_data"] = reference
    return doc


def interactive_doc(body: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Graph's `interactive` object for our buttons or list (validated by the API: 3 buttons, 10 rows)."""
    if spec.get("list"):
        listing = spec["list"]
        return {"type": "list", "body": {"text": body}, "action": {
            "button": listing["button"],
            "sections": [{**({"title": s["title"]} if s.get("title") else {}),
                          "rows": [{k: r[k] for k in ("id", "title", "description") if r.get(k)} for r in s["rows"]]}
                         for s in listing["sections"]]}}
    return {"type": "button", "body": {"text": body}, "action": {
        "buttons": [{"type": "reply", "reply": {"id": b["id"], "title": b["title"]}} for b in spec["buttons"]]}}


def send(*, base_url: str, version: str, phone_number_id: str, token: str, to: str, body: str,
         timeout: tuple[float, float], template: dict[str, Any] | None = None,
         session: requests.Session | None = None, media: MediaRef | None = None,
         buttons: tuple[InteractiveButton, ...] = (), reply_to: str | None = None, reference: str | None = None,
         reaction: Reaction | None = None, interactive: Mapping[str, Any] | None = None) -> str:
    """Send a text, or a template (`{"name", "language": {"code"}, "components"}`) outside the 24 h window."""
    url = f"{base_url}/{version}/{phone_number_id}/messages"
    doc = message_doc(to, body, template=template, media=media, buttons=buttons, reply_to=reply_to,
                      reference=reference, reaction=reaction, interactive=interactive)
    resp = _call("post", url, token, timeout, session, json=doc)
    if resp.status_code == 200:
        try:
            return str(resp.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
    _raise_error(resp)


def check_number(*, base_url: str, version: str, phone_number_id: str, token: str, timeout: tuple[float, float],
                 session: requests.Session | None = None) -> dict[str, Any]:
    """`GET /{phone-number-id}` with the token: the number's profile when the token may use it, else ProviderError."""
    resp = _call("get", f"{base_url}/{version}/{phone_number_id}", token, timeout, session)
    if resp.status_code == 200:
        try:
            doc = resp.json()
        except ValueError as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
        if isinstance(doc, dict) and str(doc.get("id")) == phone_number_id:
            return doc
        raise ProviderError("bad_response", resp.text[:200], retryable=True)
    _raise_error(resp)


def _call(method: str, url: str, token: str, timeout: tuple[float, float], session: requests.Session | None,
          **kwargs: Any) -> requests.Response:
    http: Any = session or requests
    try:
        resp: requests.Response = getattr(http, method)(url, headers={"Authorization": f"Bearer {token}"},
                                                        timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    return resp


def _raise_error(resp: requests.Response) -> NoReturn:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    err = (doc.get("error") if isinstance(doc, dict) else None) or {}
    code = str(err.get("code", resp.status_code))
    reason = str(err.get("message", resp.text[:200]))
    retry_after = resp.headers.get("Retry-After")
    # 130429 throughput and 131056 pair rate limits are "slow down", not "never".
    retryable = resp.status_code >= 500 or resp.status_code == 429 or code in ("130429", "131056")
    raise ProviderError(code, reason, retryable=retryable,
                        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                        http_status=resp.status_code)


class WhatsAppAdapter:
    """WhatsApp Cloud API. Channel: `external_id` = phone_number_id; credentials `app_secret` (webhook
    signatures), `verify_token` (subscription handshake), `access_token` (Graph API)."""

    kind = ChannelKind.WHATSAPP
    provider = PROVIDER
    address: Literal["phone", "email"] = "phone"

    def authenticate(self, request: WebhookRequest, directory: ChannelDirectory) -> None:
        # The raw-body HMAC first: a body no app secret of ours signed is never parsed. Which channel each
        # number belongs to (and that its own secret signed it) is verify_delivery's, once the body is read.
        signature = request.header("X-Hub-Signature-256")
        if not signature:
            raise SignatureMissing("X-Hub-Signature-256 header is required")
        if not any(verify_signature(request.raw_body, signature, secret)
                   for fresh in (False, True) for secret in directory.secrets("app_secret", fresh)):
            raise SignatureInvalid("X-Hub-Signature-256 does not match the body")

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        delivery = parse_delivery(json_body(request))
        return Delivery(delivery.events, tuple(sorted(delivery.refs)))

    def verify_delivery(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        channels = directory.find(delivery.refs)
        unknown = sorted(set(delivery.refs) - channels.keys())
        if unknown:
            raise UnknownChannel("no channel for phone_number_id", details={"phone_number_id": unknown})
        signature = request.header("X-Hub-Signature-256")
        if channels and not signature:
            raise SignatureMissing("X-Hub-Signature-256 header is required")
        # A delivery for several numbers must be signed with each one's app secret (one app serves them all).
        for channel in channels.values():
            if not verify_signature(request.raw_body, signature, credentials(channel, "app_secret")):
                raise SignatureInvalid("X-Hub-Signature-256 does not match the body")
        return Verified(channels, delivery.events)

    def acknowledge(self, request: WebhookRequest) -> Ack | None:
        return None

    def handshake(self, request: WebhookRequest, directory: ChannelDirectory) -> Ack:
        mode, token = request.query.get("hub.mode"), request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge")
        if mode != "subscribe" or not challenge:
            raise Refused("hub.mode=subscribe and hub.challenge are required", code="bad_handshake")
        tokens = [credentials(c, "verify_token") for c in directory.active()]
        if not any(hmac.compare_digest(t, token) for t in tokens if t):
            raise Refused("hub.verify_token does not match any channel", status=403, code="bad_verify_token")
        return Ack(challenge, "text/plain")

    def parse_message(self, payload: dict[str, Any]) -> ParsedMessage:
        return parse_message(payload)

    def normalise_status(self, payload: dict[str, Any]) -> StatusUpdate | None:
        return normalise_status(payload)

    def ticket_named(self, channel: Channel, message: ParsedMessage) -> int | None:
        return None

    def send(self, channel: Channel, message: OutboundMessage, transport: Transport, now: datetime) -> SendReceipt:
        settings = transport.settings
        media = message.media or whatsapp_media.by_link(message.files, message.body)
        return SendReceipt(send(
            base_url=settings.whatsapp_graph_base_url, version=settings.whatsapp_graph_version,
            phone_number_id=channel.external_id, token=credentials(channel, "access_token"), to=message.to,
            body=message.body, template=message.template, media=media, buttons=message.buttons,
            reply_to=message.reply_to, reference=message.reference, reaction=message.reaction,
            interactive=message.interactive, timeout=transport.timeout, session=transport.http))

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        if not media.id:
            raise unsupported("media without a media id", PROVIDER)
        settings = transport.settings
        return whatsapp_media.fetch(
            base_url=settings.whatsapp_graph_base_url, version=settings.whatsapp_graph_version,
            phone_number_id=channel.external_id, token=credentials(channel, "access_token"), media_id=media.id,
            timeout=transport.timeout, session=transport.http)

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        settings = transport.settings
        check_number(base_url=settings.whatsapp_graph_base_url, version=settings.whatsapp_graph_version,
                     phone_number_id=channel.external_id, token=credentials(channel, "access_token"),
                     timeout=transport.timeout, session=transport.http)


ADAPTER = WhatsAppAdapter()
