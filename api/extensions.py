"""Unbound extensions, bound to the app in `create_app`."""

from __future__ import annotations

from flask_smorest import Api
from flask_socketio import SocketIO


class AtendimentoApi(Api):
    """flask-smorest, documenting our error shape instead of its own (see api.errors)."""

    def __init__(self) -> None:
        from api.schemas import ErrorSchema

        self.ERROR_SCHEMA = ErrorSchema
        super().__init__()


api = AtendimentoApi()
socketio = SocketIO()
