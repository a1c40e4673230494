"""Marshmallow schemas shared by the API's blueprints (they become the OpenAPI components)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.links import signed_url
from models.rules import templates as template_rules
from models.rules.sla_policy import MAX_PRIORITY
from models.services.conversation import MAX_BODY
from models.services.payloads import is_unread, mentions_of, structured
from models.tickets import TicketStatus


class LabelSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 64), metadata={"example": "vip"})
    color = fields.String(load_default="#6b7280", validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$"),
                          metadata={"example": "#e11d48"})


class TicketSchema(Schema):
    id = fields.Integer()
    status = fields.Function(lambda t: t.status.value, metadata={"enum": [s.value for s in TicketStatus]})
    priority = fields.Integer()
    queue_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    channel_id = fields.Integer()
    channel_kind = fields.Function(lambda t: t.channel.kind.value,
                                   metadata={"description": "whatsapp, sms, email or sandbox: what a reply may carry"})
    contact_id = fields.Integer()
    contact_name = fields.Function(lambda t: t.contact.name, allow_none=True)
    contact_phone = fields.Function(lambda t: t.contact.phone, allow_none=True)
    in_bot = fields.Function(lambda t: t.queue_id is None and t.status == TicketStatus.QUEUED,
                             metadata={"description": "still at the bot's menu"})
    created_at = fields.DateTime()
    unread = fields.Function(is_unread, metadata={"description": "customer wrote after read_at"})
    read_at = fields.DateTime(allow_none=True)
    assigned_at = fields.DateTime(allow_none=True)
    first_response_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    first_response_due_at = fields.DateTime(allow_none=True)
    resolution_due_at = fields.DateTime(allow_none=True)
    labels = fields.List(fields.Nested(LabelSchema))
    snoozed = fields.Function(lambda t: t.snoozed_at is not None,
                              metadata={"description": "put aside (status pending) until snoozed_until or a reply"})
    snoozed_until = fields.DateTime(allow_none=True)


def _attachment_url(attachment: Any) -> str | None:
    return signed_url(attachment) if attachment.status.value == "stored" else None


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    status = fields.Function(lambda a: a.status.value,
                             metadata={"enum": ["pending", "stored", "failed", "expired", "erased"]})
    error = fields.String(allow_none=True, metadata={"description": "why the file is not stored (failed, expired)"})
    inline_id = fields.String(allow_none=True, metadata={
        "description": "an email's inline image: the Content-ID its HTML shows as cid:<inline_id>"})
    url = fields.Function(_attachment_url, allow_none=True,
                          metadata={"description": "short-lived download link; null until the file is stored"})


class ReactionSchema(Schema):
    reactor = fields.String(metadata={"description": "customer, or user:<id> for an agent"})
    emoji = fields.String()
    created_at = fields.DateTime()


class MessageSchema(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    direction = fields.Function(lambda m: m.direction.value, metadata={"enum": ["in", "out", "note"]})
    kind = fields.String()
    body = fields.String()
    status = fields.Function(lambda m: m.status.value)
    author_id = fields.Integer(allow_none=True)
    error_code = fields.String(allow_none=True)
    error_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    attachments = fields.List(fields.Nested(AttachmentSchema), dump_default=list)
    reactions = fields.List(fields.Nested(ReactionSchema), dump_default=list)
    mentions = fields.Function(mentions_of, metadata={"description": "ids of the users a note mentions",
                                                      "type": "array", "items": {"type": "integer"}})
    reply_to = fields.Function(lambda m: structured(m)["reply_to"], allow_none=True, metadata={
        "description": "id of the message this one quotes (a customer's reply, or their choice of our buttons)"})
    location = fields.Function(lambda m: structured(m)["location"], allow_none=True, metadata={
        "description": "a shared location: latitude, longitude, name?, address?"})
    contacts = fields.Function(lambda m: structured(m)["contacts"], allow_none=True, metadata={
        "description": "shared contact cards: name, phones, emails"})
    interactive = fields.Function(lambda m: structured(m)["interactive"], allow_none=True, metadata={
        "description": "our buttons or list (outbound), or the customer's choice: id, title, description?"})


class PageArgs(Schema):
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class MessageQuery(PageArgs):
    notes = fields.Boolean(load_default=True, metadata={
        "description": "false: the conversation only, without internal notes (what a list preview shows)"})


class TicketQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))
    queue_id = fields.Integer()
    mine = fields.Boolean(load_default=False, metadata={"description": "only tickets assigned to me"})
    q = fields.String(validate=validate.Length(1, 100),
                      metadata={"description": "contact phone (partial digits) or name"})
    label = fields.Integer(metadata={"description": "only tickets with this label (id)"})


class TicketPage(Schema):
    items = fields.List(fields.Nested(TicketSchema))
    next_cursor = fields.String(allow_none=True)


class MessagePage(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    next_cursor = fields.String(allow_none=True)


class LanguageField(fields.Field[str]):
    """A template language: `"pt_BR"`, or the Graph API's `{"code": "pt_BR"}`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = value.get("code") if isinstance(value, dict) else value
        if not isinstance(code, str) or not 2 <= len(code) <= 16:
            raise ValidationError("a language code such as pt_BR")
        return code


class TemplateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 512))
    language = LanguageField(required=True, metadata={"example": "pt_BR"})
    variables = fields.List(fields.String(), metadata={
        "description": "body variables {{1}}, {{2}}, ... in order, filled into the synced template"})
    header_variables = fields.List(fields.String(), metadata={"description": "text header variables"})
    header_media_url = fields.Url(metadata={"description": "the header's image, video or document"})
    components = fields.List(fields.Dict(), metadata={
        "description": "raw Graph API components, sent as given (instead of variables)"})


class TemplateInfoSchema(Schema):
    id = fields.Integer()
    channel_id = fields.Integer()
    name = fields.String()
    language = fields.String()
    category = fields.String()
    status = fields.String()
    components = fields.List(fields.Dict())
    needs = fields.Function(lambda t: template_rules.needs(t.components).as_dict())
    synced_at = fields.DateTime()


class SyncQueuedSchema(Schema):
    channel_id = fields.Integer()
    queued = fields.Boolean()


class TemplateQuery(Schema):
    channel_id = fields.Integer()
    status = fields.String(load_default="APPROVED", metadata={"description": "APPROVED (default), or ALL"})


class ButtonSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(1, 256))
    title = fields.String(required=True, validate=validate.Length(1, 20))


class ListRowSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(1, 200))
    title = fields.String(required=True, validate=validate.Length(1, 24))
    description = fields.String(validate=validate.Length(0, 72))


class ListSectionSchema(Schema):
    title = fields.String(validate=validate.Length(0, 24))
    rows = fields.List(fields.Nested(ListRowSchema), required=True, validate=validate.Length(1, 10))


class ListSchema(Schema):
    button = fields.String(required=True, validate=validate.Length(1, 20),
                           metadata={"description": "the label of the button that opens the list"})
    sections = fields.List(fields.Nested(ListSectionSchema), required=True, validate=validate.Length(1, 10))

    @validates_schema
    def _rows(self, data: dict[str, Any], **kwargs: Any) -> None:
        rows = [r for section in data.get("sections", []) for r in section["rows"]]
        if len(rows) > 10:
            raise ValidationError("at most 10 rows in all sections together", "sections")
        if len({r["id"] for r in rows}) != len(rows):
            raise ValidationError("row ids must be unique", "sections")


class InteractiveSchema(Schema):
    """WhatsApp quick-reply buttons (up to 3) or a list (up to 10 rows); the customer's choice comes back as a
    message whose `reply_to` is this one."""

    buttons = fields.List(fields.Nested(ButtonSchema), validate=validate.Length(1, 3))
    list = fields.Nested(ListSchema)

    @validates_schema
    def _one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("buttons" in data) == ("list" in data):
            raise ValidationError("give exactly one of buttons or list", "buttons")
        ids = [b["id"] for b in data.get("buttons", [])]
        if len(set(ids)) != len(ids):
            raise ValidationError("button ids must be unique", "buttons")


class ReplySchema(Schema):
    body = fields.String(load_default="", validate=validate.Length(0, MAX_BODY),
                         metadata={"example": "Olá! Como posso ajudar?"})
    template = fields.Nested(TemplateSchema, load_default=None,
                             metadata={"description": "WhatsApp template, required outside the 24-hour window"})
    reply_to = fields.Integer(load_default=None, allow_none=True,
                              metadata={"description": "id of a message of this ticket to quote"})
    interactive = fields.Nested(InteractiveSchema, load_default=None, allow_none=True)
    canned_response_id = fields.Integer(metadata={"description": "send this canned response, filled for the "
                                                                 "ticket, instead of `body`"})
    canned_code = fields.String(validate=validate.Length(1, 32),
                                metadata={"description": "or name it by code (your own first, then the tenant's)"})

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_kw: Any) -> None:
        canned = [key for key in ("canned_response_id", "canned_code") if key in data]
        if len(canned) > 1 or (canned and data.get("body", "").strip()):
            raise ValidationError("give one of body, canned_response_id, canned_code", field_name="body")


class SnoozeSchema(Schema):
    until = fields.AwareDateTime(metadata={"description": "wake at this time (with its UTC offset)",
                                           "example": "2026-12-03T09:00:00-03:00"})
    until_customer_replies = fields.Boolean(load_default=False,
                                            metadata={"description": "instead of `until`: wake on the next reply"})


class ReactSchema(Schema):
    emoji = fields.String(required=True, validate=validate.Length(0, 32),
                          metadata={"example": "👍", "description": "an empty string removes your reaction"})


class NoteSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(1, MAX_BODY))
    mentions = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(0, 50), metadata={
        "description": "ids of the colleagues the note @mentions (GET /api/colleagues): each is told live"})


class TransferSchema(Schema):
    queue_id = fields.Integer(metadata={"description": "move to this queue (back in line)"})
    agent_id = fields.Integer(metadata={"description": "give to this agent (supervisors: even over capacity)"})
    reason = fields.String(load_default="", validate=validate.Length(0, 500))


class PrioritySchema(Schema):
    priority = fields.Integer(required=True, strict=True, validate=validate.Range(0, MAX_PRIORITY),
                              metadata={"description": "0 normal, 1 high, 2 urgent, 3 critical (the cap SLA "
                                                       "escalation stops at)", "example": 2})


class QueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    strategy = fields.Function(lambda q: q.strategy.value, deserialize=str,
                               validate=validate.OneOf(["least_busy", "round_robin", "skills", "priority"]))
    return_on_offline = fields.Boolean()
    offline_grace_seconds = fields.Integer(validate=validate.Range(0, 86400))


class MentionSchema(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    message_id = fields.Integer(metadata={"description": "the note"})
    author_id = fields.Integer()
    author_name = fields.String()
    excerpt = fields.String(metadata={"description": "the note's start, on one line"})
    created_at = fields.String(metadata={"format": "date-time"})


class MentionPage(Schema):
    items = fields.List(fields.Nested(MentionSchema))
    next_cursor = fields.String(allow_none=True)


class EventSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    at = fields.DateTime(attribute="created_at")
    data = fields.Dict()


class EventQuery(Schema):
    after = fields.Integer(required=True, validate=validate.Range(0), metadata={"description": "last id seen"})
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 1000))
    ticket_id = fields.Integer(metadata={"description": "the ticket your socket follows (`subscribe`): its "
                                                        "room's events too"})


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "field errors or context, when there are any"})


class ErrorSchema(Schema):
    """The one error shape of every 4xx/5xx answer."""

    error = fields.Nested(ErrorBody, required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class StoredSchema(Schema):
    stored = fields.Integer(required=True, metadata={"description": "new events kept"})
    duplicates = fields.Integer(required=True, metadata={"description": "redeliveries ignored"})


class UserSchema(Schema):
    id = fields.Integer()
    tenant_id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    status = fields.Function(lambda u: u.status.value)
    max_tickets = fields.Integer()
    skills = fields.List(fields.String())
    active = fields.Boolean()


class ContactSchema(Schema):
    id = fields.Integer()
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "primary phone, E.164 digits without +"})
    email = fields.String(allow_none=True, metadata={"description": "primary email"})
    phones = fields.List(fields.String(), metadata={"description": "every phone, the primary first"})
    emails = fields.List(fields.String(), metadata={"description": "every email, the primary first"})
    attributes = fields.Dict(keys=fields.String(), metadata={"example": {"plan": "gold", "customer_since": 2019}})
    notes = fields.String(allow_none=True)
    merged_into_id = fields.Integer(allow_none=True,
                                    metadata={"description": "set when this contact was merged into another"})
    merged_at = fields.DateTime(allow_none=True)
    erased_at = fields.DateTime(allow_none=True, metadata={"description": "set once an erasure job finished"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class ContactPage(Schema):
    items = fields.List(fields.Nested(ContactSchema))
    next_cursor = fields.String(allow_none=True)


class ContactQuery(PageArgs):
    q = fields.String(validate=validate.Length(1, 100),
                      metadata={"description": "name word prefix, phone digits (partial) or email prefix"})


class ContactPatch(Schema):
    name = fields.String(allow_none=True, validate=validate.Length(0, 200))
    phones = fields.List(fields.String(validate=validate.Length(1, 32)),
                         metadata={"description": "replaces every phone; the first is the primary",
                                   "example": ["+55 11 98765-4321"]})
    emails = fields.List(fields.String(validate=validate.Length(1, 254)),
                         metadata={"description": "replaces every email; the first is the primary"})
    attributes = fields.Dict(keys=fields.String(), metadata={
        "description": "JSON merge patch: a key set to null is removed; keys [a-z][a-z0-9_]*, scalar values"})
    notes = fields.String(allow_none=True, validate=validate.Length(0, 10000))


class MergeSchema(Schema):
    from_contact_id = fields.Integer(required=True, metadata={
        "description": "the contact merged into this one; it becomes a tombstone pointing here"})


class SearchQuery(Schema):
    q = fields.String(required=True, validate=validate.Length(1, 200), metadata={
        "description": "words (web-search syntax for messages: \"exact phrase\", or, -word)", "example": "pedido"})
    scope = fields.String(load_default="messages", validate=validate.OneOf(["messages", "contacts"]))
    sort = fields.String(load_default="rank", validate=validate.OneOf(["rank", "recent"]),
                         metadata={"description": "messages only: best match first, or newest first"})
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))
    queue_id = fields.Integer()
    agent_id = fields.Integer()
    channel_id = fields.Integer()
    since = fields.AwareDateTime(data_key="from", metadata={"description": "inclusive, ISO 8601 with offset"})
    until = fields.AwareDateTime(data_key="to", metadata={"description": "exclusive, ISO 8601 with offset"})
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class SearchHit(Schema):
    kind = fields.String(metadata={"enum": ["message", "contact"]})
    rank = fields.Float(metadata={"description": "higher is better (0 on SQLite)"})
    message_id = fields.Integer()
    ticket_id = fields.Integer()
    ticket_status = fields.String()
    contact_id = fields.Integer()
    contact_name = fields.String(allow_none=True)
    channel_id = fields.Integer()
    direction = fields.String(metadata={"enum": ["in", "out", "note"]})
    snippet = fields.String(metadata={"description": "the body around the first matching word"})
    contact = fields.Nested(ContactSchema, metadata={"description": "contact hits: the profile"})
    created_at = fields.DateTime()


class SearchPage(Schema):
    items = fields.List(fields.Nested(SearchHit))
    next_cursor = fields.String(allow_none=True)


class ContactJobSchema(Schema):
    id = fields.Integer()
    contact_id = fields.Integer()
    kind = fields.Function(lambda j: j.kind.value, metadata={"enum": ["export", "erasure"]})
    status = fields.Function(lambda j: j.status.value, metadata={"enum": ["queued", "running", "done", "failed"]})
    progress = fields.Integer(metadata={"description": "percent of the contact's tickets handled"})
    total = fields.Integer(metadata={"description": "tickets to handle"})
    done = fields.Integer()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    result_url = fields.Function(lambda j: f"/api/contacts/jobs/{j.id}/result" if j.status.value == "done" else None,
                                 allow_none=True)


class EraseSchema(Schema):
    confirm = fields.Boolean(required=True, validate=validate.Equal(True), metadata={
        "description": "must be true: message text, phones, emails and the profile are gone for good"})
