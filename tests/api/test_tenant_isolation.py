"""Every endpoint with an id in its path, called by another tenant's supervisor (and again with an admin-scoped
API key of that tenant) with the ids of acme's rows: each answer is 404 or 403 and shows nothing of the row.
Ids come from the OpenAPI document, so a new endpoint is covered the day it is added."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Attachment,
    AttachmentStatus,
    CannedResponse,
    Channel,
    ContactJob,
    DeliveryState,
    Label,
    Message,
    OutboxTask,
    Queue,
    SlaPolicy,
    Ticket,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from models.base import utcnow
from models.contacts import JobKind, JobStatus
from models.events import InboxEvent
from models.org import Role
from models.services import api_keys
from models.services.agents import rooms_of
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.whatsapp import encode, text_delivery
from tests.services.helpers import drain

BODIES: dict[str, Any] = {  # valid bodies, so validation cannot answer before the tenant check
    "transfer": {"queue_id": 0, "reason": "x"}, "messages": {"body": "hi"}, "notes": {"body": "hi"},
    "assign": {"agent_id": 0}, "members": {"user_ids": []}, "queues": {"name": "Hijack"},
    "users": {"name": "Hijack"}, "channels": {"name": "Hijack"}, "sla-policies": {"name": "Hijack"},
    "webhooks": {"description": "Hijack"}, "csat": {"enabled": True},
    "preview": {"ticket_id": 0}, "labels": {"label_ids": []}, "snooze": {"until_customer_replies": True},
    "auto-resolve": {"idle_hours": 8}, "reaction": {"emoji": "👍"},
    "merge": {"from_contact_id": 0}, "erase": {"confirm": True}, "priority": {"priority": 1},
}


def test_other_tenants_get_404_or_403_everywhere(client: FlaskClient, sessions: sessionmaker[Session],
                                                 tenants: dict[str, Any], bus: Any) -> None:
    post(client, encode(text_delivery("wamid.iso")))
    with sessions() as s:  # run what the webhook queued, as a worker would
        bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
    drain(sessions, bus)
    with sessions() as s:
        acme = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        ids = {
            "ticket_id": s.scalars(select(Ticket.id)).first(),
            "message_id": s.scalars(select(Message.id)).first(),
            "queue_id": s.scalars(select(Queue.id).where(Queue.tenant_id == acme.tenant_id)).first(),
            "user_id": s.scalars(select(User.id).where(User.tenant_id == acme.tenant_id)).first(),
            "channel_id": acme.id,
            "inbox_id": s.scalars(select(InboxEvent.id)).first(),
            "contact_id": s.scalars(select(Ticket.contact_id)).first(),
        }
    with sessions() as s, s.begin():
        policy = SlaPolicy(tenant_id=acme.tenant_id, name="Acme default", first_response_seconds=600)
        s.add(policy)
        attachment = Attachment(tenant_id=acme.tenant_id, message_id=ids["message_id"], filename="a.png",
                                content_type="image/png", size=1, storage_key="t1/x", status=AttachmentStatus.STORED)
        s.add(attachment)
        endpoint = WebhookEndpoint(tenant_id=acme.tenant_id, url="https://crm.acme.example/hook",
                                   events=["ticket.created"], secrets=["whsec_x"], active=True)
        s.add(endpoint)
        s.flush()
        delivery = WebhookDelivery(tenant_id=acme.tenant_id, endpoint_id=endpoint.id, event_id="evt_1",
                                   event="ticket.created", order_key="ticket:1", body={"data": {"name": "Maria"}},
                                   state=DeliveryState.DEAD)
        s.add(delivery)
        s.flush()
        acme_key, _token = api_keys.create_key(s, s.get_one(User, ids["user_id"]), "Acme CRM", ["admin"], utcnow())
        ids.update(policy_id=policy.id, attachment_id=attachment.id, endpoint_id=endpoint.id,
                   delivery_id=delivery.id, key_id=acme_key.id)
        shared = CannedResponse(tenant_id=acme.tenant_id, code="ola", body="Olá {{contact.name}}")
        s.add(shared)
        s.flush()
        ids["canned_id"] = shared.id
        label = Label(tenant_id=acme.tenant_id, name="vip")
        s.add(label)
        s.flush()
        ids["label_id"] = label.id
        ids["contact_id"] = s.scalars(select(Ticket.contact_id)).first()
        job = ContactJob(tenant_id=acme.tenant_id, contact_id=ids["contact_id"], kind=JobKind.EXPORT,
                         status=JobStatus.DONE, result={"contact": {"name": "Maria"}})
        s.add(job)
        s.flush()
        ids["policy_id"], ids["job_id"] = policy.id, job.id
    assert all(ids.values()), ids
    # gina is promoted to supervisor of globex: the strongest role outside acme
    with sessions() as s, s.begin():
        s.scalars(select(User).where(User.email == "gina@globex.example")).one().role = Role.SUPERVISOR
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    with sessions() as s, s.begin():
        globex_key = api_keys.create_key(s, s.scalars(select(User).where(User.email == "gina@globex.example")).one(),
                                         "Globex BI", ["admin"], utcnow())[1]
    spec = client.get("/openapi.json").json
    for headers in (gina, {"X-Api-Key": globex_key}, {"Authorization": f"Bearer {globex_key}"}):
        sweep(client, spec, ids, headers)
    # Reports take no id in their path: the filters name acme's rows instead, and globex's figures stay its own.
    now = datetime.now(UTC)
    filters = {"start": (now - timedelta(days=1)).isoformat(), "end": (now + timedelta(days=1)).isoformat(),
               "from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat(),
               "group": "queue", "group_by": "queue", "metric": "resolution", "group_value": str(ids["queue_id"])}
    for path in [p for p in spec["paths"] if p.startswith("/api/reports/")]:
        for headers in (gina, {"X-Api-Key": globex_key}):
            resp = client.get(path, query_string=filters, headers=headers)
            if path == "/api/reports/board":  # no filters: globex's own queues, never acme's
                assert ids["queue_id"] not in [q["id"] for q in resp.json["queues"]], resp.json
                continue
            assert resp.status_code == 200 and resp.json["rows"] == [], (path, resp.json)
    # Real time: a globex user's sockets only ever join globex rooms.
    with sessions() as s:
        rooms = rooms_of(s, s.scalars(select(User).where(User.email == "gina@globex.example")).one())
    assert all(room.startswith(f"t{tenants['users']['gina'].tenant_id}") for room in rooms)


def sweep(client: FlaskClient, spec: dict[str, Any], ids: dict[str, int], headers: dict[str, str]) -> None:
    """Call every endpoint with an id in its path with acme's ids: 403 or 404, nothing of acme's rows shown."""
    tried = 0
    for path, ops in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if not params or path.startswith("/webhooks"):
            continue
        url = path
        for name in params:
            url = url.replace(f"{{{name}}}", str(ids[name]))
        for method in ops:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = BODIES.get(path.rstrip("/").rsplit("/", 1)[-1]) or BODIES.get(path.split("/")[3], {})
            resp = client.open(url, method=method.upper(), headers=headers, json=body if method != "get" else None)
            assert resp.status_code in (403, 404), (method, url, resp.status_code, resp.json)
            text = resp.get_data(as_text=True)
            assert "Maria" not in text and "5511987654321" not in text, (method, url)
            tried += 1
    assert tried >= 10
