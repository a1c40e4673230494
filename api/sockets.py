"""Socket.IO: token check at connect and the rooms a user may hear. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import select

from api.auth import user_from_token
from api.db import commit, db
from api.errors import ApiError
from api.extensions import socketio
from models.base import utcnow
from models.infra import realtime
from models.org import User
from models.services import agents
from models.services.agents import rooms_of
from models.tickets import Ticket


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
    for room in rooms_of(db(), user):
        join_room(room)
    session["user_id"], session["tenant_id"] = user.id, user.tenant_id
    current_app.extensions["atendimento.presence"].connect(user.id, request.sid)  # type: ignore[attr-defined]
    agents.socket_connected(db(), user)
    commit()


@socketio.on("disconnect")
def disconnect(*_args: Any) -> None:
    """When a user's last socket (on any instance) closes, their grace period starts."""
    user_id = session.get("user_id")
    if user_id is None:
        return
    left = current_app.extensions["atendimento.presence"].disconnect(user_id, request.sid)  # type: ignore[attr-defined]
    if left == 0:
        user = db().get(User, user_id)
        if user is not None:
            agents.last_socket_closed(db(), user, utcnow())
            commit()


@socketio.on("subscribe")
def subscribe(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Follow one ticket's room; only a ticket of the socket's own tenant."""
    ticket_id = (data or {}).get("ticket_id") if isinstance(data, dict) else None
    if not isinstance(ticket_id, int) or "user_id" not in session:
        return {"ok": False, "error": "ticket_id (integer) required"}
    ticket = db().scalar(select(Ticket).where(Ticket.id == ticket_id, Ticket.tenant_id == session["tenant_id"]))
    if ticket is None:
        return {"ok": False, "error": "not_found"}
    join_room(realtime.ticket_room(ticket.tenant_id, ticket.id))
    return {"ok": True}
