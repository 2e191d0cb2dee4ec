"""`POST /twilio/sms` and `/twilio/sms/status`: signed with the SDK's RequestValidator,
answered with TwiML (checked as parsed XML), idempotent on MessageSid."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline import privacy
from hotline.extensions import db
from hotline.intake.raw import replay_unprocessed
from hotline.models import Contact, Event, InboundRequest, Message, OutboxItem, Ticket
from hotline.models.base import simulated_now
from hotline.tickets.intake import NewTicket, find_contact, open_ticket

TOKEN = "test-twilio-auth-token"
BASE = "https://hotline.example.gov.cn"
CITIZEN = "+8613812345678"
OTHER = "+8613987654321"
NUMBER = "+14155550100"


@pytest.fixture
def twilio(app: Flask) -> Flask:
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_NUMBER=NUMBER)
    return app


def sign(path: str, params: dict[str, str], token: str = TOKEN, base: str = BASE) -> str:
    return RequestValidator(token).compute_signature(base + path, params)


def post_signed(client: FlaskClient, path: str, params: dict[str, str], **sign_args: Any):  # type: ignore[no-untyped-def]
    return client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(path, params, **sign_args)}
    )


def sms(sid: str, body: str, sender: str = CITIZEN, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def send(client: FlaskClient, sid: str, body: str, sender: str = CITIZEN, **extra: str) -> str:
    """Post a signed SMS; return the one <Message> of the TwiML answer."""
    response = post_signed(client, "/twilio/sms", sms(sid, body, sender, **extra))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    return reply_of(response.data)


def reply_of(xml: bytes) -> str:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) == 1 and len(root) == 1
    return messages[0].text or ""


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def counts() -> tuple[int, int, int]:
    return count(InboundRequest), count(Message), count(Ticket)


def inbound(sid: str) -> Message:
    message = db.session.scalar(
        select(Message).where(Message.external_sid == sid, Message.direction == "inbound")
    )
    assert message is not None
    return message


def only_ticket() -> Ticket:
    tickets = db.session.scalars(select(Ticket)).all()
    assert len(tickets) == 1
    return tickets[0]


def web_ticket(phone: str = CITIZEN, days_ago: float = 0) -> Ticket:
    received = datetime.now(UTC) - timedelta(days=days_ago)
    with simulated_now(received):
        ticket, _ = open_ticket(
            NewTicket(
                channel="web", type="help", urgency="general", content="路灯不亮", phone=phone
            ),
            None,
        )
    return ticket


# ----------------------------------------------------------------------------- new tickets


def test_a_new_text_opens_a_ticket_and_the_twiml_carries_its_reference(
    twilio: Flask, client: FlaskClient
):
    answer = send(client, "SM" + "a" * 32, "小区门口路灯坏了一周，晚上很黑")

    ticket = only_ticket()
    assert (ticket.channel, ticket.type, ticket.urgency) == ("sms", "help", "general")
    assert ticket.content == "小区门口路灯坏了一周，晚上很黑"
    assert ticket.external_id == "sms:SM" + "a" * 32
    assert ticket.line_dialled == NUMBER
    assert ticket.contact is not None and ticket.contact.phone == CITIZEN
    assert answer == f"【12345】您的诉求已受理，工单编号{ticket.reference}，可回复本短信补充情况。"
    received = inbound("SM" + "a" * 32)
    assert (received.ticket_id, received.status, received.channel) == (ticket.id, "received", "sms")
    assert received.peer == CITIZEN
    # The reference went back in the TwiML: recorded as sent, no REST job queued.
    replies = db.session.scalars(select(Message).where(Message.direction == "outbound")).all()
    assert [(m.kind, m.status, m.body, m.ticket_id) for m in replies] == [
        ("acceptance", "sent", answer, ticket.id)
    ]
    assert received.id < replies[0].id  # the conversation reads in order
    assert count(OutboxItem, OutboxItem.kind == "job") == 0
    raw = db.session.scalar(select(InboundRequest))
    assert raw is not None and raw.processed_at is not None and raw.ticket_id == ticket.id


def test_the_same_message_sid_three_times_is_one_ticket_and_the_same_answer(
    twilio: Flask, client: FlaskClient
):
    sid = "SM" + "b" * 32
    answers = [send(client, sid, "噪音扰民，请处理") for _ in range(3)]

    assert answers[0] == answers[1] == answers[2]
    assert only_ticket().reference in answers[0]
    assert count(InboundRequest) == 1
    assert count(Message, Message.direction == "inbound") == 1
    assert count(Message) == 2  # the text and its one answer


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Twilio-Signature": ""}, id="empty"),
        pytest.param({"X-Twilio-Signature": "forged"}, id="forged"),
        pytest.param(
            {"X-Twilio-Signature": sign("/twilio/sms", sms("SMx", "x"), token="wrong-token")},
            id="wrong-token",
        ),
        pytest.param(
            {"X-Twilio-Signature": sign("/twilio/sms", sms("SMx", "x"), base="http://evil")},
            id="wrong-url",
        ),
        pytest.param(
            {"X-Twilio-Signature": sign("/twilio/sms", sms("SMx", "原文"))},
            id="tampered-body",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/sms/status"])
def test_unsigned_or_forged_requests_are_refused_and_store_nothing(
    twilio: Flask, client: FlaskClient, headers: dict[str, str], path: str
):
    params = sms("SMx", "篡改后的内容") | {"MessageStatus": "delivered"}
    response = client.post(path, data=params, headers=headers)

    assert response.status_code == 403
    assert counts() == (0, 0, 0)


def test_without_an_auth_token_every_request_is_refused(app: Flask, client: FlaskClient):
    app.config.update(PUBLIC_BASE_URL=BASE, TWILIO_AUTH_TOKEN=None)
    response = post_signed(client, "/twilio/sms", sms("SM" + "c" * 32, "你好"))
    assert response.status_code == 403
    assert counts() == (0, 0, 0)


def test_a_text_without_message_sid_is_a_bad_request(twilio: Flask, client: FlaskClient):
    params = {"From": CITIZEN, "To": NUMBER, "Body": "无编号"}
    assert post_signed(client, "/twilio/sms", params).status_code == 422
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要投诉某商家虚假宣传", "complaint"),
        ("举报工地夜间违规施工", "report"),
        ("请问社保卡补办需要什么材料", "consult"),
        ("建议在公园增加座椅", "suggestion"),
        ("表扬环卫工人", "praise"),
        ("家里停水了", "help"),
    ],
)
def test_the_ticket_type_is_guessed_from_keywords(
    twilio: Flask, client: FlaskClient, text: str, expected: str
):
    send(client, "SM" + "d" * 32, text)
    assert only_ticket().type == expected


def test_an_mms_without_text_keeps_its_media_links(twilio: Flask, client: FlaskClient):
    url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1"
    send(client, "MM" + "e" * 32, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert only_ticket().content == f"附件：{url}"


def test_an_empty_text_asks_for_words_and_opens_nothing(twilio: Flask, client: FlaskClient):
    answer = send(client, "SM" + "f" * 32, "   ")
    assert "请用文字描述" in answer
    assert count(Ticket) == 0
    assert inbound("SM" + "f" * 32).kind == "empty"


def test_an_invalid_sender_number_is_kept_and_flagged(twilio: Flask, client: FlaskClient):
    answer = send(client, "SM" + "g" * 32, "路面塌陷", sender="10690000")
    ticket = only_ticket()
    assert ticket.phone_invalid and ticket.caller_phone_raw == "10690000"
    assert ticket.contact is None
    assert ticket.reference in answer


# ----------------------------------------------------------------------------- threads


def test_a_text_quoting_a_reference_is_added_to_that_ticket(twilio: Flask, client: FlaskClient):
    old = web_ticket(days_ago=30)  # outside the recent-thread window: only the reference links it
    reference = old.reference

    answer = send(client, "SM" + "h" * 32, f"关于工单{reference}，灯又坏了")

    assert count(Ticket) == 1
    message = inbound("SM" + "h" * 32)
    assert message.ticket_id == old.id and message.kind == "followup"
    assert answer == f"【12345】已收到您对工单{reference}的补充情况，将一并转交办理。"
    event = db.session.scalar(select(Event).where(Event.action == "message.received"))
    assert event is not None and event.ticket_id == old.id
    assert event.data == {"channel": "sms", "message_id": message.id}
    pushes = db.session.scalars(select(OutboxItem).where(OutboxItem.name == "ticket.message"))
    assert {p.room for p in pushes} == {"office", f"ticket:{reference}"}


def test_full_width_digits_in_a_reference_are_understood(twilio: Flask, client: FlaskClient):
    old = web_ticket(days_ago=30)
    wide = old.reference.translate({ord(d): ord(d) - ord("0") + 0xFF10 for d in "0123456789"})
    send(client, "SM" + "i" * 32, f"工单{wide}还没处理")
    assert inbound("SM" + "i" * 32).ticket_id == old.id


def test_another_phone_quoting_a_reference_does_not_attach_to_it(
    twilio: Flask, client: FlaskClient
):
    theirs = web_ticket(phone=CITIZEN)
    answer = send(client, "SM" + "j" * 32, f"我也要反映{theirs.reference}的问题", sender=OTHER)

    message = inbound("SM" + "j" * 32)
    assert message.ticket_id != theirs.id
    mine = db.session.get(Ticket, message.ticket_id)
    assert mine is not None and mine.contact is not None and mine.contact.phone == OTHER
    assert mine.reference in answer and f"工单编号{theirs.reference}" not in answer
    assert count(Message, Message.ticket_id == theirs.id, Message.direction == "inbound") == 0


def test_texts_within_the_thread_window_join_the_latest_open_ticket(
    twilio: Flask, client: FlaskClient
):
    now = datetime.now(UTC)
    with simulated_now(now - timedelta(days=3)):
        send(client, "SM" + "k" * 32, "井盖缺失，很危险")
    first = only_ticket()
    with simulated_now(now):
        answer = send(client, "SM" + "l" * 32, "补充：位置在东门")
    assert count(Ticket) == 1
    assert inbound("SM" + "l" * 32).ticket_id == first.id
    assert first.reference in answer and "补充" in answer

    with simulated_now(now + timedelta(days=5)):  # 8 days after the ticket: a new one
        send(client, "SM" + "m" * 32, "另一件事：垃圾没人清运")
    assert count(Ticket) == 2
    assert inbound("SM" + "m" * 32).ticket_id != first.id


def test_the_thread_window_is_configuration(twilio: Flask, client: FlaskClient):
    twilio.config["SMS_THREAD_DAYS"] = 1
    web_ticket(days_ago=2)
    send(client, "SM" + "n" * 32, "请问进展如何")
    assert count(Ticket) == 2


def test_closed_tickets_do_not_collect_new_texts(twilio: Flask, client: FlaskClient):
    ticket = web_ticket()
    ticket.status = "closed"
    db.session.commit()
    send(client, "SM" + "o" * 32, "又出现同样问题")
    assert count(Ticket) == 2


# ----------------------------------------------------------------------------- 退订


@pytest.mark.parametrize("word", ["STOP", "stop", " Stop。", "退订", "TD", "ｔｄ"])
def test_stop_opts_the_number_out_and_no_sms_is_queued_afterwards(
    twilio: Flask, client: FlaskClient, word: str
):
    answer = send(client, "SM" + "p" * 32, word)

    assert "退订" in answer
    assert count(Ticket) == 0
    contact = find_contact(CITIZEN)
    assert contact is not None and contact.sms_opt_out and contact.opted_out_at is not None
    assert inbound("SM" + "p" * 32).kind == "opt_out"

    web_ticket()  # a hall request from the same phone: no acceptance SMS
    assert count(Message, Message.status == "queued") == 0
    assert count(OutboxItem, OutboxItem.name == "send_sms") == 0


@pytest.mark.parametrize("word", ["START", "订阅"])
def test_start_opts_the_number_back_in(twilio: Flask, client: FlaskClient, word: str):
    send(client, "SM" + "q" * 32, "退订")
    answer = send(client, "SM" + "r" * 32, word)

    assert "恢复" in answer
    contact = find_contact(CITIZEN)
    assert contact is not None and not contact.sms_opt_out and contact.opted_out_at is None
    web_ticket()
    assert count(Message, Message.status == "queued") == 1


def test_stop_from_an_unknown_number_is_remembered_for_later_tickets(
    twilio: Flask, client: FlaskClient
):
    send(client, "SM" + "s" * 32, "退订", sender=OTHER)
    contact = db.session.scalar(
        select(Contact).where(Contact.phone_hash == privacy.lookup_hash(OTHER))
    )
    assert contact is not None and contact.sms_opt_out


# ----------------------------------------------------------------------------- failures


def test_a_processing_failure_still_answers_and_keeps_the_request_for_replay(
    twilio: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: Any
):
    from hotline.intake import sms as sms_intake

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(sms_intake, "open_ticket", broken)
    sid = "SM" + "t" * 32
    with caplog.at_level(logging.ERROR, logger="hotline.intake.sms"):
        answer = send(client, sid, "电梯故障困人风险")

    assert answer == "【12345】已收到您的短信，我们会尽快处理。"
    assert "not processed" in caplog.text
    assert counts() == (1, 0, 0)
    raw = db.session.scalar(select(InboundRequest))
    assert raw is not None and raw.processed_at is None and raw.attempts == 1
    assert raw.error == "RuntimeError: database hiccup"
    db.session.rollback()

    monkeypatch.undo()
    assert replay_unprocessed(older_than=timedelta(0)) == 1
    ticket = only_ticket()
    # Twilio's retry of the same sid now gets the real answer, without a second ticket.
    assert ticket.reference in send(client, sid, "电梯故障困人风险")
    assert counts() == (1, 2, 1)


# ----------------------------------------------------------------------------- delivery


def outbound(sid: str, status: str = "sent") -> Message:
    ticket = web_ticket()
    message = Message(
        ticket_id=ticket.id,
        direction="outbound",
        channel="sms",
        body="【12345】…",
        status=status,
        external_sid=sid,
        peer=CITIZEN,
        kind="acceptance",
    )
    db.session.add(message)
    db.session.commit()
    return message


def report(client: FlaskClient, sid: str, status: str, **extra: str):  # type: ignore[no-untyped-def]
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
    response = post_signed(client, "/twilio/sms/status", params)
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    assert root.tag == "Response" and len(root) == 0
    return response


def test_delivery_reports_move_forward_and_never_back(twilio: Flask, client: FlaskClient):
    sid = "SM" + "u" * 32
    message = outbound(sid)
    message_id = message.id

    report(client, sid, "queued")
    report(client, sid, "delivered")
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message is not None and message.status == "delivered"
    delivered_at = message.delivered_at
    assert delivered_at is not None and message.sent_at is not None

    report(client, sid, "sent")  # late, out of order
    report(client, sid, "delivered")  # Twilio's retry of the same report
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message is not None
    assert (message.status, message.delivered_at) == ("delivered", delivered_at)
    statuses = db.session.scalars(select(InboundRequest.dedupe_key).order_by(InboundRequest.id))
    assert list(statuses) == [
        f"sms-status:{sid}:queued",
        f"sms-status:{sid}:delivered",
        f"sms-status:{sid}:sent",
    ]


def test_an_undelivered_report_records_the_error_code(twilio: Flask, client: FlaskClient):
    sid = "SM" + "v" * 32
    message_id = outbound(sid).id
    report(client, sid, "sent")
    report(client, sid, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable handset")
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message is not None and message.status == "failed"
    assert message.error == "Twilio undelivered error 30003: Unreachable handset"
    assert message.delivered_at is None


def test_a_report_for_an_unknown_message_is_stored_and_ignored(twilio: Flask, client: FlaskClient):
    report(client, "SM" + "w" * 32, "delivered")
    raw = db.session.scalar(select(InboundRequest))
    assert raw is not None and raw.processed_at is not None and raw.channel == "sms_status"
    assert count(Message) == 0
