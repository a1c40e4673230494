"""Rate limits per tenant and IP (and what happens without Redis), and /metrics as Prometheus reads it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from api import create_app
from models.infra.config import Settings
from tests.api.conftest import login
from tests.fakes.whatsapp import encode, sign, text_delivery


@pytest.fixture
def limited(settings: Settings, engine: Any, tenants: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(settings.with_(ratelimit_default="3/minute", ratelimit_webhooks="2/minute"))
    yield app
    app.extensions["atendimento.engine"].dispose()


def test_the_agent_api_is_limited_per_tenant_with_a_json_429(limited: Flask) -> None:
    client = limited.test_client()
    ana = login(client, "acme", "ana@acme.example", "pw-ana")  # login counts too (anonymous key)
    statuses = [client.get("/api/me", headers=ana).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    refused = client.get("/api/me", headers=ana)
    assert refused.json["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0
    gina = login(client, "globex", "gina@globex.example", "pw-gina")  # another tenant: its own budget
    assert client.get("/api/me", headers=gina).status_code == 200


def test_webhooks_have_their_own_limit(limited: Flask) -> None:
    client = limited.test_client()
    codes = []
    for i in range(3):
        raw = encode(text_delivery(f"wamid.rl{i}"))
        codes.append(client.post("/webhooks/whatsapp", data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code)
    assert codes == [200, 200, 429]


def test_with_redis_down_requests_are_served_and_limited_in_memory(settings: Settings, engine: Any,
                                                                    tenants: dict[str, Any]) -> None:
    app = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0", ratelimit_default="2/minute"))
    client = app.test_client()
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert [client.get("/api/me", headers=ana).status_code for _ in range(3)] == [200, 200, 429]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["redis"].startswith("down")
    app.extensions["atendimento.engine"].dispose()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_metrics_page_passes_promtool(client: Any, tenants: dict[str, Any]) -> None:
    client.get("/healthz")
    raw = encode(text_delivery("wamid.m1"))
    client.post("/webhooks/whatsapp", data=raw, headers={"Content-Type": "application/json",
                                                         "X-Hub-Signature-256": sign(raw)})
    page = client.get("/metrics")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "flask_http_request_duration_seconds" in text and "atendimento_webhook_events_total" in text
    result = subprocess.run(["promtool", "check", "metrics"], input=page.get_data(), capture_output=True,
                            timeout=30, check=False)
    # promtool exits 1 for lint warnings (e.g. naming hints from libraries) and 3 for invalid exposition.
    assert result.returncode in (0, 1), result.stderr.decode()
    assert b"error" not in result.stderr.lower(), result.stderr.decode()
