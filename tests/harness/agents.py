"""An agent over the real HTTP API: logs in, goes online, and (when started) answers every ticket assigned to
them, then resolves it. Used by the fault tests and the fault campaign."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from typing import Any

import requests


class Api:
    """A keep-alive JSON client for one API instance (one per thread)."""

    def __init__(self, base: str, token: str | None = None, timeout: float = 10) -> None:
        self.base, self.session = base, requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = self.session.request(method, self.base + path, json=body, timeout=self.timeout)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None


def login(base: str, tenant: str, email: str, password: str, online: bool = True, attempts: int = 5) -> str:
    """Log in (retrying 5xx), optionally go online; returns the access token."""
    api = Api(base, timeout=60)
    for i in range(attempts):
        status, doc = api.call("POST", "/api/auth/login", {"tenant": tenant, "email": email, "password": password})
        if status == 200:
            token = doc["access_token"]
            break
        time.sleep(0.5 * (i + 1))
    else:
        raise RuntimeError(f"login {tenant}/{email} failed: {status} {doc}")
    if online:
        api = Api(base, token, timeout=60)
        for i in range(attempts):
            status, doc = api.call("PUT", "/api/me/status", {"status": "online"})
            if status == 200:
                break
            time.sleep(0.5 * (i + 1))
        else:
            raise RuntimeError(f"going online {tenant}/{email} failed: {status} {doc}")
    return token


class Agent:
    """One agent who answers every ticket assigned to them through the API, then resolves it. Polls (events over
    Redis pub/sub can be lost while Redis restarts; the API cannot). A request whose outcome is unknown (no answer)
    is checked against the ticket's messages before it is asked again, so the agent never asks twice."""

    def __init__(self, base: str, tenant: str, email: str, password: str) -> None:
        self.base, self.tenant, self.email, self.password = base, tenant, email, password
        self.token = login(base, tenant, email, password)
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.replied: dict[int, float] = {}  # ticket id -> time the reply was accepted (202)
        self.resolved: set[int] = set()
        self.busy: set[int] = set()
        self.pool = cf.ThreadPoolExecutor(4)
        self.local = threading.local()
        self.errors: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Answer and resolve every ticket assigned to this agent, from a thread, until `close()`."""
        self.thread.start()

    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API call as this agent (a keep-alive session per thread); status -1 when nothing answered."""
        api = getattr(self.local, "api", None)
        if api is None:
            api = self.local.api = Api(self.base, self.token, timeout=10)
        try:
            return api.call(method, path, body)
        except requests.RequestException:
            self.local.api = None
            return -1, None

    def _handle(self, tid: int) -> None:
        try:
            if tid not in self.replied:
                self._reply(tid)
            if tid in self.replied and tid not in self.resolved:
                code, _ = self.call("POST", f"/api/tickets/{tid}/resolve")
                if code == 200:
                    self.resolved.add(tid)
                else:
                    self._count(f"resolve {code}")
        finally:
            self.busy.discard(tid)

    def _reply(self, ticket_id: int) -> None:
        body = f"resposta ao ticket {ticket_id}"
        status, _doc = self.call("POST", f"/api/tickets/{ticket_id}/messages", {"body": body})
        if status == 202:
            self.replied[ticket_id] = time.time()
            return
        self._count(f"reply {status}")
        if status == -1:  # unknown outcome: did it commit?
            code, page = self.call("GET", f"/api/tickets/{ticket_id}/messages?limit=200")
            if code == 200 and any(m.get("direction") == "out" and m.get("body") == body
                                   for m in page.get("items", [])):
                self.replied[ticket_id] = time.time()

    def _run(self) -> None:
        while not self.stop.is_set():
            status, page = self.call("GET", "/api/tickets?mine=true&status=assigned&limit=200")
            if status != 200:
                self._count(f"list {status}")
                self.stop.wait(0.5)
                continue
            for item in page.get("items", []):
                tid = int(item["id"])
                if tid not in self.busy and tid not in self.resolved:
                    self.busy.add(tid)
                    self.pool.submit(self._handle, tid)
            self.stop.wait(0.3)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=15)
        self.pool.shutdown(wait=True, cancel_futures=True)
