"""`atendimento run|migrate|simulate`: the whole system from one command, and a simulated customer for it.

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
from models.infra.config import Settings, get_settings

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


def simulate(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Post one signed sandbox delivery to a running atendimento, through its real webhook path, over HTTP.

    The channel's secret comes from the database (the same `DATABASE_URL` the server uses) unless `--secret`
    names it; a reaction or status without `--message` names the newest reply sent to `--from`.
    """
    import urllib.error
    import urllib.request

    from sqlalchemy.orm import Session

    from api.simulate import SimulationError, delivery, encode, latest_reply_id, sandbox_channels
    from models.infra.db import make_engine

    settings = settings or get_settings()
    try:
        kind, extra = _simulated_kind(args)
    except SimulationError as exc:
        print(f"cannot simulate: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            channels = [c for c in sandbox_channels(session)
                        if args.channel is None or c.external_id == args.channel]
            if not channels and args.secret is None:
                print(f"no sandbox channel{f' named {args.channel}' if args.channel else ''} in the database "
                      "(load one: flask --app api provision ops/provision.example.json)", file=sys.stderr)
                return 2
            external_id = args.channel or channels[0].external_id
            secret = args.secret or str((channels[0].credentials or {}).get("secret") or "")
            message_id = args.message
            if kind in ("reaction", "status") and not message_id and channels:
                message_id = latest_reply_id(session, channels[0], args.sender)
                if not message_id:
                    print(f"no reply has been sent to {args.sender} yet: answer in the console first, or name "
                          "one with --message sbx-...", file=sys.stderr)
                    return 2
    finally:
        engine.dispose()
    try:
        doc = delivery(kind, args.sender, name=args.name, message_id=message_id, **extra)
    except SimulationError as exc:
        print(f"cannot simulate: {exc}", file=sys.stderr)
        return 2
    raw, signature = encode(doc, secret)
    url = f"{(args.url or settings.public_base_url).rstrip('/')}/webhooks/sandbox/{external_id}"
    req = urllib.request.Request(url, data=raw, method="POST",  # noqa: S310 - the operator's own server
                                 headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            answer = resp.read().decode()
    except urllib.error.HTTPError as exc:
        print(f"POST {url}: {exc.code} {exc.read().decode()[:500]}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"POST {url}: {exc} (is `atendimento run` up?)", file=sys.stderr)
        return 1
    print(f"POST {url}: {answer.strip()}")
    return 0


def _simulated_kind(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if args.image is not None:
        image = None
        if args.image:
            import mimetypes

            path = Path(args.image)
            image = (path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        return "image", {"image": image, "caption": args.text}
    if args.location is not None:
        place = {"name": args.place, "address": args.address}
        if args.location:
            try:
                latitude, longitude = (float(part) for part in args.location.split(","))
            except ValueError:
                from api.simulate import SimulationError

                raise SimulationError("--location takes LAT,LON (e.g. -23.56,-46.65)") from None
            place.update(latitude=latitude, longitude=longitude)
        return "location", {"location": place if args.location or args.place or args.address else None}
    if args.contact is not None:
        return "contacts", {"card": {"name": args.contact or None, "phones": args.contact_phone,
                                     "emails": args.contact_email}}
    if args.reaction:
        return "reaction", {"emoji": args.reaction}
    if args.status:
        return "status", {"status": args.status, "reason": args.reason}
    return "text", {"text": args.text or "Olá! Preciso de ajuda."}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atendimento", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="migrate, then run the API, a worker and beat")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    sim = sub.add_parser("simulate", help="a simulated customer: post one signed sandbox delivery to a running "
                                          "atendimento (text, image, location, contact card, reaction or status)")
    sim.add_argument("--from", dest="sender", default="5511999990000", help="the customer's phone (digits)")
    sim.add_argument("--name", default=None, help="the customer's name, as WhatsApp profiles carry it")
    what = sim.add_mutually_exclusive_group()
    what.add_argument("--image", nargs="?", const="", default=None, metavar="FILE",
                      help="send an image (a tiny PNG without FILE); --text becomes its caption")
    what.add_argument("--location", nargs="?", const="", default=None, metavar="LAT,LON",
                      help="share a location (a sample place without LAT,LON); --place, --address")
    what.add_argument("--contact", nargs="?", const="", default=None, metavar="NAME",
                      help="share a contact card (a sample one without NAME); --contact-phone, --contact-email")
    what.add_argument("--reaction", metavar="EMOJI", help="react to our newest reply (or --message)")
    what.add_argument("--status", choices=["delivered", "read", "failed"],
                      help="report a status of our newest reply (or --message)")
    sim.add_argument("--text", default=None, help="the message's text (default: a greeting); an image's caption")
    sim.add_argument("--message", default=None, metavar="SBX_ID", help="the reply a reaction or status names")
    sim.add_argument("--place", default=None, help="with --location: the place's name")
    sim.add_argument("--address", default=None, help="with --location: its address")
    sim.add_argument("--contact-phone", action="append", default=None, help="with --contact: a phone (repeatable)")
    sim.add_argument("--contact-email", action="append", default=None, help="with --contact: an email (repeatable)")
    sim.add_argument("--reason", default=None, help="with --status failed: the provider's reason")
    sim.add_argument("--channel", default=None, help="the sandbox channel's external_id (default: the first)")
    sim.add_argument("--secret", default=None, help="the channel's secret (default: read from the database)")
    sim.add_argument("--url", default=None, help="the server's base URL (default: PUBLIC_BASE_URL)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "simulate":
        return simulate(args)
    migrate()
    if args.cmd == "migrate":
        return 0
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
