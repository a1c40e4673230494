"""`atendimento run|migrate`: the whole system from one command.

Embedded mode (no REDIS_URL): one process holds the API, a Celery worker thread and beat, all on Celery's
in-memory broker, and the worker emits through this process's Socket.IO server. Real mode: the API under
gunicorn, plus `celery -A workers worker` and `celery -A workers beat` as child processes.

This is the one module of `api` that imports `workers` (see the import-linter contract in setup.cfg).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from api.app import create_app
from api.extensions import socketio
from models.infra.config import get_settings

log = logging.getLogger("atendimento")


def serve(host: str, port: int) -> int:
    settings = get_settings()
    if settings.embedded:
        return _serve_embedded(host, port)
    return _serve_real(host, port)


def _serve_embedded(host: str, port: int) -> int:
    from celery.beat import EmbeddedService
    from celery.worker import WorkController

    from workers import runtime
    from workers.app import app as celery_app

    settings = get_settings()
    flask_app = create_app(settings)

    def emit(name: str, data: dict[str, Any], rooms: list[str]) -> None:
        socketio.emit(name, data, to=rooms)

    runtime.use(emit=emit, presence=flask_app.extensions["atendimento.presence"])
    worker = WorkController(app=celery_app, pool_cls="solo", concurrency=1, without_heartbeat=True,
                            without_mingle=True, without_gossip=True, hostname="embedded@localhost")
    threading.Thread(target=_run_worker, args=(celery_app, worker), name="celery-worker", daemon=True).start()
    beat = EmbeddedService(celery_app, thread=True,
                           schedule_filename=str(settings.data_dir / "celerybeat-schedule"))
    beat.start()  # type: ignore[union-attr]  # thread=True gives _Threaded; celery-types' _Process also lacks start
    log.info("embedded worker and beat started; serving on http://%s:%d", host, port)
    # Werkzeug's development server, for the embedded mode only (one process, one user): its banner and its
    # warnings are dropped to DEBUG by the logging setup; production is the real mode under gunicorn.
    import flask.cli

    flask.cli.show_server_banner = lambda *_a, **_k: None
    log.info("embedded mode is for trying atendimento out; run the real mode (DATABASE_URL and REDIS_URL) in "
             "production")
    socketio.run(flask_app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
    return 0


def _run_worker(celery_app: Any, worker: Any) -> None:
    """Run the in-process worker with our app as this thread's current Celery app.

    A task's `retry` publishes its next attempt through the current app. Celery's `current_app` is per thread
    and falls back to a default app on amqp://localhost, so in a thread started by hand every countdown retry
    (a send's backoff, a status that raced its message, a database blip) went there and never ran; the
    `celery worker` command sets the current app in the thread it runs tasks in, and so must we.
    """
    celery_app.set_current()
    worker.start()


def _serve_real(host: str, port: int) -> int:
    bin_dir = os.path.dirname(sys.executable)
    commands = [
        [os.path.join(bin_dir, "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads", "100",
         "--bind", f"{host}:{port}", "api:create_app()"],
        [os.path.join(bin_dir, "celery"), "-A", "workers", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        [os.path.join(bin_dir, "celery"), "-A", "workers", "beat", "--loglevel", "INFO"],
    ]
    children = [subprocess.Popen(cmd) for cmd in commands]  # noqa: S603 - fixed argv, no shell

    def stop(_sig: int, _frame: Any) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # If any part dies, stop the rest: a half-running system is worse than a clear exit.
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    return max(child.wait() for child in children)


def migrate() -> None:
    """`alembic upgrade head` on the configured database."""
    from alembic import command
    from alembic.config import Config

    ini = Path("alembic.ini")
    if not ini.exists():
        ini = Path(__file__).resolve().parent.parent / "alembic.ini"
    command.upgrade(Config(str(ini)), "head")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="atendimento", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="migrate, then run the API, a worker and beat")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    args = parser.parse_args(argv)
    migrate()
    if args.cmd == "migrate":
        return 0
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
