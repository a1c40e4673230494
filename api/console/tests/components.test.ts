import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import TemplateForm from "../src/components/TemplateForm.vue";
import LoginView from "../src/components/LoginView.vue";
import { makeI18n } from "../src/i18n";
import { STORE_KEY } from "../src/keys";
import { Api } from "../src/api";
import { createStore } from "../src/store";

const plugins = (locale: "en" | "pt-BR") => ({ global: { plugins: [makeI18n(locale)] } });

describe("the login form", () => {
  it.each([["en", "Company code (e.g. acme)"], ["pt-BR", "Código da empresa (ex.: acme)"]] as const)(
    "says what the company field wants (%s)", (locale, label) => {
      const api = new Api(null);
      const store = createStore(api, () => ({ active: false, on() {}, emit() {}, connect() {}, disconnect() {} }));
      const wrapper = mount(LoginView, { props: { api }, global: { plugins: [makeI18n(locale)], provide: { [STORE_KEY as symbol]: store } } });
      expect(wrapper.get("label").text()).toContain(label);
    });
});

describe("the template form", () => {
  it("sends the name, the language and the filled variables", async () => {
    const wrapper = mount(TemplateForm, { props: { busy: false }, ...plugins("pt-BR") });
    await wrapper.get('[data-testid="template-name"]').setValue("pedido_atualizado");
    expect((wrapper.get('[data-testid="template-language"]').element as HTMLInputElement).value).toBe("pt_BR");
    await wrapper.get('[data-testid="template-var-1"]').setValue("Maria");
    await wrapper.get('[data-testid="template-add-var"]').trigger("click");
    await wrapper.get('[data-testid="template-var-2"]').setValue("#42");
    await wrapper.get("form").trigger("submit");
    expect(wrapper.emitted("send")?.[0]).toEqual([{
      name: "pedido_atualizado", language: { code: "pt_BR" },
      components: [{ type: "body", parameters: [{ type: "text", text: "Maria" }, { type: "text", text: "#42" }] }],
    }]);
  });
});
