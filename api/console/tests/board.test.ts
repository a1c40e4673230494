// The board's refresh rule and the report charts' data: pure, no DOM.
import { describe, expect, it } from "vitest";
import { loadShare, throttle, totals, type BoardQueue } from "../src/board";
import { csatChart, reportQuery, responsesChart, slaChart, summarize, volumeChart } from "../src/charts";

describe("the board's refresh", () => {
  it("runs at once after a quiet gap and folds a burst into one run at the gap's end", () => {
    let clock = 0;
    const timers: Array<[() => void, number]> = [];
    let runs = 0;
    const refresh = throttle(() => { runs++; }, 2000, () => clock, (f, ms) => timers.push([f, clock + ms]));
    refresh();
    expect(runs).toBe(1);
    clock = 100;
    refresh(); refresh(); refresh();
    expect(runs).toBe(1);
    expect(timers.map(([, at]) => at)).toEqual([2000]); // one run scheduled, at the end of the gap
    clock = 2000;
    timers.shift()![0]();
    expect(runs).toBe(2);
    clock = 2500;
    refresh();
    expect(runs).toBe(2); // still within the gap of the last run
    expect(timers.map(([, at]) => at)).toEqual([4000]);
    clock = 10_000;
    timers.shift()![0]();
    refresh();
    expect(runs).toBe(3); // a quiet gap since the last run: not again until 12 000
  });

  it("sums the queues and counts each agent once", () => {
    const q = (over: Partial<BoardQueue>): BoardQueue => ({ id: 1, name: "A", waiting: 0, oldest_waiting_since: null,
      oldest_wait_seconds: null, assigned: 0, pending: 0, sla_at_risk: 0, sla_breached: 0, agents: [], ...over });
    const ana = { id: 1, name: "Ana", status: "online" as const, open_tickets: 1, max_tickets: 2 };
    const bruno = { id: 2, name: "Bruno", status: "away" as const, open_tickets: 3, max_tickets: 2 };
    expect(totals([q({ waiting: 2, sla_breached: 1, agents: [ana, bruno] }), q({ id: 2, waiting: 1, sla_at_risk: 1, agents: [ana] })]))
      .toEqual({ waiting: 3, online: 1, away: 1, atRisk: 1, breached: 1 });
    expect([loadShare(ana), loadShare(bruno), loadShare({ open_tickets: 0, max_tickets: 0 })]).toEqual([0.5, 1, 0]);
  });
});

describe("the report charts", () => {
  it("ask each API in its own words, as JSON or CSV", () => {
    expect(reportQuery("sla", "2026-03-01", "2026-03-08", "none", "day"))
      .toBe("/api/reports/sla?from=2026-03-01T00%3A00%3A00Z&to=2026-03-08T00%3A00%3A00Z&group_by=tenant");
    expect(reportQuery("csat", "2026-03-01", "2026-03-08", "queue", "day")).toContain("group=queue");
    expect(reportQuery("volume", "2026-03-01", "2026-03-08", "agent", "hour", true))
      .toBe("/api/reports/volume?start=2026-03-01T00%3A00%3A00Z&end=2026-03-08T00%3A00%3A00Z&group=agent&bucket=none&format=csv");
    expect(reportQuery("responses", "2026-03-01", "2026-03-08", "none", "hour")).toContain("group=none&bucket=hour");
  });

  it("draw volume over time, or per group summed over the range", () => {
    const rows = [
      { group_name: "Support", bucket: "2026-03-02", messages_in: 2, messages_out: 1, tickets_opened: 1, tickets_resolved: 0 },
      { group_name: "Support", bucket: "2026-03-01", messages_in: 1, messages_out: 0, tickets_opened: 1, tickets_resolved: 1 },
      { group_name: "Sales", bucket: "2026-03-02", messages_in: 5, messages_out: 0, tickets_opened: 0, tickets_resolved: 0 },
    ];
    const byDay = volumeChart(rows, false);
    expect(byDay.labels).toEqual(["2026-03-01", "2026-03-02"]);
    expect(byDay.datasets[0]).toEqual({ key: "messages_in", data: [1, 7] });
    expect(volumeChart(rows, true).labels).toEqual(["Sales", "Support"]);
    expect(volumeChart(rows, true).datasets[2]!.data).toEqual([0, 2]);
  });

  it("weigh mean response times by their counts and give minutes", () => {
    const rows = [
      { metric: "first_response", group_name: null, bucket: "d1", count: 1, mean: 60 },
      { metric: "first_response", group_name: null, bucket: "d2", count: 3, mean: 180 },
      { metric: "resolution", group_name: null, bucket: "d2", count: 0, mean: null },
    ];
    const c = responsesChart(rows, true, "all");
    expect(c.labels).toEqual(["all"]);
    expect(c.datasets.map((d) => d.data[0])).toEqual([2.5, 0, 0]);
  });

  it("draw SLA breach rates in percent and CSAT scores stacked, with a summary sentence", () => {
    const sla = slaChart([{ name: "Support", opened: 4, resolved: 1, breach_rate: { first_response: 0.25, resolution: null, any: 0.5 } }]);
    expect(sla.datasets.map((d) => d.data[0])).toEqual([25, 0, 50]);
    const csat = csatChart([{ name: null, count: 2, average: 4, distribution: { 1: 0, 2: 0, 3: 1, 4: 0, 5: 1 } }], "all");
    expect(csat.datasets.map((d) => d.data[0])).toEqual([0, 0, 1, 0, 1]);
    expect(csat.datasets.every((d) => d.stack === "scores")).toBe(true);
    expect(summarize(sla)).toEqual({ points: 1, max: 50, series: "any", label: "Support" });
    expect(summarize({ labels: [], datasets: [] })).toBeNull();
  });
});
