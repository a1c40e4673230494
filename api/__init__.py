"""The HTTP and Socket.IO API. WSGI entry point: `api:create_app()`."""

from api.app import create_app

__all__ = ["create_app"]
