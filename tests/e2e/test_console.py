"""The agent console in a real browser: headless Chromium (Debian's), driven by Playwright, against the real stack.

A WhatsApp customer writes; the ticket appears in the agent's list without a reload; the agent opens it, answers,
sees the reply reach the (local) Graph API and turn "sent", and resolves the ticket.

The console must be built first (CI does): npm ci --prefix api/console && npm run build --prefix api/console
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, Page, WebSocketRoute, expect, sync_playwright

from api import console, errors
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, sign, text_delivery

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling out, and this machine's closed network refuses it.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000


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
    logs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A fresh page; if the test fails, a screenshot lands in tmp_path and the browser's console is printed."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(WAIT_MS)
    tab.page.on("console", lambda msg: tab.logs.append(f"{msg.type}: {msg.text}"))
    tab.page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    failed_before = request.session.testsfailed  # the call's report is counted before fixtures tear down
    try:
        yield tab
    finally:
        if request.session.testsfailed > failed_before:
            shot = tmp_path / "console-failure.png"
            try:
                tab.page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot: {shot}")
            except Exception as exc:  # a failed screenshot must not hide the failure itself
                print(f"no screenshot: {exc}")
            print("--- browser console\n" + "\n".join(tab.logs + tab.errors))
        context.close()


def deliver(base: str, body: str, sender: str = "5511987654321", name: str = "Maria Silva") -> None:
    """A signed WhatsApp delivery of one text message, as Meta posts it."""
    raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", sender=sender, body=body, name=name))
    resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
    assert resp.json() == {"stored": 1, "duplicates": 0}


def open_console(page: Page, base: str) -> None:
    resp = page.goto(f"{base}/console/")
    assert resp is not None and resp.ok, f"GET /console/: {resp and resp.status} {resp and resp.text()[:300]}"


def log_in_and_go_online(page: Page, base: str) -> None:
    open_console(page, base)
    page.get_by_test_id("login-tenant").fill("acme")
    page.get_by_test_id("login-email").fill("ana@acme.example")
    page.get_by_test_id("login-password").fill("pw-ana")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.get_by_test_id("ticket-list")).to_have_attribute("aria-busy", "false", timeout=WAIT_MS)
    status = page.get_by_test_id("status-select")
    expect(status).to_be_enabled(timeout=WAIT_MS)
    status.select_option("online")
    expect(status).to_have_attribute("data-status", "online", timeout=WAIT_MS)  # confirmed by the server


def test_agent_answers_a_whatsapp_customer_in_the_console(real_stack: str, graph: GraphServer, tab: Tab) -> None:
    base, page = real_stack, tab.page
    open_console(page, base)
    page.get_by_test_id("login-tenant").fill("acme")
    page.get_by_test_id("login-email").fill("ana@acme.example")
    page.get_by_test_id("login-password").fill("not-her-password")
    page.get_by_test_id("login-submit").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_contain_text("wrong tenant, email or password", timeout=WAIT_MS)  # the API's own message

    log_in_and_go_online(page, base)
    tickets = page.locator('[data-testid^="ticket-item-"]')
    expect(tickets).to_have_count(0)

    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    deliver(base, "Meu pedido não chegou")
    expect(tickets).to_have_count(1, timeout=WAIT_MS)  # pushed over Socket.IO
    item = tickets.first
    ticket_id = int((item.get_attribute("data-testid") or "").removeprefix("ticket-item-"))
    expect(item).to_contain_text("Maria Silva")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    item.click()
    messages = page.locator('[data-testid="message-list"] > li')
    incoming = messages.filter(has_text="Meu pedido não chegou")
    expect(incoming).to_have_count(1, timeout=WAIT_MS)
    expect(incoming).to_have_class("msg in")

    before = len(graph.requests)
    page.get_by_test_id("reply-input").fill("Vou verificar!")
    page.get_by_test_id("reply-send").click()
    sent = graph.wait_for(before + 1)[before:]
    assert len(sent) == 1, sent
    assert sent[0]["phone_number_id"] == PHONE_NUMBER_ID
    assert sent[0]["body"]["to"] == "5511987654321" and sent[0]["body"]["text"]["body"] == "Vou verificar!"

    reply = messages.filter(has_text="Vou verificar!")
    expect(reply).to_have_count(1, timeout=WAIT_MS)
    expect(reply).to_have_class("msg out")
    expect(reply).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
    expect(reply.locator(".badge")).to_have_text("sent")
    expect(page.get_by_test_id("reply-input")).to_have_value("")

    page.get_by_test_id("resolve-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("resolved", timeout=WAIT_MS)
    expect(page.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_attribute("data-status", "resolved")
    expect(page.get_by_test_id("reply-send")).to_be_disabled()
    expect(banner).to_be_hidden()

    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert len(graph.requests) - before == 1, "exactly one reply reaches the Graph API"
    assert tab.errors == [], tab.errors


def test_the_console_catches_up_on_events_missed_while_disconnected(real_stack: str, tab: Tab) -> None:
    """Pushes lost on the wire (the Redis queue is plain pub/sub) come back from /api/events after a reconnect."""
    base, page = real_stack, tab.page
    wire: dict[str, Any] = {"drop": False, "sockets": []}
    replays: list[str] = []
    page.on("request", lambda req: replays.append(req.url) if "/api/events?" in req.url else None)

    def relay(ws: WebSocketRoute) -> None:  # the browser's websocket, through a switch we control
        server = ws.connect_to_server()
        wire["sockets"].append(ws)
        ws.on_message(server.send)
        server.on_message(lambda frame: None if wire["drop"] and str(frame).startswith("42") else ws.send(frame))

    page.route_web_socket("**/socket.io/**", relay)
    log_in_and_go_online(page, base)
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
    for url in ("/console/", "/console/app.js"):
        resp = client.get(url)
        assert resp.status_code == 503
        assert resp.json["error"]["code"] == "console_not_built"
        assert console.BUILD_COMMAND in resp.json["error"]["message"]


def test_a_built_console_is_served_with_a_same_origin_policy(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    build = tmp_path / "build"
    (build / "vendor").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>console</title>")
    (build / "app.js").write_text("export {};")
    (build / "vendor" / "socket.io.min.js").write_text("/* io */")
    (tmp_path / "secret.txt").write_text("outside the build")
    client = _console_app(build, monkeypatch).test_client()

    page = client.get("/console/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/console").status_code == 308  # the page's relative URLs need the slash
    script = client.get("/console/app.js")
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/console/vendor/socket.io.min.js").status_code == 200
    missing = client.get("/console/nope.js")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert client.get("/console/../secret.txt").status_code == 404
    assert client.get("/console/%2e%2e/secret.txt").status_code == 404
