import { describe, expect, it } from "vitest";
import en from "../src/locales/en";
import ptBR from "../src/locales/pt-BR";

function keys(doc: object, prefix = ""): string[] {
  return Object.entries(doc).flatMap(([k, v]) => (typeof v === "object" ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
}

describe("translations", () => {
  it("have the same keys in both languages", () => {
    expect(keys(ptBR).sort()).toEqual(keys(en).sort());
  });

  it("use the same placeholders in both languages", () => {
    const get = (doc: object, key: string) => key.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc);
    for (const key of keys(en)) {
      expect(placeholders(String(get(ptBR, key))), key).toEqual(placeholders(String(get(en, key))));
    }
  });

  it("ask for the company code on login", () => {
    expect(en.login.tenant).toBe("Company code (e.g. acme)");
    expect(ptBR.login.tenant).toContain("acme");
  });
});
