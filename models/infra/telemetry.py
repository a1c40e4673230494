"""Logs, traces and per-request/task context, shared by the API and the workers.

Every log line carries level, logger, message, tenant, request id, task id, trace_id and span_id, so a slow
message can be followed from the webhook request into the tasks it caused. Traces are exported over OTLP only
when OTEL_EXPORTER_OTLP_ENDPOINT is set (sampled as OTEL_TRACES_SAMPLER says, every trace by default). Without an
endpoint nothing would read a span, so none is recorded: trace and span ids are still made and propagated (the logs
and the task headers carry them), at the cost of a no-op span instead of one with attributes per SQL statement.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler, SamplingResult

from models.infra import tasks
from models.infra.config import Settings

_TEXT = "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s tenant=%(tenant)s] %(message)s"
_context: ContextVar[dict[str, Any]] = ContextVar("atendimento_log_context", default={})  # noqa: B039 - never mutated


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Add fields (tenant, request_id, task_id) to every log line inside the block."""
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Stamps each record with the bound context and the current trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for key in ("tenant", "request_id", "task_id"):
            setattr(record, key, ctx.get(key))
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        return True


class RoutineFilter(logging.Filter):
    """Quiet, useful logs: beat's periodic runs and the development server's boilerplate drop to DEBUG.

    Celery logs every scheduled send, receipt and success at INFO, so beat's dozen periodic jobs would print
    several lines a minute each, burying the lines that matter; Werkzeug (embedded mode only) adds two warnings
    that contradict each other. Such a record is relabelled DEBUG and shown only when LOG_LEVEL=DEBUG.
    """

    _CELERY = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
    _WERKZEUG = ("development server", "production deployment", "Press CTRL+C")

    def __init__(self, periodic: tuple[str, ...]) -> None:
        super().__init__()
        self._names = tuple(f"{name}[" for name in periodic) + tuple(f"({name})" for name in periodic)

    def _routine(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and record.name != "werkzeug":
            return False
        message = record.getMessage()
        if record.name in self._CELERY:
            return any(name in message for name in self._names) or "beat: Starting" in message
        return record.name == "werkzeug" and any(text in message for text in self._WERKZEUG)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._routine(record):
            return True
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def configure_logging(settings: Settings) -> None:
    """Root logger to stderr, JSON lines when LOG_FORMAT=json. Idempotent."""
    root = logging.getLogger()
    if getattr(root, "_atendimento", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RoutineFilter(tasks.PERIODIC))
    if settings.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(request_id)s %(task_id)s "
            "%(trace_id)s %(span_id)s", rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root._atendimento = True  # type: ignore[attr-defined]


class _SampleWhenRead(Sampler):
    """Records no span until a span processor is installed, then samples as the SDK's default does.

    Tracers keep the sampler object they were made with, so switching happens inside it.
    """

    def __init__(self) -> None:
        self._delegate: Sampler = ALWAYS_OFF

    def read(self) -> None:
        self._delegate = TracerProvider(shutdown_on_exit=False).sampler  # OTEL_TRACES_SAMPLER, or always on

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return self._delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"SampleWhenRead({self._delegate.get_description()})"


def configure_tracing(settings: Settings, service: str, extra_processor: SpanProcessor | None = None) -> None:
    """Install the tracer provider and the library instrumentations used by both transports. Idempotent.

    `extra_processor` lets a test collect spans in memory.
    """
    current = trace.get_tracer_provider()
    if getattr(current, "_atendimento", False):
        if extra_processor is not None:
            current.sampler.read()  # type: ignore[attr-defined]
            current.add_span_processor(extra_processor)  # type: ignore[attr-defined]
        return
    sampler = _SampleWhenRead()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name or service}),
                              sampler=sampler)
    if settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    if settings.otel_endpoint or extra_processor is not None:
        sampler.read()
    provider._atendimento = True  # type: ignore[attr-defined]
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument()
    RedisInstrumentor().instrument()
    RequestsInstrumentor().instrument()
