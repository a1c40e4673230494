"""A local S3 endpoint speaking the real wire protocol (moto's standalone server), for the object-store tests."""

from __future__ import annotations

import socket

from moto.server import ThreadedMotoServer

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-0123456789"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """Serves S3 on 127.0.0.1; `url` is the endpoint to give S3_ENDPOINT_URL."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.stop()
