"""Export and erasure of a contact on the real PostgreSQL: steps with progress, what is kept and what is gone,
and a message arriving while the erasure finishes."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Contact, ContactIdentity, ContactJob, InboxEvent, Message, RealtimeEvent, Ticket, User
from models.base import utcnow
from models.contacts import JobKind, JobStatus
from models.services import privacy
from models.services.contacts import update_contact
from models.services.search import Filters, search_messages
from tests.services.contacts_helpers import EMAIL, WHATSAPP, received
from tests.services.test_merge_concurrency import wait_until_blocked

PHONE, MAIL = "5511987654321", "maria@example.com"


def maria(sessions: sessionmaker[Session]) -> tuple[int, User]:
    """A contact with a WhatsApp and an email ticket, three messages; (contact id, the supervisor)."""
    received(sessions, WHATSAPP, PHONE, "Meu pedido 4471 não chegou", name="Maria Silva")
    received(sessions, WHATSAPP, PHONE, "moro na Rua das Flores, 10")
    with sessions() as s:
        carla = s.scalars(select(User).where(User.email == "carla@acme.example")).one()
        contact_id = s.scalars(select(Contact.id)).one()
    with sessions() as s, s.begin():
        update_contact(s, carla, contact_id, {"emails": [MAIL], "attributes": {"cpf": "123.456.789-00"}}, utcnow())
    received(sessions, EMAIL, MAIL, "segue o comprovante")
    return contact_id, carla


def run(sessions: sessionmaker[Session], job_id: int, step: int = 1) -> list[int]:
    """Run the job to the end as the worker does, one committed step at a time; the progress seen after each."""
    seen = []
    while True:
        with sessions() as s, s.begin():
            status = privacy.run_step(s, job_id, utcnow(), step)
            seen.append(s.get_one(ContactJob, job_id).progress)
        if status != JobStatus.RUNNING:
            assert status == JobStatus.DONE
            return seen


def request(sessions: sessionmaker[Session], user: User, contact_id: int, kind: JobKind) -> int:
    with sessions() as s, s.begin():
        return privacy.request_job(s, user, contact_id, kind, utcnow()).id


def test_export_holds_everything_about_the_contact(sessions: sessionmaker[Session], bus: Any,
                                                   tenants: dict[str, Any]) -> None:
    contact_id, carla = maria(sessions)
    job_id = request(sessions, carla, contact_id, JobKind.EXPORT)
    assert ("contacts.run_job", [job_id]) in bus.tasks
    assert run(sessions, job_id) == [50, 99, 100]  # two tickets, one a step, then the document
    with sessions() as s:
        doc = s.get_one(ContactJob, job_id).result
    assert doc["contact"]["phones"] == [PHONE] and doc["contact"]["emails"] == [MAIL]
    assert doc["contact"]["attributes"] == {"cpf": "123.456.789-00"}
    bodies = [m["body"] for t in doc["tickets"] for m in t["messages"]]
    assert bodies == ["Meu pedido 4471 não chegou", "moro na Rua das Flores, 10", "segue o comprovante"]
    assert {"contact.updated", "contact.export_requested"} <= {a["action"] for a in doc["audit"]}
    # Running it again (a redelivered task) changes nothing.
    with sessions() as s, s.begin():
        assert privacy.run_step(s, job_id, utcnow()) == JobStatus.DONE


def test_erasure_anonymises_text_removes_identities_and_keeps_the_audit(sessions: sessionmaker[Session],
                                                                        tenants: dict[str, Any]) -> None:
    contact_id, carla = maria(sessions)
    job_id = request(sessions, carla, contact_id, JobKind.ERASURE)
    run(sessions, job_id)
    with sessions() as s:
        contact = s.get_one(Contact, contact_id)
        assert (contact.name, contact.phone, contact.email, contact.attributes) == (None, None, None, {})
        assert contact.erased_at is not None
        assert set(s.scalars(select(Message.body))) == {privacy.ERASED_TEXT}
        assert s.scalars(select(ContactIdentity)).all() == []
        assert len(s.scalars(select(Ticket)).all()) == 2  # the tickets stay: reports keep their numbers
        erased = s.scalars(select(AuditEntry).where(AuditEntry.action == "contact.erased")).one()
        assert erased.data["messages"] == 3 and erased.data["identities"] == 2
        assert "Maria" not in str(erased.data) and PHONE not in str(erased.data)
        # The search index is derived: nothing is found by the old words.
        assert search_messages(s, carla, "pedido flores comprovante", Filters())[0] == []
        assert search_messages(s, carla, "pedido", Filters())[0] == []
    # The same number writing again is a new person to us.
    _m, ticket_id = received(sessions, WHATSAPP, PHONE, "oi de novo")
    with sessions() as s:
        assert s.get_one(Ticket, ticket_id).contact_id != contact_id


def test_erasure_reaches_the_raw_deliveries_and_the_replay_log(sessions: sessionmaker[Session],
                                                                tenants: dict[str, Any]) -> None:
    contact_id, carla = maria(sessions)
    with sessions() as s, s.begin():
        messages = s.scalars(select(Message).order_by(Message.id)).all()
        for i, message in enumerate(messages):
            message.provider_message_id = message.provider_message_id or f"wamid.erase{i}"
        first = messages[0]
        raw = {"from": PHONE, "text": {"body": first.body}}
        other = {"from": "5511911112222", "text": {"body": "outra pessoa"}}
        for event_id, kind, doc in ((first.provider_message_id, "message", raw),
                                    (f"{first.provider_message_id}:read", "status", {"recipient_id": PHONE}),
                                    ("wamid.someone-else", "message", other)):
            s.add(InboxEvent(tenant_id=first.tenant_id, channel_id=first.channel_id, provider="whatsapp",
                             event_id=event_id, kind=kind, payload=doc, processed_at=utcnow()))
    assert _holding(sessions, "Flores") and _holding(sessions, PHONE)
    run(sessions, request(sessions, carla, contact_id, JobKind.ERASURE))
    with sessions() as s:
        kept = s.scalars(select(InboxEvent).where(InboxEvent.event_id == "wamid.someone-else")).one()
        assert kept.payload == other  # another customer's delivery is not touched
    assert _holding(sessions, "Flores") == [] and _holding(sessions, "Meu pedido") == []
    assert _holding(sessions, PHONE) == []


def _holding(sessions: sessionmaker[Session], text: str) -> list[str]:
    """Inbox deliveries (by event id) and real-time events (by name) whose stored document still holds `text`."""
    with sessions() as s:
        found = [e.event_id for e in s.scalars(select(InboxEvent)) if text in json.dumps(e.payload, ensure_ascii=False)]
        found += [e.name for e in s.scalars(select(RealtimeEvent)) if text in json.dumps(e.data, ensure_ascii=False)]
    return found


def test_a_message_arriving_as_the_erasure_finishes_is_erased_or_starts_anew(sessions: sessionmaker[Session],
                                                                             tenants: dict[str, Any]) -> None:
    contact_id, carla = maria(sessions)
    job_id = request(sessions, carla, contact_id, JobKind.ERASURE)
    with sessions() as s, s.begin():  # every ticket step done; the final step not yet
        while s.get_one(ContactJob, job_id).done < 2:
            privacy.run_step(s, job_id, utcnow())
    late, _t = received(sessions, WHATSAPP, PHONE, "mensagem tardia")  # after the steps, before the end
    results: list[Any] = []
    with sessions() as s:
        assert privacy.run_step(s, job_id, utcnow()) == JobStatus.DONE  # holds the contact until commit
        thread = threading.Thread(target=lambda: results.append(received(sessions, WHATSAPP, PHONE, "nova")))
        thread.start()
        wait_until_blocked(sessions)
        s.commit()
    thread.join(timeout=30)
    (_new_message, new_ticket), = results
    with sessions() as s:
        assert s.get_one(Message, late).body == privacy.ERASED_TEXT
        assert s.get_one(Ticket, new_ticket).contact_id != contact_id
        assert s.scalars(select(Message.body).join(Ticket).where(Ticket.id == new_ticket)).all() == ["nova"]
