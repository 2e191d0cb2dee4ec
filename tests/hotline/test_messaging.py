"""Outbound SMS: who may be texted, the exact request the Twilio SDK sends (captured
through its `http_client` hook), idempotent sending, held messages, and the whole way
through a real Redis and an RQ worker."""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import select
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response

from hotline import jobs, messaging, sms_sending
from hotline.extensions import db
from hotline.models import Contact, Message, OutboxItem, Ticket, utcnow
from hotline.models.base import simulated_now
from hotline.outbox import relay_pending
from hotline.tickets.intake import NewTicket, find_contact, open_ticket

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs a real Redis (make test starts one)"
)

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-twilio-auth-token"
NUMBER = "+14155550100"
BASE = "https://hotline.example.gov.cn"
MOBILE = "+8613812345678"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


class RecordingHttpClient(HttpClient):
    """Answers like Twilio would and keeps every request the SDK made."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=False)
        self.requests: list[dict[str, Any]] = []
        self.answers: list[Response | Exception] = []
        self.accepted: list[dict[str, Any]] = []  # what "Twilio" took

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(
            {
                "method": method,
                "url": uri,
                "data": dict(data or {}),
                "params": dict(params or {}),
                "auth": auth,
            }
        )
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if method == "GET":  # the message list: what Twilio took, to that number
            found = [m for m in self.accepted if m["to"] == (params or {}).get("To")]
            return Response(200, json.dumps({"messages": found, "next_page_uri": None}))
        sid = f"SM{len(self.requests):032d}"
        taken = {
            "sid": sid,
            "status": "queued",
            "to": data and data["To"],
            "body": data and data["Body"],
        }
        self.accepted.append(taken)
        return Response(201, json.dumps(taken))

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]


def error(status: int, code: int, message: str) -> Response:
    return Response(status, json.dumps({"code": code, "message": message, "status": status}))


@pytest.fixture
def recorder(app: Flask) -> RecordingHttpClient:
    client = RecordingHttpClient()
    app.config.update(
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_NUMBER=NUMBER,
        PUBLIC_BASE_URL=BASE,
        TWILIO_HTTP_CLIENT=client,
    )
    return client


def accept(
    channel: str = "web", phone: str | None = MOBILE, urgency: str = "general", **fields: Any
) -> Ticket:
    ticket, _ = open_ticket(
        NewTicket(
            channel=channel,
            type="help",
            urgency=urgency,
            content="小区路灯不亮",
            phone=phone,
            **fields,
        ),
        None,
    )
    return ticket


def outbound_sms() -> list[Message]:
    return list(
        db.session.scalars(
            select(Message).where(Message.direction == "outbound").order_by(Message.id)
        )
    )


def send_jobs() -> list[OutboxItem]:
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.name == "send_sms")))


# ----------------------------------------------------------------------------- who gets one


@pytest.mark.parametrize("channel", ["web", "window", "phone"])
def test_acceptance_queues_an_sms_with_the_reference(app: Flask, channel: str):
    ticket = accept(channel)

    [message] = outbound_sms()
    assert (message.ticket_id, message.kind, message.status) == (ticket.id, "acceptance", "queued")
    assert message.peer == MOBILE and message.channel == "sms"
    assert message.body == (
        f"【12345】您的诉求已受理，工单编号{ticket.reference}，办理时限以派单后通知为准。"
        "可回复本短信补充情况。"
    )
    [job] = send_jobs()
    assert job.kind == "job" and job.payload == {"message_id": message.id}
    assert job.ticket_id == ticket.id


@pytest.mark.parametrize("channel", ["api", "open311", "chat"])
def test_api_open311_and_chat_get_no_acceptance_sms(app: Flask, channel: str):
    accept(channel)
    assert outbound_sms() == [] and send_jobs() == []


def test_an_sms_ticket_typed_in_by_an_agent_is_texted_by_rest(app: Flask):
    accept("sms")  # no inbound webhook to answer in: it goes out as a queued SMS
    [message] = outbound_sms()
    assert message.status == "queued" and len(send_jobs()) == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"anonymous": True}, id="anonymous"),
        pytest.param({"wants_reply": False}, id="no-reply-wanted"),
        pytest.param({"confidential": True, "wants_reply": False}, id="confidential-no-reply"),
        pytest.param({"phone": "0750-3501234"}, id="landline"),
        pytest.param({"phone": "12345678", "keep_invalid_phone": True}, id="invalid-number"),
        pytest.param({"phone": None}, id="no-number"),
    ],
)
def test_no_sms_when_the_rules_forbid_it(app: Flask, fields: dict[str, Any], caplog: Any):
    with caplog.at_level(logging.INFO, logger="hotline.messaging"):
        ticket = accept(**fields)
    assert outbound_sms() == [] and send_jobs() == []
    assert f"ticket {ticket.reference}: no SMS" in caplog.text


def test_a_confidential_caller_who_wants_a_reply_gets_the_sms(app: Flask):
    accept(confidential=True)
    assert [m.status for m in outbound_sms()] == ["queued"]


def test_an_opted_out_number_gets_nothing(app: Flask):
    accept()
    contact = find_contact(MOBILE)
    assert contact is not None
    contact.sms_opt_out = True
    db.session.commit()

    ticket = accept()
    assert messaging.queue_sms(ticket, "任何内容", "free") is None
    assert messaging.queue_sms(ticket, "任何内容", "free", to=MOBILE) is None
    assert len(outbound_sms()) == 1  # only the one from before 退订


def test_templates_are_configuration(app: Flask):
    app.config["SMS_TEMPLATES"] = {
        "acceptance": "【{city}12345】已受理{reference}，{due_text}{unknown}",
        "reply": "{broken",
    }
    ticket = accept()
    [message] = outbound_sms()
    assert message.body == f"【江门市12345】已受理{ticket.reference}，办理时限以派单后通知为准"
    # A malformed city template falls back to the built-in one rather than failing intake.
    ticket.reply_text = "已修复"
    assert messaging.render("reply", messaging.ticket_values(ticket)) == (
        f"【12345】您的工单{ticket.reference}已有办理答复：已修复"
    )


def test_progress_notices_render_the_unit_and_due_date(app: Flask, catalogue: Any):
    from hotline.auth import add_user
    from hotline.tickets.service import dispatch_ticket

    agent = add_user("sms-agent", "agent")
    ticket = accept()
    dispatch_ticket(ticket.reference, agent, department="PJQ")
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket is not None and ticket.due_at is not None and ticket.department is not None

    message = messaging.notify_ticket(ticket, "dispatch")
    db.session.commit()
    assert message is not None and message.kind == "dispatch" and message.status == "queued"
    assert ticket.department.name in message.body and ticket.reference in message.body
    assert "年" in message.body and "月" in message.body


# ----------------------------------------------------------------------------- sending


def test_the_job_sends_exactly_the_request_twilio_expects_and_only_once(
    app: Flask, recorder: RecordingHttpClient
):
    ticket = accept()
    [message] = outbound_sms()

    assert jobs.send_sms(message.id) == "sent"
    assert jobs.send_sms(message.id) == "sent"  # a second run (RQ retry, relay twice) sends nothing

    [sent] = recorder.requests
    assert sent["method"] == "POST"
    assert sent["url"] == MESSAGES_URL
    assert sent["auth"] == (ACCOUNT, TOKEN)
    assert sent["data"] == {
        "To": MOBILE,
        "From": NUMBER,
        "Body": message.body,
        "StatusCallback": f"{BASE}/twilio/sms/status",
    }
    assert ticket.reference in str(sent["data"]["Body"])
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message is not None and message.status == "sent"
    assert message.external_sid == f"SM{1:032d}" and message.sent_at is not None


def test_without_public_base_url_no_status_callback_is_asked_for(
    app: Flask, recorder: RecordingHttpClient
):
    app.config["PUBLIC_BASE_URL"] = None
    accept()
    jobs.send_sms(outbound_sms()[0].id)
    assert "StatusCallback" not in recorder.requests[0]["data"]


def test_without_credentials_the_sms_is_held_logged_and_resent_later(app: Flask, caplog: Any):
    ticket = accept()
    [message] = outbound_sms()
    with caplog.at_level(logging.WARNING, logger="hotline.messaging"):
        assert jobs.send_sms(message.id) == "held"
    assert f"ticket {ticket.reference}: SMS {message.id} to 138****5678 held" in caplog.text
    assert ticket.reference in caplog.text  # the text itself is in the log too
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message is not None and message.status == "held" and message.error
    assert sms_sending.resend_held() == 0  # still no credentials: stays held

    client = RecordingHttpClient()
    app.config.update(
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_NUMBER=NUMBER,
        TWILIO_HTTP_CLIENT=client,
    )
    assert sms_sending.resend_held() == 1
    assert len(send_jobs()) == 2  # a fresh job for the held message
    assert send_jobs()[-1].payload == {"message_id": message.id}
    assert jobs.send_sms(message.id) == "sent"
    assert [r["data"]["Body"] for r in client.requests] == [message.body]


def test_a_permanent_twilio_error_fails_the_message(app: Flask, recorder: RecordingHttpClient):
    recorder.answers.append(error(400, 21211, "The 'To' number is not a valid phone number."))
    accept()
    [message] = outbound_sms()

    assert jobs.send_sms(message.id) == "failed"
    assert jobs.send_sms(message.id) == "failed"
    assert len(recorder.requests) == 1
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message is not None and message.status == "failed"
    assert message.error is not None and "21211" in message.error


@pytest.mark.parametrize(
    "problem",
    [
        pytest.param(error(503, 20500, "Service unavailable"), id="5xx"),
        pytest.param(error(429, 20429, "Too Many Requests"), id="throttled"),
    ],
)
def test_a_transient_error_reaches_rq_and_the_message_stays_queued(
    app: Flask, recorder: RecordingHttpClient, problem: Response | Exception
):
    recorder.answers.append(problem)
    accept()
    [message] = outbound_sms()

    with pytest.raises(TwilioRestException):
        jobs.send_sms(message.id)
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message is not None and message.status == "queued"
    assert message.error is not None and message.error.startswith("will retry")

    assert jobs.send_sms(message.id) == "sent"  # RQ's retry
    assert len(recorder.requests) == 2


def test_no_answer_from_twilio_is_checked_before_sending_again(
    app: Flask, recorder: RecordingHttpClient
):
    """A dropped connection may have reached Twilio or not: the message stays "sending"
    and, once a run could no longer be on it, Twilio's list says which."""
    recorder.answers.append(requests.ConnectionError("connection reset"))
    accept()
    [message] = outbound_sms()
    with pytest.raises(requests.ConnectionError):
        jobs.send_sms(message.id)
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "sending"
    assert jobs.send_sms(message.id) == "sending"  # RQ's quick retry: another run may be on it
    with simulated_now(utcnow() + sms_sending.SENDING_GRACE + timedelta(seconds=1)):
        assert jobs.send_sms(message.id) == "sent"
    methods = [r["method"] for r in recorder.requests]
    assert methods == ["POST", "GET", "POST"]  # Twilio had not taken it: sent once
    assert recorder.requests[1]["params"]["To"] == MOBILE


def test_rejected_credentials_hold_the_message(app: Flask, recorder: RecordingHttpClient):
    recorder.answers.append(error(401, 20003, "Authenticate"))
    accept()
    assert jobs.send_sms(outbound_sms()[0].id) == "held"


def test_a_number_that_opts_out_before_sending_is_not_texted(
    app: Flask, recorder: RecordingHttpClient
):
    accept()
    contact = db.session.scalar(select(Contact))
    assert contact is not None
    contact.sms_opt_out = True
    db.session.commit()

    assert jobs.send_sms(outbound_sms()[0].id) == "failed"
    assert recorder.requests == []


def test_a_missing_message_is_logged_not_retried(app: Flask, caplog: Any):
    with caplog.at_level(logging.ERROR, logger="hotline.messaging"):
        assert jobs.send_sms(999999) == "missing"
    assert "does not exist" in caplog.text


# ----------------------------------------------------------------------------- real Redis


@needs_redis
def test_hall_acceptance_goes_through_the_outbox_rq_and_twilio(
    app: Flask, recorder: RecordingHttpClient, queue: Queue, api: Any
):
    app.config["OUTBOX_RELAY_ON_COMMIT"] = True
    api.user("clerk", "agent")
    response = api.post(
        "clerk",
        "/tickets",
        {
            "channel": "window",
            "type": "help",
            "urgency": "general",
            "content": "井盖缺失",
            "phone": "13812345678",
        },
    )
    assert response.status_code == 201
    reference = response.get_json()["reference"]

    # The commit's relay handed the job to Redis; nothing was sent inside the request.
    db.session.rollback()  # end the request's read (SQLite: a transaction holds the write lock)
    assert recorder.requests == []
    assert any(job_id.startswith("outbox-") for job_id in queue.job_ids)
    assert relay_pending() == 0

    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    [sent] = recorder.requests
    assert sent["method"] == "POST" and sent["url"] == MESSAGES_URL
    assert sent["data"]["To"] == MOBILE and sent["data"]["From"] == NUMBER
    assert reference in str(sent["data"]["Body"])
    db.session.expire_all()
    assert db.session.scalar(select(Message.status).where(Message.kind == "acceptance")) == "sent"


@needs_redis
def test_an_sms_acceptance_travels_in_twiml_not_through_rq(
    app: Flask, recorder: RecordingHttpClient, queue: Queue, client: Any
):
    from twilio.request_validator import RequestValidator

    app.config["OUTBOX_RELAY_ON_COMMIT"] = True
    params = {"MessageSid": "SM" + "9" * 32, "From": MOBILE, "To": NUMBER, "Body": "路灯坏了"}
    signature = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/sms", params)
    response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200

    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert recorder.requests == []  # the reference went back in the webhook's answer
    assert send_jobs() == [] and queue.count == 0


# ----------------------------------------------------------------------------- progress notices


def _notices(ticket: Ticket) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Message.kind)
            .where(Message.ticket_id == ticket.id, Message.direction == "outbound")
            .order_by(Message.id)
        )
    )


def test_the_citizen_hears_of_dispatch_extension_and_the_approved_reply(
    app: Flask, recorder: RecordingHttpClient, staff: Any
) -> None:
    from tests.api_helpers import ok

    ticket = accept()
    reference = ticket.reference
    ok(staff.act("agent", reference, "dispatch", {"department": "PJQ"}))
    ok(staff.act("pjq", reference, "sign"))
    ok(staff.act("pjq", reference, "request_extension", {"days": 2, "reason": "需协调"}))
    ok(staff.act("dispatcher", reference, "review_extension", {"approve": True}))
    ok(staff.act("pjq", reference, "reply", {"result": "solved", "text": "路灯已于今日修复。"}))
    ok(staff.act("dispatcher", reference, "review_reply", {"approve": True}))
    assert _notices(ticket) == ["acceptance", "dispatch", "extension", "reply"]
    bodies = db.session.scalars(
        select(Message.body).where(Message.ticket_id == ticket.id).order_by(Message.id)
    ).all()
    assert "蓬江区" in bodies[1] and "办理时限至" in bodies[1]
    assert "已延长至" in bodies[2] and "路灯已于今日修复。" in bodies[3]


def test_a_confidential_caller_who_wants_no_reply_gets_no_notice(
    app: Flask, recorder: RecordingHttpClient, staff: Any
) -> None:
    from tests.api_helpers import ok

    ticket = accept(confidential=True, wants_reply=False)
    ok(staff.act("agent", ticket.reference, "dispatch", {"department": "PJQ"}))
    assert _notices(ticket) == []


@needs_redis
@pytest.mark.parametrize(
    ("local_time", "urgency", "waits_until"),
    [
        ("2025-06-02T23:10:00", "general", "2025-06-03T08:00:00"),
        ("2025-06-03T06:30:00", "general", "2025-06-03T08:00:00"),
        ("2025-06-03T12:00:00", "general", None),
        ("2025-06-02T23:10:00", "emergency", None),
    ],
)
def test_non_urgent_texts_wait_out_the_quiet_hours(
    app: Flask,
    recorder: RecordingHttpClient,
    queue: Queue,
    local_time: str,
    urgency: str,
    waits_until: str | None,
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rq.registry import ScheduledJobRegistry

    app.config["SMS_QUIET_HOURS"] = "21:30-08:00"
    shanghai = ZoneInfo("Asia/Shanghai")
    ticket = accept(urgency=urgency)
    [message] = outbound_sms()
    with simulated_now(datetime.fromisoformat(local_time).replace(tzinfo=shanghai)):
        status = jobs.send_sms(message.id)
    registry = ScheduledJobRegistry(queue=queue)
    if waits_until is None:
        assert status == "sent" and registry.get_job_ids() == []
        return
    assert status == "queued" and recorder.requests == []
    [job_id] = registry.get_job_ids()
    at = registry.get_scheduled_time(job_id)
    expected = datetime.fromisoformat(waits_until).replace(tzinfo=shanghai)
    assert at.timestamp() == expected.timestamp()
    assert ticket.reference  # kept for the failure message


def test_a_failed_check_of_an_interrupted_send_keeps_it_sending(
    app: Flask, recorder: RecordingHttpClient
) -> None:
    """Twilio answering the check with an error says nothing of the message itself: it
    is not put back to "queued" (which would send it unchecked), it is checked again."""
    accept()
    [message] = outbound_sms()
    later = utcnow() + sms_sending.SENDING_GRACE + timedelta(seconds=5)
    message.status = "sending"
    message.attempted_at = utcnow()
    db.session.commit()
    recorder.answers.append(error(429, 20429, "Too Many Requests"))
    with simulated_now(later), pytest.raises(TwilioException):
        jobs.send_sms(message.id)
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "sending"
    with simulated_now(later + sms_sending.SENDING_GRACE + timedelta(seconds=5)):
        assert jobs.send_sms(message.id) == "sent"
    assert [r["method"] for r in recorder.requests] == ["GET", "GET", "POST"]
