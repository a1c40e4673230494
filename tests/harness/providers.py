"""A flaky provider: the local Graph API (tests.fakes.graph) with a switch the test or campaign flips.

Modes, read when a call arrives:

- `ok`: accepts (200 and a wamid); `error`: 500, a Meta "service unavailable" error;
- `hang`: holds the call until `unhang()` (or HANG_LIMIT), then answers 503: it never accepts it;
- `hold`: holds the first call that arrives (`held` is set) until `release()`, then switches to `ok`. The held
  call is accepted only if its caller is still alive then (`caller_dead` False): a provider that accepts a
  message when it answers, so a caller killed before that has sent nothing.

`callback_url` (the API's base) and `app_secret`: after accepting a send, post its signed `sent` status webhook
there, echoing the send's `biz_opaque_callback_data` as Meta does (a caller killed mid-call is then settled by it).

`delay` slows every call. Every call is logged (`calls`), accepted sends by recipient too (`accepted`: wall
times, `bodies`), and `inflight` counts the calls being answered right now.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.fakes.graph import GraphServer, status_for
from tests.fakes.whatsapp import encode, sign

HANG_LIMIT = 45.0  # a hung or held call is let go after this at the latest
Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class Call:
    at: float  # time.monotonic()
    body: str
    outcome: str  # accepted | error | hung | abandoned


@dataclass
class FlakyGraph:
    server: GraphServer = field(default_factory=GraphServer)
    mode: str = "ok"
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    accepted: dict[str, list[float]] = field(default_factory=dict)  # recipient -> wall time of each accepted send
    bodies: dict[str, list[str]] = field(default_factory=dict)  # recipient -> text of each accepted send
    inflight: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    caller_dead: bool = False
    callback_url: str | None = None
    app_secret: str = ""
    callbacks: list[int] = field(default_factory=list)  # HTTP status of each status webhook posted
    _release: threading.Event = field(default_factory=threading.Event)
    _unhang: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.responder = self._answer
        quiet = self.server.httpd.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a caller gone
                quiet(request, client_address)

        self.server.httpd.handle_error = handle_error  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def failed(self) -> int:
        """Calls answered 500."""
        return self.count("error")

    def _answer(self, record: dict[str, Any]) -> Answer:
        with self._lock:
            self.inflight += 1
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._decide(record)
        finally:
            with self._lock:
                self.inflight -= 1

    def _decide(self, record: dict[str, Any]) -> Answer:
        body = str((record["body"].get("text") or {}).get("body", ""))
        with self._lock:
            mode = self.mode
            if mode == "hold":
                self.mode = "ok"
        if mode == "error":
            return self._log(body, "error", 500, {"error": {"message": "Service temporarily unavailable",
                                                             "type": "OAuthException", "code": 2}})
        if mode == "hang":
            self._log(body, "hung", 0, {})
            self._unhang.wait(HANG_LIMIT)
            return 503, {"error": {"message": "gave up", "code": 2}}, {}
        if mode == "hold":
            self.held.set()
            self._release.wait(HANG_LIMIT)
            if self.caller_dead:
                return self._log(body, "abandoned", 503, {"error": {"message": "caller gone", "code": 2}})
        to = str(record["body"].get("to"))
        wamid = f"wamid.{uuid.uuid4().hex}"
        with self._lock:
            self.accepted.setdefault(to, []).append(time.time())
            self.bodies.setdefault(to, []).append(body)
        if self.callback_url:
            threading.Thread(target=self._report, args=(record, wamid), daemon=True).start()
        return self._log(body, "accepted", 200, {"messaging_product": "whatsapp",
                                                 "contacts": [{"input": to, "wa_id": to}],
                                                 "messages": [{"id": wamid}]})

    def _report(self, record: dict[str, Any], wamid: str) -> None:
        """Meta's status webhook for an accepted send, a moment later; retried a few times like Meta does."""
        raw = encode(status_for(record, wamid, "sent"))
        for attempt in range(5):
            time.sleep(0.2 * (attempt + 1))
            try:
                status = requests.post(f"{self.callback_url}/webhooks/whatsapp", data=raw, timeout=10, headers={
                    "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, self.app_secret)}).status_code
            except requests.RequestException:
                status = -1
            self.callbacks.append(status)
            if status == 200:
                return

    def _log(self, body: str, outcome: str, status: int, doc: dict[str, Any]) -> Answer:
        with self._lock:
            self.calls.append(Call(time.monotonic(), body, outcome))
        return status, doc, {}

    def count(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.outcome == outcome)

    def accepted_bodies(self) -> Counter[str]:
        """How many times each message text was accepted."""
        with self._lock:
            return Counter(c.body for c in self.calls if c.outcome == "accepted")

    def accepted_at(self, body: str) -> float | None:
        with self._lock:
            return next((c.at for c in self.calls if c.outcome == "accepted" and c.body == body), None)

    def release(self) -> None:
        self._release.set()

    def unhang(self) -> None:
        self._unhang.set()

    def close(self) -> None:
        self.unhang()
        self.release()
        self.server.close()
