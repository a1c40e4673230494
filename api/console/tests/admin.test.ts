import { mount, flushPromises } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { copyMondayToWeekdays, credentialPatch, parseHolidays, toMinutes, toSeconds, weekFromDoc, weekProblems,
  weekToDoc } from "../src/admin";
import AdminArea from "../src/components/admin/AdminArea.vue";
import AdminChannels from "../src/components/admin/AdminChannels.vue";
import AdminHours from "../src/components/admin/AdminHours.vue";
import { Api, ApiError } from "../src/api";
import { makeI18n } from "../src/i18n";
import { API_KEY } from "../src/useApi";
import { STORE_KEY } from "../src/keys";
import { createStore } from "../src/store";

describe("the weekly schedule", () => {
  const doc = { tz: "America/Sao_Paulo", weekly: { mon: [["08:00", "12:00"], ["13:00", "18:00"]] as [string, string][],
    Sat: [["22:00", "24:00"]] as [string, string][] } };

  it("shows every day, closed ones empty, and a midnight end as 00:00 (what a time input can hold)", () => {
    const week = weekFromDoc(doc);
    expect(week.mon).toEqual([{ start: "08:00", end: "12:00" }, { start: "13:00", end: "18:00" }]);
    expect(week.sat).toEqual([{ start: "22:00", end: "00:00" }]);
    expect(week.sun).toEqual([]);
  });

  it("writes back what it read: closed days left out, midnight as 24:00, spans in order, seconds dropped", () => {
    const week = weekFromDoc(doc);
    week.mon = [week.mon[1]!, { start: "08:00:00", end: "12:00" }];
    expect(weekToDoc(" America/Sao_Paulo ", week, ["2026-12-25"])).toEqual({ tz: "America/Sao_Paulo", holidays: ["2026-12-25"],
      weekly: { mon: [["08:00", "12:00"], ["13:00", "18:00"]], sat: [["22:00", "24:00"]] } });
  });

  it("finds an end before its start and overlapping hours, but takes an end at midnight", () => {
    const week = weekFromDoc(null);
    week.mon = [{ start: "09:00", end: "08:00" }];
    week.tue = [{ start: "08:00", end: "12:00" }, { start: "11:00", end: "14:00" }];
    week.wed = [{ start: "18:00", end: "00:00" }];
    week.thu = [{ start: "", end: "10:00" }];
    expect(weekProblems(week)).toEqual([{ day: "mon", index: 0, problem: "order" },
      { day: "tue", index: 1, problem: "overlap" }, { day: "thu", index: 0, problem: "empty" }]);
  });

  it("copies Monday to the other weekdays, not to the weekend", () => {
    const week = weekFromDoc(doc);
    const copied = copyMondayToWeekdays(week);
    expect(copied.fri).toEqual(week.mon);
    expect(copied.fri).not.toBe(week.mon);
    expect(copied.sat).toEqual([{ start: "22:00", end: "00:00" }]);
  });

  it("reads holidays one per line or by commas, and names what is not a date", () => {
    expect(parseHolidays("2026-12-25\n2026-01-01, 2026-12-25 2026-02-30 natal")).toEqual(
      { dates: ["2026-01-01", "2026-12-25"], bad: ["2026-02-30", "natal"] });
  });
});

describe("write-only credentials", () => {
  it("sends only what was typed, for the channel's provider", () => {
    expect(credentialPatch("whatsapp", { access_token: " tok ", app_secret: "", secret: "not whatsapp's" }))
      .toEqual({ access_token: "tok" });
    expect(credentialPatch("sandbox", { secret: "   " })).toBeNull();
  });
});

describe("SLA targets", () => {
  it("are minutes in the form and seconds in the API, empty meaning no target", () => {
    expect(toMinutes(1800)).toBe(30);
    expect(toMinutes(null)).toBe("");
    expect(toSeconds(30)).toBe(1800);
    expect(toSeconds("")).toBeNull();
    expect(toSeconds(-5)).toBeNull();
  });
});

describe("the business-hours editor", () => {
  it("loads the stored calendar, refuses an end before its start, and PUTs the edited week", async () => {
    const calls: Array<{ method: string; path: string; body?: unknown }> = [];
    const api = new Api(null);
    api.request = (async (method: string, path: string, body?: unknown) => {
      calls.push({ method, path, body });
      return method === "GET" ? { tz: "America/Sao_Paulo", weekly: { mon: [["08:00", "18:00"]] }, holidays: [], configured: true }
        : body;
    }) as Api["request"];
    const store = createStore(api, () => ({ active: false, on() {}, emit() {}, connect() {}, disconnect() {} }));
    const wrapper = mount(AdminHours, { global: { plugins: [makeI18n("pt-BR")],
      provide: { [STORE_KEY as symbol]: store, [API_KEY as symbol]: api } } });
    await flushPromises();
    expect((wrapper.get('[data-testid="admin-hours-tz"]').element as HTMLInputElement).value).toBe("America/Sao_Paulo");
    await wrapper.get('[data-testid="admin-hours-mon-0-end"]').setValue("07:00");
    expect(wrapper.text()).toContain("O fim deve ser depois do início.");
    expect(wrapper.get('[data-testid="admin-hours-save"]').attributes("disabled")).toBeDefined();
    await wrapper.get('[data-testid="admin-hours-mon-0-end"]').setValue("17:00");
    await wrapper.get('[data-testid="admin-hours-copy"]').trigger("click");
    await wrapper.get('[data-testid="admin-hours-sat-add"]').trigger("click");
    await wrapper.get('[data-testid="admin-hours-sat-0-end"]').setValue("13:00");
    await wrapper.get('[data-testid="admin-hours-holidays"]').setValue("2026-12-25");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    const put = calls.find((c) => c.method === "PUT");
    const day = [["08:00", "17:00"]];
    expect(put).toEqual({ method: "PUT", path: "/api/admin/business-hours", body: { tz: "America/Sao_Paulo",
      holidays: ["2026-12-25"], weekly: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: [["09:00", "13:00"]] } } });
  });
});

describe("the channels section", () => {
  const channel = { id: 3, kind: "whatsapp", name: "Vendas", external_id: "1065", default_queue_id: null, active: true,
    has_credentials: true };

  function mounted(onPatch: (body: unknown) => unknown) {
    const api = new Api(null);
    const patches: unknown[] = [];
    api.request = (async (method: string, path: string, body?: unknown) => {
      if (method === "PATCH") {
        patches.push(body);
        return onPatch(body);
      }
      return path === "/api/admin/channels" ? [channel] : [];
    }) as Api["request"];
    const store = createStore(api, () => ({ active: false, on() {}, emit() {}, connect() {}, disconnect() {} }));
    const wrapper = mount(AdminChannels, { global: { plugins: [makeI18n("pt-BR")],
      provide: { [STORE_KEY as symbol]: store, [API_KEY as symbol]: api } } });
    return { wrapper, patches, store };
  }

  it("sends only the credential typed, and shows the provider's refusal next to the channel, in the user's words", async () => {
    const { wrapper, patches, store } = mounted(() => {
      throw new ApiError(422, "credentials_rejected", "the provider refused these credentials: Invalid OAuth access token.");
    });
    await flushPromises();
    expect(wrapper.get('[data-testid="admin-channel-creds"]').text()).toBe("credenciais definidas");
    await wrapper.get('[data-testid="admin-channel-cred-access_token"]').setValue("novo-token");
    await wrapper.get('[data-testid="admin-channel-save"]').trigger("submit");
    await flushPromises();
    expect(patches).toEqual([{ name: "Vendas", default_queue_id: null, active: true, credentials: { access_token: "novo-token" } }]);
    const answer = wrapper.get('[data-testid="admin-channel-answer"]');
    expect(answer.attributes("role")).toBe("alert");
    expect(answer.text()).toBe("Não salvo: o provedor recusou as credenciais (Invalid OAuth access token.).");
    expect(store.state.error).toBeNull(); // not in the banner as well
  });

  it("saves without credentials when none were typed (the stored ones stay)", async () => {
    const { wrapper, patches } = mounted((body) => ({ ...channel, ...(body as object) }));
    await flushPromises();
    await wrapper.get('[data-testid="admin-channel-name"]').setValue("Vendas SP");
    await wrapper.get('[data-testid="admin-channel-save"]').trigger("submit");
    await flushPromises();
    expect(patches).toEqual([{ name: "Vendas SP", default_queue_id: null, active: true }]);
    expect(wrapper.get('[data-testid="admin-channel-answer"]').text()).toBe("Salvo.");
  });
});

describe("the administration tabs", () => {
  function mounted(role: "admin" | "supervisor") {
    const api = new Api(null);
    api.request = (async () => []) as unknown as Api["request"];
    const store = createStore(api, () => ({ active: false, on() {}, emit() {}, connect() {}, disconnect() {} }));
    store.state.me = { id: 1, tenant_id: 1, email: "x@acme.example", name: "X", role, status: "offline" };
    return mount(AdminArea, { attachTo: document.body, global: { plugins: [makeI18n("en")],
      provide: { [STORE_KEY as symbol]: store, [API_KEY as symbol]: api } } });
  }

  it("offer API keys to admins only, as the API does", () => {
    for (const [role, shown] of [["supervisor", false], ["admin", true]] as const) {
      const wrapper = mounted(role);
      expect(wrapper.find('[data-testid="admin-tab-keys"]').exists()).toBe(shown);
      wrapper.unmount();
    }
  });

  it("move with the arrow keys, wrapping, and Home/End, keeping one tab in the tab order", async () => {
    const wrapper = mounted("supervisor");
    const list = wrapper.get('[role="tablist"]');
    const selected = () => wrapper.get('[aria-selected="true"]').attributes("data-section");
    await list.trigger("keydown", { key: "ArrowLeft" });
    expect(selected()).toBe("labels");
    expect(document.activeElement?.getAttribute("data-section")).toBe("labels");
    await list.trigger("keydown", { key: "ArrowRight" });
    await list.trigger("keydown", { key: "ArrowRight" });
    expect(selected()).toBe("queues");
    expect(wrapper.get('[role="tabpanel"]').attributes("aria-labelledby")).toBe("admin-tab-queues");
    await list.trigger("keydown", { key: "End" });
    expect(selected()).toBe("labels");
    await list.trigger("keydown", { key: "Home" });
    expect(selected()).toBe("users");
    expect(wrapper.findAll('[role="tab"][tabindex="0"]')).toHaveLength(1);
    wrapper.unmount();
  });
});
