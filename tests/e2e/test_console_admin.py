"""The tenant's administration in the console (issue 18), in a real browser against the real stack.

An admin, in pt-BR and in English, creates or edits something in every section through the UI (users, queues and
their members, a channel whose credentials the provider checks, business hours, an SLA policy, a canned response,
a label, an API key) and the API shows it stored. Every section is axe-clean and fits 360 px; the screenshots
(1280 and 360 px, each section) stay in $CONSOLE_SCREENSHOTS (default var/screenshots/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_console import (
    DESKTOP,
    PHONE,
    SHOTS,
    WAIT_MS,
    Tab,
    api_token,
    browser,
    check_axe,
    fits_width,
    log_in,
    tabs,
)
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID

pytestmark = pytest.mark.e2e
__all__ = ["browser", "tabs"]  # fixtures, imported so pytest finds them here

ADMIN = ("alice@acme.example", "pw-alice-admin")
SECTIONS = ("users", "queues", "channels", "hours", "sla", "canned", "labels", "keys")
COPY = {  # what a user reads, in each language
    "pt-BR": {"refused": "o provedor recusou", "accepted": "o provedor aceitou", "copied": "Copiada",
              "set": "definidas", "overlap": "Sobrepõe outro horário"},
    "en": {"refused": "the provider refused", "accepted": "the provider accepted", "copied": "Copied", "set": "set",
           "overlap": "Overlaps other hours"},
}


@pytest.fixture
def admin_stack(real_stack: str, sessions: Any) -> str:
    """The real stack, and an admin in acme (API keys are admins' only)."""
    from models.services.accounts import provision

    with sessions() as s, s.begin():
        provision(s, {"tenants": [{"slug": "acme", "name": "Acme", "users": [
            {"email": ADMIN[0], "name": "Alice", "role": "admin", "password": ADMIN[1]}]}]})
    return real_stack


def get(base: str, path: str, headers: dict[str, str]) -> Any:
    resp = requests.get(f"{base}{path}", headers=headers, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def open_admin(page: Page, base: str) -> None:
    log_in(page, base, *ADMIN, go_online=False)
    page.get_by_test_id("screen-supervisor").click()
    expect(page.get_by_test_id("admin")).to_be_visible(timeout=WAIT_MS)


def section(page: Page, name: str) -> None:
    page.get_by_test_id(f"admin-tab-{name}").click()
    expect(page.get_by_test_id(f"admin-panel-{name}")).to_be_visible()
    page.get_by_test_id("admin").scroll_into_view_if_needed()


def saves(page: Page, button: Locator) -> None:
    """Click a save button and wait for the API to take the change (a 2xx to a write)."""
    with page.expect_response(lambda r: r.request.method in ("POST", "PUT", "PATCH", "DELETE")
                              and "/api/" in r.url) as answer:
        button.click()
    assert answer.value.ok, f"{answer.value.status} {answer.value.text()[:300]}"


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_an_admin_edits_every_section_and_the_api_has_it(admin_stack: str, graph: GraphServer,
                                                          tabs: Callable[..., Tab], locale: str) -> None:
    base = admin_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    words = COPY[lang]
    auth = {"Authorization": f"Bearer {api_token(base, *ADMIN)}"}
    tab = tabs(locale, DESKTOP, bypass_csp=True)
    page = tab.page
    page.on("dialog", lambda dialog: dialog.accept())  # "delete ...?" / "revoke ...?"
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    open_admin(page, base)
    shots: dict[str, Callable[[], None]] = {}

    # Users: a new supervisor; Bruno's capacity and active flag.
    section(page, "users")
    page.get_by_test_id("admin-new-user-name").fill("Dora")
    page.get_by_test_id("admin-new-user-email").fill("dora@acme.example")
    page.get_by_test_id("admin-new-user-role").select_option("supervisor")
    page.get_by_test_id("admin-new-user-password").fill("pw-dora-123")
    page.get_by_test_id("admin-new-user-capacity").fill("4")
    page.get_by_test_id("admin-new-user-create").click()
    expect(page.get_by_test_id("admin-user-dora@acme.example")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("notice")).to_be_visible()  # "Salvo." / "Saved."
    bruno = page.get_by_test_id("admin-user-bruno@acme.example")
    bruno.get_by_test_id("admin-user-capacity").fill("5")
    bruno.get_by_test_id("admin-user-active").uncheck()
    saves(page, bruno.get_by_test_id("admin-user-save"))
    users = {u["email"]: u for u in get(base, "/api/admin/users", auth)}
    assert (users["dora@acme.example"]["role"], users["dora@acme.example"]["max_tickets"]) == ("supervisor", 4)
    assert (users["bruno@acme.example"]["max_tickets"], users["bruno@acme.example"]["active"]) == (5, False)

    # Queues: a new one, renamed with another strategy, and two members.
    section(page, "queues")
    page.get_by_test_id("admin-new-queue-name").fill("Billing")
    saves(page, page.get_by_test_id("admin-new-queue-create"))
    queue_id = next(q["id"] for q in get(base, "/api/admin/queues", auth) if q["name"] == "Billing")
    row = page.get_by_test_id(f"admin-queue-{queue_id}")
    row.get_by_test_id("admin-queue-name").fill("Cobrança")
    row.get_by_test_id("admin-queue-strategy").select_option("round_robin")
    saves(page, row.get_by_test_id("admin-queue-save"))
    row.get_by_test_id("admin-queue-members").click()
    row.get_by_test_id("admin-member-ana@acme.example").check()
    row.get_by_test_id("admin-member-dora@acme.example").check()
    saves(page, row.get_by_test_id("admin-members-save"))
    queue = next(q for q in get(base, "/api/admin/queues", auth) if q["id"] == queue_id)
    assert (queue["name"], queue["strategy"]) == ("Cobrança", "round_robin")
    members = get(base, f"/api/admin/queues/{queue_id}/members", auth)["user_ids"]
    assert members == sorted([users["ana@acme.example"]["id"], users["dora@acme.example"]["id"]])
    shots["queues"] = lambda: row.get_by_test_id("admin-queue-members").click()  # the member list open

    # Channels: the provider (the sandbox adapter) refuses a short secret, with its reason; then accepts one.
    section(page, "channels")
    page.get_by_test_id("admin-new-channel-kind").select_option("sandbox")
    page.get_by_test_id("admin-new-channel-external").fill("acme-lab")
    page.get_by_test_id("admin-new-channel-name").fill("Lab")
    page.get_by_test_id("admin-new-channel-queue").select_option(label="Cobrança")
    page.get_by_test_id("admin-new-channel-cred-secret").fill("short")
    page.get_by_test_id("admin-new-channel-create").click()
    answer = page.get_by_test_id("admin-new-channel-answer")
    expect(answer).to_contain_text(words["refused"], timeout=WAIT_MS)
    expect(answer).to_contain_text("16+")  # the provider's own reason
    expect(answer).to_have_attribute("role", "alert")
    page.get_by_test_id("admin-new-channel-cred-secret").fill("a-sandbox-secret-long-enough")
    page.get_by_test_id("admin-new-channel-create").click()
    expect(answer).to_contain_text(words["accepted"], timeout=WAIT_MS)
    lab = page.get_by_test_id("admin-channel-acme-lab")
    expect(lab.get_by_test_id("admin-channel-creds")).to_contain_text(words["set"])
    lab.get_by_test_id("admin-channel-name").fill("Lab 2")
    lab.get_by_test_id("admin-channel-cred-secret").fill("tiny")
    lab.get_by_test_id("admin-channel-save").click()
    expect(lab.get_by_test_id("admin-channel-answer")).to_contain_text(words["refused"], timeout=WAIT_MS)
    channel = next(c for c in get(base, "/api/admin/channels", auth) if c["external_id"] == "acme-lab")
    assert (channel["name"], channel["default_queue_id"], channel["has_credentials"]) == ("Lab", queue_id, True)
    assert "credentials" not in channel and "secret" not in str(channel)
    lab.get_by_test_id("admin-channel-cred-secret").fill("another-sandbox-secret-0123")
    lab.get_by_test_id("admin-channel-save").click()
    expect(lab.get_by_test_id("admin-channel-answer")).to_contain_text(words["accepted"], timeout=WAIT_MS)
    channel = next(c for c in get(base, "/api/admin/channels", auth) if c["external_id"] == "acme-lab")
    assert channel["name"] == "Lab 2"

    # The WhatsApp number: the (local) Graph API is asked whether a new access token may use it.
    whatsapp = page.get_by_test_id(f"admin-channel-{PHONE_NUMBER_ID}")
    whatsapp.get_by_test_id("admin-channel-cred-access_token").fill("a-token-meta-never-issued")
    whatsapp.get_by_test_id("admin-channel-save").click()
    expect(whatsapp.get_by_test_id("admin-channel-answer")).to_contain_text("Invalid OAuth access token",
                                                                           timeout=WAIT_MS)
    whatsapp.get_by_test_id("admin-channel-cred-access_token").fill(graph.token)
    whatsapp.get_by_test_id("admin-channel-save").click()
    expect(whatsapp.get_by_test_id("admin-channel-answer")).to_contain_text(words["accepted"], timeout=WAIT_MS)

    def refused() -> None:  # the screenshot shows a refusal
        lab.get_by_test_id("admin-channel-cred-secret").fill("tiny")
        lab.get_by_test_id("admin-channel-save").click()
        expect(lab.get_by_test_id("admin-channel-answer")).to_contain_text(words["refused"], timeout=WAIT_MS)
    shots["channels"] = refused

    # Business hours: São Paulo, Monday 08-17 copied to the weekdays, a Saturday morning, Christmas.
    section(page, "hours")
    expect(page.get_by_test_id("admin-hours-unset")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("admin-hours-tz").fill("America/Sao_Paulo")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):  # 24x7 until now: close every day first
        page.get_by_test_id(f"admin-hours-{day}").locator("button.icon").click()
    page.get_by_test_id("admin-hours-mon-add").click()
    page.get_by_test_id("admin-hours-mon-0-start").fill("08:00")
    page.get_by_test_id("admin-hours-mon-0-end").fill("17:00")
    page.get_by_test_id("admin-hours-copy").click()
    page.get_by_test_id("admin-hours-sat-add").click()
    page.get_by_test_id("admin-hours-sat-add").click()  # a slip: two spans at the same hours
    expect(page.get_by_test_id("admin-hours-sat")).to_contain_text(words["overlap"])
    expect(page.get_by_test_id("admin-hours-save")).to_be_disabled()
    page.get_by_test_id("admin-hours-sat").locator("button.icon").last.click()
    page.get_by_test_id("admin-hours-sat-0-end").fill("13:00")
    page.get_by_test_id("admin-hours-holidays").fill("2026-12-25")
    saves(page, page.get_by_test_id("admin-hours-save"))
    doc = get(base, "/api/admin/business-hours", auth)
    weekday = [["08:00", "17:00"]]
    assert doc == {"tz": "America/Sao_Paulo", "configured": True, "holidays": ["2026-12-25"], "weekly": {
        "mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday, "sat": [["09:00", "13:00"]]}}

    # SLA policies: one for Support, then its first-response target changed.
    section(page, "sla")
    page.get_by_test_id("admin-sla-name").fill("Support standard")
    page.get_by_test_id("admin-sla-queue").select_option(label="Support")
    page.get_by_test_id("admin-sla-first_response").fill("15")
    page.get_by_test_id("admin-sla-resolution").fill("240")
    saves(page, page.get_by_test_id("admin-sla-save"))
    page.get_by_test_id("admin-sla-Support standard").get_by_test_id("admin-sla-edit").click()
    page.get_by_test_id("admin-sla-first_response").fill("20")
    page.get_by_test_id("admin-sla-warning").fill("75")
    saves(page, page.get_by_test_id("admin-sla-save"))
    policy = next(p for p in get(base, "/api/admin/sla-policies", auth) if p["name"] == "Support standard")
    assert (policy["first_response_seconds"], policy["resolution_seconds"], policy["next_response_seconds"]) == (
        1200, 14400, None)
    assert policy["warning_fraction"] == 0.75 and policy["queue_id"] is not None

    # Canned responses: one with a variable taken from the help list, edited; a second one deleted.
    section(page, "canned")
    for code in ("ola", "tchau"):
        page.get_by_test_id("admin-canned-code").fill(code)
        page.get_by_test_id("admin-canned-body").fill("Olá ")
        page.get_by_test_id("admin-canned-variables").evaluate("d => { d.open = true; }")
        page.get_by_test_id("admin-canned-variables").get_by_role("button", name="{{contact.name}}").click()
        page.get_by_test_id("admin-canned-save").click()
        expect(page.get_by_test_id(f"admin-canned-{code}")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("admin-canned-ola").get_by_test_id("admin-canned-edit").click()
    page.get_by_test_id("admin-canned-title").fill("Saudação")
    saves(page, page.get_by_test_id("admin-canned-save"))
    page.get_by_test_id("admin-canned-tchau").get_by_test_id("admin-canned-delete").click()
    expect(page.get_by_test_id("admin-canned-tchau")).to_have_count(0, timeout=WAIT_MS)
    canned = {c["code"]: c for c in get(base, "/api/canned-responses", auth)}
    assert set(canned) == {"ola"}
    assert (canned["ola"]["title"], canned["ola"]["body"], canned["ola"]["scope"]) == (
        "Saudação", "Olá {{contact.name}}", "tenant")

    # Labels: one created, renamed and recoloured; another deleted.
    section(page, "labels")
    for name in ("vip", "spam"):
        page.get_by_test_id("admin-new-label-name").fill(name)
        saves(page, page.get_by_test_id("admin-new-label-create"))
    labels = {lb["name"]: lb for lb in get(base, "/api/labels", auth)}
    expect(page.get_by_test_id(f"admin-label-{labels['spam']['id']}")).to_be_visible(timeout=WAIT_MS)  # reloaded
    vip = page.get_by_test_id(f"admin-label-{labels['vip']['id']}")
    vip.get_by_test_id("admin-label-name").fill("cliente-vip")
    vip.get_by_test_id("admin-label-color").fill("#e11d48")
    saves(page, vip.get_by_test_id("admin-label-save"))
    page.get_by_test_id(f"admin-label-{labels['spam']['id']}").get_by_test_id("admin-label-delete").click()
    expect(page.get_by_test_id(f"admin-label-{labels['spam']['id']}")).to_have_count(0, timeout=WAIT_MS)
    assert [(lb["name"], lb["color"]) for lb in get(base, "/api/labels", auth)] == [("cliente-vip", "#e11d48")]

    # API keys: the key shown once and copied; it works until it is revoked.
    section(page, "keys")
    page.get_by_test_id("admin-new-key-name").fill("CRM sync")
    page.get_by_test_id("admin-new-key-create").click()
    value = page.get_by_test_id("admin-key-value")
    expect(value).to_contain_text("atd_", timeout=WAIT_MS)
    key = value.inner_text()
    page.get_by_test_id("admin-key-copy").click()
    expect(page.get_by_test_id("admin-key-copy")).to_have_text(words["copied"], timeout=WAIT_MS)
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert requests.get(f"{base}/api/tickets", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200
    assert key not in str(get(base, "/api/admin/api-keys", auth))

    def one_more_key() -> None:  # the screenshot shows a key just made, with its copy button
        page.get_by_test_id("admin-new-key-name").fill("BI export")
        page.get_by_test_id("admin-new-key-create").click()
        expect(page.get_by_test_id("admin-key-value")).to_contain_text("atd_", timeout=WAIT_MS)
    shots["keys"] = one_more_key
    page.get_by_test_id("admin-key-CRM sync").get_by_test_id("admin-key-revoke").click()
    expect(page.get_by_test_id("admin-key-CRM sync").get_by_test_id("admin-key-state")).to_have_class(
        "badge s-failed", timeout=WAIT_MS)
    assert requests.get(f"{base}/api/tickets", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 401

    look_at_every_section(tab, lang, "1280", shots)
    assert tab.errors == [], tab.errors

    phone = tabs(locale, PHONE, bypass_csp=True)
    open_admin(phone.page, base)
    look_at_every_section(phone, lang, "360", {})
    assert phone.errors == [], phone.errors


def look_at_every_section(tab: Tab, lang: str, width: str, before: dict[str, Callable[[], None]]) -> None:
    """Each section: axe-clean, no wider than the window, and a screenshot of the whole area for review."""
    page = tab.page
    for name in SECTIONS:
        section(page, name)
        before.get(name, lambda: None)()
        expect(page.get_by_test_id(f"admin-panel-{name}").locator("input, select, textarea").first).to_be_visible(
            timeout=WAIT_MS)
        check_axe(page, f"admin {name} {lang} {width}")
        assert fits_width(page), f"the admin section {name} is wider than {width} px"
        SHOTS.mkdir(parents=True, exist_ok=True)
        # The area scrolls inside the supervisor screen: a window as tall as the area shows all of it.
        viewport = page.viewport_size or DESKTOP
        tall = page.get_by_test_id("admin").evaluate("a => Math.ceil(a.getBoundingClientRect().height)")
        page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], tall + 400)})
        page.get_by_test_id("admin").screenshot(path=str(SHOTS / f"{lang}-{width}-admin-{name}.png"))
        page.set_viewport_size(viewport)
