"""Merging two contacts that are one person (the phone contact and the email contact): exactly once, under
concurrent merges and new messages.

Both contact rows are locked FOR UPDATE in id order, so two merges of the same pair (A<-B and B<-A) queue
behind one another instead of deadlocking; the second finds a tombstone and is refused. Triage locks the
contact row too (FOR NO KEY UPDATE, which FOR UPDATE excludes), so a message is either processed before
the merge (its ticket then moves with the others) or after it (it follows the tombstone to the target).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, PrimaryKeyConstraint, Table, UniqueConstraint, exists, select, update
from sqlalchemy.orm import Session

from models.base import Base
from models.contacts import ContactIdentity
from models.errors import Conflict, DomainError, NotFound
from models.events import AuditEntry
from models.infra import realtime
from models.infra.db import rowcount
from models.org import User
from models.rules.contacts import merged_attributes, merged_notes
from models.services import tickets as ticket_moves
from models.services.payloads import ticket_audience, ticket_summary
from models.tickets import OPEN_STATUSES, Contact, Ticket

_MOVED_HERE = {"tickets", "contact_identities", "contacts"}


class MergeIntoSelf(DomainError):
    code = "merge_into_self"  # answered 400: there is nothing to find or to conflict with


def merge_contacts(session: Session, actor: User, target_id: int, source_id: int, now: datetime) -> Contact:
    """Move the source contact's tickets, identities and other rows to the target; the source becomes a
    tombstone (`merged_into_id`). Returns the target."""
    if target_id == source_id:
        raise MergeIntoSelf("a contact cannot be merged into itself", field="from_contact_id")
    locked = {}
    for contact_id in sorted((target_id, source_id)):  # id order: every merge takes the locks the same way
        contact = session.scalars(select(Contact).where(Contact.id == contact_id,
                                                        Contact.tenant_id == actor.tenant_id)
                                  .with_for_update().execution_options(populate_existing=True)).one_or_none()
        if contact is None:
            raise NotFound("contact not found", contact_id=contact_id)
        locked[contact_id] = contact
    target, source = locked[target_id], locked[source_id]
    for contact in (source, target):
        if contact.merged_into_id is not None:
            raise Conflict(f"contact {contact.id} was already merged into {contact.merged_into_id}",
                           contact_id=contact.id, merged_into_id=contact.merged_into_id)
    resolved = _resolve_duplicate_open_tickets(session, actor, target, source, now)
    moved = session.execute(update(Ticket).where(Ticket.contact_id == source.id)
                            .values(contact_id=target.id).returning(Ticket.id)).scalars().all()
    identities = session.execute(update(ContactIdentity).where(ContactIdentity.contact_id == source.id)
                                 .values(contact_id=target.id).returning(ContactIdentity.value)).scalars().all()
    others = {table.name: _move_rows(session, table, target.id, source.id) for table in _contact_tables()}
    phone, email = source.phone, source.email
    source.phone = source.email = None
    session.flush()  # the primaries are unique per tenant: free them before the target takes them
    target.phone, target.email = target.phone or phone, target.email or email
    target.name = target.name or source.name
    target.attributes = merged_attributes(target.attributes or {}, source.attributes or {})
    target.notes = merged_notes(target.notes, source.notes, source.id)
    target.updated_at = source.updated_at = now
    source.merged_into_id, source.merged_at = target.id, now
    data = {"from_contact_id": source.id, "into_contact_id": target.id, "tickets": sorted(moved),
            "identities": sorted(identities), "resolved_duplicates": resolved, "rows": others}
    for contact in (target, source):
        session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action="contact.merged",
                               entity="contact", entity_id=contact.id, data=data, created_at=now))
    session.flush()
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(moved), Ticket.status.in_(OPEN_STATUSES))):
        realtime.emit(session, actor.tenant_id, "ticket.updated", ticket_summary(ticket, target),
                      ticket_audience(ticket))
    return target


def _resolve_duplicate_open_tickets(session: Session, actor: User, target: Contact, source: Contact,
                                    now: datetime) -> list[int]:
    """At most one open ticket per contact and channel: where both have one, the source's is resolved (and
    audited as such) before it moves; its messages stay in the history."""
    theirs = select(Ticket).where(Ticket.contact_id == source.id, Ticket.status.in_(OPEN_STATUSES))
    resolved = []
    for ticket in list(session.scalars(theirs)):
        clash = exists().where(Ticket.contact_id == target.id, Ticket.channel_id == ticket.channel_id,
                               Ticket.status.in_(OPEN_STATUSES))
        if session.scalar(select(clash)):
            ticket_moves.resolve(session, actor, ticket.id, now)
            resolved.append(ticket.id)
    return resolved


def _contact_tables() -> list[Table]:
    """Tables other areas own that point at a contact (labels, ...): found from the metadata, so a new one
    moves with a merge the day it is added."""
    return [table for table in Base.metadata.sorted_tables if table.name not in _MOVED_HERE and any(
        fk.column.table.name == "contacts" for fk in table.foreign_keys)]


def _move_rows(session: Session, table: Table, target_id: int, source_id: int) -> int:
    """Re-point the source's rows; a row the target already has (same values under a unique key holding the
    contact, e.g. the same label twice) is dropped instead of breaking the key."""
    moved = 0
    for fk in [fk for fk in table.foreign_keys if fk.column.table.name == "contacts"]:
        col = fk.parent
        keys = [c for c in [*table.constraints, *table.indexes]
                if (isinstance(c, UniqueConstraint | PrimaryKeyConstraint) or (isinstance(c, Index) and c.unique))
                and col.name in c.columns and len(c.columns) > 1]
        for key in keys:
            rest = [c for c in key.columns if c is not col]
            twin = table.alias("twin")
            dup = exists().where(twin.c[col.name] == target_id, *[twin.c[c.name] == c for c in rest])
            session.execute(table.delete().where(col == source_id, dup))
        moved += rowcount(session.execute(table.update().where(col == source_id).values({col.name: target_id})))
    return moved
