"""The walk-in window: who may use it, the one form (一表填报) with attachments, refusals that
store nothing, and the printable receipt (reprint is access-checked)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import Attachment, Ticket
from hotline.models.base import simulated_now
from tests.web.test_portal import JPEG, NOTHING, PDF, files_in, multipart, no_inline_code, stored

SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(autouse=True)
def _tuesday_morning() -> Iterator[None]:
    with simulated_now(datetime(2025, 6, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


@pytest.fixture
def upload_dir(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


@pytest.fixture
def clerks(staff: Any) -> dict[str, str]:
    """Web users (with passwords) of every role, next to the API users of `staff`."""
    users = {
        "agent": ("w_agent", None),
        "dispatcher": ("w_dispatcher", None),
        "admin": ("w_admin", None),
        "handler": ("w_handler", "PJQ"),
        "supervisor": ("w_supervisor", None),
        "editor": ("w_editor", None),
    }
    for role, (name, unit) in users.items():
        add_user(
            name,
            role,
            display_name=f"窗口{role}",
            department_code=unit,
            password=PASSWORD,
        )
    return {role: name for role, (name, _unit) in users.items()}


def login(client: Any, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text


def window_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_type": "complaint",
        "urgency": "general",
        "category": "0101",
        "content": "市民到窗口反映：蓬江区某餐馆后厨卫生差，出售过期食品。",
        "address": "蓬江区建设路 20 号",
        "phone": "0750-3501234",
        "name": "王五",
        "caller_type": "company",
        "wants_reply": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def take(client: Any, files: list[tuple[bytes, str]] | None = None, **overrides: Any) -> Any:
    return multipart(client, "/window/", window_data(**overrides), files)


# --- who may use the window ------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/window/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/window/receipt/440700202506100001").status_code == 302


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("agent", True),
        ("dispatcher", True),
        ("admin", True),
        ("handler", False),
        ("supervisor", False),
        ("editor", False),
    ],
)
def test_only_office_roles_take_requests(client, clerks, role, allowed):
    login(client, clerks[role])
    page = client.get("/window/", headers=HTML)
    assert page.status_code == (200 if allowed else 403)
    posted = take(client)
    assert posted.status_code == (302 if allowed else 403)
    if not allowed:
        assert stored()["tickets"] == 0


def test_the_form_has_every_field_and_the_catalogues_categories(client, clerks):
    login(client, clerks["agent"])
    text = client.get("/window/").text
    for label in ("诉求类型", "紧急程度", "诉求分类", "诉求内容", "地址", "联系电话", "姓名"):
        assert label in text, label
    for option in ("个人", "企业或单位", "保密", "附件", "暂不分类"):
        assert option in text, option
    assert '<optgroup label="市场监管">' in text
    assert '<option value="0101">食品安全</option>' in text
    no_inline_code(text)


# --- taking a request ------------------------------------------------------------------


def test_a_window_request_becomes_a_window_ticket_with_its_receipt(client, clerks, upload_dir):
    login(client, clerks["agent"])
    response = take(client, files=[(JPEG, "现场照片.jpg"), (PDF, "营业执照.pdf")])
    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert response.headers["Location"] == f"/window/receipt/{reference}"

    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket.channel == "window"
    assert ticket.type == "complaint" and ticket.urgency == "general"
    assert ticket.category is not None and ticket.category.code == "0101"
    assert ticket.accepted_by is not None and ticket.accepted_by.username == clerks["agent"]
    assert ticket.contact is not None
    assert ticket.contact.phone == "+867503501234"
    assert ticket.contact.caller_type == "company"
    assert ticket.caller_area_code == "0750"
    rows = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
    assert sorted(r.filename for r in rows) == ["现场照片.jpg", "营业执照.pdf"]
    assert {r.uploaded_by_id for r in rows} == {ticket.accepted_by_id}
    assert files_in(upload_dir) == sorted(upload_dir / r.storage_key for r in rows)


def test_the_receipt_is_printable_and_says_when_the_clocks_start(client, clerks, upload_dir):
    login(client, clerks["agent"])
    reference = take(client).headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/window/receipt/{reference}")
    assert page.status_code == 200
    text = page.text
    assert reference in text
    assert "江门市 12345 政务服务便民热线" in text
    assert "窗口受理回执" in text
    assert "2025-06-10 10:00" in text  # received, Asia/Shanghai
    assert "投诉" in text and "食品安全" in text
    assert "1 个工作日内签收（自派单之日起计算）" in text  # not dispatched yet
    assert "2025-07-01 23:59" in text  # handling: 15 working days from the day after receipt
    assert "自受理次日起算" in text
    assert "窗口agent" in text  # the clerk
    assert "王五" in text and "750****1234" in text and "3501234" not in text
    assert "/portal/track?reference=" + reference in text
    assert 'id="print-receipt"' in text and "js/receipt.js" in text
    assert "css/portal.css" in text
    no_inline_code(text)


def test_print_css_hides_the_screen_chrome():
    css = (Path(__file__).resolve().parents[2] / "web/static/css/portal.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert (
        ".top" in print_rules and ".screen-only" in print_rules and "display: none" in print_rules
    )


def test_after_dispatch_the_receipt_shows_the_real_sign_deadline(client, clerks, staff, upload_dir):
    login(client, clerks["agent"])
    reference = take(client, urgency="utilities").headers["Location"].rsplit("/", 1)[-1]
    text = client.get(f"/window/receipt/{reference}").text
    assert "30 分钟内签收（自派单之日起计算）" in text
    assert "2025-06-11 10:00" in text  # utilities: 24 hours to handle

    response = staff.act("dispatcher", reference, "dispatch", {"department": "SCJGJ"})
    assert response.status_code == 200, response.json
    text = client.get(f"/window/receipt/{reference}").text
    assert "自派单之日起计算" not in text
    assert "2025-06-10 10:30" in text  # signed for 30 minutes after dispatch


def test_staff_can_reprint_but_the_receipt_is_access_checked(client, clerks, staff, upload_dir):
    login(client, clerks["agent"])
    reference = take(client).headers["Location"].rsplit("/", 1)[-1]
    client.post("/logout")

    login(client, clerks["dispatcher"])
    assert client.get(f"/window/receipt/{reference}").status_code == 200
    client.post("/logout")

    login(client, clerks["handler"])
    refused = client.get(f"/window/receipt/{reference}", headers=HTML)
    assert refused.status_code == 403
    assert reference not in refused.text
    client.post("/logout")

    login(client, clerks["admin"])
    assert client.get("/window/receipt/440700209901010001", headers=HTML).status_code == 404
    phone_ticket = staff.post(
        "agent", "/tickets", {"channel": "phone", "type": "consult", "content": "社保怎么转移？"}
    ).json["reference"]
    assert client.get(f"/window/receipt/{phone_ticket}", headers=HTML).status_code == 404


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "files", "message"),
    [
        pytest.param({"content": ""}, None, "请填写诉求内容", id="no-content"),
        pytest.param({"phone": "0750-12"}, None, "电话号码无效", id="invalid-phone"),
        pytest.param({"category": "01"}, None, "不是有效的选择", id="first-level-category"),
        pytest.param({"category": "9999"}, None, "不是有效的选择", id="unknown-category"),
        pytest.param({"urgency": "panic"}, None, "不是有效的选择", id="unknown-urgency"),
        pytest.param({"caller_type": "alien"}, None, "不是有效的选择", id="unknown-caller-type"),
        pytest.param({}, [(b"MZ\x90\x00", "scan.pdf")], "类型不被接受", id="exe-as-pdf"),
        pytest.param({}, [(JPEG, f"{i}.jpg") for i in range(6)], "最多只能上传 5 个", id="6-files"),
    ],
)
def test_bad_window_input_is_refused_and_nothing_is_stored(
    client, clerks, upload_dir, overrides, files, message
):
    login(client, clerks["agent"])
    before = stored()
    response = take(client, files=files, **overrides)
    assert response.status_code == 400
    assert message in response.text
    assert stored() == before == NOTHING
    assert files_in(upload_dir) == []


def test_a_request_without_category_waits_for_the_dispatcher(client, clerks, upload_dir):
    login(client, clerks["dispatcher"])
    response = take(client, category="", caller_type="person")
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.category is None
    assert ticket.contact.caller_type == "person"
    assert re.search(r"诉求分类", client.get(response.headers["Location"]).text) is None
