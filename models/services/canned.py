"""Canned responses: the tenant's (managed by supervisors) and each agent's own, found by code, filled on send.

A reply that names a canned response goes through the normal reply path (`conversation.reply`, hence
`outbound.queue_text`) with the body filled here, on the server, from the ticket it answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.canned import CannedResponse
from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from models.events import AuditEntry
from models.org import Channel, Queue, Role, Tenant, User
from models.rules import canned as rules
from models.services import conversation
from models.tickets import Contact, Message, Ticket

MAX_BODY = conversation.MAX_BODY
SCOPES = ("tenant", "personal")


class UnknownVariable(DomainError):
    """A body names a variable the server cannot fill (answered 400, naming it)."""

    code = "unknown_variable"


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid("body must not be empty", field="body")
    unknown = rules.unknown_variables(body)
    if unknown:
        raise UnknownVariable(f"unknown variable {unknown[0]!r} in body", field="body", variables=unknown,
                              known=sorted(rules.VARIABLES))
    return body


def _check_code(code: str) -> str:
    code = code.strip().lower()
    if not rules.CODE.match(code):
        raise Invalid("code: 1-32 of a-z, 0-9, '_', '-', '.', starting with a letter or digit", field="code")
    return code


def _staff(user: User) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def _visible(user: User) -> Any:
    return (CannedResponse.tenant_id == user.tenant_id) & or_(CannedResponse.owner_id.is_(None),
                                                             CannedResponse.owner_id == user.id)


def _audit(session: Session, actor: User, item: CannedResponse, action: str, now: datetime) -> None:
    session.add(AuditEntry(tenant_id=item.tenant_id, actor_id=actor.id, action=action, entity="canned_response",
                           entity_id=item.id, data={"code": item.code, "scope": scope_of(item)}, created_at=now))


def scope_of(item: CannedResponse) -> str:
    return "tenant" if item.owner_id is None else "personal"


def _save(session: Session, item: CannedResponse) -> None:
    # The unique indexes decide between two saves of one code at once; the loser gets a 409, not a 500.
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"code {item.code!r} is already used in this scope", field="code") from exc


def create(session: Session, actor: User, *, code: str, body: str, now: datetime, title: str = "",
           scope: str = "personal") -> CannedResponse:
    """A new canned response; the tenant's (scope "tenant") only by supervisors and admins."""
    if scope == "tenant" and not _staff(actor):
        raise Forbidden("only supervisors manage the tenant's canned responses")
    item = CannedResponse(tenant_id=actor.tenant_id, owner_id=None if scope == "tenant" else actor.id,
                          code=_check_code(code), title=title.strip(), body=_check_body(body), created_at=now,
                          updated_at=now)
    _save(session, item)
    _audit(session, actor, item, "canned_response.created", now)
    return item


def get(session: Session, actor: User, canned_id: int) -> CannedResponse:
    """One the user may use: the tenant's or their own; anyone else's is NotFound."""
    item = session.scalars(select(CannedResponse).where(CannedResponse.id == canned_id, _visible(actor))
                           ).one_or_none()
    if item is None:
        raise NotFound("canned response not found")
    return item


def _editable(session: Session, actor: User, canned_id: int) -> CannedResponse:
    item = get(session, actor, canned_id)
    if item.owner_id is None and not _staff(actor):
        raise Forbidden("only supervisors manage the tenant's canned responses")
    return item


def update(session: Session, actor: User, canned_id: int, changes: dict[str, Any], now: datetime
           ) -> CannedResponse:
    item = _editable(session, actor, canned_id)
    if "code" in changes:
        item.code = _check_code(changes["code"])
    if "body" in changes:
        item.body = _check_body(changes["body"])
    if "title" in changes:
        item.title = changes["title"].strip()
    item.updated_at = now
    _save(session, item)
    _audit(session, actor, item, "canned_response.updated", now)
    return item


def delete(session: Session, actor: User, canned_id: int, now: datetime) -> None:
    item = _editable(session, actor, canned_id)
    _audit(session, actor, item, "canned_response.deleted", now)
    session.delete(item)
    session.flush()


def search(session: Session, actor: User, prefix: str = "", scope: str | None = None, limit: int = 50
           ) -> list[CannedResponse]:
    """Those the user may use whose code starts with `prefix`, by code (own before the tenant's on a tie)."""
    query = select(CannedResponse).where(_visible(actor))
    prefix = prefix.strip().lower()
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(CannedResponse.code.like(f"{escaped}%", escape="\\"))
    if scope == "tenant":
        query = query.where(CannedResponse.owner_id.is_(None))
    elif scope == "personal":
        query = query.where(CannedResponse.owner_id.is_not(None))
    query = query.order_by(CannedResponse.code, CannedResponse.owner_id.is_(None), CannedResponse.id).limit(limit)
    return list(session.scalars(query))


def by_code(session: Session, actor: User, code: str) -> CannedResponse:
    """The user's own response with this code, else the tenant's."""
    item = session.scalars(select(CannedResponse).where(_visible(actor), CannedResponse.code == code.strip().lower())
                           .order_by(CannedResponse.owner_id.is_(None)).limit(1)).one_or_none()
    if item is None:
        raise NotFound(f"no canned response with code {code!r}", field="canned_code")
    return item


def values_for(session: Session, agent: User, ticket: Ticket) -> dict[str, str | None]:
    """The variables' values for a reply by `agent` on `ticket`."""
    contact = session.get_one(Contact, ticket.contact_id)
    queue = session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    channel = session.get_one(Channel, ticket.channel_id)
    tenant = session.get_one(Tenant, ticket.tenant_id)
    return {
        "contact.name": contact.name, "contact.first_name": rules.first_word(contact.name),
        "contact.phone": contact.phone, "contact.email": contact.email,
        "agent.name": agent.name, "agent.first_name": rules.first_word(agent.name), "agent.email": agent.email,
        "ticket.id": str(ticket.id), "ticket.subject": ticket.subject,
        "queue.name": queue.name if queue else None, "channel.name": channel.name, "tenant.name": tenant.name,
    }


def render_for(session: Session, actor: User, ticket_id: int, item: CannedResponse) -> str:
    """The body as the customer of `ticket_id` would receive it from `actor`."""
    ticket = conversation.get_ticket(session, actor, ticket_id)
    return rules.render(item.body, values_for(session, actor, ticket))


def reply_with(session: Session, actor: User, ticket_id: int, now: datetime, *, canned_id: int | None = None,
               code: str | None = None, template: dict[str, Any] | None = None) -> Message:
    """Reply with a canned response (by id or code), filled for this ticket, through the normal reply path."""
    conversation.get_ticket(session, actor, ticket_id)  # another tenant's ticket: 404 before anything else
    item = get(session, actor, canned_id) if canned_id is not None else by_code(session, actor, code or "")
    body = render_for(session, actor, ticket_id, item)
    if len(body) > MAX_BODY:
        raise Invalid(f"the filled body is longer than {MAX_BODY} characters", field="canned_response_id")
    return conversation.reply(session, actor, ticket_id, body, now, template=template)
