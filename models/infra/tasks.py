"""The task catalogue: every background task's name, declared once.

Names are stable API: queued messages and outbox rows carry them, so renaming one orphans work in flight.
Domain code enqueues by these names (`models.infra.outbox.enqueue`); `workers` registers a task under each and
beat schedules the periodic ones.
"""

from __future__ import annotations

from typing import Final

# Event-driven work, enqueued by domain code through the outbox.
PROCESS_EVENT: Final = "triage.process_event"
ASSIGN_QUEUE: Final = "assignment.assign_queue"
SEND_MESSAGE: Final = "outbound.send_message"
RUN_CONTACT_JOB: Final = "contacts.run_job"  # export or erasure of a contact, in committed steps

# Periodic jobs, run by beat; each is idempotent, so two beats or overlapping runs do no harm.
OUTBOX_RELAY: Final = "outbox.relay"
ASSIGNMENT_SWEEP: Final = "assignment.sweep"
SLA_CHECK: Final = "sla.check"
RETURN_UNANSWERED: Final = "assignment.return_unanswered"
EXPIRE_MENUS: Final = "triage.expire_menus"
REQUEUE_STALE_INBOX: Final = "inbox.requeue_stale"
REFRESH_GAUGES: Final = "metrics.refresh_gauges"
EXPIRE_PRESENCE: Final = "agents.expire_presence"
REQUEUE_STALE_SENDS: Final = "outbound.requeue_stale"
