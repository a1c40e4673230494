"""Auto-resolve: a queue's tickets left idle by the customer are resolved, with an optional closing message.

A ticket qualifies when an agent has answered it, the last message is ours and was sent (never while an agent
reply is still queued: the customer may not have it yet), the customer has not written for the queue's
`idle_seconds` of business time (the tenant's calendar, models/rules/sla.py), and it is not snoozed. The closing
message goes through the normal outbound path (`outbound.queue_text`), as a template outside WhatsApp's window.

Beat runs `resolve_idle`; it is idempotent and safe with two runs at once: candidates are locked FOR UPDATE SKIP
LOCKED, then re-checked under the lock with a fresh statement (an agent reply committed meanwhile is seen), and
a resolved ticket no longer qualifies, so a ticket is resolved, and its closing message queued, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime
from models.org import Channel, ChannelKind, Queue, User
from models.rules.auto_resolve import closing_kind, idle_enough
from models.rules.sla import Calendar
from models.services import facts, sla
from models.services.outbound import queue_text
from models.services.payloads import ticket_audience
from models.services.tickets import capacity_freed
from models.services.workflow import ticket_view
from models.tickets import DeliveryStatus, Direction, Message, Ticket, TicketStatus
from models.workflow import AutoResolveSetting

BATCH = 200
MIN_IDLE_SECONDS = 15 * 60


def _queue(session: Session, actor: User, queue_id: int) -> Queue:
    queue = session.scalars(select(Queue).where(Queue.id == queue_id, Queue.tenant_id == actor.tenant_id)
                            ).one_or_none()
    if queue is None:
        raise NotFound("queue not found")
    return queue


def get_setting(session: Session, actor: User, queue_id: int) -> AutoResolveSetting:
    _queue(session, actor, queue_id)
    setting = session.get(AutoResolveSetting, queue_id)
    if setting is None:
        raise NotFound("auto-resolve is not set for this queue")
    return setting


def save_setting(session: Session, actor: User, queue_id: int, values: dict[str, Any], now: datetime
                 ) -> AutoResolveSetting:
    """Set a queue's auto-resolve (idle time in business seconds, closing message and template)."""
    queue = _queue(session, actor, queue_id)
    if values["idle_seconds"] < MIN_IDLE_SECONDS:
        raise Invalid(f"idle time must be at least {MIN_IDLE_SECONDS // 60} minutes", field="idle_hours")
    setting = session.get(AutoResolveSetting, queue.id, with_for_update=True) or AutoResolveSetting(
        tenant_id=queue.tenant_id, queue_id=queue.id)
    setting.enabled = values.get("enabled", True)
    setting.idle_seconds = values["idle_seconds"]
    setting.closing_message = (values.get("closing_message") or "").strip() or None
    setting.closing_template = values.get("closing_template")
    setting.updated_at = now
    session.add(setting)
    session.flush()
    session.add(AuditEntry(tenant_id=queue.tenant_id, actor_id=actor.id, action="queue.auto_resolve_set",
                           entity="queue", entity_id=queue.id,
                           data={"enabled": setting.enabled, "idle_seconds": setting.idle_seconds}, created_at=now))
    return setting


def delete_setting(session: Session, actor: User, queue_id: int, now: datetime) -> None:
    setting = get_setting(session, actor, queue_id)
    session.delete(setting)
    session.add(AuditEntry(tenant_id=setting.tenant_id, actor_id=actor.id, action="queue.auto_resolve_removed",
                           entity="queue", entity_id=queue_id, data={}, created_at=now))
    session.flush()


def _last_out() -> Any:
    return (select(func.max(Message.created_at))
            .where(Message.ticket_id == Ticket.id, Message.direction == Direction.OUTBOUND).scalar_subquery())


def _reply_queued() -> Any:
    return select(Message.id).where(Message.ticket_id == Ticket.id, Message.direction == Direction.OUTBOUND,
                                    Message.status == DeliveryStatus.QUEUED).exists()


def resolve_idle(session: Session, now: datetime, batch: int = BATCH) -> list[int]:
    """Resolve every idle ticket of the queues with auto-resolve on; returns the ids resolved."""
    resolved: list[int] = []
    calendars: dict[int, Calendar] = {}
    for setting in session.scalars(select(AutoResolveSetting).where(AutoResolveSetting.enabled.is_(True))
                                   .order_by(AutoResolveSetting.queue_id)).all():
        # Business time never exceeds wall time: the wall-clock bound lets the index do the first cut.
        candidates = session.scalars(
            select(Ticket).where(Ticket.queue_id == setting.queue_id, Ticket.tenant_id == setting.tenant_id,
                                 Ticket.status.in_((TicketStatus.ASSIGNED, TicketStatus.PENDING)),
                                 Ticket.snoozed_at.is_(None), Ticket.first_response_at.is_not(None),
                                 ~_reply_queued(), _last_out() <= now - timedelta(seconds=setting.idle_seconds))
            .order_by(Ticket.id).limit(batch).with_for_update(skip_locked=True)).all()
        for ticket in candidates:
            cal = calendars.get(ticket.tenant_id) or calendars.setdefault(
                ticket.tenant_id, sla.calendar_of(session, ticket.tenant_id))
            if _resolve_if_idle(session, ticket, setting, cal, now):
                resolved.append(ticket.id)
    return resolved


def _resolve_if_idle(session: Session, ticket: Ticket, setting: AutoResolveSetting, cal: Calendar,
                     now: datetime) -> bool:
    # A fresh statement under the row lock: whatever committed since the candidates were read is seen now.
    last_out, queued = session.execute(
        select(_last_out(), _reply_queued()).select_from(Ticket).where(Ticket.id == ticket.id)).one()
    if queued or last_out is None or ticket.status not in (TicketStatus.ASSIGNED, TicketStatus.PENDING):
        return False
    if not idle_enough(last_out, ticket.last_customer_message_at, now, setting.idle_seconds, cal):
        return False
    channel = session.get_one(Channel, ticket.channel_id)
    kind = closing_kind(bool(setting.closing_message), bool(setting.closing_template),
                        channel.kind == ChannelKind.WHATSAPP, ticket.last_customer_message_at, now)
    if kind == "text":
        queue_text(session, ticket, setting.closing_message or "", None, now)
    elif kind == "template":
        queue_text(session, ticket, setting.closing_message or "", None, now, template=setting.closing_template)
    agent_id = ticket.agent_id
    ticket.status, ticket.resolved_at, ticket.updated_at = TicketStatus.RESOLVED, now, now
    sla.resolved(session, ticket, now)
    facts.resolved(session, ticket, now)  # reports: the cycle's resolution
    session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=None, action="ticket.auto_resolved",
                           entity="ticket", entity_id=ticket.id,
                           data={"idle_seconds": setting.idle_seconds, "closing": kind}, created_at=now))
    realtime.emit(session, ticket.tenant_id, "ticket.updated", ticket_view(session, ticket, "auto_resolved"),
                  ticket_audience(ticket))
    capacity_freed(session, ticket.tenant_id, agent_id)
    return True
