"""Command line: `flask --app api provision FILE.json`, and `atendimento run|migrate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from models.db import session_scope
from models.errors import DomainError
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
    from api.serve import serve

    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
