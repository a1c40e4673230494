// The reports as chart data and as the table that is their text alternative: pure, so the unit tests drive them.
export type Grouping = "none" | "queue" | "agent";
export type ReportName = "volume" | "responses" | "sla" | "csat";
export const REPORTS: ReportName[] = ["volume", "responses", "sla", "csat"];

export interface ChartData {
  labels: string[];
  datasets: Array<{ key: string; data: number[]; stack?: string }>;
}

export interface VolumeRow { group_name: string | null; bucket: string | null; messages_in: number; messages_out: number;
  tickets_opened: number; tickets_resolved: number }
export interface ResponseRow { metric: string; group_name: string | null; bucket: string | null; count: number;
  mean: number | null }
export interface SlaChartRow { name: string | null; opened: number; resolved: number;
  breach_rate: Record<string, number | null> }
export interface CsatRow { name: string | null; count: number; average: number; distribution: Record<string, number> }

/** The query string of one report: each API names the range and the grouping its own way. Grouped, the charts
 * compare groups over the whole range, so the time series ask for no buckets (and the CSV has the same rows). */
export function reportQuery(report: ReportName, from: string, to: string, group: Grouping, bucket: string,
                            csv = false): string {
  const start = `${from}T00:00:00Z`;
  const end = `${to}T00:00:00Z`;
  const wide = group === "none" ? "tenant" : group;
  const q: Record<string, string> =
    report === "sla" ? { from: start, to: end, group_by: wide }
      : report === "csat" ? { start, end, group: wide }
        : { start, end, group, bucket: group === "none" ? bucket : "none" }; // grouped: one row per group
  if (csv) q.format = "csv";
  return `/api/reports/${report}?${new URLSearchParams(q)}`;
}

const VOLUME = ["messages_in", "messages_out", "tickets_opened", "tickets_resolved"] as const;
export const METRIC_KEYS = ["first_response", "next_response", "resolution"] as const;
export const SLA_CLOCKS = ["first_response", "resolution", "any"] as const;
export const SCORES = ["1", "2", "3", "4", "5"] as const;

/** A row's place on the x axis: its group when grouped, else its time bucket. */
const keyOf = (r: { group_name: string | null; bucket: string | null }, grouped: boolean, none: string) =>
  (grouped ? r.group_name : r.bucket) ?? none;

function ordered<T>(rows: T[], key: (r: T) => string): string[] {
  return [...new Set(rows.map(key))].sort((a, b) => a.localeCompare(b));
}

/** Volume: counts summed per bucket (or per group over the range). */
export function volumeChart(rows: VolumeRow[], grouped: boolean, none = "–"): ChartData {
  const labels = ordered(rows, (r) => keyOf(r, grouped, none));
  const at = new Map(labels.map((l, i) => [l, i]));
  const datasets = VOLUME.map((key) => ({ key, data: labels.map(() => 0) }));
  for (const r of rows) {
    const i = at.get(keyOf(r, grouped, none)) ?? 0;
    VOLUME.forEach((k, j) => { datasets[j]!.data[i]! += r[k] ?? 0; });
  }
  return { labels, datasets };
}

/** Responses: the mean time in minutes per metric, weighted by count where buckets are combined. */
export function responsesChart(rows: ResponseRow[], grouped: boolean, none = "–"): ChartData {
  const labels = ordered(rows, (r) => keyOf(r, grouped, none));
  const at = new Map(labels.map((l, i) => [l, i]));
  const sums = METRIC_KEYS.map(() => labels.map(() => ({ total: 0, n: 0 })));
  for (const r of rows) {
    const m = METRIC_KEYS.indexOf(r.metric as (typeof METRIC_KEYS)[number]);
    if (m < 0 || r.mean == null || !r.count) continue;
    const cell = sums[m]![at.get(keyOf(r, grouped, none)) ?? 0]!;
    cell.total += r.mean * r.count;
    cell.n += r.count;
  }
  return { labels, datasets: METRIC_KEYS.map((key, m) => ({
    key, data: sums[m]!.map((c) => (c.n ? Math.round((c.total / c.n / 60) * 10) / 10 : 0)) })) };
}

/** SLA: the breach rate in percent per clock, per group. */
export function slaChart(rows: SlaChartRow[], none = "–"): ChartData {
  return { labels: rows.map((r) => r.name ?? none), datasets: SLA_CLOCKS.map((key) => ({
    key, data: rows.map((r) => Math.round((r.breach_rate[key] ?? 0) * 1000) / 10) })) };
}

/** CSAT: how many answers gave each score, stacked per group. */
export function csatChart(rows: CsatRow[], none = "–"): ChartData {
  return { labels: rows.map((r) => r.name ?? none), datasets: SCORES.map((key) => ({
    key, stack: "scores", data: rows.map((r) => r.distribution[key] ?? 0) })) };
}

/** What a sentence for screen readers says of a chart: how many points, and its largest value and where. */
export function summarize(chart: ChartData): { points: number; max: number; series: string; label: string } | null {
  if (!chart.labels.length) return null;
  let best = { points: chart.labels.length, max: -Infinity, series: "", label: "" };
  for (const d of chart.datasets) {
    d.data.forEach((v, i) => { if (v > best.max) best = { ...best, max: v, series: d.key, label: chart.labels[i] ?? "" }; });
  }
  return best;
}
