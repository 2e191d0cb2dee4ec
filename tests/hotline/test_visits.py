"""The follow-up visit by SMS (短信回访): the survey goes once the reply is approved, the
citizen's answer through the signed SMS webhook closes or redoes the ticket, silence
counts as an unreachable attempt, and a caller without a mobile is visited by phone."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from hotline.extensions import db
from hotline.models import DeadlineAlert, Message, Ticket, Visit
from hotline.models.base import simulated_now
from hotline.visits import read_answer, sweep_visits
from tests.api_helpers import new_ticket, ok
from tests.web.test_twilio_sms import BASE, CITIZEN, NUMBER, TOKEN, send

SHANGHAI = ZoneInfo("Asia/Shanghai")
VOICE_NUMBER = "+14155550123"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Y", ("satisfied", "solved")),
        ("３ｎ", ("dissatisfied", "unsolved")),
        ("2", ("basic", "solved")),
        ("非常满意，谢谢", ("satisfied", "solved")),
        ("基本满意 部分解决", ("basic", "partly")),
        ("没解决，路灯还是不亮", ("dissatisfied", "unsolved")),
        ("不满意", ("dissatisfied", "unsolved")),
        ("不是很满意", ("dissatisfied", "unsolved")),
        ("很不满意，没人来修", ("dissatisfied", "unsolved")),
        ("3 谢谢", ("dissatisfied", "unsolved")),
        ("还有2个问题没处理", None),
        ("是不是还没修好", None),
        ("我对你们的处理很不满意，路灯还是不亮，已经一个月了", None),
        ("440700202510090000011", None),
        ("好的", None),
    ],
)
def test_answers_are_read_leniently_and_messages_are_not_taken_for_ratings(
    text: str, expected: tuple[str, str] | None
) -> None:
    answer = read_answer(text)
    assert (None if answer is None else (answer.satisfaction, answer.solved)) == expected


def reply_approved(staff: Any, phone: str, content: str) -> str:
    """A ticket whose reply was approved on Monday 2025-09-29: it awaits its visit."""
    with simulated_now(local("2025-09-29T09:00:00")):
        reference = new_ticket(staff, content=content, phone=phone)
        ok(staff.act("agent", reference, "dispatch", {"department": "PJQ"}))
        ok(staff.act("pjq", reference, "sign"))
        ok(staff.act("pjq", reference, "reply", {"result": "solved", "text": "已修复"}))
        ok(staff.act("dispatcher", reference, "review_reply", {"approve": True}))
    return reference


@pytest.fixture
def replied(app: Flask, staff: Any) -> str:
    """A ticket from a mobile caller whose reply was approved on Monday 2025-09-29."""
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_NUMBER=NUMBER)
    return reply_approved(staff, CITIZEN, "小区路灯坏了")


def ticket(reference: str) -> Ticket:
    db.session.rollback()
    found = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert found is not None
    return found


def surveys(reference: str) -> int:
    t = ticket(reference)
    return (
        db.session.scalar(
            select(func.count(Message.id)).where(
                Message.ticket_id == t.id, Message.kind == "visit_survey"
            )
        )
        or 0
    )


def sweep_at(text: str) -> dict[str, int]:
    with simulated_now(local(text)):
        return {k: n for k, n in sweep_visits().items() if n}


def test_a_satisfied_answer_closes_the_ticket(replied: str, client: FlaskClient) -> None:
    assert ticket(replied).status == "pending_visit"
    assert sweep_at("2025-09-29T09:05:00") == {"visit_survey": 1}
    assert sweep_at("2025-09-29T09:06:00") == {}  # one survey at a time
    assert surveys(replied) == 1 and "回复1满意" in db.session.scalar(
        select(Message.body).where(Message.kind == "visit_survey")
    )
    reply = send(client, "SM" + "a" * 32, "1Y")
    assert "感谢您" in reply and replied in reply
    t = ticket(replied)
    assert (t.status, t.disposition, t.visit_survey_at) == ("closed", "visited", None)
    visit = db.session.scalar(select(Visit).where(Visit.ticket_id == t.id))
    assert visit is not None and (visit.method, visit.reached) == ("sms", True)
    assert (visit.satisfaction, visit.solved) == ("satisfied", "solved")
    assert send(client, "SM" + "a" * 32, "1Y") == reply  # Twilio's retry: same answer
    assert db.session.scalar(select(func.count(Visit.id))) == 1


def test_a_dissatisfied_answer_sends_the_ticket_back_to_the_unit(
    replied: str, client: FlaskClient
) -> None:
    sweep_at("2025-09-29T09:05:00")
    reply = send(client, "SM" + "b" * 32, "没解决，路灯还是不亮")
    assert "重新办理" in reply
    t = ticket(replied)
    assert (t.status, t.redo_count) == ("in_progress", 1)
    # A text that is no answer goes to the ticket's thread and leaves the survey open.


def test_a_message_that_is_no_answer_joins_the_thread(replied: str, client: FlaskClient) -> None:
    sweep_at("2025-09-29T09:05:00")
    reply = send(client, "SM" + "c" * 32, "请问是哪个部门修的？我想表扬一下他们的效率")
    assert "补充" in reply
    t = ticket(replied)
    assert t.status == "pending_visit" and t.visit_survey_at is not None


def delivered() -> None:
    """Twilio took the surveys (the worker's send_sms, with credentials)."""
    db.session.execute(
        update(Message)
        .where(Message.kind == "visit_survey", Message.status == "queued")
        .values(status="sent")
    )
    db.session.commit()


def test_silence_is_an_unreachable_attempt_until_the_ticket_closes(replied: str) -> None:
    assert sweep_at("2025-09-29T09:05:00") == {"visit_survey": 1}
    delivered()
    # A day to answer, counted like every limit: to the end of the next working day.
    assert sweep_at("2025-09-30T23:59:00") == {}
    assert sweep_at("2025-10-01T00:10:00") == {"visit_unanswered": 1, "visit_survey": 1}
    delivered()
    # Sent on a holiday: the next working day is 10-09 (after National Day) …
    assert sweep_at("2025-10-09T12:00:00") == {}
    assert sweep_at("2025-10-10T00:05:00") == {"visit_unanswered": 1, "visit_survey": 1}
    delivered()
    # … and after Friday 10-10 comes Saturday 10-11, a make-up working day.
    assert sweep_at("2025-10-11T12:00:00") == {}
    assert sweep_at("2025-10-12T00:05:00") == {"visit_unanswered": 1}
    t = ticket(replied)
    assert (t.status, t.disposition, t.visit_attempts) == ("closed", "unreachable", 3)
    assert surveys(replied) == 3


def test_a_survey_that_never_went_out_is_no_silence(replied: str) -> None:
    """Held for lack of credentials (or failed): the citizen was never asked, so the
    ticket is flagged for a phone visit instead of counting an unreachable attempt."""
    assert sweep_at("2025-09-29T09:05:00") == {"visit_survey": 1}
    db.session.execute(update(Message).where(Message.kind == "visit_survey").values(status="held"))
    db.session.commit()
    assert sweep_at("2025-10-01T00:10:00") == {}
    t = ticket(replied)
    assert (t.status, t.visit_attempts, t.visit_survey_at) == ("pending_visit", 0, None)
    kinds = db.session.scalars(select(DeadlineAlert.kind).where(DeadlineAlert.ticket_id == t.id))
    assert list(kinds) == ["visit_by_phone"]
    assert sweep_at("2025-10-09T09:00:00") == {}  # not texted again in this round


def test_a_redone_ticket_is_surveyed_again_in_its_next_round(
    replied: str, client: FlaskClient, staff: Any
) -> None:
    sweep_at("2025-09-29T09:05:00")
    send(client, "SM" + "d" * 32, "3N")  # dissatisfied: redone
    with simulated_now(local("2025-09-30T10:00:00")):
        ok(staff.act("pjq", replied, "reply", {"result": "solved", "text": "已重新修复"}))
        ok(staff.act("dispatcher", replied, "review_reply", {"approve": True}))
    assert sweep_at("2025-09-30T10:05:00") == {"visit_survey": 1}
    assert surveys(replied) == 2


def test_a_caller_without_a_mobile_is_visited_by_phone(app: Flask, staff: Any) -> None:
    reference = reply_approved(staff, "0750-3221234", "楼道灯坏了")
    assert sweep_at("2025-09-29T09:05:00") == {}
    assert sweep_at("2025-09-29T09:06:00") == {}
    t = ticket(reference)
    assert surveys(reference) == 0 and t.visit_survey_at is None
    kinds = db.session.scalars(select(DeadlineAlert.kind).where(DeadlineAlert.ticket_id == t.id))
    assert list(kinds) == ["visit_by_phone"]
    assert (
        ok(
            staff.act(
                "agent",
                reference,
                "visit",
                {"reached": True, "solved": "solved", "satisfaction": "satisfied"},
            )
        )["status"]
        == "closed"
    )


# -- by keypad, when the citizen calls ---------------------------------------------------


def test_a_caller_awaiting_a_visit_rates_it_from_the_keypad_then_gets_the_menu(
    app: Flask, staff: Any, client: FlaskClient
) -> None:
    from tests.web import test_twilio_voice as voice
    from tests.web.test_twilio_voice import call, path_and_query, post, verbs

    app.config.update(
        PUBLIC_BASE_URL=voice.BASE, TWILIO_AUTH_TOKEN=voice.TOKEN, TWILIO_NUMBER=VOICE_NUMBER
    )
    reference = reply_approved(staff, "0750-3221234", "楼道灯坏了")
    landline = "+867503221234"
    root = post(client, "/twilio/voice", call(caller=landline, To=VOICE_NUMBER))
    assert verbs(root) == ["Gather", "Gather", "Redirect"]
    survey = root.find("Gather")
    assert survey is not None and "满意请按1" in (survey.findtext("Say") or "")
    path, query = path_and_query(survey.get("action", ""))
    assert path == "/twilio/voice/visit" and query["ticket"] == [reference]

    action = f"/twilio/voice/visit?ticket={reference}"
    answered = post(client, action, call(caller=landline, To=VOICE_NUMBER, Digits="3"))
    assert "重新办理" in (answered.findtext("Say") or "")
    assert answered.find("Gather") is not None  # on to the menu
    t = ticket(reference)
    assert (t.status, t.redo_count) == ("in_progress", 1)
    visit = db.session.scalar(select(Visit).where(Visit.ticket_id == t.id))
    assert visit is not None and (visit.method, visit.satisfaction) == ("ivr", "dissatisfied")
    again = post(client, action, call(caller=landline, To=VOICE_NUMBER, Digits="3"))
    assert "重新办理" not in (again.findtext("Say") or "")  # the retry changes nothing
    assert db.session.scalar(select(func.count(Visit.id))) == 1

    # Someone else's phone cannot rate the ticket; a caller with nothing to rate gets the menu.
    other = post(client, "/twilio/voice", call(sid="CA" + "7" * 32, caller="+8613912345678"))
    assert "满意请按1" not in ET.tostring(other, encoding="unicode")
