"""The embedded default runs a send's countdown retry in its in-process worker, as Celery does: the Graph API
fails the bot's greeting once, and the second attempt comes from the task's retry (seconds), not from the
stale-send sweep (two minutes)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import TENANTS
from tests.e2e.harness import BIN, ROOT, Proc, child_env, free_port, wait_ready, wait_until
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, sign, text_delivery

pytestmark = pytest.mark.e2e
GREETING = "Olá! Já vamos atender."


@pytest.fixture
def flaky_graph() -> Iterator[GraphServer]:
    """Answers the first send with Meta's "service unavailable" (retryable), then accepts every send."""
    server = GraphServer()

    def answer(record: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if len(server.attempts) == 1:
            return 500, {"error": {"message": "Service temporarily unavailable", "type": "OAuthException",
                                   "code": 2, "fbtrace_id": "AbC"}}, {}
        wamid = f"wamid.{uuid.uuid4().hex}"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": record["body"]["to"]}],
                     "messages": [{"id": wamid}]}, {}

    server.responder = answer
    yield server
    server.close()


def test_a_failed_send_is_retried_by_the_embedded_worker(flaky_graph: GraphServer, tmp_path: Path) -> None:
    port = free_port()
    env = child_env(DATA_DIR=str(tmp_path / "var"), WHATSAPP_GRAPH_BASE_URL=flaky_graph.url)
    proc = Proc("embedded", [str(BIN / "atendimento"), "run", "--port", str(port)], env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, [proc])
        doc = tmp_path / "tenants.json"
        doc.write_text(json.dumps(TENANTS))
        subprocess.run([str(BIN / "flask"), "--app", "api", "provision", str(doc)], env=env, cwd=ROOT,
                       check=True, capture_output=True, timeout=60)
        tokens = requests.post(f"{base}/api/auth/login", json={"tenant": "acme", "email": "carla@acme.example",
                                                                "password": "pw-carla"}, timeout=5).json()
        carla = {"Authorization": f"Bearer {tokens['access_token']}"}
        channels = requests.get(f"{base}/api/admin/channels", headers=carla, timeout=5).json()
        whatsapp = next(c for c in channels if c["external_id"] == PHONE_NUMBER_ID)
        assert requests.patch(f"{base}/api/admin/channels/{whatsapp['id']}", headers=carla, timeout=5,
                              json={"settings": {"triage": {"greeting": GREETING}}}).status_code == 200

        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}"))
        started = time.monotonic()
        resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
        assert resp.status_code == 200
        # The sweep would re-ask the send only after two minutes: well past this bound.
        accepted = flaky_graph.wait_for(1, timeout=60)
        print(f"greeting accepted {time.monotonic() - started:.1f} s after the webhook")
        assert len(flaky_graph.attempts) == 2 and len(accepted) == 1
        assert accepted[0]["body"]["text"]["body"] == GREETING

        def greeting_sent() -> bool:
            tickets = requests.get(f"{base}/api/tickets", headers=carla, timeout=5).json()["items"]
            messages = requests.get(f"{base}/api/tickets/{tickets[0]['id']}/messages", headers=carla,
                                    timeout=5).json()["items"]
            return any(m["direction"] == "out" and m["status"] == "sent" for m in messages)

        wait_until(greeting_sent, what="the greeting marked sent")
    except BaseException:
        print(proc.tail())
        raise
    finally:
        proc.stop()
