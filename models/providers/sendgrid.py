"""SendGrid: Inbound Parse (email in), signed Event Webhook (delivery statuses) and the v3 Mail Send API."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as html_lib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any, Literal, NoReturn

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from models.org import Channel, ChannelKind
from models.providers.adapter import ChannelDirectory, Transport, Verified, credentials, json_body
from models.providers.base import (
    Ack,
    Delivery,
    EmailThread,
    InboundEvent,
    MalformedDelivery,
    MediaContent,
    MediaRef,
    OutboundMessage,
    ParsedMessage,
    ProviderError,
    Refused,
    SendReceipt,
    SignatureInvalid,
    SignatureMissing,
    StatusUpdate,
    UnsupportedMediaType,
    WebhookRequest,
    unsupported,
)
from models.rules.reply_address import reply_address, ticket_of
from models.tickets import DeliveryStatus

PROVIDER = "sendgrid"
_MAX_EVENT_ID = 255  # inbox_events.event_id
_MAX_MESSAGE_ID = 200  # messages.provider_message_id, unique per channel
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EPOCH = re.compile(r"\s*([0-9]{1,12})\s*")
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"  # ASCII digits only: str.isdigit() also accepts "²"

# Event Webhook `event` -> our delivery status. None: no status change (deferred will be retried by SendGrid;
# click, spamreport, unsubscribe, group_* are engagement, not delivery).
_STATUSES: dict[str, str | None] = {
    "processed": "sent", "delivered": "delivered", "open": "read", "bounce": "failed", "dropped": "failed",
    "deferred": None,
}


def _unfold(value: str | None) -> str:
    return " ".join(str(value).split()) if value else ""


def _strip_id(value: str | None) -> str | None:
    """`<abc@host>` -> `abc@host`. Ids are kept without angle brackets everywhere; `send_mail` adds them back."""
    value = _unfold(value)
    if not value:
        return None
    found = _MSG_ID.search(value)
    return found.group(1) if found else value.strip("<>") or None


def _address(value: str) -> str | None:
    """The first bare address in a header value, lower-cased, without the display name."""
    for _name, addr in getaddresses([value]):
        if "@" in addr:
            return addr.strip().lower()
    return None


def _without_token(address: str) -> str:
    """`support+t123@acme.example` -> `support@acme.example`: the address the channel is registered under."""
    local, _, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def ticket_token(address: str) -> str | None:
    """The ticket token of a plus-addressed reply address, or None.

    Format: `<local part>+<token>@<domain>`, e.g. `support+t123abc@acme.example` -> `t123abc`; the token is 1-64
    characters of letters, digits, `_` and `-`. Accepts a display-name form (`Acme <support+t1@acme.example>`).
    Some mail systems fold the case of local parts, so tokens should be generated in lower case.
    """
    addr = parseaddr(address)[1]
    local, at, _domain = addr.rpartition("@")
    if not at or "+" not in local:
        return None
    token = local.split("+", 1)[1]
    return token if _TOKEN.fullmatch(token) else None


def _json_field(form: Mapping[str, str], name: str, default: Any) -> Any:
    raw = form.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedDelivery(f"{name}: not valid JSON") from exc


def _attachments(form: Mapping[str, str], files_count: int) -> list[dict[str, Any]]:
    """Name and type of each attachment from `attachment-info`; without it, one anonymous entry per file."""
    info = _json_field(form, "attachment-info", {})
    if isinstance(info, dict) and info:
        def order(key: str) -> tuple[int, str]:  # attachment2 before attachment10
            digits = key.removeprefix("attachment")
            return (int(digits) if digits.isascii() and digits.isdigit() else 1 << 30, key)
        items = [info[k] for k in sorted(info, key=order) if isinstance(info[k], dict)]
        return [{"filename": i.get("filename") or i.get("name"), "type": i.get("type")} for i in items]
    count = min(files_count or _int(form.get("attachments")), 100)  # the field is a claim, not a file list
    return [{"filename": None, "type": None} for _ in range(count)]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_inbound(form: Mapping[str, str], files_count: int = 0) -> InboundEvent:
    """One Inbound Parse post (its multipart text fields; `files_count` = number of uploaded files).

    channel_ref is the recipient address the channel owns: `envelope.to[0]`, else the first address of `to`,
    lower-cased, with any `+token` removed (the full address stays in payload["recipient"] for `ticket_token`).

    event_id is `<Message-ID>:<channel_ref>`. The Message-ID alone would do for redeliveries, but it is chosen by
    the sender, and the inbox dedupes per provider across tenants: scoped by recipient, the same email sent to
    two of our channels is stored for each, and a forged Message-ID cannot suppress another tenant's mail.
    Without a Message-ID a sha256 of (from, to, subject, text) stands in, so redeliveries still dedupe.
    """
    for name in ("from", "to"):
        if not form.get(name):
            raise MalformedDelivery(f"{name}: required")
    headers = HeaderParser().parsestr(form.get("headers") or "")
    envelope = _json_field(form, "envelope", {})
    if not isinstance(envelope, dict):
        raise MalformedDelivery("envelope: expected an object")
    env_to = envelope.get("to")
    recipient = None
    if isinstance(env_to, list) and env_to and isinstance(env_to[0], str):
        recipient = _address(env_to[0])
    recipient = recipient or _address(form["to"])
    if not recipient:
        raise MalformedDelivery("to: no recipient address")
    channel_ref = _without_token(recipient)
    message_id = _strip_id(headers.get("Message-ID"))
    references = _MSG_ID.findall(_unfold(headers.get("References")))
    text = form.get("text") or ""
    payload = {
        "from": form["from"], "to": form["to"], "recipient": recipient, "subject": form.get("subject") or "",
        "text": text, "html": form.get("html") or "", "message_id": message_id,
        "in_reply_to": _strip_id(headers.get("In-Reply-To")), "references": references, "envelope": envelope,
        "attachments": _attachments(form, files_count),
    }
    event_id = f"{message_id}:{channel_ref}" if message_id else _content_id(payload)
    if len(event_id) > _MAX_EVENT_ID:
        event_id = _sha256(event_id)
    return InboundEvent(channel_ref=channel_ref, event_id=event_id, kind="message", payload=payload)


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _content_id(payload: Mapping[str, Any]) -> str:
    """Stands in for a missing Message-ID: the same email redelivered hashes the same."""
    return _sha256("\x00".join(str(payload.get(k) or "") for k in ("from", "to", "subject", "text")))


def _html_to_text(markup: str) -> str:
    """Crude: drop scripts, styles and tags, unescape entities, collapse whitespace. Only a fallback for no text."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p\s*>", "\n", markup)
    markup = re.sub(r"<[^>]*>", " ", markup)
    lines = (" ".join(line.split()) for line in html_lib.unescape(markup).splitlines())
    return "\n".join(line for line in lines if line)


def parse_message(payload: dict[str, Any]) -> ParsedMessage:
    """The customer email inside a stored inbound payload.

    provider_message_id is the Message-ID, or a content hash when there is none or it is too long to store: it is
    unique per channel, so an empty or truncated id would make distinct emails look like duplicates.
    """
    name, addr = parseaddr(payload["from"])
    body = payload.get("text") or _html_to_text(payload.get("html") or "")
    message_id = payload.get("message_id")
    if not message_id:
        message_id = _content_id(payload)
    elif len(message_id) > _MAX_MESSAGE_ID:
        message_id = _sha256(message_id)
    attachments = [a for a in payload.get("attachments") or [] if isinstance(a, dict)]
    return ParsedMessage(
        provider_message_id=message_id,
        sender=addr.strip().lower(),
        sender_name=name.strip() or None,
        kind="email",
        body=body,
        extra={k: payload.get(k) for k in ("subject", "message_id", "in_reply_to", "references", "attachments",
                                           "recipient")},
        media=tuple(MediaRef(kind="file", filename=a.get("filename"), mime_type=a.get("type")) for a in attachments),
        thread=EmailThread(subject=str(payload.get("subject") or ""), message_id=payload.get("message_id"),
                           in_reply_to=payload.get("in_reply_to"),
                           references=tuple(str(r) for r in payload.get("references") or []),
                           recipient=payload.get("recipient")),
    )


def verify_event_signature(public_key_b64: str, signature_b64: str | None, timestamp: str | None, raw_body: bytes,
                           now: float, max_age: float = 300) -> bool:
    """Check an Event Webhook post: ECDSA P-256/SHA-256 over `timestamp + raw body`.

    `public_key_b64` is the verification key from the SendGrid settings (base64 DER SubjectPublicKeyInfo) and the
    signature is base64 DER. A timestamp further than `max_age` seconds from `now`, either way, is refused so a
    captured post cannot be replayed later. Any malformed input (including a bad key) gives False.
    """
    epoch = _EPOCH.fullmatch(timestamp or "")
    if not signature_b64 or not timestamp or not epoch:
        return False
    if abs(now - int(epoch.group(1))) > max_age:
        return False
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error, TypeError):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return False
    try:
        key.verify(signature, timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_events(doc: Any) -> list[InboundEvent]:
    """The delivery-status events of an Event Webhook post; engagement and unknown events are dropped.

    payload["id"] is the X-Message-Id that `send_mail` returned: SendGrid reports `sg_message_id` as that id plus
    `.filter...` parts. An item without `sg_message_id` cannot be matched to a message and is skipped.
    """
    if not isinstance(doc, list):
        raise MalformedDelivery("events: expected a list")
    events: list[InboundEvent] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict) or not item.get("sg_event_id") or not item.get("event"):
            raise MalformedDelivery(f"events[{i}]: sg_event_id and event are required")
        status = _STATUSES.get(str(item["event"]))
        message_id = str(item.get("sg_message_id") or "").split(".", 1)[0]
        if status is None or not message_id:
            continue
        payload = {"id": message_id, "status": status, "reason": item.get("reason"), "raw": item}
        events.append(InboundEvent(channel_ref="", event_id=str(item["sg_event_id"]), kind="status", payload=payload))
    return events


def _angle(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def send_mail(*, base_url: str, api_key: str, from_email: str, from_name: str | None, to: str, subject: str,
              text: str, in_reply_to: str | None, references: list[str], timeout: tuple[float, float],
              reply_to: str | None = None, session: requests.Session | None = None) -> str:
    """Send a plain-text email; returns the X-Message-Id (the prefix of later `sg_message_id`s). Raises ProviderError.

    Message ids may be given with or without angle brackets; the headers always carry them bracketed.
    """
    sender: dict[str, str] = {"email": from_email}
    if from_name:
        sender["name"] = from_name
    doc: dict[str, Any] = {"personalizations": [{"to": [{"email": to}]}], "from": sender, "subject": subject,
                           "content": [{"type": "text/plain", "value": text}]}
    if reply_to:
        doc["reply_to"] = {"email": reply_to}
    headers: dict[str, str] = {}
    if in_reply_to:
        headers["In-Reply-To"] = _angle(in_reply_to)
    if references:
        headers["References"] = " ".join(_angle(r) for r in references)
    if headers:
        doc["headers"] = headers
    http = session or requests
    try:
        resp = http.post(f"{base_url.rstrip('/')}/v3/mail/send", json=doc,
                         headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    if 200 <= resp.status_code < 300:
        message_id = resp.headers.get("X-Message-Id")
        if not message_id:
            raise ProviderError("bad_response", "no X-Message-Id header", retryable=True,
                                http_status=resp.status_code)
        return message_id
    _raise_error(resp)


def _raise_error(resp: requests.Response) -> NoReturn:
    try:
        errors = resp.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    reason = str(first.get("message") or resp.text[:200] or resp.reason)
    retry_after = None
    if resp.status_code == 429:
        reset = _EPOCH.fullmatch(resp.headers.get("X-RateLimit-Reset", ""))
        if reset:  # an epoch second, not a delay
            retry_after = max(int(reset.group(1)) - time.time(), 0.0)
    retryable = resp.status_code == 429 or resp.status_code >= 500
    raise ProviderError(str(resp.status_code), reason, retryable=retryable, retry_after=retry_after,
                        http_status=resp.status_code)


def check_key(*, base_url: str, api_key: str, timeout: tuple[float, float],
              session: requests.Session | None = None) -> list[str]:
    """`GET /v3/scopes` with the key: its scopes when it may send mail, else ProviderError."""
    http: Any = session or requests
    try:
        resp: requests.Response = http.get(f"{base_url.rstrip('/')}/v3/scopes",
                                           headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    if resp.status_code != 200:
        _raise_error(resp)
    try:
        scopes = resp.json().get("scopes")
    except (ValueError, AttributeError) as exc:
        raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
    if not isinstance(scopes, list):
        raise ProviderError("bad_response", resp.text[:200], retryable=True)
    if "mail.send" not in scopes:
        raise ProviderError("missing_scope", "the API key may not send mail (scope mail.send)")
    return [str(scope) for scope in scopes]


_OURS = {s.value: s for s in DeliveryStatus}


class SendGridAdapter:
    """SendGrid email. Channel: `external_id` = the inbound address; credentials `api_key` (Mail Send),
    `inbound_secret` (the Inbound Parse URL's secret, also the key signing reply addresses), `event_public_key`
    (Event Webhook verification key).

    Routes: "inbound" (Inbound Parse, `path_token` = the secret) and "events" (the signed Event Webhook).
    Replies thread under the customer's latest email (In-Reply-To, References) and carry a signed reply address
    naming the ticket, which `ticket_named` reads back from the customer's answer.
    """

    kind = ChannelKind.EMAIL
    provider = PROVIDER
    address: Literal["phone", "email"] = "email"

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        if request.route == "events":
            # Signed posts only: an unsigned one is refused before its body is even read.
            if not request.header(SIGNATURE_HEADER) or not request.header(TIMESTAMP_HEADER):
                raise SignatureMissing(f"{SIGNATURE_HEADER} and -Timestamp required")
            return Delivery(parse_events(json_body(request)))
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType("expected multipart/form-data")
        event = parse_inbound(request.form_dict(), files_count=request.files_count)
        return Delivery([event], (event.channel_ref,))

    def verify_delivery(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        if request.route == "events":
            return self._verify_events(request, delivery, directory)
        ref = delivery.refs[0]
        channel = directory.find([ref]).get(ref)
        secret = credentials(channel, "inbound_secret") if channel else ""
        if channel is None or not secret or not hmac.compare_digest(secret, request.path_token or ""):
            # One answer for unknown address and wrong secret: the URL secret must not be probed address by address.
            raise Refused("unknown recipient or wrong inbound secret", status=403, code="forbidden")
        return Verified({channel.external_id: channel}, delivery.events)

    def _verify_events(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        signature, timestamp = request.header(SIGNATURE_HEADER), request.header(TIMESTAMP_HEADER)
        now = time.time()
        # The post names no channel: the channel is the one whose key verifies it.
        channel = next((c for c in directory.active() if credentials(c, "event_public_key") and verify_event_signature(
            credentials(c, "event_public_key"), signature, timestamp, request.raw_body, now)), None)
        if channel is None:
            raise SignatureInvalid("signature does not verify, or the timestamp is too old")
        return Verified({channel.external_id: channel},
                        [replace(e, channel_ref=channel.external_id) for e in delivery.events])

    def acknowledge(self, request: WebhookRequest) -> Ack | None:
        return None

    def handshake(self, request: WebhookRequest, directory: ChannelDirectory) -> Ack:
        raise Refused("SendGrid has no subscription handshake", status=404, code="not_found")

    def parse_message(self, payload: dict[str, Any]) -> ParsedMessage:
        return parse_message(payload)

    def normalise_status(self, payload: dict[str, Any]) -> StatusUpdate | None:
        status = _OURS.get(str(payload.get("status")))
        if status is None:
            return None
        return StatusUpdate(provider_message_id=str(payload["id"]), status=status,
                            error_reason=None if payload.get("reason") is None else str(payload["reason"]))

    def ticket_named(self, channel: Channel, message: ParsedMessage) -> int | None:
        recipient = message.thread.recipient if message.thread else None
        return ticket_of(ticket_token(recipient or ""), credentials(channel, "inbound_secret"))

    def send(self, channel: Channel, message: OutboundMessage, transport: Transport, now: datetime) -> SendReceipt:
        if message.media is not None or message.buttons:
            raise unsupported("attachments or interactive messages", PROVIDER)
        # Thread the reply under the customer's latest email, so their mail client shows one conversation.
        last_in = (message.last_inbound or {}).get("message_id")
        last_in = str(last_in) if last_in else None
        return SendReceipt(send_mail(
            base_url=transport.settings.sendgrid_api_base_url, api_key=credentials(channel, "api_key"),
            from_email=channel.external_id, from_name=channel.name, to=message.to,
            subject=f"Re: {message.subject}" if message.subject else "Re: your message", text=message.body,
            in_reply_to=last_in, references=[last_in] if last_in else [], timeout=transport.timeout,
            session=transport.http,
            reply_to=reply_address(channel.external_id, message.ticket_id, credentials(channel, "inbound_secret"))))

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        raise unsupported("fetching attachments (Inbound Parse posts them inline; a later issue)", PROVIDER)

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        check_key(base_url=transport.settings.sendgrid_api_base_url, api_key=credentials(channel, "api_key"),
                  timeout=transport.timeout, session=transport.http)


ADAPTER = SendGridAdapter()
