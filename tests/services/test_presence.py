"""Presence: an agent whose sockets are all gone past the grace period becomes away; a reconnect cancels it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import User
from models.base import utcnow
from models.infra.presence import Presence
from models.org import AgentStatus
from models.services import agents


def test_grace_period_then_away(sessions: sessionmaker[Session], tenants: dict[str, Any], redis_url: str) -> None:
    import redis

    presence = Presence(redis.Redis.from_url(redis_url))
    ana_id, now = tenants["users"]["ana"].id, utcnow()
    with sessions() as s, s.begin():
        ana = s.get_one(User, ana_id)
        agents.set_status(s, ana, AgentStatus.ONLINE, now)
        presence.connect(ana_id, "sid-a")
        presence.connect(ana_id, "sid-b")  # two tabs
        agents.socket_connected(s, ana)
    assert presence.disconnect(ana_id, "sid-a") == 1  # one tab left: nothing happens
    assert presence.disconnect(ana_id, "sid-b") == 0
    with sessions() as s, s.begin():
        agents.last_socket_closed(s, s.get_one(User, ana_id), now)
    with sessions() as s, s.begin():
        assert agents.expire_presence(s, now + timedelta(seconds=30), 60, presence.connected) == 0  # in grace
    presence.connect(ana_id, "sid-c")  # came back on another instance before the check
    with sessions() as s, s.begin():
        assert agents.expire_presence(s, now + timedelta(seconds=90), 60, presence.connected) == 0
        assert s.get_one(User, ana_id).status == AgentStatus.ONLINE
    presence.disconnect(ana_id, "sid-c")
    with sessions() as s, s.begin():
        agents.last_socket_closed(s, s.get_one(User, ana_id), now)
    with sessions() as s, s.begin():
        assert agents.expire_presence(s, now + timedelta(seconds=90), 60, presence.connected) == 1
    with sessions() as s:
        assert s.get_one(User, ana_id).status == AgentStatus.AWAY
