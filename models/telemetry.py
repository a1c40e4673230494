"""Logging setup shared by the API and the workers."""

from __future__ import annotations

import logging
import sys

from models.config import Settings

_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(settings: Settings) -> None:
    """Root logger to stderr, JSON lines when LOG_FORMAT=json. Idempotent."""
    root = logging.getLogger()
    if getattr(root, "_atendimento", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root._atendimento = True  # type: ignore[attr-defined]
