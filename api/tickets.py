"""Tickets and their messages, as the signed-in user may see them."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from models.base import utcnow
from models.services import conversation
from models.tickets import Message, Ticket, TicketStatus

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Tickets and messages")


class TicketSchema(Schema):
    id = fields.Integer()
    status = fields.Function(lambda t: t.status.value)
    priority = fields.Integer()
    queue_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    channel_id = fields.Integer()
    contact_id = fields.Integer()
    created_at = fields.DateTime()
    assigned_at = fields.DateTime(allow_none=True)
    first_response_at = fields.DateTime(allow_none=True)


class TicketQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class MessageSchema(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    direction = fields.Function(lambda m: m.direction.value)
    kind = fields.String()
    body = fields.String()
    status = fields.Function(lambda m: m.status.value)
    author_id = fields.Integer(allow_none=True)
    error_code = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ReplySchema(Schema):
    body = fields.String(required=True, validate=validate.Length(1, conversation.MAX_BODY),
                         metadata={"example": "Olá! Como posso ajudar?"})


@blp.route("")
class Tickets(MethodView):
    @login_required()
    @blp.arguments(TicketQuerySchema, location="query")
    @blp.response(200, TicketSchema(many=True))
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, query: dict[str, Any]) -> list[Ticket]:
        """Tickets: your own as an agent, the tenant's as a supervisor or admin"""
        return conversation.list_tickets(db(), g.user, query.get("status"), query["limit"])


@blp.route("/<int:ticket_id>")
class TicketById(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, ticket_id: int) -> Ticket:
        """One ticket"""
        return conversation.get_ticket(db(), g.user, ticket_id)


@blp.route("/<int:ticket_id>/messages")
class TicketMessages(MethodView):
    @login_required()
    @blp.response(200, MessageSchema(many=True))
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, ticket_id: int) -> list[Message]:
        """The latest messages of a ticket, oldest first"""
        return conversation.list_messages(db(), g.user, ticket_id)

    @login_required()
    @blp.arguments(ReplySchema)
    @blp.response(202, MessageSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.alt_response(403, description="the ticket is someone else's")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, body: dict[str, Any], ticket_id: int) -> Message:
        """Reply to the customer; the message is queued and sent by a worker"""
        message = conversation.reply(db(), g.user, ticket_id, body["body"], utcnow())
        commit()
        return message
