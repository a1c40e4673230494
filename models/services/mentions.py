"""@mentions in internal notes: who may be mentioned, and telling each mentioned colleague wherever they are.

The console sends the ids of the colleagues picked with "@" (names are not unique, so the note's text alone
cannot say whom it meant). Any active user of the tenant may be mentioned: every user of a tenant may read
every ticket of it (conversation.get_ticket), so a mention grants nothing new, it only points at the ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models.errors import Invalid
from models.infra import realtime
from models.mentions import Mention
from models.org import User
from models.services import pagination
from models.tickets import Message, Ticket

MAX_MENTIONS = 50
EXCERPT = 140  # characters of the note in the event: enough for a toast and a browser notification
MENTION_EVENT = "mention.created"


def mentioned_users(session: Session, actor: User, ids: Sequence[int]) -> list[User]:
    """The users these ids name, deduplicated in the order given: active users of the actor's tenant only.

    Another tenant's id is refused exactly like an id that does not exist (never reveal that it does).
    """
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_MENTIONS:
        raise Invalid(f"at most {MAX_MENTIONS} users may be mentioned in one note", field="mentions")
    if not wanted:
        return []
    found = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_(wanted), User.tenant_id == actor.tenant_id, User.active.is_(True)))}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise Invalid(f"no such colleague: {', '.join(map(str, unknown))}", field="mentions", unknown=unknown)
    return [found[i] for i in wanted]


def excerpt(body: str, limit: int = EXCERPT) -> str:
    """The note's first `limit` characters on one line, with an ellipsis when cut."""
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def mention_view(mention: Mention, note: Message, author: User) -> dict[str, Any]:
    """A mention as the event and GET /api/mentions show it."""
    return {"id": mention.id, "user_id": mention.user_id, "ticket_id": mention.ticket_id, "message_id": note.id,
            "author_id": author.id, "author_name": author.name, "excerpt": excerpt(note.body),
            "created_at": mention.created_at.isoformat()}


def notify_mentioned(session: Session, actor: User, ticket: Ticket, note: Message, users: Sequence[User]) -> None:
    """Record and send one `mention.created` to each mentioned user's own room (not the ticket's followers),
    whether or not they follow the ticket; mentioning oneself tells nobody. Replayed after a reconnect."""
    for user in users:
        if user.id == actor.id:
            continue
        mention = Mention(tenant_id=ticket.tenant_id, message_id=note.id, ticket_id=ticket.id, user_id=user.id,
                          author_id=actor.id, created_at=note.created_at)
        session.add(mention)
        session.flush()
        realtime.emit(session, ticket.tenant_id, MENTION_EVENT, mention_view(mention, note, actor),
                      [realtime.agent_room(ticket.tenant_id, user.id)])


def my_mentions(session: Session, user: User, cursor: str | None = None,
                limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """The user's mentions, newest first, in keyset pages."""
    author = aliased(User)
    query = pagination.page(select(Mention, Message, author)
                            .join(Message, Message.id == Mention.message_id)
                            .join(author, author.id == Mention.author_id)
                            .where(Mention.tenant_id == user.tenant_id, Mention.user_id == user.id),
                            Mention, cursor, limit)
    rows = list(session.execute(query).tuples())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = pagination.encode(rows[-1][0].created_at, rows[-1][0].id)
    return [mention_view(m, note, a) for m, note, a in rows], next_cursor
