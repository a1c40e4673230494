"""SLA for real: a ticket nobody answers gets a warning, then a breach, then its escalation, each exactly once, seen
live by the supervisor's Socket.IO client. Beat runs the check every second next to the worker and the API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.services import sla
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.harness.processes import child_env
from tests.harness.sockets import Listener
from tests.harness.stack import running_stack

pytestmark = pytest.mark.e2e
SECRET = "e2e-secret-of-at-least-thirty-two-chars"


@pytest.fixture
def stack_with_beat(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
                    tmp_path: Path) -> Iterator[str]:
    """The real stack (gunicorn API, Celery worker) plus `celery -A workers beat` checking SLAs every second."""
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path), SLA_CHECK_INTERVAL="1")
    with running_stack(env, tmp_path, beat=True) as bases:
        yield bases[0]


@pytest.fixture
def short_policy(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    """acme's default policy: first response within 4 s (24x7: acme has no calendar), warning at half of it."""
    with sessions() as s, s.begin():
        sla.save_policy(s, tenants["users"]["carla"], {"name": "e2e", "first_response_seconds": 4,
                                                       "warning_fraction": 0.5}, utcnow())


def test_unanswered_ticket_warns_breaches_and_escalates_once(short_policy: None, stack_with_beat: str) -> None:
    base = stack_with_beat
    tokens = requests.post(f"{base}/api/auth/login", json={"tenant": "acme", "email": "carla@acme.example",
                                                            "password": "pw-carla"}, timeout=5).json()
    supervisor = Listener(base, tokens["access_token"])
    try:
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", body="Alguém aí?"))
        sent_at = time.monotonic()
        resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
        assert resp.json() == {"stored": 1, "duplicates": 0}
        ticket_id = supervisor.wait_for("ticket.created")["data"]["id"]

        warning = supervisor.wait_for("sla.warning", timeout=15, ticket_id=ticket_id)
        assert warning["data"]["clock"] == "first_response" and warning["data"]["priority"] == 0
        assert time.monotonic() - sent_at >= 2  # not before half of the 4 s had passed
        breach = supervisor.wait_for("sla.breached", timeout=15, ticket_id=ticket_id)
        assert breach["data"]["clock"] == "first_response"
        assert time.monotonic() - sent_at >= 4
        escalated = supervisor.wait_for("ticket.updated", timeout=15, id=ticket_id, priority=1)
        assert warning["id"] < breach["id"] < escalated["id"]

        time.sleep(4)  # several more beat runs: nothing is repeated
        names = [name for name, data in supervisor.events
                 if name.startswith("sla.") and data["data"]["ticket_id"] == ticket_id]
        assert names == ["sla.warning", "sla.breached"]
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        ticket = requests.get(f"{base}/api/tickets/{ticket_id}", headers=auth, timeout=5).json()
        assert ticket["priority"] == 1 and ticket["first_response_due_at"]
    finally:
        supervisor.close()
