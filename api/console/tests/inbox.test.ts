import { describe, expect, it } from "vitest";
import {
  applyReaction, attachmentKind, cannedPrefix, chooseLocale, countTabs, fileSize, groupReactions, inTab, minutesLeft,
  withOffset, mergeMessage, mergeTicket, pageTitle, preview, priorityKey, templateComponents,
} from "../src/inbox";
import type { Message, Ticket } from "../src/types";

const ticket = (over: Partial<Ticket>): Ticket => ({
  id: 1, status: "assigned", priority: 0, queue_id: 1, agent_id: 7, channel_id: 1, contact_id: 1,
  contact_name: "Maria", contact_phone: "5511987654321", created_at: "2026-01-01T10:00:00Z", unread: false, ...over,
});

describe("tabs", () => {
  const tickets = [
    ticket({ id: 1 }), // mine
    ticket({ id: 2, agent_id: null, status: "queued" }), // unassigned
    ticket({ id: 3, agent_id: 8 }), // a colleague's
    ticket({ id: 4, status: "resolved" }), // mine, resolved
    ticket({ id: 5, status: "pending" }), // mine, waiting on the customer
  ];

  it("puts each ticket where an agent looks for it", () => {
    const ids = (tab: Parameters<typeof inTab>[1]) => tickets.filter((t) => inTab(t, tab, 7)).map((t) => t.id);
    expect(ids("mine")).toEqual([1]); // a pending ticket waits in its own tab, out of the working ones
    expect(ids("unassigned")).toEqual([2]);
    expect(ids("all")).toEqual([1, 2, 3, 5]);
    expect(ids("pending")).toEqual([5]);
    expect(ids("resolved")).toEqual([4]);
  });

  it("counts every tab from the same tickets", () => {
    expect(countTabs(tickets, 7)).toEqual({ mine: 1, unassigned: 1, all: 4, pending: 1, resolved: 1 });
  });

  it("counts a snoozed ticket as pending until it wakes, and never a resolved one", () => {
    expect(inTab(ticket({ snoozed: true }), "pending", 7)).toBe(true);
    expect(inTab(ticket({ snoozed: true }), "mine", 7)).toBe(false);
    expect(inTab(ticket({ snoozed: true, status: "resolved" }), "pending", 7)).toBe(false);
  });
});

describe("merges", () => {
  it("keeps the contact an event summary leaves out", () => {
    const merged = mergeTicket(ticket({}), { id: 1, status: "resolved", contact_name: null, contact_phone: null });
    expect(merged.contact_name).toBe("Maria");
    expect(merged.status).toBe("resolved");
  });

  it("never moves a delivery status back", () => {
    const read = { id: 9, ticket_id: 1, status: "read" } as Message;
    expect(mergeMessage(read, { id: 9, status: "sent" }).status).toBe("read");
    expect(mergeMessage({ id: 9, status: "sent" }, { id: 9, status: "delivered" }).status).toBe("delivered");
  });

  it("lets a status event lift a failure that was re-sent", () => {
    const failed = { id: 9, status: "failed", error_code: "131047", error_reason: "Re-engagement message" } as Message;
    expect(mergeMessage(failed, { id: 9, status: "sent" }, true)).toMatchObject({ status: "sent", error_reason: null });
  });

  it("keeps the failure's reason when a late event carries none", () => {
    const failed = { id: 9, status: "failed", error_code: "131047", error_reason: "Re-engagement message" } as Message;
    const merged = mergeMessage(failed, { id: 9, status: "sent" });
    expect(merged).toMatchObject({ status: "failed", error_code: "131047", error_reason: "Re-engagement message" });
  });
});

describe("words", () => {
  it("names priorities instead of showing numbers", () => {
    expect([0, 1, 2, 3, 7, -1].map(priorityKey)).toEqual(["normal", "high", "urgent", "critical", "critical", "normal"]);
  });

  it("puts the unread count in front of the title", () => {
    expect(pageTitle(0, "Atendimento")).toBe("Atendimento");
    expect(pageTitle(3, "Atendimento")).toBe("(3) Atendimento");
  });

  it("previews one line of the last message", () => {
    expect(preview({ body: "Olá\n\ntudo bem?", kind: "text", direction: "in" })).toBe("Olá tudo bem?");
    expect(preview({ body: "", kind: "image", direction: "in" })).toBe("[image]");
    expect(preview({ body: "x".repeat(100), kind: "text", direction: "in" }, 10)).toBe(`${"x".repeat(9)}…`);
  });

  it("builds template body parameters from the filled variables", () => {
    expect(templateComponents(["", " "])).toEqual([]);
    expect(templateComponents(["Maria", " 42 "])).toEqual([
      { type: "body", parameters: [{ type: "text", text: "Maria" }, { type: "text", text: "42" }] }]);
  });

  it("speaks Portuguese to a browser that asks for it", () => {
    expect(chooseLocale(["pt-BR", "en"])).toBe("pt-BR");
    expect(chooseLocale(["pt-PT"])).toBe("pt-BR");
    expect(chooseLocale(["en-US", "pt-BR"])).toBe("en");
    expect(chooseLocale(["de-DE"])).toBe("en");
    expect(chooseLocale(["pt-BR"], "en")).toBe("en"); // the agent's own choice wins
  });
});

describe("the composer's canned shortcut", () => {
  it.each([["/", ""], ["/ola", "ola"], ["/OLA_2", "ola_2"], ["/a.b-c", "a.b-c"]])("%s asks for prefix %s", (text, prefix) => {
    expect(cannedPrefix(text)).toBe(prefix);
  });
  it.each(["ola", "/ola mundo", " /ola", "/x\n", "//"])("%j is a plain reply", (text) => {
    expect(cannedPrefix(text)).toBeNull();
  });
});

describe("attachments and reactions", () => {
  it.each([["image/jpeg", "image"], ["image/svg+xml", "file"], ["audio/ogg; codecs=opus", "audio"],
    ["video/mp4", "video"], ["application/pdf", "file"], [null, "file"]] as const)("%s shows as %s", (type, kind) => {
    expect(attachmentKind({ content_type: type })).toBe(kind);
  });
  it("writes sizes people read", () => {
    expect([fileSize(930), fileSize(12_345), fileSize(3_500_000), fileSize(null)]).toEqual(["930 B", "12 KB", "3.3 MB", ""]);
  });
  it("groups reactions by emoji and keeps one per reactor", () => {
    let list = applyReaction([], "customer", "👍");
    list = applyReaction(list, "user:7", "👍");
    list = applyReaction(list, "customer", "❤️"); // the customer changed their mind
    expect(groupReactions(list)).toEqual([["👍", 1], ["❤️", 1]]);
    expect(groupReactions(applyReaction(list, "customer", null))).toEqual([["👍", 1]]);
  });
});

describe("times", () => {
  it("says how many minutes a WhatsApp window has left, never below zero", () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    expect(minutesLeft("2026-12-02T10:45:00Z", now)).toBe(45);
    expect(minutesLeft("2026-12-02T09:00:00Z", now)).toBe(0);
    expect(minutesLeft(undefined, now)).toBeNull();
  });
  it("sends a snooze time with the browser's UTC offset", () => {
    expect(withOffset("2026-12-03T09:00", 180)).toBe("2026-12-03T09:00:00-03:00"); // São Paulo
    expect(withOffset("2026-12-03T09:00", -330)).toBe("2026-12-03T09:00:00+05:30");
    expect(withOffset("2026-12-03T09:00", 0)).toBe("2026-12-03T09:00:00+00:00");
  });
});
