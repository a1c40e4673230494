// The live board in a DOM: it re-fetches after ticket events, a burst at most once per gap, and slowly on a timer.
import { flushPromises, mount } from "@vue/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { BOARD_GAP_MS, BOARD_PERIOD_MS, type Board } from "../src/board";
import LiveBoard from "../src/components/LiveBoard.vue";
import { makeI18n } from "../src/i18n";
import { STORE_KEY } from "../src/keys";
import { createStore } from "../src/store";
import { API_KEY } from "../src/useApi";

const board = (waiting: number): Board => ({ now: "2026-03-02T12:00:00Z", queues: [{
  id: 1, name: "Support", waiting, oldest_waiting_since: null, oldest_wait_seconds: waiting ? 90 : null, assigned: 0,
  pending: 0, sla_at_risk: 0, sla_breached: 0,
  agents: [{ id: 7, name: "Ana", status: "online", open_tickets: 1, max_tickets: 2 }] }] });

describe("the live board", () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it("refreshes after ticket events, folding a burst into one fetch, and every period", async () => {
    let calls = 0;
    const api = { session: { role: "supervisor" }, get: async () => board(calls++) } as unknown as Api;
    const store = createStore(api, () => ({ active: false, on() {}, emit() {}, connect() {}, disconnect() {} }));
    const wrapper = mount(LiveBoard, { global: { plugins: [makeI18n("en")],
      provide: { [STORE_KEY as symbol]: store, [API_KEY as symbol]: api } } });
    await flushPromises();
    expect(calls).toBe(1);
    expect(wrapper.get('[data-testid="board-waiting"]').text()).toBe("0");
    expect(wrapper.get('[data-testid="board-load"]').text()).toBe("1/2");

    for (let id = 1; id <= 5; id++) store.apply({ id, name: "ticket.created", data: { id } });
    store.apply({ id: 6, name: "message.status", data: {} }); // not a board event
    await flushPromises();
    expect(calls).toBe(1); // within the gap of the first fetch: one fetch waits for its end
    vi.advanceTimersByTime(BOARD_GAP_MS);
    await flushPromises();
    expect(calls).toBe(2);
    expect(wrapper.get('[data-testid="board-waiting"]').text()).toBe("1");
    expect(wrapper.get('[data-testid="board-oldest"]').text()).toBe("2 min");

    vi.advanceTimersByTime(BOARD_PERIOD_MS);
    await flushPromises();
    expect(calls).toBe(3); // the slow refresh
    wrapper.unmount();
    store.apply({ id: 7, name: "ticket.updated", data: { id: 1 } });
    vi.advanceTimersByTime(BOARD_PERIOD_MS * 3);
    await flushPromises();
    expect(calls).toBe(3); // gone from the screen: no more fetches
  });
});
