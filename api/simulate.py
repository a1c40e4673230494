"""Simulated customers on the sandbox channel, for the first hour without a provider account.

`delivery` builds the JSON body a sandbox webhook takes (the shapes of `models.providers.sandbox`); the
`atendimento simulate` command posts it, signed, to `POST /webhooks/sandbox/<channel>` over HTTP, and the
supervisor-only `POST /api/admin/sandbox/simulate` signs it here and hands it to the same adapter and
`inbound.receive` the webhook view calls, so a browser never holds the channel's secret.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import login_required
from api.db import commit, db
from api.errors import ApiError
from api.schemas import StoredSchema
from models import Channel, Contact, Direction, Message, Ticket
from models.org import ChannelKind, Role
from models.providers.adapter import credentials
from models.providers.base import Refused, WebhookRequest
from models.providers.registry import adapter_for
from models.providers.sandbox import SIGNATURE_HEADER, sign
from models.rules.phones import normalize_phone
from models.services.inbound import receive

blp = Blueprint("simulate", __name__, url_prefix="/api/admin/sandbox",
                description="Simulated customers on sandbox channels (supervisors)")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)
KINDS = ("text", "image", "location", "contacts", "reaction", "status")
STATUSES = ("delivered", "read", "failed")
# A 1x1 PNG: what `--image` without a file (and the console's image button) sends.
PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
# What a location or a contact card without details shares: enough to see the cards in the console.
SAMPLE_PLACE = {"latitude": -23.5614, "longitude": -46.6559, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}
SAMPLE_CARD = {"name": "João Souza", "phones": ["+5511912345678"], "emails": ["joao@example.com"]}


class SimulationError(ValueError):
    """A simulation that cannot be built (no reply to react to, say); the message says what is missing."""


def delivery(kind: str, sender: str, *, name: str | None = None, text: str | None = None,
             image: tuple[bytes, str] | None = None, caption: str | None = None, emoji: str | None = None,
             message_id: str | None = None, status: str | None = None, reason: str | None = None,
             location: dict[str, Any] | None = None, card: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of one sandbox delivery: a customer message (text, image, location, contact card, reaction) or a
    status of our reply. A location or card without details is a sample one (SAMPLE_PLACE, SAMPLE_CARD)."""
    event_id = f"sim-{uuid.uuid4().hex[:16]}"
    if kind == "status":
        if not message_id:
            raise SimulationError("a status needs the provider id of one of our replies (sbx-...)")
        item: dict[str, Any] = {"id": message_id, "status": status or "read"}
        if item["status"] == "failed":
            item["error"] = {"code": "simulated", "reason": reason or "simulated failure"}
        return {"statuses": [item]}
    message: dict[str, Any] = {"id": event_id, "from": sender, "type": kind}
    if name:
        message["name"] = name
    if kind == "text":
        if not text:
            raise SimulationError("a text message needs its text")
        message["text"] = text
    elif kind == "image":
        content, mime = image or (base64.b64decode(PIXEL_PNG), "image/png")
        message["media"] = {"url": f"data:{mime};base64,{base64.b64encode(content).decode()}", "mime_type": mime,
                            "filename": "photo.png" if mime == "image/png" else "photo"}
        if caption or text:
            message["media"]["caption"] = caption or text
    elif kind == "location":
        message["location"] = {k: v for k, v in {**SAMPLE_PLACE, **(location or {})}.items() if v is not None}
    elif kind == "contacts":
        given = {k: v for k, v in (card or {}).items() if v}
        message["contacts"] = [{"name": given.get("name", ""), "phones": given.get("phones", []),
                                "emails": given.get("emails", [])} if given else SAMPLE_CARD]
    elif kind == "reaction":
        if not message_id:
            raise SimulationError("a reaction needs the provider id of one of our replies (sbx-...)")
        message["reaction"] = {"message_id": message_id, "emoji": emoji or "👍"}
    else:
        raise SimulationError(f"kind: one of {', '.join(KINDS)}")
    return {"messages": [message]}


def latest_reply_id(session: Session, channel: Channel, sender: str) -> str | None:
    """The provider id of the newest reply we sent to `sender` on this channel: what a reaction or status names."""
    return session.scalar(
        select(Message.provider_message_id)
        .join(Ticket, Ticket.id == Message.ticket_id).join(Contact, Contact.id == Ticket.contact_id)
        .where(Message.channel_id == channel.id, Message.direction == Direction.OUTBOUND,
               Message.provider_message_id.is_not(None), Contact.phone == normalize_phone(sender))
        .order_by(Message.id.desc()).limit(1))


def sandbox_channels(session: Session, tenant_id: int | None = None) -> list[Channel]:
    query = select(Channel).where(Channel.kind == ChannelKind.SANDBOX).order_by(Channel.id)
    if tenant_id is not None:
        query = query.where(Channel.tenant_id == tenant_id)
    return list(session.scalars(query))


def encode(doc: dict[str, Any], secret: str) -> tuple[bytes, str]:
    """The raw body and its X-Sandbox-Signature, as a simulator sends them."""
    raw = json.dumps(doc, ensure_ascii=False).encode()
    return raw, sign(raw, secret)


def _place(body: dict[str, Any]) -> dict[str, Any] | None:
    if body["latitude"] is None:
        return None if body["place"] is None and body["address"] is None else {
            "name": body["place"], "address": body["address"]}
    return {"latitude": body["latitude"], "longitude": body["longitude"], "name": body["place"],
            "address": body["address"]}


def _card(body: dict[str, Any]) -> dict[str, Any]:
    return {"name": body["contact_name"], "phones": [body["contact_phone"]] if body["contact_phone"] else None,
            "emails": [body["contact_email"]] if body["contact_email"] else None}


# ---- The supervisor's endpoint --------------------------------------------------------------------------------

class SandboxChannelSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    external_id = fields.String(metadata={"description": "the webhook path: /webhooks/sandbox/<external_id>"})


class SimulateSchema(Schema):
    channel_id = fields.Integer(load_default=None, metadata={"description": "omit: the tenant's first sandbox"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    sender = fields.String(data_key="from", required=True, validate=validate.Regexp(r"^\+?\d{8,15}$"),
                           metadata={"description": "the customer's phone, digits (a leading + allowed)"})
    name = fields.String(load_default=None, validate=validate.Length(max=200))
    text = fields.String(load_default=None, validate=validate.Length(max=4096))
    emoji = fields.String(load_default=None, validate=validate.Length(1, 16))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    message_id = fields.String(load_default=None, validate=validate.Length(1, 200),
                               metadata={"description": "reaction/status: our reply's provider id; omit: the "
                                                        "newest reply to this customer"})
    latitude = fields.Float(load_default=None, validate=validate.Range(-90, 90),
                            metadata={"description": "location: omit latitude and longitude for a sample place"})
    longitude = fields.Float(load_default=None, validate=validate.Range(-180, 180))
    place = fields.String(load_default=None, validate=validate.Length(1, 200),
                          metadata={"description": "location: the place's name"})
    address = fields.String(load_default=None, validate=validate.Length(1, 500))
    contact_name = fields.String(load_default=None, validate=validate.Length(1, 200),
                                 metadata={"description": "contacts: the shared card (omitted parts: a sample)"})
    contact_phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?\d{8,15}$"))
    contact_email = fields.Email(load_default=None, validate=validate.Length(max=254))

    @validates_schema
    def _text(self, data: dict[str, Any], **_kw: Any) -> None:
        if data["kind"] == "text" and not (data.get("text") or "").strip():
            raise ValidationError("a text message needs its text", "text")
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("give both latitude and longitude, or neither", "latitude")


@blp.get("/channels")
@login_required(*STAFF)
@blp.response(200, SandboxChannelSchema(many=True))
@blp.doc(security=BEARER)
def channels() -> list[Channel]:
    """The tenant's sandbox channels (empty: nothing to simulate on)"""
    return sandbox_channels(db(), g.user.tenant_id)


@blp.post("/simulate")
@login_required(*STAFF)
@blp.arguments(SimulateSchema)
@blp.response(200, StoredSchema)
@blp.alt_response(404, description="no sandbox channel by this id in your tenant")
@blp.alt_response(409, description="a reaction or status with no reply to this customer to name")
@blp.doc(security=BEARER)
def simulate(body: dict[str, Any]) -> dict[str, int]:
    """Simulate a customer: sign a sandbox delivery here and take it in through the webhook's own path"""
    session = db()
    found = [c for c in sandbox_channels(session, g.user.tenant_id)
             if body["channel_id"] is None or c.id == body["channel_id"]]
    if not found:
        raise ApiError(404, "not_found", "no sandbox channel in your tenant by this id")
    channel = found[0]
    message_id = body["message_id"]
    if body["kind"] in ("reaction", "status") and not message_id:
        message_id = latest_reply_id(session, channel, body["sender"])
        if not message_id:
            raise ApiError(409, "no_reply", "no reply has been sent to this customer yet: reply first, then "
                                            "simulate a reaction or a status")
    doc = delivery(body["kind"], body["sender"], name=body["name"], text=body["text"], emoji=body["emoji"],
                   message_id=message_id, status=body["status"], location=_place(body), card=_card(body))
    raw, signature = encode(doc, credentials(channel, "secret"))
    settings = current_app.extensions["atendimento.settings"]
    path = f"/webhooks/sandbox/{channel.external_id}"
    hook = WebhookRequest(route="messages", raw_body=raw, mimetype="application/json",
                          headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                          url=f"{settings.public_base_url}{path}", form=[], query={}, files_count=0,
                          path_token=channel.external_id)
    try:
        result = receive(session, adapter_for(ChannelKind.SANDBOX), hook)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc
    commit()
    return {"stored": result.stored, "duplicates": result.duplicates}
