"""Logs, traces and per-request/task context, shared by the API and the workers.

Every log line carries level, logger, message, tenant, request id, task id, trace_id and span_id, so a slow
message can be followed from the webhook request into the tasks it caused. Traces are exported over OTLP only
when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise spans are made (ids for the logs) but go nowhere.
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

from models.config import Settings

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


def configure_logging(settings: Settings) -> None:
    """Root logger to stderr, JSON lines when LOG_FORMAT=json. Idempotent."""
    root = logging.getLogger()
    if getattr(root, "_atendimento", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
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


def configure_tracing(settings: Settings, service: str, extra_processor: SpanProcessor | None = None) -> None:
    """Install the tracer provider and the library instrumentations used by both transports. Idempotent.

    `extra_processor` lets a test collect spans in memory.
    """
    if getattr(trace.get_tracer_provider(), "_atendimento", False):
        if extra_processor is not None:
            trace.get_tracer_provider().add_span_processor(extra_processor)  # type: ignore[attr-defined]
        return
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name or service}))
    if settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    provider._atendimento = True  # type: ignore[attr-defined]
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument()
    RedisInstrumentor().instrument()
    RequestsInstrumentor().instrument()
