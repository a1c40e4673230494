"""The agent console: a Vue single-page app (source in `api/console/`), served at `/console/` once it is built.

Vite bundles it (with Socket.IO's client and vue-i18n, from npm) into `api/static/console/`; that directory is
a build product, not source. Until it exists, every console URL answers 503 with the command that builds it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

from api.errors import error_response

BUILD_COMMAND = "npm ci --prefix api/console && npm run build --prefix api/console"
BUILD_DIR = Path(__file__).resolve().parent / "static" / "console"

# Same origin only: the page loads its own files and talks to its own API and Socket.IO endpoint.
_CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")

blp = Blueprint("console", __name__, url_prefix="/console")


def _built() -> bool:
    return (BUILD_DIR / "index.html").is_file()


def _not_built() -> Response:
    return error_response(503, "console_not_built", f"run the console build: {BUILD_COMMAND}")


@blp.get("/")
def index() -> Response:
    """The console page."""
    if not _built():
        return _not_built()
    return send_from_directory(BUILD_DIR, "index.html")


@blp.get("/<path:path>")
def asset(path: str) -> Response:
    """The console's scripts and styles (a missing one is a JSON 404)."""
    if not _built():
        return _not_built()
    return send_from_directory(BUILD_DIR, path)


@blp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = _CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    # Vite names every asset by its content hash: those never change. The page itself is revalidated on every
    # load (ETag makes that a cheap 304), so a new build is picked up at once.
    hashed = request.path.startswith(f"{blp.url_prefix}/assets/") and resp.status_code == 200
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
    return resp
