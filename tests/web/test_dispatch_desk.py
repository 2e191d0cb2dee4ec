"""The dispatcher's desk (/dispatch): what waits on the hotline centre, and each decision
taken from it through the same services as the JSON API."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import ReturnRequest, Ticket
from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}


def ticket(reference: str) -> Ticket:
    db.session.rollback()
    found = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert found is not None
    return found


def dispatched(staff: Any, department: str, content: str = "小区门口路灯坏了") -> str:
    reference = new_ticket(staff, content=content)
    assert staff.act("agent", reference, "dispatch", {"department": department}).status_code == 200
    return reference


@pytest.fixture
def desk(app: Flask, staff: Any) -> FlaskClient:
    return login(app, "d1", "dispatcher")


@pytest.mark.parametrize(
    ("role", "department", "status"),
    [
        ("dispatcher", None, 200),
        ("admin", None, 200),
        ("supervisor", None, 200),
        ("agent", None, 403),
        ("handler", "PJQ", 403),
        ("editor", None, 403),
    ],
)
def test_the_desk_is_for_dispatchers_admins_and_supervisors(
    app: Flask, staff: Any, role: str, department: str | None, status: int
) -> None:
    assert login(app, f"u-{role}", role, department).get("/dispatch").status_code == status


def test_a_new_ticket_waits_with_routings_suggestion_and_is_dispatched_from_the_desk(
    app: Flask, staff: Any, desk: FlaskClient
) -> None:
    reference = new_ticket(staff, content="蓬江区白沙街道建设路的路灯坏了好几天")
    page = desk.get("/dispatch", headers=ZH)
    assert page.status_code == 200 and "派单协调台" in page.text
    assert f'data-reference="{reference}"' in page.text
    fragment = desk.get("/dispatch?fragment=1", headers=ZH).text
    assert "<html" not in fragment and reference in fragment
    response = desk.post(f"/dispatch/{reference}/dispatch", data={"department": "PJQ"})
    assert response.status_code == 303
    dispatched_ticket = ticket(reference)
    assert dispatched_ticket.status == "pending_sign"
    assert [a.department.code for a in dispatched_ticket.current_assignments()] == ["PJQ"]
    assert f'data-reference="{reference}"' not in desk.get("/dispatch").text


def test_a_send_back_is_approved_and_redispatched_or_refused_as_wrongful(
    app: Flask, staff: Any, desk: FlaskClient
) -> None:
    first, second = dispatched(staff, "PJQ"), dispatched(staff, "PJQ", "超市卖过期食品")
    back = {"reason": "不属于本单位职责", "basis": "权责清单第12项"}
    for reference in (first, second):
        staff.act("pjq", reference, "sign")
        assert staff.act("pjq", reference, "send_back", back).status_code == 200
    page = desk.get("/dispatch", headers=ZH).text
    assert "不属于本单位职责" in page and "权责清单第12项" in page
    approve = {"approve": "true", "department": "SCJGJ", "note": "转市场监管局"}
    assert desk.post(f"/dispatch/{second}/review_return", data=approve).status_code == 303
    moved = ticket(second)
    assert moved.status == "pending_sign"
    assert [a.department.code for a in moved.current_assignments()] == ["SCJGJ"]
    refuse = {"approve": "false", "note": "属于本单位，请继续办理"}
    assert desk.post(f"/dispatch/{first}/review_return", data=refuse).status_code == 303
    assert ticket(first).status == "pending_sign"
    request = db.session.scalar(
        select(ReturnRequest).where(ReturnRequest.ticket_id == ticket(first).id)
    )
    assert request.decision == "rejected" and request.wrongful


def test_extensions_and_replies_are_reviewed_from_the_desk(
    app: Flask, staff: Any, desk: FlaskClient
) -> None:
    longer, replied = dispatched(staff, "PJQ"), dispatched(staff, "PJQ", "路边井盖丢了")
    for reference in (longer, replied):
        staff.act("pjq", reference, "sign")
    staff.act("pjq", longer, "request_extension", {"days": 5, "reason": "等待更换配件"})
    staff.act("pjq", replied, "reply", {"result": "solved", "text": "井盖已补上。"})
    due = ticket(longer).due_at
    page = desk.get("/dispatch", headers=ZH).text
    assert "等待更换配件" in page and "井盖已补上。" in page
    yes = {"approve": "true"}
    assert desk.post(f"/dispatch/{longer}/review_extension", data=yes).status_code == 303
    extended = ticket(longer)
    assert extended.status == "in_progress" and extended.due_at > due
    assert desk.post(f"/dispatch/{replied}/review_reply", data=yes).status_code == 303
    assert ticket(replied).status == "pending_visit"


def test_bad_decisions_are_refused_on_the_desk_and_nothing_changes(
    app: Flask, staff: Any, desk: FlaskClient
) -> None:
    reference = new_ticket(staff)
    unknown = desk.post(f"/dispatch/{reference}/dispatch", data={"department": "NOPE"}, headers=ZH)
    assert unknown.status_code == 404 and reference in unknown.text
    empty = desk.post(f"/dispatch/{reference}/dispatch", data={}, headers=ZH)
    assert empty.status_code == 422 and "请检查：" in empty.text
    early = desk.post(f"/dispatch/{reference}/review_reply", data={"approve": "true"}, headers=ZH)
    assert early.status_code == 409
    assert desk.post(f"/dispatch/{reference}/close_everything", data={}).status_code == 404
    assert ticket(reference).status == "accepted"
    agent = login(app, "a1", "agent")
    refused = agent.post(f"/dispatch/{reference}/dispatch", data={"department": "PJQ"})
    assert refused.status_code == 403
    assert ticket(reference).status == "accepted"


def test_a_likely_duplicate_is_merged_from_the_desk(
    app: Flask, staff: Any, desk: FlaskClient
) -> None:
    phone = "13800138000"
    first = new_ticket(staff, content="楼下烧烤店油烟很大", phone=phone)
    again = new_ticket(staff, content="楼下烧烤店油烟又来了", phone=phone)
    other = new_ticket(staff, content="公园里的健身器材坏了", phone="13912345678")
    page = desk.get("/dispatch", headers=ZH).text
    assert f'id="merge-{again}"' in page and "疑似重复" in page
    assert f'id="merge-{other}"' not in page
    response = desk.post(f"/dispatch/{again}/merge", data={"into": first})
    assert response.status_code == 303
    assert ticket(again).status == "merged" and ticket(again).merged_into.reference == first
    refused = desk.post(f"/dispatch/{other}/merge", data={"into": again}, headers=ZH)
    assert refused.status_code in (409, 422) and ticket(other).status == "accepted"
