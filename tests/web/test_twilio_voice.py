"""The voice webhooks of the one number: every request signed with the SDK's
RequestValidator, every answer parsed as TwiML (never string-matched)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline import privacy
from hotline.auth import add_user
from hotline.extensions import db
from hotline.models import (
    CallbackRequest,
    CallRecord,
    Event,
    InboundRequest,
    OutboxItem,
    Ticket,
    User,
)
from hotline.models.base import simulated_now
from hotline.tickets.intake import NewTicket, open_ticket
from hotline.tickets.service import perform

TOKEN = "test-token"
BASE = "https://hotline.example.gov.cn"
NUMBER = "+14155550123"  # TWILIO_NUMBER: the one number outward
CALLER = "+8613800138000"
OTHER = "+8613912345678"
PASSWORD = "correct horse battery staple"
SHANGHAI = ZoneInfo("Asia/Shanghai")
API_SECRET = "s" * 40  # PyJWT warns (an error here) about HMAC keys under 32 bytes


@pytest.fixture
def twilio(app: Flask, catalogue: Any) -> Flask:
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_NUMBER=NUMBER)
    return app


def signed(path: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(BASE + path, params)}


def post(client: FlaskClient, path: str, params: dict[str, str]) -> ET.Element:
    """Post a signed webhook; return the parsed <Response>."""
    response = client.post(path, data=params, headers=signed(path, params))
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    return root


def call(sid: str = "CA" + "1" * 32, caller: str = CALLER, **extra: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **extra,
    }


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def path_and_query(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def record(sid: str = "CA" + "1" * 32) -> CallRecord:
    db.session.expire_all()
    found = db.session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
    assert found is not None
    return found


def assert_mandarin(say: ET.Element) -> None:
    assert say.tag == "Say"
    assert say.get("language") == "zh-CN"
    assert say.get("voice") == "Polly.Zhiyu"


def assert_enqueued(root: ET.Element) -> None:
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "hotline"
    assert enqueue.get("waitUrl") == "/twilio/voice/wait"
    assert path_and_query(enqueue.get("action", ""))[0] == "/twilio/voice/queue-result"


# -- the menu ---------------------------------------------------------------------------


def test_the_one_number_answers_with_the_mandarin_menu(twilio, client):
    root = post(client, "/twilio/voice", call())
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root[0]
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "zh-CN"
    assert path_and_query(gather.get("action", "")) == ("/twilio/voice/menu", {"step": ["1"]})
    assert int(gather.get("numDigits", "0")) >= 3  # a keyed 110 arrives whole
    [say] = list(gather)
    assert_mandarin(say)
    text = say.text or ""
    assert "欢迎致电" in text and "政务服务便民热线" in text
    for option in ("咨询请按1", "投诉", "请按2", "查询工单办理进度请按3", "人工服务请按0"):
        assert option in text
    # Silence falls through to the menu handler, which sends the caller to an agent.
    assert path_and_query(root[1].text or "")[0] == "/twilio/voice/menu"

    call_record = record()
    assert call_record.status == "menu"
    assert call_record.caller == CALLER
    assert call_record.phone_hash == privacy.lookup_hash(CALLER)
    assert call_record.dialled == NUMBER
    assert call_record.started_at is not None
    [row] = db.session.scalars(select(InboundRequest)).all()
    assert (row.channel, row.dedupe_key) == ("voice", "voice:" + "CA" + "1" * 32)
    assert row.processed_at is not None


@pytest.mark.parametrize("keyed", ["1", "2", "0"])
def test_menu_keys_1_2_0_queue_for_an_agent(twilio, client, keyed):
    post(client, "/twilio/voice", call())
    root = post(client, "/twilio/voice/menu?step=1", call(Digits=keyed))
    assert_enqueued(root)
    assert_mandarin(root[0])
    call_record = record()
    assert (call_record.menu_choice, call_record.status) == (keyed, "queued")
    assert call_record.queued_at is not None


def test_chinese_speech_is_mapped_to_the_menu(twilio, client):
    post(client, "/twilio/voice", call())
    root = post(
        client, "/twilio/voice/menu?step=1", call(SpeechResult="我要投诉", Confidence="0.9")
    )
    assert_enqueued(root)
    assert record().menu_choice == "2"
    root = post(client, "/twilio/voice/menu?step=1", call(SpeechResult="查询进度"))
    gather = root.find("Gather")
    assert gather is not None and gather.get("finishOnKey") == "#"


def test_an_invalid_key_repeats_the_menu_twice_then_queues(twilio, client):
    post(client, "/twilio/voice", call())
    root = post(client, "/twilio/voice/menu?step=1", call(Digits="7"))
    gather = root.find("Gather")
    assert gather is not None
    assert path_and_query(gather.get("action", ""))[1] == {"step": ["2"]}
    assert "输入有误" in (gather[0].text or "")
    root = post(client, "/twilio/voice/menu?step=2", call(Digits="8"))
    assert path_and_query(root[0].get("action", ""))[1] == {"step": ["3"]}
    root = post(client, "/twilio/voice/menu?step=3", call(Digits="9"))
    assert_enqueued(root)
    assert record().menu_choice == "invalid"


def test_silence_goes_to_an_agent(twilio, client):
    post(client, "/twilio/voice", call())
    assert_enqueued(post(client, "/twilio/voice/menu?step=1", call()))
    assert record().menu_choice == "none"


# -- legacy lines -----------------------------------------------------------------------


@pytest.mark.parametrize("forwarded", ["+8612315", "12315"])
def test_a_call_forwarded_from_12315_skips_the_menu_with_its_category(twilio, client, forwarded):
    root = post(client, "/twilio/voice", call(ForwardedFrom=forwarded))
    assert root.find("Gather") is None
    assert verbs(root) == ["Say", "Enqueue"]
    assert_mandarin(root[0])
    assert "市场监管投诉举报热线已并入" in (root[0].text or "")
    assert_enqueued(root)

    call_record = record()
    assert call_record.hotline is not None and call_record.hotline.number == "12315"
    assert call_record.data["category"] == "0102"
    assert call_record.data["department"] == "SCJGJ"
    assert (call_record.status, call_record.menu_choice) == ("queued", "line")
    assert call_record.queued_at is not None
    assert call_record.forwarded_from == forwarded


# -- emergencies ------------------------------------------------------------------------


def handoffs() -> list[Event]:
    return list(
        db.session.scalars(select(Event).where(Event.action == "call.emergency_handoff")).all()
    )


def test_dialling_110_is_never_taken_in(twilio, client):
    root = post(client, "/twilio/voice", call(To="110"))
    assert verbs(root) == ["Say", "Hangup"]
    assert_mandarin(root[0])
    assert "拨打幺幺零" in (root[0].text or "")
    assert root.find("Gather") is None and root.find("Enqueue") is None

    call_record = record()
    assert (call_record.emergency_line, call_record.status) == ("110", "emergency")
    [event] = handoffs()
    assert event.data["line"] == "110" and event.data["via"] == "dialled"
    assert event.actor_id is None
    assert count(Ticket) == 0


def test_keying_110_in_the_menu_hands_off_and_records_it_once(twilio, client):
    post(client, "/twilio/voice", call())
    for _ in range(2):  # Twilio's retry
        root = post(client, "/twilio/voice/menu?step=1", call(Digits="110"))
        assert verbs(root) == ["Say", "Hangup"]
    assert record().emergency_line == "110"
    assert len(handoffs()) == 1
    assert count(Ticket) == 0


def test_an_emergency_is_transferred_when_configured(twilio, client):
    twilio.config["EMERGENCY_TRANSFER"] = {"119": "+8675511900"}
    post(client, "/twilio/voice", call())
    root = post(client, "/twilio/voice/menu?step=1", call(SpeechResult="着火了，快来人"))
    assert verbs(root) == ["Say", "Dial", "Say", "Hangup"]
    number = root.find("Dial/Number")
    assert number is not None and number.text == "+8675511900"
    assert record().emergency_line == "119"
    [event] = handoffs()
    assert event.data["transferred_to"] == "+8675511900"
    assert event.data["via"] == "speech"


# -- the queue --------------------------------------------------------------------------


def queued(client: FlaskClient, sid: str = "CA" + "1" * 32) -> CallRecord:
    post(client, "/twilio/voice", call(sid))
    post(client, "/twilio/voice/menu?step=1", call(sid, Digits="2"))
    return record(sid)


def test_the_wait_url_announces_position_and_offers_a_callback(twilio, client):
    queued(client)
    twilio.config["AVERAGE_HANDLE_SECONDS"] = 120
    root = post(
        client,
        "/twilio/voice/wait",
        call(QueuePosition="3", AvgQueueTime="40", QueueTime="15", CurrentQueueSize="5"),
    )
    assert verbs(root) == ["Say", "Gather", "Pause"]
    assert_mandarin(root[0])
    assert "第3位" in (root[0].text or "") and "约6分钟" in (root[0].text or "")
    gather = root[1]
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "/twilio/voice/callback"
    assert "回拨" in (gather[0].text or "")


def test_a_queued_caller_who_hangs_up_is_abandoned(twilio, client):
    queued(client)
    root = post(client, "/twilio/voice/queue-result", call(QueueResult="hangup", QueueTime="42"))
    assert list(root) == []
    call_record = record()
    assert call_record.abandoned is True
    assert call_record.queue_wait_s == 42
    assert call_record.answered_at is None
    assert call_record.status == "abandoned"


def test_a_bridged_caller_is_answered_after_the_queue_time(twilio, client):
    queued_at = queued(client).queued_at
    assert queued_at is not None
    root = post(client, "/twilio/voice/queue-result", call(QueueResult="bridged", QueueTime="12"))
    assert verbs(root) == ["Say", "Hangup"]
    call_record = record()
    assert call_record.answered_at == queued_at + timedelta(seconds=12)
    assert (call_record.queue_wait_s, call_record.abandoned) == (12, False)


def test_completed_status_records_duration_and_recording(twilio, client):
    queued(client)
    params = call(
        CallStatus="completed",
        CallDuration="185",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        Timestamp="Tue, 10 Jun 2025 02:03:04 +0000",
    )
    for _ in range(3):
        root = post(client, "/twilio/voice/status", params)
        assert list(root) == []
    call_record = record()
    assert call_record.duration_s == 185
    assert call_record.recording_url.endswith("/Recordings/RE1")
    assert call_record.ended_at == datetime(2025, 6, 10, 10, 3, 4, tzinfo=SHANGHAI)
    assert count(InboundRequest, InboundRequest.channel == "voice_status") == 1


# -- progress (按3) ----------------------------------------------------------------------


@pytest.fixture
def ticket_of_caller(twilio: Flask) -> str:
    with simulated_now(datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)):
        ticket, _ = open_ticket(
            NewTicket(
                channel="phone",
                type="complaint",
                urgency="general",
                content="楼下烧烤店油烟直排，请督促整改。",
                phone=CALLER,
                category="0101",
            ),
            None,
        )
        dispatcher = add_user("voice_dispatcher", "dispatcher")
        perform(ticket.reference, "dispatch", dispatcher, {"department": "SCJGJ"})
    return ticket.reference


def test_progress_is_read_to_the_tickets_own_phone(twilio, client, ticket_of_caller):
    root = post(client, "/twilio/voice/menu?step=1", call(Digits="3"))
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") == "20"
    assert path_and_query(gather.get("action", ""))[0] == "/twilio/voice/progress"

    root = post(client, "/twilio/voice/progress?attempt=1", call(Digits=ticket_of_caller))
    assert_mandarin(root[0])
    text = root[0].text or ""
    assert "待签收" in text  # STATUS_ZH of pending_sign
    assert "10月23日" in text  # 15 working days across the National Day holiday
    assert root.find("Enqueue") is None


def test_progress_is_refused_to_another_phone(twilio, client, ticket_of_caller):
    root = post(
        client, "/twilio/voice/progress?attempt=1", call(caller=OTHER, Digits=ticket_of_caller)
    )
    gather = root.find("Gather")
    assert gather is not None
    assert "未查询到" in (gather[0].text or "")
    assert "待签收" not in ET.tostring(root, encoding="unicode")
    assert path_and_query(gather.get("action", ""))[1] == {"attempt": ["2"]}
    # The second miss goes to an agent, still telling nothing about the ticket.
    root = post(
        client, "/twilio/voice/progress?attempt=2", call(caller=OTHER, Digits=ticket_of_caller)
    )
    assert_enqueued(root)
    assert "待签收" not in ET.tostring(root, encoding="unicode")


# -- webhook safety ---------------------------------------------------------------------


def test_the_same_call_sid_three_times_is_one_call(twilio, client):
    answers = [ET.tostring(post(client, "/twilio/voice", call())) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert count(CallRecord) == 1
    assert count(InboundRequest) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "forged"},
        # Signed with the wrong token, and for the URL as seen without PUBLIC_BASE_URL.
        signed("/twilio/voice", call(), token="someone-else"),
        {
            "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                "http://localhost/twilio/voice", call()
            )
        },
    ],
    ids=["missing", "forged", "wrong-token", "wrong-url"],
)
@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/voice/status"])
def test_a_forged_or_missing_signature_is_refused_and_nothing_stored(twilio, client, headers, path):
    response = client.post(path, data=call(CallStatus="completed"), headers=headers)
    assert response.status_code == 403
    assert count(InboundRequest) == 0
    assert count(CallRecord) == 0


def test_a_tampered_parameter_breaks_the_signature(twilio, client):
    params = call()
    headers = signed("/twilio/voice", params)
    response = client.post("/twilio/voice", data={**params, "From": OTHER}, headers=headers)
    assert response.status_code == 403
    assert count(InboundRequest) == 0


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", ""])
def test_an_invalid_caller_number_is_kept_and_flagged(twilio, client, caller):
    root = post(client, "/twilio/voice", call(caller=caller))
    assert verbs(root) == ["Gather", "Redirect"]
    call_record = record()
    assert call_record.phone_hash is None
    assert call_record.caller == (caller or None)
    assert call_record.data["caller_valid"] is False
    # Nothing to call back: the caller hears so and keeps waiting.
    root = post(client, "/twilio/voice/callback", call(caller=caller, Digits="1"))
    assert verbs(root) == ["Say", "Redirect"]
    assert count(CallbackRequest) == 0


# -- callbacks --------------------------------------------------------------------------


def test_a_callback_request_becomes_one_task_for_the_agents(twilio, client):
    queued(client)
    for _ in range(2):
        root = post(client, "/twilio/voice/callback", call(Digits="1"))
        assert verbs(root) == ["Say", "Leave"]
        assert "已为您登记回拨" in (root[0].text or "")
    [task] = db.session.scalars(select(CallbackRequest)).all()
    assert task.phone == CALLER and task.status == "pending"
    assert task.phone_hash == privacy.lookup_hash(CALLER)
    call_record = record()
    assert call_record.status == "callback"
    pushes = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "push")).all()
    # The voice queue changed twice (joined, left for a callback): the consoles hear it.
    assert [p.name for p in pushes if p.name == "call.queue"] == ["call.queue"] * 2
    [push] = [p for p in pushes if p.name != "call.queue"]
    assert (push.name, push.room) == ("callback.requested", "office")
    assert push.payload["id"] == task.id and push.payload["phone"] == "138****8000"

    # <Leave> ends in the Enqueue action: not abandoned, the call simply ends.
    root = post(client, "/twilio/voice/queue-result", call(QueueResult="leave", QueueTime="50"))
    assert verbs(root) == ["Hangup"]
    call_record = record()
    assert (call_record.abandoned, call_record.status) == (False, "callback")


def test_another_key_keeps_waiting(twilio, client):
    queued(client)
    root = post(client, "/twilio/voice/callback", call(Digits="5"))
    assert verbs(root) == ["Redirect"]
    assert root[0].text == "/twilio/voice/wait"
    assert count(CallbackRequest) == 0


# -- agents in the browser --------------------------------------------------------------


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


def configure_voice_sdk(app: Flask) -> None:
    app.config.update(
        TWILIO_ACCOUNT_SID="AC" + "a" * 32,
        TWILIO_API_KEY="SK" + "b" * 32,
        TWILIO_API_SECRET=API_SECRET,
        TWILIO_TWIML_APP_SID="AP" + "c" * 32,
    )


def test_the_token_endpoint_says_503_without_twilio_settings(twilio, client):
    add_user("desk", "agent", password=PASSWORD)
    login(client, "desk")
    response = client.get("/twilio/voice/token")
    assert response.status_code == 503
    error = response.json["error"]
    assert error["code"] == "telephony_not_configured"
    assert error["message"] and error["message_zh"]


def test_the_token_is_a_voice_sdk_jwt_for_the_agent(twilio, client):
    configure_voice_sdk(twilio)
    agent = add_user("desk", "agent", password=PASSWORD)
    login(client, "desk")
    response = client.get("/twilio/voice/token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["identity"] == f"agent-{agent.id}"
    claims = jwt.decode(response.json["token"], API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == "SK" + "b" * 32 and claims["sub"] == "AC" + "a" * 32
    assert claims["grants"]["identity"] == f"agent-{agent.id}"
    voice_grant = claims["grants"]["voice"]
    assert voice_grant["incoming"] == {"allow": True}
    assert voice_grant["outgoing"]["application_sid"] == "AP" + "c" * 32


def test_the_token_needs_a_signed_in_agent(twilio, client):
    configure_voice_sdk(twilio)
    response = client.get("/twilio/voice/token")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "not_authenticated"
    add_user("inspector", "supervisor", password=PASSWORD)
    login(client, "inspector")
    response = client.get("/twilio/voice/token")
    assert response.status_code == 403


def test_an_agents_browser_phone_dequeues_the_next_caller(twilio, client):
    agent = add_user("desk", "agent", password=PASSWORD)
    root = post(
        client, "/twilio/voice/agent", call("CA" + "9" * 32, caller=f"client:agent-{agent.id}")
    )
    queue = root.find("Dial/Queue")
    assert queue is not None and queue.text == "hotline"
    url_path, query = path_and_query(queue.get("url", ""))
    assert (url_path, query) == ("/twilio/voice/dequeued", {"agent": [str(agent.id)]})
    dial = root.find("Dial")
    assert dial is not None and dial.get("record") == "record-from-answer-dual"

    queued_at = queued(client).queued_at
    dequeued = f"/twilio/voice/dequeued?agent={agent.id}"
    params = call(QueueSid="QU" + "0" * 32, QueueTime="9", DequeingCallSid="CA" + "9" * 32)
    root = post(client, dequeued, params)
    assert verbs(root) == ["Say"]
    assert "为您服务" in (root[0].text or "")
    call_record = record()
    assert call_record.agent_id == agent.id
    assert call_record.status == "answered"
    assert call_record.answered_at is not None and queued_at is not None
    assert call_record.answered_at >= queued_at
    assert call_record.queue_wait_s == 9

    # The agent leg's recording finds its way to the caller's record.
    recording = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": "CA" + "9" * 32,
        "RecordingSid": "RE" + "5" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE5",
        "RecordingStatus": "completed",
        "RecordingDuration": "120",
    }
    post(client, "/twilio/voice/recording", recording)
    assert record().recording_url.endswith("/Recordings/RE5")


def test_a_browser_phone_without_an_agent_role_gets_nothing(twilio, client):
    handler = add_user("unit", "handler", department_code="PJQ")
    for who in (f"client:agent-{handler.id}", "client:agent-99999", CALLER):
        root = post(client, "/twilio/voice/agent", call("CA" + "8" * 32, caller=who))
        assert verbs(root) == ["Say", "Hangup"]
        assert root.find("Dial") is None
    assert db.session.get(User, handler.id) is not None


def test_a_failure_after_storing_still_answers_twiml_to_the_queue(twilio, client, monkeypatch):
    from hotline.intake import voice

    def broken(payload: Any) -> Any:
        raise RuntimeError("catalogue unavailable")

    monkeypatch.setattr(voice, "_route", broken)
    root = post(client, "/twilio/voice", call(ForwardedFrom="12315"))
    assert_enqueued(root)
    assert count(CallRecord) == 0
    [row] = db.session.scalars(select(InboundRequest)).all()
    assert row.processed_at is None and "catalogue unavailable" in (row.error or "")


def test_a_call_110_passes_to_12345_is_taken_in(twilio, client):
    """国办发〔2022〕12号: 110 forwards non-police matters; 12345 serves them."""
    root = post(client, "/twilio/voice", call(ForwardedFrom="110"))
    assert root.find("Enqueue") is not None
    assert root.find("Dial") is None
    call_record = record()
    assert call_record.emergency_line is None
    assert call_record.data["handed_in_from"] == "110"
