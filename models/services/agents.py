"""Agents: presence, and the assignment it triggers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import realtime
from models.events import AuditEntry
from models.org import AgentStatus, QueueMember, User
from models.outbox import enqueue

ASSIGN_TASK = "assignment.assign_queue"


def set_status(session: Session, user: User, status: AgentStatus, now: datetime) -> None:
    """Change an agent's presence. Coming online asks every queue of theirs to assign at once."""
    if user.status == status:
        return
    user.status = status
    user.status_changed_at = now
    session.add(AuditEntry(tenant_id=user.tenant_id, actor_id=user.id, action="agent.status", entity="user",
                           entity_id=user.id, data={"status": status.value}, created_at=now))
    if status == AgentStatus.ONLINE:
        queue_ids = session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user.id))
        for queue_id in sorted(queue_ids):
            enqueue(session, user.tenant_id, ASSIGN_TASK, queue_id)
    realtime.emit(session, user.tenant_id, "agent.status", {"agent_id": user.id, "status": status.value},
                  [realtime.supervisors_room(user.tenant_id), realtime.agent_room(user.tenant_id, user.id)])
