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

from sqlalchemy import Double, Select, and_, case, cast, exists, func, literal, or_, select, text, union
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
RANK_WINDOW = 5000


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


def _encode(rank: float, row_id: int, bound: int | None = None) -> str:
    return base64.urlsafe_b64encode(json.dumps(["r", rank, row_id, bound]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, int, int | None]:
    try:
        tag, rank, row_id, bound = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        decoded = float(rank), int(row_id), None if bound is None else int(bound)
    except (ValueError, TypeError) as exc:
        raise Invalid("cursor is not one this search gave out", field="cursor") from exc
    if tag != "r":
        raise Invalid("cursor is not one this search gave out", field="cursor")
    return decoded


def _ranked_page(query: Select[Any], rank: Any, id_col: Any, cursor: str | None, limit: int) -> Select[Any]:
    """Best first, ties newest first; the cursor holds the last (rank, id). Ranks are float8 so the value
    round-trips exactly through JSON and compares equal on the next page. A constant rank orders by id alone."""
    constant = isinstance(rank, BindParameter)
    if cursor:
        last_rank, last_id, _bound = _decode(cursor)
        query = query.where(id_col < last_id if constant else
                            or_(rank < last_rank, and_(rank == last_rank, id_col < last_id)))
    order = (id_col.desc(),) if constant else (rank.desc(), id_col.desc())
    return query.order_by(*order).limit(limit + 1)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.translate(_FOLD).lower())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_messages(session: Session, user: User, q: str, filters: Filters, sort: str = "rank",
                    cursor: str | None = None, limit: int = 20, rank_window: int = RANK_WINDOW
                    ) -> tuple[list[dict[str, Any]], str | None]:
    """Messages (customer's, agents', notes) whose body matches `q`, with their ticket and contact."""
    if not _words(q):
        raise Invalid("search for at least one word", field="q")
    conds: list[Any] = [Message.tenant_id == user.tenant_id, *filters.on_ticket()]
    if filters.since is not None:
        conds.append(Message.created_at >= filters.since)
    if filters.until is not None:
        conds.append(Message.created_at < filters.until)
    pg = _postgresql(session)
    if pg:
        _serial(session)
        tsquery = documents.query(q)
        conds.append(documents.SEARCH_VECTOR.op("@@")(tsquery))
        rank: Any = cast(func.ts_rank(documents.SEARCH_VECTOR, tsquery), Double)
    else:
        conds += [Message.body.ilike(_like(word), escape="\\") for word in q.split() if word.strip()]
        rank = literal(0.0, Double)
    bound = None
    if sort == "recent":
        # Newest first by id (ids grow with arrival): the primary key scanned backwards stops after one page
        # even for a word in every tenth message, where sorting by created_at would sort every match.
        rank = literal(0.0, Double)
    elif pg:
        # Ranking reads the vector of every match: a word in one message of ten is 100 000 vectors on a million
        # messages (over a second). Only the newest `rank_window` matches are ranked; below that many, all are.
        # The window's upper id rides in the cursor, so new messages cannot shift it between pages.
        bound = _decode(cursor)[2] if cursor else session.scalar(
            select(func.max(Message.id)).where(Message.tenant_id == user.tenant_id))
        matches = select(Message.id).where(*conds, Message.id <= (bound or 0))
        if filters.on_ticket():
            matches = matches.join(Ticket, Ticket.id == Message.ticket_id)
        estimate = _estimated_rows(session, matches)
        # Walking back reads about window/density rows, cheaply; the GIN path fetches every match, dearer per
        # row: the walk wins once the matches are dense, past about sqrt(window x messages) of them.
        if estimate * estimate > rank_window * (bound or 0):
            # Many matches: walk the primary key backwards, the window fills long before the end.
            window = matches.order_by(Message.id.desc()).limit(rank_window).scalar_subquery()
        else:
            # Few: the GIN index finds them all at once. Materialised, or the planner may still walk the
            # primary key (it underestimates how rare two words together or a phrase are) and read the table.
            found = matches.cte("matches").prefix_with("MATERIALIZED")
            window = select(found.c.id).order_by(found.c.id.desc()).limit(rank_window).scalar_subquery()
        conds = [Message.id.in_(window)]
    query = select(Message, Ticket, rank.label("rank")).join(Ticket, Ticket.id == Message.ticket_id).where(*conds)
    rows = list(session.execute(_ranked_page(query, rank, Message.id, cursor, limit)))
    more, rows = len(rows) > limit, rows[:limit]
    # Names for the page only: joined into the search, the planner hashed every contact of the tenant.
    names = dict(session.execute(select(Contact.id, Contact.name).where(
        Contact.id.in_({row.Ticket.contact_id for row in rows}))).tuples().all()) if rows else {}
    words = _words(q)
    hits = [{"kind": "message", "rank": row.rank, "message_id": row.Message.id, "ticket_id": row.Ticket.id,
             "contact_id": row.Ticket.contact_id, "contact_name": names.get(row.Ticket.contact_id),
             "channel_id": row.Message.channel_id, "direction": row.Message.direction.value,
             "ticket_status": row.Ticket.status.value,
             "snippet": snippet(row.Message.body, words), "created_at": row.Message.created_at} for row in rows]
    return hits, (_encode(rows[-1].rank, rows[-1].Message.id, bound) if more else None)


def _estimated_rows(session: Session, query: Select[Any]) -> float:
    """The planner's estimate of how many rows `query` returns (one planning round trip, no execution)."""
    compiled = query.compile(dialect=session.get_bind().dialect)
    plan: Any = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    return float(plan[0]["Plan"]["Plan Rows"])


def _serial(session: Session) -> None:
    """No parallel workers for this transaction's searches: starting them cost ~130 ms on a busy 2-core box,
    more than the scans they split; an API answers many small queries, not one big one."""
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


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
    address = [(ContactIdentity.kind == IdentityKind.EMAIL) & ContactIdentity.value.like(_like(term), escape="\\")]
    if len(digits) >= 3:
        address.append((ContactIdentity.kind == IdentityKind.PHONE) & ContactIdentity.value.like(f"%{digits}%"))
    by_address = select(ContactIdentity.contact_id).where(ContactIdentity.tenant_id == user.tenant_id, or_(*address))
    if _postgresql(session):
        tsquery = documents.prefix_query(words)  # "mar silv" finds Maria Silva
        by_name = select(Contact.id).where(Contact.tenant_id == user.tenant_id,
                                           documents.contact_document(Contact.name).op("@@")(tsquery))
        # Candidates first (each branch served by its GIN index), then rank only those: an OR of the
        # conditions on contacts would evaluate both subqueries for every contact of the tenant.
        rank: Any = cast(case((Contact.id.in_(by_address), 1.0),
                              else_=func.ts_rank(documents.contact_document(Contact.name), tsquery)), Double)
    else:
        by_name = select(Contact.id).where(Contact.tenant_id == user.tenant_id,
                                           *[Contact.name.ilike(_like(w), escape="\\") for w in q.split()])
        rank = literal(0.0, Double)
    query = (select(Contact, rank.label("rank"))
             .where(Contact.id.in_(union(by_address, by_name)), Contact.tenant_id == user.tenant_id,
                    Contact.merged_into_id.is_(None)))
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
