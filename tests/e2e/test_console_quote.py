"""Quoted replies in the Thread, in a real browser against the real stack, in pt-BR and English (issue 18).

Maria asks on WhatsApp; Ana accepts and answers. Maria replies quoting Ana's answer (a delivery whose `context.id`
is the wamid the Graph API gave Ana's send): Ana sees the quote above Maria's words, and its button takes her to
the quoted answer. Ana then uses "Reply" on Maria's first message (from the keyboard): the composer says what it
replies to (a quote can be cancelled), and the Graph API receives the reply with `context.message_id` = Maria's
wamid; the thread shows Ana's reply with its quote. axe-clean and no horizontal scroll at 1280 and 360 px;
screenshots of both widths in both languages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e import test_console
from tests.e2e.test_console import DESKTOP, PHONE, WAIT_MS, Tab, check_axe, fits_width, log_in
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, message_delivery, sign

pytestmark = pytest.mark.e2e
# The console test's fixtures, bound here so pytest finds them for this module.
browser, tabs, workday_stack = test_console.browser, test_console.tabs, test_console.workday_stack

MARIA = "5511987654322"


def _writes(base: str, body: str, context: dict[str, str] | None = None) -> str:
    """Maria's signed WhatsApp text (quoting `context` when given); returns its wamid."""
    wamid = f"wamid.{uuid.uuid4().hex}"
    message: dict[str, Any] = {"id": wamid, "type": "text", "text": {"body": body}}
    if context:
        message["context"] = context
    raw = encode(message_delivery(message, sender=MARIA, name="Maria Quote"))
    resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
    assert resp.json() == {"stored": 1, "duplicates": 0}
    return wamid


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_quotes_both_ways(workday_stack: str, graph: GraphServer, tabs: Callable[..., Tab], locale: str) -> None:
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    pt = lang == "pt-BR"
    question = _writes(base, "Oi, qual o prazo de entrega?")

    tab = tabs(locale, DESKTOP, bypass_csp=True)  # axe is injected as a script
    page = tab.page
    log_in(page, base, go_online=False)
    page.get_by_test_id("tab-unassigned").click()
    page.locator('[data-testid^="ticket-item-"]').filter(has_text="Maria Quote").click(timeout=WAIT_MS)
    page.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    thread = page.get_by_test_id("message-list")

    # Ana answers; the Graph API accepts it as `ours`.
    ours = f"wamid.ours{uuid.uuid4().hex}"
    graph.responder = lambda record: (200, {"messaging_product": "whatsapp", "contacts": [{"input": MARIA,
                                                                                          "wa_id": MARIA}],
                                            "messages": [{"id": ours}]}, {})
    try:
        before = len(graph.requests)
        page.get_by_test_id("reply-input").fill("Chega em 3 dias úteis.")
        page.get_by_test_id("reply-send").click()
        answer = thread.locator("li.msg.out").filter(has_text="Chega em 3 dias úteis.")
        expect(answer).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
        graph.wait_for(before + 1)
    finally:
        graph.responder = None
    assert "context" not in graph.requests[before]["body"]  # a plain reply quotes nothing

    # Maria quotes Ana's answer: the thread shows what she quotes, and the quote leads to it.
    _writes(base, "Pode ser amanhã?", context={"from": PHONE_NUMBER_ID, "id": ours})
    follow_up = thread.locator("li.msg").filter(has_text="Pode ser amanhã?")
    quote = follow_up.get_by_test_id("quote")
    expect(quote).to_contain_text("Chega em 3 dias úteis.", timeout=WAIT_MS)
    expect(quote).to_contain_text("Você" if pt else "You")
    quote.click()
    expect(answer).to_be_focused()

    # Ana quotes Maria's question, from the keyboard; a quote can be cancelled first.
    asked = thread.locator("li.msg.in").filter(has_text="Oi, qual o prazo de entrega?")
    reply_action = asked.get_by_role("button", name=("Responder citando esta mensagem: " if pt
                                                     else "Reply quoting this message: ") + "Oi, qual o prazo")
    reply_action.focus()
    page.keyboard.press("Enter")
    replying = page.get_by_test_id("replying-to")
    expect(replying).to_contain_text("Respondendo a:" if pt else "Replying to:")
    expect(replying).to_contain_text("Oi, qual o prazo de entrega?")
    expect(page.get_by_test_id("reply-input")).to_be_focused()
    page.get_by_role("button", name="Cancelar a citação" if pt else "Cancel the quote").click()
    expect(replying).to_have_count(0)
    reply_action.click()
    expect(replying).to_be_visible()
    page.get_by_test_id("mode-note").click()  # a note quotes nothing
    expect(replying).to_have_count(0)
    page.get_by_test_id("mode-reply").click()
    page.get_by_test_id("reply-input").fill("Amanhã à tarde, sim.")

    check_axe(page, f"thread quotes {lang}")
    tab.shot(f"{lang}-1280-thread-quote")
    page.set_viewport_size(PHONE)
    assert fits_width(page), "the thread with quotes is wider than 360 px"
    check_axe(page, f"thread quotes 360 {lang}")
    tab.shot(f"{lang}-360-thread-quote")
    page.set_viewport_size(DESKTOP)

    before = len(graph.requests)
    page.get_by_test_id("reply-input").press("Enter")
    [sent] = graph.wait_for(before + 1)[before:]
    assert sent["body"]["context"] == {"message_id": question}
    assert sent["body"]["text"] == {"body": "Amanhã à tarde, sim."}
    mine = thread.locator("li.msg.out").filter(has_text="Amanhã à tarde, sim.")
    expect(mine.get_by_test_id("quote")).to_contain_text("Oi, qual o prazo de entrega?", timeout=WAIT_MS)
    expect(mine.get_by_test_id("quote")).to_contain_text("Cliente" if pt else "Customer")
    expect(replying).to_have_count(0)  # the quote went with that reply
    tab.shot(f"{lang}-1280-thread-quote-sent")
    assert tab.errors == [], tab.errors
