"""The signed-in agent: who am I, and presence."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from models.base import utcnow
from models.org import AgentStatus, User
from models.services.agents import set_status

blp = Blueprint("agents", __name__, url_prefix="/api/me", description="The signed-in agent")


class MeSchema(Schema):
    id = fields.Integer()
    tenant_id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    status = fields.Function(lambda u: u.status.value)
    max_tickets = fields.Integer()


class StatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in AgentStatus]),
                           metadata={"example": "online"})


@blp.route("")
class Me(MethodView):
    @login_required()
    @blp.response(200, MeSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self) -> User:
        """The signed-in user"""
        return g.user


@blp.route("/status")
class Status(MethodView):
    @login_required()
    @blp.arguments(StatusSchema)
    @blp.response(200, MeSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def put(self, body: dict[str, Any]) -> User:
        """Go online, away or offline; going online starts assignment to you at once"""
        set_status(db(), g.user, AgentStatus(body["status"]), utcnow())
        commit()
        return g.user
