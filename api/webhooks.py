"""Provider webhooks: verify, locate the channel, store once, answer. Everything else happens in workers."""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from api.db import commit, db
from api.errors import ApiError
from models.org import Channel, ChannelKind
from models.providers import whatsapp
from models.providers.base import MalformedDelivery
from models.services.inbound import find_channels, store_events

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "expected Content-Type: application/json")
    try:
        return json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from exc


@blp.get("/whatsapp")
def whatsapp_verify() -> Response | tuple[dict[str, Any], int]:
    """Meta's subscription handshake: echo hub.challenge when hub.verify_token is one of ours."""
    mode, token = request.args.get("hub.mode"), request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge")
    if mode != "subscribe" or not challenge:
        raise ApiError(400, "bad_handshake", "hub.mode=subscribe and hub.challenge are required")
    tokens = db().scalars(select(Channel.credentials).where(Channel.kind == ChannelKind.WHATSAPP,
                                                            Channel.active.is_(True)))
    if not any(hmac.compare_digest(str(c.get("verify_token", "")), token) for c in tokens if c.get("verify_token")):
        raise ApiError(403, "bad_verify_token", "hub.verify_token does not match any channel")
    return Response(challenge, mimetype="text/plain")


@blp.post("/whatsapp")
def whatsapp_delivery() -> dict[str, int]:
    """A WhatsApp Cloud API delivery: messages and statuses, signed with the app secret."""
    raw = request.get_data()
    try:
        delivery = whatsapp.parse_delivery(_json_body())
    except MalformedDelivery as exc:
        raise ApiError(400, "malformed_delivery", str(exc)) from exc
    channels = find_channels(db(), ChannelKind.WHATSAPP, delivery.refs)
    unknown = sorted(delivery.refs - channels.keys())
    if unknown:
        raise ApiError(404, "unknown_channel", "no channel for phone_number_id", {"phone_number_id": unknown})
    signature = request.headers.get("X-Hub-Signature-256")
    if channels and not signature:
        raise ApiError(401, "missing_signature", "X-Hub-Signature-256 header is required")
    for channel in channels.values():
        if not whatsapp.verify_signature(raw, signature, str(channel.credentials.get("app_secret", ""))):
            raise ApiError(403, "invalid_signature", "X-Hub-Signature-256 does not match the body")
    result = store_events(db(), whatsapp.PROVIDER, channels, delivery.events)
    commit()
    return {"stored": result.stored, "duplicates": result.duplicates}
