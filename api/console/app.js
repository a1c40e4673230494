// The agent console: log in, set presence, see tickets arrive live over Socket.IO, answer customers.
// It talks only to the API of the origin that served it. Everything shown is set as text, never as HTML.

const $ = (id) => document.getElementById(id);
const STORE = "atendimento.session";
const LIVE_EVENTS = ["ticket.created", "ticket.assigned", "ticket.updated", "message.created", "message.status",
  "agent.status", "sla.warning", "sla.breached"];
// Delivery statuses only move forward: a late or replayed event never takes a badge back.
const RANK = { received: 0, queued: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

const state = {
  session: null, // {access_token, refresh_token, user_id, tenant_id, role, expires_at}
  me: null,
  socket: null,
  lastEventId: 0, // the highest envelope id seen: what to replay from after a reconnect
  seen: new Set(), // envelope ids already applied (an event can reach us through two rooms, or live and replayed)
  tickets: new Map(),
  ticketsCursor: null,
  touched: new Set(), // tickets changed by events while the list was loading: the load must not undo them
  loadSeq: 0,
  openId: null,
  messages: new Map(),
  messagesCursor: null,
  early: new Map(), // message.status that arrived before its message
  queues: null,
  refreshTimer: 0,
  refusals: 0,
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) node.setAttribute(k, v);
  node.append(...children.filter((c) => c != null));
  return node;
}

const itemsOf = (doc) => (Array.isArray(doc) ? doc : doc?.items ?? []);
const time = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "");

function showError(err) {
  console.error(err);
  $("error-text").textContent = err?.message || String(err);
  $("error-banner").hidden = false;
}
const hideError = () => { $("error-banner").hidden = true; };

function notify(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = false;
  setTimeout(() => { if (n.textContent === text) n.hidden = true; }, 6000);
}

// ---- HTTP and tokens -------------------------------------------------------------------------------------------

async function request(method, path, body, { auth = true, retry = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    if (!state.session) throw new ApiError(401, "unauthorized", "Please log in.");
    headers.Authorization = `Bearer ${state.session.access_token}`;
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
  }
  if (resp.status === 401 && auth && retry) {
    await refresh();
    return request(method, path, body, { auth, retry: false });
  }
  const doc = await resp.json().catch(() => null);
  if (!resp.ok) {
    const e = doc?.error ?? {};
    throw new ApiError(resp.status, e.code ?? "http_error", e.message ?? `Request failed (HTTP ${resp.status}).`);
  }
  return doc;
}

function startSession(tokens) {
  state.session = { ...tokens, expires_at: tokens.expires_at ?? Date.now() + tokens.expires_in * 1000 };
  sessionStorage.setItem(STORE, JSON.stringify(state.session));
  clearTimeout(state.refreshTimer);
  // Refresh a minute early (or at 80% of a short lifetime), so requests and reconnects never carry a stale token.
  const ttl = state.session.expires_at - Date.now();
  const lead = Math.min(60_000, ttl * 0.2);
  state.refreshTimer = setTimeout(() => refresh().catch(showError), Math.max(1000, ttl - lead));
}

let refreshing = null;
function refresh() {
  if (!state.session) return Promise.reject(new ApiError(401, "unauthorized", "Please log in."));
  refreshing ??= request("POST", "/api/auth/refresh", { refresh_token: state.session.refresh_token }, { auth: false })
    .then(startSession, (err) => {
      if (err.status === 401) logout("Your session has expired: please log in again.");
      throw err;
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

function logout(message) {
  clearTimeout(state.refreshTimer);
  state.socket?.disconnect();
  sessionStorage.removeItem(STORE);
  Object.assign(state, { session: null, me: null, socket: null, lastEventId: 0, seen: new Set(), tickets: new Map(),
    openId: null, messages: new Map(), early: new Map(), queues: null });
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("status-select").disabled = true;
  closeTicket();
  renderTickets();
  if (message) showError(new Error(message));
}

// ---- Live events -----------------------------------------------------------------------------------------------

const handlers = {
  "ticket.created": upsertTicket,
  "ticket.assigned": upsertTicket,
  "ticket.updated": upsertTicket,
  "message.created": (m) => {
    if (m.ticket_id === state.openId) {
      addMessage(m);
      renderMessages();
    } else if (state.tickets.has(m.ticket_id) && m.direction === "in") {
      patchTicket(m.ticket_id, { unread: true });
    }
  },
  "message.status": (s) => {
    if (s.ticket_id !== state.openId) return;
    if (!state.messages.has(s.message_id)) state.early.set(s.message_id, s);
    else addMessage({ id: s.message_id, status: s.status, error_code: s.error_code });
    renderMessages();
  },
  "agent.status": (a) => {
    const who = a.agent_id ?? a.user_id;
    if (who === state.session?.user_id && a.status) renderMe({ ...state.me, status: a.status });
  },
  "sla.warning": (d) => patchTicket(d.ticket_id ?? d.id, { sla: "warning" }),
  "sla.breached": (d) => patchTicket(d.ticket_id ?? d.id, { sla: "breached" }),
};

function applyEnvelope(env) {
  if (!env || typeof env.id !== "number" || state.seen.has(env.id)) return;
  state.seen.add(env.id);
  if (state.seen.size > 2000) state.seen.delete(state.seen.values().next().value);
  state.lastEventId = Math.max(state.lastEventId, env.id);
  handlers[env.name]?.(env.data ?? {});
}

function setConnection(live) {
  const c = $("connection");
  c.dataset.state = live ? "live" : "reconnecting";
  c.textContent = live ? "Live" : "Reconnecting…";
}

function connectSocket() {
  // `auth` as a function: every reconnect presents the current access token, not the one from the first connect.
  const socket = io({ auth: (cb) => cb({ token: state.session?.access_token }), transports: ["websocket", "polling"] });
  state.socket = socket;
  socket.on("connect", () => {
    state.refusals = 0;
    setConnection(true);
    catchUp().catch(showError);
  });
  socket.on("disconnect", (reason) => {
    if (state.socket !== socket) return;
    setConnection(false);
    if (reason === "io server disconnect") socket.connect(); // the server let us go: come back
  });
  socket.on("connect_error", (err) => {
    setConnection(false);
    if (socket.active) return; // a transport failure: the client retries by itself, with backoff
    // Refused by the server, most likely an expired token: refresh and try again, a few times.
    if (++state.refusals > 3) return showError(new Error(`Live updates are unavailable: ${err.message}`));
    setTimeout(() => refresh().then(() => socket.connect(), showError), 1000 * state.refusals);
  });
  for (const name of LIVE_EVENTS) socket.on(name, applyEnvelope);
}

// After every (re)connect: follow the open ticket again, then fetch what was missed while we were away.
async function catchUp() {
  if (state.openId) state.socket.emit("subscribe", { ticket_id: state.openId });
  if (state.lastEventId) {
    try {
      for (let page = 0; page < 10; page++) {
        const from = state.lastEventId;
        const missed = itemsOf(await request("GET", `/api/events?after=${from}`)).sort((a, b) => a.id - b.id);
        missed.forEach(applyEnvelope);
        if (!missed.length || state.lastEventId === from) return;
      }
      return;
    } catch (err) {
      console.warn("event replay failed, reloading instead", err);
    }
  }
  await loadTickets();
  if (state.openId) await loadMessages(state.openId);
}

// ---- Presence --------------------------------------------------------------------------------------------------

function renderMe(me) {
  state.me = me;
  const select = $("status-select");
  select.value = me.status;
  select.disabled = false;
  select.dataset.status = me.status; // what the server last confirmed
  $("me-name").textContent = me.name || me.email || "";
}

async function changeStatus() {
  const select = $("status-select");
  try {
    renderMe(await request("PUT", "/api/me/status", { status: select.value }));
  } catch (err) {
    if (state.me) select.value = state.me.status;
    showError(err);
  }
}

// ---- Tickets ---------------------------------------------------------------------------------------------------

function upsertTicket(t) {
  if (t?.id == null) return;
  state.touched.add(t.id);
  const prev = state.tickets.get(t.id);
  if ("agent_id" in t && t.agent_id !== state.session?.user_id) {
    // Not (or no longer) ours: transferred, taken by someone else, or still waiting in a queue.
    if (prev) state.tickets.delete(t.id);
    if (t.id === state.openId) {
      closeTicket();
      notify(`Ticket #${t.id} is no longer assigned to you.`);
    }
  } else {
    state.tickets.set(t.id, mergeTicket(prev, t));
    if (t.id === state.openId) renderTicketHead();
  }
  renderTickets();
}

// Some events carry a summary without the contact: keep the name and phone we already know.
function mergeTicket(prev, t) {
  const merged = { ...prev, ...t };
  for (const k of ["contact_name", "contact_phone"]) merged[k] = t[k] ?? prev?.[k] ?? null;
  return merged;
}

function patchTicket(id, changes) {
  if (!state.tickets.has(id)) return;
  Object.assign(state.tickets.get(id), changes);
  renderTickets();
}

async function loadTickets(more = false) {
  const seq = ++state.loadSeq;
  const list = $("ticket-list");
  list.setAttribute("aria-busy", "true");
  if (!more) state.touched = new Set();
  const query = new URLSearchParams({ mine: "true" });
  if (more && state.ticketsCursor) query.set("cursor", state.ticketsCursor);
  try {
    const page = await request("GET", `/api/tickets?${query}`);
    if (seq !== state.loadSeq) return; // a newer load is on its way
    const fresh = more ? state.tickets : new Map();
    for (const t of itemsOf(page)) fresh.set(t.id, mergeTicket(state.tickets.get(t.id), t));
    if (!more) for (const id of state.touched) if (state.tickets.has(id)) fresh.set(id, state.tickets.get(id));
    state.tickets = fresh;
    state.ticketsCursor = page?.next_cursor ?? null;
    renderTickets();
  } catch (err) {
    showError(err);
  } finally {
    if (seq === state.loadSeq) list.setAttribute("aria-busy", "false");
  }
}

function renderTickets() {
  const sorted = [...state.tickets.values()].sort(
    (a, b) => (a.status === "resolved") - (b.status === "resolved") || b.id - a.id);
  $("ticket-list").replaceChildren(...sorted.map((t) => {
    const label = t.contact_name || t.contact_phone || `Ticket #${t.id}`;
    const button = el("button", { type: "button", class: "ticket", "data-testid": `ticket-item-${t.id}`,
      "data-status": t.status, "aria-current": t.id === state.openId ? "true" : null },
      el("span", { class: "who" }, label),
      el("span", { class: `badge s-${t.status}` }, t.status),
      t.unread ? el("span", { class: "dot", title: "new messages" },
        el("span", { class: "visually-hidden" }, "new messages")) : null,
      t.sla ? el("span", { class: `badge sla-${t.sla}` }, t.sla === "breached" ? "SLA breached" : "SLA at risk") : null,
      el("span", { class: "meta" }, [`#${t.id}`, t.contact_phone, time(t.created_at)].filter(Boolean).join(" · ")));
    button.addEventListener("click", () => openTicket(t.id));
    return el("li", {}, button);
  }));
  $("tickets-empty").hidden = state.tickets.size > 0;
  $("tickets-more").hidden = !state.ticketsCursor;
}

// ---- One ticket ------------------------------------------------------------------------------------------------

async function openTicket(id) {
  Object.assign(state, { openId: id, messages: new Map(), early: new Map(), messagesCursor: null });
  patchTicket(id, { unread: false });
  state.socket?.emit("subscribe", { ticket_id: id }); // before loading, so nothing falls between the two
  $("no-ticket").hidden = true;
  $("ticket-view").hidden = false;
  $("transfer-form").hidden = true;
  $("transfer-button").setAttribute("aria-expanded", "false");
  renderTicketHead();
  renderMessages();
  try {
    const ticket = await request("GET", `/api/tickets/${id}`);
    if (state.openId !== id) return;
    upsertTicket(ticket);
    if (state.openId === id) await loadMessages(id);
  } catch (err) {
    showError(err);
  }
  if (state.openId === id) $("reply-input").focus();
}

function closeTicket() {
  state.openId = null;
  $("ticket-view").hidden = true;
  $("no-ticket").hidden = false;
  renderTickets();
}

async function loadMessages(id, older = false) {
  const query = older && state.messagesCursor ? `?cursor=${encodeURIComponent(state.messagesCursor)}` : "";
  const list = $("message-list");
  list.setAttribute("aria-busy", "true");
  try {
    const page = await request("GET", `/api/tickets/${id}/messages${query}`);
    if (state.openId !== id) return;
    itemsOf(page).forEach(addMessage);
    if (older || !state.messagesCursor) state.messagesCursor = page?.next_cursor ?? null;
    renderMessages(!older);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function addMessage(m) {
  const prev = state.messages.get(m.id) ?? {};
  const early = state.early.get(m.id);
  state.early.delete(m.id);
  const merged = { ...prev, ...m };
  for (const candidate of [prev, early]) {
    if (candidate?.status && (RANK[candidate.status] ?? -1) > (RANK[merged.status] ?? -1)) {
      merged.status = candidate.status;
      merged.error_code = candidate.error_code ?? merged.error_code;
    }
  }
  state.messages.set(m.id, merged);
}

function renderTicketHead() {
  const t = state.tickets.get(state.openId);
  if (!t) return;
  $("ticket-title").textContent = t.contact_name || t.contact_phone || `Ticket #${t.id}`;
  $("ticket-meta").textContent = [`#${t.id}`, t.contact_phone, t.priority != null ? `priority ${t.priority}` : null]
    .filter(Boolean).join(" · ");
  const badge = $("ticket-status");
  badge.textContent = t.status ?? "";
  badge.className = `badge s-${t.status}`;
  const resolved = t.status === "resolved";
  for (const id of ["resolve-button", "transfer-button", "reply-input", "reply-send"]) $(id).disabled = resolved;
}

function renderMessages(scrollToEnd = false) {
  const box = $("messages");
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const sorted = [...state.messages.values()].filter((m) => m.ticket_id != null).sort((a, b) => a.id - b.id);
  $("message-list").replaceChildren(...sorted.map((m) => {
    const who = m.direction === "in" ? "Customer" : m.direction === "note" ? "Internal note"
      : m.author_id === state.session?.user_id ? "You" : "Agent";
    const status = m.error_code ? `${m.status} (${m.error_code})` : m.status;
    return el("li", { class: `msg ${m.direction}`, "data-testid": `message-${m.id}`, "data-status": m.status },
      el("p", { class: "body" }, m.body ?? `[${m.kind}]`),
      el("p", { class: "meta" }, `${who} · ${time(m.created_at)}`,
        m.direction === "in" ? null : el("span", { class: `badge s-${m.status}` }, status)));
  }));
  $("messages-more").hidden = !state.messagesCursor;
  if (scrollToEnd || atEnd) box.scrollTop = box.scrollHeight;
}

async function sendReply(ev) {
  ev.preventDefault();
  const input = $("reply-input");
  const body = input.value.trim();
  const id = state.openId;
  if (!body || id == null) return;
  $("reply-send").disabled = true;
  try {
    const message = await request("POST", `/api/tickets/${id}/messages`, { body });
    input.value = "";
    if (state.openId === id) {
      addMessage(message);
      renderMessages(true);
    }
  } catch (err) {
    showError(err);
  } finally {
    $("reply-send").disabled = false;
    input.focus();
  }
}

async function resolveTicket() {
  const id = state.openId;
  try {
    const ticket = await request("POST", `/api/tickets/${id}/resolve`);
    if (ticket?.id === id) upsertTicket(ticket);
  } catch (err) {
    showError(err);
  }
}

async function toggleTransfer() {
  const form = $("transfer-form");
  form.hidden = !form.hidden;
  $("transfer-button").setAttribute("aria-expanded", String(!form.hidden));
  if (form.hidden) return;
  try {
    state.queues ??= itemsOf(await request("GET", "/api/queues"));
    const current = state.tickets.get(state.openId)?.queue_id;
    $("transfer-queue").replaceChildren(
      el("option", { value: "", disabled: "", selected: "" }, "Choose a queue"),
      ...state.queues.map((q) => el("option", { value: q.id }, q.id === current ? `${q.name} (current)` : q.name)));
    $("transfer-queue").focus();
  } catch (err) {
    showError(err);
  }
}

async function transferTicket(ev) {
  ev.preventDefault();
  const id = state.openId;
  const select = $("transfer-queue");
  if (!select.value) return;
  const queueName = select.selectedOptions[0].textContent;
  try {
    const ticket = await request("POST", `/api/tickets/${id}/transfer`,
      { queue_id: Number(select.value), reason: $("transfer-reason").value.trim() });
    $("transfer-form").hidden = true;
    $("transfer-button").setAttribute("aria-expanded", "false");
    $("transfer-reason").value = "";
    notify(`Ticket #${id} transferred to ${queueName}.`);
    if (ticket?.id === id) upsertTicket(ticket);
  } catch (err) {
    showError(err);
  }
}

// ---- Start -----------------------------------------------------------------------------------------------------

async function enterApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  setConnection(false);
  connectSocket();
  loadTickets();
  renderMe(await request("GET", "/api/me"));
}

async function login(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("login-submit").disabled = true;
  try {
    const tokens = await request("POST", "/api/auth/login", { tenant: form.get("tenant").trim(),
      email: form.get("email").trim(), password: form.get("password") }, { auth: false });
    hideError();
    startSession(tokens);
    ev.target.reset();
    await enterApp();
  } catch (err) {
    showError(err);
  } finally {
    $("login-submit").disabled = false;
  }
}

$("login-form").addEventListener("submit", login);
$("error-dismiss").addEventListener("click", hideError);
$("logout").addEventListener("click", () => logout());
$("status-select").addEventListener("change", changeStatus);
$("tickets-more").addEventListener("click", () => loadTickets(true));
$("messages-more").addEventListener("click", () => loadMessages(state.openId, true).catch(showError));
$("reply-form").addEventListener("submit", sendReply);
$("reply-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("reply-form").requestSubmit();
  }
});
$("resolve-button").addEventListener("click", resolveTicket);
$("transfer-button").addEventListener("click", toggleTransfer);
$("transfer-cancel").addEventListener("click", toggleTransfer);
$("transfer-form").addEventListener("submit", transferTicket);

// A reload keeps the session (sessionStorage lives as long as the tab).
const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
if (saved?.refresh_token) {
  startSession(saved);
  enterApp().catch((err) => (state.session ? showError(err) : null));
}
