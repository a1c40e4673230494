import { describe, expect, it } from "vitest";
import { attributeText, attributeValue, channelIds, contactLabel, mergeCandidates, noFilters, passesFilters,
  waitForJob, type Contact, type ContactJob } from "../src/contact";

const contact = (id: number, extra: Partial<Contact> = {}): Contact =>
  ({ id, name: null, phones: [], emails: [], attributes: {}, notes: null, ...extra });

describe("contact attributes", () => {
  it("keeps booleans and plain numbers as typed, everything else as text", () => {
    expect(attributeValue(" gold ")).toBe("gold");
    expect(attributeValue("2019")).toBe(2019);
    expect(attributeValue("-1.5")).toBe(-1.5);
    expect(attributeValue("true")).toBe(true);
    expect(attributeValue("0011")).toBe("0011"); // a code with leading zeros is not a number
    expect(attributeValue("5511999990000999")).toBe("5511999990000999"); // beyond safe integers: text
  });
  it("shows what it stored", () => {
    expect(attributeText(2019)).toBe("2019");
    expect(attributeText(false)).toBe("false");
    expect(attributeText(null)).toBe("");
  });
});

describe("merge and naming", () => {
  it("offers neither the contact itself nor merged or erased ones", () => {
    const found = [contact(1), contact(2), contact(3, { merged_into_id: 9 }), contact(4, { erased_at: "2026-01-01" })];
    expect(mergeCandidates(found, 1).map((c) => c.id)).toEqual([2]);
  });
  it("names a contact by name, then phone, email or number", () => {
    expect(contactLabel(contact(1, { name: "Maria" }))).toBe("Maria");
    expect(contactLabel(contact(1, { phones: ["5511"], emails: ["m@x"] }))).toBe("5511");
    expect(contactLabel(contact(7))).toBe("#7");
  });
});

describe("waiting for a job", () => {
  const job = (status: ContactJob["status"]): ContactJob =>
    ({ id: 1, contact_id: 1, kind: "export", status, progress: 0, result_url: null });
  it("polls until the job is done, backing off", async () => {
    const answers = [job("running"), job("done")];
    const waits: number[] = [];
    const done = await waitForJob(async () => answers.shift()!, job("queued"), async (ms) => { waits.push(ms); });
    expect(done.status).toBe("done");
    expect(waits).toEqual([250, 500]);
  });
  it("gives up after its tries with the job as last seen", async () => {
    const done = await waitForJob(async () => job("running"), job("queued"), async () => {}, 3);
    expect(done.status).toBe("running");
  });
});

describe("inbox filters", () => {
  const tk = { queue_id: 1, channel_id: 2, agent_id: 3 };
  it("passes everything when nothing is chosen, and each filter narrows", () => {
    expect(passesFilters(tk, noFilters())).toBe(true);
    expect(passesFilters(tk, { ...noFilters(), queue: 1, channel: 2, agent: 3 })).toBe(true);
    expect(passesFilters(tk, { ...noFilters(), queue: 2 })).toBe(false);
    expect(passesFilters(tk, { ...noFilters(), channel: 1 })).toBe(false);
    expect(passesFilters({ ...tk, agent_id: null }, { ...noFilters(), agent: 3 })).toBe(false);
  });
  it("lists the loaded tickets' channels once each", () => {
    expect(channelIds([{ channel_id: 5 }, { channel_id: 2 }, { channel_id: 5 }])).toEqual([2, 5]);
  });
});
