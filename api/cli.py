"""Flask CLI commands: `flask --app api provision FILE.json`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from models.errors import DomainError
from models.infra.db import session_scope
from models.services.accounts import provision


@click.command("provision")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def provision_command(path: Path) -> None:
    """Create or update tenants, queues, agents and channels from a JSON document."""
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{path}: not valid JSON: {exc}") from exc
    try:
        with session_scope(current_app.extensions["atendimento.sessions"]) as session:
            for line in provision(session, doc):
                click.echo(line)
    except (DomainError, KeyError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
