"""Inbound messages straight into triage, on any channel of the test tenants (what a worker does per event)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Message
from models.base import utcnow
from models.providers.base import ParsedMessage
from models.services import triage
from tests.fakes import sendgrid as sg
from tests.fakes.whatsapp import PHONE_NUMBER_ID

WHATSAPP, EMAIL = PHONE_NUMBER_ID, sg.SUPPORT


def receive(s: Session, channel_ref: str, sender: str, body: str = "Olá", name: str | None = None) -> Message:
    channel = s.scalars(select(Channel).where(Channel.external_id == channel_ref)).one()
    message = triage.receive_message(s, channel, ParsedMessage(f"m-{uuid.uuid4().hex}", sender, name, "text", body),
                                     utcnow())
    assert message is not None
    return message


def received(sessions: sessionmaker[Session], channel_ref: str, sender: str, body: str = "Olá",
             name: str | None = None) -> tuple[int, int]:
    """(message id, ticket id), committed."""
    with sessions() as s, s.begin():
        message = receive(s, channel_ref, sender, body, name)
        return message.id, message.ticket_id
