"""Media benchmark: what a 5 MB WhatsApp image costs the pipeline, beside a plain download of the same bytes.

One run, in one process, against 127.0.0.1 only: a throwaway PostgreSQL database (created and dropped), a Redis
database of its own (`--redis-url`: the API publishes its tasks there; that database is flushed at the end), the
local fake Graph API (tests/fakes/graph.py) serving the media as Meta does, and the object store on files under a
temporary DATA_DIR.

Each of `--runs` rounds:
1. pipeline: a signed webhook delivery of an image message goes to the real API view (`POST /webhooks/whatsapp`);
   its outbox tasks run as a worker runs them, each in its own transaction (`triage.process_event`, then
   `media.fetch`: Graph metadata, download with the token, SHA-256 and MIME check, put in the store); then the
   agent's `GET /api/tickets/{id}/messages` and the signed link's download return the same bytes. Timed from the
   webhook POST to the last byte of that download.
2. baseline: a plain `GET` of the same 5 MB from the same fake server (the provider's part alone).

    PYTHONPATH=. .venv/bin/python ops/bench/media.py --runs 30 --redis-url redis://127.0.0.1:6382/0

Prints p50/p99 of both, and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import redis
import requests
from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.base import utcnow  # noqa: E402
from tests.fakes.graph import GraphServer  # noqa: E402
from tests.fakes.whatsapp import APP_SECRET, PHONE_NUMBER_ID, encode, media_message, message_delivery, sign  # noqa: E402

MB = 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="rounds (bounded: at most 200)")
    ap.add_argument("--size", type=int, default=5 * MB, help="image bytes")
    ap.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port of a PostgreSQL (trust auth)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6382/0")
    args = ap.parse_args()
    runs = max(1, min(args.runs, 200))

    from alembic import command
    from alembic.config import Config

    from api import create_app
    from models.events import OutboxTask
    from models.infra.config import Settings
    from models.infra.db import make_session_factory
    from models.services import media, triage
    from models.services.accounts import provision
    from models.tickets import Message

    name = f"atd_bench_media_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg2://{args.pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{args.pg}/{name}"
    graph = GraphServer()
    data_dir = tempfile.TemporaryDirectory(prefix="atd-bench-media-")
    try:
        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.set_main_option("sqlalchemy.url", url)
        command.upgrade(cfg, "head")
        settings = Settings.from_env({
            "DATABASE_URL": url, "REDIS_URL": args.redis_url, "SECRET_KEY": "bench-secret-of-at-least-32-characters",
            "WHATSAPP_GRAPH_BASE_URL": graph.url, "DATA_DIR": data_dir.name, "PUBLIC_BASE_URL": "http://127.0.0.1",
            "SOCKETIO_CHANNEL": f"bench-{uuid.uuid4().hex[:8]}", "RATELIMIT_WEBHOOKS": "100000/minute",
            "RATELIMIT_DEFAULT": "100000/minute",
        })
        app = create_app(settings)
        system = app.extensions["atendimento.system"]
        sessions = make_session_factory(system.engine, system.bus)
        with sessions() as s, s.begin():
            provision(s, {"tenants": [{"slug": "bench", "name": "Bench", "queues": [{"name": "Support"}],
                                       "users": [{"email": "sup@bench.example", "name": "Sup", "role": "supervisor",
                                                  "password": "pw-bench-sup"}],
                                       "channels": [{"kind": "whatsapp", "external_id": PHONE_NUMBER_ID,
                                                     "default_queue": "Support",
                                                     "credentials": {"app_secret": APP_SECRET, "verify_token": "v",
                                                                     "access_token": graph.token}}]}]})
        client = app.test_client()
        token = client.post("/api/auth/login", json={"tenant": "bench", "email": "sup@bench.example",
                                                     "password": "pw-bench-sup"}).json["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        image = b"\xff\xd8\xff\xe0" + bytes(range(256)) * (args.size // 256)
        digest = hashlib.sha256(image).digest()

        def run_tasks() -> None:
            while True:
                with sessions() as s, s.begin():
                    rows = list(s.scalars(select(OutboxTask).order_by(OutboxTask.id)))
                    work = [(r.task, r.args) for r in rows]
                    for r in rows:
                        s.delete(r)
                if not work:
                    return
                for task, task_args in work:
                    with sessions() as s, s.begin():
                        if task == "triage.process_event":
                            triage.process_event(s, task_args[0], utcnow())
                        elif task == "media.fetch":
                            outcome = media.fetch(s, system.store, settings, task_args[0], utcnow())
                            assert outcome.result == "stored", outcome

        pipeline, baseline = [], []
        for i in range(runs):
            media_id, sha = graph.add_media(image, "image/jpeg")
            raw = encode(message_delivery(media_message(f"wamid.bench{i}", "image", media_id, "image/jpeg", sha),
                                          sender=f"55119{i:08d}"))
            t0 = time.perf_counter()
            resp = client.post("/webhooks/whatsapp", data=raw, headers={"Content-Type": "application/json",
                                                                        "X-Hub-Signature-256": sign(raw)})
            assert resp.status_code == 200, resp.json
            run_tasks()
            with sessions() as s:
                ticket_id = s.scalar(select(Message.ticket_id).where(Message.provider_message_id == f"wamid.bench{i}"))
            page = client.get(f"/api/tickets/{ticket_id}/messages", headers=auth).json
            link = urlsplit(page["items"][-1]["attachments"][0]["url"])
            body = client.get(f"{link.path}?{link.query}").data
            pipeline.append(time.perf_counter() - t0)
            assert hashlib.sha256(body).digest() == digest
            t0 = time.perf_counter()
            plain = requests.get(f"{graph.url}/whatsapp_business/attachments/?mid={media_id}",
                                 headers={"Authorization": f"Bearer {graph.token}"}, timeout=30)
            baseline.append(time.perf_counter() - t0)
            assert plain.content == image
            del graph.media[media_id]
        result = {
            "runs": runs, "bytes": len(image),
            "pipeline_ms": {"p50": round(statistics.median(pipeline) * 1000, 1),
                            "p99": round(percentile(pipeline, 0.99) * 1000, 1)},
            "plain_download_ms": {"p50": round(statistics.median(baseline) * 1000, 1),
                                  "p99": round(percentile(baseline, 0.99) * 1000, 1)},
        }
        result["ratio_p50"] = round(result["pipeline_ms"]["p50"] / result["plain_download_ms"]["p50"], 1)
        print(json.dumps(result, indent=2))
        system.close()
        return 0
    finally:
        graph.close()
        data_dir.cleanup()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(args.redis_url).flushdb()


if __name__ == "__main__":
    raise SystemExit(main())
