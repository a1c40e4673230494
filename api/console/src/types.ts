// The API's shapes as the console uses them (see api/schemas.py and models/services/payloads.py).

export type TicketStatus = "queued" | "assigned" | "pending" | "resolved";
export type DeliveryStatus = "received" | "queued" | "sent" | "delivered" | "read" | "failed";
export type Role = "agent" | "supervisor" | "admin";
export type Presence = "online" | "away" | "offline";

export interface Ticket {
  id: number;
  status: TicketStatus;
  priority: number;
  queue_id: number | null;
  agent_id: number | null;
  channel_id: number;
  channel_kind?: string;
  contact_id: number;
  contact_name: string | null;
  contact_phone: string | null;
  created_at: string;
  unread: boolean;
  in_bot?: boolean;
  labels?: Label[];
  snoozed?: boolean;
  snoozed_until?: string | null;
  // Set by the console from sla.* and window.closing events.
  sla?: "warning" | "breached";
  window_closes_at?: string;
}

export interface Label {
  id: number;
  name: string;
  color?: string | null;
}

export interface Attachment {
  id: number;
  filename: string | null;
  content_type: string | null;
  size: number | null;
  status?: string;
  url: string | null;
}

export interface Reaction {
  reactor: string;
  emoji: string;
}

export interface Canned {
  id: number;
  code: string;
  title: string;
  body: string;
  scope: "tenant" | "personal";
}

export interface TemplateNeeds {
  body: number;
  header_text: number;
  header_media: string | null;
}

export interface TemplateInfo {
  name: string;
  language: string;
  category?: string;
  status?: string;
  needs: TemplateNeeds;
}

export interface Message {
  id: number;
  ticket_id: number;
  direction: "in" | "out" | "note";
  kind: string;
  body: string;
  status: DeliveryStatus;
  author_id: number | null;
  error_code?: string | null;
  error_reason?: string | null;
  created_at: string;
  attachments?: Attachment[];
  reactions?: Reaction[];
  // Structured content (api/schemas.py MessageSchema): a shared place, contact cards, our buttons or list on a
  // reply, or the customer's choice of them (id, title).
  location?: { latitude: number; longitude: number; name?: string | null; address?: string | null } | null;
  contacts?: { name?: string | null; phones?: string[] | null; emails?: string[] | null }[] | null;
  interactive?: Interactive | null;
  mentions?: number[]; // a note's @mentioned users
  reply_to?: number | null; // the id of the message this one quotes
}

export interface Interactive {
  buttons?: { id: string; title: string }[];
  list?: { button: string; sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[] };
  id?: string;
  title?: string;
  description?: string | null;
}

export interface User {
  id: number;
  tenant_id: number;
  email: string;
  name: string;
  role: Role;
  status: Presence;
  max_tickets?: number;
  skills?: string[];
  active?: boolean;
}

export interface Queue {
  id: number;
  name: string;
  strategy?: string;
}

export interface Envelope {
  id: number;
  name: string;
  at?: string;
  data: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in?: number;
  expires_at?: number;
  user_id?: number;
  tenant_id?: number;
  role?: Role;
}

/** A template to send: by catalogue name with its variables (filled on the server), or raw components. */
export interface Template {
  name: string;
  language: { code: string } | string;
  components?: Array<Record<string, unknown>>;
  variables?: string[];
  header_variables?: string[];
}

export interface SlaTimes {
  count: number;
  p50: number | null;
  p90: number | null;
}

export interface SlaRow {
  key: number | null;
  name: string | null;
  opened: number;
  resolved: number;
  first_response: SlaTimes;
  resolution: SlaTimes;
  breach_rate: Record<string, number | null>;
}
