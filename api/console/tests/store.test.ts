// The store against an in-memory API and socket: what an agent would see after events, a reconnect, a reply.
import { describe, expect, it, vi } from "vitest";
import { ApiError, type Api } from "../src/api";
import { createStore, type SocketLike } from "../src/store";
import type { Envelope, Ticket } from "../src/types";

const ME = 7;
const ticket = (over: Partial<Ticket> = {}): Ticket => ({
  id: 1, status: "assigned", priority: 0, queue_id: 1, agent_id: ME, channel_id: 1, contact_id: 1,
  contact_name: "Maria", contact_phone: "5511987654321", created_at: "2026-01-01T10:00:00Z", unread: true, ...over,
});

class FakeSocket implements SocketLike {
  active = true;
  handlers = new Map<string, (...args: never[]) => void>();
  emitted: unknown[][] = [];
  on(event: string, fn: (...args: never[]) => void) { this.handlers.set(event, fn); }
  emit(...args: unknown[]) { this.emitted.push(args); }
  connect() {}
  disconnect() {}
  fire(event: string, ...args: unknown[]) { (this.handlers.get(event) as (...a: unknown[]) => void)?.(...args); }
}

function fakeApi(routes: Record<string, (body?: unknown) => unknown>) {
  const calls: string[] = [];
  const answer = async (method: string, path: string, body?: unknown) => {
    calls.push(`${method} ${path}`);
    const route = Object.keys(routes).find((r) => `${method} ${path}`.startsWith(r));
    if (!route) return { items: [], next_cursor: null };
    return routes[route]!(body);
  };
  const api = {
    session: { access_token: "a", refresh_token: "r", expires_at: 0, user_id: ME, role: "agent" },
    get: (p: string) => answer("GET", p),
    post: (p: string, b?: unknown) => answer("POST", p, b),
    put: (p: string, b: unknown) => answer("PUT", p, b),
    refresh: async () => {},
  } as unknown as Api;
  return { api, calls };
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const env = (id: number, name: string, data: object): Envelope => ({ id, name, data: data as Record<string, unknown> });

describe("the store", () => {
  it("applies each event once, and after a reconnect replays what it missed", async () => {
    const missed = [env(11, "ticket.created", ticket({ id: 2, agent_id: null, status: "queued", contact_name: "João" }))];
    const { api, calls } = fakeApi({
      "GET /api/me": () => ({ id: ME, role: "agent", status: "online", name: "Ana" }),
      "GET /api/events?after=10": () => missed,
      "GET /api/tickets?status=assigned": () => ({ items: [ticket()], next_cursor: null }),
    });
    const socket = new FakeSocket();
    const store = createStore(api, () => socket);
    await store.enter();
    socket.fire("connect");
    await flush();
    expect(store.visible("mine").map((t) => t.id)).toEqual([1]);

    const created = env(10, "message.created", { id: 5, ticket_id: 1, direction: "in", body: "Oi", kind: "text" });
    socket.fire("message.created", created);
    socket.fire("message.created", created); // the same event through a second room
    expect(store.state.previews.get(1)?.body).toBe("Oi");
    expect(store.state.lastEventId).toBe(10);

    socket.fire("disconnect", "transport close");
    expect(store.state.connection).toBe("reconnecting");
    socket.fire("connect");
    await flush();
    await flush();
    expect(calls).toContain("GET /api/events?after=10");
    expect(store.visible("unassigned").map((t) => t.contact_name)).toEqual(["João"]);
    expect(store.state.connection).toBe("live");
  });

  it("clears the unread marker on the server when a ticket is opened", async () => {
    const { api, calls } = fakeApi({
      "GET /api/tickets/1/messages": () => ({ items: [], next_cursor: null }),
      "GET /api/tickets/1": () => ticket(),
      "POST /api/tickets/1/read": () => ticket({ unread: false }),
    });
    const store = createStore(api, () => new FakeSocket());
    store.state.tickets.set(1, ticket());
    await store.openTicket(1);
    expect(calls).toContain("POST /api/tickets/1/read");
    expect(store.state.tickets.get(1)?.unread).toBe(false);
  });

  it("sends a quoted reply with reply_to, then forgets the quote; a new ticket starts without one", async () => {
    const sent: unknown[] = [];
    const { api } = fakeApi({
      "POST /api/tickets/1/messages": (body) => {
        sent.push(body);
        return { id: 12, ticket_id: 1, direction: "out", kind: "text", body: "Sim", status: "queued", author_id: ME,
          created_at: "2026-01-01T10:00:00Z", reply_to: 5 };
      },
      "GET /api/tickets/2": () => ticket({ id: 2 }),
    });
    const store = createStore(api, () => new FakeSocket());
    store.state.tickets.set(1, ticket());
    store.state.openId = 1;
    store.state.replyTo = 5;
    expect(await store.reply("Sim", undefined, undefined, [], undefined, 5)).toBe(true);
    expect(sent).toEqual([{ body: "Sim", reply_to: 5 }]);
    expect(store.state.replyTo).toBeNull();
    expect(await store.reply("Sem citação")).toBe(true); // the old callers' shape is unchanged
    expect(sent[1]).toEqual({ body: "Sem citação" });
    store.state.replyTo = 12;
    await store.openTicket(2);
    expect(store.state.replyTo).toBeNull();
  });

  it("turns the 24-hour 422 into a template request, not an error", async () => {
    const { api } = fakeApi({
      "POST /api/tickets/1/messages": () => {
        throw new ApiError(422, "template_required", "outside WhatsApp's 24-hour customer window: send a template");
      },
    });
    const store = createStore(api, () => new FakeSocket());
    store.state.openId = 1;
    expect(await store.reply("Olá")).toBe(false);
    expect(store.state.templateNeeded).toBe(true);
    expect(store.state.error).toBeNull();
  });

  it("offers the templates a 422 lists and marks the window closed", async () => {
    const listed = [{ name: "retomar", language: "pt_BR", needs: { body: 1, header_text: 0, header_media: null } }];
    const { api, calls } = fakeApi({
      "POST /api/tickets/1/messages": () => {
        throw new ApiError(422, "template_required", "send a template", { field: "template", templates: listed });
      },
    });
    const store = createStore(api, () => new FakeSocket());
    store.state.tickets.set(1, ticket());
    store.state.openId = 1;
    await store.reply("Olá");
    expect(store.state.templateChoices).toEqual(listed);
    expect(calls).not.toContain("GET /api/templates"); // the 422 already listed them
    expect(Date.parse(store.state.tickets.get(1)?.window_closes_at ?? "")).toBeLessThanOrEqual(Date.now());
  });

  it("follows labels, reactions and the window warning live, and filters the list by label", () => {
    const { api } = fakeApi({});
    const store = createStore(api, () => new FakeSocket());
    store.state.tickets.set(1, ticket());
    store.state.tickets.set(2, ticket({ id: 2 }));
    store.state.openId = 1;
    store.state.messages.set(5, { id: 5, ticket_id: 1, direction: "out", kind: "text", body: "Oi", status: "sent",
      author_id: ME, created_at: "2026-01-01T10:00:00Z" });
    store.apply(env(1, "ticket.labels_changed", { ticket_id: 1, labels: [{ id: 3, name: "billing" }] }));
    store.apply(env(2, "message.reaction", { ticket_id: 1, message_id: 5, reactor: "customer", emoji: "👍" }));
    store.apply(env(3, "window.closing", { ticket_id: 1, closes_at: "2026-01-02T10:00:00Z" }));
    expect(store.state.tickets.get(1)?.labels).toEqual([{ id: 3, name: "billing" }]);
    expect(store.state.messages.get(5)?.reactions).toEqual([{ reactor: "customer", emoji: "👍" }]);
    expect(store.state.tickets.get(1)?.window_closes_at).toBe("2026-01-02T10:00:00Z");
    store.apply(env(4, "message.reaction", { ticket_id: 1, message_id: 5, reactor: "customer", emoji: null }));
    expect(store.state.messages.get(5)?.reactions).toEqual([]);
    store.state.tab = "all";
    store.state.labelFilter = 3;
    expect(store.visible().map((t) => t.id)).toEqual([1]);
  });

  it("notifies the agent of a ticket given to them and of a customer writing on another ticket", () => {
    const { api } = fakeApi({});
    const shown: string[] = [];
    const store = createStore(api, () => new FakeSocket(), (title, body) => shown.push(`${title}: ${body}`));
    store.apply(env(1, "ticket.created", ticket({ agent_id: null, status: "queued", unread: false })));
    expect(shown).toEqual([]); // waiting in a queue: not yet theirs
    store.apply(env(2, "ticket.assigned", ticket({ agent_id: ME, unread: false })));
    store.apply(env(3, "message.created", { id: 4, ticket_id: 1, direction: "in", body: "Alô?", kind: "text" }));
    expect(shown).toEqual(["#1: Maria", "Maria: Alô?"]);
    expect(store.state.tickets.get(1)?.unread).toBe(true);
  });

  it("rings for customers writing on my or unassigned tickets I am not reading, never on a colleague's", () => {
    const { api } = fakeApi({ "POST /api/tickets/1/read": () => ticket({ unread: false }) });
    const rang: Array<[string, boolean | undefined]> = [];
    const store = createStore(api, () => new FakeSocket(), (title, _body, decided) => rang.push([title, decided]));
    store.state.tickets.set(1, ticket({ id: 1 }));
    store.state.tickets.set(2, ticket({ id: 2, agent_id: null, status: "queued", contact_name: "João" }));
    store.state.tickets.set(3, ticket({ id: 3, agent_id: 8, contact_name: "Pedro" }));
    store.state.openId = 1;
    for (const [id, ticketId] of [[10, 1], [11, 2], [12, 3]] as const) {
      store.apply(env(id, "message.created", { id, ticket_id: ticketId, direction: "in", body: "oi", kind: "text" }));
    }
    expect(rang).toEqual([["João", true]]); // the open one is being read; Pedro's is a colleague's
  });

  it("drops a ticket a colleague took, and says so when it was open", async () => {
    const { api } = fakeApi({});
    const socket = new FakeSocket();
    const store = createStore(api, () => socket);
    store.state.tickets.set(1, ticket());
    store.state.openId = 1;
    store.apply(env(3, "ticket.assigned", { ...ticket(), agent_id: 8 }));
    expect(store.state.tickets.has(1)).toBe(false);
    expect(store.state.openId).toBeNull();
    expect(store.state.notice?.key).toBe("notices.reassigned");
  });
});

describe("notices", () => {
  it("pass after a few seconds", () => {
    vi.useFakeTimers();
    try {
      const store = createStore(fakeApi({}).api, () => new FakeSocket());
      store.notice("notices.saved");
      expect(store.state.notice?.key).toBe("notices.saved");
      vi.advanceTimersByTime(6000);
      expect(store.state.notice).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("tells me of a mention (toast, notification) and opens a colleague's ticket from it, to read", async () => {
    const colleagues = ticket({ id: 4, agent_id: 3, contact_name: "Joana", unread: false });
    const { api, calls } = fakeApi({
      "GET /api/tickets/4/messages": () => ({ items: [], next_cursor: null }),
      "GET /api/tickets/4": () => colleagues,
      "POST /api/tickets/4/notes": (body) => ({ id: 9, ticket_id: 4, direction: "note", kind: "note", body: "ok",
        status: "received", author_id: ME, created_at: "2026-01-01T10:00:00Z", mentions: (body as { mentions?: number[] }).mentions }),
    });
    const told: string[][] = [];
    const store = createStore(api, () => new FakeSocket(), (title, body, decided) => told.push([title, body, String(decided)]),
      (key, params) => `${key}:${params?.name}:${params?.id}`);
    const mention = { user_id: ME, ticket_id: 4, message_id: 8, author_id: 3, author_name: "Bruno", excerpt: "@Ana veja" };
    store.apply(env(20, "mention.created", { ...mention, user_id: 99 })); // someone else's: nothing
    expect(store.state.mention).toBeNull();
    store.apply(env(21, "mention.created", mention));
    expect(store.state.mention?.ticket_id).toBe(4);
    expect(told).toEqual([["mention.title:Bruno:4", "@Ana veja", "true"]]);

    await store.openMention();
    expect(store.state.mention).toBeNull();
    expect(store.state.openId).toBe(4);
    expect(store.state.tickets.get(4)?.agent_id).toBe(3); // Bruno's, readable while open
    expect(calls).not.toContain("POST /api/tickets/4/read"); // not mine to mark read
    expect(await store.note("ok", [3])).toBe(true);
    expect(store.state.messages.get(9)?.mentions).toEqual([3]);
    store.closeTicket();
    expect(store.state.tickets.has(4)).toBe(false); // out of my lists again
  });
});
