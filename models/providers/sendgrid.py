"""SendGrid: Inbound Parse (email in), signed Event Webhook (delivery statuses) and the v3 Mail Send API."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, NoReturn

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from models.org import Channel, ChannelKind, ChannelRef
from models.providers.adapter import ChannelDirectory, Transport, Verified, credentials, json_body
from models.providers.base import (
    Ack,
    Delivery,
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
from models.providers.sendgrid_parse import REFERENCE_ARG, parse_events, parse_inbound, parse_message, ticket_token
from models.rules.reply_address import reply_address, ticket_of
from models.tickets import DeliveryStatus

PROVIDER = "sendgrid"
__all__ = ["ADAPTER", "PROVIDER", "event_public_key", "parse_events", "parse_inbound", "parse_message", "send_mail",
           "ticket_token", "verify_event_signature"]
_EPOCH = re.compile(r"\s*([0-9]{1,12})\s*")  # ASCII digits only: str.isdigit() also accepts "²"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# How old a signed Event Webhook timestamp may be. SendGrid retries a failed post for up to 24 hours and its
# documentation does not say a retry is signed afresh, so a 300-s window could refuse a genuine retry (and lose the
# event for good). A replay of a genuinely signed post inside this window stores nothing: every event is deduplicated
# on `sg_event_id` (the inbox's unique key), which is what actually stops a replay.
EVENT_MAX_AGE = 25 * 3600


def event_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey | None:
    """The Event Webhook verification key (base64 DER SubjectPublicKeyInfo, P-256), or None when it is not one.

    Checked when a channel's `event_public_key` is saved, so a typo is a 422 then rather than every event refused.
    """
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return None
    return key


def verify_event_signature(public_key_b64: str, signature_b64: str | None, timestamp: str | None, raw_body: bytes,
                           now: float, max_age: float = 300, max_skew: float = 300) -> bool:
    """Check an Event Webhook post: ECDSA P-256/SHA-256 over `timestamp + raw body`.

    `public_key_b64` is the verification key from the SendGrid settings (base64 DER SubjectPublicKeyInfo) and the
    signature is base64 DER. A timestamp more than `max_age` seconds before `now`, or `max_skew` after it, is
    refused. Any malformed input (including a bad key) gives False.
    """
    epoch = _EPOCH.fullmatch(timestamp or "")
    if not signature_b64 or not timestamp or not epoch:
        return False
    if not -max_skew <= now - int(epoch.group(1)) <= max_age:
        return False
    key = event_public_key(public_key_b64)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error, TypeError):
        return False
    if key is None:
        return False
    try:
        key.verify(signature, timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _angle(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def send_mail(*, base_url: str, api_key: str, from_email: str, from_name: str | None, to: str, subject: str,
              text: str, in_reply_to: str | None, references: list[str], timeout: tuple[float, float],
              reply_to: str | None = None, session: requests.Session | None = None,
              reference: str | None = None, attachments: Sequence[dict[str, str]] = ()) -> str:
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
    if attachments:  # {content (base64), filename, type, disposition}
        doc["attachments"] = list(attachments)
    headers: dict[str, str] = {}
    if in_reply_to:
        headers["In-Reply-To"] = _angle(in_reply_to)
    if references:
        headers["References"] = " ".join(_angle(r) for r in references)
    if headers:
        doc["headers"] = headers
    if reference:  # returned on every Event Webhook event of this mail
        doc["custom_args"] = {REFERENCE_ARG: reference}
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

    Routes: "inbound" (Inbound Parse, `path_token` = the secret) and "events" (the signed Event Webhook, at
    `/webhooks/sendgrid/events/<inbound_secret>`: the secret names the channel, its key verifies the signature).
    Replies thread under the customer's latest email (In-Reply-To, References) and carry a signed reply address
    naming the ticket, which `ticket_named` reads back from the customer's answer.
    """

    kind = ChannelKind.EMAIL
    provider = PROVIDER
    address: Literal["phone", "email"] = "email"

    def authenticate(self, request: WebhookRequest, directory: ChannelDirectory) -> None:
        if request.route == "events":  # Inbound Parse signs nothing: its channel is checked once the body is read
            self._events_channel(request, directory)

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        if request.route == "events":
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

    def _events_channel(self, request: WebhookRequest, directory: ChannelDirectory) -> ChannelRef:
        """The channel an Event Webhook post is for, once its signature verified with that channel's key.

        The post names no channel, so its URL does: `/webhooks/sendgrid/events/<inbound_secret>`. Only that
        channel's key may verify it: a key found by trying every channel's would let a tenant who saved another
        tenant's (public) key capture that tenant's events.
        """
        token = request.path_token or ""
        channel = next((c for c in directory.active() if (secret := credentials(c, "inbound_secret"))
                        and hmac.compare_digest(secret.encode(), token.encode())), None)
        if channel is None:
            raise Refused("no channel has this events URL secret", status=403, code="forbidden")
        signature, timestamp = request.header(SIGNATURE_HEADER), request.header(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise SignatureMissing(f"{SIGNATURE_HEADER} and -Timestamp required")
        if not verify_event_signature(credentials(channel, "event_public_key"), signature, timestamp,
                                      request.raw_body, time.time(), max_age=EVENT_MAX_AGE):
            raise SignatureInvalid("signature does not verify with this channel's event_public_key, or the "
                                   "timestamp is out of range")
        return channel

    def _verify_events(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        channel = self._events_channel(request, directory)  # checked again: verify_delivery stands on its own
        # Deduplicated per channel: a post replayed at another channel's URL cannot hide the event from its owner.
        return Verified({channel.external_id: channel},
                        [replace(e, channel_ref=channel.external_id, event_id=f"{channel.id}:{e.event_id}")
                         for e in delivery.events])

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
        reference = payload.get("reference")
        return StatusUpdate(provider_message_id=str(payload["id"]), status=status,
                            error_reason=None if payload.get("reason") is None else str(payload["reason"]),
                            reference=None if reference is None else str(reference))

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
            session=transport.http, reference=message.reference,
            reply_to=reply_address(channel.external_id, message.ticket_id, credentials(channel, "inbound_secret")),
            attachments=[{"content": base64.b64encode(f.read()).decode(), "filename": f.filename,
                          "type": f.content_type, "disposition": "attachment"} for f in message.files]))

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        raise unsupported("fetching attachments (Inbound Parse posts them inline; a later issue)", PROVIDER)

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        check_key(base_url=transport.settings.sendgrid_api_base_url, api_key=credentials(channel, "api_key"),
                  timeout=transport.timeout, session=transport.http)


ADAPTER = SendGridAdapter()
