"""Unbound extensions, bound to the app in `create_app`."""

from __future__ import annotations

from flask_smorest import Api
from flask_socketio import SocketIO

api = Api()
socketio = SocketIO()
