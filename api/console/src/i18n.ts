// vue-i18n with Brazilian Portuguese and English; pt-BR where the browser asks for Portuguese.
import { createI18n } from "vue-i18n";
import { chooseLocale } from "./inbox";
import en from "./locales/en";
import ptBR from "./locales/pt-BR";

export const LOCALE_KEY = "atendimento.locale";
export type Locale = "pt-BR" | "en";

export function makeI18n(locale: Locale) {
  return createI18n({ legacy: false, locale, fallbackLocale: "en", messages: { en, "pt-BR": ptBR } });
}

export function initialLocale(): Locale {
  const saved = typeof localStorage === "undefined" ? null : localStorage.getItem(LOCALE_KEY);
  const langs = typeof navigator === "undefined" ? [] : navigator.languages?.length ? navigator.languages : [navigator.language];
  return chooseLocale(langs, saved);
}
