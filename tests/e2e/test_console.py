"""The agent console in a real browser: headless Chromium (Debian's), driven by Playwright, against the real stack.

A WhatsApp customer writes; the ticket appears in the agent's inbox without a reload, unread; the agent opens it
(the marker clears on the server too), answers, sees the reply reach the (local) Graph API and turn "sent", and
resolves. Missed pushes come back after a reconnect. A failed send shows the provider's reason, a supervisor sends
it again, and a reply outside WhatsApp's 24-hour window turns into a template form. axe-core finds no serious
violation on any screen, in pt-BR and English, at 1280 and 360 px; the screenshots stay for review in
$CONSOLE_SCREENSHOTS (default var/screenshots/).

The console must be built first (CI does): npm ci --prefix api/console && npm run build --prefix api/console
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect, sync_playwright
from sqlalchemy import create_engine, text

from api import console, errors
from tests.e2e.harness import ROOT
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, sign, text_delivery

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling out, and this machine's closed network refuses it.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000
AXE = ROOT / "api" / "console" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or ROOT / "var" / "screenshots")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package (apt-get install -y chromium)")
    if not (console.BUILD_DIR / "index.html").is_file():
        pytest.fail(f"the console is not built ({console.BUILD_DIR} has no index.html): run the console build: "
                    f"{console.BUILD_COMMAND}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A browser page and what its console printed and threw."""

    page: Page
    context: BrowserContext
    logs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        """A screenshot kept for review (not a failure artefact)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture
def tabs(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Tab]]:
    """Opens pages in their own contexts (language, viewport); on failure each page's screenshot and console."""
    opened: list[Tab] = []

    def open_tab(locale: str = "en-US", viewport: dict[str, int] = DESKTOP, bypass_csp: bool = False) -> Tab:
        # bypass_csp only where axe-core is injected: the console's own policy allows no inline script.
        context = browser.new_context(viewport=viewport, locale=locale, bypass_csp=bypass_csp)
        tab = Tab(context.new_page(), context)
        tab.page.set_default_timeout(WAIT_MS)
        tab.page.on("console", lambda msg: tab.logs.append(f"{msg.type}: {msg.text}"))
        tab.page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        opened.append(tab)
        return tab

    failed_before = request.session.testsfailed  # the call's report is counted before fixtures tear down
    try:
        yield open_tab
    finally:
        for i, tab in enumerate(opened):
            if request.session.testsfailed > failed_before:
                shot = tmp_path / f"console-failure-{i}.png"
                try:
                    tab.page.screenshot(path=str(shot), full_page=True)
                    print(f"screenshot: {shot}")
                except Exception as exc:  # a failed screenshot must not hide the failure itself
                    print(f"no screenshot: {exc}")
                print(f"--- browser console {i}\n" + "\n".join(tab.logs + tab.errors))
            tab.context.close()


def deliver(base: str, body: str, sender: str = "5511987654321", name: str = "Maria Silva") -> None:
    """A signed WhatsApp delivery of one text message, as Meta posts it."""
    raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", sender=sender, body=body, name=name))
    resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
    assert resp.json() == {"stored": 1, "duplicates": 0}


def api_token(base: str, email: str, password: str) -> str:
    resp = requests.post(f"{base}/api/auth/login", json={"tenant": "acme", "email": email, "password": password},
                         timeout=5)
    return str(resp.json()["access_token"])


def open_console(page: Page, base: str) -> None:
    resp = page.goto(f"{base}/console/")
    assert resp is not None and resp.ok, f"GET /console/: {resp and resp.status} {resp and resp.text()[:300]}"


def log_in(page: Page, base: str, email: str = "ana@acme.example", password: str = "pw-ana",
           go_online: bool = True) -> None:
    open_console(page, base)
    page.get_by_test_id("login-tenant").fill("acme")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.get_by_test_id("ticket-list")).to_have_attribute("aria-busy", "false", timeout=WAIT_MS)
    status = page.get_by_test_id("status-select")
    expect(status).to_be_enabled(timeout=WAIT_MS)
    if go_online:
        page.get_by_test_id("go-online").click()  # the prompt an offline agent gets after login
        expect(status).to_have_attribute("data-status", "online", timeout=WAIT_MS)  # confirmed by the server
        expect(page.get_by_test_id("online-prompt")).to_be_hidden()


def check_axe(page: Page, where: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{where}: {bad}"


def fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_agent_answers_a_whatsapp_customer_in_the_console(real_stack: str, graph: GraphServer,
                                                          tabs: Callable[..., Tab]) -> None:
    base = real_stack
    tab = tabs("en-US")
    page = tab.page
    open_console(page, base)
    expect(page.get_by_label("Company code (e.g. acme)")).to_be_visible()
    page.get_by_test_id("login-tenant").fill("acme")
    page.get_by_test_id("login-email").fill("ana@acme.example")
    page.get_by_test_id("login-password").fill("not-her-password")
    page.get_by_test_id("login-submit").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_contain_text("Wrong company code, email or password", timeout=WAIT_MS)
    page.get_by_role("button", name="Dismiss").click()

    log_in(page, base)
    tickets = page.locator('[data-testid^="ticket-item-"]')
    expect(tickets).to_have_count(0)
    expect(page).to_have_title("Atendimento")

    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    deliver(base, "Meu pedido não chegou")
    expect(tickets).to_have_count(1, timeout=WAIT_MS)  # pushed over Socket.IO, into "Mine" once assigned
    item = tickets.first
    ticket_id = int((item.get_attribute("data-testid") or "").removeprefix("ticket-item-"))
    expect(item).to_contain_text("Maria Silva")
    expect(item.get_by_test_id("ticket-preview")).to_have_text("Meu pedido não chegou", timeout=WAIT_MS)
    expect(item).to_have_attribute("data-unread", "true")
    expect(page.get_by_test_id("count-mine")).to_have_text("1")
    expect(page).to_have_title("(1) Atendimento")
    tab.shot("en-1280-inbox")

    item.click()
    messages = page.locator('[data-testid="message-list"] > li')
    incoming = messages.filter(has_text="Meu pedido não chegou")
    expect(incoming).to_have_count(1, timeout=WAIT_MS)
    expect(incoming).to_have_class("msg in")
    expect(page.get_by_test_id("ticket-priority")).to_have_text("Priority: Normal")
    expect(item).to_have_attribute("data-unread", "false", timeout=WAIT_MS)
    expect(page).to_have_title("Atendimento")
    token = api_token(base, "ana@acme.example", "pw-ana")
    ticket = requests.get(f"{base}/api/tickets/{ticket_id}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert ticket.json()["unread"] is False, "opening the ticket marks it read on the server"

    before = len(graph.requests)
    page.get_by_test_id("reply-input").fill("Vou verificar!")
    page.get_by_test_id("reply-input").press("Enter")
    sent = graph.wait_for(before + 1)[before:]
    assert len(sent) == 1, sent
    assert sent[0]["phone_number_id"] == PHONE_NUMBER_ID
    assert sent[0]["body"]["to"] == "5511987654321" and sent[0]["body"]["text"]["body"] == "Vou verificar!"
    reply = messages.filter(has_text="Vou verificar!")
    expect(reply).to_have_count(1, timeout=WAIT_MS)
    expect(reply).to_have_class("msg out")
    expect(reply).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
    expect(reply.get_by_test_id("delivery")).to_have_text("sent")
    expect(page.get_by_test_id("reply-input")).to_have_value("")

    page.get_by_test_id("mode-note").click()
    page.get_by_test_id("reply-input").fill("Cliente VIP, priorizar")
    page.get_by_test_id("reply-send").click()
    note = messages.filter(has_text="Cliente VIP, priorizar")
    expect(note).to_have_class("msg note", timeout=WAIT_MS)
    expect(note).to_contain_text("Internal note")
    tab.shot("en-1280-thread")

    page.get_by_test_id("resolve-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "resolved", timeout=WAIT_MS)
    expect(page.get_by_test_id("reopen-button")).to_be_visible()
    expect(page.get_by_test_id("count-resolved")).to_have_text("1")
    page.get_by_test_id("tab-resolved").click()
    expect(page.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_attribute("data-status", "resolved")
    page.get_by_test_id("mode-reply").click()
    expect(page.get_by_test_id("reply-send")).to_be_disabled()
    expect(banner).to_be_hidden()

    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert len(graph.requests) - before == 1, "exactly one reply reaches the Graph API"

    console_token = page.evaluate("JSON.parse(sessionStorage.getItem('atendimento.session')).access_token")
    page.get_by_test_id("user-menu-button").click()
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    revoked = requests.get(f"{base}/api/me", headers={"Authorization": f"Bearer {console_token}"}, timeout=5)
    assert revoked.status_code == 401, "logging out revokes the console's token on the server"
    assert [line for line in tab.logs if "Content Security Policy" in line] == [], "the bundle obeys the CSP"
    assert tab.errors == [], tab.errors


def test_the_console_catches_up_on_events_missed_while_disconnected(real_stack: str,
                                                                    tabs: Callable[..., Tab]) -> None:
    """Pushes lost on the wire (the Redis queue is plain pub/sub) come back from /api/events after a reconnect."""
    base = real_stack
    tab = tabs("en-US")
    page = tab.page
    wire: dict[str, Any] = {"drop": False, "sockets": []}
    replays: list[str] = []
    page.on("request", lambda req: replays.append(req.url) if "/api/events?" in req.url else None)

    def relay(ws: WebSocketRoute) -> None:  # the browser's websocket, through a switch we control
        server = ws.connect_to_server()
        wire["sockets"].append(ws)
        ws.on_message(server.send)
        server.on_message(lambda frame: None if wire["drop"] and str(frame).startswith("42") else ws.send(frame))

    page.route_web_socket("**/socket.io/**", relay)
    log_in(page, base)
    page.get_by_test_id("tab-all").click()
    tickets = page.locator('[data-testid^="ticket-item-"]')
    messages = page.locator('[data-testid="message-list"] > li')
    deliver(base, "Primeira mensagem")
    expect(tickets).to_have_count(1, timeout=WAIT_MS)
    tickets.first.click()
    expect(messages).to_have_count(1, timeout=WAIT_MS)

    wire["drop"] = True  # Socket.IO event frames ("42[...]") vanish; Engine.IO pings pass: the client notices nothing
    deliver(base, "Alguma novidade?")
    deliver(base, "Oi, sou o João", sender="5521998765432", name="João Souza")
    page.wait_for_timeout(1500)
    expect(tickets).to_have_count(1)
    expect(messages).to_have_count(1)

    wire["drop"] = False
    wire["sockets"][-1].close()  # the connection drops; the client reconnects by itself
    expect(tickets.filter(has_text="João Souza")).to_have_count(1, timeout=WAIT_MS)
    expect(tickets).to_have_count(2)
    expect(messages).to_have_count(2, timeout=WAIT_MS)  # the missed message, once, in the open conversation
    expect(messages.last).to_contain_text("Alguma novidade?")
    assert any("after=" in url and not url.endswith("after=0") for url in replays), replays
    assert len(wire["sockets"]) >= 2

    page.get_by_test_id("ticket-search").fill("João")  # the API's `q`: contact name or phone digits
    expect(tickets).to_have_count(1, timeout=WAIT_MS)
    expect(tickets.first).to_contain_text("João Souza")
    page.get_by_test_id("ticket-search").fill("98765")
    expect(tickets).to_have_count(2, timeout=WAIT_MS)  # both phones hold these digits
    page.get_by_test_id("ticket-search").fill("nobody-here")
    expect(page.get_by_test_id("tickets-empty")).to_contain_text("nobody-here", timeout=WAIT_MS)
    page.get_by_test_id("ticket-search").fill("")
    expect(tickets).to_have_count(2, timeout=WAIT_MS)
    assert tab.errors == [], tab.errors


def test_a_failed_send_shows_its_reason_and_a_closed_window_asks_for_a_template(
        real_stack: str, graph: GraphServer, database_url: str, tabs: Callable[..., Tab]) -> None:
    """In pt-BR at 360 px: the provider's refusal is shown and re-sent by a supervisor; then a template goes out."""
    base = real_stack
    agent = tabs("pt-BR", PHONE)
    page = agent.page
    log_in(page, base)
    expect(page.get_by_test_id("login-tenant")).to_have_count(0)
    expect(page.get_by_test_id("tab-mine")).to_contain_text("Meus")
    deliver(base, "Vocês entregam no sábado?")
    item = page.locator('[data-testid^="ticket-item-"]').first
    expect(item).to_be_visible(timeout=WAIT_MS)
    ticket_id = int((item.get_attribute("data-testid") or "").removeprefix("ticket-item-"))
    agent.shot("pt-BR-360-inbox")
    assert fits_width(page), "the inbox is wider than 360 px"
    item.click()
    expect(page.get_by_test_id("back")).to_be_visible()  # one pane at a time on a phone
    messages = page.locator('[data-testid="message-list"] > li')
    expect(messages).to_have_count(1, timeout=WAIT_MS)

    refusal = {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                         "error_data": {"details": "More than 24 hours have passed"}, "fbtrace_id": "AbC"}}
    graph.responder = lambda record: (400, refusal, {})
    try:
        page.get_by_test_id("reply-input").fill("Sim, das 9h às 13h.")
        page.get_by_test_id("reply-send").click()
        failed = messages.filter(has_text="Sim, das 9h às 13h.")
        expect(failed).to_have_attribute("data-status", "failed", timeout=WAIT_MS)
        expect(failed.get_by_test_id("delivery")).to_have_text("falhou")
        expect(failed.get_by_test_id("failure-reason")).to_contain_text("Não entregue:", timeout=WAIT_MS)
        expect(failed.get_by_test_id("failure-reason")).to_contain_text("131047")
        agent.shot("pt-BR-360-failed-send")
        assert fits_width(page), "the conversation is wider than 360 px"
    finally:
        graph.responder = None

    supervisor = tabs("pt-BR", DESKTOP)
    log_in(supervisor.page, base, "carla@acme.example", "pw-carla", go_online=False)
    supervisor.page.get_by_test_id("screen-supervisor").click()
    dead = supervisor.page.locator('[data-testid="dead-letters"] > li')
    expect(dead).to_have_count(1, timeout=WAIT_MS)
    expect(dead.first).to_contain_text("Sim, das 9h às 13h.")
    supervisor.shot("pt-BR-1280-supervisor")
    before = len(graph.requests)
    dead.first.get_by_role("button", name="Reenviar").click()
    graph.wait_for(before + 1)
    expect(dead).to_have_count(0, timeout=WAIT_MS)
    expect(failed).to_have_attribute("data-status", "sent", timeout=WAIT_MS)  # live on the agent's screen

    # The customer's last message is now 25 hours old: WhatsApp allows only a template.
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET last_customer_message_at = now() - interval '25 hours' WHERE id = :id"),
                     {"id": ticket_id})
    engine.dispose()
    page.get_by_test_id("reply-input").fill("Ainda precisa de ajuda?")
    page.get_by_test_id("reply-send").click()
    form = page.get_by_test_id("template-form")
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    expect(page.get_by_test_id("template-language")).to_have_value("pt_BR")
    page.get_by_test_id("template-name").fill("retomar_conversa")
    page.get_by_test_id("template-var-1").fill("Maria")
    agent.shot("pt-BR-360-template")
    assert fits_width(page), "the template form is wider than 360 px"
    before = len(graph.requests)
    page.get_by_test_id("template-send").click()
    sent = graph.wait_for(before + 1)[before:]
    template = sent[0]["body"]["template"]
    assert template["name"] == "retomar_conversa" and template["language"] == {"code": "pt_BR"}
    assert template["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "Maria"}]}]
    expect(form).to_be_hidden()

    # Back to the Sales queue, with a reason: it leaves Ana's tickets and waits, live, in Carla's inbox.
    supervisor.page.get_by_test_id("screen-inbox").click()
    supervisor.page.get_by_test_id("tab-unassigned").click()
    waiting = supervisor.page.get_by_test_id(f"ticket-item-{ticket_id}")
    expect(waiting).to_have_count(0)
    page.get_by_test_id("transfer-button").click()
    page.get_by_test_id("transfer-target").select_option(label="Sales")
    page.get_by_test_id("transfer-reason").fill("Cliente quer comprar")
    page.get_by_test_id("transfer-confirm").click()
    expect(page.get_by_test_id("notice")).to_contain_text(f"Atendimento #{ticket_id} transferido")
    expect(waiting).to_be_visible(timeout=WAIT_MS)
    expect(waiting).to_have_attribute("data-status", "queued")
    page.get_by_test_id("back").click()
    expect(page.get_by_test_id("count-mine")).to_have_text("0")
    assert agent.errors == [] and supervisor.errors == [], agent.errors + supervisor.errors


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_every_screen_passes_axe_at_desktop_and_phone_width(real_stack: str, tabs: Callable[..., Tab],
                                                            locale: str) -> None:
    base = real_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    deliver(base, "Bom dia, preciso de ajuda com a fatura")
    for name, viewport in (("1280", DESKTOP), ("360", PHONE)):
        tab = tabs(locale, viewport, bypass_csp=True)
        page = tab.page
        open_console(page, base)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        check_axe(page, f"login {lang} {name}")
        tab.shot(f"{lang}-{name}-login")

        log_in(page, base, "carla@acme.example", "pw-carla", go_online=False)
        expect(page.get_by_test_id("online-prompt")).to_be_visible()
        tab.shot(f"{lang}-{name}-online-prompt")
        check_axe(page, f"inbox with the online prompt {lang} {name}")
        page.get_by_test_id("tab-unassigned").focus()
        page.keyboard.press("ArrowRight")  # the tabs follow the arrow keys
        expect(page.get_by_test_id("tab-all")).to_be_focused()
        expect(page.get_by_test_id("tab-all")).to_have_attribute("aria-selected", "true")
        item = page.locator('[data-testid^="ticket-item-"]').first
        expect(item).to_be_visible(timeout=WAIT_MS)
        item.focus()
        page.keyboard.press("Enter")  # opens from the keyboard
        expect(page.locator('[data-testid="message-list"] > li')).to_have_count(1, timeout=WAIT_MS)
        check_axe(page, f"thread {lang} {name}")
        page.get_by_test_id("transfer-button").click()
        expect(page.get_by_test_id("transfer-form")).to_be_visible()
        check_axe(page, f"transfer form {lang} {name}")
        tab.shot(f"{lang}-{name}-thread-transfer")
        assert fits_width(page), f"the thread is wider than {viewport['width']} px"

        page.get_by_test_id("screen-supervisor").click()
        expect(page.get_by_test_id("supervisor")).to_be_visible()
        expect(page.get_by_test_id("sla-report")).to_contain_text("Support", timeout=WAIT_MS)  # the ticket above
        if name == "1280":  # the admin bits, once per stack
            # The Administration area (tests/e2e/test_console_admin.py goes through every section).
            page.get_by_test_id("admin-tab-users").click()
            bruno = page.get_by_test_id("admin-user-bruno@acme.example")
            bruno.get_by_test_id("admin-user-capacity").fill("4")
            bruno.get_by_test_id("admin-user-save").click()
            expect(page.get_by_test_id("notice")).to_be_visible(timeout=WAIT_MS)
            token = api_token(base, "carla@acme.example", "pw-carla")
            users = requests.get(f"{base}/api/admin/users", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert {u["email"]: u["max_tickets"] for u in users.json()}["bruno@acme.example"] == 4
        check_axe(page, f"supervisor {lang} {name}")
        tab.shot(f"{lang}-{name}-supervisor")
        assert tab.errors == [], tab.errors


# The blueprint alone, without a browser or a database.

def _console_app(build_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(console, "BUILD_DIR", build_dir)
    app = Flask(__name__)
    errors.init_app(app)
    app.register_blueprint(console.blp)
    return app


def test_an_unbuilt_console_answers_503_with_the_build_command(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    client = _console_app(tmp_path / "missing", monkeypatch).test_client()
    for url in ("/console/", "/console/assets/index.js"):
        resp = client.get(url)
        assert resp.status_code == 503
        assert resp.json["error"]["code"] == "console_not_built"
        assert console.BUILD_COMMAND in resp.json["error"]["message"]


def test_a_built_console_is_served_with_a_same_origin_policy(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    build = tmp_path / "build"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>console</title>")
    (build / "assets" / "index-abc123.js").write_text("export {};")
    (tmp_path / "secret.txt").write_text("outside the build")
    client = _console_app(build, monkeypatch).test_client()

    page = client.get("/console/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-cache"  # a new build is picked up at once
    assert client.get("/console").status_code == 308  # the page's relative URLs need the slash
    script = client.get("/console/assets/index-abc123.js")
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert "immutable" in script.headers["Cache-Control"]  # the name changes with the content
    missing = client.get("/console/nope.js")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert client.get("/console/../secret.txt").status_code == 404
    assert client.get("/console/%2e%2e/secret.txt").status_code == 404


# The first hour and the workday screens: a sandbox customer simulated from the console, labels, canned replies,
# pending and snooze, reactions, the window warning, the template picker, and the supervisor's admin screens.

SANDBOX_SECRET = "e2e-sandbox-secret-0123456789"


@pytest.fixture
def workday_stack(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
                  sessions: Any, tmp_path: Path) -> Iterator[str]:
    """The real stack with beat (window warnings every 2 s), acme's sandbox channel, and webhooks allowed to
    call loopback (nothing listens on the endpoint the test adds: its deliveries fail, as a log should show)."""
    from models import MessageTemplate
    from models.services.accounts import provision
    from tests.harness.processes import child_env
    from tests.harness.stack import running_stack

    with sessions() as s, s.begin():
        provision(s, {"tenants": [{"slug": "acme", "name": "Acme", "queues": [{"name": "Support"}], "channels": [
            {"kind": "sandbox", "external_id": "acme-sandbox", "name": "Sandbox", "default_queue": "Support",
             "credentials": {"secret": SANDBOX_SECRET}}]}]})
        whatsapp = tenants["channels"]["106540352242922"]
        s.add(MessageTemplate(tenant_id=whatsapp.tenant_id, channel_id=whatsapp.id, name="retomar_conversa",
                              language="pt_BR", category="UTILITY", status="APPROVED",
                              components=[{"type": "BODY", "text": "Olá {{1}}, podemos continuar?"}]))
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url,
                    SECRET_KEY="e2e-secret-of-at-least-thirty-two-chars",
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path), WINDOW_CHECK_INTERVAL="2", WEBHOOKS_ALLOW_PRIVATE="1")
    with running_stack(env, tmp_path, beat=True) as bases:
        yield bases[0]


def as_staff(base: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(base, 'carla@acme.example', 'pw-carla')}"}


def test_a_newcomer_simulates_a_customer_and_the_agent_works_the_ticket(
        workday_stack: str, graph: GraphServer, database_url: str, tabs: Callable[..., Tab]) -> None:
    """Carla (English, desktop) plays the customer from the console; Ana (pt-BR, 360 px) answers with a canned
    reply that reaches "read", labels the ticket, parks it and gets it back when the customer writes again."""
    base = workday_stack
    staff = as_staff(base)
    billing = requests.post(f"{base}/api/labels", json={"name": "billing", "color": "#b3261e"}, headers=staff,
                            timeout=5).json()
    canned = requests.post(f"{base}/api/canned-responses", headers=staff, timeout=5, json={
        "code": "ola", "title": "Greeting", "body": "Olá {{contact.name}}, aqui é {{agent.name}}!", "scope": "tenant"})
    assert canned.status_code == 201, canned.text

    agent = tabs("pt-BR", PHONE)
    page = agent.page
    log_in(page, base)
    supervisor = tabs("en-US", DESKTOP)
    sup = supervisor.page
    log_in(sup, base, "carla@acme.example", "pw-carla", go_online=False)
    sup.get_by_test_id("screen-supervisor").click()
    panel = sup.get_by_test_id("simulate")
    expect(panel).to_be_visible(timeout=WAIT_MS)
    sup.get_by_test_id("simulate-name").fill("Maria")
    sup.get_by_test_id("simulate-text").fill("Oi, quero trocar meu plano")
    supervisor.shot("en-1280-simulate")
    sup.get_by_test_id("simulate-send").click()
    expect(sup.get_by_test_id("notice")).to_contain_text("Delivered to the sandbox webhook", timeout=WAIT_MS)

    item = page.locator('[data-testid^="ticket-item-"]').first
    expect(item).to_contain_text("Maria", timeout=WAIT_MS)  # through the webhook path, triage and assignment
    item.click()
    messages = page.locator('[data-testid="message-list"] > li')
    expect(messages.filter(has_text="Oi, quero trocar meu plano")).to_have_count(1, timeout=WAIT_MS)

    page.get_by_test_id("label-add").select_option(label="billing")
    expect(page.get_by_test_id("label-billing")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("contact-button").click()
    expect(page.get_by_test_id("contact-phones")).to_have_text("5511999990000", timeout=WAIT_MS)
    expect(page.get_by_test_id("contact-tickets").locator("li")).to_have_count(1)
    agent.shot("pt-BR-360-contact")
    page.get_by_test_id("contact-button").click()

    box = page.get_by_test_id("reply-input")
    box.fill("/ol")
    expect(page.get_by_test_id("canned-ola")).to_be_visible(timeout=WAIT_MS)
    agent.shot("pt-BR-360-canned")
    assert fits_width(page), "the composer with canned replies is wider than 360 px"
    box.press("Enter")  # picks the highlighted canned reply, filled on the server
    expect(box).to_have_value("Olá Maria, aqui é Ana!", timeout=WAIT_MS)
    box.press("Enter")
    reply = messages.filter(has_text="Olá Maria, aqui é Ana!")
    expect(reply).to_have_attribute("data-status", "read", timeout=WAIT_MS)  # the sandbox: sent, delivered, read
    expect(reply.get_by_test_id("delivery")).to_have_text("lida")

    sup.get_by_test_id("simulate-kind").select_option("reaction")
    sup.get_by_test_id("simulate-send").click()
    # The reaction annotates the agent's reply (issue 15): a chip on that message, not a message of its own.
    expect(page.get_by_test_id("reactions")).to_have_count(1, timeout=WAIT_MS)
    sup.get_by_test_id("simulate-kind").select_option("image")
    sup.get_by_test_id("simulate-text").fill("foto do contrato")
    sup.get_by_test_id("simulate-send").click()
    expect(messages.filter(has_text="foto do contrato")).to_have_count(1, timeout=WAIT_MS)
    agent.shot("pt-BR-360-thread-labels-reaction")

    page.get_by_test_id("pending-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "pending", timeout=WAIT_MS)
    expect(page.get_by_test_id("resume-button")).to_be_visible()
    page.get_by_test_id("resume-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    page.get_by_test_id("snooze-button").click()
    page.get_by_test_id("snooze-mode-reply").check()
    agent.shot("pt-BR-360-snooze")
    assert fits_width(page), "the snooze form is wider than 360 px"
    page.get_by_test_id("snooze-confirm").click()
    expect(page.get_by_test_id("snoozed-badge")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("back").click()
    page.get_by_test_id("tab-pending").click()
    expect(page.get_by_test_id("count-pending")).to_have_text("1")
    expect(page.locator('[data-testid^="ticket-item-"]')).to_have_count(1)
    sup.get_by_test_id("simulate-kind").select_option("text")
    sup.get_by_test_id("simulate-text").fill("Ainda estou aqui")
    sup.get_by_test_id("simulate-send").click()
    expect(page.get_by_test_id("count-pending")).to_have_text("0", timeout=WAIT_MS)  # the reply woke it
    page.get_by_test_id("tab-mine").click()
    expect(page.locator('[data-testid^="ticket-item-"]').first).to_contain_text("Maria")

    # Carla's inbox, filtered by the label Ana added (live, through ticket.labels_changed or the load).
    sup.get_by_test_id("screen-inbox").click()
    sup.get_by_test_id("tab-all").click()
    sup.get_by_test_id("label-filter").select_option(label="billing")
    listed = sup.locator('[data-testid^="ticket-item-"]')
    expect(listed).to_have_count(1, timeout=WAIT_MS)
    expect(listed.first.get_by_test_id("list-label-billing")).to_be_visible()
    assert billing["id"]
    assert agent.errors == [] and supervisor.errors == [], agent.errors + supervisor.errors


def test_the_window_warning_and_the_template_picker(workday_stack: str, graph: GraphServer, database_url: str,
                                                    tabs: Callable[..., Tab]) -> None:
    """A WhatsApp conversation near the end of its window warns the agent; once closed, the picker lists the
    approved template, asks for its one variable and the server fills it."""
    base = workday_stack
    tab = tabs("en-US", DESKTOP)
    page = tab.page
    log_in(page, base)
    deliver(base, "Preciso de uma segunda via")
    item = page.locator('[data-testid^="ticket-item-"]').first
    expect(item).to_be_visible(timeout=WAIT_MS)
    ticket_id = int((item.get_attribute("data-testid") or "").removeprefix("ticket-item-"))
    item.click()
    engine = create_engine(database_url)
    with engine.begin() as conn:  # 23 h 30 min since the customer wrote: beat warns within its 2 s period
        conn.execute(text("UPDATE tickets SET last_customer_message_at = now() - interval '23 hours 30 minutes' "
                          "WHERE id = :id"), {"id": ticket_id})
    expect(page.get_by_test_id("window-warning")).to_contain_text("The WhatsApp window closes in", timeout=WAIT_MS)
    tab.shot("en-1280-window-warning")
    with engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET last_customer_message_at = now() - interval '25 hours' WHERE id = :id"),
                     {"id": ticket_id})
    engine.dispose()
    page.get_by_test_id("reply-input").fill("Ainda precisa de ajuda?")
    page.get_by_test_id("reply-send").click()
    expect(page.get_by_test_id("template-choice")).to_have_value("retomar_conversa|pt_BR", timeout=WAIT_MS)
    page.get_by_test_id("template-var-1").fill("Maria")
    tab.shot("en-1280-template-picker")
    before = len(graph.requests)
    page.get_by_test_id("template-send").click()
    sent = graph.wait_for(before + 1)[before:]
    template = sent[0]["body"]["template"]
    assert template["name"] == "retomar_conversa" and template["language"] == {"code": "pt_BR"}
    assert template["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "Maria"}]}]
    expect(page.get_by_test_id("template-form")).to_be_hidden()
    assert tab.errors == [], tab.errors


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_the_supervisor_admin_screens(workday_stack: str, tabs: Callable[..., Tab], locale: str) -> None:
    """Simulate, inbox dead letters, auto-resolve, outgoing webhooks (secret once, ping, log, rotate, off) and the
    audit log: axe-clean at 1280 and 360 px."""
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    staff = as_staff(base)
    label = requests.post(f"{base}/api/labels", json={"name": f"vip-{lang}"}, headers=staff, timeout=5).json()
    deliver(base, "Bom dia")
    for name, viewport in (("1280", DESKTOP), ("360", PHONE)):
        tab = tabs(locale, viewport, bypass_csp=True)
        page = tab.page
        log_in(page, base, "carla@acme.example", "pw-carla", go_online=False)
        page.get_by_test_id("screen-supervisor").click()
        expect(page.get_by_test_id("simulate")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("inbox-dead")).to_be_visible()
        expect(page.get_by_test_id("audit-entries")).to_contain_text("label", timeout=WAIT_MS)  # the label above
        if name == "1280":
            support = page.get_by_test_id("auto-resolve-Support")
            support.get_by_test_id("auto-resolve-on").check()
            support.get_by_test_id("auto-resolve-hours").fill("8")
            support.get_by_test_id("auto-resolve-save").click()
            expect(page.get_by_test_id("notice")).to_be_visible(timeout=WAIT_MS)

            page.get_by_test_id("webhook-url").fill(f"http://127.0.0.1:9/hook-{lang}")
            page.get_by_test_id("webhook-create").click()
            secret = page.get_by_test_id("webhook-secret-value")
            expect(secret).not_to_be_empty(timeout=WAIT_MS)
            first = secret.inner_text()
            hook = page.locator('[data-testid^="webhook-"]').filter(has_text=f"hook-{lang}").first
            hook.get_by_test_id("webhook-ping").click()
            expect(hook.get_by_test_id("webhook-deliveries")).to_contain_text("ping", timeout=WAIT_MS)
            hook.get_by_test_id("webhook-rotate").click()
            expect(secret).not_to_have_text(first, timeout=WAIT_MS)
            hook.get_by_test_id("webhook-toggle").click()
            expect(hook.locator(".badge")).to_have_class("badge s-failed", timeout=WAIT_MS)
            settings = requests.get(f"{base}/api/admin/queues", headers=staff, timeout=5).json()
            support_id = next(q["id"] for q in settings if q["name"] == "Support")
            saved = requests.get(f"{base}/api/admin/queues/{support_id}/auto-resolve", headers=staff, timeout=5)
            assert saved.json()["idle_hours"] == 8
        check_axe(page, f"supervisor admin {lang} {name}")
        page.get_by_test_id("simulate").screenshot(path=str(SHOTS / f"{lang}-{name}-simulate-panel.png"))
        tab.shot(f"{lang}-{name}-supervisor-admin")
        page.get_by_test_id("webhooks").scroll_into_view_if_needed()
        tab.shot(f"{lang}-{name}-webhooks")
        page.get_by_test_id("audit").scroll_into_view_if_needed()
        tab.shot(f"{lang}-{name}-audit")
        assert fits_width(page), f"the supervisor screen is wider than {viewport['width']} px"

        page.get_by_test_id("screen-inbox").click()
        page.get_by_test_id("tab-all").click()
        page.locator('[data-testid^="ticket-item-"]').first.click()
        page.get_by_test_id("label-add").select_option(label=label["name"])
        expect(page.get_by_test_id(f"label-{label['name']}")).to_be_visible(timeout=WAIT_MS)
        page.get_by_test_id("contact-button").click()
        expect(page.get_by_test_id("contact-tickets").locator("li")).to_have_count(1, timeout=WAIT_MS)
        check_axe(page, f"thread with labels and the contact {lang} {name}")
        tab.shot(f"{lang}-{name}-thread-labels")
        page.get_by_test_id(f"label-remove-{label['name']}").click()
        expect(page.get_by_test_id(f"label-{label['name']}")).to_have_count(0, timeout=WAIT_MS)
        assert fits_width(page), f"the thread is wider than {viewport['width']} px"
        assert tab.errors == [], tab.errors
