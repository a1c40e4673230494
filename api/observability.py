"""Metrics, traces, request ids and rate limits for the API."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from redis.exceptions import RedisError
from werkzeug.middleware.proxy_fix import ProxyFix

from models.infra.budget import LeasedBudget
from models.infra.config import Settings
from models.infra.telemetry import configure_tracing, log_context

log = logging.getLogger(__name__)


def rate_key() -> str:
    """Limits count per API key (whatever the address), else per tenant and client IP: the tenant from a valid
    bearer token, else "anon"."""
    from api.auth import api_key_prefix, decode_token
    from api.errors import ApiError

    prefix = api_key_prefix()
    if prefix is not None:
        return f"key:{prefix}"
    tenant = "anon"
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            from flask import current_app

            tenant = str(decode_token(current_app.extensions["atendimento.settings"],
                                      header.removeprefix("Bearer ").strip())["tid"])
        except ApiError:
            pass
    return f"{tenant}:{get_remote_address()}"


def init_proxy(app: Flask, settings: Settings) -> None:
    """Believe the client address that the last TRUSTED_PROXY_HOPS proxies put in X-Forwarded-For (0: none).

    Behind ops/nginx every request comes from nginx's address: without this, one client's rate limit is
    everyone's, and all providers share one webhook bucket. Set it to exactly the number of proxies: with more,
    a client could forge its address by sending its own X-Forwarded-For.
    """
    if settings.trusted_proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]


class LoginFailures:
    """Failed logins per account (tenant + email), whether the account exists or not: after `limit` failures
    within `window` seconds (counted from the first), logins of that account answer 429 until the window ends.

    Counters live in Redis, so every instance counts together; while Redis is down each process counts in its
    own memory (as the request limits do), so the limit holds per process.
    """

    _LOCAL_MAX = 10_000

    def __init__(self, redis_client: Any | None, limit: int, window: int) -> None:
        self._redis, self.limit, self.window = redis_client, limit, window
        self._local: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(tenant: str, email: str) -> str:
        # Normalised as authentication does it (emails are stored lowercase), hashed: no addresses in Redis.
        digest = hashlib.sha256(f"{tenant}\0{email.lower().strip()}".encode()).hexdigest()
        return f"atendimento:login-failures:{digest}"

    def _local_state(self, key: str) -> tuple[int, float]:
        count, reset_at = self._local.get(key, (0, 0.0))
        return (0, 0.0) if reset_at <= time.monotonic() else (count, reset_at)

    def retry_after(self, tenant: str, email: str) -> int:
        """Seconds until this account may try again; 0 when it may now."""
        key = self._key(tenant, email)
        if self._redis is not None:
            try:
                pipe = self._redis.pipeline()
                pipe.get(key)
                pipe.ttl(key)
                count, ttl = pipe.execute()
                return max(1, int(ttl)) if int(count or 0) >= self.limit else 0
            except RedisError as exc:
                log.warning("login failure counters unavailable (%s): counting in memory", exc.__class__.__name__)
        with self._lock:
            count, reset_at = self._local_state(key)
        return max(1, int(reset_at - time.monotonic() + 0.999)) if count >= self.limit else 0

    def check(self, tenant: str, email: str) -> None:
        """Raise the 429 when the account has failed too often."""
        from api.errors import ApiError

        wait = self.retry_after(tenant, email)
        if wait:
            g.retry_after = wait
            raise ApiError(429, "too_many_login_failures",
                           f"too many failed logins for this account: try again in {wait} seconds",
                           {"retry_after": wait})

    def record(self, tenant: str, email: str) -> None:
        key = self._key(tenant, email)
        if self._redis is not None:
            try:
                pipe = self._redis.pipeline()
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)  # the window starts at the first failure
                pipe.execute()
                return
            except RedisError as exc:
                log.warning("login failure counters unavailable (%s): counting in memory", exc.__class__.__name__)
        with self._lock:
            if len(self._local) >= self._LOCAL_MAX:  # bounded: forget windows that have passed
                now = time.monotonic()
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
            count, reset_at = self._local_state(key)
            self._local[key] = (count + 1, reset_at or time.monotonic() + self.window)

    def clear(self, tenant: str, email: str) -> None:
        """A successful login forgets the account's failures."""
        key = self._key(tenant, email)
        with self._lock:
            self._local.pop(key, None)
        if self._redis is not None:
            with contextlib.suppress(RedisError):  # the counter expires by itself
                self._redis.delete(key)


def init_limiter(app: Flask, settings: Settings, webhooks_blp: Any, exempt: list[Any]) -> Limiter:
    """Redis-backed limits (memory in the embedded mode). If Redis is down, each process falls back to its own
    in-memory counters (limits stay roughly right per process) instead of failing requests."""
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_DEFAULT=settings.ratelimit_default,
        # Two Redis round trips per request (one script to count, one to read the window for the headers) where
        # the fixed window needs three, and no burst of twice the limit across a window boundary.
        RATELIMIT_STRATEGY="sliding-window-counter",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    )
    app.extensions["atendimento.login_failures"] = LoginFailures(
        app.extensions.get("atendimento.redis"), settings.login_failure_limit, settings.login_failure_window)

    @app.after_request
    def _retry_after(response: Response) -> Response:
        # Registered before the limiter's own hook, so it runs after it and its value wins on our 429s.
        if "retry_after" in g and response.status_code == 429:
            response.headers["Retry-After"] = str(g.retry_after)
        return response

    # One limiter per app: flask-limiter keeps per-app state that a shared instance mixes up across app factories.
    limiter = Limiter(key_func=rate_key, app=app)
    app.extensions["atendimento.limiter"] = limiter
    # A filter, not limiter.exempt: exempt blueprints were still walked for limits on every request (~0.1 ms of
    # CPU per webhook); the filter is the limiter's first check.
    unlimited = frozenset(blp.name for blp in (*exempt, webhooks_blp))
    limiter.request_filter(lambda: request.blueprint in unlimited)
    init_webhook_budget(app, settings, webhooks_blp)
    return limiter


def init_webhook_budget(app: Flask, settings: Settings, webhooks_blp: Any) -> None:
    """Providers retry (or, like Twilio, lose the message) when refused: webhooks get their own, higher limit per
    client IP, RATELIMIT_WEBHOOKS, checked before the body is read. A leased budget, not flask-limiter: it costs a
    delivery within its budget no Redis round trip (see models.infra.budget)."""
    from api.errors import ApiError

    budget = LeasedBudget(app.extensions.get("atendimento.redis"), settings.ratelimit_webhooks, "webhooks")

    @app.before_request
    def _webhook_budget() -> None:
        if request.blueprint != webhooks_blp.name:
            return
        wait = budget.take(get_remote_address())
        if wait:
            g.retry_after = wait
            raise ApiError(429, "too_many_requests", f"webhook rate limit exceeded: {settings.ratelimit_webhooks} "
                           f"per client address; retry in {wait} seconds", {"retry_after": wait})


def _make_metrics() -> Any:
    """One exporter per process (app factories may run more than once; the metrics are process-wide).

    Under gunicorn with PROMETHEUS_MULTIPROC_DIR set, every worker writes its own files and /metrics serves
    their sum (mark dead workers from gunicorn's child_exit hook: see ops/gunicorn.conf.py).
    """
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # read by prometheus_client itself, at import
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        return GunicornInternalPrometheusMetrics.for_app_factory(group_by="url_rule")
    from prometheus_flask_exporter import PrometheusMetrics

    return PrometheusMetrics.for_app_factory(group_by="url_rule")


_metrics = _make_metrics()


def init_metrics(app: Flask) -> None:
    """/metrics via prometheus-flask-exporter, not rate limited."""
    _metrics.init_app(app)
    if "prometheus_metrics" in app.view_functions:  # scrapes are not customers
        app.extensions["atendimento.limiter"].exempt(app.view_functions["prometheus_metrics"])


def init_tracing(app: Flask, settings: Settings) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    configure_tracing(settings, "atendimento-api")
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:  # the embedded worker shares this process
        instrumentor.instrument()  # the publishing side puts the trace context into task headers
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics")


# What a caller's X-Request-ID may be to be kept: ids from proxies and tracers (UUIDs, hex, base64url-ish),
# never control characters or markup that would land verbatim in logs and response headers.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plausible id, else a new one (a bad one is replaced, not echoed)."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def init_request_context(app: Flask) -> None:
    """A request id (the caller's X-Request-ID if well-formed, or a new one) on every log line and response."""

    @app.before_request
    def _bind() -> None:
        g.request_id = request_id_of(request.headers.get("X-Request-ID"))
        g.log_ctx = log_context(request_id=g.request_id)
        g.log_ctx.__enter__()

    @app.after_request
    def _stamp(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        ctx = g.pop("log_ctx", None)
        if ctx is not None:
            ctx.__exit__(None, None, None)
