"""A queue's auto-resolve setting (supervisors): idle business hours, closing message or template."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_load, validate

from api.auth import login_required
from api.db import commit, db
from api.schemas import TemplateSchema
from models.base import utcnow
from models.org import Role
from models.services import auto_resolve
from models.services.conversation import MAX_BODY
from models.workflow import AutoResolveSetting

blp = Blueprint("auto_resolve", __name__, url_prefix="/api/admin/queues", description="Auto-resolve idle tickets")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)


class AutoResolveSchema(Schema):
    queue_id = fields.Integer(dump_only=True)
    enabled = fields.Boolean(load_default=True)
    idle_hours = fields.Float(required=True, validate=validate.Range(0.25, 10000),
                              metadata={"description": "business hours without a customer reply"})
    closing_message = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, MAX_BODY),
                                    metadata={"description": "sent when resolving (omit: resolve silently)"})
    closing_template = fields.Nested(TemplateSchema, load_default=None, allow_none=True,
                                     metadata={"description": "WhatsApp: sent instead outside the 24-hour window"})
    updated_at = fields.DateTime(dump_only=True)

    @post_load
    def _seconds(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        data["idle_seconds"] = round(data.pop("idle_hours") * 3600)
        return data


def _dump(setting: AutoResolveSetting) -> dict[str, Any]:
    return {"queue_id": setting.queue_id, "enabled": setting.enabled, "idle_hours": setting.idle_seconds / 3600,
            "closing_message": setting.closing_message, "closing_template": setting.closing_template,
            "updated_at": setting.updated_at}


@blp.route("/<int:queue_id>/auto-resolve")
class AutoResolve(MethodView):
    @login_required(*STAFF)
    @blp.response(200, AutoResolveSchema)
    @blp.alt_response(404, description="no such queue in your tenant, or not set")
    @blp.doc(security=BEARER)
    def get(self, queue_id: int) -> dict[str, Any]:
        """The queue's auto-resolve setting"""
        return _dump(auto_resolve.get_setting(db(), g.user, queue_id))

    @login_required(*STAFF)
    @blp.arguments(AutoResolveSchema)
    @blp.response(200, AutoResolveSchema)
    @blp.alt_response(404, description="no such queue in your tenant")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any], queue_id: int) -> dict[str, Any]:
        """Set the queue's auto-resolve: idle business hours, closing message, template"""
        setting = auto_resolve.save_setting(db(), g.user, queue_id, body, utcnow())
        commit()
        return _dump(setting)

    @login_required(*STAFF)
    @blp.response(204)
    @blp.alt_response(404, description="no such queue in your tenant, or not set")
    @blp.doc(security=BEARER)
    def delete(self, queue_id: int) -> None:
        """Turn the queue's auto-resolve off"""
        auto_resolve.delete_setting(db(), g.user, queue_id, utcnow())
        commit()
