// Inbox attention: when a customer's message deserves a notification and a sound, the per-user sound setting,
// and the chime itself (generated with the Web Audio API: no audio file to ship). The decisions are pure.
import type { Message, Ticket } from "./types";

export interface AlertContext {
  me: number | undefined;
  openId: number | null;
  hidden: boolean; // the tab is in the background (document.hidden)
}

/**
 * Does this message call for a notification and a sound? A customer's message (not ours, not a note) on a
 * ticket that is mine or waits unassigned, while the agent cannot be reading it: the tab is hidden, or the
 * conversation is not the one open. Tickets of colleagues never ring, not even for a supervisor.
 */
export function shouldAlert(m: Pick<Message, "direction">, t: Pick<Ticket, "agent_id" | "status" | "id"> | undefined,
                            ctx: AlertContext): boolean {
  if (m.direction !== "in" || !t || t.status === "resolved") return false;
  if (t.agent_id != null && t.agent_id !== ctx.me) return false;
  return ctx.hidden || ctx.openId !== t.id;
}

/** What a `mention.created` event carries (models/services/mentions.py). */
export interface MentionEvent {
  user_id: number;
  ticket_id: number;
  message_id: number;
  author_id: number;
  author_name: string;
  excerpt: string;
}

/**
 * Does this mention call for the toast, a notification and the chime? Only when it names me and someone else
 * wrote it. Unlike a customer's message it rings even on a colleague's ticket, and even while that ticket is
 * open: a mention asks for me personally (the notification itself still needs the permission, the chime the
 * sound switch: main.ts).
 */
export function shouldAlertMention(e: Pick<MentionEvent, "user_id" | "author_id"> | undefined,
                                   me: number | undefined): boolean {
  return e != null && me != null && e.user_id === me && e.author_id !== me;
}

/** The tickets that count in the tab title: unread, open, and mine or unassigned. */
export function unreadCount(tickets: Iterable<Pick<Ticket, "unread" | "status" | "agent_id">>,
                            me: number | undefined): number {
  let n = 0;
  for (const t of tickets) if (t.unread && t.status !== "resolved" && (t.agent_id == null || t.agent_id === me)) n++;
  return n;
}

/** Where the per-user "sound on/off" is kept (this browser only); on unless the user switched it off. */
export const soundKey = (tenant: number | undefined, user: number | undefined) =>
  `atendimento.sound.${tenant ?? "?"}.${user ?? "?"}`;

export function soundOn(storage: Pick<Storage, "getItem"> | null, key: string): boolean {
  return storage?.getItem(key) !== "off";
}

export function setSound(storage: Pick<Storage, "setItem" | "removeItem"> | null, key: string, on: boolean): void {
  if (on) storage?.removeItem(key);
  else storage?.setItem(key, "off");
}

let audio: AudioContext | null = null;
let lastChime = -Infinity;
const CHIME_GAP_MS = 1500; // the replay after a reconnect brings many messages at once: one chime, not a dozen

/** Two short soft tones (about a third of a second). Silent where the browser has no Web Audio or blocks it. */
export function chime(now = Date.now()): void {
  const Ctx = typeof window === "undefined" ? undefined : window.AudioContext;
  if (!Ctx || now - lastChime < CHIME_GAP_MS) return;
  lastChime = now;
  try {
    audio ??= new Ctx();
    const ctx = audio;
    if (ctx.state === "suspended") void ctx.resume().catch(() => undefined);
    const start = ctx.currentTime + 0.01;
    [880, 1320].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.14;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.15, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    });
  } catch {
    // a sound is a nicety: never let it break the inbox
  }
}
