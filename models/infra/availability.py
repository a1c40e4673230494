"""A fleet-wide cache, in Redis, of "does this queue have an online agent with room?".

Assignment asks it before taking any lock, so a burst of tickets for a queue nobody can serve costs one
Redis GET each instead of a locking transaction each. The database stays the source of truth: a miss or
a Redis error computes the answer from the database, and the decision itself is always made under row locks.

Stale answers are prevented by generations: every change that can alter the answer (status, assignment,
close, transfer, membership, capacity) increments the queue's generation after its commit, and values are
stored under their generation. A reader that computed from an older snapshot writes to an old generation's
key, which nobody reads any more. Values also expire (TTL) as a last resort.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from models.infra.db import after_commit

log = logging.getLogger(__name__)


class Availability:
    def __init__(self, redis_client: Any | None, ttl_seconds: int = 30) -> None:
        self._redis = redis_client
        self._ttl = ttl_seconds

    @staticmethod
    def _gen(queue_id: int) -> str:
        return f"atendimento:avail:gen:{queue_id}"

    def has_room(self, queue_id: int, compute: Callable[[], bool]) -> bool:
        if self._redis is None:
            return compute()
        try:
            gen = int(self._redis.get(self._gen(queue_id)) or 0)
            key = f"atendimento:avail:{queue_id}:{gen}"
            cached = self._redis.get(key)
            if cached is not None:
                return cached == b"1"
            answer = compute()
            self._redis.set(key, b"1" if answer else b"0", ex=self._ttl)
            return answer
        except Exception as exc:  # Redis down or slow: the database answers
            log.warning("availability cache unavailable (%s); using the database", exc.__class__.__name__)
            return compute()

    def invalidate_after_commit(self, session: Session, queue_ids: Iterable[int]) -> None:
        ids = sorted(set(queue_ids))
        redis = self._redis  # a local, so the closure below keeps the not-None narrowing
        if redis is None or not ids:
            return

        def bump() -> None:
            try:
                pipe = redis.pipeline()
                for queue_id in ids:
                    pipe.incr(self._gen(queue_id))
                pipe.execute()
            except Exception as exc:  # entries still expire after the TTL; the sweep assigns meanwhile
                log.warning("could not invalidate availability (%s)", exc.__class__.__name__)

        after_commit(session, bump)


NO_CACHE = Availability(None)


def availability_of(session: Session) -> Availability:
    return session.info.get("availability") or NO_CACHE
