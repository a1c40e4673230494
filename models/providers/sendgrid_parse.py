"""SendGrid documents read into events and messages: Inbound Parse posts (email in) and Event Webhook items.

Pure parsing, no I/O; `models.providers.sendgrid` verifies, sends and wraps these in the channel adapter.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
from collections.abc import Mapping
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from models.providers.base import EmailThread, InboundEvent, MalformedDelivery, MediaRef, ParsedMessage

_MAX_EVENT_ID = 255  # inbox_events.event_id
_MAX_MESSAGE_ID = 200  # messages.provider_message_id, unique per channel
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REFERENCE_ARG = "atendimento_ref"  # the custom_args key naming our message; SendGrid echoes it on each event

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
        keys = [k for k in sorted(info, key=order) if isinstance(info[k], dict)]
        return [{"field": k, "filename": info[k].get("filename") or info[k].get("name"), "type": info[k].get("type"),
                 "content_id": info[k].get("content-id")} for k in keys]
    count = min(files_count or _int(form.get("attachments")), 100)  # the field is a claim, not a file list
    return [{"field": f"attachment{i + 1}", "filename": None, "type": None} for i in range(count)]


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
        media=tuple(MediaRef(kind="file", filename=a.get("filename"), mime_type=a.get("type"),
                             inline_id=a.get("content_id"), error=a.get("error"),
                             stored=a["stored"] if isinstance(a.get("stored"), dict) else None)
                    for a in attachments),
        thread=EmailThread(subject=str(payload.get("subject") or ""), message_id=payload.get("message_id"),
                           in_reply_to=payload.get("in_reply_to"),
                           references=tuple(str(r) for r in payload.get("references") or []),
                           recipient=payload.get("recipient")),
    )


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
        if item["event"] == "open" and item.get("sg_machine_open") in (True, "true"):
            status = None  # a mail privacy proxy fetched the pixel: nobody read it
        message_id = str(item.get("sg_message_id") or "").split(".", 1)[0]
        if status is None or not message_id:
            continue
        payload = {"id": message_id, "status": status, "reason": item.get("reason"), "raw": item,
                   "reference": item.get(REFERENCE_ARG)}
        events.append(InboundEvent(channel_ref="", event_id=str(item["sg_event_id"]), kind="status", payload=payload))
    return events
