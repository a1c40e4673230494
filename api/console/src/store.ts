// The console's state and everything that changes it: HTTP loads, user actions, Socket.IO events and their
// replay after a reconnect. Components read `state` and call the actions; nothing else writes it.
import { reactive, toRaw } from "vue";
import { Api, ApiError, itemsOf } from "./api";
import { shouldAlert, shouldAlertMention, type MentionEvent } from "./attention";
import { applyReaction, inTab, mergeMessage, mergeTicket, type Tab } from "./inbox";
import { noFilters, passesFilters } from "./contact";
import { replyForm } from "./composer";
import type {
  Envelope, Label, Message, Page, Presence, Queue, Template, TemplateInfo, Ticket, User,
} from "./types";

export const LIVE_EVENTS = ["ticket.created", "ticket.assigned", "ticket.updated", "message.created",
  "message.status", "message.reaction", "agent.status", "sla.warning", "sla.breached", "window.closing",
  "ticket.labels_changed", "mention.created"] as const;

/** Where the per-user "go online when I log in" choice is kept (this browser only). */
export const autoOnlineKey = (tenant: number | undefined, user: number | undefined) =>
  `atendimento.autoOnline.${tenant ?? "?"}.${user ?? "?"}`;

/** What the store needs of a Socket.IO client (socket.io-client's Socket has it). */
export interface SocketLike {
  active: boolean;
  on(event: string, fn: (...args: never[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  connect(): unknown;
  disconnect(): unknown;
}
export type Connect = (auth: (cb: (data: object) => void) => void) => SocketLike;

export type Connection = "offline" | "live" | "reconnecting";
const OPEN_STATUSES = ["queued", "assigned", "pending"] as const;
const OPEN_LIMIT = 200;
const RESOLVED_LIMIT = 50;

export interface Notice {
  key: string;
  params?: Record<string, unknown>;
  text?: string; // the server's own message, when it has no translation
}

/** Translates a message key (vue-i18n's `t`), for the words the store puts in a browser notification. */
export type Say = (key: string, params?: Record<string, unknown>) => string;

export function createStore(api: Api, connect: Connect,
                            notifyUser: (title: string, body: string, decided?: boolean) => void = () => {},
                            say: Say = (key) => key) {
  const state = reactive({
    me: null as User | null,
    tickets: new Map<number, Ticket>(),
    loading: false,
    truncated: { queued: false, assigned: false, pending: false, resolved: false } as Record<string, boolean>,
    resolvedCursor: null as string | null,
    tab: "mine" as Tab,
    search: "",
    searchIds: null as Set<number> | null,
    openId: null as number | null,
    messages: new Map<number, Message>(),
    messagesCursor: null as string | null,
    messagesLoading: false,
    previews: new Map<number, Message>(),
    templateNeeded: false,
    replyTo: null as number | null, // the message the next reply quotes (the composer's "Replying to")
    templateChoices: [] as TemplateInfo[],
    labels: [] as Label[],
    labelFilter: null as number | null,
    autoOnline: false,
    queues: [] as Queue[],
    agents: [] as User[],
    connection: "offline" as Connection,
    error: null as Notice | null,
    notice: null as Notice | null,
    mention: null as MentionEvent | null, // the latest mention of me, until opened or dismissed
    askOnline: false,
    lastEventId: 0,
    filters: noFilters(),
  });
  let socket: SocketLike | null = null;
  let seen = new Set<number>();
  let touched = new Set<number>();
  let loadSeq = 0;
  let refusals = 0;
  const early = new Map<number, Partial<Message>>();
  // A colleague's ticket an agent opened from a mention: readable while open, though it is not in their lists.
  let peeking: number | null = null;
  const previewing = new Set<number>();
  const eventListeners = new Set<(name: string) => void>();

  const meId = () => state.me?.id ?? api.session?.user_id;
  const isStaff = () => (state.me?.role ?? api.session?.role) !== "agent";

  function fail(err: unknown): void {
    console.error(err);
    if (err instanceof ApiError) state.error = { key: `errors.${err.code}`, text: err.message };
    else state.error = { key: "errors.unexpected", text: String(err) };
  }

  function notice(key: string, params?: Record<string, unknown>): void {
    const n = { key, params };
    state.notice = n;
    // toRaw: reading state.notice gives a reactive proxy of `n`, never `n` itself
    setTimeout(() => { if (toRaw(state.notice) === n) state.notice = null; }, 6000);
  }

  // ---- Tickets -------------------------------------------------------------------------------------------------

  function upsert(t: Partial<Ticket> & { id: number }): void {
    touched.add(t.id);
    const prev = state.tickets.get(t.id);
    const merged = mergeTicket(prev, t);
    // Agents only see their own tickets and those waiting in a queue: one taken by a colleague leaves the list
    // (unless it is the one they opened from a mention, to read).
    if (!isStaff() && merged.agent_id != null && merged.agent_id !== meId() && peeking !== t.id) {
      state.tickets.delete(t.id);
      if (t.id === state.openId) {
        state.openId = null;
        notice("notices.reassigned", { id: t.id });
      }
      return;
    }
    state.tickets.set(t.id, merged);
    if (merged.agent_id === meId() && prev?.agent_id !== meId() && merged.status !== "resolved") {
      notifyUser(`#${t.id}`, merged.contact_name ?? merged.contact_phone ?? "");
    }
  }

  function patch(id: number, changes: Partial<Ticket>): void {
    touched.add(id); // as upsert: a list load on its way (read before this change) must not undo it
    const t = state.tickets.get(id);
    if (t) state.tickets.set(id, { ...t, ...changes });
  }

  async function loadTickets(): Promise<void> {
    const seq = ++loadSeq;
    state.loading = true;
    touched = new Set();
    try {
      const pages = await Promise.all([
        ...OPEN_STATUSES.map((s) => api.get<Page<Ticket>>(`/api/tickets?status=${s}&limit=${OPEN_LIMIT}`)),
        api.get<Page<Ticket>>(`/api/tickets?status=resolved&limit=${RESOLVED_LIMIT}`),
      ]);
      if (seq !== loadSeq) return; // a newer load is on its way
      const fresh = new Map<number, Ticket>();
      [...OPEN_STATUSES, "resolved"].forEach((s, i) => {
        const page = pages[i];
        for (const t of itemsOf(page)) fresh.set(t.id, mergeTicket(state.tickets.get(t.id), t));
        state.truncated[s] = Boolean(page?.next_cursor);
        if (s === "resolved") state.resolvedCursor = page?.next_cursor ?? null;
      });
      for (const id of touched) {
        const t = state.tickets.get(id);
        if (t) fresh.set(id, t); // changed by an event while the load was on its way: the event is newer
      }
      const peeked = peeking == null ? undefined : state.tickets.get(peeking);
      if (peeked && !fresh.has(peeked.id)) fresh.set(peeked.id, peeked); // a colleague's, open from a mention
      state.tickets = fresh;
    } catch (err) {
      fail(err);
    } finally {
      if (seq === loadSeq) state.loading = false;
    }
  }

  async function loadMoreResolved(): Promise<void> {
    if (!state.resolvedCursor) return;
    try {
      const page = await api.get<Page<Ticket>>(
        `/api/tickets?status=resolved&limit=${RESOLVED_LIMIT}&cursor=${encodeURIComponent(state.resolvedCursor)}`);
      for (const t of itemsOf(page)) state.tickets.set(t.id, mergeTicket(state.tickets.get(t.id), t));
      state.resolvedCursor = page.next_cursor;
      state.truncated.resolved = Boolean(page.next_cursor);
    } catch (err) {
      fail(err);
    }
  }

  let searchSeq = 0;
  async function search(q: string): Promise<void> {
    state.search = q;
    const seq = ++searchSeq;
    const term = q.trim();
    if (!term) {
      state.searchIds = null;
      return;
    }
    try {
      const page = await api.get<Page<Ticket>>(`/api/tickets?q=${encodeURIComponent(term)}&limit=100`);
      if (seq !== searchSeq) return;
      for (const t of itemsOf(page)) state.tickets.set(t.id, mergeTicket(state.tickets.get(t.id), t));
      state.searchIds = new Set(itemsOf(page).map((t) => t.id));
    } catch (err) {
      fail(err);
    }
  }

  function visible(tab: Tab = state.tab): Ticket[] {
    const label = state.labelFilter;
    const list = [...state.tickets.values()].filter((t) => inTab(t, tab, meId())
      && (!state.searchIds || state.searchIds.has(t.id))
      && (label == null || (t.labels ?? []).some((l) => l.id === label)) && passesFilters(t, state.filters));
    return list.sort((a, b) => Number(b.unread) - Number(a.unread) || b.id - a.id);
  }

  /** The last customer/agent message of each listed ticket (the ticket API has no preview field; notes are left
   * out), three requests at a time. */
  async function loadPreviews(ids: number[]): Promise<void> {
    const todo = ids.filter((id) => !state.previews.has(id) && !previewing.has(id)).slice(0, 60);
    todo.forEach((id) => previewing.add(id));
    const worker = async () => {
      for (let id = todo.shift(); id !== undefined; id = todo.shift()) {
        try {
          const page = await api.get<Page<Message>>(`/api/tickets/${id}/messages?limit=1&notes=false`);
          const last = itemsOf(page).at(-1);
          if (last && !state.previews.has(id)) state.previews.set(id, last);
        } catch {
          // a preview is a nicety: the list works without it
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }

  // ---- One ticket ----------------------------------------------------------------------------------------------

  function addMessage(m: Partial<Message> & { id: number }, ordered = false): void {
    const merged = mergeMessage(mergeMessage(state.messages.get(m.id), m, ordered), { ...early.get(m.id), id: m.id });
    early.delete(m.id);
    state.messages.set(m.id, merged);
  }

  async function loadMessages(id: number, older = false): Promise<void> {
    const query = older && state.messagesCursor ? `?cursor=${encodeURIComponent(state.messagesCursor)}` : "";
    state.messagesLoading = true;
    try {
      const page = await api.get<Page<Message>>(`/api/tickets/${id}/messages${query}`);
      if (state.openId !== id) return;
      for (const m of itemsOf(page)) addMessage(m);
      if (older || !state.messagesCursor) state.messagesCursor = page.next_cursor ?? null;
      const last = itemsOf(page).filter((m) => m.direction !== "note").at(-1); // a note is not the conversation's
      if (last && !older) state.previews.set(id, last);
    } finally {
      state.messagesLoading = false;
    }
  }

  function mayRead(t: Ticket | undefined): boolean {
    return Boolean(t) && (isStaff() || t?.agent_id === meId());
  }

  async function markRead(id: number): Promise<void> {
    const t = state.tickets.get(id);
    if (!mayRead(t)) return;
    patch(id, { unread: false });
    try {
      upsert(await api.post<Ticket>(`/api/tickets/${id}/read`));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 403)) fail(err);
    }
  }

  /** Open a ticket; `fromMention`: a colleague's ticket may be read too (it stays out of the lists otherwise). */
  async function openTicket(id: number, fromMention = false): Promise<void> {
    if (peeking != null && peeking !== id) unpeek();
    if (fromMention) peeking = id;
    state.openId = id;
    state.messages = new Map();
    state.messagesCursor = null;
    state.templateNeeded = false;
    state.replyTo = null;
    early.clear();
    socket?.emit("subscribe", { ticket_id: id }); // before loading, so nothing falls between the two
    try {
      const ticket = await api.get<Ticket>(`/api/tickets/${id}`);
      if (state.openId !== id) return;
      upsert(ticket);
      await loadMessages(id);
      if (state.openId === id) await markRead(id);
    } catch (err) {
      fail(err);
    }
  }

  function closeTicket(): void {
    state.openId = null;
    state.templateNeeded = false;
    state.replyTo = null;
    unpeek();
  }

  function unpeek(): void {
    const t = peeking == null ? undefined : state.tickets.get(peeking);
    peeking = null;
    if (t && !isStaff() && t.agent_id != null && t.agent_id !== meId()) state.tickets.delete(t.id);
  }

  /** The mention toast's link: the ticket it names, readable even when it is a colleague's. */
  async function openMention(): Promise<void> {
    const m = state.mention;
    state.mention = null;
    if (m) await openTicket(m.ticket_id, true);
  }

  async function act(path: string, body?: unknown, done?: string): Promise<boolean> {
    const id = state.openId;
    if (id == null) return false;
    try {
      const t = await api.post<Ticket>(`/api/tickets/${id}/${path}`, body);
      if (t?.id === id) upsert(t);
      if (done) notice(done, { id });
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  /** A reply: text, a template (outside WhatsApp's window), or a canned response filled on the server.
   * `replyTo`: the id of a message of the ticket to quote (text, files or buttons; cleared once sent). */
  async function reply(body: string, template?: Template, cannedId?: number, files: File[] = [],
                       interactive?: { buttons: { id: string; title: string }[] }, replyTo?: number): Promise<boolean> {
    const id = state.openId;
    if (id == null || (!body.trim() && !template && cannedId == null && !files.length)) return false;
    const quoting = replyTo != null && !template && cannedId == null ? { reply_to: replyTo } : {};
    const doc = files.length ? replyForm(body, files, replyTo)
      : template ? { body, template } : cannedId != null ? { canned_response_id: cannedId }
      : interactive ? { body, interactive, ...quoting } : { body, ...quoting };
    try {
      const m = await api.post<Message>(`/api/tickets/${id}/messages`, doc);
      state.templateNeeded = false;
      if (replyTo != null && state.replyTo === replyTo) state.replyTo = null;
      if (state.openId === id) addMessage(m);
      state.previews.set(id, m);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === "template_required") {
        state.templateNeeded = true; // the 24-hour window is closed: the composer offers a template instead
        patch(id, { window_closes_at: new Date().toISOString() }); // and the warning says it is closed
        const listed = (err.details as { templates?: TemplateInfo[] } | undefined)?.templates;
        state.templateChoices = Array.isArray(listed) ? listed : [];
        if (!state.templateChoices.length) void loadTemplates();
        return false;
      }
      if (err instanceof ApiError && err.code === "interactive_unsupported") {
        state.error = { key: "quickReplies.unsupported", text: err.message }; // the channel's refusal, translated
        return false;
      }
      fail(err);
      return false;
    }
  }

  /** A private note; `mentions`: the ids of the colleagues picked with "@" (each is told). */
  async function note(body: string, mentions: number[] = []): Promise<boolean> {
    const id = state.openId;
    if (id == null || !body.trim()) return false;
    try {
      const m = await api.post<Message>(`/api/tickets/${id}/notes`, mentions.length ? { body, mentions } : { body });
      if (state.openId === id) addMessage(m);
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  async function loadTemplates(): Promise<void> {
    try {
      state.templateChoices = itemsOf(await api.get<TemplateInfo[]>("/api/templates"));
    } catch (err) {
      fail(err);
    }
  }

  async function loadLabels(): Promise<void> {
    try {
      state.labels = itemsOf(await api.get<Label[]>("/api/labels"));
    } catch (err) {
      fail(err);
    }
  }

  async function setLabel(labelId: number, on: boolean): Promise<void> {
    const id = state.openId;
    if (id == null) return;
    try {
      const labels = await api.request<Label[] | { labels: Label[] }>(on ? "POST" : "DELETE",
        `/api/tickets/${id}/labels/${labelId}`, on ? {} : undefined);
      patch(id, { labels: Array.isArray(labels) ? labels : labels?.labels ?? [] });
    } catch (err) {
      fail(err);
    }
  }

  function setAutoOnline(on: boolean): void {
    state.autoOnline = on;
    if (on) localStorage.setItem(autoOnlineKey(api.session?.tenant_id, meId()), "1");
    else localStorage.removeItem(autoOnlineKey(api.session?.tenant_id, meId()));
  }

  async function loadQueues(): Promise<void> {
    try {
      state.queues = itemsOf(await api.get<Queue[]>("/api/queues"));
      // Only supervisors may list users (and move a ticket to someone else); an agent knows colleagues by name
      // (who has a ticket opened from a mention, who wrote a note).
      if (isStaff()) state.agents = itemsOf(await api.get<User[]>("/api/admin/users")).filter((u) => u.active !== false);
      else state.agents = itemsOf(await api.get<User[]>("/api/colleagues"));
    } catch (err) {
      fail(err);
    }
  }

  // ---- Presence ------------------------------------------------------------------------------------------------

  async function setStatus(status: Presence): Promise<void> {
    try {
      state.me = await api.put<User>("/api/me/status", { status });
      state.askOnline = false;
    } catch (err) {
      fail(err);
    }
  }

  // ---- Live events ---------------------------------------------------------------------------------------------

  const handlers: Record<string, (d: Record<string, unknown>) => void> = {
    "ticket.created": (d) => upsert(d as unknown as Ticket),
    "ticket.assigned": (d) => upsert(d as unknown as Ticket),
    "ticket.updated": (d) => upsert(d as unknown as Ticket),
    "message.created": (d) => {
      const m = d as unknown as Message;
      if (m.direction !== "note") state.previews.set(m.ticket_id, m); // the preview is the conversation's
      const hidden = typeof document !== "undefined" && document.hidden;
      if (m.ticket_id === state.openId) {
        addMessage(m);
        if (m.direction === "in" && !hidden) void markRead(m.ticket_id);
      } else if (m.direction === "in") {
        patch(m.ticket_id, { unread: true });
      }
      if (shouldAlert(m, state.tickets.get(m.ticket_id), { me: meId(), openId: state.openId, hidden })) {
        notifyUser(ticketName(m.ticket_id), m.body, true); // decided here: shown even while the tab is visible
      }
    },
    "message.status": (d) => {
      const s = d as { message_id: number; ticket_id: number; status: Message["status"]; error_code?: string };
      if (s.ticket_id !== state.openId) return;
      const change = { id: s.message_id, status: s.status, ...(s.error_code ? { error_code: s.error_code } : {}) };
      if (!state.messages.has(s.message_id)) early.set(s.message_id, change);
      else addMessage(change, true);
      // The event carries the code, not the provider's reason: the message itself has it.
      if (s.status === "failed") void loadMessages(s.ticket_id).catch(() => undefined);
    },
    "agent.status": (d) => {
      if (d.agent_id === meId() && state.me && typeof d.status === "string") {
        state.me = { ...state.me, status: d.status as Presence };
      }
    },
    "message.reaction": (d) => {
      const r = d as { ticket_id: number; message_id: number; reactor: string; emoji: string | null };
      const m = state.messages.get(r.message_id);
      if (r.ticket_id === state.openId && m) addMessage({ id: m.id, reactions: applyReaction(m.reactions, r.reactor, r.emoji) });
    },
    "window.closing": (d) => {
      if (typeof d.closes_at === "string") patch(Number(d.ticket_id), { window_closes_at: d.closes_at });
    },
    "ticket.labels_changed": (d) => {
      if (Array.isArray(d.labels)) patch(Number(d.ticket_id), { labels: d.labels as Label[] });
    },
    "mention.created": (d) => {
      const m = d as unknown as MentionEvent;
      if (!shouldAlertMention(m, meId())) return; // another's (a supervisor's replay never brings one, but still)
      state.mention = m;
      notifyUser(say("mention.title", { name: m.author_name, id: m.ticket_id }), m.excerpt, true);
    },
    "sla.warning": (d) => patch(Number(d.ticket_id), { sla: "warning" }),
    "sla.breached": (d) => patch(Number(d.ticket_id), { sla: "breached" }),
  };

  function ticketName(id: number): string {
    const t = state.tickets.get(id);
    return t?.contact_name ?? t?.contact_phone ?? `#${id}`;
  }

  function apply(env: Envelope): void {
    if (!env || typeof env.id !== "number" || seen.has(env.id)) return;
    seen.add(env.id); // an event can reach us through two rooms, or live and replayed
    if (seen.size > 5000) seen.delete(seen.values().next().value as number);
    state.lastEventId = Math.max(state.lastEventId, env.id);
    handlers[env.name]?.(env.data ?? {});
    for (const fn of eventListeners) fn(env.name);
  }

  /** Hear every live event by name, after the store applied it (the supervisor's board refreshes on them). */
  function onEvent(fn: (name: string) => void): () => void {
    eventListeners.add(fn);
    return () => { eventListeners.delete(fn); };
  }

  /** After every (re)connect: follow the open ticket again, then fetch what was missed while away. */
  async function catchUp(): Promise<void> {
    if (state.openId != null) socket?.emit("subscribe", { ticket_id: state.openId });
    if (state.lastEventId) {
      try {
        for (let page = 0; page < 10; page++) {
          const from = state.lastEventId;
          const follows = state.openId != null ? `&ticket_id=${state.openId}` : ""; // the room it re-subscribed
          const missed = itemsOf(await api.get<Envelope[]>(`/api/events?after=${from}${follows}`))
            .sort((a, b) => a.id - b.id);
          missed.forEach(apply);
          if (!missed.length || state.lastEventId === from) return;
        }
        return;
      } catch (err) {
        console.warn("event replay failed, reloading instead", err);
      }
    }
    await loadTickets();
    if (state.openId != null) await loadMessages(state.openId);
  }

  function connectSocket(): void {
    // `auth` as a function: every reconnect presents the current access token, not the first one.
    const s = connect((cb) => cb({ token: api.session?.access_token }));
    socket = s;
    s.on("connect", () => {
      refusals = 0;
      state.connection = "live";
      catchUp().catch(fail);
    });
    s.on("disconnect", (reason: string) => {
      if (socket !== s) return;
      state.connection = "reconnecting";
      if (reason === "io server disconnect") s.connect(); // the server let us go: come back
    });
    s.on("connect_error", (err: Error) => {
      state.connection = "reconnecting";
      if (s.active) return; // a transport failure: the client retries by itself, with backoff
      // Refused by the server, most likely an expired token: refresh and try again, a few times.
      if (++refusals > 3) return fail(new ApiError(0, "live_unavailable", err.message));
      setTimeout(() => api.refresh().then(() => s.connect(), fail), 1000 * refusals);
    });
    for (const name of LIVE_EVENTS) s.on(name, apply);
  }

  // ---- Session -------------------------------------------------------------------------------------------------

  async function enter(): Promise<void> {
    state.connection = "reconnecting";
    connectSocket();
    const tickets = loadTickets();
    try {
      state.me = await api.get<User>("/api/me");
      state.autoOnline = localStorage.getItem(autoOnlineKey(api.session?.tenant_id ?? state.me.tenant_id, state.me.id)) === "1";
      if (state.autoOnline && state.me.status !== "online") await setStatus("online"); // the agent's own setting
      state.askOnline = state.me.status !== "online";
    } catch (err) {
      fail(err);
    }
    await Promise.all([tickets, loadQueues(), loadLabels()]);
  }

  function reset(): void {
    socket?.disconnect();
    socket = null;
    seen = new Set();
    early.clear();
    peeking = null;
    Object.assign(state, {
      me: null, tickets: new Map(), openId: null, messages: new Map(), previews: new Map(), queues: [], agents: [],
      connection: "offline", lastEventId: 0, searchIds: null, search: "", askOnline: false, templateNeeded: false,
      replyTo: null,
      tab: "mine", labels: [], labelFilter: null, templateChoices: [], autoOnline: false, mention: null,
      filters: noFilters(),
    });
  }

  return {
    state, apply, catchUp, enter, reset, loadTickets, loadMoreResolved, search, visible, loadPreviews, openTicket,
    closeTicket, loadMessages, markRead, reply, note, setStatus, fail, notice, isStaff, meId, loadTemplates,
    loadLabels, setLabel, setAutoOnline, onEvent, openMention,
    pending: () => act("pending", undefined, "notices.pending"),
    snooze: (until: string | null) => act("snooze", until ? { until } : { until_customer_replies: true },
      "notices.snoozed"),
    resume: () => act("resume", undefined, "notices.resumed"),
    accept: async () => { // taken while open: the agent is reading it, so it is read (the title's count drops)
      const ok = await act("accept", undefined, "notices.accepted");
      if (ok && state.openId != null) await markRead(state.openId);
      return ok;
    },
    resolve: () => act("resolve", undefined, "notices.resolved"),
    reopen: () => act("reopen", undefined, "notices.reopened"),
    setPriority: (priority: number) => act("priority", { priority }),
    transfer: (target: { queue_id: number } | { agent_id: number }, reason: string) =>
      act("transfer", { ...target, reason }, "notices.transferred"),
  };
}

export type Store = ReturnType<typeof createStore>;
