"""Labels: the tenant's set (supervisors manage it), put on tickets and contacts by agents and by triage keywords.

Concurrency: every change to one ticket's (or contact's) labels first locks that row, so two agents labeling at
once run one after the other: a replace-the-set never works from a stale read (no lost update), and the
composite primary key with ON CONFLICT DO NOTHING keeps a label from being stored twice. Each change that
changes something writes one audit entry and one live event (`ticket.labels_changed` to the ticket's rooms,
`contact.labels_changed` to the supervisors and the rooms of the contact's open tickets).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.errors import Conflict, Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime
from models.infra.db import ignoring_insert
from models.labels import ContactLabel, Label, TicketLabel
from models.org import User
from models.services.payloads import ticket_audience
from models.tickets import OPEN_STATUSES, Contact, Ticket

log = logging.getLogger(__name__)

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class _Target:
    """What labels hang on: tickets or contacts."""

    entity: str
    model: Any
    link: Any
    key: str  # the link table's column naming the entity


TICKETS = _Target("ticket", Ticket, TicketLabel, "ticket_id")
CONTACTS = _Target("contact", Contact, ContactLabel, "contact_id")


def label_view(label: Label) -> dict[str, Any]:
    return {"id": label.id, "name": label.name, "color": label.color}


# --- the tenant's labels ---------------------------------------------------------------------------------------

def list_labels(session: Session, user: User) -> list[Label]:
    return list(session.scalars(select(Label).where(Label.tenant_id == user.tenant_id).order_by(Label.name)))


def _get_label(session: Session, user: User, label_id: int) -> Label:
    label = session.scalars(select(Label).where(Label.id == label_id, Label.tenant_id == user.tenant_id)
                            ).one_or_none()
    if label is None:
        raise NotFound("label not found", field="label_id")
    return label


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in changes:
        out["name"] = " ".join(changes["name"].split())
        if not out["name"]:
            raise Invalid("name must not be blank", field="name")
    if "color" in changes:
        if not COLOR.match(changes["color"]):
            raise Invalid("color must be #rrggbb", field="color")
        out["color"] = changes["color"].lower()
    return out


def save_label(session: Session, actor: User, changes: dict[str, Any], now: datetime,
               label_id: int | None = None) -> Label:
    """Create a label (`label_id` None) or rename / recolour one; names are unique in the tenant, any case."""
    values = _clean(changes)
    label = Label(tenant_id=actor.tenant_id, created_at=now) if label_id is None else \
        _get_label(session, actor, label_id)
    if "name" in values:
        clash = session.scalar(select(Label.id).where(Label.tenant_id == actor.tenant_id,
                                                      func.lower(Label.name) == values["name"].lower(),
                                                      Label.id != (label_id or 0)))
        if clash is not None:
            raise Conflict(f"a label named {values['name']!r} exists", field="name", label_id=clash)
    for key, value in values.items():
        setattr(label, key, value)
    try:
        with session.begin_nested():  # two creates of one name at once: the unique constraint picks one
            session.add(label)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a label named {label.name!r} exists", field="name") from exc
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, entity="label", entity_id=label.id,
                           action="label.created" if label_id is None else "label.updated", data=values,
                           created_at=now))
    return label


def delete_label(session: Session, actor: User, label_id: int, now: datetime) -> None:
    """Remove a label from the tenant, and so from every ticket and contact (audited, not emitted per ticket)."""
    label = _get_label(session, actor, label_id)
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action="label.deleted", entity="label",
                           entity_id=label.id, data={"name": label.name}, created_at=now))
    session.delete(label)
    session.flush()


# --- labels on tickets and contacts ----------------------------------------------------------------------------

def _lock(session: Session, target: _Target, tenant_id: int, entity_id: int) -> Any:
    # Contacts are locked as triage locks them (FOR NO KEY UPDATE), tickets FOR UPDATE, as every ticket change.
    row = session.scalars(select(target.model).where(target.model.id == entity_id,
                                                     target.model.tenant_id == tenant_id)
                          .with_for_update(key_share=target is CONTACTS)).one_or_none()
    if row is None:
        raise NotFound(f"{target.entity} not found")
    return row


def _current(session: Session, target: _Target, entity_id: int) -> list[Label]:
    link = target.link
    return list(session.scalars(select(Label).join(link, link.label_id == Label.id)
                                .where(getattr(link, target.key) == entity_id).order_by(Label.name)))


def _labels_named(session: Session, tenant_id: int, ids: Iterable[int]) -> list[Label]:
    wanted = sorted(set(ids))
    found = list(session.scalars(select(Label).where(Label.tenant_id == tenant_id, Label.id.in_(wanted))))
    missing = sorted(set(wanted) - {label.id for label in found})
    if missing:
        raise NotFound(f"label {missing[0]} not found", field="label_ids", missing=missing)
    return found


def _insert_links(session: Session, target: _Target, row: Any, label_ids: Sequence[int], actor_id: int | None,
                  now: datetime) -> list[int]:
    """Insert the links not there yet; returns the label ids actually added."""
    if not label_ids:
        return []
    table = target.link.__table__
    stmt = ignoring_insert(table, (target.key, "label_id"), session.get_bind().dialect.name
                           ).returning(table.c.label_id)
    rows = [{"tenant_id": row.tenant_id, target.key: row.id, "label_id": label_id, "added_by": actor_id,
             "created_at": now} for label_id in label_ids]
    return sorted(session.execute(stmt, rows).scalars())


def _delete_links(session: Session, target: _Target, row: Any, label_ids: Sequence[int]) -> list[int]:
    if not label_ids:
        return []
    link = target.link
    stmt = delete(link).where(getattr(link, target.key) == row.id, link.label_id.in_(list(label_ids))) \
        .returning(link.label_id)
    return sorted(session.execute(stmt).scalars())


def _changed(session: Session, target: _Target, row: Any, actor_id: int | None, added: list[int],
             removed: list[int], now: datetime, via: str) -> list[Label]:
    """Audit and emit one change; returns the labels now on the row."""
    labels = _current(session, target, row.id)
    if not added and not removed:
        return labels
    session.add(AuditEntry(tenant_id=row.tenant_id, actor_id=actor_id, action=f"{target.entity}.labels_changed",
                           entity=target.entity, entity_id=row.id,
                           data={"added": added, "removed": removed, "via": via}, created_at=now))
    data = {f"{target.entity}_id": row.id, "labels": [label_view(x) for x in labels], "added": added,
            "removed": removed, "by": actor_id}
    if target is TICKETS:
        rooms = ticket_audience(row)
        set_committed_value(row, "labels", labels)
    else:
        rooms = [realtime.supervisors_room(row.tenant_id)]
        for ticket in session.scalars(select(Ticket).where(Ticket.contact_id == row.id,
                                                           Ticket.status.in_(OPEN_STATUSES))):
            rooms += ticket_audience(ticket)
    realtime.emit(session, row.tenant_id, f"{target.entity}.labels_changed", data, rooms)
    return labels


def labels_of(session: Session, actor: User, target: _Target, entity_id: int) -> list[Label]:
    row = session.scalars(select(target.model.id).where(target.model.id == entity_id,
                                                        target.model.tenant_id == actor.tenant_id)).one_or_none()
    if row is None:
        raise NotFound(f"{target.entity} not found")
    return _current(session, target, entity_id)


def add(session: Session, actor: User, target: _Target, entity_id: int, label_id: int, now: datetime
        ) -> list[Label]:
    """Put one label on a ticket or contact (already there: nothing changes, nothing is audited)."""
    row = _lock(session, target, actor.tenant_id, entity_id)
    _get_label(session, actor, label_id)
    added = _insert_links(session, target, row, [label_id], actor.id, now)
    return _changed(session, target, row, actor.id, added, [], now, "api")


def remove(session: Session, actor: User, target: _Target, entity_id: int, label_id: int, now: datetime
           ) -> list[Label]:
    """Take one label off (not there: nothing changes)."""
    row = _lock(session, target, actor.tenant_id, entity_id)
    _get_label(session, actor, label_id)
    removed = _delete_links(session, target, row, [label_id])
    return _changed(session, target, row, actor.id, [], removed, now, "api")


def replace(session: Session, actor: User, target: _Target, entity_id: int, label_ids: Sequence[int],
            now: datetime) -> list[Label]:
    """Make the row's labels exactly `label_ids`, computed under the row lock from what is stored now."""
    row = _lock(session, target, actor.tenant_id, entity_id)
    wanted = {label.id for label in _labels_named(session, actor.tenant_id, label_ids)}
    have = {label.id for label in _current(session, target, row.id)}
    removed = _delete_links(session, target, row, sorted(have - wanted))
    added = _insert_links(session, target, row, sorted(wanted - have), actor.id, now)
    return _changed(session, target, row, actor.id, added, removed, now, "api")


def add_by_triage(session: Session, ticket: Ticket, names: Sequence[str], now: datetime) -> list[int]:
    """Labels a triage keyword rule names, put on the ticket triage holds locked. Unknown names are logged and
    skipped (like a rule naming an unknown queue): a settings typo must not stop the customer's message."""
    folded = {name.casefold(): name for name in names}
    found = {label.name.casefold(): label.id for label in session.scalars(
        select(Label).where(Label.tenant_id == ticket.tenant_id, func.lower(Label.name).in_(list(folded))))}
    for key in sorted(set(folded) - set(found)):
        log.warning("triage keyword names unknown label %r in tenant %s", folded[key], ticket.tenant_id)
    added = _insert_links(session, TICKETS, ticket, sorted(set(found.values())), None, now)
    if added:
        _changed(session, TICKETS, ticket, None, added, [], now, "triage")
    return added


def preload(session: Session, tickets: Sequence[Ticket]) -> None:
    """Load the labels of a page of tickets in one query (instead of one per ticket when serialised)."""
    if not tickets:
        return
    by_ticket: dict[int, list[Label]] = {t.id: [] for t in tickets}
    rows = session.execute(select(TicketLabel.ticket_id, Label).join(Label, Label.id == TicketLabel.label_id)
                           .where(TicketLabel.ticket_id.in_(list(by_ticket))).order_by(Label.name))
    for ticket_id, label in rows:
        by_ticket[ticket_id].append(label)
    for ticket in tickets:
        set_committed_value(ticket, "labels", by_ticket[ticket.id])
