// The contact panel's rules: attribute values as typed, merge candidates, waiting for an export or erasure job,
// and the inbox's queue / channel / agent filters (client-side over the loaded tickets, as the label filter).
import type { Ticket } from "./types";

export interface Contact {
  id: number;
  name: string | null;
  phones: string[];
  emails: string[];
  attributes: Record<string, unknown>;
  notes: string | null;
  merged_into_id?: number | null;
  erased_at?: string | null;
}

export interface ContactJob {
  id: number;
  contact_id: number;
  kind: "export" | "erasure";
  status: "queued" | "running" | "done" | "failed";
  progress: number;
  result_url: string | null;
}

/** The server's rule for attribute keys (api/schemas.py ContactPatch): lower-case, digits and underscores. */
export const ATTRIBUTE_KEY = /^[a-z][a-z0-9_]*$/;

/** What the agent typed as the scalar the API stores: true/false and plain numbers keep their type. */
export function attributeValue(raw: string): string | number | boolean {
  const v = raw.trim();
  if (v === "true" || v === "false") return v === "true";
  if (/^-?(0|[1-9]\d{0,14})(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

/** The attribute as the panel shows it (and fills the edit box with). */
export const attributeText = (v: unknown): string => (v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** Contacts another may be merged into this one from: not itself, not already merged away, not erased. */
export const mergeCandidates = (found: Contact[], selfId: number): Contact[] =>
  found.filter((c) => c.id !== selfId && c.merged_into_id == null && !c.erased_at);

/** How a contact is named in a list or a confirmation. */
export const contactLabel = (c: Pick<Contact, "id" | "name" | "phones" | "emails">): string =>
  c.name || c.phones[0] || c.emails[0] || `#${c.id}`;

/** Polls a job until it is done or failed (the API runs exports and erasures in the background). */
export async function waitForJob(fetchJob: () => Promise<ContactJob>, first: ContactJob,
                                 sleep: (ms: number) => Promise<void>, tries = 120): Promise<ContactJob> {
  let job = first;
  for (let i = 0; i < tries && (job.status === "queued" || job.status === "running"); i++) {
    await sleep(Math.min(250 * 2 ** i, 2000));
    job = await fetchJob();
  }
  return job;
}

export interface InboxFilters {
  queue: number | null;
  channel: number | null;
  agent: number | null;
}

export const noFilters = (): InboxFilters => ({ queue: null, channel: null, agent: null });

/** Whether a ticket passes the inbox's queue, channel and agent filters (null means any). */
export const passesFilters = (t: Pick<Ticket, "queue_id" | "channel_id" | "agent_id">, f: InboxFilters): boolean =>
  (f.queue == null || t.queue_id === f.queue) && (f.channel == null || t.channel_id === f.channel)
  && (f.agent == null || t.agent_id === f.agent);

/** The channels the loaded tickets came through, in id order (agents cannot list the tenant's channels). */
export const channelIds = (tickets: Iterable<Pick<Ticket, "channel_id">>): number[] =>
  [...new Set([...tickets].map((t) => t.channel_id))].sort((a, b) => a - b);
