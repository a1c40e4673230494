"""Marshmallow schemas shared by the API's blueprints (they become the OpenAPI components)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from models.services.conversation import MAX_BODY
from models.services.payloads import is_unread
from models.tickets import TicketStatus


class TicketSchema(Schema):
    id = fields.Integer()
    status = fields.Function(lambda t: t.status.value, metadata={"enum": [s.value for s in TicketStatus]})
    priority = fields.Integer()
    queue_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    channel_id = fields.Integer()
    contact_id = fields.Integer()
    contact_name = fields.Function(lambda t: t.contact.name, allow_none=True)
    contact_phone = fields.Function(lambda t: t.contact.phone, allow_none=True)
    in_bot = fields.Function(lambda t: t.queue_id is None and t.status == TicketStatus.QUEUED,
                             metadata={"description": "still at the bot's menu"})
    created_at = fields.DateTime()
    unread = fields.Function(lambda t: is_unread(t), metadata={"description": "customer wrote after read_at"})
    read_at = fields.DateTime(allow_none=True)
    assigned_at = fields.DateTime(allow_none=True)
    first_response_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    first_response_due_at = fields.DateTime(allow_none=True)
    resolution_due_at = fields.DateTime(allow_none=True)


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


class PageArgs(Schema):
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class TicketQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))
    queue_id = fields.Integer()
    mine = fields.Boolean(load_default=False, metadata={"description": "only tickets assigned to me"})
    q = fields.String(validate=validate.Length(1, 100),
                      metadata={"description": "contact phone (partial digits) or name"})


class TicketPage(Schema):
    items = fields.List(fields.Nested(TicketSchema))
    next_cursor = fields.String(allow_none=True)


class MessagePage(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    next_cursor = fields.String(allow_none=True)


class TemplateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 512))
    language = fields.Dict(required=True, metadata={"example": {"code": "pt_BR"}})
    components = fields.List(fields.Dict(), load_default=list)


class ReplySchema(Schema):
    body = fields.String(load_default="", validate=validate.Length(0, MAX_BODY),
                         metadata={"example": "Olá! Como posso ajudar?"})
    template = fields.Nested(TemplateSchema, load_default=None,
                             metadata={"description": "WhatsApp template, required outside the 24-hour window"})


class NoteSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(1, MAX_BODY))


class TransferSchema(Schema):
    queue_id = fields.Integer(metadata={"description": "move to this queue (back in line)"})
    agent_id = fields.Integer(metadata={"description": "give to this agent (supervisors: even over capacity)"})
    reason = fields.String(load_default="", validate=validate.Length(0, 500))


class QueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    strategy = fields.Function(lambda q: q.strategy.value, deserialize=str,
                               validate=validate.OneOf(["least_busy", "round_robin", "skills", "priority"]))
    return_on_offline = fields.Boolean()
    offline_grace_seconds = fields.Integer(validate=validate.Range(0, 86400))


class EventSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    at = fields.DateTime(attribute="created_at")
    data = fields.Dict()


class EventQuery(Schema):
    after = fields.Integer(required=True, validate=validate.Range(0), metadata={"description": "last id seen"})
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 1000))


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
