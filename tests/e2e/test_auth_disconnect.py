"""Ending sessions closes their sockets on the instance that holds them: the sockets are on A; a session ended
through A closes at once, one ended through B travels on the Socket.IO message queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.e2e.conftest import SECRET
from tests.e2e.harness import Listener, child_env, running_stack, wait_until
from tests.fakes.graph import GraphServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_apis(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
             tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path))
    with running_stack(env, tmp_path, apis=2) as bases:
        yield bases[0], bases[1]


def _login(base: str, email: str, password: str) -> dict[str, Any]:
    resp = requests.post(f"{base}/api/auth/login", json={"tenant": "acme", "email": email, "password": password},
                         timeout=5)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_a_logout_on_a_and_a_reset_on_b_close_the_sockets_held_by_a(two_apis: tuple[str, str]) -> None:
    a, b = two_apis
    carla = _login(b, "carla@acme.example", "pw-carla")
    ana_phone, ana_laptop = _login(b, "ana@acme.example", "pw-ana"), _login(b, "ana@acme.example", "pw-ana")
    bruno = _login(b, "bruno@acme.example", "pw-bruno")
    sockets = {name: Listener(a, tokens["access_token"]) for name, tokens in
               (("phone", ana_phone), ("laptop", ana_laptop), ("bruno", bruno))}
    try:
        # Logout on A (the socket's own instance) ends one session of Ana's: that socket closes, her other stays.
        requests.post(f"{a}/api/auth/logout", json={}, timeout=5,
                      headers={"Authorization": f"Bearer {ana_phone['access_token']}"})
        wait_until(lambda: not sockets["phone"].client.connected, what="the logged-out socket to close")
        assert sockets["laptop"].client.connected
        # A reset of her password on B ends the rest; Bruno's socket is not touched.
        reset = requests.patch(f"{b}/api/admin/users/{ana_laptop['user_id']}", json={"password": "reset-by-carla"},
                               headers={"Authorization": f"Bearer {carla['access_token']}"}, timeout=5)
        assert reset.status_code == 200
        wait_until(lambda: not sockets["laptop"].client.connected, what="the reset user's socket to close")
        assert sockets["bruno"].client.connected
        # Reconnecting with the ended session's token is refused.
        with pytest.raises(socketio.exceptions.ConnectionError):
            Listener(a, ana_laptop["access_token"])
    finally:
        for listener in sockets.values():
            if listener.client.connected:
                listener.close()
