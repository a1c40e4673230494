"""@mentions in internal notes: who may be mentioned, and telling each mentioned colleague wherever they are.

The console sends the ids of the colleagues picked with "@" (names are not unique, so the note's text alone
cannot say whom it meant). Any active user of the tenant may be mentioned: every user of a tenant may read
every ticket of it (conversation.get_ticket), so a mention grants nothing new, it only points at the ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Invalid
from models.infra import realtime
from models.org import User
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


def notify_mentioned(session: Session, actor: User, ticket: Ticket, note: Message, users: Sequence[User]) -> None:
    """One `mention.created` event to each mentioned user's own room (not the ticket's followers), whether or not
    they follow the ticket; mentioning oneself tells nobody. Replayed after a reconnect like any event."""
    for user in users:
        if user.id == actor.id:
            continue
        data: dict[str, Any] = {"user_id": user.id, "ticket_id": ticket.id, "message_id": note.id,
                                "author_id": actor.id, "author_name": actor.name, "excerpt": excerpt(note.body)}
        realtime.emit(session, ticket.tenant_id, MENTION_EVENT, data, [realtime.agent_room(ticket.tenant_id, user.id)])
