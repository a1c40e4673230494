import { describe, expect, it } from "vitest";
import { buttonProblem, buttonsFor, chosenTitle, contactsOf, coordinates, mapUrl, offeredButtons, placeOf,
  telHref } from "../src/thread";

describe("a shared location", () => {
  it("links to OpenStreetMap with a marker, no tiles", () => {
    expect(mapUrl({ latitude: -23.5614, longitude: -46.6559 }))
      .toBe("https://www.openstreetmap.org/?mlat=-23.5614&mlon=-46.6559#map=17/-23.5614/-46.6559");
    expect(mapUrl({ latitude: 10, longitude: 0.1234567 })).toContain("mlat=10&mlon=0.123457");
  });
  it("reads its coordinates with hemispheres", () => {
    expect(coordinates({ latitude: -23.5614, longitude: -46.6559 })).toBe("23.56140° S, 46.65590° W");
    expect(coordinates({ latitude: 48.8584, longitude: 2.2945 })).toBe("48.85840° N, 2.29450° E");
  });
  it("is only a place with both coordinates", () => {
    expect(placeOf({ location: { latitude: 1, longitude: 2, name: "x" } })?.name).toBe("x");
    expect(placeOf({ location: null })).toBeNull();
    expect(placeOf({ location: { latitude: Number.NaN, longitude: 2 } })).toBeNull();
  });
});

describe("contact cards", () => {
  it("fills missing phones and emails", () => {
    expect(contactsOf({ contacts: [{ name: "João", phones: ["+55 11 91234-5678"] }] }))
      .toEqual([{ name: "João", phones: ["+55 11 91234-5678"], emails: [] }]);
    expect(contactsOf({ contacts: null })).toEqual([]);
  });
  it("dial the digits, keeping a leading +", () => {
    expect(telHref("+55 (11) 91234-5678")).toBe("tel:+5511912345678");
    expect(telHref("5511912345678")).toBe("tel:5511912345678");
  });
});

describe("buttons in the thread", () => {
  it("shows ours on a reply, buttons or list rows", () => {
    const buttons = [{ id: "a", title: "Sim" }, { id: "b", title: "Não" }];
    expect(offeredButtons({ direction: "out", interactive: { buttons } })).toEqual(buttons);
    expect(offeredButtons({ direction: "out", interactive: { list: { button: "Ver", sections: [
      { rows: [{ id: "r1", title: "Um" }] }, { rows: [{ id: "r2", title: "Dois" }] }] } } }).map((b) => b.title))
      .toEqual(["Um", "Dois"]);
    expect(offeredButtons({ direction: "in", interactive: { buttons } })).toEqual([]);
  });
  it("shows the customer's choice by its title", () => {
    expect(chosenTitle({ direction: "in", body: "Sim", interactive: { id: "a", title: "Sim" } })).toBe("Sim");
    expect(chosenTitle({ direction: "in", body: "", interactive: { id: "a" } })).toBe("a");
    expect(chosenTitle({ direction: "in", body: "Oi", interactive: null })).toBeNull();
    expect(chosenTitle({ direction: "out", body: "x", interactive: { buttons: [] } })).toBeNull();
  });
});

describe("quick-reply buttons in the composer", () => {
  it("refuses what the API would", () => {
    expect(buttonProblem(["Sim", "Não"], "Confirma?")).toBeNull();
    expect(buttonProblem([], "")).toBeNull();
    expect(buttonProblem(["Sim", " "], "Confirma?")).toBe("empty");
    expect(buttonProblem(["x".repeat(21)], "Confirma?")).toBe("tooLong");
    expect(buttonProblem(["ç".repeat(20)], "Confirma?")).toBeNull();
    expect(buttonProblem(["Sim", "sim "], "Confirma?")).toBe("duplicate");
    expect(buttonProblem(["a", "b", "c", "d"], "Confirma?")).toBe("tooMany");
    expect(buttonProblem(["Sim"], "  ")).toBe("needsText");
    expect(buttonProblem(["Sim"], "Confirma?", 1)).toBe("withFiles");
  });
  it("gives each button a unique id made from its title", () => {
    expect(buttonsFor([" Rastrear pedido ", "Falar com alguém", "!!!"])).toEqual([
      { id: "btn-1-rastrear-pedido", title: "Rastrear pedido" },
      { id: "btn-2-falar-com-alguem", title: "Falar com alguém" },
      { id: "btn-3-option", title: "!!!" }]);
  });
});
