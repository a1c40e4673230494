"""Which users have a live Socket.IO connection, across every API instance (a Redis set of sids per user).

Without Redis (the embedded mode: one process) the sets live in this process's memory. A crashed API
instance leaves its sids behind until they expire (a day), so such a user stays "connected" until then.
"""

from __future__ import annotations

from typing import Any

_TTL = 24 * 3600


class Presence:
    def __init__(self, redis_client: Any | None) -> None:
        self._redis = redis_client
        self._local: dict[int, set[str]] = {}

    @staticmethod
    def _key(user_id: int) -> str:
        return f"atendimento:presence:{user_id}"

    def connect(self, user_id: int, sid: str) -> None:
        if self._redis is None:
            self._local.setdefault(user_id, set()).add(sid)
            return
        pipe = self._redis.pipeline()
        pipe.sadd(self._key(user_id), sid)
        pipe.expire(self._key(user_id), _TTL)
        pipe.execute()

    def disconnect(self, user_id: int, sid: str) -> int:
        """Forget one socket; returns how many the user still has."""
        if self._redis is None:
            sids = self._local.get(user_id, set())
            sids.discard(sid)
            return len(sids)
        pipe = self._redis.pipeline()
        pipe.srem(self._key(user_id), sid)
        pipe.scard(self._key(user_id))
        return int(pipe.execute()[1])

    def connected(self, user_id: int) -> bool:
        if self._redis is None:
            return bool(self._local.get(user_id))
        return bool(self._redis.scard(self._key(user_id)))
