// Pure rules of the inbox: which tab a ticket belongs to, counts, merges that never go backwards.
// No DOM, no network: the unit tests drive these directly.
import type { Attachment, DeliveryStatus, Message, Reaction, Ticket } from "./types";

export const TABS = ["mine", "unassigned", "all", "pending", "resolved"] as const;
export type Tab = (typeof TABS)[number];

/** Delivery statuses only move forward: a late or replayed event never takes a badge back. */
export const RANK: Record<DeliveryStatus, number> = { received: 0, queued: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

export function inTab(t: Ticket, tab: Tab, me: number | undefined): boolean {
  switch (tab) {
    // Pending and snoozed tickets wait on the customer (or a time): they leave the working tabs for their own.
    case "mine":
      return t.agent_id === me && t.status !== "resolved" && !waiting(t);
    case "unassigned":
      return t.agent_id == null && t.status !== "resolved" && !waiting(t);
    case "all":
      return t.status !== "resolved";
    case "pending":
      return waiting(t);
    case "resolved":
      return t.status === "resolved";
  }
}

/** Pending (waiting on the customer) or snoozed. */
export function waiting(t: Pick<Ticket, "status" | "snoozed">): boolean {
  return t.status === "pending" || Boolean(t.snoozed && t.status !== "resolved");
}

export function countTabs(tickets: Iterable<Ticket>, me: number | undefined): Record<Tab, number> {
  const counts: Record<Tab, number> = { mine: 0, unassigned: 0, all: 0, pending: 0, resolved: 0 };
  for (const t of tickets) for (const tab of TABS) if (inTab(t, tab, me)) counts[tab]++;
  return counts;
}

/** Newest first, unread before read within the open tabs. */
export function sortTickets(list: Ticket[]): Ticket[] {
  return [...list].sort((a, b) => Number(b.unread) - Number(a.unread) || b.id - a.id);
}

/** Some events carry a summary without the contact: keep the name and phone already known. */
export function mergeTicket(prev: Ticket | undefined, next: Partial<Ticket> & { id: number }): Ticket {
  const merged = { ...prev, ...next } as Ticket;
  merged.contact_name = next.contact_name ?? prev?.contact_name ?? null;
  merged.contact_phone = next.contact_phone ?? prev?.contact_phone ?? null;
  if (prev?.sla && next.status !== "resolved") merged.sla = next.sla ?? prev.sla;
  return merged;
}

/**
 * A message merged with what is known of it; its status never moves back (a replayed "sent" after "read").
 * One exception: a failed send that a supervisor re-sent really goes back to queued and on to sent. Status
 * events arrive in commit order (`ordered`), so one of those may lift a "failed"; a page loaded over HTTP may not.
 */
export function mergeMessage(prev: Partial<Message> | undefined, next: Partial<Message> & { id: number },
                             ordered = false): Message {
  const merged = { ...prev, ...next } as Message;
  if (ordered && prev?.status === "failed" && next.status && next.status !== "failed") {
    merged.error_code = null;
    merged.error_reason = null;
    return merged;
  }
  if (prev?.status && (RANK[prev.status] ?? -1) > (RANK[merged.status] ?? -1)) {
    merged.status = prev.status;
    merged.error_code = prev.error_code ?? merged.error_code;
    merged.error_reason = prev.error_reason ?? merged.error_reason;
  }
  return merged;
}

export const PRIORITIES = ["normal", "high", "urgent", "critical"] as const;

/** The i18n key of a priority (0..3; anything above reads as the highest). */
export function priorityKey(p: number | null | undefined): (typeof PRIORITIES)[number] {
  return PRIORITIES[Math.min(Math.max(p ?? 0, 0), PRIORITIES.length - 1)] ?? "normal";
}

/** The document title: the unread count first, as chat apps do, so a background tab shows it. */
export function pageTitle(unread: number, base: string): string {
  return unread > 0 ? `(${unread}) ${base}` : base;
}

/** One line of a message for a list preview. */
export function preview(m: Pick<Message, "body" | "kind" | "direction"> | undefined, max = 80): string {
  if (!m) return "";
  const text = (m.body || `[${m.kind}]`).replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** WhatsApp template components from the body variables an agent typed ({{1}}, {{2}}, ...). */
export function templateComponents(variables: string[]): Array<Record<string, unknown>> {
  const values = variables.map((v) => v.trim()).filter(Boolean);
  if (!values.length) return [];
  return [{ type: "body", parameters: values.map((text) => ({ type: "text", text })) }];
}

/** pt-BR where the browser asks for Portuguese first, English otherwise. */
export function chooseLocale(languages: readonly string[], saved?: string | null): "pt-BR" | "en" {
  if (saved === "pt-BR" || saved === "en") return saved;
  for (const lang of languages) {
    const l = lang.toLowerCase();
    if (l.startsWith("pt")) return "pt-BR";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

/** The code prefix a composer's text asks canned responses for: "/ola" → "ola"; null when it is not a shortcut. */
export function cannedPrefix(text: string): string | null {
  const m = /^\/([a-z0-9_.-]{0,32})$/i.exec(text);
  return m ? (m[1] ?? "").toLowerCase() : null;
}

/** How the thread shows an attachment: inline image, audio player, video, or a download link. */
export function attachmentKind(a: Pick<Attachment, "content_type">): "image" | "audio" | "video" | "file" {
  const type = (a.content_type ?? "").toLowerCase();
  // SVG can carry script: the server serves it as a download, and so does the thread.
  if (type.startsWith("image/") && type !== "image/svg+xml") return "image";
  if (type.startsWith("audio/")) return "audio";
  if (type.startsWith("video/")) return "video";
  return "file";
}

/** A file size people read: 930 B, 12 KB, 3.4 MB. */
export function fileSize(bytes: number | null | undefined, locale = "en"): string {
  if (bytes == null) return "";
  const fmt = (n: number) => n.toLocaleString(locale, { maximumFractionDigits: n < 10 ? 1 : 0 });
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${fmt(bytes / 1024)} KB`;
  return `${fmt(bytes / (1024 * 1024))} MB`;
}

/** Reactions grouped by emoji, in first-seen order: [["👍", 2], ["❤️", 1]]. */
export function groupReactions(reactions: Reaction[] | undefined): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const r of reactions ?? []) if (r.emoji) counts.set(r.emoji, (counts.get(r.emoji) ?? 0) + 1);
  return [...counts.entries()];
}

/** A reaction event applied to a message's list: one reaction per reactor, an empty emoji removes it. */
export function applyReaction(reactions: Reaction[] | undefined, reactor: string, emoji: string | null): Reaction[] {
  const rest = (reactions ?? []).filter((r) => r.reactor !== reactor);
  return emoji ? [...rest, { reactor, emoji }] : rest;
}

/** Minutes left before a WhatsApp window closes (0 once closed), from its `closes_at` and the time now. */
export function minutesLeft(closesAt: string | undefined, now: number): number | null {
  if (!closesAt) return null;
  return Math.max(0, Math.round((Date.parse(closesAt) - now) / 60_000));
}

/** A local datetime-local input value ("2026-12-02T18:00") as an ISO time with its UTC offset, for `snooze`. */
export function withOffset(local: string, offsetMinutes = new Date(local).getTimezoneOffset()): string {
  const sign = offsetMinutes > 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${sign}${hh}:${mm}`;
}
