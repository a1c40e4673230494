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
FETCH_MEDIA: Final = "media.fetch"
SYNC_TEMPLATES: Final = "templates.sync"
RUN_CONTACT_JOB: Final = "contacts.run_job"  # export or erasure of a contact, in committed steps

# Periodic jobs, run by beat; each is idempotent, so two beats or overlapping runs do no harm.
OUTBOX_RELAY: Final = "outbox.relay"
ASSIGNMENT_SWEEP: Final = "assignment.sweep"
SLA_CHECK: Final = "sla.check"
RETURN_UNANSWERED: Final = "assignment.return_unanswered"
EXPIRE_MENUS: Final = "triage.expire_menus"
REQUEUE_STALE_INBOX: Final = "inbox.requeue_stale"
WATCH_BROKER: Final = "inbox.watch_broker"
REFRESH_GAUGES: Final = "metrics.refresh_gauges"
EXPIRE_PRESENCE: Final = "agents.expire_presence"
REQUEUE_STALE_SENDS: Final = "outbound.requeue_stale"
WARN_WINDOW_CLOSING: Final = "window.warn_closing"
SWEEP_WEBHOOKS: Final = "webhooks.sweep"
SYNC_ALL_TEMPLATES: Final = "templates.sync_all"
WAKE_SNOOZED: Final = "workflow.wake_snoozed"
AUTO_RESOLVE: Final = "workflow.auto_resolve"

# Outgoing webhooks run on their own queue, so a slow receiver never delays triage or sends.
DELIVER_WEBHOOK: Final = "webhooks.deliver"
WEBHOOKS_QUEUE: Final = "webhooks"

# Beat's routine: their runs are logged at DEBUG (models.infra.telemetry.RoutineFilter), not once a minute each.
PERIODIC: Final = (OUTBOX_RELAY, ASSIGNMENT_SWEEP, SLA_CHECK, RETURN_UNANSWERED, EXPIRE_MENUS, REQUEUE_STALE_INBOX,
                   REFRESH_GAUGES, EXPIRE_PRESENCE, REQUEUE_STALE_SENDS, WARN_WINDOW_CLOSING, SWEEP_WEBHOOKS,
                   WAKE_SNOOZED, AUTO_RESOLVE, WATCH_BROKER, SYNC_ALL_TEMPLATES)

DEFAULT_QUEUE: Final = "celery"
QUEUES: Final = (DEFAULT_QUEUE, WEBHOOKS_QUEUE)  # a worker started without -Q consumes both
ROUTES: Final = {DELIVER_WEBHOOK: {"queue": WEBHOOKS_QUEUE}}  # used by every publisher (API, workers)
