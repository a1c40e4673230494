"""Who serves: tenants, their users (agents, supervisors, admins), departments, queues and channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column, utcnow


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Strategy(StrEnum):
    LEAST_BUSY = "least_busy"
    ROUND_ROBIN = "round_robin"
    SKILLS = "skills"
    PRIORITY = "priority"


class ChannelKind(StrEnum):
    WHATSAPP = "whatsapp"
    SMS = "sms"
    EMAIL = "email"
    SANDBOX = "sandbox"  # local, simulated: models.providers.sandbox


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Business-hours calendar and other tenant-wide settings (see models.rules.sla.Calendar.from_doc).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(TenantOwned, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.AGENT)
    max_tickets: Mapped[int] = mapped_column(Integer, default=5)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[AgentStatus] = mapped_column(enum_column(AgentStatus), default=AgentStatus.OFFLINE)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Last time a socket of theirs was seen; an agent whose sockets are all gone past the grace period goes away.
    last_seen_at: Mapped[datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Department(TenantOwned, Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Queue(TenantOwned, Base):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("departments.id", ondelete="SET NULL"))
    strategy: Mapped[Strategy] = mapped_column(enum_column(Strategy), default=Strategy.LEAST_BUSY)
    # When an agent goes offline, their unanswered tickets return here after this grace period.
    return_on_offline: Mapped[bool] = mapped_column(Boolean, default=True)
    offline_grace_seconds: Mapped[int] = mapped_column(Integer, default=120)
    # Per-queue options; "csat": the satisfaction question on resolve (models.rules.csat.CsatConfig).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueueMember(TenantOwned, Base):
    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(BigId, ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    # Round robin needs to know who got the last ticket of this queue.
    last_assigned_at: Mapped[datetime | None] = mapped_column()


class Channel(TenantOwned, Base):
    """A number or address a tenant is reached at. `external_id` is how a webhook payload names it:
    WhatsApp phone_number_id, Twilio number or messaging service sid, inbound email address."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind))
    name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    default_queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="SET NULL"))
    # Provider identifiers and secrets (app secret, verify token, access token, ...). Never serialised out.
    credentials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """What a webhook needs of a channel: whose it is and the secrets its deliveries are checked with.

    Read as a Core row by one prebuilt statement (`models.services.inbound.Directory`): loading `Channel`
    entities through a statement built on every call cost the webhook about 0.3 ms of CPU of 0.45 (ops/RESULTS.md).
    """

    id: int
    tenant_id: int
    kind: ChannelKind
    external_id: str
    credentials: dict[str, Any]
