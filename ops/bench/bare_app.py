"""The baseline for the intake benchmark: a bare Flask app whose webhook only parses the JSON body.

Run with the same command as the API: `gunicorn --worker-class gthread --workers 1 --threads 100
'ops.bench.bare_app:create_app()'` (from the repository root).
"""

from __future__ import annotations

import json

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/whatsapp")
    def whatsapp() -> dict[str, int]:
        json.loads(request.get_data())
        return {"stored": 1, "duplicates": 0}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app
