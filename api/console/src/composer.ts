// The composer's extras: files dropped or chosen for a reply (sent as multipart, as the API takes them), a short
// built-in emoji list inserted at the caret, and "@" mentions of the tenant's agents in a private note.

/** The multipart body of a reply with files: `body` and one `file` part per file (api/tickets.py). */
export function replyForm(body: string, files: readonly File[], replyTo?: number): FormData {
  const form = new FormData();
  form.append("body", body);
  if (replyTo != null) form.append("reply_to", String(replyTo));
  for (const f of files) form.append("file", f, f.name);
  return form;
}

/** The files of a drop (or a file input), skipping folders and other non-file items. */
export const droppedFiles = (list: FileList | null | undefined): File[] =>
  [...(list ?? [])].filter((f) => f.size > 0 || f.type !== "");

/** Common emoji of customer service, in the order the picker shows them. */
export const EMOJI = ["😀", "😊", "🙂", "😉", "😍", "🤩", "😂", "😅", "🙏", "👍", "👎", "👏", "🙌", "💪", "👋", "🤝",
  "❤️", "🎉", "✅", "❌", "⚠️", "⏳", "📦", "🚚", "💳", "📞", "📧", "🔧", "😔", "😢", "😮", "🤔"] as const;

/** The text with `insert` put in place of the selection [start, end), and where the caret goes after it. */
export function insertAt(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  const a = Math.max(0, Math.min(start, text.length));
  const b = Math.max(a, Math.min(end, text.length));
  return { text: text.slice(0, a) + insert + text.slice(b), caret: a + insert.length };
}

/** The "@" being typed just before the caret: where it starts and the name prefix typed so far, or null. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([\p{L}\p{N}_.-]{0,30})$/u.exec(before);
  if (!m) return null;
  return { start: before.length - m[2]!.length - 1, prefix: m[2]! };
}

/** A user of the tenant, as GET /api/colleagues lists them. */
export interface Colleague {
  id: number;
  name: string;
}

/** The agents whose name (or a word of it) starts with the prefix, case- and accent-insensitively. */
export function mentionMatches<T extends { name: string }>(agents: readonly T[], prefix: string, limit = 8): T[] {
  const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const p = fold(prefix);
  return agents.filter((a) => fold(a.name).split(/\s+/).some((w) => w.startsWith(p)) || fold(a.name).startsWith(p))
    .slice(0, limit);
}

/** What a mention puts in the note: "@" and the name, spaces kept (the notes API stores plain text). */
export const mentionText = (name: string): string => `@${name} `;

/** The ids the notes API is told about: colleagues picked from the list whose "@Name" is still in the text (the
 * agent may have deleted one after picking it), once each. Names typed by hand are not mentions: names are not
 * unique, only the list's pick says whom the agent meant. */
export function mentionedIds(body: string, picked: readonly Colleague[]): number[] {
  const ids = new Set<number>();
  for (const c of picked) if (body.includes(`@${c.name}`)) ids.add(c.id);
  return [...ids];
}
