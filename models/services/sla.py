"""SLA: policies, and the clocks kept on ticket events (the periodic check is `models.services.sla_check`).

How the clocks are kept
-----------------------
Due times are computed when something happens to a ticket (a customer message, routing, a reply, a status
change, resolve, reopen) and stored: on the ticket (`*_due_at`) and in `ticket_sla` (warning instants and
`next_check_at`, the earliest warning or breach instant the check has not handled yet). The check therefore reads
only tickets with `next_check_at <= now`, through an index, never every open ticket.

Clocks count business time (the tenant's calendar; 24x7 without one) and stand still while the ticket waits on
the customer (status pending). Each such span is a `sla_pauses` row; when it ends the clocks are recomputed with
it, which pushes every instant after the pause's start forward by the paused business time.

Exactly once
------------
A warning or breach is emitted only by the transaction that inserts its `sla_notices` row (`notify`: unique on
ticket, clock, kind and the instant crossed; INSERT ... ON CONFLICT DO NOTHING), together with the realtime event
row and the escalation. Two checks racing, a check overlapping a hook, or a run retried after a crash either see the row
or wait on the first inserter and then see it; a rolled-back run leaves nothing, so the next run emits. Candidate
tickets are also taken FOR UPDATE SKIP LOCKED, so concurrent checks share the work instead of repeating it.

An instant already crossed is frozen: a later recomputation (another queue, another policy) never moves it, so a
notice already emitted cannot come back under a different key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Conflict, Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime
from models.infra.db import after_commit, insert_or_ignore
from models.org import Queue, Tenant, User
from models.rules.sla import Calendar, elapsed_with_pauses
from models.rules.sla_policy import PolicySpec, choose_policy, due_with_pauses
from models.sla import NoticeKind, SlaClock, SlaNotice, SlaPause, SlaPolicy, TicketSla
from models.tickets import Ticket, TicketStatus

log = logging.getLogger(__name__)

BREACHES = Counter("atendimento_sla_breaches_total", "SLA breaches (warning not included)", ["queue"])
FIRST_RESPONSE_SECONDS = Histogram(
    "atendimento_first_response_seconds", "Business seconds from a ticket's opening to its first agent reply",
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200))
HANDLING_SECONDS = Histogram(
    "atendimento_handling_seconds", "Business seconds from a ticket's (re)opening to its resolution",
    buckets=(300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600, 604800, 1209600))

_DUE = {SlaClock.FIRST_RESPONSE: "first_response_due_at", SlaClock.NEXT_RESPONSE: "next_response_due_at",
        SlaClock.RESOLUTION: "resolution_due_at"}
_WARN = {SlaClock.FIRST_RESPONSE: "first_response_warning_at", SlaClock.NEXT_RESPONSE: "next_response_warning_at",
         SlaClock.RESOLUTION: "resolution_warning_at"}
_TARGET = {SlaClock.FIRST_RESPONSE: "first_response_seconds", SlaClock.NEXT_RESPONSE: "next_response_seconds",
           SlaClock.RESOLUTION: "resolution_seconds"}
_EVENT = {NoticeKind.WARNING: "sla.warning", NoticeKind.BREACH: "sla.breached"}
POLICY_FIELDS = ("name", "queue_id", "priority", "first_response_seconds", "next_response_seconds",
                 "resolution_seconds", "warning_fraction", "escalate_priority", "escalate_queue_id",
                 "escalate_agent_id")


# --- reading the state -------------------------------------------------------------------------------------------

def calendar_of(session: Session, tenant_id: int) -> Calendar:
    """The tenant's business-hours calendar; 24x7 when it has none (or a broken one, which is logged)."""
    doc = session.get_one(Tenant, tenant_id).settings.get("business_hours")
    if not doc:
        return Calendar.always_open()
    try:
        return Calendar.from_doc(doc)
    except ValueError:
        log.warning("tenant %s has an invalid business_hours calendar; SLA clocks run 24x7", tenant_id)
        return Calendar.always_open()


def policy_for(session: Session, ticket: Ticket) -> SlaPolicy | None:
    """The most specific policy of the ticket's tenant for its queue and priority."""
    policies = {p.id: p for p in session.scalars(select(SlaPolicy).where(SlaPolicy.tenant_id == ticket.tenant_id))}
    chosen = choose_policy((PolicySpec(p.id, p.queue_id, p.priority) for p in policies.values()),
                           ticket.queue_id, ticket.priority)
    return policies[chosen.id] if chosen else None


def _pauses(session: Session, ticket_id: int) -> list[SlaPause]:
    """The ticket's pauses, oldest first: read once per SLA event, which then works on this list."""
    return list(session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)
                                .order_by(SlaPause.started_at)))


def _spans(pauses: list[SlaPause]) -> list[tuple[datetime, datetime | None]]:
    return [(p.started_at, p.ended_at) for p in pauses]


def _open(pauses: list[SlaPause]) -> SlaPause | None:
    return next((p for p in pauses if p.ended_at is None), None)


def open_pause(session: Session, ticket_id: int) -> SlaPause | None:
    """The pause the ticket is in (waiting on the customer), if any."""
    return session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id, SlaPause.ended_at.is_(None))
                           ).one_or_none()


def _begin(session: Session, ticket: Ticket, locked: bool = False, new: bool = False) -> TicketSla:
    """Lock the ticket (then its SLA row, always in that order) and return its SLA row, created when missing.

    The refresh brings in what a concurrent check committed (an escalation) after the caller's changes are flushed;
    `locked`: the caller read the ticket FOR UPDATE in this transaction, so it is current already; `new`: the
    caller inserted the ticket in this transaction, so it has no SLA row yet and nobody else can see it.
    """
    state = None
    if not new:
        session.flush()
        if not locked:
            session.refresh(ticket, with_for_update=True)
        state = session.scalars(select(TicketSla).where(TicketSla.ticket_id == ticket.id).with_for_update()
                                ).one_or_none()
    if state is None:
        state = TicketSla(tenant_id=ticket.tenant_id, ticket_id=ticket.id)
        session.add(state)
    return state


def _running(ticket: Ticket, state: TicketSla) -> dict[SlaClock, datetime]:
    """The clocks still running, with the instant each one started."""
    if ticket.status == TicketStatus.RESOLVED:
        return {}
    clocks = {SlaClock.RESOLUTION: ticket.reopened_at or ticket.created_at}
    if ticket.first_response_at is None:
        clocks[SlaClock.FIRST_RESPONSE] = ticket.created_at
    if state.next_response_started_at is not None:
        clocks[SlaClock.NEXT_RESPONSE] = state.next_response_started_at
    return clocks


def instants(ticket: Ticket, state: TicketSla) -> Iterator[tuple[SlaClock, NoticeKind, datetime]]:
    """Every warning and breach instant of the clocks still running."""
    for clock in _running(ticket, state):
        warn, due = getattr(state, _WARN[clock]), getattr(ticket, _DUE[clock])
        if warn is not None:
            yield clock, NoticeKind.WARNING, warn
        if due is not None:
            yield clock, NoticeKind.BREACH, due


# --- keeping the clocks ----------------------------------------------------------------------------------------

def _recompute(session: Session, ticket: Ticket, state: TicketSla, now: datetime, crossed_until: datetime,
               pauses: list[SlaPause]) -> None:
    """Re-select the policy and recompute the running clocks' warning and due instants, then reschedule.

    Instants at or before `crossed_until` (now, or the start of the pause the ticket was in) were reached while
    the clock ran: they are kept, so a notice already emitted is never emitted again under a moved instant.
    """
    previous_next = state.next_check_at
    running = _running(ticket, state)
    with session.no_autoflush:  # the reads below need none of the pending changes: they flush once, at the end
        policy = policy_for(session, ticket)
        cal = calendar_of(session, ticket.tenant_id)
    state.policy_id = policy.id if policy else None
    spans = _spans(pauses)
    changed: list[datetime] = []
    for clock, start in running.items():
        target = getattr(policy, _TARGET[clock]) if policy else None
        warning = None if target is None or policy is None else target * policy.warning_fraction
        for holder, attr, seconds in ((state, _WARN[clock], warning), (ticket, _DUE[clock], target)):
            old = getattr(holder, attr)
            if old is not None and old <= crossed_until:
                continue
            new = None if seconds is None else _due(start, seconds, spans, cal, default=old)
            if new != old:
                setattr(holder, attr, new)
                if new is not None:
                    changed.append(new)
    _schedule(ticket, state, now, previous_next, changed, _open(pauses))


def _due(start: datetime, seconds: float, pauses: list[tuple[datetime, datetime | None]], cal: Calendar,
         default: datetime | None) -> datetime | None:
    try:
        due = due_with_pauses(start, seconds, pauses, cal)
    except ValueError:  # a calendar with no open hours at all: no due time exists
        log.warning("no SLA due time under this calendar (start %s, %s s)", start.isoformat(), seconds)
        return None
    return default if due is None else due  # None: paused past this instant, which is not known until resume


def _schedule(ticket: Ticket, state: TicketSla, now: datetime, previous_next: datetime | None,
              changed: list[datetime], pause: SlaPause | None) -> None:
    """Set `next_check_at`: the earliest instant the check still has to handle.

    Every instant before the previous `next_check_at` was handled already; one from there up to the cutoff (now,
    or the start of the running pause) was not, nor one that a recomputation just moved into the past. While
    paused nothing new can come due, so only that overdue work is kept.
    """
    cutoff = pause.started_at if pause else now
    live = [x for _c, _k, x in instants(ticket, state)]
    pending = [x for x in changed if x <= cutoff]
    if previous_next is not None:
        pending += [x for x in live if previous_next <= x <= cutoff]
    if pause is None:
        pending += [x for x in live if x > cutoff]
    state.next_check_at = min(pending, default=None)


def _pause(session: Session, ticket: Ticket, now: datetime) -> tuple[SlaPause | None, list[SlaPause]]:
    """Open or close the ticket's pause to match its status; returns the pause that was open before, if any, and
    the ticket's pauses as they are now."""
    pauses = _pauses(session, ticket.id)
    pause = _open(pauses)
    waiting = ticket.status == TicketStatus.PENDING
    if waiting and pause is None:
        pauses.append(SlaPause(tenant_id=ticket.tenant_id, ticket_id=ticket.id, started_at=now))
        session.add(pauses[-1])
        session.flush()
    elif not waiting and pause is not None:
        pause.ended_at = max(now, pause.started_at)
        session.flush()
    return pause, pauses


def refresh(session: Session, ticket: Ticket, now: datetime) -> None:
    """The ticket's queue, priority or status changed: pause or resume its clocks, re-select its policy and
    recompute its due times. Call it wherever a ticket is routed, moved, or enters or leaves `pending`."""
    state = _begin(session, ticket)
    was_paused, pauses = _pause(session, ticket, now)
    if ticket.status == TicketStatus.RESOLVED:
        state.next_check_at = None
        return
    _recompute(session, ticket, state, now, was_paused.started_at if was_paused else now, pauses)


def customer_wrote(session: Session, ticket: Ticket, how: str, now: datetime, resumed: bool = False,
                   routed: bool = False) -> None:
    """A customer message was stored on the ticket (`how`: "new", "open" or "reopened", as triage found it;
    `resumed`: the message took the ticket out of `pending`; `routed`: it gave the ticket a queue, so another
    policy may apply). The caller holds the ticket's row lock. Triage's one SLA call per message.

    A new ticket starts its clocks; a waiting one resumes; a reopened one restarts its resolution clock; once the
    ticket has had its first response, the first unanswered message starts the next-response clock. Any other
    message (most of them: the customer writes again while the clocks run) changes no clock, so nothing is
    recomputed, and before the first response nothing is even read.
    """
    quiet = how == "open" and not resumed and not routed and ticket.status != TicketStatus.PENDING
    if quiet and ticket.first_response_at is None:
        return
    state = _begin(session, ticket, locked=True, new=how == "new")
    starts_next = ticket.first_response_at is not None and state.next_response_started_at is None
    if quiet and not starts_next:
        return
    # A ticket inserted by this transaction has no pauses, and is not waiting: nothing to read or change.
    was_paused, pauses = (None, []) if how == "new" else _pause(session, ticket, now)
    crossed_until = was_paused.started_at if was_paused else now
    if how == "reopened":
        _restart(ticket, state, SlaClock.RESOLUTION)
        state.resolution_seconds = None
    if starts_next:
        _restart(ticket, state, SlaClock.NEXT_RESPONSE)
        state.next_response_started_at = now
    _recompute(session, ticket, state, now, crossed_until, pauses)
    if starts_next and ticket.next_response_due_at is not None:
        state.next_response_clocks = (state.next_response_clocks or 0) + 1


def agent_replied(session: Session, ticket: Ticket, now: datetime) -> None:
    """An agent replied: the first response (if this is it) and any running next response are satisfied."""
    state = _begin(session, ticket)
    pauses = _pauses(session, ticket.id)
    pause = _open(pauses)
    crossed_until = pause.started_at if pause else now
    if ticket.first_response_at is not None and state.first_response_seconds is None:
        cal = calendar_of(session, ticket.tenant_id)
        first = elapsed_with_pauses(ticket.created_at, ticket.first_response_at, _spans(pauses), cal)
        state.first_response_seconds = first
        after_commit(session, lambda: FIRST_RESPONSE_SECONDS.observe(first))
        _settle(session, ticket, state, SlaClock.FIRST_RESPONSE, crossed_until, now)
    if state.next_response_started_at is not None:
        _settle(session, ticket, state, SlaClock.NEXT_RESPONSE, crossed_until, now)
        _restart(ticket, state, SlaClock.NEXT_RESPONSE)
        state.next_response_started_at = None
    _schedule(ticket, state, now, state.next_check_at, [], pause)


def resolved(session: Session, ticket: Ticket, now: datetime) -> None:
    """The ticket was resolved: every clock stops; a due time already passed is recorded as breached."""
    state = _begin(session, ticket)
    was_paused, pauses = _pause(session, ticket, now)
    crossed_until = was_paused.started_at if was_paused else now
    start = ticket.reopened_at or ticket.created_at
    handling = elapsed_with_pauses(start, ticket.resolved_at or now, _spans(pauses),
                                   calendar_of(session, ticket.tenant_id))
    state.resolution_seconds = handling
    after_commit(session, lambda: HANDLING_SECONDS.observe(handling))
    clocks = [SlaClock.RESOLUTION]
    if ticket.first_response_at is None:
        clocks.append(SlaClock.FIRST_RESPONSE)
    if state.next_response_started_at is not None:
        clocks.append(SlaClock.NEXT_RESPONSE)
    for clock in clocks:
        _settle(session, ticket, state, clock, crossed_until, now)
    state.next_check_at = None


def reopened(session: Session, ticket: Ticket, now: datetime) -> None:
    """A resolved ticket was reopened by hand: its resolution clock starts again from the reopening."""
    state = _begin(session, ticket)
    _was, pauses = _pause(session, ticket, now)
    _restart(ticket, state, SlaClock.RESOLUTION)
    state.resolution_seconds = None
    _recompute(session, ticket, state, now, now, pauses)


def _restart(ticket: Ticket, state: TicketSla, clock: SlaClock) -> None:
    setattr(ticket, _DUE[clock], None)
    setattr(state, _WARN[clock], None)


def _settle(session: Session, ticket: Ticket, state: TicketSla, clock: SlaClock, crossed_until: datetime,
            now: datetime) -> None:
    """A clock stops: if its due time had passed, that breach is recorded (once) even if no check saw it yet."""
    due = getattr(ticket, _DUE[clock])
    if due is not None and due <= crossed_until:
        notify(session, ticket, state, clock, NoticeKind.BREACH, due, now)


def notify(session: Session, ticket: Ticket, state: TicketSla, clock: SlaClock, kind: NoticeKind, at: datetime,
           now: datetime) -> bool:
    """Record and emit one warning or breach, unless it already was: the unique key decides, in this transaction.

    Returns whether this call emitted it.
    """
    due = getattr(ticket, _DUE[clock]) or at
    notice_id = insert_or_ignore(session, SlaNotice, {
        "tenant_id": ticket.tenant_id, "ticket_id": ticket.id, "clock": clock.value, "kind": kind.value,
        "threshold_at": at, "due_at": due, "policy_id": state.policy_id, "created_at": now,
    }, conflict=["ticket_id", "clock", "kind", "threshold_at"])
    if notice_id is None:
        return False
    rooms = [realtime.supervisors_room(ticket.tenant_id)]
    if ticket.agent_id is not None:
        rooms.append(realtime.agent_room(ticket.tenant_id, ticket.agent_id))
    realtime.emit(session, ticket.tenant_id, _EVENT[kind], {
        "notice_id": notice_id, "ticket_id": ticket.id, "clock": clock.value, "due_at": due.isoformat(),
        "threshold_at": at.isoformat(), "policy_id": state.policy_id, "queue_id": ticket.queue_id,
        "agent_id": ticket.agent_id, "priority": ticket.priority,
    }, rooms)
    if kind == NoticeKind.BREACH:
        queue = str(ticket.queue_id) if ticket.queue_id is not None else "none"
        after_commit(session, lambda: BREACHES.labels(queue=queue).inc())
    return True


# --- policies --------------------------------------------------------------------------------------------------

def save_policy(session: Session, actor: User, fields: dict[str, Any], now: datetime,
                policy_id: int | None = None) -> SlaPolicy:
    """Create or change a policy of the actor's tenant. Applies to tickets from their next SLA event on: routing,
    a move, a status change, a reply, or a customer message that starts or resumes a clock."""
    policy: SlaPolicy | None
    if policy_id is None:
        policy = SlaPolicy(tenant_id=actor.tenant_id, name=fields.get("name") or "SLA", warning_fraction=0.8,
                           escalate_priority=True, created_at=now)
    else:
        policy = session.scalars(select(SlaPolicy).where(SlaPolicy.id == policy_id,
                                                         SlaPolicy.tenant_id == actor.tenant_id)
                                 .with_for_update()).one_or_none()
        if policy is None:
            raise NotFound("policy not found")
    unknown = sorted(set(fields) - set(POLICY_FIELDS))
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    for key in ("first_response_seconds", "next_response_seconds", "resolution_seconds"):
        if fields.get(key) is not None and fields[key] <= 0:
            raise Invalid("targets are positive seconds (or null: no target)", field=key)
    if "warning_fraction" in fields and not 0 < fields["warning_fraction"] <= 1:
        raise Invalid("warning_fraction must be in (0, 1]", field="warning_fraction")
    for key in ("queue_id", "escalate_queue_id"):
        if fields.get(key) is not None and session.scalar(
                select(Queue.id).where(Queue.id == fields[key], Queue.tenant_id == actor.tenant_id)) is None:
            raise NotFound("queue not found", field=key)
    if fields.get("escalate_agent_id") is not None and session.scalar(
            select(User.id).where(User.id == fields["escalate_agent_id"], User.tenant_id == actor.tenant_id)) is None:
        raise NotFound("agent not found", field="escalate_agent_id")
    for key, value in fields.items():
        setattr(policy, key, value)
    with session.no_autoflush:  # a changed row must not be written before the clash is looked for
        clash = session.scalar(select(SlaPolicy.id).where(
            SlaPolicy.tenant_id == actor.tenant_id, SlaPolicy.id != (policy_id or 0),
            SlaPolicy.queue_id.is_(None) if policy.queue_id is None else SlaPolicy.queue_id == policy.queue_id,
            SlaPolicy.priority.is_(None) if policy.priority is None else SlaPolicy.priority == policy.priority))
    if clash is not None:
        raise Conflict("a policy for this queue and priority exists", policy_id=clash)
    policy.updated_at = now
    session.add(policy)
    session.flush()
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action="sla.policy_saved",
                           entity="sla_policy", entity_id=policy.id, data=dict(fields), created_at=now))
    return policy
