"""A circuit breaker per provider and channel whose state lives in Redis, shared by every worker process.

Why not the `circuitbreaker` package (2.1.3, listed in setup.cfg): its state lives in each process, so an outage
opens it once per worker process, after `threshold x processes` failed calls; its half-open state lets every
caller through at once instead of one trial call; an exception it was not told about resets it to closed; and as
a decorator that raises, it cannot tell a Celery task how long to wait before asking again. Wrapping it would
have meant replacing its storage, its half-open rule and its error handling, which is all of it; this module is
the same three-state machine, with the state in one Redis hash and every transition made by one Lua script.

States (hash `atendimento:circuit:{provider}:{channel}`; `channel` is our channel row id):

- `closed`: calls go through. FAILURE_THRESHOLD consecutive failures, counted across the fleet, open it.
- `open`: calls are refused until OPEN_SECONDS have passed; `Permit.retry_in` says how long that still is.
- `half_open`: the first `allow` after the open period turns the state to half-open and takes the single probe
  lease (PROBE_LEASE seconds); every other caller is refused and told to ask again in HALF_OPEN_POLL seconds. The
  probe's success closes the breaker, its failure opens it again; results of other calls are ignored. A probe
  whose process dies never reports: its lease expires and the next caller becomes the probe.

Exactly one caller performs each transition (the script runs atomically), so each transition is logged once for
the whole fleet, sets the gauge `atendimento_circuit_state{provider,channel}` (0 closed, 1 half-open, 2 open;
"mostrecent" across processes in Prometheus multiprocess mode) and counts
`atendimento_circuit_transitions_total{provider,channel,to}`.

Time is an argument (epoch seconds): the scripts compare the caller's clock, never Redis' own, so tests drive it.

Policy: the constants below; `HSET atendimento:circuit:policy failure_threshold 10 open_seconds 60 probe_lease 30`
changes them for the whole fleet at once, without a deploy (the scripts read that hash on every call). The fault
tests use it to shorten the open period.

Redis unavailable: `allow` answers "allowed" and logs a warning (at most once per LOG_EVERY seconds per process).
A Redis outage must never stop every send; each call still has its own timeouts and the task's retries.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from prometheus_client import Counter, Gauge
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = logging.getLogger(__name__)

FAILURE_THRESHOLD = 5  # consecutive failed calls, fleet-wide
OPEN_SECONDS = 30.0  # refuse calls this long after opening
PROBE_LEASE = 20.0  # the half-open probe's exclusivity; above a provider call's connect + read timeouts
HALF_OPEN_POLL = 2.0  # while the probe is out, others ask again after at most this
KEY_TTL = 24 * 3600  # a breaker nobody touched for a day is forgotten (= closed)
LOG_EVERY = 30.0  # seconds between "Redis unavailable" warnings in one process
PREFIX = "atendimento:circuit"
POLICY_KEY = f"{PREFIX}:policy"

STATES = {"closed": 0, "half_open": 1, "open": 2}

CIRCUIT_STATE = Gauge("atendimento_circuit_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open",
                      ["provider", "channel"], multiprocess_mode="mostrecent")
CIRCUIT_TRANSITIONS = Counter("atendimento_circuit_transitions_total", "Circuit breaker state changes",
                              ["provider", "channel", "to"])

# KEYS: state hash, policy hash. ARGV: now, token, probe lease, half-open poll, key ttl.
# Returns {verdict (0 refused, 1 allowed, 2 allowed as the probe), state before, state after, retry_in}.
_ALLOW = """
local now = tonumber(ARGV[1])
local lease = tonumber(redis.call('HGET', KEYS[2], 'probe_lease') or ARGV[3])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {1, state, state, '0'} end
local before = state
if state == 'open' then
  local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
  if now < open_until then return {0, state, state, tostring(open_until - now)} end
  state = 'half_open'
  redis.call('HSET', KEYS[1], 'state', state)
  redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe_until then
  return {0, before, state, tostring(math.min(probe_until - now, tonumber(ARGV[4])))}
end
redis.call('HSET', KEYS[1], 'probe', ARGV[2], 'probe_until', tostring(now + lease))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {2, before, state, '0'}
"""

# KEYS: state hash, policy hash. ARGV: now, token, ok ('1'/'0'), failure threshold, open seconds, key ttl.
# Returns {state before, state after}.
_RECORD = """
local now = tonumber(ARGV[1])
local threshold = tonumber(redis.call('HGET', KEYS[2], 'failure_threshold') or ARGV[4])
local open_for = tonumber(redis.call('HGET', KEYS[2], 'open_seconds') or ARGV[5])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local is_probe = state == 'half_open' and redis.call('HGET', KEYS[1], 'probe') == ARGV[2]
if ARGV[3] == '1' then
  if state == 'closed' then
    redis.call('HDEL', KEYS[1], 'failures')
    return {state, state}
  end
  if is_probe then
    redis.call('DEL', KEYS[1])
    return {state, 'closed'}
  end
  return {state, state}
end
if state == 'closed' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  if failures < threshold then return {state, state} end
elseif not is_probe then
  return {state, state}
end
redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', tostring(now + open_for), 'failures', '0')
redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {state, 'open'}
"""

# KEYS: state hash. ARGV: token. Gives the probe lease back when the probe made no call.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'probe') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Permit:
    """The answer to "may I call the provider now?"."""

    allowed: bool
    probe: bool = False  # this call is the half-open trial: its result decides the state
    token: str = ""
    retry_in: float = 0.0  # when refused: seconds until asking again makes sense
    state: str = "closed"  # as this call saw it; "unknown" when Redis did not answer, "disabled" without Redis


class Breakers:
    """The breakers of every (provider, channel), sharing one Redis client and one policy.

    `client` None disables them (the embedded mode has one process and no Redis): everything is allowed.
    """

    def __init__(self, client: redis.Redis | None, *, failure_threshold: int = FAILURE_THRESHOLD,
                 open_seconds: float = OPEN_SECONDS, probe_lease: float = PROBE_LEASE,
                 half_open_poll: float = HALF_OPEN_POLL) -> None:
        self.client = client
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.probe_lease = probe_lease
        self.half_open_poll = half_open_poll
        self._last_warning: float | None = None
        if client is not None:
            self._allow = client.register_script(_ALLOW)
            self._record = client.register_script(_RECORD)
            self._release = client.register_script(_RELEASE)

    def get(self, provider: str, channel: str | int) -> Breaker:
        return Breaker(self, provider, str(channel))

    def _unavailable(self, exc: Exception, now: float) -> None:
        if self._last_warning is None or now - self._last_warning >= LOG_EVERY or now < self._last_warning:
            self._last_warning = now
            log.warning("circuit breaker state unavailable (Redis: %s); sends are allowed until it is back", exc)


class Breaker:
    """One provider and channel. Call `allow` before the provider call and `record` (or `release`) after it."""

    def __init__(self, group: Breakers, provider: str, channel: str) -> None:
        self.group = group
        self.provider = provider
        self.channel = channel
        self.key = f"{PREFIX}:{provider}:{channel}"

    def allow(self, now: float) -> Permit:
        """May this caller call the provider now? In half-open, exactly one caller fleet-wide gets `probe=True`."""
        g = self.group
        if g.client is None:
            return Permit(True, state="disabled")
        token = uuid.uuid4().hex
        try:
            verdict, before, after, retry_in = g._allow(keys=[self.key, POLICY_KEY],
                                                        args=[repr(now), token, g.probe_lease, g.half_open_poll,
                                                              KEY_TTL])
        except RedisError as exc:
            g._unavailable(exc, now)
            return Permit(True, token=token, state="unknown")
        after = _text(after)
        self._moved(_text(before), after, now)
        return Permit(allowed=int(verdict) > 0, probe=int(verdict) == 2, token=token,
                      retry_in=max(float(_text(retry_in)), 0.0), state=after)

    def record(self, permit: Permit, ok: bool, now: float) -> None:
        """Report how the permitted call went: `ok` means the provider answered (even with a refusal)."""
        g = self.group
        if g.client is None:
            return
        try:
            before, after = g._record(keys=[self.key, POLICY_KEY],
                                      args=[repr(now), permit.token, "1" if ok else "0", g.failure_threshold,
                                            g.open_seconds, KEY_TTL])
        except RedisError as exc:
            g._unavailable(exc, now)
            return
        self._moved(_text(before), _text(after), now)

    def release(self, permit: Permit) -> None:
        """Give the probe lease back unused (the call was not made), so the next caller may probe at once."""
        if self.group.client is None or not permit.probe:
            return
        try:
            self.group._release(keys=[self.key], args=[permit.token])
        except RedisError as exc:
            log.warning("circuit %s/%s: could not release the probe lease (%s); it expires by itself",
                        self.provider, self.channel, exc)

    def state(self) -> str:
        """The stored state, without moving it (an expired open period still reads `open`)."""
        if self.group.client is None:
            return "disabled"
        return _text(self.group.client.hget(self.key, "state") or b"closed")

    def _moved(self, before: str, after: str, now: float) -> None:
        if before == after:
            return
        CIRCUIT_STATE.labels(self.provider, self.channel).set(STATES[after])
        CIRCUIT_TRANSITIONS.labels(self.provider, self.channel, after).inc()
        level = logging.WARNING if after == "open" else logging.INFO
        log.log(level, "circuit %s/%s: %s -> %s at %.3f", self.provider, self.channel, before, after, now)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def connect(url: str, timeout: float = 0.5) -> redis.Redis:
    """A client for the breakers: short timeouts and no retries, so a dead Redis costs a send ~`timeout`, once."""
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))


@lru_cache(maxsize=4)
def shared(redis_url: str | None) -> Breakers:
    """This process's breakers for `redis_url` (None: disabled). redis-py re-opens its connections after a fork."""
    return Breakers(connect(redis_url) if redis_url else None)
