"""Provider webhooks: verify, locate the channel, store once, answer. Everything else happens in workers."""

from __future__ import annotations

import hmac
import time
from dataclasses import replace
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy import select

from api.db import commit, db
from api.errors import ApiError, load_json
from api.schemas import StoredSchema
from models.org import Channel, ChannelKind
from models.providers import sendgrid, twilio, whatsapp
from models.providers.base import MalformedDelivery
from models.services.inbound import find_channels, store_events

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Provider webhooks (signed by each provider)")


def _refusals(view: Any) -> Any:
    """Document the answers every webhook may give instead of 200 (each with the JSON error body)."""
    for status, why in ((400, "malformed delivery"), (401, "signature missing"), (403, "signature invalid"),
                        (404, "no channel for this delivery"), (413, "body over MAX_WEBHOOK_BYTES"),
                        (415, "wrong content type")):
        view = blp.alt_response(status, description=why)(view)
    return view


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "expected Content-Type: application/json")
    return load_json(request.get_data())  # depth bound and NUL check, like every other JSON body


@blp.get("/whatsapp")
@blp.doc(responses={"200": {"description": "hub.challenge echoed", "content": {"text/plain": {}}}})
@blp.alt_response(400, description="not a subscribe handshake")
@blp.alt_response(403, description="unknown verify token")
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
@blp.response(200, StoredSchema)
@_refusals
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


def _public_url() -> str:
    """The URL the provider called, as it saw it: behind a proxy our own host differs, hence PUBLIC_BASE_URL."""
    settings = current_app.extensions["atendimento.settings"]
    query = request.query_string.decode()
    return f"{settings.public_base_url}{request.path}" + (f"?{query}" if query else "")


def _twilio_channel(form: Any, status: bool) -> Channel:
    for ref in twilio.channel_refs(form, status=status):
        channel = find_channels(db(), ChannelKind.SMS, [ref]).get(ref)
        if channel is not None:
            return channel
    raise ApiError(404, "unknown_channel", "no channel for this MessagingServiceSid or number")


def _twilio_form() -> Any:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "expected application/x-www-form-urlencoded")
    return request.form


def _twilio_verified(form: Any, status: bool) -> Channel:
    channel = _twilio_channel(form, status)
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise ApiError(401, "missing_signature", "X-Twilio-Signature header is required")
    params = list(form.items(multi=True))
    if not twilio.verify_signature(_public_url(), params, signature, str(channel.credentials.get("auth_token", ""))):
        raise ApiError(403, "invalid_signature", "X-Twilio-Signature does not match the URL and parameters")
    return channel


@blp.post("/twilio/sms")
@blp.doc(responses={"200": {"description": "empty TwiML", "content": {"text/xml": {}}}})
@_refusals
def twilio_sms() -> Response:
    """An inbound SMS: stored once, answered with empty TwiML (Twilio does not retry, so we answer fast)."""
    form = _twilio_form()
    try:
        event = twilio.parse_inbound(form)
    except MalformedDelivery as exc:
        raise ApiError(400, "malformed_delivery", str(exc)) from exc
    channel = _twilio_verified(form, status=False)
    store_events(db(), twilio.PROVIDER, {channel.external_id: channel},
                 [replace(event, channel_ref=channel.external_id)])
    commit()
    return Response(twilio.EMPTY_TWIML, mimetype="text/xml")


@blp.post("/twilio/status")
@blp.response(200, StoredSchema)
@_refusals
def twilio_status() -> dict[str, int]:
    """A Twilio status callback for one of our sends."""
    form = _twilio_form()
    try:
        event = twilio.parse_status(form)
    except MalformedDelivery as exc:
        raise ApiError(400, "malformed_delivery", str(exc)) from exc
    channel = _twilio_verified(form, status=True)
    if event.payload.get("status") is None:
        return {"stored": 0, "duplicates": 0}  # a status we do not track (e.g. "receiving")
    result = store_events(db(), twilio.PROVIDER, {channel.external_id: channel},
                          [replace(event, channel_ref=channel.external_id)])
    commit()
    return {"stored": result.stored, "duplicates": result.duplicates}


@blp.post("/sendgrid/inbound/<token>")
@blp.response(200, StoredSchema)
@_refusals
def sendgrid_inbound(token: str) -> dict[str, int]:
    """An Inbound Parse email. Parse signs nothing: the channel's secret in the URL authenticates it."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "expected multipart/form-data")
    try:
        event = sendgrid.parse_inbound(request.form, files_count=len(request.files))
    except MalformedDelivery as exc:
        raise ApiError(400, "malformed_delivery", str(exc)) from exc
    channel = find_channels(db(), ChannelKind.EMAIL, [event.channel_ref]).get(event.channel_ref)
    secret = str(channel.credentials.get("inbound_secret", "")) if channel else ""
    if channel is None or not secret or not hmac.compare_digest(secret, token):
        # One answer for unknown address and wrong secret: the URL secret must not be probed address by address.
        raise ApiError(403, "forbidden", "unknown recipient or wrong inbound secret")
    result = store_events(db(), sendgrid.PROVIDER, {channel.external_id: channel}, [event])
    commit()
    return {"stored": result.stored, "duplicates": result.duplicates}


@blp.post("/sendgrid/events")
@blp.response(200, StoredSchema)
@_refusals
def sendgrid_events() -> dict[str, int]:
    """SendGrid Event Webhook: ECDSA-signed delivery events, deduplicated by sg_event_id."""
    raw = request.get_data()
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp")
    if not signature or not timestamp:
        raise ApiError(401, "missing_signature", "X-Twilio-Email-Event-Webhook-Signature and -Timestamp required")
    channels = db().scalars(select(Channel).where(Channel.kind == ChannelKind.EMAIL, Channel.active.is_(True)))
    now = time.time()
    channel = next((c for c in channels if c.credentials.get("event_public_key") and sendgrid.verify_event_signature(
        str(c.credentials["event_public_key"]), signature, timestamp, raw, now)), None)
    if channel is None:
        raise ApiError(403, "invalid_signature", "signature does not verify, or the timestamp is too old")
    try:
        events = sendgrid.parse_events(_json_body())
    except MalformedDelivery as exc:
        raise ApiError(400, "malformed_delivery", str(exc)) from exc
    result = store_events(db(), sendgrid.PROVIDER, {channel.external_id: channel},
                          [replace(e, channel_ref=channel.external_id) for e in events])
    commit()
    return {"stored": result.stored, "duplicates": result.duplicates}
