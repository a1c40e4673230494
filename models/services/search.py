"""Search: full-text over message bodies, and contacts by name, phone or email; tenant-scoped, ranked, filtered,
in keyset pages.

PostgreSQL ranks with `ts_rank` over the documents of models/search.py (GIN indexes); phones and emails match
by substring through the trigram index. SQLite, the embedded default, matches every word with LIKE and orders
newest first (every rank is 0).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Double, Select, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from models import search as documents
from models.contacts import ContactIdentity, IdentityKind
from models.errors import Invalid
from models.org import User
from models.services.contacts import profiles
from models.tickets import Contact, Message, Ticket, TicketStatus

_FOLD = str.maketrans(documents.ACCENTED, documents.PLAIN)
_WORD = re.compile(r"\w+")
SNIPPET = 160


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    queue_id: int | None = None
    agent_id: int | None = None
    channel_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def on_ticket(self) -> list[Any]:
        conds: list[Any] = []
        if self.status:
            conds.append(Ticket.status == TicketStatus(self.status))
        if self.queue_id is not None:
            conds.append(Ticket.queue_id == self.queue_id)
        if self.agent_id is not None:
            conds.append(Ticket.agent_id == self.agent_id)
        if self.channel_id is not None:
            conds.append(Ticket.channel_id == self.channel_id)
        return conds


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _encode(rank: float, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["r", rank, row_id]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, int]:
    try:
        tag, rank, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if tag != "r":
            raise ValueError(tag)
        return float(rank), int(row_id)
    except (ValueError, TypeError) as exc:
        raise Invalid("cursor is not one this search gave out", field="cursor") from exc


def _ranked_page(query: Select[Any], rank: Any, id_col: Any, cursor: str | None, limit: int) -> Select[Any]:
    """Best first, ties newest first; the cursor holds the last (rank, id). Ranks are float8 so the value
    round-trips exactly through JSON and compares equal on the next page. A constant rank orders by id alone."""
    constant = isinstance(rank, BindParameter)
    if cursor:
        last_rank, last_id = _decode(cursor)
        query = query.where(id_col < last_id if constant else
                            or_(rank < last_rank, and_(rank == last_rank, id_col < last_id)))
    order = (id_col.desc(),) if constant else (rank.desc(), id_col.desc())
    return query.order_by(*order).limit(limit + 1)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.translate(_FOLD).lower())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_messages(session: Session, user: User, q: str, filters: Filters, sort: str = "rank",
                    cursor: str | None = None, limit: int = 20) -> tuple[list[dict[str, Any]], str | None]:
    """Messages (customer's, agents', notes) whose body matches `q`, with their ticket and contact."""
    if not _words(q):
        raise Invalid("search for at least one word", field="q")
    query = (select(Message, Ticket, Contact.name)
             .join(Ticket, Ticket.id == Message.ticket_id).join(Contact, Contact.id == Ticket.contact_id)
             .where(Message.tenant_id == user.tenant_id, *filters.on_ticket()))
    if filters.since is not None:
        query = query.where(Message.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Message.created_at < filters.until)
    if _postgresql(session):
        tsquery = documents.query(q)
        query = query.where(documents.SEARCH_VECTOR.op("@@")(tsquery))
        rank: Any = cast(func.ts_rank(documents.SEARCH_VECTOR, tsquery), Double)
    else:
        query = query.where(*[Message.body.ilike(_like(word), escape="\\") for word in q.split() if word.strip()])
        rank = literal(0.0, Double)
    if sort == "recent":
        # Newest first by id (ids grow with arrival): the primary key scanned backwards stops after one page
        # even for a word in every tenth message, where sorting by created_at would sort every match.
        rank = literal(0.0, Double)
    rows = list(session.execute(_ranked_page(query.add_columns(rank.label("rank")), rank, Message.id, cursor,
                                             limit)))
    more, rows = len(rows) > limit, rows[:limit]
    words = _words(q)
    hits = [{"kind": "message", "rank": row.rank, "message_id": row.Message.id, "ticket_id": row.Ticket.id,
             "contact_id": row.Ticket.contact_id, "contact_name": row.name, "channel_id": row.Message.channel_id,
             "direction": row.Message.direction.value, "ticket_status": row.Ticket.status.value,
             "snippet": snippet(row.Message.body, words), "created_at": row.Message.created_at} for row in rows]
    return hits, (_encode(rows[-1].rank, rows[-1].Message.id) if more else None)


def search_contacts(session: Session, user: User, q: str, filters: Filters, cursor: str | None = None,
                    limit: int = 20) -> tuple[list[dict[str, Any]], str | None]:
    """Live contacts whose name has words starting as typed, or a phone or email containing it.

    The ticket filters keep contacts with at least one such ticket; the dates bound when the contact appeared.
    """
    words = _words(q)
    if not words:
        raise Invalid("search for at least one word", field="q")
    term = q.strip().lower()
    digits = "".join(c for c in q if c.isdigit())
    identity = select(ContactIdentity.id).where(ContactIdentity.contact_id == Contact.id)
    by_address = [ContactIdentity.kind == IdentityKind.EMAIL, ContactIdentity.value.like(_like(term), escape="\\")]
    matches_address = exists(identity.where(*by_address))
    if len(digits) >= 3:
        matches_address = or_(matches_address, exists(identity.where(
            ContactIdentity.kind == IdentityKind.PHONE, ContactIdentity.value.like(f"%{digits}%"))))
    if _postgresql(session):
        tsquery = documents.prefix_query(words)  # "mar silv" finds Maria Silva
        matches_name = documents.contact_document(Contact.name).op("@@")(tsquery)
        rank: Any = cast(case((matches_address, 1.0),
                              else_=func.ts_rank(documents.contact_document(Contact.name), tsquery)), Double)
    else:
        matches_name = and_(*[Contact.name.ilike(_like(w), escape="\\") for w in q.split()])
        rank = literal(0.0, Double)
    query = (select(Contact, rank.label("rank"))
             .where(Contact.tenant_id == user.tenant_id, Contact.merged_into_id.is_(None),
                    or_(matches_name, matches_address)))
    if conds := filters.on_ticket():
        query = query.where(exists(select(Ticket.id).where(Ticket.contact_id == Contact.id, *conds)))
    if filters.since is not None:
        query = query.where(Contact.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Contact.created_at < filters.until)
    rows = list(session.execute(_ranked_page(query, rank, Contact.id, cursor, limit)))
    more, rows = len(rows) > limit, rows[:limit]
    found = profiles(session, [row.Contact for row in rows])
    hits = [{"kind": "contact", "rank": row.rank, "contact_id": row.Contact.id, "contact_name": row.Contact.name,
             "contact": profile, "created_at": row.Contact.created_at}
            for row, profile in zip(rows, found, strict=True)]
    return hits, (_encode(rows[-1].rank, rows[-1].Contact.id) if more else None)


def snippet(body: str, words: list[str]) -> str:
    """Up to SNIPPET characters of the body around the first word that matches (accents folded)."""
    folded = body.translate(_FOLD).lower()
    at = min((i for i in (folded.find(w) for w in words) if i >= 0), default=0)
    start = max(0, at - SNIPPET // 3)
    text = body[start:start + SNIPPET]
    return ("…" if start else "") + text + ("…" if start + SNIPPET < len(body) else "")
