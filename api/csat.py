"""CSAT: the customers' rating links (a small HTML page, no login) and the queues' CSAT settings (staff)."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from models.base import utcnow
from models.errors import NotFound
from models.org import Role
from models.rules import csat as rules
from models.services import csat

blp = Blueprint("csat", __name__, url_prefix="/api/admin", description="Customer satisfaction settings")
# Not under the smorest Api: a customer's browser opens these from an email, so they answer HTML.
links = Blueprint("csat_links", __name__, url_prefix="/csat")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto; text-align: center">
<h1>{title}</h1><p>{text}</p></body></html>"""


def _page(status: int, title: str, text: str) -> Response:
    resp = Response(_PAGE.format(title=escape(title), text=escape(text)), status=status,
                    mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@links.get("/<token>")
def rate(token: str) -> Response:
    """A rating link from our CSAT email: records `score` (1-5) once and thanks the customer."""
    raw = request.args.get("score", "")
    if not raw.isdigit() or int(raw) not in rules.SCORES:
        return _page(400, "Choose a rating", "The link should end in a score from 1 to 5.")
    settings = current_app.extensions["atendimento.settings"]
    try:
        recorded = csat.answer_by_link(db(), token, int(raw), settings.secret_key, utcnow())
    except NotFound:
        return _page(404, "Link not valid", "This rating link is not one of ours, or it was mistyped.")
    commit()
    if not recorded:
        return _page(200, "Thank you", "We already have your rating for this conversation.")
    return _page(200, "Thank you", "Your rating was recorded. Thank you for telling us.")


class TemplateRef(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 512))
    language = fields.String(required=True, validate=validate.Length(2, 15), metadata={"example": "pt_BR"})
    variables = fields.List(fields.String(validate=validate.Length(0, 1024)), validate=validate.Length(0, 20))


class CsatSettings(Schema):
    enabled = fields.Boolean(metadata={"description": "ask for a rating when a ticket of this queue is resolved"})
    question = fields.String(validate=validate.Length(1, 500))
    answer_window_seconds = fields.Integer(validate=validate.Range(60, 30 * 86400),
                                           metadata={"description": "how long a bare 1-5 reply still answers"})
    template = fields.Nested(TemplateRef, allow_none=True,
                             metadata={"description": "WhatsApp: the template sent once the 24-hour window closed"})


@blp.route("/queues/<int:queue_id>/csat")
class QueueCsat(MethodView):
    @login_required(*STAFF)
    @blp.response(200, CsatSettings)
    @blp.alt_response(404, description="no such queue in your tenant")
    @blp.doc(security=BEARER)
    def get(self, queue_id: int) -> dict[str, Any]:
        """The queue's CSAT settings"""
        return csat.settings_of(db(), g.user, queue_id).to_doc()

    @login_required(*STAFF)
    @blp.arguments(CsatSettings)
    @blp.response(200, CsatSettings)
    @blp.alt_response(404, description="no such queue in your tenant")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any], queue_id: int) -> dict[str, Any]:
        """Change the queue's CSAT settings (fields left out keep their value)"""
        config = csat.save_settings(db(), g.user, queue_id, body, utcnow())
        commit()
        return config.to_doc()
