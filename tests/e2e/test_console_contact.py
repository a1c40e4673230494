"""The contact panel and the inbox filters in a real browser against the real stack, in pt-BR and English.

Carla (a supervisor) has two customers: Maria on WhatsApp and Joana on the sandbox channel, moved to the Sales
queue. The inbox's queue, channel and agent filters narrow the list to the one ticket each should keep. In Maria's
contact panel Carla adds and edits a custom attribute (the API has it), merges Joana into Maria (both tickets are
listed together), exports Maria's data (the downloaded JSON holds her profile and tickets) and erases her (the
confirmation names her; afterwards the name is gone). Ana's composer takes a dropped file, an emoji from the picker
and an @mention of Bruno in a note. axe-clean, screenshots at 1280 and 360 px, no horizontal scroll.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e import test_console
from tests.e2e.test_console import DESKTOP, PHONE, WAIT_MS, Tab, as_staff, check_axe, deliver, fits_width, log_in

pytestmark = pytest.mark.e2e
# The console test's fixtures, bound here so pytest finds them for this module.
browser, tabs, workday_stack = test_console.browser, test_console.tabs, test_console.workday_stack

MARIA, JOANA = "5511987654321", "5511955554444"


def _ticket_of(base: str, staff: dict[str, str], phone: str) -> dict[str, object]:
    found = requests.get(f"{base}/api/tickets", params={"q": phone, "limit": 5}, headers=staff, timeout=5).json()
    [ticket] = found["items"]
    return dict(ticket)


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_the_contact_panel_and_the_inbox_filters(workday_stack: str, tabs: Callable[..., Tab], locale: str,
                                                 tmp_path: Path) -> None:
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    pt = lang == "pt-BR"
    staff = as_staff(base)
    deliver(base, "Oi, meu pedido não chegou", sender=MARIA, name="Maria Silva")
    sim = requests.post(f"{base}/api/admin/sandbox/simulate", headers=staff, timeout=10,
                        json={"kind": "text", "from": JOANA, "name": "Joana Souza", "text": "Quero mudar de plano"})
    assert sim.ok, sim.text
    queues = {q["name"]: q["id"] for q in requests.get(f"{base}/api/queues", headers=staff, timeout=5).json()}

    sup_tab = tabs(locale, DESKTOP, bypass_csp=True)
    sup = sup_tab.page
    log_in(sup, base, "carla@acme.example", "pw-carla", go_online=False)
    sup.get_by_test_id("tab-all").click()
    listed = sup.locator('[data-testid^="ticket-item-"]')
    expect(listed).to_have_count(2, timeout=WAIT_MS)
    maria = _ticket_of(base, staff, MARIA)
    joana = _ticket_of(base, staff, JOANA)
    moved = requests.post(f"{base}/api/tickets/{joana['id']}/transfer", headers=staff, timeout=5,
                          json={"queue_id": queues["Sales"], "reason": "plan change"})
    assert moved.ok, moved.text
    taken = requests.post(f"{base}/api/tickets/{maria['id']}/accept", headers=staff, timeout=5)
    assert taken.ok, taken.text

    # The filters: each keeps the one ticket it should (the transfer and the accept arrive live).
    sup.get_by_test_id("queue-filter").select_option(label="Sales")
    expect(listed).to_have_count(1, timeout=WAIT_MS)
    expect(listed.first).to_contain_text("Joana Souza")
    sup.get_by_test_id("filters-clear").click()
    sup.get_by_test_id("channel-filter").select_option(label="Sandbox")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("Joana Souza")
    sup.get_by_test_id("channel-filter").select_option("")
    sup.get_by_test_id("agent-filter").select_option(label="Carla")
    expect(listed).to_have_count(1, timeout=WAIT_MS)
    expect(listed.first).to_contain_text("Maria Silva")
    check_axe(sup, f"inbox filters {lang}")
    sup_tab.shot(f"{lang}-1280-inbox-filters")
    sup.set_viewport_size(PHONE)
    assert fits_width(sup), "the inbox filters are wider than 360 px"
    sup_tab.shot(f"{lang}-360-inbox-filters")
    sup.set_viewport_size(DESKTOP)
    sup.get_by_test_id("filters-clear").click()
    expect(listed).to_have_count(2)

    # Custom attributes: added, then edited; the API has the edited value.
    listed.filter(has_text="Maria Silva").click()
    sup.get_by_test_id("contact-button").click()
    panel = sup.get_by_test_id("contact-panel")
    expect(panel.get_by_test_id("contact-name")).to_have_text("Maria Silva", timeout=WAIT_MS)
    sup.get_by_test_id("attr-new-key").fill("Plano")  # not a key the API takes: said, not sent
    sup.get_by_test_id("attr-new-value").fill("ouro")
    sup.get_by_test_id("attr-add").click()
    expect(panel.get_by_role("alert")).to_contain_text("cliente_desde" if pt else "customer_since")
    sup.get_by_test_id("attr-new-key").fill("plano")
    sup.get_by_test_id("attr-add").click()
    expect(sup.get_by_test_id("attr-plano").get_by_test_id("attr-value")).to_have_text("ouro", timeout=WAIT_MS)
    sup.get_by_test_id("attr-plano").get_by_test_id("attr-edit").click()
    edit = sup.get_by_test_id("attr-edit-input")
    expect(edit).to_be_focused()
    edit.fill("prata")
    edit.press("Enter")
    expect(sup.get_by_test_id("attr-plano").get_by_test_id("attr-value")).to_have_text("prata", timeout=WAIT_MS)
    profile = requests.get(f"{base}/api/contacts/{maria['contact_id']}", headers=staff, timeout=5).json()
    assert profile["attributes"] == {"plano": "prata"}

    # Merge: Joana, found by her number, into Maria; both tickets are then Maria's.
    sup.get_by_test_id("merge-button").click()
    expect(sup.get_by_test_id("merge-search")).to_be_focused()
    sup.get_by_test_id("merge-search").fill(JOANA[-8:])
    candidate = sup.get_by_test_id(f"merge-candidate-{joana['contact_id']}")
    expect(candidate).to_be_visible(timeout=WAIT_MS)
    candidate.locator("input").check()
    expect(sup.get_by_test_id("merge-confirm-text")).to_contain_text("Joana Souza")
    expect(sup.get_by_test_id("merge-confirm-text")).to_contain_text("Maria Silva")
    check_axe(sup, f"contact merge {lang}")
    sup_tab.shot(f"{lang}-1280-contact-merge")
    sup.set_viewport_size(PHONE)
    assert fits_width(sup), "the merge form is wider than 360 px"
    sup_tab.shot(f"{lang}-360-contact-merge")
    sup.set_viewport_size(DESKTOP)
    sup.get_by_test_id("merge-confirm").click()
    expect(sup.get_by_test_id("contact-tickets").locator("li")).to_have_count(2, timeout=WAIT_MS)
    expect(sup.get_by_test_id("contact-tickets")).to_contain_text(f"#{joana['id']}")
    theirs = requests.get(f"{base}/api/contacts/{maria['contact_id']}/tickets", headers=staff, timeout=5).json()
    assert {t["id"] for t in theirs["items"]} == {maria["id"], joana["id"]}

    # Export: a background job whose JSON the browser downloads.
    with sup.expect_download(timeout=WAIT_MS) as download:
        sup.get_by_test_id("export-button").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    doc = json.loads(saved.read_text())
    assert doc["contact"]["name"] == "Maria Silva"
    assert doc["contact"]["attributes"] == {"plano": "prata"}
    assert {t["id"] for t in doc["tickets"]} == {maria["id"], joana["id"]}
    assert doc["merged_contact_ids"] == [joana["contact_id"]]
    expect(sup.get_by_test_id("contact-job-status")).to_have_text("Exportação baixada." if pt else "Export downloaded.")

    # Erase: the confirmation names her; afterwards the name is gone, in the panel and for the API.
    sup.get_by_test_id("erase-button").click()
    dialog = sup.get_by_test_id("erase-dialog")
    expect(dialog).to_contain_text("Apagar Maria Silva?" if pt else "Erase Maria Silva?")
    expect(sup.get_by_test_id("erase-cancel")).to_be_focused()
    check_axe(sup, f"contact erase {lang}")
    sup_tab.shot(f"{lang}-1280-contact-erase")
    sup.set_viewport_size(PHONE)
    assert fits_width(sup), "the erase confirmation is wider than 360 px"
    sup_tab.shot(f"{lang}-360-contact-erase")
    sup.set_viewport_size(DESKTOP)
    sup.get_by_test_id("erase-confirm").click()
    expect(panel.get_by_test_id("contact-name")).to_have_text("\N{EN DASH}", timeout=WAIT_MS)  # no name any more
    profile = requests.get(f"{base}/api/contacts/{maria['contact_id']}", headers=staff, timeout=5).json()
    assert profile["name"] is None and profile["erased_at"]
    assert sup_tab.errors == [], sup_tab.errors


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_the_composer_takes_a_dropped_file_an_emoji_and_a_mention(workday_stack: str, tabs: Callable[..., Tab],
                                                                  locale: str) -> None:
    """Ana (an agent) answers a sandbox customer: a file dropped on the composer goes with the reply, the emoji
    picker (keyboard only) inserts at the caret, and "@Br" in a private note offers Bruno and saves "@Bruno"."""
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    staff = as_staff(base)
    sim = requests.post(f"{base}/api/admin/sandbox/simulate", headers=staff, timeout=10,
                        json={"kind": "text", "from": JOANA, "name": "Joana Souza", "text": "Mande o comprovante"})
    assert sim.ok, sim.text

    tab = tabs(locale, PHONE if lang == "pt-BR" else DESKTOP, bypass_csp=True)
    page = tab.page
    log_in(page, base, go_online=False)
    page.get_by_test_id("tab-unassigned").click()
    page.locator('[data-testid^="ticket-item-"]').filter(has_text="Joana Souza").click(timeout=WAIT_MS)
    page.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    ticket = _ticket_of(base, staff, JOANA)
    messages = page.locator('[data-testid="message-list"] > li')
    expect(messages.filter(has_text="Mande o comprovante")).to_have_count(1, timeout=WAIT_MS)
    # What the API allows supervisors only is not offered to an agent: the agent filter, merge, export, erase.
    expect(page.get_by_test_id("queue-filter")).to_have_count(1)  # (the list is hidden at 360 px while reading)
    expect(page.get_by_test_id("agent-filter")).to_have_count(0)
    page.get_by_test_id("contact-button").click()
    expect(page.get_by_test_id("contact-attributes")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("contact-actions")).to_have_count(0)
    page.get_by_test_id("contact-button").click()

    # A file dropped on the composer is attached, then sent with the text.
    files = page.evaluate_handle("""() => { const dt = new DataTransfer();
        dt.items.add(new File(['comprovante de pagamento'], 'comprovante.txt', {type: 'text/plain'})); return dt; }""")
    form = page.get_by_test_id("reply-form")
    form.dispatch_event("dragover", {"dataTransfer": files})
    form.dispatch_event("drop", {"dataTransfer": files})
    expect(page.get_by_test_id("attached-0")).to_contain_text("comprovante.txt")

    # The emoji picker, by keyboard: open, move right, insert; focus is back in the box after the emoji.
    box = page.get_by_test_id("reply-input")
    box.fill("Segue ")
    page.get_by_test_id("emoji-button").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("emoji-0")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("emoji-1")).to_be_focused()
    check_axe(page, f"composer emoji {lang}")
    tab.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-composer-emoji-file")
    assert fits_width(page), "the composer with the emoji picker is wider than the screen"
    page.keyboard.press("Enter")
    expect(box).to_have_value("Segue 😊")
    expect(box).to_be_focused()
    box.press("Enter")
    sent = messages.filter(has_text="Segue 😊")
    expect(sent).to_have_count(1, timeout=WAIT_MS)
    expect(sent.get_by_test_id("attachments")).to_contain_text("comprovante.txt", timeout=WAIT_MS)
    expect(page.get_by_test_id("attached-files")).to_have_count(0)
    page_of = requests.get(f"{base}/api/tickets/{ticket['id']}/messages", headers=staff, timeout=5).json()
    [reply] = [m for m in page_of["items"] if m["direction"] == "out"]
    assert reply["body"] == "Segue 😊"
    assert [a["filename"] for a in reply["attachments"]] == ["comprovante.txt"]

    # A private note mentioning Bruno, picked from the list the "@" opens.
    page.get_by_test_id("mode-note").click()
    box.fill("Falar com @Br")
    expect(page.get_by_test_id("mention-Bruno")).to_be_visible(timeout=WAIT_MS)
    check_axe(page, f"composer mention {lang}")
    tab.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-composer-mention")
    box.press("Enter")
    expect(box).to_have_value("Falar com @Bruno ")
    box.press_sequentially("amanhã")
    box.press("Enter")
    expect(messages.filter(has_text="Falar com @Bruno amanhã")).to_have_count(1, timeout=WAIT_MS)
    page_of = requests.get(f"{base}/api/tickets/{ticket['id']}/messages", headers=staff, timeout=5).json()
    assert [m["body"] for m in page_of["items"] if m["direction"] == "note"] == ["Falar com @Bruno amanhã"]
    other = {"width": 1280, "height": 800} if lang == "pt-BR" else PHONE
    page.set_viewport_size(other)
    assert fits_width(page), "the composer is wider than the screen"
    tab.shot(f"{lang}-{'1280' if lang == 'pt-BR' else '360'}-composer-note")
    assert tab.errors == [], tab.errors
