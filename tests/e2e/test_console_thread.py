"""The thread's cards, the composer's quick-reply buttons and the priority control in a real browser against the
real stack, in pt-BR and English (issue 18).

Maria writes on WhatsApp, then shares a location and a contact card (signed Graph deliveries): Ana, who accepted
the ticket, sees a location card (name, address, coordinates, an OpenStreetMap link opening in a new tab) and a
contact card (tel: and mailto: links). Ana replies with two buttons (an empty third is refused first, in her
language): the thread shows them as chips and the Graph API receives an interactive message with both. Ana makes
the ticket urgent: Carla, a supervisor watching the same ticket in another browser, sees it without a reload.
axe-clean and no horizontal scroll at 1280 and 360 px; screenshots of both widths in both languages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e import test_console
from tests.e2e.test_console import DESKTOP, PHONE, WAIT_MS, Tab, as_staff, check_axe, deliver, fits_width, log_in
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, message_delivery, sign

pytestmark = pytest.mark.e2e
# The console test's fixtures, bound here so pytest finds them for this module.
browser, tabs, workday_stack = test_console.browser, test_console.tabs, test_console.workday_stack

MARIA = "5511987654321"


def _shares(base: str, message: dict[str, Any]) -> None:
    """Maria's WhatsApp shares one message of any type, signed as Meta posts it."""
    raw = encode(message_delivery({"id": f"wamid.{uuid.uuid4().hex}", **message}, sender=MARIA))
    resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
    assert resp.json() == {"stored": 1, "duplicates": 0}


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_cards_buttons_and_a_live_priority(workday_stack: str, graph: GraphServer, tabs: Callable[..., Tab],
                                           locale: str) -> None:
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    pt = lang == "pt-BR"
    deliver(base, "Oi, onde fica a loja?", sender=MARIA, name="Maria Silva")
    _shares(base, {"type": "location", "location": {"latitude": -23.5614, "longitude": -46.6559,
                                                    "name": "Loja Paulista", "address": "Av. Paulista, 1000"}})
    _shares(base, {"type": "contacts", "contacts": [{
        "name": {"formatted_name": "João Souza", "first_name": "João"},
        "phones": [{"phone": "+55 11 91234-5678", "wa_id": "5511912345678", "type": "CELL"}],
        "emails": [{"email": "joao@example.com", "type": "WORK"}]}]})

    tab = tabs(locale, DESKTOP, bypass_csp=True)
    page = tab.page
    log_in(page, base, go_online=False)
    page.get_by_test_id("tab-unassigned").click()
    page.locator('[data-testid^="ticket-item-"]').filter(has_text="Maria Silva").click(timeout=WAIT_MS)
    page.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)

    # The location card: what the place is, where, and a map link that opens elsewhere and loads no tiles here.
    place = page.get_by_test_id("location-card")
    expect(place).to_contain_text("Loja Paulista", timeout=WAIT_MS)
    expect(place.get_by_test_id("location-address")).to_have_text("Av. Paulista, 1000")
    expect(place.get_by_test_id("location-coordinates")).to_have_text("23.56140° S, 46.65590° W")
    link = place.get_by_test_id("location-map")
    expect(link).to_have_attribute("href", "https://www.openstreetmap.org/?mlat=-23.5614&mlon=-46.6559"
                                           "#map=17/-23.5614/-46.6559")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_text(("Abrir mapa" if pt else "Open map") + " ↗")
    # The contact card: the shared person, callable and mailable.
    card = page.get_by_test_id("contact-card-0")
    expect(card).to_contain_text("João Souza")
    expect(card.get_by_role("link", name="5511912345678")).to_have_attribute("href", "tel:5511912345678")
    expect(card.get_by_role("link", name="joao@example.com")).to_have_attribute("href", "mailto:joao@example.com")

    # Carla watches the same ticket from another browser.
    sup_tab = tabs(locale, DESKTOP)
    sup = sup_tab.page
    log_in(sup, base, "carla@acme.example", "pw-carla", go_online=False)
    sup.get_by_test_id("tab-all").click()
    sup.locator('[data-testid^="ticket-item-"]').filter(has_text="Maria Silva").click(timeout=WAIT_MS)
    expect(sup.get_by_test_id("location-card")).to_be_visible(timeout=WAIT_MS)
    expect(sup.get_by_test_id("ticket-priority")).to_have_text(
        "Prioridade: Normal" if pt else "Priority: Normal")

    # Quick-reply buttons: an empty one is refused in Ana's language before anything is sent.
    page.get_by_test_id("reply-input").fill("Quer que eu reserve?")
    page.get_by_test_id("buttons-toggle").click()
    expect(page.get_by_test_id("quick-reply-0")).to_be_focused()
    page.keyboard.type("Sim, reserve")
    page.get_by_test_id("quick-reply-add").click()
    page.keyboard.type("Não, obrigada")
    page.get_by_test_id("quick-reply-add").click()
    expect(page.get_by_test_id("quick-reply-add")).to_have_count(0)  # three is the most
    before = len(graph.requests)
    page.get_by_test_id("reply-send").click()
    expect(page.get_by_test_id("quick-reply-problem")).to_have_text(
        "Dê um título a cada botão, ou remova-o." if pt else "Give every button a title, or remove it.")
    check_axe(page, f"thread cards and buttons {lang}")
    tab.shot(f"{lang}-1280-thread-cards-buttons")
    page.set_viewport_size(PHONE)
    assert fits_width(page), "the thread with its cards and the buttons is wider than 360 px"
    check_axe(page, f"thread cards and buttons 360 {lang}")
    tab.shot(f"{lang}-360-thread-cards-buttons")
    page.set_viewport_size(DESKTOP)
    assert len(graph.requests) == before
    page.get_by_test_id("quick-reply-remove-2").click()
    page.get_by_test_id("reply-send").click()

    sent = page.locator('[data-testid="message-list"] > li').filter(has_text="Quer que eu reserve?")
    expect(sent.get_by_test_id("offered-buttons").locator("li")).to_have_text(["Sim, reserve", "Não, obrigada"],
                                                                              timeout=WAIT_MS)
    expect(page.get_by_test_id("quick-replies")).to_have_count(0)
    [out] = graph.wait_for(before + 1)[before:]
    assert out["body"]["type"] == "interactive" and out["body"]["interactive"]["type"] == "button"
    assert [b["reply"]["title"] for b in out["body"]["interactive"]["action"]["buttons"]] == [
        "Sim, reserve", "Não, obrigada"]
    assert out["body"]["interactive"]["body"] == {"text": "Quer que eu reserve?"}
    # Carla's thread shows the same chips, live.
    expect(sup.get_by_test_id("offered-buttons")).to_contain_text("Sim, reserve", timeout=WAIT_MS)

    # Priority: Ana makes it urgent; Carla sees it without a reload, and the API has it.
    page.get_by_test_id("priority-select").select_option("2")
    expect(sup.get_by_test_id("ticket-priority")).to_have_text(
        "Prioridade: Urgente" if pt else "Priority: Urgent", timeout=WAIT_MS)
    expect(page.get_by_test_id("priority-select")).to_have_value("2")
    staff = as_staff(base)
    [ticket] = requests.get(f"{base}/api/tickets", params={"q": MARIA}, headers=staff, timeout=5).json()["items"]
    assert ticket["priority"] == 2
    sup_tab.shot(f"{lang}-1280-thread-priority-live")
    sup.set_viewport_size(PHONE)
    assert fits_width(sup), "the supervisor's thread is wider than 360 px"
    sup_tab.shot(f"{lang}-360-thread-priority-live")
    assert tab.errors == [] and sup_tab.errors == [], tab.errors + sup_tab.errors


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_the_simulator_shares_a_location_and_a_contact_card(workday_stack: str, tabs: Callable[..., Tab],
                                                            locale: str) -> None:
    """Carla plays a sandbox customer from Supervisor → Simulate: a location she types, then a sample contact card
    (fields left empty); both arrive through the sandbox webhook path and show as cards in the thread."""
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    tab = tabs(locale, PHONE if lang == "pt-BR" else DESKTOP, bypass_csp=True)
    sup = tab.page
    log_in(sup, base, "carla@acme.example", "pw-carla", go_online=False)
    sup.get_by_test_id("screen-supervisor").click()
    expect(sup.get_by_test_id("simulate")).to_be_visible(timeout=WAIT_MS)
    sup.get_by_test_id("simulate-from").fill("5511944443333")
    sup.get_by_test_id("simulate-name").fill("Joana Souza")
    sup.get_by_test_id("simulate-kind").select_option("location")
    sup.get_by_test_id("simulate-latitude").fill("-22.9519")
    sup.get_by_test_id("simulate-longitude").fill("-43.2105")
    sup.get_by_test_id("simulate-place").fill("Cristo Redentor")
    check_axe(sup, f"simulate a location {lang}")
    assert fits_width(sup), "the simulator is wider than the screen"
    tab.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-simulate-location")
    sup.get_by_test_id("simulate-send").click()
    expect(sup.get_by_test_id("notice")).to_be_visible(timeout=WAIT_MS)
    sup.get_by_test_id("simulate-kind").select_option("contacts")
    sup.get_by_test_id("simulate-send").click()

    sup.get_by_test_id("screen-inbox").click()
    sup.get_by_test_id("tab-all").click()
    sup.locator('[data-testid^="ticket-item-"]').filter(has_text="Joana Souza").click(timeout=WAIT_MS)
    place = sup.get_by_test_id("location-card")
    expect(place).to_contain_text("Cristo Redentor", timeout=WAIT_MS)
    expect(place.get_by_test_id("location-map")).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=-22.9519&mlon=-43.2105#map=17/-22.9519/-43.2105")
    card = sup.get_by_test_id("contact-card-0")
    expect(card).to_contain_text("João Souza", timeout=WAIT_MS)  # the sample card
    expect(card.get_by_role("link", name="joao@example.com")).to_have_attribute("href", "mailto:joao@example.com")
    expect(sup.get_by_test_id("buttons-toggle")).to_be_visible()  # a sandbox reply may carry buttons
    check_axe(sup, f"sandbox thread cards {lang}")
    assert fits_width(sup), "the thread is wider than the screen"
    tab.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-thread-sandbox-cards")
    assert tab.errors == [], tab.errors
