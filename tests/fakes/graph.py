"""A local HTTP server that plays the WhatsApp Cloud API (Graph API) send endpoint and records every call."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any], dict[str, str]]]


@dataclass
class GraphServer:
    """Answers `POST /{version}/{phone_number_id}/messages` like Meta: 200 with a wamid, or an error object."""

    token: str = "example-graph-token"
    requests: list[dict[str, Any]] = field(default_factory=list)
    responder: Responder | None = None  # tests swap in failures (500, 400 codes, hangs)
    delay: float = 0.0

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.strip("/").split("/")
                record = {"path": self.path, "phone_number_id": parts[1] if len(parts) == 3 else None,
                          "authorization": self.headers.get("Authorization"), "body": body}
                if server.delay:
                    time.sleep(server.delay)
                status, doc, headers = server.answer(record)
                if status == 200:
                    server.requests.append(record)
                payload = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if record["authorization"] != f"Bearer {self.token}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AbC"}}, {}
        if self.responder is not None:
            return self.responder(record)
        body = record["body"]
        if body.get("messaging_product") != "whatsapp" or "to" not in body:
            return 400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                                   "fbtrace_id": "AbC"}}, {}
        wamid = f"wamid.{uuid.uuid4().hex}"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                     "messages": [{"id": wamid}]}, {}

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
