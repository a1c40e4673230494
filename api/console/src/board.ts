// The supervisor's live board and the report charts: their shapes, and the pure rules the components use.
export interface BoardAgent { id: number; name: string; status: "online" | "away"; open_tickets: number; max_tickets: number }
export interface BoardQueue {
  id: number; name: string; waiting: number; oldest_waiting_since: string | null; oldest_wait_seconds: number | null;
  assigned: number; pending: number; sla_at_risk: number; sla_breached: number; agents: BoardAgent[];
}
export interface Board { now: string; queues: BoardQueue[] }

/** The live events after which the board may have changed. */
export const BOARD_EVENTS = new Set(["ticket.created", "ticket.assigned", "ticket.updated", "agent.status",
  "sla.warning", "sla.breached"]);
export const BOARD_GAP_MS = 2000; // at most one refresh per gap, however many events arrive
export const BOARD_PERIOD_MS = 30_000; // and a slow refresh for what has no event (the oldest wait grows)

/**
 * `fn` at most once per `gap` ms: a call after a quiet gap runs at once; calls within the gap collapse into
 * one run at its end. (Lodash's throttle does this too; these few lines spare the console a dependency.)
 */
export function throttle(fn: () => void, gap: number, now: () => number = Date.now,
                         later: (f: () => void, ms: number) => unknown = setTimeout): () => void {
  let last = -Infinity;
  let pending = false;
  const run = () => { pending = false; last = now(); fn(); };
  return () => {
    if (pending) return;
    const wait = last + gap - now();
    if (wait <= 0) run();
    else { pending = true; later(run, wait); }
  };
}

/** How loaded an agent is, 0..1 (over capacity reads as full). */
export function loadShare(a: Pick<BoardAgent, "open_tickets" | "max_tickets">): number {
  if (a.max_tickets <= 0) return a.open_tickets > 0 ? 1 : 0;
  return Math.min(1, a.open_tickets / a.max_tickets);
}

/** The board's totals line: waiting, online, away, at risk, breached over every queue (agents counted once). */
export function totals(queues: BoardQueue[]): { waiting: number; online: number; away: number; atRisk: number; breached: number } {
  const people = new Map<number, string>();
  for (const q of queues) for (const a of q.agents) people.set(a.id, a.status);
  const sum = (f: (q: BoardQueue) => number) => queues.reduce((n, q) => n + f(q), 0);
  return {
    waiting: sum((q) => q.waiting), atRisk: sum((q) => q.sla_at_risk), breached: sum((q) => q.sla_breached),
    online: [...people.values()].filter((s) => s === "online").length,
    away: [...people.values()].filter((s) => s === "away").length,
  };
}
