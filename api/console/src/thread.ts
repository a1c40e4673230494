// Pure helpers of the thread's cards (a shared location, contact cards, our buttons and the customer's choice)
// and of the composer's quick-reply buttons. The limits are WhatsApp's, as the API checks them (api/schemas.py).
import type { Message } from "./types";

export const MAX_BUTTONS = 3;
export const MAX_BUTTON_TITLE = 20;
/** Channel kinds whose replies can carry buttons (the API answers 422 `interactive_unsupported` elsewhere). */
export const BUTTON_CHANNELS: readonly string[] = ["whatsapp", "sandbox"];

export interface Place { latitude: number; longitude: number; name?: string | null; address?: string | null }
export interface SharedContact { name: string; phones: string[]; emails: string[] }
export interface Button { id: string; title: string }

/** OpenStreetMap's page with a marker on the place: a plain link, so the console fetches no map tiles. */
export function mapUrl(p: Pick<Place, "latitude" | "longitude">): string {
  const lat = p.latitude.toFixed(6).replace(/\.?0+$/, "");
  const lon = p.longitude.toFixed(6).replace(/\.?0+$/, "");
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
}

/** Coordinates as people read them: 5 decimals (about a metre), N/S and E/W instead of signs. */
export function coordinates(p: Pick<Place, "latitude" | "longitude">): string {
  const part = (v: number, pos: string, neg: string) => `${Math.abs(v).toFixed(5)}° ${v < 0 ? neg : pos}`;
  return `${part(p.latitude, "N", "S")}, ${part(p.longitude, "E", "W")}`;
}

/** A `tel:` link for a phone as the card carries it (spaces, dashes and brackets dropped; a leading + kept). */
export function telHref(phone: string): string {
  const trimmed = phone.trim();
  return `tel:${trimmed.startsWith("+") ? "+" : ""}${trimmed.replace(/\D/g, "")}`;
}

function isPlace(v: unknown): v is Place {
  const p = v as Place | null;
  return p != null && typeof p === "object" && Number.isFinite(p.latitude) && Number.isFinite(p.longitude);
}

/** The message's shared location, when it carries a usable one. */
export function placeOf(m: Pick<Message, "location">): Place | null {
  return isPlace(m.location) ? m.location : null;
}

/** The contact cards a message shares (empty phones and emails lists when absent). */
export function contactsOf(m: Pick<Message, "contacts">): SharedContact[] {
  if (!Array.isArray(m.contacts)) return [];
  return m.contacts.filter((c) => c && typeof c === "object").map((c) => ({
    name: String(c.name ?? ""), phones: (c.phones ?? []).map(String), emails: (c.emails ?? []).map(String) }));
}

/** Our buttons on an outbound message (a list offers its rows' titles). */
export function offeredButtons(m: Pick<Message, "direction" | "interactive">): Button[] {
  const i = m.interactive;
  if (m.direction !== "out" || !i || typeof i !== "object") return [];
  if (Array.isArray(i.buttons)) return i.buttons.map((b) => ({ id: String(b.id), title: String(b.title) }));
  const rows = i.list?.sections?.flatMap((s) => s.rows ?? []) ?? [];
  return rows.map((r) => ({ id: String(r.id), title: String(r.title) }));
}

/** The title of the customer's choice of our buttons or list, on their inbound message. */
export function chosenTitle(m: Pick<Message, "direction" | "interactive" | "body">): string | null {
  const i = m.interactive;
  if (m.direction !== "in" || !i || typeof i !== "object" || Array.isArray(i.buttons) || i.list) return null;
  const title = typeof i.title === "string" && i.title ? i.title : m.body;
  return title || (typeof i.id === "string" ? i.id : null);
}

export type ButtonProblem = "empty" | "tooLong" | "duplicate" | "tooMany" | "needsText" | "withFiles";

/** What is wrong with the buttons an agent typed (null: they can go), checked before the API is asked. */
export function buttonProblem(titles: readonly string[], body: string, files = 0): ButtonProblem | null {
  const clean = titles.map((t) => t.trim());
  if (clean.length > MAX_BUTTONS) return "tooMany";
  if (clean.some((t) => !t)) return "empty";
  if (clean.some((t) => [...t].length > MAX_BUTTON_TITLE)) return "tooLong";
  if (new Set(clean.map((t) => t.toLocaleLowerCase())).size !== clean.length) return "duplicate";
  if (clean.length && !body.trim()) return "needsText";
  if (clean.length && files > 0) return "withFiles";
  return null;
}

/** The buttons of a reply: ids made from the titles (unique, stable for the same titles), as the API takes them. */
export function buttonsFor(titles: readonly string[]): Button[] {
  const used = new Set<string>();
  return titles.map((raw, i) => {
    const title = raw.trim();
    const slug = title.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || `option`;
    let id = `btn-${i + 1}-${slug}`;
    while (used.has(id)) id += "-x";
    used.add(id);
    return { id, title };
  });
}
