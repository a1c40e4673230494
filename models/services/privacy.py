"""Data-subject requests (LGPD art. 18, GDPR art. 15 and 17): export everything held about a contact, or
erase it. Both run as background jobs in steps of a few tickets, each step one transaction, so a supervisor
sees progress and a worker that dies resumes where the last step committed.

Erasure anonymises message text (the rows stay: tickets, SLA figures and reports keep their shape), removes
the identities and the profile, and keeps an audit entry without personal data. The search index follows by
itself: the message document is a generated column. Attachments are not handled yet (no object store).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from models.contacts import ContactIdentity, ContactJob, JobKind, JobStatus
from models.errors import Conflict, NotFound
from models.events import AuditEntry, InboxEvent, RealtimeEvent
from models.infra import realtime, tasks
from models.infra.db import rowcount
from models.infra.outbox import enqueue
from models.org import User
from models.services.contacts import get_contact, profiles
from models.tickets import Contact, Message, Ticket

STEP_TICKETS = 25
ERASED_TEXT = "[erased]"
ERASED_DOCUMENT = {"erased": True}  # what replaces a raw delivery or a replayable event that held personal data


def request_job(session: Session, user: User, contact_id: int, kind: JobKind, now: datetime) -> ContactJob:
    """Queue an export or an erasure of the contact (audited); a worker runs it after this commits."""
    contact = get_contact(session, user, contact_id, lock=True)
    if contact.merged_into_id is not None:
        raise Conflict("contact was merged into another: ask for that one", contact_id=contact.merged_into_id)
    if kind == JobKind.ERASURE and contact.erased_at is not None:
        raise Conflict("contact is already erased")
    total = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.contact_id == contact.id)) or 0
    job = ContactJob(tenant_id=user.tenant_id, contact_id=contact.id, kind=kind, status=JobStatus.QUEUED,
                     requested_by=user.id, total=total, done=0, progress=0, cursor=0, created_at=now)
    session.add(job)
    session.flush()
    session.add(AuditEntry(tenant_id=user.tenant_id, actor_id=user.id, action=f"contact.{kind.value}_requested",
                           entity="contact", entity_id=contact.id, data={"job_id": job.id}, created_at=now))
    enqueue(session, user.tenant_id, tasks.RUN_CONTACT_JOB, job.id)
    return job


def get_job(session: Session, user: User, job_id: int) -> ContactJob:
    job = session.scalars(select(ContactJob).where(ContactJob.id == job_id, ContactJob.tenant_id == user.tenant_id)
                          ).one_or_none()
    if job is None:
        raise NotFound("job not found")
    return job


def run_step(session: Session, job_id: int, now: datetime, step: int = STEP_TICKETS) -> JobStatus:
    """Do the next step of the job; `running` means there is more (call again in a new transaction).

    The job row is locked for the step, so a redelivered task running beside the first waits and continues
    from the cursor the other committed: no ticket is handled twice.
    """
    job = session.scalars(select(ContactJob).where(ContactJob.id == job_id).with_for_update()
                          .execution_options(populate_existing=True)).one_or_none()
    if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job.status if job else JobStatus.FAILED
    if job.status == JobStatus.QUEUED:
        job.status, job.started_at = JobStatus.RUNNING, now
        job.result = {"tickets": []} if job.kind == JobKind.EXPORT else {"messages": 0}
    batch = list(session.scalars(select(Ticket).where(Ticket.contact_id == job.contact_id, Ticket.id > job.cursor)
                                 .order_by(Ticket.id).limit(step)))
    if batch:
        (_export_tickets if job.kind == JobKind.EXPORT else _erase_tickets)(session, job, batch)
        job.cursor, job.done = batch[-1].id, job.done + len(batch)
        job.progress = min(99, job.done * 100 // max(job.total, job.done, 1))
        return JobStatus.RUNNING
    (_finish_export if job.kind == JobKind.EXPORT else _finish_erasure)(session, job, now)
    job.status, job.progress, job.finished_at = JobStatus.DONE, 100, now
    return JobStatus.DONE


def _export_tickets(session: Session, job: ContactJob, batch: list[Ticket]) -> None:
    messages: dict[int, list[dict[str, Any]]] = {t.id: [] for t in batch}
    for m in session.scalars(select(Message).where(Message.ticket_id.in_(messages)).order_by(Message.id)):
        messages[m.ticket_id].append({
            "id": m.id, "direction": m.direction.value, "kind": m.kind, "body": m.body, "payload": m.payload,
            "status": m.status.value, "author_id": m.author_id, "created_at": m.created_at.isoformat()})
    exported = [{"id": t.id, "channel_id": t.channel_id, "status": t.status.value, "subject": t.subject,
                 "created_at": t.created_at.isoformat(),
                 "resolved_at": t.resolved_at.isoformat() if t.resolved_at else None,
                 "messages": messages[t.id]} for t in batch]
    job.result = {**(job.result or {}), "tickets": [*(job.result or {}).get("tickets", []), *exported]}


def _finish_export(session: Session, job: ContactJob, now: datetime) -> None:
    contact = session.get_one(Contact, job.contact_id)
    result = dict(job.result or {})
    ticket_ids = [t["id"] for t in result.get("tickets", [])]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.tenant_id == job.tenant_id, or_(
        (AuditEntry.entity == "contact") & (AuditEntry.entity_id == contact.id),
        (AuditEntry.entity == "ticket") & AuditEntry.entity_id.in_(ticket_ids))).order_by(AuditEntry.id))
    merged = session.scalars(select(Contact.id).where(Contact.merged_into_id == contact.id)).all()
    profile = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in profiles(session, [contact])[0].items()}
    job.result = {"format": "atendimento.contact-export/1", "exported_at": now.isoformat(), "contact": profile,
                  "merged_contact_ids": list(merged), "tickets": result.get("tickets", []),
                  "audit": [{"action": a.action, "entity": a.entity, "entity_id": a.entity_id, "data": a.data,
                             "actor_id": a.actor_id, "at": a.created_at.isoformat()} for a in audit]}


def _erase_tickets(session: Session, job: ContactJob, batch: list[Ticket]) -> None:
    ids = [t.id for t in batch]
    _erase_copies(session, job.tenant_id, ids)
    erased = rowcount(session.execute(update(Message).where(Message.ticket_id.in_(ids), Message.body != ERASED_TEXT)
                             .values(body=ERASED_TEXT, payload={}, error_reason=None)))
    session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(subject=None))
    job.result = {**(job.result or {}), "messages": (job.result or {}).get("messages", 0) + erased}


def _erase_copies(session: Session, tenant_id: int, ticket_ids: list[int]) -> None:
    """The other places a conversation's text and the customer's address were kept: the raw webhook deliveries
    (inbox_events, once processed) and the real-time event log kept for replay. Both are replaced by a marker.

    Deliveries are found through the provider ids of the tickets' messages: an inbound message's delivery has that
    id, a status's id starts with it (`<id>:<status>`, Twilio and WhatsApp) or names it (SendGrid's
    `sg_message_id`, which starts with the X-Message-Id we recorded).
    """
    provider_ids = [pid for pid in session.scalars(select(Message.provider_message_id).where(
        Message.ticket_id.in_(ticket_ids), Message.provider_message_id.is_not(None))) if pid]
    for chunk in (provider_ids[i:i + 200] for i in range(0, len(provider_ids), 200)):
        named = or_(InboxEvent.event_id.in_(chunk),
                    *[InboxEvent.event_id.like(f"{_like(pid)}:%", escape="\\") for pid in chunk],
                    *[cast(InboxEvent.payload, String).like(f'%"sg_message_id": "{_like(pid)}%', escape="\\")
                      for pid in chunk])
        session.execute(update(InboxEvent).where(InboxEvent.tenant_id == tenant_id,
                                                 InboxEvent.processed_at.is_not(None), named)
                        .values(payload=ERASED_DOCUMENT))
    realtime.write_pending(session)  # events of this transaction are written at commit otherwise: unscrubbed
    rooms = [f'%"{realtime.ticket_room(tenant_id, ticket_id)}"%' for ticket_id in ticket_ids]
    session.execute(update(RealtimeEvent).where(RealtimeEvent.tenant_id == tenant_id,
                                                or_(*[cast(RealtimeEvent.rooms, String).like(r) for r in rooms]))
                    .values(data=ERASED_DOCUMENT))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _finish_erasure(session: Session, job: ContactJob, now: datetime) -> None:
    # Under the contact's lock, which triage takes before it stores a message for this contact: whatever
    # arrived since the steps began is anonymised too, and after commit a new message makes a new contact.
    contact = session.scalars(select(Contact).where(Contact.id == job.contact_id).with_for_update()
                              .execution_options(populate_existing=True)).one()
    tickets = select(Ticket.id).where(Ticket.contact_id == contact.id)
    _erase_copies(session, job.tenant_id, list(session.scalars(tickets)))
    late = rowcount(session.execute(update(Message).where(Message.ticket_id.in_(tickets), Message.body != ERASED_TEXT)
                           .values(body=ERASED_TEXT, payload={}, error_reason=None)))
    identities = rowcount(session.execute(delete(ContactIdentity).where(
        ContactIdentity.contact_id == contact.id)))
    # Contacts merged into this one keep their old profile fields on the tombstone: erased as well.
    for row in (contact, *session.scalars(select(Contact).where(Contact.merged_into_id == contact.id))):
        row.name = row.phone = row.email = row.notes = None
        row.attributes, row.erased_at, row.updated_at = {}, now, now
    counts = {"messages": (job.result or {}).get("messages", 0) + late, "identities": identities,
              "tickets": job.done}
    job.result = counts
    session.add(AuditEntry(tenant_id=job.tenant_id, actor_id=job.requested_by, action="contact.erased",
                           entity="contact", entity_id=contact.id, data={"job_id": job.id, **counts}, created_at=now))
