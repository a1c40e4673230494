"""Tenant administration by supervisors and admins: queues, membership, agents, channels, dead letters.

Every function is scoped to the acting user's tenant; an id of another tenant is NotFound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from models.errors import Conflict, Invalid, NotFound
from models.events import AuditEntry, InboxEvent
from models.infra import tasks
from models.infra.availability import availability_of
from models.infra.outbox import enqueue
from models.org import Channel, ChannelKind, Queue, QueueMember, Role, Strategy, Tenant, User
from models.providers import sendgrid
from models.providers.adapter import Transport
from models.providers.base import ProviderError
from models.providers.registry import adapter_for
from models.rules.routing import TriageConfig
from models.rules.sla import Calendar
from models.services.accounts import end_all_sessions
from models.tickets import DeliveryStatus, Message


def _owned(session: Session, model: Any, actor: User, row_id: int, what: str) -> Any:
    row = session.scalars(select(model).where(model.id == row_id, model.tenant_id == actor.tenant_id)
                          .with_for_update()).one_or_none()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def _audit(session: Session, actor: User, action: str, entity: str, entity_id: int, now: datetime,
           **data: Any) -> None:
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action=action, entity=entity,
                           entity_id=entity_id, data=data, created_at=now))


def save_queue(session: Session, actor: User, fields: dict[str, Any], now: datetime,
               queue_id: int | None = None) -> Queue:
    """Create a queue, or update one of the tenant's."""
    queue = Queue(tenant_id=actor.tenant_id) if queue_id is None else _owned(session, Queue, actor, queue_id, "queue")
    if "name" in fields:
        clash = session.scalar(select(Queue.id).where(Queue.tenant_id == actor.tenant_id, Queue.name == fields["name"],
                                                      Queue.id != (queue_id or 0)))
        if clash is not None:
            raise Conflict("a queue with this name exists", field="name")
        queue.name = fields["name"]
    if "strategy" in fields:
        queue.strategy = Strategy(fields["strategy"])
    for key in ("return_on_offline", "offline_grace_seconds"):
        if key in fields:
            setattr(queue, key, fields[key])
    if queue_id is None:
        session.add(queue)
    session.flush()
    _audit(session, actor, "queue.saved", "queue", queue.id, now, **fields)
    return queue


def set_members(session: Session, actor: User, queue_id: int, user_ids: list[int], now: datetime) -> list[int]:
    """Replace a queue's members; new members may take its waiting tickets at once."""
    queue = _owned(session, Queue, actor, queue_id, "queue")
    found = set(session.scalars(select(User.id).where(User.tenant_id == actor.tenant_id, User.id.in_(user_ids))))
    missing = sorted(set(user_ids) - found)
    if missing:
        raise NotFound("user not found", field="user_ids", ids=missing)
    current = set(session.scalars(select(QueueMember.user_id).where(QueueMember.queue_id == queue.id)))
    session.execute(delete(QueueMember).where(QueueMember.queue_id == queue.id,
                                              QueueMember.user_id.in_(current - found)))
    for user_id in sorted(found - current):
        session.add(QueueMember(tenant_id=actor.tenant_id, queue_id=queue.id, user_id=user_id))
    _audit(session, actor, "queue.members", "queue", queue.id, now, user_ids=sorted(found))
    availability_of(session).invalidate_after_commit(session, [queue.id])
    if found - current:
        enqueue(session, actor.tenant_id, tasks.ASSIGN_QUEUE, queue.id)
    return sorted(found)


def save_user(session: Session, actor: User, fields: dict[str, Any], now: datetime,
              user_id: int | None = None) -> User:
    """Create or update an agent/supervisor; only admins create or promote admins."""
    if fields.get("role") == Role.ADMIN.value and actor.role != Role.ADMIN:
        raise Invalid("only an admin may grant the admin role", field="role")
    if user_id is None:
        if not fields.get("password"):
            raise Invalid("password is required for a new user", field="password")
        email = fields["email"].lower().strip()
        if session.scalar(select(User.id).where(User.tenant_id == actor.tenant_id, User.email == email)):
            raise Conflict("a user with this email exists", field="email")
        user = User(tenant_id=actor.tenant_id, email=email, name=fields.get("name") or email)
        session.add(user)
    else:
        user = _owned(session, User, actor, user_id, "user")
        if user.role == Role.ADMIN and actor.role != Role.ADMIN:
            raise Invalid("only an admin may change an admin", field="role")
    for key in ("name", "max_tickets", "skills", "active"):
        if key in fields:
            setattr(user, key, fields[key])
    if "role" in fields:
        user.role = Role(fields["role"])
    if fields.get("password"):
        user.password_hash = generate_password_hash(fields["password"])
    session.flush()
    if user_id is not None and (fields.get("password") or fields.get("active") is False):
        # A reset password or a disabled account must not leave a session (or a stolen token) working.
        end_all_sessions(session, user.id, now, "password_reset" if fields.get("password") else "deactivated")
    if user_id is not None:  # capacity, skills or active may have changed
        availability_of(session).invalidate_after_commit(session, session.scalars(
            select(QueueMember.queue_id).where(QueueMember.user_id == user.id)))
    _audit(session, actor, "user.saved", "user", user.id, now,
           **{k: v for k, v in fields.items() if k != "password"})
    return user


def save_channel(session: Session, actor: User, fields: dict[str, Any], now: datetime,
                 channel_id: int | None = None, transport: Transport | None = None) -> Channel:
    """Create or update a channel; triage settings are validated before they are stored.

    The claim rule: a number or address becomes a tenant's channel only once the provider accepts the credentials
    given for it (`ChannelAdapter.validate_credentials` through `transport`), on creation and whenever they change;
    the first tenant to prove it that way holds it. Only then is a clash looked up, and the 409 never says who
    holds it. Raises ProviderError when the provider could not be asked (retryable: the caller answers 503).
    """
    if "settings" in fields:
        settings = fields["settings"] or {}
        try:
            TriageConfig.from_doc(settings.get("triage"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise Invalid(str(exc), field="settings") from exc
    if channel_id is None:
        kind, external_id = ChannelKind(fields["kind"]), str(fields["external_id"])
        _check_credentials(kind, fields.get("credentials") or {})
        channel = Channel(tenant_id=actor.tenant_id, kind=kind, external_id=external_id, name=fields.get("name")
                          or external_id, credentials=dict(fields.get("credentials") or {}), settings={})
        _verify_claim(channel, transport)
        holder = session.scalar(select(Channel.tenant_id).where(Channel.kind == kind,
                                                                Channel.external_id == external_id))
        if holder is not None:
            raise _claimed(holder == actor.tenant_id)
        try:
            with session.begin_nested():  # a claim racing ours commits first: the unique key decides
                session.add(channel)
                session.flush()
        except IntegrityError as exc:
            raise _claimed(False) from exc
    else:
        channel = _owned(session, Channel, actor, channel_id, "channel")
        if fields.get("credentials"):
            _check_credentials(channel.kind, fields["credentials"])
            merged = {**channel.credentials, **fields["credentials"]}
            _verify_claim(Channel(tenant_id=channel.tenant_id, kind=channel.kind, external_id=channel.external_id,
                                  name=channel.name, credentials=merged, settings={}), transport)
            channel.credentials = merged
    if "default_queue_id" in fields:
        if fields["default_queue_id"] is not None:
            _owned(session, Queue, actor, fields["default_queue_id"], "queue")
        channel.default_queue_id = fields["default_queue_id"]
    for key in ("name", "active", "settings"):
        if key in fields:
            setattr(channel, key, fields[key])
    session.flush()
    _audit(session, actor, "channel.saved", "channel", channel.id, now,
           **{k: v for k, v in fields.items() if k != "credentials"})
    return channel


def _claimed(ours: bool) -> Conflict:
    if ours:
        return Conflict("this number or address is already one of your channels", field="external_id")
    # Not who holds it: a tenant must not learn another tenant's numbers or addresses.
    return Conflict("this number or address is already registered as a channel; if it is yours, contact support",
                    field="external_id")


def _verify_claim(channel: Channel, transport: Transport | None) -> None:
    """Ask the provider whether the channel's credentials work for it; a refusal is a 422 on `credentials`."""
    if transport is None:
        raise Invalid("credentials cannot be checked here", field="credentials")
    try:
        adapter_for(channel.kind).validate_credentials(channel, transport)
    except ProviderError as exc:
        if exc.retryable:
            raise
        raise Invalid(f"the provider refused these credentials: {exc.reason}"[:300], code="credentials_rejected",
                      field="credentials", provider_code=exc.code) from exc


def _check_credentials(kind: ChannelKind, creds: dict[str, Any]) -> None:
    """Refuse credentials that cannot work before they are stored (a SendGrid key that is no P-256 key)."""
    key = creds.get("event_public_key")
    if kind == ChannelKind.EMAIL and key is not None and (
            not isinstance(key, str) or sendgrid.event_public_key(key) is None):
        raise Invalid("credentials.event_public_key: not a P-256 public key (base64 DER, as SendGrid shows it)",
                      field="credentials.event_public_key")


def members_of(session: Session, actor: User, queue_id: int) -> list[int]:
    """The user ids of a queue's members, sorted."""
    queue = session.scalars(select(Queue).where(Queue.id == queue_id, Queue.tenant_id == actor.tenant_id)).one_or_none()
    if queue is None:
        raise NotFound("queue not found")
    return sorted(session.scalars(select(QueueMember.user_id).where(QueueMember.queue_id == queue.id)))


ALWAYS_OPEN = {"tz": "UTC", "weekly": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                                             "sun")}, "holidays": []}


def business_hours_of(session: Session, actor: User) -> dict[str, Any]:
    """The tenant's business-hours calendar as stored, `configured` false (and 24x7) when it has none."""
    doc = session.get_one(Tenant, actor.tenant_id).settings.get("business_hours")
    if not doc:
        return {**ALWAYS_OPEN, "configured": False}
    return {"holidays": [], **doc, "configured": True}


def set_business_hours(session: Session, actor: User, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The tenant's business-hours calendar (time zone, weekly hours, holidays), validated before it is stored."""
    try:
        Calendar.from_doc(doc)
    except (ValueError, TypeError, KeyError) as exc:
        raise Invalid(str(exc), field="business_hours") from exc
    tenant = session.get_one(Tenant, actor.tenant_id, with_for_update=True)
    tenant.settings = {**tenant.settings, "business_hours": doc}
    _audit(session, actor, "tenant.business_hours", "tenant", tenant.id, now)
    return doc


def resend(session: Session, actor: User, message_id: int, now: datetime) -> Message:
    """Send a dead-lettered (failed) outbound message again."""
    message = _owned(session, Message, actor, message_id, "message")
    if message.status != DeliveryStatus.FAILED or message.provider_message_id is not None:
        raise Conflict("only a failed message that never reached the provider can be re-sent")
    message.status, message.error_code, message.error_reason, message.attempts = DeliveryStatus.QUEUED, None, None, 0
    enqueue(session, actor.tenant_id, tasks.SEND_MESSAGE, message.id)
    _audit(session, actor, "message.resent", "message", message.id, now)
    return message


def retry_inbox_event(session: Session, actor: User, inbox_id: int, now: datetime) -> InboxEvent:
    """Process a dead-lettered inbox event again, with a fresh attempt budget (its last error stays on it)."""
    event = _owned(session, InboxEvent, actor, inbox_id, "inbox event")
    if event.dead_at is None:
        raise Conflict("only a dead-lettered inbox event can be retried")
    event.dead_at, event.attempts = None, 0
    enqueue(session, actor.tenant_id, tasks.PROCESS_EVENT, event.id)
    _audit(session, actor, "inbox_event.retried", "inbox_event", event.id, now)
    return event
