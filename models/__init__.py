"""The domain core: tables, pure rules, use-cases and provider adapters. Imports neither Flask nor Celery."""

from models import search as _search  # noqa: F401 - the search indexes join the metadata
from models.base import Base
from models.contacts import ContactIdentity, ContactJob, IdentityKind
from models.events import AuditEntry, InboxEvent, OutboxTask, RealtimeEvent
from models.org import AgentStatus, Channel, ChannelKind, Department, Queue, QueueMember, Role, Strategy, Tenant, User
from models.sla import NoticeKind, SlaClock, SlaNotice, SlaPause, SlaPolicy, TicketSla
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus

__all__ = [
    "OPEN_STATUSES", "AgentStatus", "AuditEntry", "Base", "Channel", "ChannelKind", "Contact", "ContactIdentity",
    "ContactJob", "DeliveryStatus", "Department", "Direction", "IdentityKind", "InboxEvent", "Message", "NoticeKind",
    "OutboxTask", "Queue", "QueueMember", "RealtimeEvent", "Role", "SlaClock", "SlaNotice", "SlaPause", "SlaPolicy",
    "Strategy", "Tenant", "Ticket", "TicketSla", "TicketStatus", "User",
]
