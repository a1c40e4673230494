"""The domain core: tables, pure rules, use-cases and provider adapters. Imports neither Flask nor Celery."""

from models.base import Base
from models.canned import CannedResponse
from models.events import AuditEntry, InboxEvent, OutboxTask, RealtimeEvent
from models.labels import ContactLabel, Label, TicketLabel
from models.org import AgentStatus, Channel, ChannelKind, Department, Queue, QueueMember, Role, Strategy, Tenant, User
from models.sla import NoticeKind, SlaClock, SlaNotice, SlaPause, SlaPolicy, TicketSla
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus
from models.workflow import AutoResolveSetting

__all__ = [
    "OPEN_STATUSES", "AgentStatus", "AuditEntry", "AutoResolveSetting", "Base", "CannedResponse", "Channel",
    "ChannelKind", "Contact", "ContactLabel", "DeliveryStatus", "Department", "Direction", "InboxEvent", "Label",
    "Message", "NoticeKind", "OutboxTask", "Queue", "QueueMember", "RealtimeEvent", "Role", "SlaClock", "SlaNotice",
    "SlaPause", "SlaPolicy", "Strategy", "Tenant", "Ticket", "TicketLabel", "TicketSla", "TicketStatus", "User",
]
