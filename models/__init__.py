"""The domain core: tables, pure rules, use-cases and provider adapters. Imports neither Flask nor Celery."""

from models import search as _search  # noqa: F401 - the search indexes join the metadata
from models.api_keys import ApiKey, KeyPrincipal
from models.attachments import Attachment, AttachmentStatus
from models.auth import AuthSession
from models.base import Base
from models.canned import CannedResponse
from models.contacts import ContactIdentity, ContactJob, IdentityKind
from models.csat import CsatSurvey
from models.events import AuditEntry, InboxEvent, OutboxTask, RealtimeEvent
from models.labels import ContactLabel, Label, TicketLabel
from models.mentions import Mention
from models.notices import TicketNotice
from models.org import AgentStatus, Channel, ChannelKind, Department, Queue, QueueMember, Role, Strategy, Tenant, User
from models.reactions import Reaction
from models.reports import FactKind, ResponseFact
from models.sla import NoticeKind, SlaClock, SlaNotice, SlaPause, SlaPolicy, TicketSla
from models.templates import MessageTemplate
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus
from models.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint
from models.workflow import AutoResolveSetting

__all__ = [
    "OPEN_STATUSES",
    "AgentStatus",
    "ApiKey",
    "Attachment",
    "AttachmentStatus",
    "AuditEntry",
    "AuthSession",
    "AutoResolveSetting",
    "Base",
    "CannedResponse",
    "Channel",
    "ChannelKind",
    "Contact",
    "ContactIdentity",
    "ContactJob",
    "ContactLabel",
    "CsatSurvey",
    "DeliveryState",
    "DeliveryStatus",
    "Department",
    "Direction",
    "FactKind",
    "IdentityKind",
    "InboxEvent",
    "KeyPrincipal",
    "Label",
    "Mention",
    "Message",
    "MessageTemplate",
    "NoticeKind",
    "OutboxTask",
    "Queue",
    "QueueMember",
    "Reaction",
    "RealtimeEvent",
    "ResponseFact",
    "Role",
    "SlaClock",
    "SlaNotice",
    "SlaPause",
    "SlaPolicy",
    "Strategy",
    "Tenant",
    "Ticket",
    "TicketLabel",
    "TicketNotice",
    "TicketSla",
    "TicketStatus",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
