"""The Redis availability cache in front of assignment: skips work when nobody can take a ticket, never
hides capacity that appeared (generations), and falls back to the database when Redis is down."""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Ticket, User
from models.base import utcnow
from models.infra.availability import Availability
from models.infra.bus import RecordingBus
from models.infra.db import make_session_factory
from models.org import AgentStatus
from models.services import assignment
from models.services.agents import set_status
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


def test_cache_answers_from_redis_and_is_invalidated_by_status(engine: Any, redis_url: str,
                                                               tenants: dict[str, Any]) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    bus = RecordingBus()
    cached = make_session_factory(engine, bus, Availability(client))
    queue_id = tenants["channels"]["106540352242922"].default_queue_id
    store(cached, text_delivery("wamid.av1"))
    drain(cached, bus)  # nobody online: the answer "no room" is now cached
    assert client.get(f"atendimento:avail:{queue_id}:0") == b"0"
    ana_id = tenants["users"]["ana"].id
    with cached() as s, s.begin():
        set_status(s, s.get_one(User, ana_id), AgentStatus.ONLINE, utcnow())
    assert int(client.get(f"atendimento:avail:gen:{queue_id}")) == 1  # bumped after commit
    drain(cached, bus)
    with cached() as s:
        assert s.scalars(select(Ticket)).one().agent_id == ana_id


def test_a_stale_writer_cannot_hide_new_capacity(engine: Any, redis_url: str, tenants: dict[str, Any]) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    cache = Availability(client)
    queue_id = tenants["channels"]["106540352242922"].default_queue_id

    def slow_compute() -> bool:  # computed from a snapshot taken before the agent came online...
        client.incr(f"atendimento:avail:gen:{queue_id}")  # ...while the status commit invalidates
        return False

    assert cache.has_room(queue_id, slow_compute) is False
    assert cache.has_room(queue_id, lambda: True) is True  # the stale "no" went to an old generation


def test_redis_down_falls_back_to_the_database(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    dead = Availability(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    assert dead.has_room(1, lambda: True) is True
    with sessions() as s:
        queue_id = tenants["channels"]["106540352242922"].default_queue_id
        assert assignment._room_exists(s, queue_id) is False  # everyone offline


def test_only_the_assignment_that_fills_an_agent_invalidates_their_queues(engine: Any, redis_url: str,
                                                                          tenants: dict[str, Any]) -> None:
    # "Has anyone in this queue room?" stays yes while the agent who took a ticket still has room, so that
    # assignment leaves the cache alone (no lookup of the agent's queues, no Redis write); the one that fills
    # the agent bumps the generation, and the next ticket waits without the queue's lock being taken.
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    bus = RecordingBus()
    cached = make_session_factory(engine, bus, Availability(client))
    queue_id = tenants["channels"]["106540352242922"].default_queue_id
    ana_id = tenants["users"]["ana"].id  # room for 2 tickets
    with cached() as s, s.begin():
        set_status(s, s.get_one(User, ana_id), AgentStatus.ONLINE, utcnow())
    generation = int(client.get(f"atendimento:avail:gen:{queue_id}") or 0)
    store(cached, text_delivery("wamid.fill1", sender="5511900000001"))
    drain(cached, bus)
    assert int(client.get(f"atendimento:avail:gen:{queue_id}") or 0) == generation  # 1 of 2: still room
    store(cached, text_delivery("wamid.fill2", sender="5511900000002"))
    drain(cached, bus)
    assert int(client.get(f"atendimento:avail:gen:{queue_id}") or 0) == generation + 1  # 2 of 2: full
    store(cached, text_delivery("wamid.fill3", sender="5511900000003"))
    drain(cached, bus)
    with cached() as s:
        owners = [t.agent_id for t in s.scalars(select(Ticket).order_by(Ticket.id))]
    assert owners == [ana_id, ana_id, None]
    assert client.get(f"atendimento:avail:{queue_id}:{generation + 1}") == b"0"
