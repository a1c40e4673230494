"""The Celery application: reliable defaults and the beat schedule, declared in code.

Importing this module reads no settings and connects no signal: the configuration is a promise Celery
resolves on first use (`add_defaults`), and the telemetry signals are connected when the app is configured.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from models.infra import tasks
from models.infra.config import Settings, get_settings
from workers import observability

TASK_MODULES = ["workers.tasks", "workers.gauges", "workers.sla", "workers.agents", "workers.window",
                "workers.webhooks", "workers.recovery", "workers.workflow", "workers.media", "workers.templates"]


class WorkerApp(Celery):
    # Celery calls a method of this name when it loads the configuration (Celery._load_config); celery-types
    # declares only the Signal form of the attribute.
    def on_configure(self) -> None:  # type: ignore[override]
        observability.install()


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for `settings`: Redis in real mode, the in-process memory broker in the embedded one."""
    return dict(
        broker_url=settings.redis_url or "memory://localhost/",
        # A task is acknowledged when it finishes, and given back to the broker if its worker dies mid-run:
        # every task is idempotent, so running twice is safe while losing one is not.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_queues=[Queue(name) for name in tasks.QUEUES],
        task_default_queue=tasks.DEFAULT_QUEUE,
        task_routes=tasks.ROUTES,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 10),
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        # Redis re-delivers unacked messages after this; countdowns stay far below it (field notes). The sweep that
        # re-delivers them runs every ~100 s by default: a short timeout (tests) needs it about as often.
        broker_transport_options=_redis_transport(settings.celery_visibility_timeout) if settings.redis_url
        else {"polling_interval": 0.05},
        # Publishing while Redis is down fails fast; the outbox row keeps the work for the relay.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                   "interval_max": 0.5},
        worker_hijack_root_logger=False,
        # Task events cost every task several messages on the broker (~12 % of a worker's loop in the load
        # campaign); they are sent only when something consumes them (Flower, celery-exporter: CELERY_TASK_EVENTS).
        # Flower also switches them on by itself at start (its enable_events broadcast).
        worker_send_task_events=settings.celery_task_events,
        task_send_sent_event=settings.celery_task_events,
        beat_schedule={
            "outbox-relay": {"task": tasks.OUTBOX_RELAY, "schedule": settings.outbox_relay_interval},
            "assignment-sweep": {"task": tasks.ASSIGNMENT_SWEEP, "schedule": settings.assignment_sweep_interval},
            # A run still waiting after one period is dropped: the next one covers the same tickets.
            "sla-check": {"task": tasks.SLA_CHECK, "schedule": settings.sla_check_interval,
                          "options": {"expires": max(settings.sla_check_interval, 5.0)}},
            "assignment-return-unanswered": {"task": tasks.RETURN_UNANSWERED, "schedule": 30.0},
            "triage-expire-menus": {"task": tasks.EXPIRE_MENUS, "schedule": 30.0},
            "inbox-requeue-stale": {"task": tasks.REQUEUE_STALE_INBOX, "schedule": settings.inbox_requeue_interval},
            # Redis restarted empty (no persistence): ask again at once for what its queues held.
            **({"inbox-watch-broker": {"task": tasks.WATCH_BROKER, "schedule": settings.broker_watch_interval,
                                       "options": {"expires": settings.broker_watch_interval}}}
               if settings.redis_url else {}),
            "metrics-refresh-gauges": {"task": tasks.REFRESH_GAUGES, "schedule": 15.0},
            "agents-expire-presence": {"task": tasks.EXPIRE_PRESENCE, "schedule": 15.0},
            "outbound-requeue-stale": {"task": tasks.REQUEUE_STALE_SENDS, "schedule": 60.0},
            "webhooks-sweep": {"task": tasks.SWEEP_WEBHOOKS, "schedule": 5.0, "options": {"expires": 5.0}},
            "templates-sync": {"task": tasks.SYNC_ALL_TEMPLATES, "schedule": settings.template_sync_interval,
                               "options": {"expires": settings.template_sync_interval}},
            "window-warn-closing": {"task": tasks.WARN_WINDOW_CLOSING, "schedule": settings.window_check_interval,
                                    "options": {"expires": settings.window_check_interval}},
            "workflow-wake-snoozed": {"task": tasks.WAKE_SNOOZED, "schedule": 30.0},
            "workflow-auto-resolve": {"task": tasks.AUTO_RESOLVE, "schedule": 60.0},
        },
    )


def _redis_transport(visibility_timeout: int) -> dict[str, Any]:
    options: dict[str, Any] = {"visibility_timeout": visibility_timeout}
    if visibility_timeout < 300:
        options.update(unacked_restore_interval=max(1, visibility_timeout // 3), unacked_restore_throttle=1)
    return options


app = WorkerApp("atendimento", include=TASK_MODULES)
app.add_defaults(lambda: celery_config(get_settings()))
