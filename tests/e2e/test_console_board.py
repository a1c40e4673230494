"""The supervisor's live board, the reports as charts with CSV, and the agent's unread count in the tab title, in a
real browser against the real stack (sandbox channel, worker, beat), in pt-BR and English.

Ana is away (nothing is assigned to her by itself); Carla simulates a customer: the waiting ticket appears on
Carla's board without a reload, and Ana's tab title counts it unread. Ana accepts it: Carla's board shows her load
go to 1 of 2 and nobody waiting. Carla's reports draw their charts, regroup by queue, and the volume CSV she
downloads has the day's row. axe-clean, screenshots at 1280 and 360 px, no horizontal scroll.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e import test_console
from tests.e2e.test_console import DESKTOP, PHONE, WAIT_MS, Tab, check_axe, fits_width, log_in

pytestmark = pytest.mark.e2e
# The console test's fixtures, bound here so pytest finds them for this module.
browser, tabs, workday_stack = test_console.browser, test_console.tabs, test_console.workday_stack


@pytest.mark.parametrize("locale", ["pt-BR", "en-US"])
def test_the_live_board_the_report_charts_and_the_unread_title(workday_stack: str, tabs: Callable[..., Tab],
                                                               locale: str) -> None:
    base = workday_stack
    lang = "pt-BR" if locale == "pt-BR" else "en"
    title = "Atendimento"

    agent = tabs(locale, PHONE if lang == "pt-BR" else DESKTOP, bypass_csp=True)
    page = agent.page
    log_in(page, base, go_online=False)
    page.get_by_test_id("status-select").select_option("away")  # on the board, yet nothing assigned by itself
    expect(page.get_by_test_id("status-select")).to_have_attribute("data-status", "away", timeout=WAIT_MS)
    expect(page).to_have_title(title)
    page.get_by_test_id("user-menu-button").click()
    expect(page.get_by_test_id("sound-toggle")).to_be_checked()  # on until switched off
    page.get_by_test_id("sound-toggle").uncheck()
    page.get_by_test_id("sound-toggle").check()  # kept in this browser, for Ana only
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('atendimento.sound.'))") == []
    check_axe(page, f"agent menu {lang}")
    agent.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-menu-sound")
    page.get_by_test_id("user-menu-button").click()

    supervisor = tabs(locale, DESKTOP, bypass_csp=True)
    sup = supervisor.page
    log_in(sup, base, "carla@acme.example", "pw-carla", go_online=False)
    sup.get_by_test_id("screen-supervisor").click()
    card = sup.locator('[data-testid^="board-queue-"][data-name="Support"]')
    expect(card.get_by_test_id("board-waiting")).to_have_text("0", timeout=WAIT_MS)
    ana = card.locator('[data-testid^="board-agent-"]').filter(has_text="Ana")
    expect(ana.get_by_test_id("board-load")).to_have_text("0/2", timeout=WAIT_MS)

    sup.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    sup.get_by_test_id("simulate-name").fill("Joana")
    sup.get_by_test_id("simulate-text").fill("Preciso de ajuda com o boleto")
    sup.get_by_test_id("simulate-send").click()
    expect(card.get_by_test_id("board-waiting")).to_have_text("1", timeout=WAIT_MS)  # live, through the socket
    expect(card.get_by_test_id("board-oldest")).to_have_text(re.compile(r"^\d+ (s|min)$"))

    expect(page).to_have_title(f"(1) {title}", timeout=WAIT_MS)  # waiting unassigned, unread
    page.get_by_test_id("tab-unassigned").click()
    item = page.locator('[data-testid^="ticket-item-"]').filter(has_text="Joana")
    expect(item).to_be_visible(timeout=WAIT_MS)
    agent.shot(f"{lang}-{'360' if lang == 'pt-BR' else '1280'}-inbox-unread-title")
    item.click()
    page.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    expect(page).to_have_title(title, timeout=WAIT_MS)  # taken while open: read

    expect(ana.get_by_test_id("board-load")).to_have_text("1/2", timeout=WAIT_MS)
    expect(card.get_by_test_id("board-waiting")).to_have_text("0")
    expect(card.get_by_test_id("board-assigned")).to_have_text("1")
    assert sup.evaluate("window.__sameDocument === true"), "the board changed without a reload"

    # The reports as charts: drawn, described in words, regrouped, and the volume CSV holds the day's row.
    charts = sup.get_by_test_id("report-charts")
    for report in ("volume", "responses", "sla", "csat"):
        expect(charts.get_by_test_id(f"chart-{report}")).to_be_visible(timeout=WAIT_MS)
    canvas = charts.get_by_test_id("chart-volume").locator("canvas")
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100, box
    assert canvas.get_attribute("aria-label"), "the chart has no text alternative"
    sup.get_by_test_id("charts-group").select_option("queue")
    sup.get_by_test_id("charts-run").click()
    volume = charts.get_by_test_id("chart-volume")
    volume.locator("summary").click()
    expect(volume.get_by_test_id("chart-volume-table")).to_contain_text("Support", timeout=WAIT_MS)
    with sup.expect_download() as download:
        sup.get_by_test_id("csv-volume").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["group_name"], int(r["messages_in"]), int(r["tickets_opened"])) for r in rows] == [("Support", 1, 1)]

    check_axe(sup, f"supervisor board and charts {lang} 1280")
    expect(sup.get_by_test_id("notice")).to_be_hidden(timeout=WAIT_MS)  # the passing toasts, gone for the shots
    top = "e => e.scrollIntoView({block: 'start'})"
    sup.get_by_test_id("board").evaluate(top)
    supervisor.shot(f"{lang}-1280-board")
    charts.evaluate(top)
    supervisor.shot(f"{lang}-1280-charts")
    assert fits_width(sup), "the supervisor screen is wider than 1280 px"
    sup.set_viewport_size(PHONE)
    sup.get_by_test_id("board").evaluate(top)
    expect(card.get_by_test_id("board-assigned")).to_have_text("1")
    supervisor.shot(f"{lang}-360-board")
    volume.evaluate(top)
    supervisor.shot(f"{lang}-360-charts")
    assert fits_width(sup), "the board or the charts are wider than 360 px"
    check_axe(sup, f"supervisor board and charts {lang} 360")

    assert fits_width(page), "the agent's screen is too wide"
    assert agent.errors == [] and supervisor.errors == [], agent.errors + supervisor.errors
