"""The wallboard (/wallboard): the centre's numbers, for the centre's roles."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from hotline import console
from hotline.extensions import db
from hotline.models import CallRecord, User, utcnow
from hotline.wallboard import snapshot
from tests.api_helpers import new_ticket
from tests.web.socket_client import login

ZH = {"Accept-Language": "zh-CN"}


def tile(page: str, name: str) -> str:
    found = re.search(rf'id="{name}"><span class="value">(.*?)</span>', page, re.S)
    assert found is not None, name
    return found[1].strip()


@pytest.mark.parametrize(
    ("role", "department", "status"),
    [
        ("supervisor", None, 200),
        ("agent", None, 200),
        ("admin", None, 200),
        ("handler", "PJQ", 403),
    ],
)
def test_the_wallboard_is_for_the_centre(
    app: Flask, staff: Any, role: str, department: str | None, status: int
) -> None:
    assert login(app, f"u-{role}", role, department).get("/wallboard").status_code == status


def test_the_numbers(app: Flask, staff: Any) -> None:
    now = utcnow()
    for n, fields in enumerate(
        (
            {"status": "queued", "queued_at": now - timedelta(minutes=3)},
            {"status": "answered", "queued_at": now, "answered_at": now, "queue_wait_s": 8},
            {"status": "answered", "queued_at": now, "answered_at": now, "queue_wait_s": 40},
        )
    ):
        db.session.add(CallRecord(call_sid=f"CA{n:032d}", started_at=now, **fields))
    db.session.commit()
    new_ticket(staff, content="小区路灯坏了")
    overdue = new_ticket(staff, content="井盖丢了")
    staff.act("agent", overdue, "dispatch", {"department": "PJQ"})
    from hotline.models import Ticket

    db.session.rollback()
    ticket = db.session.query(Ticket).filter_by(reference=overdue).one()
    ticket.due_at = now - timedelta(hours=1)
    db.session.commit()
    agent = db.session.query(User).filter_by(username="agent").one()
    console.set_state(agent, "available")

    board = snapshot()
    assert (board.waiting, board.answered_today, board.opened_today, board.overdue) == (1, 2, 2, 1)
    assert board.answer_rate == pytest.approx(2 / 3) and board.answer_rate_15s == 0.5
    assert board.agents["available"] == 1
    page = login(app, "sup", "supervisor").get("/wallboard", headers=ZH).text
    assert tile(page, "calls-waiting") == "1" and tile(page, "answer-rate") == "67%"
    assert tile(page, "answer-rate-15s") == "50%" and tile(page, "overdue") == "1"
    assert tile(page, "agents-available") == "1"
