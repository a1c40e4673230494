"""CSAT on the real database: asked on resolve when the queue opted in, answered once from triage or a link."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import CsatSurvey, Message, Queue, RealtimeEvent, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.rules import csat as rules
from models.services import csat, tickets
from models.tickets import Direction, TicketStatus
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store

SECRET = "test-secret-of-at-least-32-characters"


def opt_in(sessions: sessionmaker[Session], tenants: dict[str, Any], **doc: Any) -> None:
    with sessions() as s, s.begin():
        carla = s.get_one(User, tenants["users"]["carla"].id)
        queue = s.scalars(select(Queue).where(Queue.tenant_id == carla.tenant_id, Queue.name == "Support")).one()
        csat.save_settings(s, carla, queue.id, {"enabled": True, **doc}, utcnow())


def button_delivery(wamid: str, button_id: str, title: str) -> dict[str, Any]:
    doc = copy.deepcopy(text_delivery(wamid))
    message = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message.update(type="interactive", interactive={"type": "button_reply",
                                                    "button_reply": {"id": button_id, "title": title}})
    return doc


def resolved_ticket(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any],
                    wamid: str = "wamid.c1") -> int:
    store(sessions, text_delivery(wamid))
    drain(sessions, bus)
    with sessions() as s, s.begin():
        ticket_id = s.scalars(select(Ticket.id)).one()
        tickets.resolve(s, s.get_one(User, tenants["users"]["carla"].id), ticket_id, utcnow())
    return ticket_id


def test_no_question_unless_the_queue_opted_in(sessions: sessionmaker[Session], bus: RecordingBus,
                                               tenants: dict[str, Any]) -> None:
    resolved_ticket(sessions, bus, tenants)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CsatSurvey)) == 0
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == Direction.OUTBOUND)) == 0


def test_a_whatsapp_rating_is_recorded_instead_of_reopening(sessions: sessionmaker[Session], bus: RecordingBus,
                                                            tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants, question="Como foi o atendimento?")
    ticket_id = resolved_ticket(sessions, bus, tenants)
    with sessions() as s:
        survey = s.scalars(select(CsatSurvey)).one()
        question = s.get_one(Message, survey.question_message_id)
        assert question.direction == Direction.OUTBOUND and question.ticket_id == ticket_id
        assert question.body.startswith("Como foi o atendimento?") and "5 - great" in question.body
        assert survey.queue_id == s.get_one(Ticket, ticket_id).queue_id
    store(sessions, text_delivery("wamid.c2", body=" 5 "))
    drain(sessions, bus)
    with sessions() as s:
        survey = s.scalars(select(CsatSurvey)).one()
        assert (survey.score, survey.source) == (5, "reply")
        ticket = s.get_one(Ticket, ticket_id)
        assert ticket.status == TicketStatus.RESOLVED and s.scalar(select(func.count()).select_from(Ticket)) == 1
        answer = s.scalars(select(Message).where(Message.provider_message_id == "wamid.c2")).one()
        assert answer.ticket_id == ticket_id and answer.payload["csat"]["score"] == 5
        event = s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "csat.received")).one()
        assert event.data["ticket_id"] == ticket_id and event.data["score"] == 5
    # Answered: a later "1" is an ordinary message again (here it opens a new conversation), the 5 stands.
    store(sessions, text_delivery("wamid.c3", body="1"))
    drain(sessions, bus)
    with sessions() as s:
        assert s.scalars(select(CsatSurvey.score)).one() == 5
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_button_answers_and_a_digit_after_the_window_does_not(sessions: sessionmaker[Session],
                                                                bus: RecordingBus, tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants)
    resolved_ticket(sessions, bus, tenants)
    with sessions() as s, s.begin():  # the answer window passes
        survey = s.scalars(select(CsatSurvey)).one()
        survey.expires_at = utcnow() - timedelta(seconds=1)
    store(sessions, text_delivery("wamid.c2", body="4"))
    drain(sessions, bus)
    with sessions() as s:
        assert s.scalars(select(CsatSurvey.score)).one() is None
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2  # an ordinary message: a new ticket


def test_a_button_of_ours_counts_while_another_ticket_is_open(sessions: sessionmaker[Session], bus: RecordingBus,
                                                              tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants)
    first = resolved_ticket(sessions, bus, tenants)
    store(sessions, text_delivery("wamid.c2", body="another question"))
    drain(sessions, bus)
    store(sessions, text_delivery("wamid.c3", body="3"))  # a digit belongs to the open conversation
    store(sessions, button_delivery("wamid.c4", "csat:4", "good"))
    drain(sessions, bus)
    with sessions() as s:
        survey = s.scalars(select(CsatSurvey)).one()
        assert (survey.ticket_id, survey.score, survey.source) == (first, 4, "button")
        digit = s.scalars(select(Message).where(Message.provider_message_id == "wamid.c3")).one()
        assert digit.ticket_id != first


def test_asked_once_per_ticket(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants)
    ticket_id = resolved_ticket(sessions, bus, tenants)
    with sessions() as s, s.begin():
        carla = s.get_one(User, tenants["users"]["carla"].id)
        tickets.reopen(s, carla, ticket_id, utcnow())
        tickets.resolve(s, carla, ticket_id, utcnow())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CsatSurvey)) == 1
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == Direction.OUTBOUND)) == 1


def test_window_closed_asks_with_the_queue_template_or_not_at_all(sessions: sessionmaker[Session],
                                                                  bus: RecordingBus, tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants)
    store(sessions, text_delivery("wamid.c1"))
    drain(sessions, bus)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        ticket.last_customer_message_at = utcnow() - timedelta(hours=25)
        tickets.resolve(s, s.get_one(User, tenants["users"]["carla"].id), ticket.id, utcnow())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CsatSurvey)) == 0  # no template named: not asked
    opt_in(sessions, tenants, template={"name": "csat_rating", "language": "pt_BR"})
    with sessions() as s, s.begin():
        carla = s.get_one(User, tenants["users"]["carla"].id)
        ticket_id = s.scalars(select(Ticket.id)).one()
        tickets.reopen(s, carla, ticket_id, utcnow())
        s.get_one(Ticket, ticket_id).last_customer_message_at = utcnow() - timedelta(hours=25)
        tickets.resolve(s, carla, ticket_id, utcnow())
    with sessions() as s:
        question = s.get_one(Message, s.scalars(select(CsatSurvey.question_message_id)).one())
        assert question.kind == "template" and question.payload["template"]["name"] == "csat_rating"


def test_links_are_signed_and_answers_race_to_one_score(sessions: sessionmaker[Session], bus: RecordingBus,
                                                        tenants: dict[str, Any]) -> None:
    opt_in(sessions, tenants)
    resolved_ticket(sessions, bus, tenants)
    with sessions() as s:
        survey_id = s.scalars(select(CsatSurvey.id)).one()
    token = rules.link_token(SECRET, survey_id)
    assert rules.survey_of(token, SECRET) == survey_id
    assert rules.survey_of(token, "another-secret") is None and rules.survey_of(f"{survey_id + 1}.{'0' * 32}",
                                                                                SECRET) is None
    barrier, results = threading.Barrier(5), []

    def click(score: int) -> None:
        with sessions() as s, s.begin():
            barrier.wait()
            results.append((score, csat.answer_by_link(s, token, score, SECRET, utcnow())))

    threads = [threading.Thread(target=click, args=(n,)) for n in rules.SCORES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [score for score, recorded in results if recorded]
    assert len(winners) == 1
    with sessions() as s:
        assert s.scalars(select(CsatSurvey.score)).one() == winners[0]
        assert s.scalar(select(func.count()).select_from(RealtimeEvent)
                        .where(RealtimeEvent.name == "csat.received")) == 1
