"""The walking skeleton, for real: a WhatsApp delivery becomes a ticket, is assigned, the agent sees it live over
Socket.IO, replies, and the reply reaches the (local) Graph API.

Real mode: PostgreSQL, Redis, the API under gunicorn, a Celery worker. Embedded mode: `atendimento run` alone.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
import socketio

from tests.conftest import TENANTS
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.harness.processes import BIN, ROOT, Proc, child_env, free_port, wait_until
from tests.harness.sockets import Listener
from tests.harness.stack import wait_ready

pytestmark = pytest.mark.e2e
SECRET = "e2e-secret-of-at-least-thirty-two-chars"


def walk_the_skeleton(base: str, graph: GraphServer) -> None:
    tokens = requests.post(f"{base}/api/auth/login", json={"tenant": "acme", "email": "ana@acme.example",
                                                            "password": "pw-ana"}, timeout=5).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    with pytest.raises(socketio.exceptions.ConnectionError):  # a forged token is refused at connect
        socketio.Client(reconnection=False).connect(base, auth={"token": "forged"}, wait_timeout=5)

    listener = Listener(base, tokens["access_token"])
    try:
        assert requests.put(f"{base}/api/me/status", json={"status": "online"}, headers=auth,
                            timeout=5).status_code == 200
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", body="Meu pedido não chegou"))
        resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
        assert resp.json() == {"stored": 1, "duplicates": 0}

        assigned = listener.wait_for("ticket.assigned", agent_id=tokens["user_id"])
        ticket_id = assigned["data"]["id"]
        created = listener.wait_for("message.created", ticket_id=ticket_id, direction="in")
        assert created["data"]["body"] == "Meu pedido não chegou" and created["id"] and created["at"]

        before = len(graph.requests)
        reply = requests.post(f"{base}/api/tickets/{ticket_id}/messages", json={"body": "Vou verificar!"},
                              headers=auth, timeout=5)
        assert reply.status_code == 202, reply.text
        sent = graph.wait_for(before + 1)[before:]
        assert len(sent) == 1
        assert sent[0]["phone_number_id"] == "106540352242922"
        assert sent[0]["body"]["to"] == "5511987654321" and sent[0]["body"]["text"]["body"] == "Vou verificar!"
        listener.wait_for("message.status", ticket_id=ticket_id, status="sent")
        messages = requests.get(f"{base}/api/tickets/{ticket_id}/messages", headers=auth, timeout=5).json()["items"]
        assert [(m["direction"], m["status"]) for m in messages] == [("in", "received"), ("out", "sent")]
    finally:
        listener.close()


def test_skeleton_on_postgresql_redis_gunicorn_and_celery(real_stack: str, graph: GraphServer) -> None:
    walk_the_skeleton(real_stack, graph)


def test_skeleton_in_the_embedded_default(graph: GraphServer, tmp_path: Path) -> None:
    """No DATABASE_URL, no REDIS_URL: SQLite under DATA_DIR, tasks in-process, one command."""
    port = free_port()
    env = child_env(DATA_DIR=str(tmp_path / "var"), WHATSAPP_GRAPH_BASE_URL=graph.url)
    proc = Proc("embedded", [str(BIN / "atendimento"), "run", "--port", str(port)], env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, [proc])
        doc = tmp_path / "tenants.json"
        doc.write_text(json.dumps(TENANTS))
        subprocess.run([str(BIN / "flask"), "--app", "api", "provision", str(doc)], env=env, cwd=ROOT,
                       check=True, capture_output=True, timeout=60)
        walk_the_skeleton(base, graph)
        assert "mode=embedded" in wait_until(proc.log.read_text, what="log")
    except BaseException:
        print(proc.tail())
        raise
    finally:
        proc.stop()
