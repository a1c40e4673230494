"""Settings: the one place that reads the environment.

Everything else receives a `Settings` object. Tests build one directly (`Settings.from_env({...})`) instead of
touching `os.environ`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DEV_SECRET = "embedded-mode-only-this-key-is-not-secret"  # noqa: S105 - refused outside the embedded mode
MIN_SECRET_LENGTH = 32  # HS256 wants a key at least as long as its hash (RFC 7518, 3.2)


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    return int(env.get(key) or default)


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    return float(env.get(key) or default)


@dataclass(frozen=True)
class Settings:
    """Process configuration. See the README's configuration table for each variable."""

    database_url: str
    redis_url: str | None
    secret_key: str
    data_dir: Path
    public_base_url: str = "http://127.0.0.1:8000"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 7 * 24 * 3600
    whatsapp_graph_base_url: str = "https://graph.facebook.com"
    whatsapp_graph_version: str = "v21.0"
    twilio_api_base_url: str = "https://api.twilio.com"
    sendgrid_api_base_url: str = "https://api.sendgrid.com"
    http_connect_timeout: float = 3.05
    http_read_timeout: float = 10.0
    max_webhook_bytes: int = 1024 * 1024
    socketio_async_mode: str = "threading"
    socketio_channel: str = "flask-socketio"
    socketio_ping_interval: float = 25.0  # engine.io's defaults: a ping every 25 s, a socket silent 20 s after it
    socketio_ping_timeout: float = 20.0  # is dropped (and its agent's presence with it)
    outbox_relay_interval: float = 10.0
    outbox_relay_min_age: float = 5.0
    assignment_sweep_interval: float = 30.0
    presence_grace_seconds: float = 60.0
    sla_check_interval: float = 30.0
    window_warning_lead: float = 3600.0  # warn this long before WhatsApp's 24-hour window closes
    window_check_interval: float = 60.0
    template_sync_interval: float = 3600.0  # beat syncs every WhatsApp channel's templates this often
    task_time_limit: int = 60
    celery_task_events: bool = False  # Celery task events, for Flower / celery-exporter
    celery_visibility_timeout: int = 3600  # Redis re-delivers a task unacknowledged this long (worker died)
    log_level: str = "INFO"
    log_format: str = "text"
    otel_endpoint: str | None = None
    otel_service_name: str | None = None
    worker_metrics_port: int | None = None
    ratelimit_default: str = "100/minute"
    ratelimit_webhooks: str = "6000/minute"
    db_pool_size: int | None = None  # None: the process's own default (API 10 + 20, worker 2 + 4)
    db_max_overflow: int | None = None
    attachment_max_bytes: int = 25 * 1024 * 1024  # per file, any channel kind without its own limit
    attachment_max_bytes_by_kind: tuple[tuple[str, int], ...] = ()  # ATTACHMENT_MAX_BYTES_<KIND> overrides
    attachment_url_ttl: int = 900  # seconds a download link in a message's JSON stays valid
    media_fetch_for: float = 24 * 3600.0  # an inbound media item still unfetched this long after arrival expires
    media_fetch_attempts: int = 20  # ... or after this many failed fetches, whichever comes first
    webhook_retry_for: float = 24 * 3600.0  # a delivery failing this long after its event is dead-lettered
    webhook_disable_after: float = 72 * 3600.0  # an endpoint failing every attempt this long is switched off
    webhooks_allow_private: bool = False  # let endpoints be http:// or resolve to loopback/private addresses
    webhook_cache_seconds: float = 5.0  # how long a process keeps a tenant's subscriptions
    webhook_timeout: float = 10.0  # read timeout of a receiver (connect: HTTP_CONNECT_TIMEOUT)
    s3_bucket: str | None = None  # unset: attachments as files under DATA_DIR/media
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # MinIO or another S3-compatible store; unset = AWS
    s3_region: str | None = None
    s3_public_endpoint_url: str | None = None  # the store as browsers reach it, when not S3_ENDPOINT_URL
    db_ping_idle_seconds: float = 10.0  # a pooled connection idle longer than this is pinged before use
    trusted_proxy_hops: int = 0  # proxies in front of the API whose X-Forwarded-For is believed (ProxyFix x_for)
    login_failure_limit: int = 10  # failed logins per tenant + email within the window before 429
    login_failure_window: int = 900
    inbox_max_attempts: int = 10  # failed runs before an inbox event is dead-lettered
    inbox_requeue_interval: float = 60.0
    inbox_requeue_min_age: float = 60.0  # an unprocessed event younger than this is not re-asked
    inbox_requeue_limit: int = 500  # rows per requeue run (and per batch after a broker restart)
    broker_watch_interval: float = 5.0  # how often beat checks whether Redis restarted empty
    send_callback_wait: float = 60.0  # an interrupted send waits this long for the provider's callback
    send_callback_wait_by_kind: tuple[tuple[str, float], ...] = ()  # SEND_CALLBACK_WAIT_<KIND> overrides

    @property
    def embedded(self) -> bool:
        """No Redis configured: tasks run in this process, Socket.IO has no message queue."""
        return self.redis_url is None

    def callback_wait(self, channel_kind: str) -> float:
        """Seconds an interrupted send of this channel kind waits for the provider's callback before re-sending
        (SEND_CALLBACK_WAIT_<KIND>, else SEND_CALLBACK_WAIT)."""
        return dict(self.send_callback_wait_by_kind).get(channel_kind, self.send_callback_wait)

    def attachment_limit(self, channel_kind: str) -> int:
        """The largest file stored for a channel kind (ATTACHMENT_MAX_BYTES_<KIND>, else ATTACHMENT_MAX_BYTES)."""
        return dict(self.attachment_max_bytes_by_kind).get(channel_kind, self.attachment_max_bytes)

    @property
    def database_kind(self) -> str:
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    def describe(self) -> str:
        """The one log line that says which mode runs."""
        db = "SQLite file" if self.database_kind == "sqlite" else self.database_kind
        if self.embedded:
            return (f"mode=embedded database={db} ({self._safe_db()}) broker=in-process "
                    "socketio=no message queue")
        return (f"mode=real database={db} ({self._safe_db()}) broker=redis "
                f"socketio=redis message queue ({self.socketio_async_mode})")

    def _safe_db(self) -> str:
        url = self.database_url
        if "@" in url:  # hide credentials
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return url

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("DATA_DIR") or "var").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'atendimento.db'}"
        redis_url = env.get("REDIS_URL") or None
        secret = env.get("SECRET_KEY") or ""
        if not secret:
            if redis_url is not None or not database_url.startswith("sqlite"):
                raise RuntimeError("SECRET_KEY must be set when PostgreSQL or Redis is configured")
            secret = DEV_SECRET
        if len(secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret,
            data_dir=data_dir,
            public_base_url=(env.get("PUBLIC_BASE_URL") or cls.public_base_url).rstrip("/"),
            access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", cls.access_token_ttl),
            refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", cls.refresh_token_ttl),
            whatsapp_graph_base_url=(env.get("WHATSAPP_GRAPH_BASE_URL") or cls.whatsapp_graph_base_url).rstrip("/"),
            whatsapp_graph_version=env.get("WHATSAPP_GRAPH_VERSION") or cls.whatsapp_graph_version,
            twilio_api_base_url=(env.get("TWILIO_API_BASE_URL") or cls.twilio_api_base_url).rstrip("/"),
            sendgrid_api_base_url=(env.get("SENDGRID_API_BASE_URL") or cls.sendgrid_api_base_url).rstrip("/"),
            http_connect_timeout=_float(env, "HTTP_CONNECT_TIMEOUT", cls.http_connect_timeout),
            http_read_timeout=_float(env, "HTTP_READ_TIMEOUT", cls.http_read_timeout),
            max_webhook_bytes=_int(env, "MAX_WEBHOOK_BYTES", cls.max_webhook_bytes),
            socketio_async_mode=env.get("SOCKETIO_ASYNC_MODE") or cls.socketio_async_mode,
            socketio_channel=env.get("SOCKETIO_CHANNEL") or cls.socketio_channel,
            socketio_ping_interval=_float(env, "SOCKETIO_PING_INTERVAL", cls.socketio_ping_interval),
            socketio_ping_timeout=_float(env, "SOCKETIO_PING_TIMEOUT", cls.socketio_ping_timeout),
            outbox_relay_interval=_float(env, "OUTBOX_RELAY_INTERVAL", cls.outbox_relay_interval),
            outbox_relay_min_age=_float(env, "OUTBOX_RELAY_MIN_AGE", cls.outbox_relay_min_age),
            assignment_sweep_interval=_float(env, "ASSIGNMENT_SWEEP_INTERVAL", cls.assignment_sweep_interval),
            presence_grace_seconds=_float(env, "PRESENCE_GRACE_SECONDS", cls.presence_grace_seconds),
            sla_check_interval=_float(env, "SLA_CHECK_INTERVAL", cls.sla_check_interval),
            window_warning_lead=_float(env, "WINDOW_WARNING_LEAD", cls.window_warning_lead),
            window_check_interval=_float(env, "WINDOW_CHECK_INTERVAL", cls.window_check_interval),
            template_sync_interval=_float(env, "TEMPLATE_SYNC_INTERVAL", cls.template_sync_interval),
            task_time_limit=_int(env, "TASK_TIME_LIMIT", cls.task_time_limit),
            celery_task_events=(env.get("CELERY_TASK_EVENTS") or "").lower() in ("1", "true", "yes"),
            celery_visibility_timeout=_int(env, "CELERY_VISIBILITY_TIMEOUT", cls.celery_visibility_timeout),
            log_level=(env.get("LOG_LEVEL") or cls.log_level).upper(),
            log_format=env.get("LOG_FORMAT") or cls.log_format,
            otel_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
            otel_service_name=env.get("OTEL_SERVICE_NAME") or None,
            worker_metrics_port=int(env["WORKER_METRICS_PORT"]) if env.get("WORKER_METRICS_PORT") else None,
            ratelimit_default=env.get("RATELIMIT_DEFAULT") or cls.ratelimit_default,
            ratelimit_webhooks=env.get("RATELIMIT_WEBHOOKS") or cls.ratelimit_webhooks,
            db_pool_size=int(env["DB_POOL_SIZE"]) if env.get("DB_POOL_SIZE") else None,
            db_max_overflow=int(env["DB_MAX_OVERFLOW"]) if env.get("DB_MAX_OVERFLOW") else None,
            send_callback_wait=_float(env, "SEND_CALLBACK_WAIT", cls.send_callback_wait),
            send_callback_wait_by_kind=tuple(
                (key.removeprefix("SEND_CALLBACK_WAIT_").lower(), float(value)) for key, value in sorted(env.items())
                if key.startswith("SEND_CALLBACK_WAIT_") and value),
            attachment_max_bytes=_int(env, "ATTACHMENT_MAX_BYTES", cls.attachment_max_bytes),
            attachment_max_bytes_by_kind=tuple(
                (key.removeprefix("ATTACHMENT_MAX_BYTES_").lower(), int(value)) for key, value in sorted(env.items())
                if key.startswith("ATTACHMENT_MAX_BYTES_") and value),
            attachment_url_ttl=_int(env, "ATTACHMENT_URL_TTL", cls.attachment_url_ttl),
            media_fetch_for=_float(env, "MEDIA_FETCH_FOR", cls.media_fetch_for),
            media_fetch_attempts=_int(env, "MEDIA_FETCH_ATTEMPTS", cls.media_fetch_attempts),
            webhook_retry_for=_float(env, "WEBHOOK_RETRY_FOR", cls.webhook_retry_for),
            webhook_disable_after=_float(env, "WEBHOOK_DISABLE_AFTER", cls.webhook_disable_after),
            webhooks_allow_private=(env.get("WEBHOOKS_ALLOW_PRIVATE") or "").lower() in ("1", "true", "yes"),
            webhook_cache_seconds=_float(env, "WEBHOOK_CACHE_SECONDS", cls.webhook_cache_seconds),
            webhook_timeout=_float(env, "WEBHOOK_TIMEOUT", cls.webhook_timeout),
            s3_bucket=env.get("S3_BUCKET") or None,
            s3_prefix=env.get("S3_PREFIX") or "",
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION") or None,
            s3_public_endpoint_url=env.get("S3_PUBLIC_ENDPOINT_URL") or None,
            db_ping_idle_seconds=_float(env, "DB_PING_IDLE_SECONDS", cls.db_ping_idle_seconds),
            trusted_proxy_hops=_int(env, "TRUSTED_PROXY_HOPS", cls.trusted_proxy_hops),
            login_failure_limit=_int(env, "LOGIN_FAILURE_LIMIT", cls.login_failure_limit),
            login_failure_window=_int(env, "LOGIN_FAILURE_WINDOW", cls.login_failure_window),
            inbox_max_attempts=max(1, _int(env, "INBOX_MAX_ATTEMPTS", cls.inbox_max_attempts)),
            inbox_requeue_interval=_float(env, "INBOX_REQUEUE_INTERVAL", cls.inbox_requeue_interval),
            inbox_requeue_min_age=_float(env, "INBOX_REQUEUE_MIN_AGE", cls.inbox_requeue_min_age),
            inbox_requeue_limit=max(1, _int(env, "INBOX_REQUEUE_LIMIT", cls.inbox_requeue_limit)),
            broker_watch_interval=_float(env, "BROKER_WATCH_INTERVAL", cls.broker_watch_interval),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings.from_env()
