"""Two API instances and a worker, all really running: a client connected to instance A receives events
emitted by instance B and by the worker, through the Redis message queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import SECRET
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.harness.processes import child_env
from tests.harness.sockets import Listener
from tests.harness.stack import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_apis(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
             tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path))
    with running_stack(env, tmp_path, apis=2) as bases:
        yield bases[0], bases[1]


def test_a_client_on_a_hears_events_from_b_and_the_worker(two_apis: tuple[str, str], graph: GraphServer) -> None:
    a, b = two_apis
    tokens = requests.post(f"{b}/api/auth/login", json={"tenant": "acme", "email": "ana@acme.example",
                                                         "password": "pw-ana"}, timeout=5).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    listener = Listener(a, tokens["access_token"])  # connected to A only
    try:
        requests.put(f"{b}/api/me/status", json={"status": "online"}, headers=auth, timeout=5)
        listener.wait_for("agent.status", agent_id=tokens["user_id"])  # emitted by B
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}"))
        requests.post(f"{b}/webhooks/whatsapp", data=raw, timeout=5,
                      headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
        ticket_id = listener.wait_for("ticket.assigned", agent_id=tokens["user_id"])["data"]["id"]  # the worker
        reply = requests.post(f"{b}/api/tickets/{ticket_id}/messages", json={"body": "de B para A"},
                              headers=auth, timeout=5).json()
        listener.wait_for("message.created", id=reply["id"], direction="out")  # emitted by B after commit
        listener.wait_for("message.status", message_id=reply["id"], status="sent")  # the worker again
    finally:
        listener.close()
