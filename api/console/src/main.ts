import { io } from "socket.io-client";
import { createApp } from "vue";
import App from "./App.vue";
import { Api } from "./api";
import { chime, soundKey, soundOn } from "./attention";
import { initialLocale, makeI18n } from "./i18n";
import { STORE_KEY } from "./keys";
import { API_KEY } from "./useApi";
import { createStore } from "./store";
import "./style.css";

function notifyUser(title: string, body: string, decided = false): void {
  // Unless the store decided it (a customer's message: attention.shouldAlert), only when the agent cannot see
  // the change: another tab in front, or the window in the background.
  if (!decided && !document.hidden) return;
  if (decided && soundOn(localStorage, soundKey(api.session?.tenant_id, api.session?.user_id))) chime();
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  new Notification(title, { body, tag: title });
}

const api = new Api();
const i18n = makeI18n(initialLocale());
const store = createStore(api, (auth) => io({ auth, transports: ["websocket", "polling"] }), notifyUser,
  (key, params) => i18n.global.t(key, params ?? {}));
createApp(App, { api }).provide(STORE_KEY, store).provide(API_KEY, api).use(i18n).mount("#app");
