"""The signed-in user: who am I, presence, my queues, and the events I missed."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.auth import login_required
from api.db import commit, db
from api.schemas import EventQuery, EventSchema, QueueSchema, UserSchema
from models.base import utcnow
from models.events import RealtimeEvent
from models.org import AgentStatus, Queue, User
from models.services.agents import missed_events, set_status

blp = Blueprint("agents", __name__, url_prefix="/api", description="The signed-in user")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class StatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in AgentStatus]),
                           metadata={"example": "online"})


@blp.route("/me")
class Me(MethodView):
    @login_required()
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER)
    def get(self) -> User:
        """The signed-in user"""
        return g.user


@blp.route("/me/status")
class Status(MethodView):
    @login_required()
    @blp.arguments(StatusSchema)
    @blp.response(200, UserSchema)
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any]) -> User:
        """Go online, away or offline; going online starts assignment to you at once"""
        set_status(db(), g.user, AgentStatus(body["status"]), utcnow())
        commit()
        return g.user


@blp.route("/queues")
class Queues(MethodView):
    @login_required()
    @blp.response(200, QueueSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[Queue]:
        """Queues of your tenant (transfer targets)"""
        return list(db().scalars(select(Queue).where(Queue.tenant_id == g.user.tenant_id).order_by(Queue.name)))


@blp.route("/events")
class Events(MethodView):
    @login_required()
    @blp.arguments(EventQuery, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> list[RealtimeEvent]:
        """Real-time events for your rooms after `after` (what a reconnecting socket missed), oldest first"""
        return missed_events(db(), g.user, query["after"], query["limit"])
