"""WhatsApp Cloud API webhook deliveries, shaped as Meta documents them, and signed like Meta signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "example-app-secret"


def text_delivery(wamid: str, sender: str = "5511987654321", body: str = "Olá, preciso de ajuda",
                  name: str = "Maria Silva", phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name}, "wa_id": sender}],
                    "messages": [{"from": sender, "id": wamid, "timestamp": "1700000000", "type": "text",
                                  "text": {"body": body}}],
                },
            }],
        }],
    }


def status_delivery(wamid: str, status: str, recipient: str = "5511987654321",
                    phone_number_id: str = PHONE_NUMBER_ID, callback_data: str | None = None) -> dict[str, Any]:
    """A status webhook; `callback_data` is the send's `biz_opaque_callback_data`, which Meta echoes in it."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": "1700000100", "recipient_id": recipient}
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if status == "failed":
        item["errors"] = [{"code": 131047, "title": "Re-engagement message",
                           "message": "Re-engagement message", "error_data": {"details": "outside window"}}]
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "15550783881",
                                                    "phone_number_id": phone_number_id},
                                       "statuses": [item]}}]}]}


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def encode(doc: dict[str, Any]) -> bytes:
    # Meta escapes non-ASCII as \uXXXX: the signature covers exactly these bytes.
    return json.dumps(doc).encode()


def message_delivery(message: dict[str, Any], sender: str = "5511987654321", name: str = "Maria Silva",
                     phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """A delivery of one message of any type: `message` holds `id`, `type` and the type's object (and
    `context` for a reply); `from` and `timestamp` are filled in."""
    doc = text_delivery(message["id"], sender=sender, name=name, phone_number_id=phone_number_id)
    doc["entry"][0]["changes"][0]["value"]["messages"] = [{"from": sender, "timestamp": "1700000000", **message}]
    return doc


def media_message(wamid: str, kind: str, media_id: str, mime_type: str, sha256: str, **extra: str) -> dict[str, Any]:
    """A media message (image, document, audio, video, sticker) as Meta sends it: `{id, mime_type, sha256, ...}`
    (voice notes are audio with `"voice": true`; documents carry `filename`; images and videos may have a caption)."""
    return {"id": wamid, "type": kind, kind: {"id": media_id, "mime_type": mime_type, "sha256": sha256, **extra}}
