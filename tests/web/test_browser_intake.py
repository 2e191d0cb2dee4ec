"""The online hall and the window in a real browser (headless Chromium, CSRF on): submit →
reference → track; bad input gets clear Chinese messages and saves nothing; window → receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Attachment, Ticket
from tests.web.browser import (  # noqa: F401
    LiveServer,
    browser_fixture,
    live_server_fixture,
    page_fixture,
    release_session,
)

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(2048)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
MB = 1024 * 1024
PASSWORD = "correct horse battery staple"
SCREENSHOTS = Path("/tmp")


@pytest.fixture
def upload_dir(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


def saved(upload_dir: Path) -> tuple[int, int, int]:
    """(tickets, attachment rows, files on disk); leaves no transaction open."""
    tickets = db.session.scalar(select(func.count(Ticket.id))) or 0
    attachments = db.session.scalar(select(func.count(Attachment.id))) or 0
    release_session()
    files = sum(1 for p in upload_dir.rglob("*") if p.is_file()) if upload_dir.exists() else 0
    return tickets, attachments, files


def submit_form(page: Any) -> None:
    with page.expect_navigation():
        page.click("form.intake button[type=submit]")


def no_csp_violations(live_server: LiveServer) -> None:
    assert not [line for line in live_server.console if "Content Security Policy" in line]


def test_portal_submit_shows_the_reference_and_the_track_page_finds_it(
    page, live_server, upload_dir
):
    page.goto("/portal/")
    page.get_by_role("link", name="我要反映").first.click()
    page.select_option("#request_type", "help")
    page.fill("#content", "江海区外海街道金溪路的下水道堵塞，污水漫到路面，请尽快疏通。")
    page.fill("#address", "江海区外海街道金溪路 3 号")
    page.fill("#phone", "13812345678")
    page.fill("#name", "赵六")
    page.check("#confidential")
    page.set_input_files(
        "#attachments", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.screenshot(path=str(SCREENSHOTS / "portal_submit.png"), full_page=True)
    submit_form(page)

    assert page.url.endswith("/portal/submitted")
    assert "您的诉求已受理" in page.inner_text("h1")
    reference = page.inner_text("#reference").strip()
    assert reference.isdigit()
    assert "后续办理" in page.content()
    assert saved(upload_dir) == (1, 1, 1)

    with page.expect_navigation():
        page.get_by_role("link", name="查询办理进度").click()
    assert page.input_value("#reference") == reference
    page.fill("#last4", "5678")
    with page.expect_navigation():
        page.click("form.track button[type=submit]")
    tracked = page.inner_text("#tracked")
    assert reference in tracked
    assert "已受理" in tracked and "求助" in tracked
    assert "赵六" not in page.content()

    page.goto(f"/portal/track?reference={reference}")  # again, with wrong digits
    page.fill("#last4", "0000")
    with page.expect_navigation():
        page.click("form.track button[type=submit]")
    assert "未找到与该工单编号和手机号码后四位相符的工单" in page.inner_text("#error-summary")
    no_csp_violations(live_server)


def test_portal_bad_input_gets_chinese_messages_and_nothing_is_saved(page, live_server, upload_dir):
    page.goto("/portal/submit")
    page.fill("#phone", "13812345678")
    submit_form(page)  # no content
    assert "请填写诉求内容" in page.inner_text("#error-summary")
    assert "请填写诉求内容" in page.inner_text("#content-errors")

    page.fill("#content", "新会区会城街道某小区电梯经常停运。")
    big = b"\xff\xd8\xff" + bytes(20 * MB)
    page.set_input_files(
        "#attachments", files=[{"name": "大照片.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    submit_form(page)  # a 20 MB attachment
    assert "附件“大照片.jpg”超过了 10 MB 的大小限制" in page.inner_text("#error-summary")
    assert "请重新选择附件" in page.inner_text("#error-summary")
    assert page.input_value("#content") == "新会区会城街道某小区电梯经常停运。"  # kept

    page.fill("#phone", "1381234")
    submit_form(page)  # an invalid phone
    assert "电话号码无效" in page.inner_text("#phone-errors")

    page.fill("#phone", "110")
    submit_form(page)
    assert "紧急情况请直接拨打" in page.inner_text("#phone-errors")

    assert saved(upload_dir) == (0, 0, 0)
    no_csp_violations(live_server)

    page.fill("#phone", "13812345678")
    submit_form(page)  # corrected: accepted (CSRF token and idempotency token still good)
    assert page.url.endswith("/portal/submitted")
    assert saved(upload_dir) == (1, 0, 0)


def test_window_form_prints_a_receipt(page, live_server, upload_dir, catalogue):
    add_user("clerk", "agent", display_name="窗口小王", password=PASSWORD)
    release_session()
    page.goto("/window/")
    assert "/login" in page.url  # signed out: sent to sign in first
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/window/")

    page.select_option("#request_type", "complaint")
    page.select_option("#urgency", "general")
    page.select_option("#category", "0101")
    page.fill("#content", "市民到窗口反映：某超市出售过期面包，要求处理。")
    page.fill("#address", "蓬江区建设路 20 号")
    page.check("input[name=caller_type][value=person]")
    page.fill("#name", "钱七")
    page.fill("#phone", "13912345678")
    page.set_input_files(
        "#attachments",
        files=[{"name": "购物小票.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    submit_form(page)

    assert "/window/receipt/" in page.url
    reference = page.inner_text("#reference").strip()
    receipt = page.inner_text("#receipt")
    assert "江门市 12345 政务服务便民热线" in receipt
    assert "窗口受理回执" in receipt
    assert "自派单之日起计算" in receipt
    assert "自受理次日起算" in receipt
    assert "窗口小王" in page.inner_text("#clerk")
    assert page.is_visible("#print-receipt")
    page.screenshot(path=str(SCREENSHOTS / "window_receipt.png"), full_page=True)

    page.emulate_media(media="print")
    assert not page.is_visible("header.top")
    assert not page.is_visible("#print-receipt")
    assert page.is_visible("#reference")
    page.screenshot(path=str(SCREENSHOTS / "window_receipt_print.png"), full_page=True)
    page.emulate_media(media="screen")

    page.reload()  # a reprint from the receipt URL
    assert page.inner_text("#reference").strip() == reference
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket is not None and ticket.channel == "window"
    assert ticket.accepted_by is not None and ticket.accepted_by.username == "clerk"
    release_session()
    assert saved(upload_dir) == (1, 1, 1)
    no_csp_violations(live_server)
