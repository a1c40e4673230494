// Inbox attention: when a message rings, the tab title's count, the per-user sound setting. Pure, no DOM.
import { describe, expect, it } from "vitest";
import { setSound, shouldAlert, shouldAlertMention, soundKey, soundOn, unreadCount } from "../src/attention";
import { pageTitle } from "../src/inbox";

const ME = 7;
const inbound = { direction: "in" as const };

describe("when a message rings", () => {
  const mine = { id: 1, agent_id: ME, status: "assigned" as const };
  const waiting = { id: 2, agent_id: null, status: "queued" as const };
  const colleague = { id: 3, agent_id: 8, status: "assigned" as const };

  it("rings for my tickets and unassigned ones that are not open, or when the tab is hidden", () => {
    expect(shouldAlert(inbound, mine, { me: ME, openId: null, hidden: false })).toBe(true);
    expect(shouldAlert(inbound, waiting, { me: ME, openId: 1, hidden: false })).toBe(true);
    expect(shouldAlert(inbound, mine, { me: ME, openId: 1, hidden: false })).toBe(false); // I am reading it
    expect(shouldAlert(inbound, mine, { me: ME, openId: 1, hidden: true })).toBe(true); // but not looking
  });

  it("never rings for colleagues' tickets, our own messages, notes or resolved tickets", () => {
    expect(shouldAlert(inbound, colleague, { me: ME, openId: null, hidden: true })).toBe(false);
    expect(shouldAlert({ direction: "out" }, mine, { me: ME, openId: null, hidden: true })).toBe(false);
    expect(shouldAlert({ direction: "note" }, mine, { me: ME, openId: null, hidden: true })).toBe(false);
    expect(shouldAlert(inbound, { ...mine, status: "resolved" }, { me: ME, openId: null, hidden: true })).toBe(false);
    expect(shouldAlert(inbound, undefined, { me: ME, openId: null, hidden: true })).toBe(false);
  });

  it("counts my unread and the unassigned unread in the tab title", () => {
    const tickets = [
      { unread: true, status: "assigned" as const, agent_id: ME },
      { unread: true, status: "queued" as const, agent_id: null },
      { unread: true, status: "assigned" as const, agent_id: 8 },
      { unread: true, status: "resolved" as const, agent_id: ME },
      { unread: false, status: "assigned" as const, agent_id: ME },
    ];
    expect(unreadCount(tickets, ME)).toBe(2);
    expect(pageTitle(unreadCount(tickets, ME), "Atendimento")).toBe("(2) Atendimento");
    expect(pageTitle(unreadCount([], ME), "Atendimento")).toBe("Atendimento");
  });

  it("keeps the sound on unless this user switched it off in this browser", () => {
    const data = new Map<string, string>();
    const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => { data.set(k, v); },
      removeItem: (k: string) => { data.delete(k); } };
    const ana = soundKey(1, ME);
    expect(soundOn(storage, ana)).toBe(true);
    setSound(storage, ana, false);
    expect(soundOn(storage, ana)).toBe(false);
    expect(soundOn(storage, soundKey(1, 8))).toBe(true); // a colleague on the same browser keeps theirs
    setSound(storage, ana, true);
    expect(soundOn(storage, ana)).toBe(true);
  });

  it("rings for a mention of me by someone else, on any ticket, never for another's or my own", () => {
    expect(shouldAlertMention({ user_id: 7, author_id: 3 }, 7)).toBe(true);
    expect(shouldAlertMention({ user_id: 8, author_id: 3 }, 7)).toBe(false); // a colleague's (a supervisor replay)
    expect(shouldAlertMention({ user_id: 7, author_id: 7 }, 7)).toBe(false);
    expect(shouldAlertMention({ user_id: 7, author_id: 3 }, undefined)).toBe(false); // not signed in yet
    expect(shouldAlertMention(undefined, 7)).toBe(false);
  });
});
