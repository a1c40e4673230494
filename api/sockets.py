"""Socket.IO: token check at connect, the rooms a user may hear, and closing the sockets of ended sessions."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, join_room
from redis.exceptions import RedisError
from sqlalchemy import select

from api.auth import user_from_token
from api.db import commit, db
from api.errors import ApiError
from api.extensions import socketio
from models.auth import AuthSession
from models.base import utcnow
from models.infra import realtime
from models.org import User
from models.services import agents
from models.services.agents import rooms_of
from models.tickets import Ticket

log = logging.getLogger(__name__)


class SessionSockets:
    """Which socket (sid) belongs to which session family, per user, across every API instance: a Redis hash
    per user (sid -> family id); this process's memory in the embedded mode."""

    _TTL = 24 * 3600  # a sid left behind by a crashed instance is forgotten after a day

    def __init__(self, redis_client: Any | None) -> None:
        self._redis = redis_client
        self._local: dict[int, dict[str, str]] = {}

    @staticmethod
    def _key(user_id: int) -> str:
        return f"atendimento:auth:sockets:{user_id}"

    def add(self, user_id: int, sid: str, family_id: str) -> None:
        if self._redis is None:
            self._local.setdefault(user_id, {})[sid] = family_id
            return
        pipe = self._redis.pipeline()
        pipe.hset(self._key(user_id), sid, family_id)
        pipe.expire(self._key(user_id), self._TTL)
        pipe.execute()

    def remove(self, user_id: int, sid: str) -> None:
        if self._redis is None:
            self._local.get(user_id, {}).pop(sid, None)
        else:
            self._redis.hdel(self._key(user_id), sid)

    def sids(self, user_id: int, families: set[str] | None) -> list[str]:
        """The user's sids in these families (every family when None)."""
        if self._redis is None:
            found = dict(self._local.get(user_id, {}))
        else:
            found = {k.decode(): v.decode() for k, v in self._redis.hgetall(self._key(user_id)).items()}
        return sorted(sid for sid, fam in found.items() if families is None or fam in families)


def _sockets() -> SessionSockets:
    registry = current_app.extensions.get("atendimento.session_sockets")
    if registry is None:
        registry = SessionSockets(current_app.extensions.get("atendimento.redis"))
        current_app.extensions["atendimento.session_sockets"] = registry
    return registry


def disconnect_sessions(user_id: int, families: set[str] | None = None) -> None:
    """Close the user's sockets of these session families (all when None), after the ending was committed.

    `server.disconnect` of a sid held by another instance is published on the Socket.IO message queue and
    carried out by that instance. With Redis down the sockets stay open until they reconnect (and are refused):
    their tokens are refused at once anyway, since the session check is in PostgreSQL.
    """
    try:
        sids = _sockets().sids(user_id, families)
    except RedisError as exc:
        log.warning("cannot list the sockets of user %s to close them (%s)", user_id, exc.__class__.__name__)
        return
    for sid in sids:
        socketio.server.disconnect(sid, namespace="/")


def _family_live(family_id: str) -> bool:
    # A column query, not an entity: not served from the session's identity map, read afresh (READ COMMITTED).
    return db().scalar(select(AuthSession.ended_at.is_(None)).where(AuthSession.id == family_id)) is True


@socketio.on("connect")
def connect(auth: dict[str, Any] | None = None) -> None:
    """Refuse a missing, bad, expired or ended access token; join the user's own tenant-scoped rooms."""
    token = (auth or {}).get("token") if isinstance(auth, dict) else None
    if not token:
        raise ConnectionRefusedError("unauthorized: pass {token} in the connect auth")
    try:
        user, claims = user_from_token(current_app.extensions["atendimento.settings"], str(token))
    except ApiError as exc:
        raise ConnectionRefusedError(f"unauthorized: {exc.message}") from exc
    # Registered before the second look at the session: an ending committed before that look is seen here, one
    # committed after it finds this sid in the registry and closes the socket. Either way, none survives.
    _sockets().add(user.id, request.sid, claims["fam"])  # type: ignore[attr-defined]
    if not _family_live(claims["fam"]):
        _sockets().remove(user.id, request.sid)  # type: ignore[attr-defined]
        raise ConnectionRefusedError("unauthorized: this session has ended")
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
    with contextlib.suppress(RedisError):  # forgotten after its TTL; closing a sid that is gone does nothing
        _sockets().remove(user_id, request.sid)  # type: ignore[attr-defined]
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
