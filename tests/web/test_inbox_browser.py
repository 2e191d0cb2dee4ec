"""The department inbox in headless Chromium against a real server: a ticket dispatched
to the unit appears without a reload; another unit's never does."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hotline.auth import add_user
from hotline.outbox import relay_pending
from tests.api_helpers import new_ticket
from tests.web.browser import LiveServer, release_session

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def sign_in(page: Any, username: str, lands_on: str = "/inbox") -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"**{lands_on}")


def dispatched(staff: Any, department: str, content: str) -> str:
    reference = new_ticket(staff, content=content)
    assert staff.act("agent", reference, "dispatch", {"department": department}).status_code == 200
    release_session()
    return reference


def test_a_ticket_dispatched_to_the_unit_appears_without_reload(
    app: Flask, staff: Any, live_server: LiveServer, page: Any
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    add_user("h-pjq", "handler", department_code="PJQ", password=PASSWORD)
    release_session()

    sign_in(page, "h-pjq")
    expect(page.locator("#inbox-live")).to_have_text("实时：新派工单无需刷新即会出现。")
    expect(page.locator("#inbox-rows")).to_contain_text("本单位暂无待办工单")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # a reload would drop it

    mine = dispatched(staff, "PJQ", "小区门口路灯坏了")
    theirs = dispatched(staff, "SCJGJ", "超市卖过期食品")
    relay_pending()
    release_session()
    expect(page.locator(f"tr[data-reference='{mine}']")).to_be_visible(timeout=2_000)
    assert page.locator(f"tr[data-reference='{theirs}']").count() == 0
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    assert problems == []
    # Nor by its address: the other unit's ticket page is refused.
    refused = page.goto(f"/tickets/{theirs}")
    assert refused is not None and refused.status == 403
    assert "超市卖过期食品" not in page.content()
