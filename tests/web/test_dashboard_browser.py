"""The dashboard in headless Chromium: its charts are drawn with the period's numbers,
and a number drills down to the tickets behind it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hotline.auth import add_user
from tests.web.browser import LiveServer, release_session
from tests.web.test_dashboard import dispatched
from tests.web.test_inbox_browser import PASSWORD, sign_in

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


def test_the_charts_have_the_numbers_and_a_number_opens_its_tickets(
    app: Flask, staff: Any, live_server: LiveServer, page: Any
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    pjq = [dispatched(staff, "PJQ", "路灯坏了"), dispatched(staff, "PJQ", "井盖丢了")]
    scjgj = dispatched(staff, "SCJGJ", "超市卖过期食品")
    add_user("wang", "supervisor", password=PASSWORD, display_name="王督")
    release_session()
    sign_in(page, "wang", lands_on="/tickets")
    page.goto("/supervisor")
    expect(page.locator("#trend-chart")).to_be_visible()
    accepted = page.evaluate(
        "window.hotlineCharts.trend.data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert accepted == 3
    assert page.evaluate("window.hotlineCharts.channels.data.datasets[0].data[0]") == 3
    # The chart is drawn: its canvas has pixels that are not blank.
    drawn = page.evaluate(
        "(() => { const c = document.getElementById('trend-chart');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false; })()"
    )
    assert drawn is True
    page.click("tr[data-key='PJQ'] a.drill-down")
    page.wait_for_url("**/tickets?*department=PJQ*")
    for reference in pjq:
        expect(page.locator("main")).to_contain_text(reference)
    expect(page.locator("main")).not_to_contain_text(scjgj)
    assert problems == []
