"""One trace from the webhook request into the triage, assignment and send tasks it causes.

Runs the API and a real Celery worker in this process (the embedded mode's memory broker), so an in-memory
span exporter sees both sides; the context still travels the way it does in production: in the Celery
message headers, and in the outbox row's headers when the relay publishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.worker import WorkController
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api import create_app
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.infra.telemetry import configure_tracing
from models.org import Channel
from models.services.accounts import provision
from tests.conftest import TENANTS, migrate
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery


@pytest.fixture
def embedded(tmp_path: Path, graph: GraphServer) -> Iterator[tuple[Any, InMemorySpanExporter]]:
    from workers import runtime
    from workers.app import app as celery_app

    exporter = InMemorySpanExporter()
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "WHATSAPP_GRAPH_BASE_URL": graph.url})
    migrate(settings.database_url)
    engine = make_engine(settings)
    with make_session_factory(engine, RecordingBus())() as s, s.begin():
        provision(s, TENANTS)
        channel = s.query(Channel).filter_by(external_id="106540352242922").one()
        channel.settings = {"triage": {"greeting": "Olá! Já vamos atender."}}
    configure_tracing(settings, "test", extra_processor=SimpleSpanProcessor(exporter))
    app = create_app(settings)
    runtime.use(settings=settings)
    worker = WorkController(app=celery_app, pool_cls="solo", concurrency=1, without_heartbeat=True,
                            without_mingle=True, without_gossip=True, hostname="tracing@test")
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    try:
        yield app, exporter
    finally:
        worker.stop()
        runtime.use()
        engine.dispose()


def test_a_webhook_trace_continues_into_its_tasks(embedded: tuple[Any, InMemorySpanExporter],
                                                  graph: GraphServer) -> None:
    app, exporter = embedded
    before = len(graph.requests)
    raw = encode(text_delivery("wamid.trace1"))
    resp = app.test_client().post("/webhooks/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
    assert resp.status_code == 200
    graph.wait_for(before + 1, timeout=60)  # the bot's greeting went out: triage -> send ran

    def task_spans() -> dict[str, Any]:
        return {s.name: s for s in exporter.get_finished_spans() if s.name.startswith("run/")}

    deadline = time.monotonic() + 60  # generous: a loaded box (parallel runs) is slow, never wrong
    while time.monotonic() < deadline and not {"run/triage.process_event", "run/assignment.assign_queue",
                                               "run/outbound.send_message"} <= set(task_spans()):
        time.sleep(0.1)
    spans = task_spans()
    request = next(s for s in exporter.get_finished_spans() if s.kind.name == "SERVER" and
                   "/webhooks/whatsapp" in (s.attributes or {}).get("http.route", s.name))
    trace_id = request.context.trace_id
    for name in ("run/triage.process_event", "run/assignment.assign_queue", "run/outbound.send_message"):
        assert spans[name].context.trace_id == trace_id, name
