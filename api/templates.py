"""WhatsApp message templates, as synced from each channel's business account."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import db
from api.schemas import TemplateInfoSchema, TemplateQuery
from models.services import templates

blp = Blueprint("templates", __name__, url_prefix="/api/templates", description="WhatsApp message templates")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class Templates(MethodView):
    @blp.doc(security=BEARER)
    @login_required()
    @blp.arguments(TemplateQuery, location="query")
    @blp.response(200, TemplateInfoSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[Any]:
        """The tenant's templates (approved ones unless status=ALL), by name"""
        status = None if query["status"].upper() == "ALL" else query["status"].upper()
        return templates.listed(db(), g.user.tenant_id, query.get("channel_id"), status)
