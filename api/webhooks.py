"""Provider webhooks: hand the request to the channel's adapter, store once, answer. The rest happens in workers.

Each route names a channel kind and one of its provider's callbacks; what to check and how to answer is the
adapter's (`models.providers.adapter.ChannelAdapter`), so these views are the same few lines for every provider.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint

from api.db import commit, db
from api.errors import ApiError
from api.schemas import StoredSchema
from models.infra.storage import StoreUnavailable
from models.org import ChannelKind
from models.providers.base import Refused, WebhookRequest
from models.providers.registry import adapter_for
from models.services.inbound import Directory, receive
from models.services.media import UploadedFile, receive_with_files

INBOUND_EMAIL_BYTES = 31 * 1024 * 1024  # SendGrid Inbound Parse: 30 MB per email, and the multipart framing

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Provider webhooks (signed by each provider)")


def _refusals(view: Any) -> Any:
    """Document the answers every webhook may give instead of 200 (each with the JSON error body)."""
    for status, why in ((400, "malformed delivery"), (401, "signature missing"), (403, "signature invalid"),
                        (404, "no channel for this delivery"), (413, "body over MAX_WEBHOOK_BYTES"),
                        (415, "wrong content type")):
        view = blp.alt_response(status, description=why)(view)
    return view


def _public_url() -> str:
    """The URL the provider called, as it saw it: behind a proxy our own host differs, hence PUBLIC_BASE_URL."""
    settings = current_app.extensions["atendimento.settings"]
    query = request.query_string.decode()
    return f"{settings.public_base_url}{request.path}" + (f"?{query}" if query else "")


def _webhook_request(route: str, path_token: str | None = None) -> WebhookRequest:
    form_body = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    # A form is parsed first: it consumes the body, so raw_body is empty for form posts (no adapter signs it raw).
    form = list(request.form.items(multi=True)) if form_body else []
    files_count = len(request.files) if form_body else 0
    return WebhookRequest(
        route=route, raw_body=request.get_data(), mimetype=request.mimetype, headers=dict(request.headers.items()),
        url=_public_url(), form=form, query=request.args.to_dict(), files_count=files_count, path_token=path_token)


def _receive(kind: ChannelKind, route: str, path_token: str | None = None, take: Any = receive) -> Any:
    adapter = adapter_for(kind)
    hook = _webhook_request(route, path_token)
    try:
        result = take(db(), adapter, hook)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc
    except StoreUnavailable as exc:  # the provider retries on 5xx: nothing is lost
        raise ApiError(503, "store_unavailable", "the file store is unreachable; retry later") from exc
    commit()
    ack = adapter.acknowledge(hook)
    if ack is not None:
        return Response(ack.body, mimetype=ack.mimetype)
    return {"stored": result.stored, "duplicates": result.duplicates}


@blp.get("/whatsapp")
@blp.doc(responses={"200": {"description": "hub.challenge echoed", "content": {"text/plain": {}}}})
@blp.alt_response(400, description="not a subscribe handshake")
@blp.alt_response(403, description="unknown verify token")
def whatsapp_verify() -> Response:
    """Meta's subscription handshake: echo hub.challenge when hub.verify_token is one of ours."""
    adapter = adapter_for(ChannelKind.WHATSAPP)
    try:
        ack = adapter.handshake(_webhook_request("handshake"), Directory(db(), adapter.kind))
    except Refused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from exc
    return Response(ack.body, mimetype=ack.mimetype)


@blp.post("/whatsapp")
@blp.response(200, StoredSchema)
@_refusals
def whatsapp_delivery() -> dict[str, int]:
    """A WhatsApp Cloud API delivery: messages and statuses, signed with the app secret."""
    return _receive(ChannelKind.WHATSAPP, "messages")


@blp.post("/twilio/sms")
@blp.doc(responses={"200": {"description": "empty TwiML", "content": {"text/xml": {}}}})
@_refusals
def twilio_sms() -> Response:
    """An inbound SMS: stored once, answered with empty TwiML (Twilio does not retry, so we answer fast)."""
    return _receive(ChannelKind.SMS, "messages")


@blp.post("/twilio/status")
@blp.response(200, StoredSchema)
@_refusals
def twilio_status() -> dict[str, int]:
    """A Twilio status callback for one of our sends."""
    return _receive(ChannelKind.SMS, "status")


@blp.post("/sendgrid/inbound/<token>")
@blp.response(200, StoredSchema)
@_refusals
def sendgrid_inbound(token: str) -> dict[str, int]:
    """An Inbound Parse email. Parse signs nothing: the channel's secret in the URL authenticates it."""
    system = current_app.extensions["atendimento.system"]
    # Parse posts the whole email, files included (SendGrid's limit is 30 MB): this route alone takes that much.
    request.max_content_length = max(system.settings.max_webhook_bytes, INBOUND_EMAIL_BYTES)
    files = {name: UploadedFile(name, f.filename or "", f.mimetype or "", f.stream)
             for name, f in request.files.items()}

    def take(session: Any, adapter: Any, hook: WebhookRequest) -> Any:
        return receive_with_files(session, system.store, system.settings, adapter, hook, files)

    return _receive(ChannelKind.EMAIL, "inbound", token, take)


@blp.post("/sendgrid/events/<token>")
@blp.response(200, StoredSchema)
@_refusals
def sendgrid_events(token: str) -> dict[str, int]:
    """SendGrid Event Webhook of the channel whose inbound secret is in the URL: ECDSA-signed with that channel's
    event_public_key, deduplicated by sg_event_id."""
    return _receive(ChannelKind.EMAIL, "events", token)


@blp.post("/sendgrid/events")
@blp.alt_response(410, description="moved to /webhooks/sendgrid/events/<inbound_secret>")
def sendgrid_events_moved() -> Response:
    """The former shared Event Webhook URL: gone, since it let any channel's key claim another tenant's events."""
    raise ApiError(410, "moved", "the Event Webhook URL is now per channel: POST /webhooks/sendgrid/events/"
                   "<the channel's inbound_secret>; set it in SendGrid's Event Webhook settings",
                   {"location": "/webhooks/sendgrid/events/<inbound_secret>"})


@blp.post("/sandbox/<channel>")
@blp.response(200, StoredSchema)
@_refusals
def sandbox_delivery(channel: str) -> dict[str, int]:
    """A simulated delivery for the sandbox channel named in the path, signed X-Sandbox-Signature (HMAC-SHA256 of
    the raw body with the channel's secret): customer messages of every kind, and statuses of our replies."""
    return _receive(ChannelKind.SANDBOX, "messages", channel)
