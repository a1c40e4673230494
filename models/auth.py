"""Login sessions: one row per session family (a login and every refresh token rotated from it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class AuthSession(TenantOwned, Base):
    """A session family. Every token carries its id (`fam`); only the refresh token whose id is `refresh_jti`
    may be traded, once. In PostgreSQL rather than Redis so that an ended session stays ended through a Redis
    restart or outage, and so that the access check is the same single query that loads the user."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_live", "user_id", "ended_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    refresh_jti: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # the current refresh token's expiry
    ended_at: Mapped[datetime | None] = mapped_column()
    # logout, refresh_reused, password_changed, password_reset, deactivated
    end_reason: Mapped[str | None] = mapped_column(String(32))
