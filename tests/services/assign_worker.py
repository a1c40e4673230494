"""Code run inside separate processes by the assignment concurrency test (importable for `spawn`)."""

from __future__ import annotations

import random
import time

from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.org import AgentStatus, User
from models.services import assignment


def _sessions(database_url: str):
    engine = make_engine(Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}),
                         pool_size=1, max_overflow=0)
    return make_session_factory(engine, RecordingBus())


def assign_loop(database_url: str, queue_id: int, seconds: float) -> int:
    """Assign from the queue again and again, as a worker receiving many assign tasks would."""
    sessions = _sessions(database_url)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sessions() as s, s.begin():
            done += len(assignment.assign_queue(s, queue_id, utcnow()))
        time.sleep(random.uniform(0, 0.01))
    return done


def toggle_loop(database_url: str, agent_ids: list[int], seconds: float, seed: int) -> int:
    """Agents going offline and online in between assignments."""
    rng = random.Random(seed)
    sessions = _sessions(database_url)
    flips = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sessions() as s, s.begin():
            user = s.get_one(User, rng.choice(agent_ids), with_for_update=True)
            user.status = AgentStatus.OFFLINE if user.status == AgentStatus.ONLINE else AgentStatus.ONLINE
            flips += 1
        time.sleep(rng.uniform(0.005, 0.03))
    return flips


def triage_loop(database_url: str, senders: list[str], prefix: str) -> list[str]:
    """First messages of these customers, each stored and triaged (assigned in triage's own transaction, or an
    assign task asked for), as a worker receiving many triage tasks would. Returns the tasks it asked for."""
    from models.services import triage
    from tests.fakes.whatsapp import text_delivery
    from tests.services.helpers import store

    bus = RecordingBus()
    engine = make_engine(Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}),
                         pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine, bus)
    asked = []
    for i, sender in enumerate(senders):
        store(sessions, text_delivery(f"wamid.{prefix}.{i}", sender=sender))
        while bus.tasks:
            name, args = bus.tasks.pop(0)
            if name == "triage.process_event":
                with sessions() as s, s.begin():
                    triage.process_event(s, args[0], utcnow())
            else:
                asked.append(name)
        time.sleep(random.uniform(0, 0.005))
    engine.dispose()
    return asked
