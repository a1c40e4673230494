"""A prefork worker serves its children's metrics (multiprocess files) on WORKER_METRICS_PORT, in a format
promtool accepts."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import SECRET
from tests.harness.processes import BIN, Proc, child_env, free_port, wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_worker_metrics_page(database_url: str, redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET, DATA_DIR=str(tmp_path),
                    WORKER_METRICS_PORT=str(port), PROMETHEUS_MULTIPROC_DIR=str(prom_dir),
                    SOCKETIO_CHANNEL=f"m-{uuid.uuid4().hex[:6]}")
    worker = Proc("worker", [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "2",
                             "--without-mingle", "--without-gossip", "--hostname", f"metrics-{port}@%h"],
                  env, tmp_path)
    try:
        page = wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1), timeout=40,
                          what="worker /metrics")
        assert page.status_code == 200
        result = subprocess.run(["promtool", "check", "metrics"], input=page.content, capture_output=True,
                                timeout=30, check=False)
        assert result.returncode in (0, 1) and b"error" not in result.stderr.lower(), result.stderr.decode()
    except BaseException:
        print(worker.tail())
        raise
    finally:
        worker.stop()
