"""Prometheus metric definitions (business metrics). Definitions only: updates happen where the events happen.

Counters are incremented after the transaction commits (`count`), so a rolled-back ticket is never counted.
In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set: gunicorn, prefork workers) every process writes its own
files and /metrics aggregates them; gauges that several processes may set use "mostrecent".
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.orm import Session

from models.infra.db import after_commit

TICKETS_CREATED = Counter("atendimento_tickets_created_total", "Tickets opened", ["tenant", "channel"])
MESSAGES_RECEIVED = Counter("atendimento_messages_received_total", "Customer messages stored", ["tenant", "channel"])
MESSAGES_SENT = Counter("atendimento_messages_sent_total", "Outbound send outcomes", ["tenant", "channel", "status"])
WEBHOOK_EVENTS = Counter("atendimento_webhook_events_total", "Provider events received by the webhooks",
                         ["provider", "outcome"])
ASSIGNMENT_SECONDS = Histogram("atendimento_assignment_seconds", "Ticket creation (or requeue) to assignment",
                               ["tenant"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))
QUEUE_DEPTH = Gauge("atendimento_queue_depth", "Tickets waiting in a queue", ["tenant", "queue"],
                    multiprocess_mode="mostrecent")
ONLINE_AGENTS = Gauge("atendimento_online_agents", "Agents online", ["tenant"], multiprocess_mode="mostrecent")
OPEN_TICKETS = Gauge("atendimento_open_tickets", "Tickets not resolved", ["tenant"], multiprocess_mode="mostrecent")
INBOX_BACKLOG = Gauge("atendimento_inbox_backlog", "Inbox events not yet processed (dead letters excluded)",
                      multiprocess_mode="mostrecent")
INBOX_DEAD_LETTERS = Gauge("atendimento_inbox_dead_letters", "Inbox events dead-lettered, waiting for a supervisor",
                           multiprocess_mode="mostrecent")
OUTBOX_BACKLOG = Gauge("atendimento_outbox_backlog", "Outbox tasks not yet published", multiprocess_mode="mostrecent")


def count(session: Session, counter: Counter, amount: float = 1, **labels: object) -> None:
    """Increment `counter` once this transaction commits."""
    values = {k: str(v) for k, v in labels.items()}
    after_commit(session, lambda: counter.labels(**values).inc(amount))


def observe(session: Session, histogram: Histogram, value: float, **labels: object) -> None:
    """Observe `value` once this transaction commits."""
    values = {k: str(v) for k, v in labels.items()}
    after_commit(session, lambda: histogram.labels(**values).observe(value))
