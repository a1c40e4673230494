"""The baseline for the socket memory benchmark: a bare python-socketio server in gevent mode on the same Redis
message queue, whose connect handler only checks that a token was sent and joins one room.

Run with the Socket.IO tier's worker, from the repository root with REDIS_URL set:
`gunicorn --worker-class gevent --workers 1 'ops.bench.socket_baseline:create_app()'`.
"""

from __future__ import annotations

import os
from typing import Any

import socketio


def create_app() -> Any:
    mgr = socketio.RedisManager(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                                channel=os.environ.get("SOCKETIO_CHANNEL", "baseline"))
    sio = socketio.Server(async_mode="gevent", client_manager=mgr, cors_allowed_origins="*")

    @sio.event
    def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if not (isinstance(auth, dict) and auth.get("token")):
            return False
        sio.enter_room(sid, "everyone")
        return True

    def readyz(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "ok"}']

    return socketio.WSGIApp(sio, readyz)
