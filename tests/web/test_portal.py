"""The online hall: submitting a request with attachments (all or nothing), its result page,
tracking by reference + last 4 digits (public progress only), limits and friendly errors."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from hotline import create_app
from hotline.extensions import db
from hotline.intake import uploads
from hotline.models import Attachment, Contact, Event, Message, Ticket
from hotline.models.base import simulated_now
from tests.conftest import base_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _tuesday_morning() -> Iterator[None]:
    with simulated_now(datetime(2025, 6, 10, 10, 0, tzinfo=SHANGHAI)):
        yield


@pytest.fixture
def upload_dir(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def stored() -> dict[str, int]:
    counts = {
        "tickets": db.session.scalar(select(func.count(Ticket.id))),
        "attachments": db.session.scalar(select(func.count(Attachment.id))),
        "contacts": db.session.scalar(select(func.count(Contact.id))),
        "messages": db.session.scalar(select(func.count(Message.id))),
        "events": db.session.scalar(
            select(func.count(Event.id)).where(Event.ticket_id.isnot(None))
        ),
    }
    db.session.rollback()
    return {key: int(value or 0) for key, value in counts.items()}


NOTHING = {"tickets": 0, "attachments": 0, "contacts": 0, "messages": 0, "events": 0}


def request_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_type": "complaint",
        "content": "蓬江区白沙街道建设路路灯连续一周不亮，夜间行人看不清路。",
        "address": "蓬江区白沙街道建设路 18 号",
        "phone": "138 1234 5678",
        "name": "李四",
        "wants_reply": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def multipart(
    client: Any, path: str, data: dict[str, Any], files: list[tuple[bytes, str]] | None
) -> Any:
    """POST a form with files, encoded in memory: the test client's own encoding spills big
    bodies into a temporary file it leaves open when redirects are not followed."""
    fields = MultiDict(data)
    for content, name in files or []:
        fields.add("attachments", FileStorage(io.BytesIO(content), filename=name))
    boundary, body = encode_multipart(fields)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def submit(client: Any, files: list[tuple[bytes, str]] | None = None, **overrides: Any) -> Any:
    return multipart(client, "/portal/submit", request_data(**overrides), files)


def submitted_reference(client: Any) -> str:
    page = client.get("/portal/submitted")
    assert page.status_code == 200, page.text
    match = re.search(r'id="reference"[^>]*>(\d+)<', page.text)
    assert match, page.text
    return match.group(1)


def no_inline_code(html: str) -> None:
    """The CSP allows no inline script or style: none may be written."""
    assert "<style" not in html
    assert " style=" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"<script[^>]*>\s*[^<\s]", html), "inline script body"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


# --- pages ------------------------------------------------------------------------


def test_landing_page_is_public_chinese_and_searches_the_knowledge_base(client):
    assert client.get("/portal").headers["Location"].endswith("/portal/")
    page = client.get("/portal/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "网上办事大厅" in page.text
    assert "我要反映" in page.text and "进度查询" in page.text
    assert "110" in page.text
    assert 'action="/portal/kb"' in page.text and 'type="search"' in page.text
    assert "Content-Security-Policy" in page.headers
    no_inline_code(page.text)


def test_submit_page_has_every_field_in_chinese(client):
    page = client.get("/portal/submit")
    assert page.status_code == 200
    text = page.text
    for label in ("诉求类型", "诉求内容", "地址", "联系电话", "姓名", "保密", "需要回复", "附件"):
        assert label in text, label
    for kind in ("咨询", "求助", "投诉", "举报", "建议", "表扬"):
        assert kind in text
    assert 'enctype="multipart/form-data"' in text
    assert re.search(r'name="submission"[^>]*value="[A-Za-z0-9_-]{16,}"', text)
    assert "最多 5 个" in text and "10 MB" in text
    no_inline_code(text)


def test_pages_switch_to_english(client):
    page = client.get("/portal/submit?lang=en")
    assert '<html lang="en">' in page.text
    assert "Make a request" in page.text
    refused = submit(client, content="")
    assert refused.status_code == 400
    assert "Please describe your request." in refused.text
    assert "请填写" not in refused.text


# --- a successful request -----------------------------------------------------------


def form_token(client: Any, path: str = "/portal/submit") -> str:
    match = re.search(r'name="submission"[^>]*value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def test_request_with_attachments_becomes_a_web_ticket(client, upload_dir):
    token = form_token(client)
    response = submit(
        client,
        files=[(JPEG, "路灯.jpg"), (PDF, "/home/me/情况说明.pdf")],
        confidential="y",
        submission=token,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/submitted"
    reference = submitted_reference(client)

    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket is not None
    assert ticket.channel == "web"
    assert ticket.type == "complaint"
    assert ticket.urgency == "general"
    assert ticket.content.startswith("蓬江区白沙街道建设路路灯")
    assert ticket.address == "蓬江区白沙街道建设路 18 号"
    assert ticket.confidential is True
    assert ticket.wants_reply is True
    assert ticket.caller_name == "李四"
    assert ticket.contact is not None and ticket.contact.phone == "+8613812345678"
    assert ticket.accepted_by_id is None
    assert ticket.external_id == f"web:{token}"  # a double submit finds this ticket

    rows = db.session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    ).all()
    assert [(r.filename, r.content_type, r.size) for r in rows] == [
        ("路灯.jpg", "image/jpeg", len(JPEG)),
        ("情况说明.pdf", "application/pdf", len(PDF)),
    ]
    assert rows[0].sha256 == hashlib.sha256(JPEG).hexdigest()
    assert rows[0].uploaded_by_id is None
    on_disk = files_in(upload_dir)
    assert on_disk == sorted(upload_dir / r.storage_key for r in rows)  # no temp files left
    assert (upload_dir / rows[1].storage_key).read_bytes() == PDF
    sms = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all()
    assert [(m.kind, m.peer) for m in sms] == [("acceptance", "+8613812345678")]
    assert reference in sms[0].body  # the reference by SMS too, in the same transaction


def test_result_page_shows_the_reference_and_what_happens_next(client, upload_dir):
    submit(client)
    page = client.get("/portal/submitted")
    text = page.text
    reference = submitted_reference(client)
    assert reference.startswith("44070020250610")
    assert "工单编号" in text
    assert "2025-06-10 10:00" in text  # received, Asia/Shanghai
    assert "1 个工作日" in text and "2025-06-11 23:59" in text  # sign, if dispatched at once
    assert "15 个工作日" in text and "2025-07-01 23:59" in text  # complaint: 15 working days
    assert f"/portal/track?reference={reference}" in text
    no_inline_code(text)


def test_result_page_without_a_submission_goes_back_to_the_form(client):
    response = client.get("/portal/submitted")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/submit"


def test_a_double_submit_makes_one_ticket(client, upload_dir):
    token = "A" * 22
    first = submit(client, files=[(PNG, "a.png")], submission=token)
    reference = submitted_reference(client)
    second = submit(client, files=[(PNG, "a.png")], submission=token)
    assert first.status_code == second.status_code == 302
    assert submitted_reference(client) == reference
    assert stored()["tickets"] == 1
    assert stored()["attachments"] == 1
    assert len(files_in(upload_dir)) == 1


def test_a_request_without_reply_may_leave_out_the_phone(client, upload_dir):
    response = submit(client, phone="", name=None, wants_reply=None, request_type="suggestion")
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.contact is None and ticket.wants_reply is False
    assert "无法在线查询" in client.get("/portal/submitted").text


# --- refusals: 400, a clear Chinese message, nothing stored --------------------------

BAD_INPUT = [
    pytest.param({"content": ""}, None, "请填写诉求内容", id="no-content"),
    pytest.param({"content": "   \n  "}, None, "请填写诉求内容", id="blank-content"),
    pytest.param({"content": "长" * 4001}, None, "最多 4000 字", id="content-too-long"),
    pytest.param({"phone": "12345"}, None, "不是您本人的电话", id="service-number"),
    pytest.param({"phone": "138123"}, None, "电话号码无效", id="invalid-phone"),
    pytest.param({"phone": "abc"}, None, "电话号码无效", id="letters-phone"),
    pytest.param({"phone": ""}, None, "请留下联系电话", id="reply-without-phone"),
    pytest.param({"request_type": "bribe"}, None, "诉求类型", id="unknown-type"),
    pytest.param({"address": "路" * 301}, None, "地址过长", id="address-too-long"),
    pytest.param(
        {}, [(b"just some text, not a photo\n", "photo.jpg")], "文件类型不被接受", id="fake-jpg"
    ),
    pytest.param({}, [(b"<html><script>", "x.png")], "文件类型不被接受", id="html-as-png"),
    pytest.param({}, [(b"PK\x03\x04zip", "a.pdf")], "文件类型不被接受", id="zip-as-pdf"),
    pytest.param({}, [(b"", "empty.jpg")], "是空文件", id="empty-file"),
    pytest.param(
        {}, [(PNG, f"{i}.png") for i in range(6)], "最多只能上传 5 个附件", id="six-files"
    ),
    pytest.param(
        {},
        [(JPEG, "ok.jpg"), (b"\xff\xd8\xff" + bytes(20 * MB), "big.jpg")],
        "超过了 10 MB",
        id="20MB",
    ),
    pytest.param(
        {"content": ""}, [(JPEG, "ok.jpg"), (b"GIF89a", "anim.gif")], "请填写诉求内容", id="several"
    ),
]


@pytest.mark.parametrize(("overrides", "files", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_chinese_message_and_nothing_is_stored(
    client, upload_dir, overrides, files, message
):
    response = submit(client, files=files, **overrides)
    assert response.status_code == 400
    assert message in response.text
    assert "提交未成功" in response.text  # the summary above the form
    assert stored() == NOTHING
    assert files_in(upload_dir) == []
    if files:
        assert "请重新选择" in response.text  # browsers cannot refill a file input


def test_every_file_problem_is_listed_at_once(client, upload_dir):
    response = submit(
        client,
        files=[
            (b"text", "a.jpg"),
            (b"", "b.png"),
            (b"\x89PNG\r\n\x1a\n" + bytes(11 * MB), "c.png"),
        ],
    )
    assert response.status_code == 400
    for name in ("a.jpg", "b.png", "c.png"):
        assert f"附件“{name}”" in response.text
    assert files_in(upload_dir) == []


def test_a_body_over_max_content_length_gets_a_friendly_413_page(app, client, upload_dir):
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    response = submit(client, files=[(b"\xff\xd8\xff" + bytes(512 * 1024), "big.jpg")])
    assert response.status_code == 413
    assert "上传的内容过大" in response.text
    assert "0.25 MB" in response.text and "10 MB" in response.text
    assert 'href="/portal/submit"' in response.text
    assert stored() == NOTHING
    assert files_in(upload_dir) == []


def test_a_failure_while_opening_the_ticket_leaves_no_files(client, upload_dir, monkeypatch):
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr("hotline.intake.portal.open_ticket", broken)
    response = submit(client, files=[(JPEG, "a.jpg"), (PDF, "b.pdf")])
    assert response.status_code == 500  # a bug, logged; the citizen sees no internals
    assert stored() == NOTHING
    assert files_in(upload_dir) == []


def test_ticket_and_attachments_commit_together(client, upload_dir, monkeypatch, caplog):
    """An attachment row that cannot be written rolls the whole ticket back."""
    monkeypatch.setattr(uploads.secrets, "token_hex", lambda _n: "0" * 32)
    assert submit(client, files=[(JPEG, "first.jpg")]).status_code == 302
    before = stored()
    with caplog.at_level(logging.ERROR):
        response = submit(client, files=[(PNG, "second.png")], content="另一个诉求")
    assert response.status_code == 500
    assert re.search("(?i)unique|duplicate", caplog.text)
    assert stored() == before
    assert files_in(upload_dir) == [upload_dir / ("0" * 32)]
    assert (upload_dir / ("0" * 32)).read_bytes() == JPEG  # the first file is untouched


# --- storage ------------------------------------------------------------------------


def test_uploads_live_under_the_instance_folder_by_default(app, client):
    assert submit(client, files=[(PNG, "a.png")]).status_code == 302
    row = db.session.scalar(select(Attachment))
    path = Path(app.instance_path) / "uploads" / row.storage_key
    assert path.read_bytes() == PNG
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    path.unlink()


def test_an_upload_folder_inside_static_is_refused(app):
    app.config["UPLOAD_DIR"] = str(Path(app.static_folder) / "uploads")
    with pytest.raises(RuntimeError, match="static"):
        uploads.upload_dir()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (PDF, "application/pdf"),
        (b"GIF89a", None),
        (b"\xff\xd8", None),
        (b"%PD", None),
        (b"", None),
    ],
)
def test_sniffing_reads_magic_bytes(head, expected):
    assert uploads.sniff(head) == expected


def test_file_names_keep_chinese_and_lose_paths_and_control_characters():
    assert uploads.clean_filename("C:\\照片\\现场.jpg") == "现场.jpg"
    assert uploads.clean_filename("../../etc/passwd") == "passwd"
    assert uploads.clean_filename("a\x00b\nc.pdf") == "abc.pdf"
    assert uploads.clean_filename("") == "attachment"
    assert len(uploads.clean_filename("长" * 400 + ".pdf")) == 255


# --- tracking -----------------------------------------------------------------------


def track(client: Any, reference: str, last4: str) -> Any:
    return client.post("/portal/track", data={"reference": reference, "last4": last4})


def portal_ticket(client: Any, **overrides: Any) -> str:
    assert submit(client, **overrides).status_code == 302
    return submitted_reference(client)


def test_track_form_prefills_the_reference(client):
    page = client.get("/portal/track?reference=440700202506100001")
    assert page.status_code == 200
    assert 'value="440700202506100001"' in page.text
    assert "手机号码后四位" in page.text


def test_tracking_shows_status_dates_and_nothing_private(client, upload_dir):
    reference = portal_ticket(client)
    page = track(client, reference, "5678")
    assert page.status_code == 200
    text = page.text
    assert reference in text
    assert "已受理" in text
    assert "投诉" in text
    assert "2025-06-10 10:00" in text  # received
    assert "2025-07-01 23:59" in text  # due, counted from receipt
    assert "尚未转交" in text
    for private in ("李四", "13812345678", "138 1234 5678", "建设路 18 号", "路灯连续一周不亮"):
        assert private not in text
    no_inline_code(text)


def test_wrong_reference_or_digits_give_the_same_not_found(client, upload_dir):
    own = portal_ticket(client)
    other = portal_ticket(client, phone="13900001111")
    pages = set()
    for reference, last4 in (
        (own, "1234"),
        (own, "0000"),
        (other, "5678"),
        ("440700209901010001", "5678"),
    ):
        page = track(client, reference, last4)
        assert page.status_code == 404
        assert "未找到与该工单编号和手机号码后四位相符的工单" in page.text
        assert 'id="tracked"' not in page.text
        pages.add(page.text.replace(reference, "REFERENCE"))
    assert len(pages) == 1  # nothing tells an existing reference from a missing one


def test_badly_formed_tracking_input_is_a_400_with_a_message(client):
    page = track(client, "440700202506100001", "12a")
    assert page.status_code == 400
    assert "请输入 4 位数字" in page.text
    assert "请输入工单编号" in track(client, "", "1234").text


def test_tracking_follows_dispatch_and_the_reviewed_reply_but_never_internal_notes(
    client, staff, upload_dir
):
    reference = portal_ticket(client, confidential="y")
    note = "内部备注：来电人情绪激动，注意沟通方式"
    staff.act("agent", reference, "dispatch", {"department": "PJQ", "note": note})

    text = track(client, reference, "5678").text
    assert "待签收" in text
    assert "已转交蓬江区办理" in text
    assert note not in text and "情绪激动" not in text
    assert "agent" not in text.lower().replace("user-agent", "")

    assert staff.act("pjq", reference, "sign").status_code == 200
    reply = "经核查，路灯线路老化，已于6月12日更换，恢复照明。"
    response = staff.act("pjq", reference, "reply", {"result": "solved", "text": reply})
    assert response.status_code == 200
    text = track(client, reference, "5678").text
    assert "回复审核" in text
    assert reply not in text  # not public before the review passes

    response = staff.act(
        "dispatcher", reference, "review_reply", {"approve": True, "note": "审核意见：内部"}
    )
    assert response.status_code == 200
    text = track(client, reference, "5678").text
    assert "待回访" in text
    assert reply in text
    assert "承办单位已答复" in text
    assert "审核意见" not in text and note not in text
    assert "李四" not in text


# --- rate limits --------------------------------------------------------------------


def test_submit_and_track_posts_are_rate_limited(app, _tmp_dir):
    limited = create_app(
        {
            **base_config(_tmp_dir),
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLIC_RATE_LIMIT": "2 per minute",
        }
    )
    client = limited.test_client()
    try:
        for path, data in (
            ("/portal/submit", {"content": ""}),
            ("/portal/track", {"reference": "440700202506100001", "last4": "0000"}),
        ):
            codes = [client.post(path, data=data).status_code for _ in range(3)]
            assert codes[:2] != [429, 429] and codes[2] == 429, (path, codes)
            refused = client.post(path, data=data)
            assert "请求过于频繁" in refused.text
            assert client.get(path).status_code == 200  # reading the form is not limited
    finally:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()
