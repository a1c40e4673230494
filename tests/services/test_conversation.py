"""Replies, sends and the outbox on the real database, with the local Graph API server."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Message, OutboxTask, Ticket, User
from models.base import utcnow
from models.errors import Forbidden, Invalid, NotFound
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.outbox import relay_pending
from models.org import AgentStatus
from models.providers.base import ProviderError
from models.services import conversation, outbound
from models.services.agents import set_status
from models.tickets import DeliveryStatus
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


@pytest.fixture
def assigned(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> tuple[int, int]:
    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, ana.id), AgentStatus.ONLINE, utcnow())
    store(sessions, text_delivery("wamid.in1"))
    drain(sessions, bus)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
    assert ticket.agent_id == ana.id
    bus.tasks.clear()
    return ticket.id, ana.id


def reply(sessions: sessionmaker[Session], user_id: int, ticket_id: int, body: str = "Olá!") -> int:
    with sessions() as s, s.begin():
        return conversation.reply(s, s.get_one(User, user_id), ticket_id, body, utcnow()).id


def test_reply_is_sent_once_to_the_graph_api(sessions: sessionmaker[Session], bus: RecordingBus,
                                             settings: Settings, graph: GraphServer,
                                             assigned: tuple[int, int]) -> None:
    ticket_id, ana_id = assigned
    message_id = reply(sessions, ana_id, ticket_id)
    assert bus.tasks == [("outbound.send_message", [message_id])]
    before = len(graph.requests)
    for _ in range(2):  # a redelivered task must not send again
        with sessions() as s, s.begin():
            outbound.send_message(s, message_id, utcnow(), settings)
    sent = graph.requests[before:]
    assert len(sent) == 1 and sent[0]["body"]["to"] == "5511987654321" and sent[0]["body"]["text"]["body"] == "Olá!"
    with sessions() as s:
        message = s.get_one(Message, message_id)
        assert message.status == DeliveryStatus.SENT and message.provider_message_id.startswith("wamid.")
        assert s.get_one(Ticket, ticket_id).first_response_at is not None


def test_a_retryable_failure_keeps_the_message_queued(sessions: sessionmaker[Session], settings: Settings,
                                                      assigned: tuple[int, int]) -> None:
    down = GraphServer(responder=lambda r: (500, {"error": {"message": "Service unavailable", "code": 2}}, {}))
    try:
        message_id = reply(sessions, assigned[1], assigned[0])
        with pytest.raises(ProviderError), sessions() as s, s.begin():
            outbound.send_message(s, message_id, utcnow(), settings.with_(whatsapp_graph_base_url=down.url))
        with sessions() as s:
            assert s.get_one(Message, message_id).status == DeliveryStatus.QUEUED
    finally:
        down.close()


def test_a_permanent_failure_marks_the_message_failed(sessions: sessionmaker[Session], bus: RecordingBus,
                                                      settings: Settings, assigned: tuple[int, int]) -> None:
    window = GraphServer(responder=lambda r: (400, {"error": {"message": "Re-engagement message", "code": 131047}},
                                              {}))
    try:
        message_id = reply(sessions, assigned[1], assigned[0])
        with sessions() as s, s.begin():
            assert outbound.send_message(s, message_id, utcnow(),
                                         settings.with_(whatsapp_graph_base_url=window.url)) == "failed"
        with sessions() as s:
            message = s.get_one(Message, message_id)
        assert (message.status, message.error_code) == (DeliveryStatus.FAILED, "131047")
        assert any(name == "message.status" and data["data"]["status"] == "failed" for name, data, _r in bus.events)
    finally:
        window.close()


def test_agents_cannot_reply_on_tickets_they_do_not_hold(sessions: sessionmaker[Session], tenants: dict[str, Any],
                                                         assigned: tuple[int, int]) -> None:
    ticket_id = assigned[0]
    with pytest.raises(Forbidden):
        reply(sessions, tenants["users"]["bruno"].id, ticket_id)
    with pytest.raises(NotFound):  # another tenant: as if it did not exist
        reply(sessions, tenants["users"]["gina"].id, ticket_id)
    with pytest.raises(Invalid):
        reply(sessions, assigned[1], ticket_id, body="   ")
    reply(sessions, tenants["users"]["carla"].id, ticket_id)  # a supervisor may


def test_relay_publishes_what_the_broker_missed_once(sessions: sessionmaker[Session], bus: RecordingBus,
                                                     assigned: tuple[int, int]) -> None:
    message_id = reply(sessions, assigned[1], assigned[0])
    with sessions() as s, s.begin():  # as if the process died between commit and publish
        s.execute(update(OutboxTask).values(dispatched_at=None))
    bus.tasks.clear()
    with sessions() as s, s.begin():
        assert relay_pending(s, utcnow(), min_age_seconds=0) >= 1
    assert ("outbound.send_message", [message_id]) in bus.tasks
    bus.tasks.clear()
    with sessions() as s, s.begin():
        assert relay_pending(s, utcnow(), min_age_seconds=0) == 0
    assert bus.tasks == []


def test_relay_keeps_rows_when_the_broker_is_down(sessions: sessionmaker[Session], bus: RecordingBus,
                                                  assigned: tuple[int, int]) -> None:
    reply(sessions, assigned[1], assigned[0])
    with sessions() as s, s.begin():
        s.execute(update(OutboxTask).values(dispatched_at=None))

    def down(*_a: Any) -> None:
        raise ConnectionError("redis down")

    bus.publish = down
    with sessions() as s, s.begin():
        assert relay_pending(s, utcnow(), min_age_seconds=0) == 0
    with sessions() as s:
        assert all(row.dispatched_at is None for row in s.scalars(select(OutboxTask)))
