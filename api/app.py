"""`create_app`: the Flask app with its extensions and blueprints, on the objects `models.infra.wiring` builds."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from api import (
    admin,
    agents,
    api_keys,
    attachments,
    audit,
    auth,
    auto_resolve,
    canned,
    console,
    contacts,
    csat,
    db,
    errors,
    health,
    labels,
    observability,
    outgoing,
    reports,
    search,
    simulate,
    sockets,  # noqa: F401 - registers the Socket.IO handlers
    templates,
    tickets,
    webhooks,
)
from api.cli import provision_command
from api.extensions import api, socketio
from api.tasks import make_publisher
from models.infra import wiring
from models.infra.config import Settings, get_settings
from models.infra.telemetry import configure_logging

log = logging.getLogger("atendimento")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app: settings, database, bus, extensions, blueprints."""
    settings = settings or get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_webhook_bytes,
        API_TITLE="atendimento",
        API_VERSION="0.1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/api-docs",
        # Served from this app (built from npm's swagger-ui-dist by the console build), never from a CDN.
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or atd_ API key"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}}},
    )

    def emit(name: str, data: dict[str, Any], rooms: list[str]) -> None:
        socketio.emit(name, data, to=rooms)

    system = wiring.build(settings, publish=make_publisher(settings), emit=emit, publish_in_background=True)
    app.extensions.update({
        "atendimento.system": system, "atendimento.settings": settings, "atendimento.engine": system.engine,
        "atendimento.sessions": system.sessions, "atendimento.presence": system.presence,
    })
    if system.redis is not None:
        app.extensions["atendimento.redis"] = system.redis
    db.init_app(app)
    observability.init_proxy(app, settings)
    observability.init_request_context(app)
    observability.init_tracing(app, settings)
    api.init_app(app)
    errors.init_app(app)  # after the Api, so our JSON error shape replaces flask-smorest's
    app.register_blueprint(console.blp)
    app.register_blueprint(attachments.links)
    app.register_blueprint(csat.links)
    for blp in (health.blp, webhooks.blp, auth.blp, agents.blp, tickets.blp, attachments.blp, templates.blp,
                templates.sync_blp, admin.blp, outgoing.blp, reports.blp, canned.blp, labels.blp, audit.blp,
                auto_resolve.blp, simulate.blp, api_keys.blp, csat.blp):
        api.register_blueprint(blp)
    api.register_blueprint(contacts.blp)
    api.register_blueprint(search.blp)
    observability.init_limiter(app, settings, webhooks.blp, exempt=[health.blp, console.blp])
    # After the limiter: a flood is refused before its bodies are parsed.
    errors.init_input_guard(app, skip_blueprints=[webhooks.blp.name])
    observability.init_metrics(app)
    app.cli.add_command(provision_command)

    def origin_ok(origin: str, environ: dict[str, Any]) -> bool:
        # The public URL, or the page's own origin (same-origin: the console served by this instance).
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin in (settings.public_base_url, own)

    socketio.init_app(app, async_mode=settings.socketio_async_mode, message_queue=settings.redis_url,
                      channel=settings.socketio_channel, cors_allowed_origins=origin_ok,
                      ping_interval=settings.socketio_ping_interval, ping_timeout=settings.socketio_ping_timeout)
    if settings.socketio_async_mode == "gevent":
        from api import socket_pings  # imports gevent: the tier's process only

        socket_pings.install()
    log.info("atendimento API starting: %s", settings.describe())
    return app
