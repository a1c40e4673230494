"""Worker telemetry: task metrics, a /metrics server for prefork workers, tracing and log context.

Connected to Celery's signals by `install`, called from the app module. Prefork children share metrics
through PROMETHEUS_MULTIPROC_DIR; the parent serves their sum on WORKER_METRICS_PORT and marks children dead
when they exit, so their gauges do not linger.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram

from models.infra.config import get_settings
from models.infra.telemetry import configure_logging, configure_tracing, log_context

TASKS = Counter("atendimento_tasks_total", "Task runs by outcome", ["task", "outcome"])
TASK_SECONDS = Histogram("atendimento_task_seconds", "Task run time", ["task"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
_started: dict[str, tuple[float, Any]] = {}


def _on_prerun(task_id: str, task: Any, **_kw: Any) -> None:
    ctx = log_context(task_id=task_id, task=task.name)
    ctx.__enter__()
    _started[task_id] = (time.perf_counter(), ctx)


def _on_postrun(task_id: str, task: Any, state: str | None = None, **_kw: Any) -> None:
    started, ctx = _started.pop(task_id, (None, None))
    if started is not None:
        TASK_SECONDS.labels(task=task.name).observe(time.perf_counter() - started)
    TASKS.labels(task=task.name, outcome=(state or "unknown").lower()).inc()
    if ctx is not None:
        ctx.__exit__(None, None, None)


def _on_process_init(**_kw: Any) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    settings = get_settings()
    configure_logging(settings)
    configure_tracing(settings, "atendimento-worker")
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:  # the embedded mode's API instrumented it already
        instrumentor.instrument()


def _on_process_shutdown(pid: int | None = None, **_kw: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _on_worker_init(**_kw: Any) -> None:
    settings = get_settings()
    configure_logging(settings)
    if settings.worker_metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            start_http_server(settings.worker_metrics_port, registry=registry)
        else:
            start_http_server(settings.worker_metrics_port)


def install() -> None:
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
    signals.worker_process_init.connect(_on_process_init, weak=False)
    signals.worker_process_shutdown.connect(_on_process_shutdown, weak=False)
    signals.worker_init.connect(_on_worker_init, weak=False)
    # Solo/threads pools and the embedded worker have no child process init: trace from the start.
    signals.celeryd_init.connect(_on_process_init, weak=False)
