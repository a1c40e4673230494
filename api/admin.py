"""Supervisor and admin endpoints: queues, membership, users, channels, business hours, dead letters."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.auth import disconnect_sockets, login_required
from api.db import commit, db
from api.errors import ApiError
from api.schemas import MessageSchema, QueueSchema, TicketSchema, UserSchema
from models.base import utcnow
from models.events import InboxEvent
from models.org import Channel, ChannelKind, Queue, Role, Strategy, User
from models.providers.adapter import Transport
from models.providers.base import ProviderError
from models.services import admin, sla, tickets
from models.sla import SlaPolicy
from models.tickets import DeliveryStatus, Direction, Message, Ticket

blp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Tenant administration")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)


class QueueIn(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    strategy = fields.String(validate=validate.OneOf([s.value for s in Strategy]))
    return_on_offline = fields.Boolean()
    offline_grace_seconds = fields.Integer(validate=validate.Range(0, 86400))


class NewQueueIn(QueueIn):
    name = fields.String(required=True, validate=validate.Length(1, 200))


class MembersIn(Schema):
    user_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(0, 1000))


class UserIn(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    max_tickets = fields.Integer(validate=validate.Range(0, 1000))
    skills = fields.List(fields.String(validate=validate.Length(1, 50)), validate=validate.Length(0, 50))
    active = fields.Boolean()
    password = fields.String(load_only=True, validate=validate.Length(8, 200))


class NewUserIn(UserIn):
    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(8, 200))


class ChannelOut(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda c: c.kind.value)
    name = fields.String()
    external_id = fields.String()
    default_queue_id = fields.Integer(allow_none=True)
    settings = fields.Dict()
    active = fields.Boolean()
    has_credentials = fields.Function(lambda c: bool(c.credentials),
                                      metadata={"description": "secrets are write-only"})


class ChannelIn(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    default_queue_id = fields.Integer(allow_none=True)
    settings = fields.Dict(metadata={"description": "triage: greeting, menu, keywords, off_hours_reply, ..."})
    credentials = fields.Dict(load_only=True, metadata={"description": "app_secret, verify_token, access_token..."})
    active = fields.Boolean()


class NewChannelIn(ChannelIn):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in ChannelKind]))
    external_id = fields.String(required=True, validate=validate.Length(1, 200))


class AssignIn(Schema):
    agent_id = fields.Integer(required=True)
    reason = fields.String(load_default="", validate=validate.Length(0, 500))


class DeadLetterQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


def _staff(view: Any) -> Any:
    return blp.doc(security=BEARER)(login_required(*STAFF)(view))


@blp.route("/queues")
class Queues(MethodView):
    @_staff
    @blp.response(200, QueueSchema(many=True))
    def get(self) -> list[Queue]:
        """Queues of the tenant"""
        return list(db().scalars(select(Queue).where(Queue.tenant_id == g.user.tenant_id).order_by(Queue.id)))

    @_staff
    @blp.arguments(NewQueueIn)
    @blp.response(201, QueueSchema)
    def post(self, body: dict[str, Any]) -> Queue:
        """Create a queue"""
        queue = admin.save_queue(db(), g.user, body, utcnow())
        commit()
        return queue


@blp.route("/queues/<int:queue_id>")
class QueueById(MethodView):
    @_staff
    @blp.arguments(QueueIn)
    @blp.response(200, QueueSchema)
    def patch(self, body: dict[str, Any], queue_id: int) -> Queue:
        """Change a queue (name, strategy, return-on-offline and its grace period)"""
        queue = admin.save_queue(db(), g.user, body, utcnow(), queue_id)
        commit()
        return queue


@blp.route("/queues/<int:queue_id>/members")
class Members(MethodView):
    @_staff
    @blp.response(200, MembersIn)
    def get(self, queue_id: int) -> dict[str, Any]:
        """The queue's members (user ids)"""
        return {"user_ids": admin.members_of(db(), g.user, queue_id)}

    @_staff
    @blp.arguments(MembersIn)
    @blp.response(200, MembersIn)
    def put(self, body: dict[str, Any], queue_id: int) -> dict[str, Any]:
        """Replace the queue's members"""
        ids = admin.set_members(db(), g.user, queue_id, body["user_ids"], utcnow())
        commit()
        return {"user_ids": ids}


@blp.route("/users")
class Users(MethodView):
    @_staff
    @blp.response(200, UserSchema(many=True))
    def get(self) -> list[User]:
        """Users of the tenant"""
        return list(db().scalars(select(User).where(User.tenant_id == g.user.tenant_id).order_by(User.id)))

    @_staff
    @blp.arguments(NewUserIn)
    @blp.response(201, UserSchema)
    def post(self, body: dict[str, Any]) -> User:
        """Create an agent, supervisor or (admins only) admin"""
        user = admin.save_user(db(), g.user, body, utcnow())
        commit()
        return user


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @_staff
    @blp.arguments(UserIn)
    @blp.response(200, UserSchema)
    def patch(self, body: dict[str, Any], user_id: int) -> User:
        """Change a user (capacity, skills, role, password, active); a new password or deactivation ends sessions"""
        user = admin.save_user(db(), g.user, body, utcnow(), user_id)
        commit()
        if body.get("password") or body.get("active") is False:  # their sessions ended: close their sockets
            disconnect_sockets(user.id)
        return user


def _saving_channel(body: dict[str, Any], channel_id: int | None = None) -> Channel:
    """Save a channel, its credentials checked with the provider; the provider unreachable is a 503 to retry."""
    transport = Transport(current_app.extensions["atendimento.settings"])
    try:
        return admin.save_channel(db(), g.user, body, utcnow(), channel_id, transport)
    except ProviderError as exc:  # only retryable ones get here: the provider could not answer
        raise ApiError(503, "provider_unavailable",
                       f"could not check the credentials with the provider, retry later: {exc}") from exc


@blp.route("/channels")
class Channels(MethodView):
    @_staff
    @blp.response(200, ChannelOut(many=True))
    def get(self) -> list[Channel]:
        """Channels of the tenant (credentials never shown)"""
        return list(db().scalars(select(Channel).where(Channel.tenant_id == g.user.tenant_id).order_by(Channel.id)))

    @_staff
    @blp.arguments(NewChannelIn)
    @blp.response(201, ChannelOut)
    def post(self, body: dict[str, Any]) -> Channel:
        """Add a channel (a WhatsApp number, an SMS number, an inbound email address)"""
        channel = _saving_channel(body)
        commit()
        return channel


@blp.route("/channels/<int:channel_id>")
class ChannelById(MethodView):
    @_staff
    @blp.arguments(ChannelIn)
    @blp.response(200, ChannelOut)
    def patch(self, body: dict[str, Any], channel_id: int) -> Channel:
        """Change a channel: default queue, triage settings, credentials"""
        channel = _saving_channel(body, channel_id)
        commit()
        return channel


@blp.route("/business-hours")
class BusinessHours(MethodView):
    @_staff
    @blp.response(200, Schema.from_dict({"tz": fields.String(), "weekly": fields.Dict(),
                                         "holidays": fields.List(fields.String()),
                                         "configured": fields.Boolean(metadata={
                                             "description": "false: none set, the clocks run 24x7"})},
                                        name="BusinessHoursRead"))
    def get(self) -> dict[str, Any]:
        """The tenant's business hours (24x7 and `configured: false` until some are set)"""
        return admin.business_hours_of(db(), g.user)

    @_staff
    @blp.arguments(Schema.from_dict({"tz": fields.String(required=True), "weekly": fields.Dict(required=True),
                                     "holidays": fields.List(fields.String())}, name="BusinessHoursIn"))
    @blp.response(200, Schema.from_dict({"tz": fields.String(), "weekly": fields.Dict(),
                                         "holidays": fields.List(fields.String())}, name="BusinessHoursOut"))
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set the tenant's business hours (SLA clocks and the off-hours reply use them)"""
        doc = admin.set_business_hours(db(), g.user, body, utcnow())
        commit()
        return doc


@blp.route("/tickets/<int:ticket_id>/assign")
class ForceAssign(MethodView):
    @_staff
    @blp.arguments(AssignIn)
    @blp.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: int) -> Ticket:
        """Assign a ticket to an agent, over their capacity if need be"""
        ticket = tickets.assign_to(db(), g.user, ticket_id, body["agent_id"], utcnow(), body["reason"] or "forced")
        commit()
        return ticket


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @_staff
    @blp.arguments(DeadLetterQuery, location="query")
    @blp.response(200, MessageSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[Message]:
        """Outbound messages that failed for good, with the provider's code and reason"""
        return list(db().scalars(select(Message).where(
            Message.tenant_id == g.user.tenant_id, Message.direction == Direction.OUTBOUND,
            Message.status == DeliveryStatus.FAILED).order_by(Message.id.desc()).limit(query["limit"])))


class InboxDeadLetterSchema(Schema):
    id = fields.Integer()
    channel_id = fields.Integer()
    provider = fields.String()
    event_id = fields.String()
    kind = fields.String(metadata={"description": "message | status"})
    payload = fields.Dict(metadata={"description": "the event as the provider sent it"})
    received_at = fields.DateTime()
    attempts = fields.Integer(metadata={"description": "failed runs (reset by a retry)"})
    error = fields.String(allow_none=True, metadata={"description": "why the last run failed"})
    dead_at = fields.DateTime(allow_none=True)


@blp.route("/inbox-dead-letters")
class InboxDeadLetters(MethodView):
    @_staff
    @blp.arguments(DeadLetterQuery, location="query")
    @blp.response(200, InboxDeadLetterSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[InboxEvent]:
        """Provider events that failed processing INBOX_MAX_ATTEMPTS times, with the last error"""
        return list(db().scalars(select(InboxEvent).where(
            InboxEvent.tenant_id == g.user.tenant_id, InboxEvent.dead_at.is_not(None))
            .order_by(InboxEvent.dead_at.desc(), InboxEvent.id.desc()).limit(query["limit"])))


@blp.route("/inbox-dead-letters/<int:inbox_id>/retry")
class InboxRetry(MethodView):
    @_staff
    @blp.response(202, InboxDeadLetterSchema)
    @blp.alt_response(409, description="the event is not dead-lettered")
    def post(self, inbox_id: int) -> InboxEvent:
        """Process a dead-lettered provider event again"""
        event = admin.retry_inbox_event(db(), g.user, inbox_id, utcnow())
        commit()
        return event


@blp.route("/messages/<int:message_id>/resend")
class Resend(MethodView):
    @_staff
    @blp.response(202, MessageSchema)
    @blp.alt_response(409, description="the message is not a failed one")
    def post(self, message_id: int) -> Message:
        """Send a dead-lettered message again"""
        message = admin.resend(db(), g.user, message_id, utcnow())
        commit()
        return message


class PolicySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(validate=validate.Length(1, 200))
    queue_id = fields.Integer(allow_none=True, metadata={"description": "null: any queue"})
    priority = fields.Integer(allow_none=True, validate=validate.Range(0, 3), metadata={"description": "null: any"})
    first_response_seconds = fields.Integer(allow_none=True, validate=validate.Range(1, 365 * 86400))
    next_response_seconds = fields.Integer(allow_none=True, validate=validate.Range(1, 365 * 86400))
    resolution_seconds = fields.Integer(allow_none=True, validate=validate.Range(1, 365 * 86400))
    warning_fraction = fields.Float(validate=validate.Range(0.01, 0.99), metadata={"example": 0.8})
    escalate_priority = fields.Boolean()
    escalate_queue_id = fields.Integer(allow_none=True)
    escalate_agent_id = fields.Integer(allow_none=True)


@blp.route("/sla-policies")
class Policies(MethodView):
    @_staff
    @blp.response(200, PolicySchema(many=True))
    def get(self) -> list[SlaPolicy]:
        """SLA policies of the tenant (the most specific of queue + priority, queue, priority, default applies)"""
        return list(db().scalars(select(SlaPolicy).where(SlaPolicy.tenant_id == g.user.tenant_id)
                                 .order_by(SlaPolicy.id)))

    @_staff
    @blp.arguments(PolicySchema)
    @blp.response(201, PolicySchema)
    def post(self, body: dict[str, Any]) -> SlaPolicy:
        """Create an SLA policy"""
        policy = sla.save_policy(db(), g.user, body, utcnow())
        commit()
        return policy


@blp.route("/sla-policies/<int:policy_id>")
class PolicyById(MethodView):
    @_staff
    @blp.arguments(PolicySchema)
    @blp.response(200, PolicySchema)
    def patch(self, body: dict[str, Any], policy_id: int) -> SlaPolicy:
        """Change an SLA policy (applies from each ticket's next SLA event)"""
        policy = sla.save_policy(db(), g.user, body, utcnow(), policy_id)
        commit()
        return policy
