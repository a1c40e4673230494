"""Report facts written at the moments that define them (the table: models/reports.py).

The services call one of these per event, under the ticket's row lock (triage, a reply, resolve and reopen all
hold it), so two events of one ticket never interleave here:

- `routed`: triage routes a new or reopened ticket out of the bot, or an agent reopens one: a cycle opens
  (its resolution span from the opening, its first-response wait from now). 2-3 statements, once per cycle.
- `customer_wrote`: every customer message: one INSERT ... SELECT ... ON CONFLICT DO NOTHING that opens a
  next-response wait when the cycle's first response was made and no wait is open. It is the only statement a
  continuing message gains; the common case (a wait already open) inserts nothing.
- `agent_replied`: a human reply ends the open wait (one SELECT, one UPDATE at flush).
- `resolved`: the resolution span ends; a wait still open ends unanswered (one SELECT, the UPDATEs at flush).

Wall seconds are real elapsed time; business seconds are the same span under the tenant's business-hours
calendar (models/rules/sla.py, DST-aware; 24x7 without one). Time waiting on the customer (pending, snoozed)
counts in both: these figures are what the customer lived, unlike the SLA clocks, which stand still then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, func, select, text
from sqlalchemy.orm import Session

from models.base import UTCDateTime
from models.reports import CYCLE_OPEN, FactKind, ResponseFact
from models.rules.sla import business_seconds
from models.services.sla import calendar_of
from models.tickets import Ticket

# The ON CONFLICT target is uq_response_facts_open_wait (its predicate is models.reports.WAIT_OPEN).
_OPEN_NEXT_WAIT = text("""
INSERT INTO response_facts (tenant_id, ticket_id, cycle, kind, started_at, channel_id, queue_id)
SELECT c.tenant_id, c.ticket_id, c.cycle, 'next_response', :now, c.channel_id, c.queue_id
FROM response_facts c
WHERE c.ticket_id = :ticket_id AND c.ended_at IS NULL AND c.kind = 'resolution'
  AND EXISTS (SELECT 1 FROM response_facts f WHERE f.ticket_id = c.ticket_id AND f.cycle = c.cycle
              AND f.kind = 'first_response' AND f.wall_seconds IS NOT NULL)
ON CONFLICT (ticket_id) WHERE ended_at IS NULL AND kind <> 'resolution' DO NOTHING
""").bindparams(bindparam("now", type_=UTCDateTime()))


def routed(session: Session, ticket: Ticket, now: datetime, first_cycle: bool = False) -> None:
    """The ticket leaves the bot for people (new or reopened): its cycle opens, unless one is open already.
    `first_cycle`: the caller created the ticket in this transaction, so it has no facts to look at."""
    last, open_cycles = (None, 0) if first_cycle else session.execute(
        select(func.max(ResponseFact.cycle),
               func.sum(case((text(CYCLE_OPEN), 1), else_=0)))
        .where(ResponseFact.ticket_id == ticket.id, ResponseFact.kind != FactKind.NEXT_RESPONSE)).one()
    if open_cycles:
        return
    cycle = (last or 0) + 1
    common = {"tenant_id": ticket.tenant_id, "ticket_id": ticket.id, "cycle": cycle,
              "channel_id": ticket.channel_id, "queue_id": ticket.queue_id}
    session.add_all([
        ResponseFact(kind=FactKind.RESOLUTION, started_at=ticket.reopened_at or ticket.created_at, **common),
        ResponseFact(kind=FactKind.FIRST_RESPONSE, started_at=now, **common),
    ])
    session.flush()


def customer_wrote(session: Session, ticket: Ticket, now: datetime) -> None:
    """A customer message: the first one after an agent's reply opens a next-response wait (one statement)."""
    session.execute(_OPEN_NEXT_WAIT, {"now": now, "ticket_id": ticket.id})


def _open(session: Session, ticket: Ticket) -> list[ResponseFact]:
    return list(session.scalars(select(ResponseFact).where(ResponseFact.ticket_id == ticket.id,
                                                           ResponseFact.ended_at.is_(None))))


def _end(session: Session, fact: ResponseFact, ticket: Ticket, agent_id: int | None, now: datetime,
         measured: bool = True) -> None:
    fact.ended_at = max(now, fact.started_at)
    fact.agent_id, fact.queue_id, fact.channel_id = agent_id, ticket.queue_id, ticket.channel_id
    if measured:
        fact.wall_seconds = (fact.ended_at - fact.started_at).total_seconds()
        fact.business_seconds = business_seconds(fact.started_at, fact.ended_at,
                                                 calendar_of(session, ticket.tenant_id))


def agent_replied(session: Session, ticket: Ticket, agent_id: int, now: datetime) -> None:
    """A human reply: the open first- or next-response wait ends, measured, credited to the replier."""
    for fact in _open(session, ticket):
        if fact.kind != FactKind.RESOLUTION:
            _end(session, fact, ticket, agent_id, now)


def resolved(session: Session, ticket: Ticket, now: datetime) -> None:
    """Resolve: the cycle's resolution is measured (credited to the ticket's agent); an open wait ends
    unanswered."""
    for fact in _open(session, ticket):
        _end(session, fact, ticket, ticket.agent_id, now, measured=fact.kind == FactKind.RESOLUTION)
