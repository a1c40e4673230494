"""What the local provider servers share: a threaded HTTP server on a free loopback port that turns each POST
into a record (`parse`), lets a test slow it down (`delay`) or answer in its place (`responder`), and keeps
every attempt and each accepted request. Each provider subclass speaks its own wire format in `parse` and
`answer`. GETs (credential checks) are answered by `answer_get` and kept apart, in `gets`, so they never count
as sends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

# (status, JSON body, or None for an empty body, or bytes of a file; extra headers)
Answer = tuple[int, dict[str, Any] | bytes | None, dict[str, str]]
Responder = Callable[[dict[str, Any]], Answer]


@dataclass
class FakeProvider:
    requests: list[dict[str, Any]] = field(default_factory=list)  # accepted
    attempts: list[dict[str, Any]] = field(default_factory=list)  # every request, failures included
    responder: Responder | None = None
    delay: float = 0.0
    gets: list[dict[str, Any]] = field(default_factory=list)
    get_responder: Callable[[str, Any], Answer] | None = None  # answers GETs in place of answer_get
    accepted: ClassVar[int] = 200  # the status that means "the provider took it"

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_GET(self) -> None:
                record = {"path": self.path, "headers": dict(self.headers.items())}
                server.gets.append(record)
                answer = server.get_responder or server.answer_get
                self.reply(*answer(self.path, self.headers))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = server.parse(self.path, self.headers, raw)
                server.attempts.append(record)
                if server.delay:
                    time.sleep(server.delay)
                status, doc, headers = server.answer(record)
                if status == server.accepted:
                    server.requests.append(record)
                self.reply(status, doc, headers)

            def reply(self, status: int, doc: dict[str, Any] | bytes | None, headers: dict[str, str]) -> None:
                # bytes are a file (media downloads): its Content-Type comes in `headers`
                payload = doc if isinstance(doc, bytes) else b"" if doc is None else json.dumps(doc).encode()
                try:  # the client may have given up (read-timeout tests)
                    self.send_response(status)
                    if doc is not None and not isinstance(doc, bytes):
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def parse(self, path: str, headers: Any, raw: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def answer(self, record: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def answer_get(self, path: str, headers: Any) -> Answer:
        return 404, {"error": f"no such resource: {path}"}, {}

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
