"""A socket agent: a python-socketio client that connects with an agent's access token and records every event."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

import requests
import socketio

from tests.harness.processes import wait_until


def login(base: str, tenant: str, email: str, password: str) -> dict[str, Any]:
    """POST /api/auth/login; the token document (access_token, refresh_token, user_id)."""
    resp = requests.post(f"{base}/api/auth/login", json={"tenant": tenant, "email": email, "password": password},
                         timeout=10)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


class Listener:
    """Connects to `base` with `token` and records `(event, envelope)` in `events` (and, with the arrival time,
    `(event, envelope, time.time())` in `arrivals`), keeping only `names` when given."""

    def __init__(self, base_url: str, token: str, names: Sequence[str] | None = None,
                 transports: Sequence[str] | None = None, reconnection: bool = False, wait_timeout: float = 10) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.arrivals: list[tuple[str, dict[str, Any], float]] = []
        self.names = set(names) if names else None
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=reconnection)
        self.client.on("*", self._record)
        self.client.connect(base_url, auth={"token": token}, wait_timeout=wait_timeout,
                            transports=list(transports) if transports else None)

    @classmethod
    def logged_in(cls, base_url: str, tenant: str, email: str, password: str, **kwargs: Any) -> Listener:
        """Log in as this user, then connect with the access token."""
        return cls(base_url, login(base_url, tenant, email, password)["access_token"], **kwargs)

    def _record(self, name: str, data: dict[str, Any]) -> None:
        if self.names is None or name in self.names:
            with self._lock:
                self.events.append((name, data))
                self.arrivals.append((name, data, time.time()))

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.arrivals.clear()

    def wait_for(self, name: str, timeout: float = 20, **match: Any) -> dict[str, Any]:
        """The first `name` event whose data has these values (waiting up to `timeout` s)."""
        def found() -> dict[str, Any] | None:
            with self._lock:
                for event, data in self.events:
                    if event == name and all(data["data"].get(k) == v for k, v in match.items()):
                        return data
            return None

        return wait_until(found, timeout, what=f"socket event {name} {match}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
