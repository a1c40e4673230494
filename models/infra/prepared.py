"""Server-side prepared statements for the statements every message runs (PostgreSQL).

psycopg2 sends each statement as text, so PostgreSQL parses and plans it again on every execution. For the few
statements on the message path, planning cost more than running them (pg_stat_statements with
`track_planning` during `ops.bench.triage_cost`: the contact with its open ticket planned in 0.37 ms and ran in
0.14; the inbox event with its channel 0.26 and 0.07). A statement marked with `prepared()` is sent once per
connection as `PREPARE` and from then on as `EXECUTE name (values)`: PostgreSQL keeps its plan (a generic one
once five custom plans showed it costs no more), and the text it parses is a name and a list of values.

What stays the same: psycopg2 still quotes the values into the statement, the rows, their columns and the
command tag (`UPDATE 1`, the row counts SQLAlchemy reads) are those of the prepared statement, and errors carry
the same SQLSTATE. A parameter is declared with its SQLAlchemy type, or left for PostgreSQL to infer when the
statement gives none (`text()` without typed binds).

Three things to know when running it. A prepared statement lives as long as its connection, so each pooled
connection holds a plan for each marked statement (a handful, a few kilobytes each). A migration that changes a
column one of them returns fails it once in each process, whose pool then replaces its connections. And a pooler
in transaction mode (PgBouncer's `pool_mode = transaction`) would hand the connection's prepared statements to
other clients: put the API and workers on a session-mode pool, or straight on PostgreSQL, as the compose file does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import CompileError, OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import NullType

E = TypeVar("E", bound=Executable)

_OPTION = "prepared"
_DONE = "prepared_statements"  # in the DBAPI connection's info: discarded with the connection
_PLACEHOLDER = re.compile(r"%%|%\(([^)]+)\)s")  # psycopg2's pyformat, and its escaped percent sign
_MAX_STATEMENTS = 64  # the marked statements are few; a bound keeps a mistake from growing without end


def prepared(statement: E) -> E:
    """`statement`, marked to run as a server-side prepared statement on PostgreSQL (nothing elsewhere).

    Mark only statements built once (a cached builder) that run on every message: each distinct text is a plan
    kept by every connection that runs it."""
    return statement.execution_options(**{_OPTION: True})


@dataclass(frozen=True)
class _Plan:
    name: str
    prepare: str  # PREPARE name (types) AS the statement, with $n for its parameters
    execute: str  # EXECUTE name (%(param)s, ...): psycopg2 quotes the values, as it would have into the statement


def attach(engine: Engine) -> None:
    """Run the statements marked with `prepared()` through PREPARE / EXECUTE on this PostgreSQL engine."""
    plans: dict[str, _Plan] = {}

    # At the driver's call, after every before_cursor_execute listener: they (tracing's spans, the statement
    # counts of tests and benchmarks) see the statement itself, not "EXECUTE atd_...".
    @event.listens_for(engine, "do_execute")
    def _as_prepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        if not context.execution_options.get(_OPTION):
            return False  # the dialect executes it as usual
        plan = plans.get(statement)
        if plan is None:
            plan = _plan(statement, context)
            if len(plans) < _MAX_STATEMENTS:
                plans[statement] = plan
        done = context.root_connection.info.setdefault(_DONE, set())
        if plan.name not in done:
            # Its own round trip, once per connection: a PREPARE outlives the transaction it ran in (even one
            # rolled back), so it is known to exist as soon as this returns.
            cursor.execute(plan.prepare)
            done.add(plan.name)
        cursor.execute(plan.execute, parameters)
        return True

    @event.listens_for(engine, "handle_error")
    def _stale(context: Any) -> OperationalError | None:
        # A migration changed a column a prepared statement returns: PostgreSQL refuses that statement on this
        # connection for as long as it lives. Treated as a lost connection (the error callers already answer
        # with a 503 or a task retry), the pool replaces every connection it handed out before, and the new
        # ones prepare the statement again.
        if "cached plan must not change result type" not in str(context.original_exception):
            return None
        context.is_disconnect = True
        return OperationalError(context.statement, context.parameters, context.original_exception,
                                connection_invalidated=True)


def _plan(statement: str, context: Any) -> _Plan:
    types: dict[str, Any] = {}
    compiled = context.compiled
    if compiled is not None:
        escaped = compiled.escaped_bind_names
        types = {escaped.get(name, name): bind.type for bind, name in compiled.bind_names.items()}
    names: list[str] = []

    def positional(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = _PLACEHOLDER.sub(positional, statement)
    name = "atd_" + hashlib.blake2b(statement.encode(), digest_size=8).hexdigest()
    if not names:
        return _Plan(name, f"PREPARE {name} AS {body}", f"EXECUTE {name}")
    declared = ", ".join(_sql_type(types.get(n), context.dialect) for n in names)
    values = ", ".join(f"%({n})s" for n in names)
    return _Plan(name, f"PREPARE {name} ({declared}) AS {body}", f"EXECUTE {name} ({values})")


def _sql_type(type_: Any, dialect: Any) -> str:
    if type_ is None or isinstance(type_, NullType):
        return "unknown"  # PostgreSQL infers it from where the parameter stands, as for a quoted literal
    try:
        return str(type_.compile(dialect=dialect))
    except CompileError:
        return "unknown"
