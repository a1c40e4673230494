"""What an agent does on a ticket: read it, reply."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from models.errors import Forbidden, Invalid, NotFound
from models.infra.config import Settings
from models.infra.storage import Store
from models.labels import TicketLabel
from models.org import Channel, ChannelKind, QueueMember, Role, User
from models.services import facts, media_out, pagination, sla, templates
from models.services.media import UploadedFile
from models.services.outbound import queue_text
from models.tickets import Contact, Direction, Message, Ticket, TicketStatus

MAX_BODY = 4096  # WhatsApp's text limit
WHATSAPP_WINDOW = timedelta(hours=24)


def get_ticket(session: Session, user: User, ticket_id: int) -> Ticket:
    """A ticket of the user's tenant; another tenant's id is NotFound, exactly like an id that does not exist."""
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id, Ticket.tenant_id == user.tenant_id)
                             ).one_or_none()
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket


def list_messages(session: Session, user: User, ticket_id: int, cursor: str | None = None,
                  limit: int = 50, notes: bool = True) -> tuple[list[Message], str | None]:
    """A page of the ticket's messages, newest page first, each page oldest first (as a chat shows it).

    `notes=False` leaves internal notes out: an inbox preview shows the conversation's last message, never a note.
    """
    ticket = get_ticket(session, user, ticket_id)
    # An agent's reaction send is a row for the outbound path, shown as the reaction it is, not as a message.
    shown = [Message.ticket_id == ticket.id, Message.kind != "reaction"]
    if not notes:
        shown.append(Message.direction != Direction.NOTE)
    query = pagination.page(select(Message).where(*shown)
                            .options(selectinload(Message.attachments), selectinload(Message.reactions)),
                            Message, cursor, limit)
    rows, next_cursor = pagination.split(list(session.scalars(query)), limit)
    return list(reversed(rows)), next_cursor


def reply(session: Session, user: User, ticket_id: int, body: str, now: datetime,
          template: dict[str, Any] | None = None, files: Sequence[UploadedFile] = (),
          store: Store | None = None, settings: Settings | None = None, reply_to: int | None = None,
          interactive: dict[str, Any] | None = None) -> Message:
    """Queue a reply to the customer; a worker sends it once this transaction commits.

    WhatsApp allows free-form text only within 24 hours of the customer's last message; after that the
    reply must be an approved template, and a plain text is refused here rather than failing at Meta.
    `files` go with it (stored in `store`, checked against the provider's limits first: see media_out).
    """
    body = body.strip()
    if not body and not template and not files:
        raise Invalid("body must not be empty", field="body")
    if files and template is not None:
        raise Invalid("a template carries no files: send them in a reply of their own", field="file")
    if interactive is not None and (files or template is not None or not body):
        raise Invalid("buttons and lists go with a body text, without files or a template", field="interactive")
    if len(body) > MAX_BODY:
        raise Invalid(f"body is longer than {MAX_BODY} characters", field="body")
    ticket = get_ticket(session, user, ticket_id)
    channel = session.get_one(Channel, ticket.channel_id)
    if channel.kind == ChannelKind.WHATSAPP and template is None:
        last = ticket.last_customer_message_at
        if last is None or now - last > WHATSAPP_WINDOW:
            raise Invalid("outside WhatsApp's 24-hour customer window: send a template", field="template",
                          code="template_required",
                          templates=[templates.summary(t) for t in templates.listed(session, ticket.tenant_id,
                                                                                    channel.id)])
    if ticket.status == TicketStatus.RESOLVED:
        raise Invalid("ticket is resolved; reopen it to reply", field="ticket")
    if user.role == Role.AGENT and ticket.agent_id != user.id:
        raise Forbidden("ticket is assigned to someone else")
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    if template is not None:
        template, text = templates.compose(session, channel, template)
        body = body or text
    extra = _quoting(session, ticket, reply_to)
    if interactive is not None:
        if channel.kind not in (ChannelKind.WHATSAPP, ChannelKind.SANDBOX):
            raise Invalid(f"{channel.kind.value} has no buttons or lists", field="interactive",
                          code="interactive_unsupported")
        extra["interactive"] = interactive
    sla.agent_replied(session, ticket, now)
    facts.agent_replied(session, ticket, user.id, now)  # reports: the open wait ends
    if files:
        if store is None or settings is None:
            raise RuntimeError("a reply with files needs the object store and the settings")
        return media_out.queue_files(session, store, settings.attachment_limit(channel.kind.value), ticket,
                                     channel, body, user.id, now, files, quoting=extra)
    return queue_text(session, ticket, body, user.id, now, template=template,
                      kind="interactive" if interactive is not None else None, payload=extra)


def _quoting(session: Session, ticket: Ticket, reply_to: int | None) -> dict[str, Any]:
    """What a reply quoting message `reply_to` of this ticket stores: our id, and the provider's to send."""
    if reply_to is None:
        return {}
    quoted = session.scalars(select(Message).where(Message.id == reply_to, Message.ticket_id == ticket.id)
                             ).one_or_none()
    if quoted is None:
        raise NotFound("the quoted message is not on this ticket")
    if not quoted.provider_message_id:
        raise Invalid("the quoted message has not reached the customer", field="reply_to", code="message_not_sent")
    return {"reply_to_id": quoted.id, "reply_to_provider_id": quoted.provider_message_id}


def list_tickets(session: Session, user: User, *, status: str | None = None, queue_id: int | None = None,
                 mine: bool = False, search: str | None = None, cursor: str | None = None,
                 limit: int = 50, label_id: int | None = None) -> tuple[list[Ticket], str | None]:
    """Tickets newest first. Agents see theirs and those waiting in their queues; supervisors the tenant's.

    `search` matches the contact's phone (digits, partial: the trigram index serves it) or name.
    """
    query = (select(Ticket).join(Ticket.contact).options(contains_eager(Ticket.contact))
             .where(Ticket.tenant_id == user.tenant_id))
    if mine or user.role == Role.AGENT:
        own = Ticket.agent_id == user.id
        if not mine:  # agents also see what waits in their queues
            queues = select(QueueMember.queue_id).where(QueueMember.user_id == user.id)
            own = or_(own, and_(Ticket.agent_id.is_(None), Ticket.queue_id.in_(queues)))
        query = query.where(own)
    if status:
        query = query.where(Ticket.status == TicketStatus(status))
    if queue_id is not None:
        query = query.where(Ticket.queue_id == queue_id)
    if label_id is not None:
        query = query.where(select(TicketLabel.ticket_id).where(TicketLabel.ticket_id == Ticket.id,
                                                                TicketLabel.label_id == label_id).exists())
    if search:
        digits = "".join(c for c in search if c.isdigit())
        term = search.replace("%", "").replace("_", "")
        cond: ColumnElement[bool] = Contact.name.ilike(f"%{term}%")
        if len(digits) >= 3:
            cond = or_(cond, Contact.phone.like(f"%{digits}%"))
        query = query.where(cond)
    return pagination.split(list(session.scalars(pagination.page(query, Ticket, cursor, limit))), limit)
