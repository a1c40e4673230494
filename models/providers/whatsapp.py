"""WhatsApp Cloud API: webhook signature, delivery parsing and the Graph API send."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from models.providers.base import InboundEvent, MalformedDelivery, ParsedMessage, ProviderError

PROVIDER = "whatsapp"
_MEDIA = ("image", "audio", "video", "document", "sticker")


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw bytes (never re-serialised JSON), constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _values(doc: Any) -> Iterator[dict[str, Any]]:
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
            yield value


@dataclass(frozen=True)
class Delivery:
    refs: set[str]  # phone_number_ids the delivery is for: whose app secrets must have signed it
    events: list[InboundEvent]


def parse_delivery(doc: Any) -> Delivery:
    """Every message and status of a delivery (several entries, changes and items may come at once)."""
    events: list[InboundEvent] = []
    refs: set[str] = set()
    for value in _values(doc):
        ref = value["metadata"]["phone_number_id"]
        refs.add(ref)
        contacts = {c.get("wa_id"): c for c in value.get("contacts") or [] if isinstance(c, dict)}
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                raise MalformedDelivery("messages[]: id and from are required")
            payload = {"metadata": value["metadata"], "contact": contacts.get(message["from"]), "message": message}
            events.append(InboundEvent(ref, str(message["id"]), "message", payload))
        for status in value.get("statuses") or []:
            if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
                raise MalformedDelivery("statuses[]: id and status are required")
            # One row per (message, status): `read` after `delivered` is a new event, a redelivery is not.
            event_id = f"{status['id']}:{status['status']}"
            events.append(InboundEvent(ref, event_id, "status", {"metadata": value["metadata"], "status": status}))
    return Delivery(refs, events)


def parse_message(payload: dict[str, Any]) -> ParsedMessage:
    """The customer message inside a stored inbox payload."""
    message = payload["message"]
    contact = payload.get("contact") or {}
    kind = message.get("type", "text")
    body, extra = "", {}
    if kind == "text":
        body = (message.get("text") or {}).get("body", "")
    elif kind in _MEDIA:
        media = message.get(kind) or {}
        extra = {k: media[k] for k in ("id", "mime_type", "sha256", "filename") if k in media}
        body = media.get("caption", "")
    elif kind == "interactive":
        reply = message["interactive"].get("button_reply") or message["interactive"].get("list_reply") or {}
        extra = {"reply_id": reply.get("id")}
        body = reply.get("title", "")
    elif kind == "button":
        extra = {"payload": message["button"].get("payload")}
        body = message["button"].get("text", "")
    elif kind == "location":
        extra = dict(message["location"])
        body = extra.get("name") or f"{extra.get('latitude')},{extra.get('longitude')}"
    else:
        extra = {kind: message.get(kind)}
    return ParsedMessage(
        provider_message_id=str(message["id"]),
        sender=str(message["from"]),
        sender_name=(contact.get("profile") or {}).get("name"),
        kind=kind,
        body=body,
        extra=extra,
    )


def send(*, base_url: str, version: str, phone_number_id: str, token: str, to: str, body: str,
         timeout: tuple[float, float], template: dict[str, Any] | None = None,
         session: requests.Session | None = None) -> str:
    """Send a text, or a template (`{"name", "language": {"code"}, "components"}`) outside the 24 h window."""
    url = f"{base_url}/{version}/{phone_number_id}/messages"
    doc: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if template:
        doc.update(type="template", template=template)
    else:
        doc.update(type="text", text={"body": body})
    http = session or requests
    try:
        resp = http.post(url, json=doc, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    if resp.status_code == 200:
        try:
            return str(resp.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
    return _raise_error(resp)


def _raise_error(resp: requests.Response) -> Any:
    try:
        err = resp.json().get("error") or {}
    except ValueError:
        err = {}
    code = str(err.get("code", resp.status_code))
    reason = str(err.get("message", resp.text[:200]))
    retry_after = resp.headers.get("Retry-After")
    # 130429 throughput and 131056 pair rate limits are "slow down", not "never".
    retryable = resp.status_code >= 500 or resp.status_code == 429 or code in ("130429", "131056")
    raise ProviderError(code, reason, retryable=retryable,
                        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                        http_status=resp.status_code)
