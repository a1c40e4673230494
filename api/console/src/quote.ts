// Quoted replies: what a message quotes (WhatsApp's `context`), and which messages an agent may quote.
import { preview } from "./inbox";
import type { Message } from "./types";

/** The quoted message as the thread shows it above a reply; `loaded: false` when it is not in the loaded page. */
export interface Quote {
  id: number;
  loaded: boolean;
  side?: "in" | "out";
  excerpt: string;
}

/** What `m` quotes, looked up among the loaded messages; null when it quotes nothing. */
export function quoteOf(m: Pick<Message, "reply_to">, find: (id: number) => Message | undefined,
                        max = 80): Quote | null {
  if (m.reply_to == null) return null;
  const quoted = find(m.reply_to);
  if (!quoted || quoted.direction === "note") return { id: m.reply_to, loaded: false, excerpt: "" };
  return { id: quoted.id, loaded: true, side: quoted.direction, excerpt: preview(quoted, max) };
}

const REACHED = new Set(["sent", "delivered", "read"]);

/** A customer's message, or ours once the provider took it (the quote names the provider's id): not notes or
 * reactions, not a reply still queued or failed. */
export function canQuote(m: Pick<Message, "direction" | "kind" | "status">): boolean {
  if (m.kind === "reaction") return false;
  return m.direction === "in" || (m.direction === "out" && REACHED.has(m.status));
}
