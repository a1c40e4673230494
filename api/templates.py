"""WhatsApp message templates, as synced from each channel's business account."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import commit, db
from api.schemas import SyncQueuedSchema, TemplateInfoSchema, TemplateQuery
from models.org import Role
from models.services import templates

blp = Blueprint("templates", __name__, url_prefix="/api/templates", description="WhatsApp message templates")
# "Sync now" lives with the channel it syncs, under the administration paths.
sync_blp = Blueprint("template-sync", __name__, url_prefix="/api/admin/channels",
                     description="WhatsApp template sync (supervisors)")
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


@sync_blp.route("/<int:channel_id>/templates/sync")
class TemplateSync(MethodView):
    @sync_blp.doc(security=BEARER)
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @sync_blp.response(202, SyncQueuedSchema)
    @sync_blp.alt_response(404, description="no such channel in your tenant")
    @sync_blp.alt_response(422, description="not a WhatsApp channel, or its business account is not known yet")
    def post(self, channel_id: int) -> dict[str, Any]:
        """Sync the channel's templates from its WhatsApp Business Account now (a worker does it)"""
        channel = templates.request_sync(db(), g.user, channel_id)
        commit()
        return {"channel_id": channel.id, "queued": True}
