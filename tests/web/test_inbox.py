"""The department inbox (/inbox) and a unit's actions from the ticket page: only the
unit's tickets, nearest deadline first with yellow/red marks; each action checked as the
JSON API checks it, a refusal shown on the page with its status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Event, Ticket, utcnow
from hotline.tickets.inbox import unit_inbox
from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}


def dispatched(staff: Any, department: str, content: str = "小区门口路灯坏了", **extra: Any) -> str:
    reference = new_ticket(staff, content=content, **extra)
    response = staff.act("agent", reference, "dispatch", {"department": department})
    assert response.status_code == 200, response.json
    return reference


def ticket(reference: str) -> Ticket:
    db.session.rollback()
    found = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert found is not None
    return found


@pytest.fixture
def pjq(app: Flask, staff: Any) -> FlaskClient:
    return login(app, "h-pjq", "handler", "PJQ")


def test_the_inbox_lists_only_the_units_tickets_nearest_deadline_first(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    later = dispatched(staff, "PJQ")
    sooner = dispatched(staff, "PJQ", "路边井盖丢了，很危险")
    theirs = dispatched(staff, "SCJGJ", "超市卖过期食品")
    # Both read before either is changed: ticket() rolls back, which would drop the first
    # change (and the order then depends on the computed deadline, the day of the week).
    first, second = ticket(later), ticket(sooner)
    first.sign_due_at = utcnow() + timedelta(days=3)
    second.sign_due_at = utcnow() + timedelta(hours=30)
    db.session.commit()
    page = pjq.get("/inbox", headers=ZH)
    assert page.status_code == 200 and "单位待办" in page.text
    assert sooner in page.text and later in page.text and theirs not in page.text
    assert page.text.index(sooner) < page.text.index(later)
    fragment = pjq.get("/inbox?fragment=1", headers=ZH)
    assert "<html" not in fragment.text and sooner in fragment.text
    assert theirs not in fragment.text


def test_overdue_tickets_are_red_and_those_near_their_deadline_yellow(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    late, close, calm = (dispatched(staff, "PJQ", f"路灯坏了第{n}盏") for n in range(3))
    now = utcnow()
    for reference, due in ((late, -1), (close, 0.2), (calm, 20)):
        row = ticket(reference)
        row.dispatched_at = now - timedelta(days=2)
        row.sign_due_at = now + timedelta(days=due)
        db.session.commit()
    department_id = ticket(late).current_assignments()[0].department_id
    box = unit_inbox(department_id, now=now)
    marks = {row.ticket.reference: row.mark for row in box.rows}
    assert marks == {late: "red", close: "yellow", calm: ""}
    assert (box.total, box.overdue, box.warned) == (3, 1, 1)
    assert [row.ticket.reference for row in box.rows] == [late, close, calm]
    page = pjq.get("/inbox", headers=ZH).text
    assert f'class="inbox-row red" data-reference="{late}"' in page
    assert f'class="inbox-row yellow" data-reference="{close}"' in page
    assert "超期 1 件" in page


@pytest.mark.parametrize(("username", "role"), [("a1", "agent"), ("ed", "editor")])
def test_the_inbox_is_for_handlers(app: Flask, staff: Any, username: str, role: str) -> None:
    assert login(app, username, role).get("/inbox").status_code == 403


def test_strangers_are_sent_to_sign_in(client: FlaskClient) -> None:
    assert client.get("/inbox").status_code == 302


def test_a_handler_lands_on_the_inbox(app: Flask, staff: Any, pjq: FlaskClient) -> None:
    assert pjq.get("/").headers["Location"].endswith("/inbox")


def test_a_unit_signs_contacts_notes_and_replies_from_the_ticket_page(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    reference = dispatched(staff, "PJQ")
    page = pjq.get(f"/tickets/{reference}", headers=ZH).text
    assert 'id="act-sign"' in page and 'id="act-reply"' not in page  # sign first
    assert pjq.post(f"/tickets/{reference}/act/sign").status_code == 303
    assert ticket(reference).status == "in_progress"
    page = pjq.get(f"/tickets/{reference}", headers=ZH).text
    assert 'id="act-sign"' not in page and 'id="act-reply"' in page
    form = {"method": "phone", "note": "已电话联系来电人"}
    assert pjq.post(f"/tickets/{reference}/act/contact", data=form).status_code == 303
    assert ticket(reference).first_contact_at is not None
    note = {"note": "已安排维修队明早更换灯泡"}
    assert pjq.post(f"/tickets/{reference}/act/note", data=note).status_code == 303
    assert "已安排维修队明早更换灯泡" in pjq.get(f"/tickets/{reference}", headers=ZH).text
    reply = {"result": "solved", "text": "一、路灯已更换；二、已回复来电人。"}
    assert pjq.post(f"/tickets/{reference}/act/reply", data=reply).status_code == 303
    done = ticket(reference)
    assert done.status == "reply_review" and done.reply_result == "solved"
    actions = db.session.scalars(select(Event.action).where(Event.ticket_id == done.id)).all()
    assert {"sign", "contact", "note", "reply"} <= set(actions)


def test_bad_input_is_refused_on_the_page_and_nothing_changes(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    reference = dispatched(staff, "PJQ")
    early = pjq.post(
        f"/tickets/{reference}/act/reply", data={"result": "solved", "text": "好"}, headers=ZH
    )
    assert early.status_code == 409 and "不能执行“办理回复”" in early.text
    pjq.post(f"/tickets/{reference}/act/sign")
    empty = pjq.post(f"/tickets/{reference}/act/reply", data={"result": "solved"}, headers=ZH)
    assert empty.status_code == 422 and "请检查：" in empty.text
    odd = pjq.post(
        f"/tickets/{reference}/act/request_extension", data={"days": "0", "reason": "等待配件"}
    )
    assert odd.status_code == 422
    half = pjq.post(f"/tickets/{reference}/act/send_back", data={"reason": "不属于本单位"})
    assert half.status_code == 422 and ticket(reference).status == "in_progress"
    assert pjq.post(f"/tickets/{reference}/act/fly").status_code == 404
    back = {"reason": "路灯归城管局管理", "basis": "《江门市城市照明管理办法》第五条"}
    assert pjq.post(f"/tickets/{reference}/act/send_back", data=back).status_code == 303
    assert ticket(reference).status == "return_review"


def test_another_units_handler_can_neither_see_nor_act(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    theirs = dispatched(staff, "SCJGJ", "超市卖过期食品")
    assert pjq.get(f"/tickets/{theirs}").status_code == 403
    assert pjq.post(f"/tickets/{theirs}/act/sign").status_code == 403
    assert ticket(theirs).status == "pending_sign"


def test_a_confidential_callers_identity_never_reaches_the_unit(
    app: Flask, staff: Any, pjq: FlaskClient
) -> None:
    reference = dispatched(
        staff,
        "PJQ",
        name="李秘密",
        phone="13800138123",
        confidential=True,
        title="13800138123反映路灯坏了",
    )
    page = pjq.get(f"/tickets/{reference}", headers=ZH).text
    assert "李秘密" not in page and "13800138123" not in page and "0138123" not in page
    inbox = pjq.get("/inbox", headers=ZH).text
    assert reference in inbox and "李秘密" not in inbox and "13800138123" not in inbox
