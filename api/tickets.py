"""Tickets and their messages, as the signed-in user may see and move them."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import commit, db
from api.errors import ApiError
from api.schemas import (
    MessagePage,
    MessageQuery,
    MessageSchema,
    NoteSchema,
    PrioritySchema,
    ReactSchema,
    ReplySchema,
    SnoozeSchema,
    TicketPage,
    TicketQuery,
    TicketSchema,
    TransferSchema,
)
from models.base import utcnow
from models.infra.config import Settings
from models.infra.storage import StoreUnavailable
from models.services import canned, conversation, labels, reactions, tickets, workflow
from models.services.conversation import MAX_BODY
from models.services.media import UploadedFile
from models.tickets import Message, Ticket

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Tickets and messages")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.route("")
class Tickets(MethodView):
    @login_required()
    @blp.arguments(TicketQuery, location="query")
    @blp.response(200, TicketPage)
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Tickets newest first: an agent's own and those waiting in their queues; the tenant's for supervisors"""
        items, cursor = conversation.list_tickets(
            db(), g.user, status=query.get("status"), queue_id=query.get("queue_id"), mine=query["mine"],
            search=query.get("q"), cursor=query.get("cursor"), limit=query["limit"], label_id=query.get("label"))
        labels.preload(db(), items)
        return {"items": items, "next_cursor": cursor}


@blp.route("/<int:ticket_id>")
class TicketById(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.doc(security=BEARER)
    def get(self, ticket_id: int) -> Ticket:
        """One ticket"""
        return conversation.get_ticket(db(), g.user, ticket_id)


def _reply_cap(settings: Settings) -> int:
    """The largest reply body: the largest file any channel kind stores, and room for the form around it."""
    largest = max([settings.attachment_max_bytes, *(v for _, v in settings.attachment_max_bytes_by_kind)])
    return largest + 1024 * 1024


@blp.route("/<int:ticket_id>/messages")
class TicketMessages(MethodView):
    # Files make this route's body larger than the default cap (applied by the input guard before the form is
    # read); each file is still checked against its channel kind's limit as it streams into the store.
    body_limit = staticmethod(_reply_cap)
    @login_required()
    @blp.arguments(MessageQuery, location="query")
    @blp.response(200, MessagePage)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any], ticket_id: int) -> dict[str, Any]:
        """A page of messages (latest page first; oldest first within it)"""
        items, cursor = conversation.list_messages(db(), g.user, ticket_id, query.get("cursor"), query["limit"],
                                                   notes=query["notes"])
        return {"items": items, "next_cursor": cursor}

    @login_required()
    @blp.arguments(ReplySchema)
    @blp.response(202, MessageSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.alt_response(403, description="the ticket is someone else's")
    @blp.alt_response(413, description="a file over the channel kind's ATTACHMENT_MAX_BYTES")
    @blp.alt_response(415, description="a blocked file type")
    @blp.alt_response(422, description="empty body, a WhatsApp text outside the 24-hour window, or a file the "
                                       "provider cannot send (media_too_large, media_type_unsupported)")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], ticket_id: int) -> Message:
        """Reply to the customer (text, a canned response, or multipart with `body` and one or more `file`); a
        worker sends it"""
        system = current_app.extensions["atendimento.system"]
        files = []
        if request.mimetype == "multipart/form-data":
            reply_to = request.form.get("reply_to", "")
            if reply_to and not reply_to.isdigit():
                raise ApiError(422, "unprocessable_entity", "reply_to is a message id",
                               {"form": {"reply_to": ["not an integer"]}})
            body = {**body, "body": request.form.get("body", ""), "reply_to": int(reply_to) if reply_to else None}
            files = [UploadedFile("file", f.filename or "file", f.mimetype or "", f.stream)
                     for f in request.files.getlist("file")]
            if len(body["body"]) > MAX_BODY:
                raise ApiError(422, "unprocessable_entity", "body is too long", {"form": {"body": ["too long"]}})
        if "canned_response_id" in body or "canned_code" in body:
            message = canned.reply_with(db(), g.user, ticket_id, utcnow(), canned_id=body.get("canned_response_id"),
                                        code=body.get("canned_code"), template=body["template"])
        else:
            try:
                message = conversation.reply(db(), g.user, ticket_id, body["body"], utcnow(),
                                             template=body["template"], files=files, store=system.store,
                                             settings=system.settings, reply_to=body["reply_to"],
                                             interactive=body["interactive"])
            except StoreUnavailable as exc:
                raise ApiError(503, "store_unavailable", "the file store is unreachable; try again") from exc
        commit()
        return message


@blp.route("/<int:ticket_id>/messages/<int:message_id>/reaction")
class MessageReaction(MethodView):
    @login_required()
    @blp.arguments(ReactSchema)
    @blp.response(200, MessageSchema)
    @blp.alt_response(404, description="no such ticket or message in your tenant")
    @blp.alt_response(403, description="the ticket is someone else's")
    @blp.alt_response(422, description="a channel without reactions, a message not sent yet, or the WhatsApp "
                                       "window closed")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any], ticket_id: int, message_id: int) -> Message:
        """React to a message (an empty emoji removes your reaction); WhatsApp shows it to the customer"""
        message = reactions.agent_react(db(), g.user, ticket_id, message_id, body["emoji"], utcnow())
        commit()
        db().refresh(message)
        return message


@blp.route("/<int:ticket_id>/notes")
class Notes(MethodView):
    @login_required()
    @blp.arguments(NoteSchema)
    @blp.response(201, MessageSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.alt_response(422, description="`mentions` names someone who is not an active user of your tenant")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], ticket_id: int) -> Message:
        """Add an internal note (never sent to the customer)"""
        note = tickets.add_note(db(), g.user, ticket_id, body["body"], utcnow(), body["mentions"])
        commit()
        return note


def _act(action: Any, ticket_id: int, *args: Any) -> Ticket:
    ticket = action(db(), g.user, ticket_id, *args)
    commit()
    return ticket


@blp.route("/<int:ticket_id>/accept")
class Accept(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(409, description="already assigned, or you are at capacity")
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Take a waiting ticket of one of your queues"""
        return _act(tickets.assign_to, ticket_id, g.user.id, utcnow(), "accepted")


@blp.route("/<int:ticket_id>/transfer")
class Transfer(MethodView):
    @login_required()
    @blp.arguments(TransferSchema)
    @blp.response(200, TicketSchema)
    @blp.alt_response(404, description="no such ticket, queue or agent in your tenant")
    @blp.alt_response(403, description="the ticket is someone else's")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], ticket_id: int) -> Ticket:
        """Transfer to a queue, or to an agent (supervisors may exceed the agent's capacity)"""
        if ("queue_id" in body) == ("agent_id" in body):
            raise ApiError(422, "unprocessable_entity", "give exactly one of queue_id or agent_id",
                           {"json": {"queue_id": ["exactly one of queue_id, agent_id"]}})
        if "queue_id" in body:
            return _act(tickets.transfer_to_queue, ticket_id, body["queue_id"], utcnow(), body["reason"])
        return _act(tickets.assign_to, ticket_id, body["agent_id"], utcnow(), body["reason"] or "transfer")


@blp.route("/<int:ticket_id>/priority")
class Priority(MethodView):
    @login_required()
    @blp.arguments(PrioritySchema)
    @blp.response(200, TicketSchema)
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.alt_response(403, description="the ticket is someone else's")
    @blp.alt_response(409, description="the ticket is resolved")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], ticket_id: int) -> Ticket:
        """Set the priority (0 normal, 1 high, 2 urgent, 3 critical): the SLA policy and the waiting line follow"""
        return _act(tickets.set_priority, ticket_id, body["priority"], utcnow())


@blp.route("/<int:ticket_id>/resolve")
class Resolve(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Resolve the ticket (frees your capacity at once)"""
        return _act(tickets.resolve, ticket_id, utcnow())


@blp.route("/<int:ticket_id>/read")
class Read(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Mark the conversation read (up to now)"""
        return _act(tickets.mark_read, ticket_id, utcnow())


@blp.route("/<int:ticket_id>/reopen")
class Reopen(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(409, description="not resolved, or the contact has another open ticket")
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Reopen a resolved ticket: it goes back to its queue"""
        return _act(tickets.reopen, ticket_id, utcnow())


@blp.route("/<int:ticket_id>/pending")
class Pending(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(409, description="the ticket is resolved")
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Waiting on the customer: SLA clocks pause until they reply"""
        return _act(workflow.mark_pending, ticket_id, utcnow())


@blp.route("/<int:ticket_id>/snooze")
class Snooze(MethodView):
    @login_required()
    @blp.arguments(SnoozeSchema)
    @blp.response(200, TicketSchema)
    @blp.alt_response(400, description="`until` is not in the future")
    @blp.alt_response(409, description="the ticket is resolved")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], ticket_id: int) -> Ticket:
        """Put the ticket aside (pending) until a time or until the customer replies"""
        return _act(workflow.snooze, ticket_id, utcnow(), body.get("until"), body["until_customer_replies"])


@blp.route("/<int:ticket_id>/resume")
class Resume(MethodView):
    @login_required()
    @blp.response(200, TicketSchema)
    @blp.alt_response(409, description="the ticket is neither pending nor snoozed")
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int) -> Ticket:
        """Take a pending or snoozed ticket back now (to its agent, or its queue)"""
        return _act(workflow.resume, ticket_id, utcnow())
