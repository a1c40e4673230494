"""CSAT: ask on resolve (queue opt-in), take the customer's answer from triage or a signed link, once per ticket.

The question goes out through the normal outbound path (an outbound message on the resolved ticket): WhatsApp a
text with numbered options inside the 24-hour window (reply buttons are not sendable on this branch: outbound
passes no buttons to the adapters yet) or the queue's template after it, SMS and the sandbox a "reply 1-5"
text, email one signed link per score. The answer arrives as an inbound message that triage hands here
(`take_answer`) before it would reopen the ticket, or as a click on a link (`answer_by_link`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.csat import CsatSurvey
from models.errors import Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime
from models.infra.db import insert_or_ignore
from models.org import Channel, ChannelKind, Queue, User
from models.providers.base import ParsedMessage
from models.rules import csat as rules
from models.services import templates
from models.services.outbound import queue_text
from models.services.payloads import message_view, ticket_audience
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket

log = logging.getLogger(__name__)


def queue_config(session: Session, queue_id: int | None) -> rules.CsatConfig:
    queue = session.get(Queue, queue_id) if queue_id is not None else None
    return rules.CsatConfig.from_doc((queue.settings or {}).get("csat") if queue is not None else None)


def ask_on_resolve(session: Session, ticket: Ticket, now: datetime) -> CsatSurvey | None:
    """Ask the customer of a just-resolved ticket for a rating, when its queue opted in; once per ticket.

    Never fails the resolve: a question that cannot be composed (WhatsApp window closed and no template, a
    template the catalogue refuses) is skipped with a log line.
    """
    config = queue_config(session, ticket.queue_id)
    if not config.enabled:
        return None
    channel = session.get_one(Channel, ticket.channel_id)
    template: dict[str, Any] | None = None
    text = ""
    if channel.kind == ChannelKind.WHATSAPP and not rules.window_open(ticket.last_customer_message_at, now):
        if config.template is None:
            log.info("ticket %s: no CSAT question (WhatsApp window closed, queue names no template)", ticket.id)
            return None
        try:
            template, text = templates.compose(session, channel, dict(config.template))
        except Invalid as exc:
            log.warning("ticket %s: no CSAT question, template refused: %s", ticket.id, exc.message)
            return None
    survey_id = insert_or_ignore(session, CsatSurvey, {
        "tenant_id": ticket.tenant_id, "ticket_id": ticket.id, "channel_id": ticket.channel_id,
        "contact_id": ticket.contact_id, "queue_id": ticket.queue_id, "agent_id": ticket.agent_id,
        "asked_at": now, "expires_at": now + timedelta(seconds=config.answer_window_seconds)},
        conflict=["ticket_id"])
    if survey_id is None:
        return None  # asked at an earlier resolution of this ticket
    survey = session.get_one(CsatSurvey, survey_id)
    body = text if template is not None else _question(session, channel, survey, config)
    message = queue_text(session, ticket, body, None, now, template=template)
    survey.question_message_id = message.id
    return survey


def _question(session: Session, channel: Channel, survey: CsatSurvey, config: rules.CsatConfig) -> str:
    settings = session.info.get("settings")
    if channel.kind == ChannelKind.EMAIL and settings is not None:
        token = rules.link_token(settings.secret_key, survey.id)
        return rules.email_question(config.question, f"{settings.public_base_url}/csat/{token}?score=")
    return rules.numbered_question(config.question)


def take_answer(session: Session, channel: Channel, contact: Contact, parsed: ParsedMessage,
                now: datetime) -> Message | None:
    """Record an inbound message that answers the contact's pending question on this channel, instead of
    reopening its ticket; None when it is not such an answer (triage goes on as usual).

    A bare digit counts only within the question's answer window and while the contact has no open ticket on
    the channel (then it belongs to that conversation); one of our buttons counts within the window. The message
    is kept on the resolved ticket, so the conversation shows it.
    """
    answer = rules.score_of(parsed.body, parsed.interactive.id if parsed.interactive else None)
    if answer is None:
        return None
    score, source = answer
    if source == "reply" and session.scalar(select(Ticket.id).where(
            Ticket.contact_id == contact.id, Ticket.channel_id == channel.id,
            Ticket.status.in_(OPEN_STATUSES)).limit(1)) is not None:
        return None
    survey = session.scalars(select(CsatSurvey).where(
        CsatSurvey.contact_id == contact.id, CsatSurvey.channel_id == channel.id, CsatSurvey.score.is_(None),
        CsatSurvey.expires_at > now).order_by(CsatSurvey.asked_at.desc()).limit(1).with_for_update()).one_or_none()
    if survey is None:
        return None
    ticket = session.get_one(Ticket, survey.ticket_id)
    message_id = insert_or_ignore(session, Message, {
        "tenant_id": channel.tenant_id, "ticket_id": ticket.id, "channel_id": channel.id,
        "direction": Direction.INBOUND.value, "kind": parsed.kind, "body": parsed.body,
        "payload": {**parsed.extra, "csat": {"survey_id": survey.id, "score": score}},
        "provider_message_id": parsed.provider_message_id, "status": DeliveryStatus.RECEIVED.value,
        "created_at": now, "attempts": 0}, conflict=["channel_id", "provider_message_id"])
    if message_id is None:  # stored by an earlier run, which recorded the answer too
        return session.scalars(select(Message).where(
            Message.channel_id == channel.id, Message.provider_message_id == parsed.provider_message_id)).one()
    message = session.get_one(Message, message_id)
    ticket.last_customer_message_at = now
    realtime.emit(session, ticket.tenant_id, "message.created", message_view(message), ticket_audience(ticket))
    record_answer(session, survey, score, source, now)
    return message


def record_answer(session: Session, survey: CsatSurvey, score: int, source: str, now: datetime) -> bool:
    """Store the score of a locked survey and push `csat.received`; False when it was answered already (the
    first answer stands)."""
    if survey.score is not None:
        return False
    if score not in rules.SCORES:
        raise Invalid("score must be 1 to 5", field="score")
    survey.score, survey.source, survey.answered_at = score, source, now
    ticket = session.get_one(Ticket, survey.ticket_id)
    realtime.emit(session, survey.tenant_id, "csat.received", {
        "survey_id": survey.id, "ticket_id": survey.ticket_id, "score": score, "source": source,
        "agent_id": survey.agent_id, "queue_id": survey.queue_id, "channel_id": survey.channel_id,
        "asked_at": survey.asked_at.isoformat(), "answered_at": now.isoformat()},
        [*ticket_audience(ticket), *([realtime.agent_room(survey.tenant_id, survey.agent_id)]
                                     if survey.agent_id is not None else [])])
    return True


def answer_by_link(session: Session, token: str, score: int, secret: str, now: datetime) -> bool:
    """A click on an email link: NotFound for a token we did not sign; False when already answered.

    A link works as long as the survey is unanswered (its window limits bare digits only: a link names its
    survey and cannot be mistaken for anything else).
    """
    survey_id = rules.survey_of(token, secret)
    survey = session.scalars(select(CsatSurvey).where(CsatSurvey.id == survey_id).with_for_update()
                             ).one_or_none() if survey_id is not None else None
    if survey is None:
        raise NotFound("this rating link is not valid")
    return record_answer(session, survey, score, "link", now)


def settings_of(session: Session, actor: User, queue_id: int) -> rules.CsatConfig:
    queue = session.scalars(select(Queue).where(Queue.id == queue_id, Queue.tenant_id == actor.tenant_id)
                            ).one_or_none()
    if queue is None:
        raise NotFound("queue not found")
    return rules.CsatConfig.from_doc((queue.settings or {}).get("csat"))


def save_settings(session: Session, actor: User, queue_id: int, doc: dict[str, Any], now: datetime
                  ) -> rules.CsatConfig:
    """Switch the queue's CSAT question on or off and set its wording, answer window and WhatsApp template."""
    queue = session.scalars(select(Queue).where(Queue.id == queue_id, Queue.tenant_id == actor.tenant_id)
                            .with_for_update()).one_or_none()
    if queue is None:
        raise NotFound("queue not found")
    config = rules.CsatConfig.from_doc({**rules.CsatConfig.from_doc((queue.settings or {}).get("csat")).to_doc(),
                                        **doc})
    queue.settings = {**(queue.settings or {}), "csat": config.to_doc()}  # a new document: the ORM sees the change
    session.add(AuditEntry(tenant_id=queue.tenant_id, actor_id=actor.id, action="queue.csat_saved", entity="queue",
                           entity_id=queue.id, data=config.to_doc(), created_at=now))
    return config
