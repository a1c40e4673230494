"""Socket.IO: token check at connect and the rooms a user may hear. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import select

from api.auth import user_from_token
from api.db import db
from api.errors import ApiError
from api.extensions import socketio
from models import realtime
from models.org import QueueMember, Role


@socketio.on("connect")
def connect(auth: dict[str, Any] | None = None) -> None:
    """Refuse a missing, bad or expired access token; join the user's own tenant-scoped rooms."""
    token = (auth or {}).get("token") if isinstance(auth, dict) else None
    if not token:
        raise ConnectionRefusedError("unauthorized: pass {token} in the connect auth")
    try:
        user = user_from_token(current_app.extensions["atendimento.settings"], str(token))
    except ApiError as exc:
        raise ConnectionRefusedError(f"unauthorized: {exc.message}") from exc
    tid = user.tenant_id
    join_room(realtime.tenant_room(tid))
    join_room(realtime.agent_room(tid, user.id))
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        join_room(realtime.supervisors_room(tid))
    for queue_id in db().scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user.id)):
        join_room(realtime.queue_room(tid, queue_id))
    db().close()
