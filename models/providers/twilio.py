"""Twilio Programmable Messaging (SMS): request signatures, inbound and status callbacks, and the REST send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, NoReturn
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from models.org import Channel, ChannelKind, ChannelRef
from models.providers import twilio_media
from models.providers.adapter import ChannelDirectory, Transport, Verified, credentials
from models.providers.base import (
    Ack,
    Delivery,
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
    UnknownChannel,
    UnsupportedMediaType,
    WebhookRequest,
    unsupported,
)
from models.tickets import DeliveryStatus

PROVIDER = "twilio"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

Params = Mapping[str, str] | Sequence[tuple[str, str]]

# Twilio's message statuses mapped to our delivery statuses. Anything else (e.g. `receiving`, `received`, a status
# Twilio adds later) maps to None: the event is kept but changes nothing, rather than failing the whole callback.
_STATUSES = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed", "failed": "failed", "canceled": "failed",
}


def _pairs(params: Params) -> list[tuple[str, str]]:
    """Every (name, value) pair, repeated names included.

    A multi-valued form (werkzeug's MultiDict, Django's QueryDict) is a Mapping whose items() yields only the first
    value of each name; its `getlist` is used so a repeated name does not silently break the signature.
    """
    if isinstance(params, Mapping):
        getlist = getattr(params, "getlist", None)
        if callable(getlist):
            return [(str(k), str(v)) for k in params for v in getlist(k)]
        return [(str(k), str(v)) for k, v in params.items()]
    return [(str(k), str(v)) for k, v in params]


SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def compute_signature(url: str, params: Params, auth_token: str, algorithm: str = "HMAC_SHA1") -> str:
    """base64(HMAC-SHA1(auth token, url + name1 + value1 + name2 + value2 ...)), or HMAC-SHA256 of the same string.

    `url` is the full URL Twilio requested, query string included (the public one when behind a proxy).
    Parameters are sorted by name (case-sensitive, code-point order); the values of a repeated name are sorted
    too, so the result is the same whatever order the form arrived in, as Twilio's own validators compute it.
    """
    data = url + "".join(name + value for name, value in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), _ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def url_forms(url: str) -> list[str]:
    """The URL as given, and with its default port written out or removed: Twilio signs an https URL sometimes
    with `:443` and sometimes without (its SDKs' validators accept both), likewise `:80` for http."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or not parts.hostname:
        return [url]
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port not in (None, default):
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    other = host if port is not None else f"{host}:{default}"
    return [url, urlunsplit(parts._replace(netloc=other))]


def signature_algorithm(settings_header: str | None) -> str | None:
    """The algorithm named by `X-Twilio-Webhooks-Signature-Settings` (`key=<id>,algorithm=HMAC_SHA256`), set when
    a Webhooks rule signs with a shared key instead of the auth token; HMAC_SHA1 without the header, None when
    the header names an algorithm we do not know."""
    if not settings_header:
        return "HMAC_SHA1"
    fields = dict(part.strip().partition("=")[::2] for part in settings_header.split(","))
    algorithm = fields.get("algorithm", "").strip().upper()
    return algorithm if algorithm in _ALGORITHMS else None


def verify_signature(url: str, params: Params, header: str | None, auth_token: str,
                     algorithm: str = "HMAC_SHA1") -> bool:
    """Check `X-Twilio-Signature` in constant time, for the URL with and without its default port."""
    if not header or not auth_token:
        return False
    given = header.strip().encode()
    # Every form is computed and compared, so the time taken does not say which one matched.
    results = [hmac.compare_digest(compute_signature(form, params, auth_token, algorithm).encode(), given)
               for form in url_forms(url)]
    return any(results)


def _require(form: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not form.get(name):
            raise MalformedDelivery(f"{name}: required")


def _as_dict(form: Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(form[k]) for k in form}


def parse_inbound(form: Mapping[str, str]) -> InboundEvent:
    """An inbound SMS/MMS webhook. The channel is named by `To`, our number; see `channel_refs` for the service."""
    _require(form, "MessageSid", "From", "To")
    return InboundEvent(channel_ref=form["To"], event_id=form["MessageSid"], kind="message", payload=_as_dict(form))


def channel_refs(form: Mapping[str, str], *, status: bool = False) -> list[str]:
    """The refs a channel may be registered under, best first: `MessagingServiceSid`, then our number.

    Our number is `To` on an inbound message and `From` on a status callback (`status=True`). A channel set up
    as a Messaging Service owns a pool of numbers, so the service sid is its stable name when present; a channel
    set up as a single number is found by the number. Look the refs up in this order and use the first that
    matches, e.g. `dataclasses.replace(event, channel_ref=ref)` before storing the event.
    """
    names = ("MessagingServiceSid", "From" if status else "To")
    return [form[name] for name in names if form.get(name)]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_message(payload: dict[str, Any]) -> ParsedMessage:
    """The customer message inside a stored inbound payload (the webhook form)."""
    num_media = _int(payload.get("NumMedia"))
    media = [{"url": payload.get(f"MediaUrl{i}"), "content_type": payload.get(f"MediaContentType{i}")}
             for i in range(num_media) if payload.get(f"MediaUrl{i}")]
    refs = tuple(MediaRef(kind=_media_kind(m["content_type"]), url=str(m["url"]),
                          mime_type=None if m["content_type"] is None else str(m["content_type"])) for m in media)
    return ParsedMessage(
        provider_message_id=str(payload["MessageSid"]),
        sender=str(payload["From"]),
        sender_name=None,  # SMS carries no display name
        kind="media" if num_media > 0 else "text",
        body=str(payload.get("Body") or ""),
        extra={"media": media, "num_segments": _int(payload.get("NumSegments"), 1)},
        media=refs,
    )


def _media_kind(content_type: Any) -> Literal["image", "audio", "video", "file"]:
    major = str(content_type or "").split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"  # type: ignore[return-value]


def normalise_status(status: str) -> str | None:
    """Our delivery status for a Twilio `MessageStatus`, or None when it should change nothing."""
    return _STATUSES.get(status.strip().lower())


def parse_status(form: Mapping[str, str]) -> InboundEvent:
    """A status callback for one of our outbound messages.

    The channel ref is `From` (our number sent the message). The event id includes the status so each step is
    stored once while `delivered` after `sent` is still a new event; callbacks can arrive out of order, so the
    consumer must not move a message backwards.
    """
    _require(form, "MessageSid", "MessageStatus")
    raw = _as_dict(form)
    payload = {"id": form["MessageSid"], "status": normalise_status(form["MessageStatus"]),
               "error_code": form.get("ErrorCode") or None, "raw": raw}
    return InboundEvent(channel_ref=form.get("From", ""), event_id=f"{form['MessageSid']}:{form['MessageStatus']}",
                        kind="status", payload=payload)


def send_sms(*, base_url: str, account_sid: str, auth_token: str, from_: str | None,
             messaging_service_sid: str | None, to: str, body: str, status_callback: str | None,
             timeout: tuple[float, float], session: requests.Session | None = None,
             media_urls: Sequence[str] = ()) -> str:
    """Send an SMS (an MMS with `media_urls`: public URLs Twilio fetches); returns the message sid. Raises
    ProviderError.

    A read timeout is reported as retryable although Twilio may have accepted the message: the REST API has no
    idempotency key, so a retry can, rarely, send the text twice. Callers that cannot accept that should treat
    code "timeout" as unknown outcome.
    """
    if not from_ and not messaging_service_sid:
        raise ProviderError("no_sender", "either from_ or messaging_service_sid is required", retryable=False)
    form = {"To": to, "Body": body}
    if from_:
        form["From"] = from_
    if messaging_service_sid:
        form["MessagingServiceSid"] = messaging_service_sid
    if status_callback:
        form["StatusCallback"] = status_callback
    url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
    http = session or requests
    data: Any = list(form.items()) + [("MediaUrl", u) for u in media_urls]  # MediaUrl repeats, one per file
    try:
        resp = http.post(url, data=data, auth=(account_sid, auth_token), timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    # Twilio answers 201; any 2xx means the message was accepted, and retrying it would send a duplicate.
    if 200 <= resp.status_code < 300:
        try:
            sid = resp.json()["sid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True,
                                http_status=resp.status_code) from exc
        if not isinstance(sid, str) or not sid:
            raise ProviderError("bad_response", resp.text[:200], retryable=True, http_status=resp.status_code)
        return sid
    _raise_error(resp)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not used by Twilio and is ignored."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _raise_error(resp: requests.Response) -> NoReturn:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        doc = {}
    code = str(doc.get("code") or resp.status_code)
    reason = str(doc.get("message") or resp.text[:200] or resp.reason)
    retryable = resp.status_code == 429 or resp.status_code >= 500
    raise ProviderError(code, reason, retryable=retryable, retry_after=_retry_after(resp.headers.get("Retry-After")),
                        http_status=resp.status_code)


def check_account(*, base_url: str, account_sid: str, auth_token: str, timeout: tuple[float, float],
                  session: requests.Session | None = None) -> dict[str, Any]:
    """`GET /2010-04-01/Accounts/{sid}.json` with the account's basic auth: the account, or ProviderError."""
    url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}.json"
    http: Any = session or requests
    try:
        resp: requests.Response = http.get(url, auth=(account_sid, auth_token), timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    if resp.status_code == 200:
        try:
            doc = resp.json()
        except ValueError as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
        if isinstance(doc, dict) and doc.get("sid") == account_sid:
            if doc.get("status") not in (None, "active"):
                raise ProviderError("account_" + str(doc["status"]), f"the account is {doc['status']}")
            return doc
        raise ProviderError("bad_response", resp.text[:200], retryable=True)
    _raise_error(resp)


_OURS = {s.value: s for s in DeliveryStatus}


def status_callback_url(public_base_url: str, reference: str | None) -> str:
    """Our status callback for one send: the query names our message, and Twilio signs the URL with it."""
    url = f"{public_base_url}/webhooks/twilio/status"
    return f"{url}?{urlencode({'ref': reference})}" if reference else url


def _same_account(channel: ChannelRef, form: Mapping[str, str]) -> bool:
    account = credentials(channel, "account_sid")
    return not account or hmac.compare_digest(account, form.get("AccountSid", ""))


class TwilioAdapter:
    """Twilio Programmable Messaging (SMS). Channel: `external_id` = our number (E.164) or Messaging Service sid;
    credentials `account_sid`, `auth_token`, optional `messaging_service_sid` (send through the service) and
    `webhook_shared_key` (the secret of a Webhooks rule that signs with HMAC-SHA256 instead of the auth token).

    Routes: "messages" (inbound SMS, answered with empty TwiML) and "status" (status callbacks).
    """

    kind = ChannelKind.SMS
    provider = PROVIDER
    address: Literal["phone", "email"] = "phone"

    def authenticate(self, request: WebhookRequest, directory: ChannelDirectory) -> None:
        return None  # the form is the signed input, and the form names the channel: verify_delivery checks it

    def parse_delivery(self, request: WebhookRequest) -> Delivery:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType("expected application/x-www-form-urlencoded")
        form = request.form_dict()
        status = request.route == "status"
        event = parse_status(form) if status else parse_inbound(form)
        if status and request.query.get("ref"):  # our StatusCallback URL names our message (see send)
            event.payload["reference"] = request.query["ref"]
        # A status we do not track (e.g. "receiving") is verified and answered, but stores nothing.
        events = [] if status and event.payload.get("status") is None else [event]
        return Delivery(events, tuple(channel_refs(form, status=status)))

    def verify_delivery(self, request: WebhookRequest, delivery: Delivery, directory: ChannelDirectory) -> Verified:
        # The messaging service first, then our number (see channel_refs): the first that names a channel wins.
        # A number is ours only within its account: AccountSid + To (From on a status), as Twilio names it.
        form = request.form_dict()
        channel = next((c for ref in delivery.refs if (c := directory.find([ref]).get(ref)) is not None
                        and (ref == form.get("MessagingServiceSid") or _same_account(c, form))), None)
        if channel is None:
            raise UnknownChannel("no channel for this MessagingServiceSid or AccountSid and number")
        signature = request.header("X-Twilio-Signature")
        if not signature:
            raise SignatureMissing("X-Twilio-Signature header is required")
        # A Webhooks rule may sign with a shared key (HMAC-SHA256) instead of the auth token (HMAC-SHA1).
        settings_header = request.header(SIGNATURE_SETTINGS_HEADER)
        algorithm = signature_algorithm(settings_header)
        if algorithm is None:
            raise SignatureInvalid(f"{SIGNATURE_SETTINGS_HEADER} names an algorithm we do not support")
        key = credentials(channel, "webhook_shared_key" if settings_header else "auth_token")
        if not verify_signature(request.url, list(request.form), signature, key, algorithm):
            raise SignatureInvalid("X-Twilio-Signature does not match the URL and parameters"
                                   + (" (signed with a shared key: set the channel's webhook_shared_key)"
                                      if settings_header and not key else ""))
        return Verified({channel.external_id: channel},
                        [replace(e, channel_ref=channel.external_id) for e in delivery.events])

    def acknowledge(self, request: WebhookRequest) -> Ack | None:
        # Twilio does not retry a webhook: answer at once, with no reply message of its own.
        return Ack(EMPTY_TWIML, "text/xml") if request.route == "messages" else None

    def handshake(self, request: WebhookRequest, directory: ChannelDirectory) -> Ack:
        raise Refused("Twilio has no subscription handshake", status=404, code="not_found")

    def parse_message(self, payload: dict[str, Any]) -> ParsedMessage:
        return parse_message(payload)

    def normalise_status(self, payload: dict[str, Any]) -> StatusUpdate | None:
        status = _OURS.get(str(payload.get("status")))
        if status is None:
            return None
        code = payload.get("error_code")
        reference = payload.get("reference")
        return StatusUpdate(provider_message_id=str(payload["id"]), status=status,
                            error_code=None if code is None else str(code),
                            reference=None if reference is None else str(reference))

    def ticket_named(self, channel: Channel, message: ParsedMessage) -> int | None:
        return None

    def send(self, channel: Channel, message: OutboundMessage, transport: Transport, now: datetime) -> SendReceipt:
        if message.media is not None or message.buttons:
            raise unsupported("media or interactive messages", PROVIDER)
        if len(message.files) > 10:
            raise ProviderError("unsupported", "Twilio MMS carries at most 10 files", retryable=False)
        service = credentials(channel, "messaging_service_sid") or None
        settings = transport.settings
        # Twilio has no templates: a template reply goes out as its text.
        return SendReceipt(send_sms(
            base_url=settings.twilio_api_base_url, account_sid=credentials(channel, "account_sid"),
            auth_token=credentials(channel, "auth_token"), from_=None if service else channel.external_id,
            messaging_service_sid=service, to=f"+{message.to}" if message.to else "", body=message.body,
            status_callback=status_callback_url(settings.public_base_url, message.reference), timeout=transport.timeout,
            session=transport.http, media_urls=[f.url for f in message.files]))

    def fetch_media(self, channel: Channel, media: MediaRef, transport: Transport) -> MediaContent:
        if not media.url:
            raise unsupported("media without a MediaUrl", PROVIDER)
        return twilio_media.fetch(base_url=transport.settings.twilio_api_base_url,
                                  account_sid=credentials(channel, "account_sid"),
                                  auth_token=credentials(channel, "auth_token"), url=media.url,
                                  timeout=transport.timeout, session=transport.http)

    def validate_credentials(self, channel: Channel, transport: Transport) -> None:
        check_account(base_url=transport.settings.twilio_api_base_url, account_sid=credentials(channel, "account_sid"),
                      auth_token=credentials(channel, "auth_token"), timeout=transport.timeout,
                      session=transport.http)


ADAPTER = TwilioAdapter()
