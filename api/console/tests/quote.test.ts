import { describe, expect, it } from "vitest";
import { canQuote, quoteOf } from "../src/quote";
import type { Message } from "../src/types";

const msg = (over: Partial<Message>): Message => ({
  id: 1, ticket_id: 1, direction: "in", kind: "text", body: "Olá", status: "received", author_id: null,
  created_at: "2026-01-01T10:00:00Z", ...over,
});

describe("a quoted reply", () => {
  const loaded = new Map([[3, msg({ id: 3, direction: "out", body: "Seu pedido\nsaiu hoje", status: "read" })],
    [4, msg({ id: 4, direction: "note", body: "interno" })]]);
  const find = (id: number) => loaded.get(id);

  it("shows the quoted message's side and one line of it", () => {
    expect(quoteOf(msg({ reply_to: 3 }), find)).toEqual({ id: 3, loaded: true, side: "out", excerpt: "Seu pedido saiu hoje" });
    expect(quoteOf(msg({ reply_to: 3 }), find, 8)?.excerpt).toBe("Seu ped…");
  });
  it("says so when the quoted message is not in the loaded page (or is a note)", () => {
    expect(quoteOf(msg({ reply_to: 99 }), find)).toEqual({ id: 99, loaded: false, excerpt: "" });
    expect(quoteOf(msg({ reply_to: 4 }), find)?.loaded).toBe(false);
  });
  it("is nothing without reply_to", () => {
    expect(quoteOf(msg({}), find)).toBeNull();
    expect(quoteOf(msg({ reply_to: null }), find)).toBeNull();
  });
});

describe("what an agent may quote", () => {
  it("customer messages and our replies the provider took, never notes or reactions", () => {
    expect(canQuote(msg({}))).toBe(true);
    expect(canQuote(msg({ direction: "out", status: "delivered" }))).toBe(true);
    expect(canQuote(msg({ direction: "out", status: "queued" }))).toBe(false);
    expect(canQuote(msg({ direction: "out", status: "failed" }))).toBe(false);
    expect(canQuote(msg({ direction: "note", status: "sent" }))).toBe(false);
    expect(canQuote(msg({ kind: "reaction" }))).toBe(false);
  });
});
