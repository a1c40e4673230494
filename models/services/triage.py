"""Triage: turn a stored inbound event into a message on the contact's open ticket, or a status update."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, literal_column, null, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.contacts import IdentityKind
from models.events import InboxEvent
from models.infra import realtime, tasks
from models.infra.db import RowChanged, ignoring_insert, insert_or_ignore_row
from models.infra.metrics import MESSAGES_RECEIVED, TICKETS_CREATED, count
from models.infra.outbox import enqueue
from models.infra.prepared import prepared
from models.org import Channel, Queue, Tenant
from models.providers.base import ParsedMessage, StatusUpdate
from models.providers.registry import adapter_for
from models.rules.phones import normalize_phone
from models.rules.routing import DEFAULT, Decision, TriageConfig, keyword_labels, route_menu_answer, route_new
from models.rules.sla import Calendar, is_open
from models.services import assignment, contacts, csat, facts, labels, media, reactions, sla, workflow
from models.services.outbound import queue_text, settle_by_reference
from models.services.payloads import message_view, ticket_audience, ticket_summary
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus

log = logging.getLogger(__name__)

# Statuses only move forward: a late `delivered` after `read` changes nothing.
_RANK = {DeliveryStatus.QUEUED: 0, DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.READ: 3,
         DeliveryStatus.FAILED: 4}


class StatusBeforeMessage(Exception):
    """A status callback for a message whose send has not been recorded yet: try again later."""


class StatusNotDue(StatusBeforeMessage):
    """A status that must not apply before its `not_before` (the sandbox's simulated delay): try again later."""


def process_event(session: Session, inbox_id: int, now: datetime) -> str:
    """Apply one inbox event; running it again for the same event changes nothing."""
    # The tenant comes in the same statement and stays referenced until the event is done: the session's identity
    # map holds objects weakly, so the business-hours and SLA reads below would otherwise load it again each time.
    row = session.execute(_event_with_channel(), {"inbox_id": inbox_id}).one_or_none()
    if row is None or row.InboxEvent.processed_at is not None:
        return "skipped"
    event, channel, _tenant = row.InboxEvent, row.Channel, row.Tenant
    adapter = adapter_for(channel.kind)
    if event.kind == "message":
        parsed = adapter.parse_message(event.payload)
        if parsed.reaction is not None:  # an annotation of an earlier message, never a message of its own
            reactions.customer_reacted(session, channel, parsed, now)
        else:
            receive_message(session, channel, parsed, now, event)
    else:
        update = adapter.normalise_status(event.payload)
        if update is None:
            log.info("ignoring a %s status this system does not track (inbox event %s)", event.provider, event.id)
        else:
            apply_status(session, channel, update, now)
    # Counted with the result, in one UPDATE (the message's own statement may have done it): a run that fails
    # rolls back whatever it wrote here anyway.
    if event.processed_at is None:
        event.attempts += 1
        event.processed_at = now
    return "processed"


@cache
def _event_with_channel() -> Any:
    # Built once, as every statement on this path: building a select on each call cost about as much CPU as
    # running it (construction and its cache key); bound parameters make one statement serve every event.
    # Prepared (models.infra.prepared): PostgreSQL planned this join in four times the time it took to run it.
    return prepared(select(InboxEvent, Channel, Tenant).join(Channel, Channel.id == InboxEvent.channel_id)
                    .join(Tenant, Tenant.id == Channel.tenant_id)
                    .where(InboxEvent.id == bindparam("inbox_id")).with_for_update(of=InboxEvent))


@cache
def _open_ticket() -> Any:
    # populate_existing: read again after a version check failed, the session's copy is the stale one.
    return (select(Ticket).where(Ticket.contact_id == bindparam("contact_id"),
                                 Ticket.channel_id == bindparam("channel_id"), Ticket.status.in_(OPEN_STATUSES))
            .with_for_update().execution_options(populate_existing=True))


def _contact_for(session: Session, channel: Channel, parsed: ParsedMessage, now: datetime) -> contacts.Sender:
    kind, value = (IdentityKind.EMAIL, parsed.sender.lower()) if adapter_for(channel.kind).address == "email" else (
        IdentityKind.PHONE, normalize_phone(parsed.sender))
    # Locked (contact row): serialises one customer's messages, and follows a merge to the surviving contact. On
    # PostgreSQL the open ticket comes in the same statement, with its version for the message's write to check.
    open_on = channel.id if session.get_bind().dialect.name == "postgresql" else None
    return contacts.contact_for_sender(session, channel.tenant_id, kind, value, parsed.sender_name, now, open_on)


def receive_message(session: Session, channel: Channel, parsed: ParsedMessage, now: datetime,
                    event: InboxEvent | None = None) -> Message | None:
    """Append a customer message to the contact's ticket on this channel and route it.

    The open ticket is reused; a ticket resolved within the channel's reopen window is reopened; otherwise a
    new ticket starts, and the bot (greeting, menu, keywords, off-hours reply) decides its queue. `event`, the
    inbox event the message came in, may be marked processed by the statement that stores the message.
    """
    config = TriageConfig.from_doc(channel.settings.get("triage"))
    sender = _contact_for(session, channel, parsed, now)
    contact, first_contact = sender.contact, sender.created
    if parsed.sender_name and not contact.name:
        contact.name = parsed.sender_name
    threaded = _threaded_ticket(session, channel, parsed)
    if threaded is None and not first_contact and (
            answer := csat.take_answer(session, channel, contact, parsed, now)) is not None:
        return answer  # a rating of a resolved ticket (models.services.csat): recorded there, nothing reopens
    ticket, how, decision = (threaded, "open", None) if threaded else _ticket_for(
        session, channel, contact, config, parsed, now, first_contact, sender)
    values = {"tenant_id": channel.tenant_id, "channel_id": channel.id, "direction": Direction.INBOUND.value,
              "kind": parsed.kind, "body": parsed.body, "payload": _payload(parsed),
              "provider_message_id": parsed.provider_message_id, "status": DeliveryStatus.RECEIVED.value,
              "created_at": now, "attempts": 0}
    held = sender.ticket_version if threaded is None and ticket is sender.open_ticket else None  # read unlocked
    # The plain case, a message on a queued or assigned ticket quoting nothing and carrying no media: its
    # `message.created` is the transaction's first event and its view is known now, so the message's own
    # statement writes the event's row too (a copy of a stored message then writes none).
    announce = None
    if (how == "open" and ticket.queue_id is not None and ticket.status != TicketStatus.PENDING
            and not parsed.reply_to and not parsed.media):
        view = message_view(Message(**{**values, "direction": Direction.INBOUND, "status": DeliveryStatus.RECEIVED,
                                       "ticket_id": ticket.id}))
        announce = realtime.row_params(channel.tenant_id, "message.created", view, ticket_audience(ticket), now)
    try:
        message, event_id = _store_message(session, ticket, {**values, "ticket_id": ticket.id}, now, event, held,
                                           announce)
    except RowChanged:  # the ticket changed after it was read with the contact: read it again, locked this time
        ticket, how, decision = _ticket_for(session, channel, contact, config, parsed, now, first_contact, None)
        message, event_id = _store_message(session, ticket, {**values, "ticket_id": ticket.id}, now, event, None,
                                           None)
    if message is None:
        return None  # already stored by an earlier run: nothing else to do
    _link_reply(session, channel, message, parsed)
    media.attach_inbound(session, channel, message, parsed, now)
    count(session, MESSAGES_RECEIVED, tenant=channel.tenant_id, channel=channel.kind.value)
    if how == "new":
        count(session, TICKETS_CREATED, tenant=channel.tenant_id, channel=channel.kind.value)
    resumed = ticket.status == TicketStatus.PENDING
    if resumed:  # pending or snoozed: back to its agent or queue (models.services.workflow)
        workflow.customer_replied(session, ticket, now)
    if how != "new" and ticket.queue_id is None and ticket.status == TicketStatus.QUEUED:  # at the bot's menu
        decision = route_menu_answer(config, parsed.body, int(ticket.triage_state.get("attempts", 0)))
        _place(session, ticket, decision, now)
    if decision is not None and decision.queue is not None:
        facts.routed(session, ticket, now, first_cycle=how == "new")  # reports: out of the bot, a cycle opens
    elif how == "reopened" and ticket.queue_id is not None:
        facts.routed(session, ticket, now)  # reports: a cycle opens
    queued = ticket.queue_id is not None and (how == "reopened" or (decision is not None and decision.queue))
    # The message's one SLA computation, routing included (a first message used to compute the clocks twice).
    sla.customer_wrote(session, ticket, how, now, resumed=resumed,
                       routed=decision is not None and decision.queue is not None)
    if ticket.first_response_at is not None:  # before any agent's reply no next-response wait can open
        facts.customer_wrote(session, ticket, now)  # reports: may open a next-response wait (one statement)
    # Emitted after routing, so the ticket's queue room hears about it.
    if how != "open" or decision is not None:
        realtime.emit(session, channel.tenant_id, "ticket.created" if how == "new" else "ticket.updated",
                      ticket_summary(ticket, contact), ticket_audience(ticket))
    if announce is not None and event_id is not None:  # written with the message: its id is the row's
        realtime.written(session, channel.tenant_id, "message.created", {**announce["rt_data"], "id": message.id},
                         ticket_audience(ticket), now, event_id)
    else:
        realtime.emit(session, channel.tenant_id, "message.created", message_view(message), ticket_audience(ticket))
    if names := keyword_labels(config, parsed.body):  # keyword rules may label the ticket (models.services.labels)
        labels.add_by_triage(session, ticket, names, now)
    for text in decision.replies if decision else ():
        queue_text(session, ticket, text, None, now)
    if queued and ticket.queue_id is not None:  # last: the queue's lock, if taken, is held only until commit
        assignment.assign_now_or_later(session, ticket.tenant_id, ticket.queue_id, now)
    return message


_MESSAGE_KEY = ("channel_id", "provider_message_id")


def _store_message(session: Session, ticket: Ticket, values: dict[str, Any], now: datetime,
                   event: InboxEvent | None, held: str | None,
                   announce: dict[str, Any] | None) -> tuple[Message | None, int | None]:
    """The customer's message, once (unique channel + provider id), and its ticket's clocks moved to `now`; None
    when an earlier run stored it (then the ticket is not touched either).

    On PostgreSQL one statement: the INSERT ... ON CONFLICT DO NOTHING RETURNING is a CTE that the ticket's UPDATE
    reads, so a duplicate updates nothing; `event` (already locked by this transaction) is marked processed by
    another CTE of it, duplicate or not. The session is told the values written, so neither the ticket nor the
    event flushes an UPDATE of its own: a message on an open ticket is then 4 statements. SQLite keeps two
    statements, and the event is marked by the caller.

    `held`: the ticket was read unlocked, at this row version (contacts.ticket_version). The statement then locks
    it only if it still is at that version and writes nothing otherwise (RowChanged): what was decided from the
    row (that it is open, its queue, its agent) still holds when the message lands on it.

    `announce` (realtime.row_params): the statement also writes that event's row for the new message; the
    second value returned is its id (None when nothing was announced or the message was a copy).
    """
    if session.get_bind().dialect.name != "postgresql":
        message = insert_or_ignore_row(session, Message, values, conflict=list(_MESSAGE_KEY))
        if message is not None:
            ticket.last_customer_message_at = ticket.updated_at = now
        return message, None
    params = {f"new_{k}": v for k, v in values.items()}  # never a column's name: the UPDATE would SET it
    params.update(clock=now, inbox_id=event.id if event is not None else None, held_version=held, **(announce or {}))
    row = session.execute(_message_and_clocks(tuple(values), held is not None, announce is not None), params).first()
    if row is None and held is not None:
        raise RowChanged(f"ticket {ticket.id}")
    message, event_id = (row[0], row[2]) if row is not None else (None, None)
    if event is not None:
        set_committed_value(event, "attempts", event.attempts + 1)
        set_committed_value(event, "processed_at", now)
    if message is not None:
        set_committed_value(ticket, "last_customer_message_at", now)
        set_committed_value(ticket, "updated_at", now)
    return message, event_id


@cache
def _message_and_clocks(columns: tuple[str, ...], guarded: bool, announced: bool) -> Any:
    """The message statement: rows of (Message or None, the held ticket's id, the announced event's id)."""
    messages, tickets = cast(Table, Message.__table__), cast(Table, Ticket.__table__)
    inbox = cast(Table, InboxEvent.__table__)
    mapped = tuple(Message.__mapper__.columns)  # not messages.search_vector: generated, PostgreSQL's own
    values = {c: bindparam(f"new_{c}", type_=messages.c[c].type) for c in columns}
    insert = ignoring_insert(messages, _MESSAGE_KEY, "postgresql")
    if not guarded:
        new = insert.values(values).returning(*mapped).cte("new_message")
        processed_where = inbox.c.id == bindparam("inbox_id")
    else:
        # The ticket, locked, if it is still at the version read: no row, nothing written (not even the mark).
        held = (select(tickets.c.id).where(tickets.c.id == bindparam("new_ticket_id"),
                                           contacts.ticket_version() == bindparam("held_version"))
                .with_for_update().cte("held"))
        new = (insert.from_select(columns, select(*values.values()).select_from(held))
               .returning(*mapped).cte("new_message"))
        processed_where = and_(inbox.c.id == bindparam("inbox_id"), exists(select(held.c.id)))
    clocks = (update(tickets).where(tickets.c.id.in_(select(new.c.ticket_id)))
              .values(updated_at=bindparam("clock"), last_customer_message_at=bindparam("clock")).cte("clocks"))
    # Unreferenced, as data-modifying CTEs may be: PostgreSQL runs it whether or not the message was new.
    processed = (update(inbox).where(processed_where)
                 .values(processed_at=bindparam("clock"), attempts=inbox.c.attempts + 1).cte("processed"))
    ctes = [clocks, processed]
    event_id: Any = null()
    if announced:
        announcement = realtime.insert_from(new).cte("announced")
        ctes.append(announcement)
        event_id = select(announcement.c.id).scalar_subquery()
    columns_out = (*(new.c[c.key] for c in mapped), (held.c.id if guarded else null()).label("held_id"),
                   event_id.label("event_id"))
    # Unguarded: a row for a new message, none for a copy. Guarded: one row when the ticket held, the message's
    # columns NULL for a copy (a single-entity load would drop that row, hence the other columns), none when not.
    body = select(*columns_out).select_from(held).outerjoin(new, true()) if guarded else select(*columns_out)
    return prepared(select(Message, literal_column("held_id"), literal_column("event_id"))
                    .from_statement(body.add_cte(*ctes)))


def _link_reply(session: Session, channel: Channel, message: Message, parsed: ParsedMessage) -> None:
    """A reply quoting a message of the conversation (or choosing one of our buttons) names it by the provider's
    id: keep our id of it, so the message JSON's `reply_to` points at it. One we do not know stays unlinked."""
    if not parsed.reply_to:
        return
    quoted = session.scalar(select(Message.id).where(Message.channel_id == channel.id,
                                                     Message.ticket_id == message.ticket_id,
                                                     Message.provider_message_id == parsed.reply_to))
    if quoted is not None:
        message.payload = {**message.payload, "reply_to_id": quoted}


def _payload(parsed: ParsedMessage) -> dict[str, object]:
    """What is stored with the message: the provider's detail, and the typed content under "content"."""
    content = parsed.content()
    return {**parsed.extra, "content": content} if content else dict(parsed.extra)


def _threaded_ticket(session: Session, channel: Channel, parsed: ParsedMessage) -> Ticket | None:
    """A message may name its open ticket itself (an email answering one of ours, by its signed reply address)."""
    ticket_id = adapter_for(channel.kind).ticket_named(channel, parsed)
    if ticket_id is None:
        return None
    return session.scalars(select(Ticket).where(Ticket.id == ticket_id, Ticket.channel_id == channel.id,
                                                Ticket.status.in_(OPEN_STATUSES)).with_for_update()).one_or_none()


def _ticket_for(session: Session, channel: Channel, contact: Contact, config: TriageConfig, parsed: ParsedMessage,
                now: datetime, first_contact: bool, sender: contacts.Sender | None
                ) -> tuple[Ticket, str, Decision | None]:
    """The contact's open ticket on the channel, one resolved within the reopen window (reopened), or a new one,
    with the bot's decision for a new one. A contact this transaction created has no tickets: nothing to look up;
    `sender` may have read the open ticket already (unlocked: the message's write checks its version).
    """
    if sender is not None and sender.checked:
        ticket = sender.open_ticket
    else:  # locked now (under the contact's lock), so the SLA bookkeeping later needs no second read of the row
        ticket = None if first_contact else session.scalars(
            _open_ticket(), {"contact_id": contact.id, "channel_id": channel.id}).one_or_none()
    if ticket is not None:
        return ticket, "open", None
    if config.reopen_window_seconds > 0 and not first_contact:
        recent = session.scalars(
            select(Ticket).where(Ticket.contact_id == contact.id, Ticket.channel_id == channel.id,
                                 Ticket.status == TicketStatus.RESOLVED,
                                 Ticket.resolved_at >= now - timedelta(seconds=config.reopen_window_seconds))
            .order_by(Ticket.resolved_at.desc()).limit(1).with_for_update()).one_or_none()
        if recent is not None:
            recent.status, recent.agent_id, recent.resolved_at, recent.reopened_at = (
                TicketStatus.QUEUED, None, None, now)
            return recent, "reopened", None
    # Routed before it is written: the INSERT carries its queue (or the menu's state) and subject, no UPDATE.
    decision = route_new(config, parsed.body, _open_now(session, channel, now))
    subject = parsed.thread.subject[:300] if parsed.thread and parsed.thread.subject else None
    ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id, queue_id=None,
                    status=TicketStatus.QUEUED, subject=subject, created_at=now, updated_at=now, triage_state={})
    _place(session, ticket, decision, now)
    session.add(ticket)
    session.flush()
    return ticket, "new", decision


def _place(session: Session, ticket: Ticket, decision: Decision, now: datetime) -> None:
    """Carry out a routing decision on the ticket: its queue, or its state at the menu. The caller records the
    cycle it opens (facts.routed) and asks for assignment."""
    if decision.queue is None:
        ticket.triage_state = {"attempts": decision.attempts, "since": ticket.triage_state.get("since") or
                               now.isoformat()}
        return
    queue_id = None
    if decision.queue != DEFAULT:
        queue_id = session.scalar(select(Queue.id).where(Queue.tenant_id == ticket.tenant_id,
                                                         Queue.name == decision.queue))
        if queue_id is None:
            log.warning("triage routes to unknown queue %r; using the channel's default", decision.queue)
    channel = session.get_one(Channel, ticket.channel_id)
    ticket.queue_id = queue_id or channel.default_queue_id
    ticket.triage_state = {}  # the SLA follows the new queue in the caller's sla.customer_wrote


def _open_now(session: Session, channel: Channel, now: datetime) -> bool:
    tenant = session.get_one(Tenant, channel.tenant_id)
    doc = tenant.settings.get("business_hours")
    return True if not doc else is_open(Calendar.from_doc(doc), now)


def expire_menus(session: Session, now: datetime) -> int:
    """Send tickets whose customer never answered the menu to their channel's default queue."""
    moved = 0
    stuck = session.scalars(select(Ticket).where(Ticket.queue_id.is_(None), Ticket.status == TicketStatus.QUEUED)
                            .with_for_update(skip_locked=True)).all()
    for ticket in stuck:
        channel = session.get_one(Channel, ticket.channel_id)
        config = TriageConfig.from_doc(channel.settings.get("triage"))
        since = ticket.triage_state.get("since")
        timeout = config.menu.timeout_seconds if config.menu else 0
        if since and datetime.fromisoformat(since) + timedelta(seconds=timeout) > now:
            continue
        _place(session, ticket, Decision(DEFAULT), now)
        facts.routed(session, ticket, now)  # reports: out of the bot, a cycle opens
        if ticket.queue_id is not None:
            enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, ticket.queue_id)
        sla.refresh(session, ticket, now)  # the default queue's policy applies from now
        if config.fallback_reply:
            queue_text(session, ticket, config.fallback_reply, None, now)
        realtime.emit(session, ticket.tenant_id, "ticket.updated", ticket_summary(ticket), ticket_audience(ticket))
        moved += 1
    return moved


def apply_status(session: Session, channel: Channel, update: StatusUpdate, now: datetime) -> None:
    """Move an outbound message's delivery status forward (never backwards)."""
    if update.not_before is not None and update.not_before > now:
        raise StatusNotDue(update.provider_message_id)
    message = session.scalars(select(Message).where(Message.channel_id == channel.id,
                                                    Message.provider_message_id == update.provider_message_id)
                              .with_for_update()).one_or_none()
    if message is None:  # a send whose worker died before recording the provider's id: named by our reference
        message = settle_by_reference(session, channel, update, now)
    if message is None:
        raise StatusBeforeMessage(update.provider_message_id)
    new = update.status
    if _RANK.get(new, -1) <= _RANK.get(message.status, -1):
        return
    message.status = new
    if new == DeliveryStatus.DELIVERED:
        message.delivered_at = now
    elif new == DeliveryStatus.READ:
        message.read_at = now
    elif new == DeliveryStatus.FAILED:
        message.error_code = update.error_code or ""
        message.error_reason = update.error_reason
    ticket = session.get_one(Ticket, message.ticket_id)
    realtime.emit(session, channel.tenant_id, "message.status",
                  {"message_id": message.id, "ticket_id": ticket.id, "status": message.status.value},
                  ticket_audience(ticket))
