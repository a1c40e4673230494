"""The tenant's audit log, for supervisors and admins."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import db
from api.schemas import PageArgs
from models.org import Role
from models.services import audit

blp = Blueprint("audit", __name__, url_prefix="/api/admin/audit", description="Audit log")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class AuditQuery(PageArgs):
    ticket_id = fields.Integer(metadata={"description": "entries about this ticket"})
    user_id = fields.Integer(metadata={"description": "entries by this user (the actor)"})
    action = fields.String(validate=validate.Length(1, 64),
                           metadata={"description": "exact action, or a prefix ending in '*'", "example": "ticket.*"})
    since = fields.AwareDateTime(data_key="from", metadata={"description": "inclusive, with its UTC offset"})
    until = fields.AwareDateTime(data_key="to", metadata={"description": "exclusive, with its UTC offset"})


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(attribute="created_at")
    actor_id = fields.Integer(allow_none=True, metadata={"description": "null: the system (triage, beat)"})
    action = fields.String(metadata={"example": "ticket.labels_changed"})
    entity = fields.String(metadata={"example": "ticket"})
    entity_id = fields.Integer()
    data = fields.Dict()


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("")
class AuditLog(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditPage)
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Audit entries newest first, filtered by ticket, user, action and time range (cursor pages)"""
        items, cursor = audit.list_entries(
            db(), g.user, ticket_id=query.get("ticket_id"), user_id=query.get("user_id"), action=query.get("action"),
            since=query.get("since"), until=query.get("until"), cursor=query.get("cursor"), limit=query["limit"])
        return {"items": items, "next_cursor": cursor}
