"""The Socket.IO tier (gunicorn's gevent worker, ops/gunicorn.sockets.conf.py) beside a gthread API instance and a
worker, all really running on PostgreSQL and Redis: agents connect to the tier only, and hear what the API and
the worker emit; the tier's own reads (the token and session checks at connect, `subscribe`) run under gevent."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import simple_websocket

from tests.e2e.conftest import SECRET
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.harness.processes import Proc, child_env, free_port
from tests.harness.sockets import Listener, login
from tests.harness.stack import running_stack, sockets_argv, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_and_tier(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
                 tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path), SOCKETIO_PING_INTERVAL="1", SOCKETIO_PING_TIMEOUT="5")
    port = free_port()
    tier = Proc("sockets", sockets_argv(port), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        with running_stack(env, tmp_path) as bases:
            wait_ready(base, [tier])
            assert "Using worker: gevent" in tier.tail(200) and "message queue (gevent)" in tier.tail(200)
            assert "engine.io pings wait on event-loop timers" in tier.tail(200)  # api/socket_pings.py
            yield bases[0], base
    except BaseException:
        print(f"--- sockets\n{tier.tail()}")
        raise
    finally:
        tier.stop()


def test_agents_on_the_gevent_tier_hear_the_api_and_the_worker(api_and_tier: tuple[str, str]) -> None:
    api, tier = api_and_tier
    ana = login(api, "acme", "ana@acme.example", "pw-ana")
    auth = {"Authorization": f"Bearer {ana['access_token']}"}
    listener = Listener(tier, ana["access_token"])  # websocket, to the tier only
    polling = Listener(tier, login(api, "acme", "bruno@acme.example", "pw-bruno")["access_token"],
                       transports=["polling"])  # a long-polling session stays in the tier's one process
    try:
        requests.put(f"{api}/api/me/status", json={"status": "online"}, headers=auth, timeout=5)
        listener.wait_for("agent.status", agent_id=ana["user_id"])  # emitted by the API instance
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", body="oi pelo tier"))
        assert requests.post(f"{api}/webhooks/whatsapp", data=raw, timeout=5, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code == 200
        ticket_id = listener.wait_for("ticket.assigned", agent_id=ana["user_id"])["data"]["id"]  # the worker
        listener.wait_for("message.created", ticket_id=ticket_id, body="oi pelo tier")
        polling.wait_for("ticket.created", id=ticket_id)  # Bruno hears the Support queue's room

        # A read of PostgreSQL inside the tier, under gevent: only a ticket of the socket's own tenant.
        assert polling.client.call("subscribe", {"ticket_id": ticket_id}, timeout=10) == {"ok": True}
        assert polling.client.call("subscribe", {"ticket_id": ticket_id + 999}, timeout=10) == {
            "ok": False, "error": "not_found"}
        reply = requests.post(f"{api}/api/tickets/{ticket_id}/messages", json={"body": "resposta"},
                              headers=auth, timeout=5).json()
        polling.wait_for("message.created", id=reply["id"], direction="out")  # the ticket's room, via the API
    finally:
        listener.close()
        polling.close()


def test_the_tier_checks_every_token_at_connect_many_at_once(api_and_tier: tuple[str, str]) -> None:
    """Forty sockets connect at once (each a session check in PostgreSQL, under gevent); a bad token is refused."""
    api, tier = api_and_tier
    token = login(api, "acme", "carla@acme.example", "pw-carla")["access_token"]
    with ThreadPoolExecutor(8) as pool:
        listeners = list(pool.map(lambda _i: Listener(tier, token, wait_timeout=20), range(40)))
    try:
        assert all(item.client.connected for item in listeners)
        with pytest.raises(Exception, match=r"nauthorized|Connection refused|One or more"):
            Listener(tier, token + "x")
    finally:
        for item in listeners:
            item.close()


def test_the_tier_pings_a_live_socket_and_drops_a_silent_one(api_and_tier: tuple[str, str]) -> None:
    """Engine.IO's heartbeat as a browser sees it, on the tier's timer pings (api/socket_pings.py): a ping each
    interval while the socket answers, and the tier closes a socket that stops answering."""
    api, tier = api_and_tier
    token = login(api, "acme", "ana@acme.example", "pw-ana")["access_token"]
    ws = simple_websocket.Client.connect(tier.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket")
    try:
        opened = json.loads(ws.receive(timeout=10)[1:])  # "0{...}": engine.io OPEN
        assert (opened["pingInterval"], opened["pingTimeout"]) == (1000, 5000)
        ws.send("40" + json.dumps({"token": token}))  # Socket.IO CONNECT with the console's auth
        assert ws.receive(timeout=10).startswith("40{")
        for _ in range(3):  # each pong schedules the next ping
            assert ws.receive(timeout=10) == "2"
            ws.send("3")
        assert ws.receive(timeout=10) == "2"  # left unanswered
        with pytest.raises(simple_websocket.ConnectionClosed):  # not a timeout (None): the tier closes it
            ws.receive(timeout=30)
    finally:
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            ws.close()
