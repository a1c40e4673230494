"""Attachment downloads: for the tenant's signed-in users, and through short-lived signed links.

A message's JSON carries each attachment's `url`: a link of ours, signed for that attachment and valid for
ATTACHMENT_URL_TTL seconds, so the console can put it in an `<img src>` (which sends no bearer token) and
Twilio can fetch an outbound MMS file. Both routes check the attachment is stored, then redirect to the object
store's own presigned URL when it has one, or stream the file. What a browser could execute is always a
download (`Content-Disposition: attachment`), and nothing is sniffed.
"""

from __future__ import annotations

import time

from flask import Response, current_app, g, redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response as WerkzeugResponse

from api.auth import login_required
from api.db import db
from api.errors import error_response
from api.links import signed_url  # noqa: F401 - re-exported for callers minting links
from api.schemas import AttachmentSchema
from models.attachments import Attachment, AttachmentStatus
from models.infra.config import Settings
from models.infra.storage import ObjectMissing, Store, StoreUnavailable, content_disposition
from models.rules import media
from models.services import attachments

blp = Blueprint("attachments", __name__, url_prefix="/api/attachments", description="Attachment downloads")
links = Blueprint("media", __name__, url_prefix="/media")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
_STORE_URL_TTL = 60  # the object store's own link: only long enough for the redirect to be followed


def _settings() -> Settings:
    return current_app.extensions["atendimento.settings"]


def _store() -> Store:
    return current_app.extensions["atendimento.system"].store


def serve(attachment: Attachment) -> WerkzeugResponse:
    """The file's bytes: a redirect to the store's presigned URL, or streamed from the store."""
    if attachment.status != AttachmentStatus.STORED or not attachment.storage_key:
        return error_response(409, "attachment_unavailable", f"the file is {attachment.status.value}",
                              {"status": attachment.status.value, "reason": attachment.error})
    inline = media.render_inline(attachment.content_type)
    content_type = attachment.content_type if inline else "application/octet-stream"
    url = _store().download_url(attachment.storage_key, filename=attachment.filename, content_type=content_type,
                                attachment=not inline, expires_in=_STORE_URL_TTL)
    if url is not None:
        resp: WerkzeugResponse = redirect(url, code=302)
    else:
        try:
            chunks = _store().open(attachment.storage_key)
        except ObjectMissing:
            return error_response(409, "attachment_unavailable", "the file is no longer in the store")
        except StoreUnavailable:
            return error_response(503, "store_unavailable", "the object store cannot be reached; try again")
        resp = Response(chunks, content_type=content_type, direct_passthrough=True)
        resp.headers["Content-Disposition"] = content_disposition(attachment.filename, attachment=not inline)
        if attachment.size is not None:
            resp.headers["Content-Length"] = str(attachment.size)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, max-age=300"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


@blp.route("/<int:attachment_id>")
class AttachmentById(MethodView):
    @blp.doc(security=BEARER)
    @login_required()
    @blp.response(200, AttachmentSchema)
    def get(self, attachment_id: int) -> Attachment:
        """One attachment (with a fresh download link)"""
        return attachments.get_for_user(db(), g.user, attachment_id)


@blp.route("/<int:attachment_id>/content")
class AttachmentContent(MethodView):
    @blp.doc(security=BEARER)
    @login_required()
    @blp.response(200, description="The file (or a redirect to the object store)")
    def get(self, attachment_id: int) -> WerkzeugResponse:
        """Download an attachment"""
        return serve(attachments.get_for_user(db(), g.user, attachment_id))


@links.get("/<int:attachment_id>/<path:_name>")
def by_link(attachment_id: int, _name: str) -> WerkzeugResponse:
    """Download through a signed link; an expired or altered link is 403, whoever holds it."""
    try:
        expires = int(request.args.get("e", ""))
    except ValueError:
        return error_response(403, "link_invalid", "this download link is not valid")
    if not media.link_valid(_settings().secret_key, attachment_id, expires, request.args.get("s", ""),
                            time.time()):
        return error_response(403, "link_invalid", "this download link is not valid or has expired")
    attachment = db().get(Attachment, attachment_id)
    if attachment is None:
        return error_response(404, "not_found", "attachment not found")
    return serve(attachment)
