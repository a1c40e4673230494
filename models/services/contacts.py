"""Contacts: who a sender is (for triage), the profile agents read and edit, and every ticket of a contact.

A contact has any number of phones and emails (`contact_identities`, unique per tenant); `contacts.phone` and
`contacts.email` keep the primary ones, which tickets show. A merged contact is a tombstone pointing at the
contact it went into (models/services/merge.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, Text, and_, bindparam, exists, literal, literal_column, or_, select
from sqlalchemy import cast as cast_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.contacts import ContactIdentity, IdentityKind
from models.errors import Conflict, Invalid, NotFound
from models.events import AuditEntry
from models.infra.db import ignoring_insert, insert_or_ignore, insert_or_ignore_row
from models.infra.prepared import prepared
from models.org import User
from models.rules import contacts as rules
from models.services import pagination
from models.tickets import OPEN_STATUSES, Contact, Ticket

MAX_TOMBSTONE_HOPS = 32  # merges of merges; a longer chain means a cycle, which a merge never makes


def _lock(session: Session, contact_id: int) -> Contact:
    # FOR NO KEY UPDATE, as triage always took it: it serialises one customer's messages, and still lets
    # tickets be inserted pointing at the row. populate_existing: a merge may have changed it while we waited.
    return session.scalars(select(Contact).where(Contact.id == contact_id).with_for_update(key_share=True)
                           .execution_options(populate_existing=True)).one()


def live(session: Session, contact: Contact) -> Contact:
    """Follow merge tombstones to the contact that now holds them, locking each (triage's lock)."""
    for _ in range(MAX_TOMBSTONE_HOPS):
        if contact.merged_into_id is None:
            return contact
        contact = _lock(session, contact.merged_into_id)
    raise RuntimeError(f"contact {contact.id}: merge chain longer than {MAX_TOMBSTONE_HOPS}")


@cache
def _by_identity() -> Any:
    """Built once (triage's hot path: building it per message cost about as much CPU as running it)."""
    return (select(Contact).join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(ContactIdentity.tenant_id == bindparam("tenant_id"), ContactIdentity.kind == bindparam("kind"),
                   ContactIdentity.value == bindparam("value"))
            .with_for_update(of=Contact, key_share=True).execution_options(populate_existing=True))


def ticket_version() -> Any:
    """The version PostgreSQL gives every row of `tickets` (xmin: the transaction that wrote it), as text: xid
    has no comparison with a bound integer beyond int4, and a version compared later must survive the trip."""
    return cast_(literal_column("tickets.xmin"), Text)


@cache
def _by_identity_with_ticket() -> Any:
    """As `_by_identity`, with the contact's open ticket on a channel and its row version, read but not locked
    (PostgreSQL cannot lock the nullable side of an outer join): a write to it must check the version."""
    query = (select(Contact, Ticket, ticket_version().label("ticket_version"))
             .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
             .outerjoin(Ticket, and_(Ticket.contact_id == Contact.id, Ticket.channel_id == bindparam("channel_id"),
                                     Ticket.status.in_(OPEN_STATUSES)))
             .where(ContactIdentity.tenant_id == bindparam("tenant_id"), ContactIdentity.kind == bindparam("kind"),
                    ContactIdentity.value == bindparam("value"))
             .with_for_update(of=Contact, key_share=True).execution_options(populate_existing=True))
    return prepared(query)  # models.infra.prepared: planned in 2.6 times the time it took to run


@dataclass(frozen=True)
class Sender:
    """Who sent an inbound message: the contact (locked), whether this transaction created it, and, when asked
    for, the contact's open ticket on the channel as read with it (`checked`: None there means none is open)."""

    contact: Contact
    created: bool
    checked: bool = False
    open_ticket: Ticket | None = None
    ticket_version: str | None = None  # the version of open_ticket as read (ticket_version())


@cache
def _first_contact(kind: IdentityKind) -> Any:
    """A new sender's contact and its identity, in one statement (PostgreSQL): the INSERT into contacts is a CTE the
    identity's INSERT reads. Nothing is written when a contact without identities already holds the address (a row
    from before identities, or written by hand), or when another transaction's insert of it wins the unique key."""
    contacts, identities = cast(Table, Contact.__table__), cast(Table, ContactIdentity.__table__)
    mapped = tuple(Contact.__mapper__.columns)
    written = ("tenant_id", kind.value, "name", "attributes", "created_at")
    held = select(contacts.c.id).where(contacts.c.tenant_id == bindparam("tenant_id"),
                                       contacts.c[kind.value] == bindparam("value"),
                                       contacts.c.merged_into_id.is_(None))
    values = select(*(bindparam("value" if c == kind.value else c, type_=contacts.c[c].type) for c in written)
                    ).where(~exists(held))
    new = (ignoring_insert(contacts, ("tenant_id", kind.value), "postgresql").from_select(written, values)
           .returning(*mapped).cte("new_contact"))
    identity = (ignoring_insert(identities, ("tenant_id", "kind", "value"), "postgresql")
                .from_select(("tenant_id", "contact_id", "kind", "value", "created_at"),
                             select(new.c.tenant_id, new.c.id, literal(kind.value, identities.c.kind.type),
                                    new.c[kind.value], new.c.created_at))
                .cte("new_identity"))
    return select(Contact).from_statement(select(*(new.c[c.key] for c in mapped)).add_cte(identity))


def contact_for_sender(session: Session, tenant_id: int, kind: IdentityKind, value: str, name: str | None,
                       now: datetime, open_on: int | None = None) -> Sender:
    """The contact an inbound message's sender is, locked for the rest of the transaction, and whether this call
    created it (first contact: it has no tickets yet, which spares triage their lookups). With `open_on` (a
    channel id, PostgreSQL only) the same statement reads the contact's open ticket on that channel, unlocked.

    The lock serialises everything one customer sends (two messages processed at once cannot open two
    tickets) and orders triage against a merge of this contact: a message that raced a merge follows the
    tombstone and lands on the surviving contact. Known senders cost one statement, new ones two on PostgreSQL.
    """
    column = getattr(Contact, kind.value)
    for _ in range(3):
        found = _known(session, tenant_id, kind, value, open_on)
        if found is not None:
            contact = live(session, found.contact)
            if contact.erased_at is None:
                return found if contact is found.contact else Sender(contact, False)
            continue  # erased while we waited for its lock: its identities are gone, the sender is new again
        if session.get_bind().dialect.name == "postgresql":
            created = session.scalars(_first_contact(kind), {"tenant_id": tenant_id, "value": value, "name": name,
                                                             "attributes": {}, "created_at": now}).one_or_none()
            if created is not None:
                return Sender(created, True)
            # Nothing written: a row without an identity holds the address (adopted below), or another first
            # message of this sender won the insert (then found below, or by its identity next turn).
        # Rows written before identities existed, or by hand, have only the column: adopt them.
        contact_id = session.scalar(select(Contact.id).where(Contact.tenant_id == tenant_id, column == value,
                                                             Contact.merged_into_id.is_(None)))
        if contact_id is None:
            # The unique (tenant, phone|email) constraint decides between two first messages at once: the
            # loser waits for the winner's commit, inserts nothing, and finds the winner's identity next turn.
            # The winner's row is invisible to others until it commits, so it needs no lock of its own.
            inserted = insert_or_ignore_row(session, Contact, {"tenant_id": tenant_id, kind.value: value,
                                                               "name": name, "attributes": {}, "created_at": now},
                                            conflict=["tenant_id", kind.value])
            if inserted is None:
                continue
            contact, created = inserted, True
        else:
            contact, created = live(session, _lock(session, contact_id)), False
        insert_or_ignore(session, ContactIdentity, {"tenant_id": tenant_id, "contact_id": contact.id,
                                                    "kind": kind.value, "value": value, "created_at": now},
                         conflict=["tenant_id", "kind", "value"])
        return Sender(contact, created)
    raise RuntimeError(f"no contact for {kind.value} after three tries")  # pragma: no cover - needs a pathology


def _known(session: Session, tenant_id: int, kind: IdentityKind, value: str, open_on: int | None) -> Sender | None:
    params: dict[str, Any] = {"tenant_id": tenant_id, "kind": kind, "value": value}
    if open_on is None:
        contact = session.scalars(_by_identity(), params).one_or_none()
        return None if contact is None else Sender(contact, False)
    row = session.execute(_by_identity_with_ticket(), {**params, "channel_id": open_on}).one_or_none()
    return None if row is None else Sender(row.Contact, False, True, row.Ticket, row.ticket_version)


def get_contact(session: Session, user: User, contact_id: int, lock: bool = False) -> Contact:
    """A contact of the user's tenant; another tenant's id is NotFound, like one that does not exist."""
    query = select(Contact).where(Contact.id == contact_id, Contact.tenant_id == user.tenant_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    contact = session.scalars(query).one_or_none()
    if contact is None:
        raise NotFound("contact not found")
    return contact


def profiles(session: Session, contacts: list[Contact]) -> list[dict[str, Any]]:
    """Contacts with their phones and emails (primary first), in one query for the whole page."""
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"phone": [], "email": []})
    if contacts:
        rows = session.execute(select(ContactIdentity.contact_id, ContactIdentity.kind, ContactIdentity.value)
                               .where(ContactIdentity.contact_id.in_([c.id for c in contacts]))
                               .order_by(ContactIdentity.id))
        for contact_id, kind, value in rows:
            found[contact_id][kind.value].append(value)
    out = []
    for contact in contacts:
        ids = found[contact.id]
        out.append({
            "id": contact.id, "name": contact.name, "phone": contact.phone, "email": contact.email,
            "phones": _primary_first(ids["phone"], contact.phone),
            "emails": _primary_first(ids["email"], contact.email),
            "attributes": contact.attributes or {}, "notes": contact.notes, "merged_into_id": contact.merged_into_id,
            "merged_at": contact.merged_at, "erased_at": contact.erased_at, "created_at": contact.created_at,
            "updated_at": contact.updated_at,
        })
    return out


def _primary_first(values: list[str], primary: str | None) -> list[str]:
    return sorted(values, key=lambda v: v != primary)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_contacts(session: Session, user: User, search: str | None = None, cursor: str | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Live contacts newest first; `search` matches a name's word prefix, phone digits or an email prefix."""
    query = select(Contact).where(Contact.tenant_id == user.tenant_id, Contact.merged_into_id.is_(None))
    if search and search.strip():
        term = _like_escape(search.strip().lower())
        conds: list[Any] = [Contact.name.ilike(f"{term}%", escape="\\"), Contact.name.ilike(f"% {term}%", escape="\\")]
        identity = select(ContactIdentity.id).where(ContactIdentity.contact_id == Contact.id)
        conds.append(exists(identity.where(ContactIdentity.kind == IdentityKind.EMAIL,
                                           ContactIdentity.value.like(f"{term}%", escape="\\"))))
        digits = "".join(c for c in search if c.isdigit())
        if len(digits) >= 3 and len(digits) * 2 >= len(search.strip().replace(" ", "")):
            # Numbers are typed without the country code ("11 98765..."): a contained run, which the
            # trigram index serves.
            conds.append(exists(identity.where(ContactIdentity.kind == IdentityKind.PHONE,
                                               ContactIdentity.value.like(f"%{digits}%"))))
        query = query.where(or_(*conds))
    rows, next_cursor = pagination.split(list(session.scalars(pagination.page(query, Contact, cursor, limit))), limit)
    return profiles(session, rows), next_cursor


def contact_tickets(session: Session, user: User, contact_id: int, cursor: str | None = None,
                    limit: int = 50) -> tuple[list[Ticket], str | None]:
    """Every ticket of the contact, on every channel, newest first."""
    contact = get_contact(session, user, contact_id)
    query = select(Ticket).where(Ticket.tenant_id == user.tenant_id, Ticket.contact_id == contact.id)
    return pagination.split(list(session.scalars(pagination.page(query, Ticket, cursor, limit))), limit)


def update_contact(session: Session, user: User, contact_id: int, changes: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    """Edit a contact's name, notes, attributes (merge patch), phones or emails (each list replaces the old).

    The first phone and email become the primary ones. An address another contact holds is a Conflict
    naming that contact: merge them instead. Audited with the old and new values.
    """
    contact = get_contact(session, user, contact_id, lock=True)
    if contact.merged_into_id is not None:
        raise Conflict("contact was merged into another; edit that one", contact_id=contact.merged_into_id)
    if contact.erased_at is not None:
        raise Conflict("contact was erased")
    before = profiles(session, [contact])[0]
    if "attributes" in changes:
        contact.attributes = _checked("attributes", rules.patched_attributes, contact.attributes or {},
                                      changes["attributes"])
    lists = {kind: _checked(field, rules.canonical_list, changes[field], canon, field)
             for kind, field, canon in ((IdentityKind.PHONE, "phones", rules.canonical_phone),
                                        (IdentityKind.EMAIL, "emails", rules.canonical_email))
             if field in changes}
    if "name" in changes:
        contact.name = (changes["name"] or "").strip() or None
    if "notes" in changes:
        contact.notes = changes["notes"] or None
    for kind, values in lists.items():
        _replace_identities(session, contact, kind, values, now)
    contact.updated_at = now
    after = profiles(session, [contact])[0]
    diff = {k: [before[k], after[k]] for k in ("name", "phones", "emails", "attributes", "notes")
            if before[k] != after[k]}
    if diff:
        session.add(AuditEntry(tenant_id=contact.tenant_id, actor_id=user.id, action="contact.updated",
                               entity="contact", entity_id=contact.id, data={"changes": diff}, created_at=now))
    return after


def _checked(field: str, rule: Any, *args: Any) -> Any:
    try:
        return rule(*args)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from exc


def _replace_identities(session: Session, contact: Contact, kind: IdentityKind, values: list[str],
                        now: datetime) -> None:
    held = session.execute(select(ContactIdentity.value, ContactIdentity.contact_id).where(
        ContactIdentity.tenant_id == contact.tenant_id, ContactIdentity.kind == kind,
        ContactIdentity.value.in_(values), ContactIdentity.contact_id != contact.id)).first()
    if held is not None:
        raise Conflict(f"{held.value} belongs to another contact: merge the two instead",
                       field=f"{kind.value}s", contact_id=held.contact_id)
    mine = {i.value: i for i in session.scalars(select(ContactIdentity).where(
        ContactIdentity.contact_id == contact.id, ContactIdentity.kind == kind))}
    for value, identity in mine.items():
        if value not in values:
            session.delete(identity)
    # Clear the primary before the flush that may give it to another row of ours (unique per tenant).
    setattr(contact, kind.value, None)
    session.flush()
    try:
        with session.begin_nested():  # another edit or a first message may take the address meanwhile
            for value in values:
                if value not in mine:
                    session.add(ContactIdentity(tenant_id=contact.tenant_id, contact_id=contact.id, kind=kind,
                                                value=value, created_at=now))
            setattr(contact, kind.value, values[0] if values else None)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"one of these {kind.value}s was just taken by another contact", field=f"{kind.value}s") \
            from exc
