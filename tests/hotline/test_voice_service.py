"""The voice service without HTTP: menu words, wait estimates, legacy and emergency lines,
the order Twilio's reports arrive in, failures answered anyway and finished by replay,
the screen pop and the ticket a call turns into."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hotline.extensions import db
from hotline.intake import voice, voice_agents, voice_reports
from hotline.intake import voice_text as say
from hotline.intake.raw import replay_unprocessed
from hotline.intake.voice import Step
from hotline.models import CallbackRequest, CallRecord, InboundRequest, OutboxItem, Ticket
from hotline.tickets.intake import NewTicket, open_ticket

CALLER = "+8613800138000"
NUMBER = "+14155550123"
SID = "CA" + "2" * 32


@pytest.fixture
def lines(app: Flask, catalogue: Any) -> Flask:
    app.config["TWILIO_NUMBER"] = NUMBER
    return app


def form(sid: str = SID, caller: str = CALLER, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "From": caller, "To": NUMBER, "CallStatus": "ringing", **extra}


def the_call(sid: str = SID) -> CallRecord:
    db.session.expire_all()
    found = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
    assert found is not None
    return found


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# -- pure rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "speech", "choice"),
    [
        ("1", None, "1"),
        ("0", None, "0"),
        ("3", None, "3"),
        ("7", None, say.INVALID),
        ("12", None, say.INVALID),
        ("110", None, "110"),
        ("119", None, "119"),
        ("122", None, "122"),
        ("", "", say.NOTHING),
        (None, "我想咨询一下社保", "1"),
        (None, "我要投诉楼下噪音", "2"),
        (None, "求助", "2"),
        (None, "查询我投诉的办理进度", "3"),
        (None, "转人工", "0"),
        (None, "二", "2"),
        (None, "按一", "1"),
        (None, "幺幺零", "110"),
        (None, "我要打110", "110"),
        (None, "家里着火了", "119"),
        (None, "快叫救护车", "120"),
        (None, "出车祸了", "122"),
        (None, "救命", "110"),
        # About an emergency service, not an emergency: they stay with 12345.
        (None, "我要投诉120急救中心态度差", "2"),
        # A number that merely contains 120 is not the emergency line.
        (None, "欠我1200块工资不给", say.UNRECOGNISED),
        (None, "楼下的路灯坏了", say.UNRECOGNISED),
    ],
)
def test_keys_and_words_map_to_the_menu(digits, speech, choice):
    assert say.choice_from_input(digits, speech) == choice


@pytest.mark.parametrize(
    ("position", "average", "minutes"),
    [(3, 40, 6), (1, None, 2), (None, 95, 2), (None, 10, 1), (None, None, None), (0, 0, None)],
)
def test_wait_estimate(position, average, minutes):
    assert say.wait_minutes(position, average, 120) == minutes


def test_numbers_are_read_digit_by_digit():
    assert say.spoken_digits("12345") == "幺二三四五"
    assert "幺幺零" in say.emergency_tell("110")
    assert say.progress("44070020250926000017", "办理中", 10, 23).count("〇") == 0
    assert "零零幺七" in say.progress("44070020250926000017", "办理中", 10, 23)


def test_menu_decisions_repeat_at_most_twice():
    assert voice.decide_menu("5", None, 1).step == Step.REPEAT
    assert voice.decide_menu("5", None, 2) == voice.CallPlan(Step.REPEAT, menu_step=3)
    assert voice.decide_menu("5", None, 3).step == Step.QUEUE
    assert voice.decide_menu(None, None, 1).step == Step.QUEUE


# -- lines ------------------------------------------------------------------------------


def test_a_kept_line_dialled_directly_carries_its_category(lines):
    plan = voice.answer_call(form(To="12393"))
    assert (plan.step, plan.hotline_status) == (Step.QUEUE, "kept")
    call = the_call()
    assert call.hotline is not None and call.hotline.number == "12393"
    assert call.data["category"] == "0402"


def test_an_emergency_line_dialled_directly_is_handed_off(lines):
    plan = voice.answer_call(form(To="12395"))
    assert (plan.step, plan.line) == (Step.EMERGENCY, "12395")
    assert the_call().emergency_line == "12395"


def test_a_call_an_emergency_line_forwards_to_us_is_taken_in(lines):
    plan = voice.answer_call(form(ForwardedFrom="12395"))
    assert plan.step == Step.QUEUE
    assert the_call().emergency_line is None
    assert the_call().data["handed_in_from"] == "12395"


def test_called_via_is_a_legacy_line_too(lines):
    voice.answer_call(form(CalledVia="+8612369"))
    assert the_call().data["category"] == "0201"


# -- failures: answered anyway, finished by replay --------------------------------------


def test_a_processing_failure_still_queues_the_caller_and_replay_finishes(
    lines, monkeypatch, caplog
):
    def broken(payload: Any) -> Any:
        raise RuntimeError("routing is down")

    monkeypatch.setattr(voice, "_route", broken)
    with caplog.at_level(logging.ERROR):
        plan = voice.answer_call(form(ForwardedFrom="12315"))
    assert plan.step == Step.QUEUE
    assert "not applied" in caplog.text
    assert count(CallRecord) == 0
    [row] = db.session.scalars(select(InboundRequest)).all()
    assert row.processed_at is None and row.attempts == 1
    assert row.error == "RuntimeError: routing is down"

    monkeypatch.undo()
    assert replay_unprocessed(older_than=timedelta(0)) == 1
    call = the_call()
    assert call.hotline is not None and call.hotline.number == "12315"
    assert call.data["category"] == "0102"
    db.session.refresh(row)
    assert row.processed_at is not None
    assert call.started_at == row.received_at  # the call's time, not the replay's


def test_with_the_database_gone_emergencies_are_still_recognised(lines, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(voice, "store_inbound", down)
    assert voice.answer_call(form(To="+86120")).line == "120"
    assert voice.answer_call(form()).step == Step.QUEUE
    assert voice.choose_from_menu(form(Digits="119"), 1).line == "119"
    assert voice.choose_from_menu(form(Digits="1"), 1).step == Step.QUEUE


def test_a_failed_callback_is_booked_by_the_replay(lines, monkeypatch):
    voice.answer_call(form())
    voice.choose_from_menu(form(Digits="2"), 1)

    def push_down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox table locked")

    monkeypatch.setattr(voice, "notify_on_commit", push_down)
    assert voice.request_callback(form(Digits="1")) == "booked"
    assert count(CallbackRequest) == 0
    monkeypatch.undo()
    assert replay_unprocessed(older_than=timedelta(0)) == 1
    assert count(CallbackRequest) == 1
    assert count(OutboxItem, OutboxItem.name == "callback.requested") == 1
    assert voice.request_callback(form(Digits="1")) == "booked"
    assert count(CallbackRequest) == 1


# -- the order of Twilio's reports ------------------------------------------------------


def test_completed_before_the_bridged_report_still_counts_answered(lines):
    voice.answer_call(form())
    voice.choose_from_menu(form(Digits="1"), 1)
    voice_reports.record_status(form(CallStatus="completed", CallDuration="300"))
    assert the_call().abandoned is True  # no answer seen yet: it looks abandoned
    voice_reports.record_queue_result(form(QueueResult="bridged", QueueTime="8"), False)
    call = the_call()
    assert call.abandoned is False
    assert call.queued_at is not None
    assert call.answered_at == call.queued_at + timedelta(seconds=8)
    assert (call.status, call.duration_s) == ("completed", 300)


def test_a_hang_up_whose_queue_report_never_came_is_abandoned(lines):
    voice.answer_call(form())
    voice.choose_from_menu(form(Digits="0"), 1)
    voice_reports.record_status(form(CallStatus="completed", CallDuration="70"))
    call = the_call()
    assert (call.abandoned, call.status) == (True, "abandoned")
    assert call.queue_wait_s is not None and call.queue_wait_s >= 0


def test_a_caller_who_hangs_up_in_the_menu_is_not_abandoned(lines):
    voice.answer_call(form())
    voice_reports.record_status(form(CallStatus="completed", CallDuration="20"))
    call = the_call()
    assert (call.abandoned, call.status, call.queued_at) == (False, "completed", None)


def test_a_status_report_for_an_unseen_call_creates_its_record(lines):
    voice_reports.record_status(form(CallStatus="no-answer"))
    call = the_call()
    assert call.status == "no-answer" and call.caller == CALLER


def test_a_queue_error_requeues_once_then_offers_a_callback(lines):
    voice.answer_call(form())
    assert voice_reports.record_queue_result(form(QueueResult="error"), False) == "requeue"
    assert voice_reports.record_queue_result(form(QueueResult="error"), True) == "busy"
    assert voice_reports.record_queue_result(form(QueueResult="queue-full"), False) == "busy"
    assert the_call().data["queue_error"] == "queue-full"
    assert count(InboundRequest, InboundRequest.channel == "voice_queue") == 3


# -- the screen pop and the ticket ------------------------------------------------------


def test_call_context_shows_the_line_preset_and_the_callers_history(lines):
    for content in ("超市卖过期食品", "商场价格欺诈"):
        open_ticket(
            NewTicket(
                channel="phone", type="complaint", urgency="general", content=content, phone=CALLER
            ),
            None,
        )
    open_ticket(
        NewTicket(
            channel="phone",
            type="consult",
            urgency="general",
            content="别人的工单",
            phone="+8613912345678",
        ),
        None,
    )
    voice.answer_call(form(ForwardedFrom="+8612315"))
    context = voice_agents.call_context(SID)
    assert context["caller"]["phone"] == CALLER and context["caller"]["valid"] is True
    assert context["hotline"] == {
        "number": "12315",
        "name": "市场监管投诉举报热线",
        "status": "merged",
    }
    assert context["category"]["code"] == "0102"
    assert context["department"]["code"] == "SCJGJ"
    assert (context["past_tickets"], context["open_tickets"]) == (2, 2)
    assert context["queued_at"] is not None and context["queued_at"].endswith("+08:00")


def test_the_ticket_from_a_forwarded_call_has_its_category_preset(lines):
    voice.answer_call(form(ForwardedFrom="12315"))
    new = voice_agents.new_ticket_for_call(
        SID, type="complaint", urgency="general", content="网购商品质量问题，商家拒绝退货。"
    )
    ticket, created = open_ticket(new, None)
    assert created
    assert (ticket.channel, ticket.category.code, ticket.line_dialled) == ("phone", "0102", "12315")
    assert ticket.hotline is not None and ticket.hotline.number == "12315"
    assert ticket.contact is not None and ticket.contact.phone == CALLER
    assert ticket.received_at == the_call().started_at


def test_an_anonymous_caller_becomes_a_flagged_ticket(lines):
    voice.answer_call(form(caller="anonymous"))
    new = voice_agents.new_ticket_for_call(
        SID, type="consult", urgency="general", content="咨询居住证办理材料"
    )
    ticket, _ = open_ticket(new, None)
    assert ticket.phone_invalid is True and ticket.contact is None
    assert ticket.caller_phone_raw == "anonymous"
    assert count(Ticket) == 1


def test_call_context_of_an_unknown_call_is_not_found(lines):
    from hotline.errors import NotFound

    with pytest.raises(NotFound):
        voice_agents.call_context("CA" + "f" * 32)


def test_a_ticket_opened_during_the_call_gets_its_recording(lines):
    voice.answer_call(form())
    voice.choose_from_menu(form(Digits="2"), 1)
    ticket, _ = open_ticket(
        voice_agents.new_ticket_for_call(
            SID, type="complaint", urgency="general", content="小区垃圾无人清运"
        ),
        None,
    )
    voice_agents.link_call_to_ticket(SID, ticket)
    assert the_call().ticket_id == ticket.id and ticket.recording_url is None
    url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE9"
    voice_reports.record_status(form(CallStatus="completed", CallDuration="90", RecordingUrl=url))
    db.session.refresh(ticket)
    assert ticket.recording_url == url
