"""A webhook receiver in a process of its own, so a fault test can kill it in the middle of a request.

`python -m tests.fakes.receiver_proc PORT LOG [--hold-first N] [--fail-for S]`: every POST is appended to LOG
(one JSON line: the event id, the attempt header, `received`, `failed` or `answered`), fsynced before anything
else happens, so the ledger survives a SIGKILL. With --hold-first N the first N requests are held (never
answered) until the process is killed: a receiver that dies mid-request. With --fail-for S it answers 500 for
its first S seconds.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main(argv: list[str]) -> None:
    port, log_path = int(argv[0]), argv[1]
    hold = int(argv[argv.index("--hold-first") + 1]) if "--hold-first" in argv else 0
    failing_until = time.time() + (float(argv[argv.index("--fail-for") + 1]) if "--fail-for" in argv else 0)
    lock, seen = threading.Lock(), [0]

    def write(record: dict[str, Any]) -> None:
        with lock, open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_a: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw or b"{}")
            record = {"id": body.get("id"), "event": body.get("event"), "data": body.get("data"),
                      "attempt": self.headers.get("X-Atendimento-Attempt"), "at": time.time()}
            write({**record, "what": "received"})
            with lock:
                seen[0] += 1
                held = seen[0] <= hold
            if held:
                time.sleep(3600)  # until the test kills this process
            if time.time() < failing_until:
                self.send_response(500)
                self.end_headers()
                write({**record, "what": "failed"})
                return
            self.send_response(204)
            self.end_headers()
            write({**record, "what": "answered"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("receiver ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
