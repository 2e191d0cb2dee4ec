"""SMS intake: a text opens a ticket, adds to one, or opts the number in or out of SMS.

The webhook stores the raw payload first (`store_inbound`, keyed by MessageSid, so
Twilio's retries find it) and then processes it here. What a text does:

1. `STOP` / `退订` / `TD` (trimmed, any case) opts the number out of outbound SMS;
   `START` / `订阅` opts it back in. No ticket.
2. A text quoting a reference (`{adcode}{yyyymmdd}{6 digits}`) of a ticket filed from
   the sender's number is added to that ticket's thread.
3. A text answering the follow-up visit's survey outstanding for the sender's ticket
   (hotline.visits: "1Y", "满意", "没解决" …) records the visit: the ticket closes or is
   redone (重办). A text that is no answer goes on below.
4. Otherwise, the sender's most recent open ticket received in the last
   `SMS_THREAD_DAYS` days (any channel: the acceptance SMS of a hall or phone ticket
   invites a reply) gets it.
5. Otherwise it opens a ticket (channel sms, urgency general). Its type is guessed
   from keywords (`SMS_TYPE_KEYWORDS`): 举报 → report, 投诉 → complaint, 建议 →
   suggestion, 表扬/感谢 → praise, a question about a procedure → consult; anything
   else is "help" (求助), whose 10-working-day limit is the safe side of a wrong guess
   — the agent corrects the type before dispatch.

Every answer is a TwiML reply, recorded as an outbound message, and rebuilt from the
stored rows when Twilio retries, so a retry gets the same answer and changes nothing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import select

from hotline import messaging, privacy, visits
from hotline.audit import record_event
from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.intake.raw import process, processor, store_inbound
from hotline.models import OPEN_STATUSES, Contact, Message, Ticket, utcnow
from hotline.models.enums import Channel, MessageDirection, MessageStatus, TicketType, Urgency
from hotline.outbox import notify_on_commit
from hotline.phones import PhoneInfo, parse_phone
from hotline.tickets.common import load_for_update
from hotline.tickets.intake import NewTicket, existing_for, find_contact, open_ticket

log = logging.getLogger(__name__)

DEFAULT_OPT_OUT_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "退订", "TD")
DEFAULT_OPT_IN_WORDS = ("START", "UNSTOP", "订阅")
# First match wins; no match: help (求助).
DEFAULT_TYPE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (TicketType.REPORT, ("举报",)),
    (TicketType.COMPLAINT, ("投诉",)),
    (TicketType.SUGGESTION, ("建议",)),
    (TicketType.PRAISE, ("表扬", "感谢", "点赞")),
    (TicketType.CONSULT, ("咨询", "请问", "如何办理", "怎么办理", "怎样办理", "需要什么材料")),
)
DEFAULT_TYPE = TicketType.HELP
# adcode (6) + local date (8) + daily sequence (6), not part of a longer number.
REFERENCE = re.compile(
    r"(?<!\d)(\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{6})(?!\d)"
)
MAX_MEDIA = 10  # Twilio's limit per MMS
_PUNCTUATION = " \t\r\n.。!！,，;；~～"


class SmsKind(StrEnum):
    """What an inbound text did (kept on its `Message.kind`, so a retry can be answered)."""

    REQUEST = "request"  # opened a ticket
    FOLLOWUP = "followup"  # added to a ticket's thread
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    EMPTY = "empty"  # nothing to act on
    SURVEY = "survey"  # answered a follow-up visit's survey (hotline.visits)


def receive(form: dict[str, str]) -> str:
    """Store an inbound SMS, process it once, and return the reply text for its TwiML.

    A failure after the payload is stored is logged and answered with a plain
    acknowledgement; the stored row stays unprocessed for `replay_unprocessed`.
    """
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise InvalidInput("MessageSid is missing", "缺少 MessageSid", field="MessageSid")
    row, _first = store_inbound("sms", form, dedupe_key=f"sms:{sid}")
    try:
        process(row)  # a processed row (Twilio's retry) is skipped
        return reply_for(sid)
    except Exception:
        db.session.rollback()
        log.exception("inbound SMS %s stored as request %s but not processed", sid, row.id)
        return messaging.render("sms_received")


def record_status(form: dict[str, str]) -> None:
    """Store a delivery report (keyed by sid and status) and apply it to its message."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        raise InvalidInput("MessageSid or MessageStatus is missing", "缺少 MessageSid 或状态")
    row, _first = store_inbound("sms_status", form, dedupe_key=f"sms-status:{sid}:{status}")
    try:
        process(row)
    except Exception:
        db.session.rollback()
        log.exception("SMS status %s/%s stored as request %s but not applied", sid, status, row.id)


@processor("sms_status")
def apply_status_report(payload: dict[str, Any]) -> Ticket | None:
    message = messaging.apply_status(
        str(payload.get("MessageSid") or payload.get("SmsSid")),
        str(payload.get("MessageStatus") or payload.get("SmsStatus") or ""),
        payload.get("ErrorCode") or None,
        payload.get("ErrorMessage") or None,
    )
    if message is None or message.ticket_id is None:
        return None
    return db.session.get(Ticket, message.ticket_id)


# ----------------------------------------------------------------------------- processing


def _normalised(text: str) -> str:
    """Full-width digits and letters as ASCII (phones often type them), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def _command(text: str) -> SmsKind | None:
    word = _normalised(text).strip(_PUNCTUATION).upper()
    config = current_app.config
    if word in {w.upper() for w in config.get("SMS_OPT_OUT_WORDS", DEFAULT_OPT_OUT_WORDS)}:
        return SmsKind.OPT_OUT
    if word in {w.upper() for w in config.get("SMS_OPT_IN_WORDS", DEFAULT_OPT_IN_WORDS)}:
        return SmsKind.OPT_IN
    return None


def guess_type(text: str) -> str:
    """The ticket type an SMS most likely asks for (keywords; default help)."""
    rules = current_app.config.get("SMS_TYPE_KEYWORDS", DEFAULT_TYPE_KEYWORDS)
    for ticket_type, words in rules.items() if isinstance(rules, Mapping) else rules:
        if any(word in text for word in words):
            return str(ticket_type)
    return str(DEFAULT_TYPE)


def _content(payload: dict[str, Any]) -> str:
    """The body, plus the links of any MMS media (the raw payload keeps them too)."""
    body = str(payload.get("Body") or "").strip()
    try:
        media = int(payload.get("NumMedia") or 0)
    except ValueError:
        media = 0
    links = [
        str(payload[f"MediaUrl{i}"])
        for i in range(min(media, MAX_MEDIA))
        if payload.get(f"MediaUrl{i}")
    ]
    if links:
        body = (body + "\n" if body else "") + "附件：" + " ".join(links)
    return body


def _inbound(sid: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.external_sid == sid, Message.direction == MessageDirection.INBOUND
        )
    )


def _new_inbound(sid: str, sender: str, body: str, kind: SmsKind) -> Message:
    message = Message(
        direction=MessageDirection.INBOUND,
        channel=Channel.SMS,
        body=body,
        status=MessageStatus.RECEIVED,
        external_sid=sid,
        peer=sender or None,
        kind=kind,
    )
    db.session.add(message)
    return message


@processor("sms")
def process_sms(payload: dict[str, Any]) -> Ticket | None:
    """Act on a stored inbound SMS (see the module docstring); raw.process commits."""
    sid = str(payload.get("MessageSid") or payload.get("SmsSid"))
    earlier = _inbound(sid)
    if earlier is not None:  # a replay after a crash between this and the mark_processed commit
        if earlier.kind == SmsKind.REQUEST and earlier.ticket_id is None:
            ticket = existing_for(messaging.SMS_EXTERNAL_PREFIX + sid)
            earlier.ticket_id = ticket.id if ticket is not None else None
        return db.session.get(Ticket, earlier.ticket_id) if earlier.ticket_id else None
    sender = str(payload.get("From") or "").strip()
    info = parse_phone(sender, current_app.config["DEFAULT_REGION"])
    content = _content(payload)
    command = _command(content)
    if command is not None:
        _set_opt_out(info, command == SmsKind.OPT_OUT, sid)
        _new_inbound(sid, sender, content, command)
        reply = "sms_opted_out" if command == SmsKind.OPT_OUT else "sms_opted_in"
        messaging.record_twiml_reply(None, messaging.render(reply), command, sender or None)
        return None
    if not content:
        _new_inbound(sid, sender, content, SmsKind.EMPTY)
        messaging.record_twiml_reply(None, messaging.render("sms_empty"), "empty", sender or None)
        return None
    surveyed = visits.surveyed_ticket(info.e164)
    if surveyed is not None and visits.read_answer(content) is not None:
        return _survey_answer(surveyed, sid, content, sender)
    thread = _thread_for(content, info)
    if thread is not None:
        return _append(thread, sid, content, sender)
    return _open(payload, content, sender, sid)


def _survey_answer(ticket: Ticket, sid: str, content: str, sender: str) -> Ticket:
    """The citizen answers the follow-up visit's survey: the ticket closes or is redone."""
    message = _new_inbound(sid, sender, content, SmsKind.SURVEY)
    message.ticket_id = ticket.id
    db.session.flush()
    template, _answer = visits.answer_survey(ticket, content)
    answered = db.session.get(Ticket, ticket.id)
    assert answered is not None
    body = messaging.render(template, messaging.ticket_values(answered))
    messaging.record_twiml_reply(answered, body, "survey_reply", sender or None)
    return answered


def _set_opt_out(info: PhoneInfo, opted_out: bool, sid: str) -> None:
    if info.e164 is None:
        log.warning("SMS %s: cannot record 退订/订阅 for an invalid sender number", sid)
        return
    contact = find_contact(info.e164)
    if contact is None:
        contact = Contact(phone_hash=privacy.lookup_hash(info.e164), phone=info.e164)
        db.session.add(contact)
    contact.sms_opt_out = opted_out
    contact.opted_out_at = utcnow() if opted_out else None
    log.info(
        "SMS %s: %s %s",
        sid,
        privacy.mask_phone(info.e164),
        "opted out" if opted_out else "opted in",
    )


def _thread_for(text: str, info: PhoneInfo) -> Ticket | None:
    """The ticket this text continues: a quoted reference of the sender's own ticket,
    else their latest open ticket of the last SMS_THREAD_DAYS days, else None."""
    if info.e164 is None:
        return None
    phone_hash = privacy.lookup_hash(info.e164)
    quoted = list(dict.fromkeys(REFERENCE.findall(_normalised(text))))
    if quoted:
        own = db.session.scalar(
            select(Ticket)
            .join(Contact, Ticket.contact_id == Contact.id)
            .where(Ticket.reference.in_(quoted), Contact.phone_hash == phone_hash)
            .order_by(Ticket.received_at.desc())
            .limit(1)
        )
        if own is not None:
            return own
    days = current_app.config.get("SMS_THREAD_DAYS", 7)
    return db.session.scalar(
        select(Ticket)
        .join(Contact, Ticket.contact_id == Contact.id)
        .where(
            Contact.phone_hash == phone_hash,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.received_at >= utcnow() - timedelta(days=days),
        )
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def _append(thread: Ticket, sid: str, content: str, sender: str) -> Ticket:
    ticket = load_for_update(thread.reference)
    message = _new_inbound(sid, sender, content, SmsKind.FOLLOWUP)
    message.ticket_id = ticket.id
    db.session.flush()
    record_event(
        "message.received",
        actor=None,
        ticket=ticket,
        from_status=ticket.status,
        to_status=ticket.status,
        data={"channel": Channel.SMS, "message_id": message.id},
    )
    rooms = ["office", f"ticket:{ticket.reference}"]
    rooms += [f"unit:{a.department.code}" for a in ticket.current_assignments()]
    notify_on_commit(
        "ticket.message",
        {
            "reference": ticket.reference,
            "message_id": message.id,
            "channel": Channel.SMS,
            "direction": MessageDirection.INBOUND,
            "at": message.at.isoformat(),
        },
        rooms=rooms,
        ticket_id=ticket.id,
    )
    body = messaging.render("sms_appended", messaging.ticket_values(ticket))
    messaging.record_twiml_reply(ticket, body, "receipt", sender or None)
    log.info("ticket %s: SMS %s added to the thread", ticket.reference, sid)
    return ticket


def _open(payload: dict[str, Any], content: str, sender: str, sid: str) -> Ticket:
    # Written before the ticket so the conversation reads in order; open_ticket commits
    # it together with the ticket and the acceptance reply.
    message = _new_inbound(sid, sender, content, SmsKind.REQUEST)
    db.session.flush()
    ticket, created = open_ticket(
        NewTicket(
            channel=Channel.SMS,
            type=guess_type(content),
            urgency=Urgency.GENERAL,
            content=content,
            phone=sender or None,
            keep_invalid_phone=True,
            line_dialled=str(payload.get("To") or "") or None,
            external_id=messaging.SMS_EXTERNAL_PREFIX + sid,
        ),
        None,
    )
    if created:
        message.ticket_id = ticket.id
        log.info("ticket %s: opened from SMS %s", ticket.reference, sid)
    else:  # a concurrent delivery of the same sid won: its rows stand
        db.session.rollback()
    return ticket


def reply_for(sid: str) -> str:
    """The answer to inbound SMS `sid`, rebuilt from what processing stored."""
    inbound = _inbound(sid)
    if inbound is None:
        return messaging.render("sms_received")
    ticket = db.session.get(Ticket, inbound.ticket_id) if inbound.ticket_id else None
    if inbound.kind == SmsKind.REQUEST and ticket is not None:
        accepted = db.session.scalar(
            select(Message.body)
            .where(
                Message.ticket_id == ticket.id,
                Message.direction == MessageDirection.OUTBOUND,
                Message.kind == "acceptance",
            )
            .order_by(Message.id)
            .limit(1)
        )
        return accepted or messaging.render("sms_acceptance", messaging.ticket_values(ticket))
    if inbound.kind == SmsKind.SURVEY and ticket is not None:
        return visits.survey_reply(ticket, inbound) or messaging.render("sms_received")
    if inbound.kind == SmsKind.FOLLOWUP and ticket is not None:
        return messaging.render("sms_appended", messaging.ticket_values(ticket))
    template = {
        SmsKind.OPT_OUT: "sms_opted_out",
        SmsKind.OPT_IN: "sms_opted_in",
        SmsKind.EMPTY: "sms_empty",
    }.get(inbound.kind, "sms_received")
    return messaging.render(template)
