"""Admins' API keys: create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from models.api_keys import ApiKey
from models.base import utcnow
from models.org import Role
from models.rules.api_keys import SCOPES
from models.services import api_keys

blp = Blueprint("api_keys", __name__, url_prefix="/api/admin/api-keys",
                description="API keys: credentials for the tenant's integrations")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class KeyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "the public part of the key (`atd_<prefix>_...`)"})
    scopes = fields.List(fields.String(), metadata={"example": ["tickets:read"]})
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})
    revoked_at = fields.DateTime(allow_none=True)


class NewKeyOut(KeyOut):
    key = fields.String(metadata={"description": "the whole key, shown only this once",
                                  "example": "atd_0123456789ab_..."})


class NewKeyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200), metadata={"example": "CRM sync"})
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(1, len(SCOPES)))


@blp.route("")
class Keys(MethodView):
    @login_required(Role.ADMIN)
    @blp.response(200, KeyOut(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[ApiKey]:
        """API keys of the tenant (never their secrets), revoked ones included"""
        return api_keys.list_keys(db(), g.user)

    @login_required(Role.ADMIN)
    @blp.arguments(NewKeyIn)
    @blp.response(201, NewKeyOut)
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an API key; the answer carries the key itself, which is never shown again"""
        key, token = api_keys.create_key(db(), g.user, body["name"], body["scopes"], utcnow())
        commit()
        return {**{name: getattr(key, name) for name in KeyOut().fields}, "key": token}


@blp.route("/<int:key_id>")
class KeyById(MethodView):
    @login_required(Role.ADMIN)
    @blp.response(200, KeyOut)
    @blp.alt_response(404, description="no such key in your tenant")
    @blp.doc(security=BEARER)
    def delete(self, key_id: int) -> ApiKey:
        """Revoke an API key: its next request is refused (401 api_key_revoked) on every instance"""
        key = api_keys.revoke_key(db(), g.user, key_id, utcnow())
        commit()
        return key
