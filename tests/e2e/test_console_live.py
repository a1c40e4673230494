"""Two agents and a supervisor in three browser contexts see each other's actions live (issue 18), against the real
stack (gunicorn API, Celery worker, PostgreSQL, Redis), in pt-BR and English.

Ana and Bruno are away (nothing is assigned by itself), Carla supervises. A WhatsApp customer writes: the waiting
ticket shows for all three without a reload. Ana accepts it: it leaves Bruno's list and turns "assigned" on
Carla's. Ana writes a note mentioning Bruno: Bruno gets the toast and a real browser notification (the
permission granted to his context; `window.Notification` wrapped by an init script that still calls the real
constructor), opens Ana's ticket from the toast and sees the note highlighted. Carla transfers the ticket to
Bruno: it leaves Ana's screen and lands in Bruno's "Mine". Bruno resolves it: Carla's list shows it resolved.
axe-clean on the toast, screenshots at 1280 and 360 px, no horizontal scroll, no page error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_console
from tests.e2e.test_console import DESKTOP, PHONE, WAIT_MS, Tab, check_axe, deliver, fits_width, log_in

pytestmark = pytest.mark.e2e
browser, tabs = test_console.browser, test_console.tabs

# Records each notification the console shows, then shows it for real: the page must still get a Notification.
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notifications = [];
  function Recorded(title, options) {
    window.__notifications.push({ title: String(title), body: String((options && options.body) || "") });
    return new Real(title, options);
  }
  Recorded.prototype = Real.prototype;
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""

WORDS = {
    "pt-BR": {"mentioned": "Ana mencionou você no atendimento #{id}", "open": "Abrir o atendimento #{id}",
              "flag": "Menciona você", "reassigned": "não está mais com você"},
    "en": {"mentioned": "Ana mentioned you on #{id}", "open": "Open ticket #{id}", "flag": "Mentions you",
           "reassigned": "is no longer assigned to you"},
}


def _away(page: Page) -> None:
    page.get_by_test_id("status-select").select_option("away")
    expect(page.get_by_test_id("status-select")).to_have_attribute("data-status", "away", timeout=WAIT_MS)


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_two_agents_and_a_supervisor_see_each_other_live(real_stack: str, tabs: Callable[..., Tab],
                                                         tenants: dict[str, Any], locale: str) -> None:
    base = real_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    words = WORDS[lang]
    bruno_id = tenants["users"]["bruno"].id

    ana_tab, bruno_tab, carla_tab = (tabs(locale, DESKTOP, bypass_csp=True) for _ in range(3))
    ana, bruno, carla = ana_tab.page, bruno_tab.page, carla_tab.page
    bruno_tab.context.grant_permissions(["notifications"], origin=base)
    bruno.add_init_script(RECORD_NOTIFICATIONS)
    for page, email, password in ((ana, "ana@acme.example", "pw-ana"), (bruno, "bruno@acme.example", "pw-bruno"),
                                  (carla, "carla@acme.example", "pw-carla")):
        log_in(page, base, email, password, go_online=False)
        _away(page)
        page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    assert bruno.evaluate("Notification.permission") == "granted"
    for page in (ana, bruno):
        page.get_by_test_id("tab-unassigned").click()
    carla.get_by_test_id("tab-all").click()

    # A customer writes: the waiting ticket shows for both agents of the queue and for the supervisor.
    deliver(base, "Meu pedido veio errado", name="Joana Prado")
    items = {name: page.locator('[data-testid^="ticket-item-"]').filter(has_text="Joana Prado")
             for name, page in (("ana", ana), ("bruno", bruno), ("carla", carla))}
    for item in items.values():
        expect(item).to_have_attribute("data-status", "queued", timeout=WAIT_MS)
    ticket_id = int((items["ana"].get_attribute("data-testid") or "").removeprefix("ticket-item-"))

    # Ana accepts: Bruno sees it taken (it leaves his list), Carla sees it assigned.
    items["ana"].click()
    ana.get_by_test_id("accept-button").click()
    expect(ana.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    expect(items["bruno"]).to_have_count(0, timeout=WAIT_MS)
    expect(items["carla"]).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)

    # Ana's note mentions Bruno, picked from the list: he is told wherever he is, with a real notification.
    ana.get_by_test_id("mode-note").click()
    composer = ana.get_by_test_id("reply-input")
    composer.press_sequentially("@Bru")
    ana.get_by_test_id("mention-Bruno").click()
    composer.press_sequentially("pode conferir o endereço?")
    expect(composer).to_have_value("@Bruno pode conferir o endereço?")
    ana.get_by_test_id("reply-send").click()
    expect(ana.locator('[data-testid="message-list"] > li').filter(has_text="pode conferir")).to_have_class(
        "msg note", timeout=WAIT_MS)  # not highlighted for its author

    toast = bruno.get_by_test_id("mention-toast")
    title = words["mentioned"].format(id=ticket_id)
    expect(toast).to_contain_text(title, timeout=WAIT_MS)
    expect(toast.get_by_test_id("mention-excerpt")).to_have_text("@Bruno pode conferir o endereço?")
    shown = bruno.evaluate("window.__notifications")
    assert [n for n in shown if n["title"] == title] == [
        {"title": title, "body": "@Bruno pode conferir o endereço?"}], shown
    expect(ana.get_by_test_id("mention-toast")).to_have_count(0)
    expect(carla.get_by_test_id("mention-toast")).to_have_count(0)
    check_axe(bruno, f"mention toast {lang} 1280")
    bruno_tab.shot(f"{lang}-1280-mention-toast")
    bruno.set_viewport_size(PHONE)
    expect(toast).to_be_visible()
    check_axe(bruno, f"mention toast {lang} 360")
    assert fits_width(bruno), "the mention toast is wider than 360 px"
    bruno_tab.shot(f"{lang}-360-mention-toast")

    # From the toast to Ana's ticket (not Bruno's to answer): the note that mentions him is highlighted.
    toast.get_by_role("link", name=words["open"].format(id=ticket_id)).click()
    expect(toast).to_have_count(0)
    note = bruno.locator('[data-testid="message-list"] > li[data-mentions-me="true"]')
    expect(note).to_contain_text("pode conferir o endereço?", timeout=WAIT_MS)
    expect(note.get_by_test_id("mentions-me")).to_have_text(words["flag"])
    expect(bruno.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned")
    expect(bruno.get_by_test_id("ticket-view")).to_contain_text("Ana")  # whose it is, by name
    for action in ("resolve-button", "transfer-button", "reopen-button"):  # hers to move, not his
        expect(bruno.get_by_test_id(action)).to_have_count(0)
    bruno_tab.shot(f"{lang}-360-mention-note")
    bruno.set_viewport_size(DESKTOP)
    bruno_tab.shot(f"{lang}-1280-mention-note")
    check_axe(bruno, f"highlighted note {lang} 1280")

    # Carla transfers the ticket to Bruno: it leaves Ana's screen and lands in Bruno's "Mine".
    items["carla"].click()
    carla.get_by_test_id("transfer-button").click()
    carla.get_by_test_id("transfer-kind-agent").check()
    carla.get_by_test_id("transfer-target").select_option(str(bruno_id))
    carla.get_by_test_id("transfer-confirm").click()
    expect(ana.get_by_test_id("notice")).to_contain_text(words["reassigned"], timeout=WAIT_MS)
    expect(ana.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_count(0)
    expect(ana.get_by_test_id("no-ticket")).to_be_visible()
    bruno.get_by_test_id("tab-mine").click()
    expect(bruno.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_attribute("data-status", "assigned",
                                                                                timeout=WAIT_MS)
    expect(bruno.get_by_test_id("count-mine")).to_have_text("1")

    # Bruno resolves it: Carla's list follows.
    bruno.get_by_test_id("resolve-button").click()
    expect(bruno.get_by_test_id("ticket-status")).to_have_attribute("data-status", "resolved", timeout=WAIT_MS)
    expect(carla.get_by_test_id("ticket-status")).to_have_attribute("data-status", "resolved", timeout=WAIT_MS)
    expect(carla.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_count(0)  # gone from "All" (open tickets)
    carla.get_by_test_id("tab-resolved").click()
    expect(carla.get_by_test_id(f"ticket-item-{ticket_id}")).to_have_attribute("data-status", "resolved")
    carla_tab.shot(f"{lang}-1280-live-resolved")

    for tab in (ana_tab, bruno_tab, carla_tab):
        assert tab.page.evaluate("window.__sameDocument === true"), "a screen changed by reloading"
        assert tab.errors == [], tab.errors
