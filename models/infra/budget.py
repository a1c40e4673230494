"""A fleet-wide request budget that costs no Redis round trip for most requests: leased tokens.

The webhook limit (RATELIMIT_WEBHOOKS, per client IP) used to be flask-limiter's: two Redis round trips on
every delivery (one script to count, one to read the window back for the X-RateLimit headers nobody reads on
a webhook). Here a process leases a small block of the window's budget from Redis in one script and spends it
locally; only when the block is used up does it go back. With the default 6 000/minute a lease is 60, so a
provider within its budget costs one round trip per 60 deliveries per process, and a lease of 1 (any limit
under 200 per window) makes it exact, a round trip per request.

The count is a sliding window counter (the previous window's count weighted by how much of it still overlaps,
plus the current one), as flask-limiter's `sliding-window-counter`: no burst of twice the limit across a
boundary. Tokens leased and not spent count as spent, so a fleet of P processes may refuse up to P leases
early in a window: 1 % of the limit each, by the lease size.

While Redis is unreachable each process counts in its own memory (the limit then holds per process), as the
other limits do; a failure is logged once per outage, not per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import parse_many
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS: the current and the previous window's counters. ARGV: limit, lease wanted, weight of the previous
# window, expiry. Grants what room is left, up to the lease; 0 when there is none (and counts nothing then).
_LEASE = """
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = previous * tonumber(ARGV[3]) + tonumber(redis.call('GET', KEYS[1]) or '0')
local room = math.floor(tonumber(ARGV[1]) - used)
if room < 1 then return 0 end
local grant = math.min(tonumber(ARGV[2]), room)
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return grant
"""


@dataclass
class _Held:
    window: int
    tokens: int = 0
    refused_until: float = 0.0


class _Limit:
    """One limit (amount per `seconds`) and the tokens this process holds of it, per key."""

    _LOCAL_MAX = 10_000

    def __init__(self, amount: int, seconds: int, name: str) -> None:
        self.amount, self.seconds, self.name = amount, seconds, name
        self.lease = max(1, amount // 100)
        self.held: dict[str, _Held] = {}
        self.counts: dict[tuple[str, int], int] = {}  # the in-memory fallback's counters

    def redis_keys(self, key: str, window: int) -> list[str]:
        return [f"atendimento:budget:{self.name}:{key}:{window}", f"atendimento:budget:{self.name}:{key}:{window - 1}"]

    def lease_locally(self, key: str, window: int, weight: float) -> int:
        if len(self.counts) > self._LOCAL_MAX:
            self.counts = {k: v for k, v in self.counts.items() if k[1] >= window - 1}
        used = self.counts.get((key, window - 1), 0) * weight + self.counts.get((key, window), 0)
        room = math.floor(self.amount - used)
        if room < 1:
            return 0
        grant = min(self.lease, room)
        self.counts[(key, window)] = self.counts.get((key, window), 0) + grant
        return grant


class LeasedBudget:
    """`spec` (flask-limiter's notation, e.g. "6000/minute" or "100/second;6000/minute") per key, fleet-wide."""

    def __init__(self, redis_client: Any | None, spec: str, name: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._redis, self._clock = redis_client, clock
        self._limits = [_Limit(item.amount, item.get_expiry(), f"{name}:{item.amount}:{item.get_expiry()}")
                        for item in parse_many(spec)]
        self._script = redis_client.register_script(_LEASE) if redis_client is not None else None
        self._lock = threading.Lock()
        self._redis_down = False

    def take(self, key: str) -> int:
        """Spend one request of `key`'s budget: 0 when it may go ahead, else seconds until it may try again."""
        now = self._clock()
        wait = 0
        for limit in self._limits:
            wait = max(wait, self._take(limit, key, now))
        return wait

    def _take(self, limit: _Limit, key: str, now: float) -> int:
        window = int(now // limit.seconds)
        with self._lock:
            held = limit.held.get(key)
            if held is not None and held.window == window:
                if held.refused_until > now:
                    return math.ceil(held.refused_until - now)
                if held.tokens > 0:
                    held.tokens -= 1
                    return 0
        weight = 1 - (now - window * limit.seconds) / limit.seconds
        grant = self._lease(limit, key, window, weight)
        with self._lock:
            if len(limit.held) > limit._LOCAL_MAX:
                limit.held = {k: h for k, h in limit.held.items() if h.window >= window}
            if grant == 0:  # nothing left until this window ends (the sliding count only falls from there)
                limit.held[key] = _Held(window, 0, (window + 1) * limit.seconds)
                return max(1, math.ceil((window + 1) * limit.seconds - now))
            limit.held[key] = _Held(window, grant - 1)
        return 0

    def _lease(self, limit: _Limit, key: str, window: int, weight: float) -> int:
        if self._script is not None:
            try:
                grant = int(self._script(keys=limit.redis_keys(key, window),
                                         args=[limit.amount, limit.lease, weight, 2 * limit.seconds]))
                if self._redis_down:
                    self._redis_down = False
                    log.info("request budget counters reachable again: counting in Redis")
                return grant
            except RedisError as exc:
                if not self._redis_down:
                    self._redis_down = True
                    log.warning("request budget counters unavailable (%s): counting in memory",
                                exc.__class__.__name__)
        with self._lock:
            return limit.lease_locally(key, window, weight)
