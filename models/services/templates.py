"""WhatsApp templates: keep each channel's catalogue as Meta reports it, and fill one for a send."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.errors import Invalid, NotFound
from models.events import InboxEvent
from models.infra import tasks
from models.infra.config import Settings
from models.infra.outbox import enqueue
from models.org import Channel, ChannelKind, User
from models.providers import whatsapp_templates
from models.providers.adapter import credentials
from models.rules import templates as rules
from models.templates import MessageTemplate

APPROVED = "APPROVED"
_LEARN_FROM = 20  # recent deliveries looked at for the business account id (entry.id) of a channel


def business_account(session: Session, channel: Channel) -> str | None:
    """The channel's WhatsApp Business Account id: its `business_account_id` credential, else the entry.id of
    its recent deliveries (Meta names the account in every webhook)."""
    configured = credentials(channel, "business_account_id")
    if configured:
        return configured
    for payload in session.scalars(select(InboxEvent.payload).where(InboxEvent.channel_id == channel.id,
                                                                    InboxEvent.kind == "message")
                                   .order_by(InboxEvent.id.desc()).limit(_LEARN_FROM)):
        if isinstance(payload, dict) and payload.get("waba_id"):
            return str(payload["waba_id"])
    return None


def request_sync(session: Session, user: User, channel_id: int) -> Channel:
    """Ask a worker to sync the channel's catalogue now (a supervisor's "sync now")."""
    channel = session.scalars(select(Channel).where(Channel.id == channel_id,
                                                    Channel.tenant_id == user.tenant_id)).one_or_none()
    if channel is None:
        raise NotFound("channel not found")
    if channel.kind != ChannelKind.WHATSAPP:
        raise Invalid("only WhatsApp channels have templates", field="channel_id", code="templates_unsupported")
    if business_account(session, channel) is None:
        raise Invalid("the channel's business account is not known yet: set its business_account_id credential, "
                      "or wait for its first delivery", field="business_account_id", code="business_account_unknown")
    enqueue(session, channel.tenant_id, tasks.SYNC_TEMPLATES, channel.id)
    return channel


def schedule_all(session: Session) -> int:
    """Ask for a sync of every active WhatsApp channel (beat's periodic job); each runs as its own task."""
    rows = session.execute(select(Channel.id, Channel.tenant_id).where(Channel.kind == ChannelKind.WHATSAPP,
                                                                       Channel.active.is_(True))).all()
    for channel_id, tenant_id in rows:
        enqueue(session, tenant_id, tasks.SYNC_TEMPLATES, channel_id)
    return len(rows)


def sync(session: Session, channel_id: int, settings: Settings, now: datetime,
         http: requests.Session | None = None) -> dict[str, Any]:
    """Read the channel's templates from the Graph API and make them the stored catalogue. Raises ProviderError
    (the task retries the retryable ones); a channel whose business account is unknown is skipped."""
    channel = session.get(Channel, channel_id)
    if channel is None or channel.kind != ChannelKind.WHATSAPP or not channel.active:
        return {"skipped": "no such active WhatsApp channel"}
    waba_id = business_account(session, channel)
    if waba_id is None:
        return {"skipped": "business account unknown"}
    fetched = whatsapp_templates.list_templates(
        base_url=settings.whatsapp_graph_base_url, version=settings.whatsapp_graph_version, waba_id=waba_id,
        token=credentials(channel, "access_token"), timeout=(settings.http_connect_timeout,
                                                             settings.http_read_timeout), session=http)
    return replace_catalogue(session, channel, fetched, now)


def replace_catalogue(session: Session, channel: Channel, fetched: Iterable[dict[str, Any]],
                      now: datetime) -> dict[str, int]:
    """Make the stored catalogue what Meta listed: add new templates, update changed ones, drop those gone.

    The channel row is locked first, so two syncs of one channel (beat and a supervisor's "sync now") run one
    after the other instead of racing on the unique key.
    """
    session.execute(select(Channel.id).where(Channel.id == channel.id).with_for_update())
    existing = {(t.name, t.language): t for t in session.scalars(
        select(MessageTemplate).where(MessageTemplate.channel_id == channel.id))}
    seen: set[tuple[str, str]] = set()
    added = updated = 0
    for item in fetched:
        key = (str(item.get("name", "")), str(item.get("language", "")))
        if not all(key) or key in seen:
            continue
        seen.add(key)
        values = {"category": str(item.get("category", "")), "status": str(item.get("status", "")),
                  "components": list(item.get("components") or []), "provider_id": item.get("id"),
                  "synced_at": now}
        row = existing.get(key)
        if row is None:
            session.add(MessageTemplate(tenant_id=channel.tenant_id, channel_id=channel.id, name=key[0],
                                        language=key[1], **values))
            added += 1
        else:
            changed = any(getattr(row, k) != v for k, v in values.items() if k != "synced_at")
            for k, v in values.items():
                setattr(row, k, v)
            updated += changed
    gone = [row.id for key, row in existing.items() if key not in seen]
    if gone:
        session.execute(delete(MessageTemplate).where(MessageTemplate.id.in_(gone)))
    return {"added": added, "updated": updated, "removed": len(gone), "total": len(seen)}


def listed(session: Session, tenant_id: int, channel_id: int | None = None,
           status: str | None = APPROVED) -> list[MessageTemplate]:
    """The tenant's templates (of one channel), approved ones by default, by name."""
    query = select(MessageTemplate).where(MessageTemplate.tenant_id == tenant_id)
    if channel_id is not None:
        query = query.where(MessageTemplate.channel_id == channel_id)
    if status:
        query = query.where(MessageTemplate.status == status)
    return list(session.scalars(query.order_by(MessageTemplate.name, MessageTemplate.language)))


def summary(template: MessageTemplate) -> dict[str, Any]:
    """What an agent needs to pick and fill a template."""
    return {"name": template.name, "language": template.language, "category": template.category,
            "needs": rules.needs(template.components).as_dict()}


def compose(session: Session, channel: Channel, request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The template object to send and the text to record, from an agent's request.

    A request naming `components` is sent as given (the raw Graph shape). One giving `variables` is filled from
    the synced catalogue: the template must be there and approved, and the variables must fit it.
    """
    language = request.get("language")
    code = language.get("code") if isinstance(language, dict) else language
    name = str(request.get("name", ""))
    if "components" in request and "variables" not in request:
        return {"name": name, "language": {"code": code}, "components": list(request["components"])}, \
            f"[template {name}]"
    template = session.scalars(select(MessageTemplate).where(
        MessageTemplate.channel_id == channel.id, MessageTemplate.name == name,
        MessageTemplate.language == code)).one_or_none()
    if template is None and "variables" not in request and not _has_catalogue(session, channel):
        # Never synced (no business account id, or before the first sync): send what the agent named, as before.
        return {"name": name, "language": {"code": code}, "components": []}, f"[template {name}]"
    if template is None or template.status != APPROVED:
        state = "not in this channel's catalogue" if template is None else f"{template.status.lower()}"
        raise Invalid(f"template {name} ({code}) is {state}: only approved templates can be sent",
                      code="template_not_approved", field="template",
                      templates=[summary(t) for t in listed(session, channel.tenant_id, channel.id)])
    variables = [str(v) for v in request.get("variables") or []]
    try:
        components = rules.send_components(template.components, variables,
                                           [str(v) for v in request.get("header_variables") or []],
                                           request.get("header_media_url"))
    except rules.TemplateMismatch as exc:
        raise Invalid(str(exc), code="template_variables", field=f"template.{exc.field}",
                      needs=rules.needs(template.components).as_dict()) from exc
    return ({"name": name, "language": {"code": code}, "components": components},
            rules.preview(template.components, variables))


def _has_catalogue(session: Session, channel: Channel) -> bool:
    return session.scalar(select(MessageTemplate.id).where(MessageTemplate.channel_id == channel.id).limit(1)) \
        is not None
