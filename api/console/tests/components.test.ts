import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import TemplateForm from "../src/components/TemplateForm.vue";
import LoginView from "../src/components/LoginView.vue";
import MessageItem from "../src/components/MessageItem.vue";
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
    const wrapper = mount(TemplateForm, { props: { busy: false, choices: [] }, ...plugins("pt-BR") });
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

describe("the template picker", () => {
  it("offers the approved templates, asks for as many variables as the chosen one needs, and sends them", async () => {
    const choices = [
      { name: "boas_vindas", language: "en_US", needs: { body: 0, header_text: 0, header_media: null } },
      { name: "pedido_atualizado", language: "pt_BR", needs: { body: 2, header_text: 1, header_media: null } },
    ];
    const wrapper = mount(TemplateForm, { props: { busy: false, choices }, ...plugins("pt-BR") });
    const select = wrapper.get('[data-testid="template-choice"]').element as HTMLSelectElement;
    expect(select.value).toBe("pedido_atualizado|pt_BR"); // the agent's language first
    expect(wrapper.findAll('[data-testid^="template-var-"]')).toHaveLength(2);
    await wrapper.get('[data-testid="template-header-var-1"]').setValue("Pedido");
    await wrapper.get('[data-testid="template-var-1"]').setValue("Maria");
    await wrapper.get('[data-testid="template-var-2"]').setValue(" #42 ");
    await wrapper.get("form").trigger("submit");
    expect(wrapper.emitted("send")?.[0]).toEqual([{ name: "pedido_atualizado", language: "pt_BR",
      variables: ["Maria", "#42"], header_variables: ["Pedido"] }]);
    await wrapper.get('[data-testid="template-choice"]').setValue("boas_vindas|en_US");
    expect(wrapper.findAll('[data-testid^="template-var-"]')).toHaveLength(0);
    expect(wrapper.text()).toContain("Este modelo não tem variáveis.");
  });
});

describe("a message in the thread", () => {
  const base = { id: 9, ticket_id: 1, direction: "in" as const, status: "received" as const, author_id: null,
    created_at: "2026-12-02T10:00:00Z" };
  it("previews an image, plays audio, offers every file for download and shows reactions", () => {
    const m = { ...base, kind: "image", body: "a nota", reactions: [{ reactor: "user:7", emoji: "👍" }, { reactor: "user:8", emoji: "👍" }],
      attachments: [
        { id: 1, filename: "nota.jpg", content_type: "image/jpeg", size: 2048, url: "/a/1?sig=x" },
        { id: 2, filename: "voz.ogg", content_type: "audio/ogg", size: 900, url: "/a/2?sig=y" },
        { id: 3, filename: "boleto.pdf", content_type: "application/pdf", size: 50_000, url: "/a/3?sig=z" },
      ] };
    const wrapper = mount(MessageItem, { props: { m, who: "Cliente" }, ...plugins("en") });
    expect(wrapper.get("img").attributes("src")).toBe("/a/1?sig=x");
    expect(wrapper.get("audio").attributes("src")).toBe("/a/2?sig=y");
    const downloads = wrapper.findAll('[data-testid="attachment-download"]');
    expect(downloads.map((d) => d.attributes("href"))).toEqual(["/a/1?sig=x", "/a/2?sig=y", "/a/3?sig=z"]);
    expect(downloads[2]?.text()).toContain("Download boleto.pdf");
    expect(wrapper.get(".reaction-chip").attributes("aria-label")).toBe("👍 × 2");
  });
  it("shows a customer's reaction as one", () => {
    const wrapper = mount(MessageItem, { props: { m: { ...base, kind: "reaction", body: "❤️" }, who: "Cliente" },
      ...plugins("pt-BR") });
    expect(wrapper.get('[data-testid="reaction-message"]').text()).toBe("Reagiu ❤️ a uma mensagem");
  });  it("highlights a note that mentions me, in words too (not by colour alone)", () => {
    const note = { ...base, direction: "note" as const, kind: "note", body: "@Bruno veja", author_id: 3, mentions: [7] };
    const wrapper = mount(MessageItem, { props: { m: note, who: "Nota interna", mentionsMe: true }, ...plugins("pt-BR") });
    expect(wrapper.get("li").classes()).toContain("mentions-me");
    expect(wrapper.get('[data-testid="mentions-me"]').text()).toBe("Menciona você");
    const plain = mount(MessageItem, { props: { m: note, who: "Nota interna" }, ...plugins("en") });
    expect(plain.find('[data-testid="mentions-me"]').exists()).toBe(false);
  });
});
