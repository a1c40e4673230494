"""The signed-in user: who am I, presence, my queues, my colleagues, my mentions, and the events I missed."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.auth import PasswordChangeSchema, TokensSchema, disconnect_sockets, login_required, tokens_for
from api.db import commit, db
from api.errors import ApiError
from api.schemas import EventQuery, EventSchema, MentionPage, PageArgs, QueueSchema, UserSchema
from models.base import utcnow
from models.events import RealtimeEvent
from models.org import AgentStatus, Queue, User
from models.services.accounts import change_password, start_session
from models.services.agents import missed_events, set_status
from models.services.mentions import my_mentions

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


@blp.route("/me/password")
class Password(MethodView):
    @login_required()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(403, description="the current password is wrong")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change your password: every session of yours ends (sockets too); the answer is a new session's tokens"""
        from flask import current_app

        now = utcnow()
        change_password(db(), g.user, body["current_password"], body["new_password"], now)
        family = start_session(db(), g.user, g.user.password_hash, now,
                               current_app.extensions["atendimento.settings"].refresh_token_ttl)
        if family is None:  # disabled meanwhile (the row is locked, so only before our lock)
            raise ApiError(401, "invalid_token", "user no longer exists or is disabled")
        commit()
        disconnect_sockets(g.user.id)
        return tokens_for(g.user, family)


@blp.route("/queues")
class Queues(MethodView):
    @login_required()
    @blp.response(200, QueueSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[Queue]:
        """Queues of your tenant (transfer targets)"""
        return list(db().scalars(select(Queue).where(Queue.tenant_id == g.user.tenant_id).order_by(Queue.name)))


class ColleagueSchema(Schema):
    id = fields.Integer()
    name = fields.String()


@blp.route("/colleagues")
class Colleagues(MethodView):
    @login_required()
    @blp.response(200, ColleagueSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[User]:
        """The active users of your tenant, names only (whom a note can @mention)"""
        return list(db().scalars(select(User).where(User.tenant_id == g.user.tenant_id, User.active.is_(True))
                                 .order_by(User.name, User.id)))


@blp.route("/events")
class Events(MethodView):
    @login_required()
    @blp.arguments(EventQuery, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.alt_response(404, description="ticket_id is not a ticket of your tenant")
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> list[RealtimeEvent]:
        """Real-time events for your rooms after `after` (what a reconnecting socket missed), oldest first"""
        return missed_events(db(), g.user, query["after"], query["limit"], query.get("ticket_id"))


@blp.route("/mentions")
class Mentions(MethodView):
    @login_required()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MentionPage)
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Notes that mentioned you, newest first (cursor pages)"""
        items, next_cursor = my_mentions(db(), g.user, query.get("cursor"), query["limit"])
        return {"items": items, "next_cursor": next_cursor}
