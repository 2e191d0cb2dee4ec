"""Collision control in headless Chromium: two people of one unit open the same ticket;
when the first starts filling in a form, the second sees who is editing and cannot type;
when the first leaves, the second can."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hotline.auth import add_user
from hotline.extensions import db
from tests.api_helpers import new_ticket
from tests.web.browser import LiveServer, new_page, release_session
from tests.web.test_inbox_browser import PASSWORD, sign_in

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser


def test_the_second_person_sees_the_lock_and_cannot_type(
    app: Flask, staff: Any, live_server: LiveServer, browser: Any
) -> None:
    reference = new_ticket(staff, content="小区门口路灯坏了")
    assert staff.act("agent", reference, "dispatch", {"department": "PJQ"}).status_code == 200
    add_user("tan", "handler", department_code="PJQ", password=PASSWORD, display_name="谭伟")
    add_user("lin", "handler", department_code="PJQ", password=PASSWORD, display_name="林芳")
    db.session.commit()
    release_session()

    first, second = new_page(browser, live_server), new_page(browser, live_server)
    sign_in(first, "tan")
    sign_in(second, "lin")
    for page in (first, second):
        page.goto(f"/tickets/{reference}")
    expect(first.locator("#ticket-presence")).to_contain_text("林芳")  # who else has it open
    expect(second.locator("#ticket-presence")).to_contain_text("谭伟")

    first.click("#act-send_back input[name=reason]")
    first.keyboard.type("不属于本单位")
    expect(first.locator("#ticket-presence")).to_contain_text("您正在编辑")
    expect(second.locator("#ticket-presence")).to_contain_text("谭伟 正在编辑")
    expect(second.locator("#act-send_back input[name=reason]")).to_be_disabled()
    expect(second.locator("#act-sign button")).to_be_disabled()

    first.goto("/inbox")  # leaving gives the lock back
    expect(second.locator("#act-send_back input[name=reason]")).to_be_enabled(timeout=5_000)
    assert "正在编辑" not in second.inner_text("#ticket-presence")
