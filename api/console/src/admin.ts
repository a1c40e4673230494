// Pure helpers of the admin screens: the weekly schedule editor, write-only credentials, SLA targets in minutes.

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];
/** One opening of a day, as <input type="time"> holds it ("HH:MM"); an end of "00:00" means midnight. */
export interface Span { start: string; end: string }
export type Week = Record<Day, Span[]>;

export interface HoursDoc {
  tz: string;
  weekly: Partial<Record<string, [string, string][]>>;
  holidays?: string[];
  configured?: boolean;
}

const hhmm = (t: string): string => t.slice(0, 5);
const minutes = (t: string): number => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
const endMinutes = (t: string): number => (minutes(t) === 0 ? 24 * 60 : minutes(t));

/** The editor's week from the API's calendar: every day present (closed = no spans), "24:00" shown as 00:00. */
export function weekFromDoc(doc: Pick<HoursDoc, "weekly"> | null | undefined): Week {
  const week = Object.fromEntries(DAYS.map((d) => [d, [] as Span[]])) as Week;
  for (const [key, spans] of Object.entries(doc?.weekly ?? {})) {
    const day = key.toLowerCase() as Day;
    if (!DAYS.includes(day) || !Array.isArray(spans)) continue;
    week[day] = spans.map(([start, end]) => ({ start: hhmm(start), end: end.startsWith("24:") ? "00:00" : hhmm(end) }));
  }
  return week;
}

/** The calendar to PUT: closed days left out, a midnight end written as "24:00", spans in order. */
export function weekToDoc(tz: string, week: Week, holidays: string[] = []): HoursDoc {
  const weekly: HoursDoc["weekly"] = {};
  for (const day of DAYS) {
    const spans = [...week[day]].sort((a, b) => minutes(a.start) - minutes(b.start));
    if (spans.length) weekly[day] = spans.map((s) => [hhmm(s.start), minutes(s.end) === 0 ? "24:00" : hhmm(s.end)]);
  }
  return { tz: tz.trim(), weekly, holidays };
}

export type SpanProblem = "order" | "overlap" | "empty";
export interface WeekProblem { day: Day; index: number; problem: SpanProblem }

/** What the server would refuse (an end not after its start) and what is surely a slip (overlapping spans). */
export function weekProblems(week: Week): WeekProblem[] {
  const found: WeekProblem[] = [];
  for (const day of DAYS) {
    week[day].forEach((s, index) => {
      if (!/^\d\d:\d\d/.test(s.start) || !/^\d\d:\d\d/.test(s.end)) found.push({ day, index, problem: "empty" });
      else if (endMinutes(s.end) <= minutes(s.start)) found.push({ day, index, problem: "order" });
      else if (week[day].some((o, j) => j !== index && /^\d\d:\d\d/.test(o.start) && /^\d\d:\d\d/.test(o.end)
        && minutes(o.start) < endMinutes(s.end) && minutes(s.start) < endMinutes(o.end) && j < index)) {
        found.push({ day, index, problem: "overlap" });
      }
    });
  }
  return found;
}

/** Monday's hours on every other weekday (Saturday and Sunday kept as they are). */
export function copyMondayToWeekdays(week: Week): Week {
  const copy = { ...week };
  for (const day of ["tue", "wed", "thu", "fri"] as const) copy[day] = week.mon.map((s) => ({ ...s }));
  return copy;
}

/** Holidays typed one per line or separated by commas: valid YYYY-MM-DD dates, sorted, once each. */
export function parseHolidays(text: string): { dates: string[]; bad: string[] } {
  const parts = text.split(/[\s,;]+/).map((p) => p.trim()).filter(Boolean);
  const isDate = (p: string) => /^\d{4}-\d{2}-\d{2}$/.test(p) && !Number.isNaN(Date.parse(`${p}T00:00:00Z`))
    && new Date(`${p}T00:00:00Z`).toISOString().startsWith(p);
  return { dates: [...new Set(parts.filter(isDate))].sort(), bad: parts.filter((p) => !isDate(p)) };
}

/** The time zones the browser knows (IANA names), for the time-zone picker. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf?.("timeZone") ?? [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

// ---- Channels --------------------------------------------------------------------------------------------------

export const CHANNEL_KINDS = ["whatsapp", "sms", "email", "sandbox"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** The credentials each provider's adapter reads (models/providers/*). */
export const CREDENTIAL_FIELDS: Record<ChannelKind, string[]> = {
  whatsapp: ["access_token", "app_secret", "verify_token", "business_account_id"],
  sms: ["account_sid", "auth_token", "messaging_service_sid"],
  email: ["api_key", "inbound_secret", "event_public_key"],
  sandbox: ["secret"],
};

/** Only the credentials typed in: an empty field keeps the stored value (the API merges what it is sent). */
export function credentialPatch(kind: ChannelKind, typed: Record<string, string>): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const name of CREDENTIAL_FIELDS[kind]) {
    const value = (typed[name] ?? "").trim();
    if (value) out[name] = value;
  }
  return Object.keys(out).length ? out : null;
}

// ---- SLA policies ----------------------------------------------------------------------------------------------

/** Seconds as whole minutes for a form ("" for no target). */
export const toMinutes = (seconds: number | null | undefined): number | "" =>
  seconds == null ? "" : Math.round(seconds / 60);

/** A form's minutes as the API's seconds (null for an empty field: no target). */
export function toSeconds(value: number | string | null | undefined): number | null {
  if (value === "" || value == null) return null;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n * 60) : null;
}
