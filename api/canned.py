"""Canned responses: the tenant's and the signed-in agent's own, searched by code prefix."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from models.base import utcnow
from models.canned import CannedResponse
from models.rules.canned import VARIABLES
from models.services import canned

blp = Blueprint("canned", __name__, url_prefix="/api/canned-responses", description="Canned responses")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
BODY_HELP = "text with variables such as {{contact.name}}, filled when sent (GET .../variables lists them)"


class CannedSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(metadata={"example": "ola"})
    title = fields.String()
    body = fields.String(metadata={"example": "Olá {{contact.first_name}}, aqui é {{agent.name}}."})
    scope = fields.Function(canned.scope_of, metadata={"enum": list(canned.SCOPES)})
    owner_id = fields.Integer(allow_none=True)
    updated_at = fields.DateTime()


class CannedIn(Schema):
    code = fields.String(validate=validate.Length(1, 32), metadata={"description": "a-z, 0-9, '_', '-', '.'"})
    title = fields.String(validate=validate.Length(0, 200))
    body = fields.String(validate=validate.Length(1, canned.MAX_BODY), metadata={"description": BODY_HELP})


class NewCannedIn(CannedIn):
    code = fields.String(required=True, validate=validate.Length(1, 32))
    body = fields.String(required=True, validate=validate.Length(1, canned.MAX_BODY),
                         metadata={"description": BODY_HELP})
    title = fields.String(load_default="", validate=validate.Length(0, 200))
    scope = fields.String(load_default="personal", validate=validate.OneOf(canned.SCOPES),
                          metadata={"description": "tenant (supervisors and admins) or personal (your own)"})


class CannedQuery(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(0, 32), metadata={"description": "code prefix"})
    scope = fields.String(validate=validate.OneOf(canned.SCOPES))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class VariableSchema(Schema):
    name = fields.String()
    description = fields.String()


class PreviewIn(Schema):
    ticket_id = fields.Integer(required=True)


class PreviewOut(Schema):
    body = fields.String()


@blp.route("")
class CannedList(MethodView):
    @login_required()
    @blp.arguments(CannedQuery, location="query")
    @blp.response(200, CannedSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> list[CannedResponse]:
        """Canned responses you may use (the tenant's and your own), by code, filtered by code prefix"""
        return canned.search(db(), g.user, query["prefix"], query.get("scope"), query["limit"])

    @login_required()
    @blp.arguments(NewCannedIn)
    @blp.response(201, CannedSchema)
    @blp.alt_response(400, description="the body names an unknown variable")
    @blp.alt_response(409, description="the code is already used in this scope")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any]) -> CannedResponse:
        """Create a canned response: your own, or the tenant's (supervisors)"""
        item = canned.create(db(), g.user, now=utcnow(), **body)
        commit()
        return item


@blp.route("/variables")
class Variables(MethodView):
    @login_required()
    @blp.response(200, VariableSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[dict[str, str]]:
        """The variables a body may use"""
        return [{"name": name, "description": text} for name, text in VARIABLES.items()]


@blp.route("/<int:canned_id>")
class CannedById(MethodView):
    @login_required()
    @blp.response(200, CannedSchema)
    @blp.alt_response(404, description="not yours, nor your tenant's")
    @blp.doc(security=BEARER)
    def get(self, canned_id: int) -> CannedResponse:
        """One canned response"""
        return canned.get(db(), g.user, canned_id)

    @login_required()
    @blp.arguments(CannedIn)
    @blp.response(200, CannedSchema)
    @blp.alt_response(400, description="the body names an unknown variable")
    @blp.alt_response(404, description="not yours, nor your tenant's")
    @blp.doc(security=BEARER)
    def patch(self, body: dict[str, Any], canned_id: int) -> CannedResponse:
        """Change a canned response's code, title or body"""
        item = canned.update(db(), g.user, canned_id, body, utcnow())
        commit()
        return item

    @login_required()
    @blp.response(204)
    @blp.alt_response(404, description="not yours, nor your tenant's")
    @blp.doc(security=BEARER)
    def delete(self, canned_id: int) -> None:
        """Delete a canned response"""
        canned.delete(db(), g.user, canned_id, utcnow())
        commit()


@blp.route("/<int:canned_id>/preview")
class Preview(MethodView):
    @login_required()
    @blp.arguments(PreviewIn)
    @blp.response(200, PreviewOut)
    @blp.alt_response(404, description="no such canned response or ticket for you")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], canned_id: int) -> dict[str, str]:
        """The body as it would be sent on a ticket, variables filled"""
        session = db()
        return {"body": canned.render_for(session, g.user, body["ticket_id"], canned.get(session, g.user, canned_id))}
