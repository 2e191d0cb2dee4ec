"""Outbound SMS to citizens: templates from configuration, who may be texted, and a
`Message` queued in the caller's transaction for the `send_sms` job that hands it to
Twilio (hotline.sms_sending), and Twilio's delivery reports.

An SMS is a `Message` row before it is anything else: `queue_sms` writes it (status
queued) and an outbox job in the same transaction, so a rollback drops both and a
commit can never send a text about a ticket that does not exist. Without Twilio
credentials the job parks it as "held" (logged, kept); `sms_sending.resend_held`
queues those again once credentials exist. Nothing is ever silently dropped.

Replies that travel inside the webhook's TwiML answer (the reference sent back to a
texting citizen) are recorded with `record_twiml_reply`: already sent, no job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline import privacy
from hotline.extensions import db
from hotline.models import Contact, Message, Ticket, utcnow
from hotline.models.enums import Channel, MessageDirection, MessageStatus
from hotline.outbox import enqueue_on_commit
from hotline.phones import parse_phone

log = logging.getLogger(__name__)

# Message texts are configuration (`SMS_TEMPLATES` overrides any of these by name),
# rendered with str.format_map; an unknown placeholder renders empty, never a crash.
DEFAULT_TEMPLATES: dict[str, str] = {
    # Sent by REST to hall / window / phone callers when the ticket is accepted.
    "acceptance": (
        "【12345】您的诉求已受理，工单编号{reference}，{due_text}。可回复本短信补充情况。"
    ),
    "acceptance_due": "办理时限至{due_date}",
    "acceptance_no_due": "办理时限以派单后通知为准",
    # Replies inside the SMS webhook's TwiML.
    "sms_acceptance": "【12345】您的诉求已受理，工单编号{reference}，可回复本短信补充情况。",
    "sms_appended": "【12345】已收到您对工单{reference}的补充情况，将一并转交办理。",
    "sms_received": "【12345】已收到您的短信，我们会尽快处理。",
    "sms_empty": "【12345】未收到文字内容，请用文字描述您的诉求后重新发送。",
    "sms_opted_out": "【12345】您已退订12345短信通知。回复“订阅”可恢复；如有诉求仍可随时发送短信。",
    "sms_opted_in": "【12345】您已恢复接收12345短信通知。回复“退订”可退订。",
    # Progress notices, queued by the lifecycle services.
    "dispatch": "【12345】您的工单{reference}已转{department}办理，办理时限至{due_date}。",
    "extension": "【12345】您的工单{reference}办理时限已延长至{due_date}。",
    "reply": "【12345】您的工单{reference}已有办理答复：{text}",
    # The follow-up visit by SMS (hotline.visits).
    "visit_survey": (
        "【12345】您的工单{reference}已办理答复，请评价：回复1满意、2基本满意、3不满意，"
        "并加Y或N表示问题是否解决（如“1Y”）。"
    ),
    "visit_thanks": "【12345】感谢您对工单{reference}的评价。",
    "visit_redo": "【12345】已收到您对工单{reference}的评价，我们将督促承办单位重新办理。",
}
# Channels whose citizen gets the reference by SMS on acceptance. An SMS request
# gets it in the webhook's answer; API, Open311 and chat clients see it on screen.
DEFAULT_ACCEPTANCE_CHANNELS = ("sms", "web", "window", "phone")
# Twilio refuses longer bodies (error 21617).
MAX_BODY = 1600
# Ticket ids opened from an inbound SMS webhook: their acceptance travels in its TwiML.
SMS_EXTERNAL_PREFIX = "sms:"
STATUS_CALLBACK_PATH = "/twilio/sms/status"

# Delivery only moves forward: a late "sent" never undoes "delivered".
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.HELD: 0,
    MessageStatus.SENT: 1,
    MessageStatus.FAILED: 2,
    MessageStatus.DELIVERED: 3,
}
_TWILIO_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        log.warning("SMS template placeholder {%s} has no value", key)
        return ""


def render(name: str, values: Mapping[str, Any] | None = None) -> str:
    """The template `name` filled with `values`; a broken city template falls back to ours."""
    configured = current_app.config.get("SMS_TEMPLATES") or {}
    template = configured[name] if name in configured else DEFAULT_TEMPLATES[name]
    try:
        text = str(template).format_map(_Blank(values or {}))
    except (ValueError, IndexError, AttributeError, KeyError):
        if name not in DEFAULT_TEMPLATES:
            raise
        log.exception("SMS template %r is malformed; using the default", name)
        text = DEFAULT_TEMPLATES[name].format_map(_Blank(values or {}))
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


def _local_date(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    return f"{local.year}年{local.month}月{local.day}日"


def ticket_values(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    """What templates may mention about a ticket (no other person's data)."""
    department = ticket.department
    values: dict[str, Any] = {
        "reference": ticket.reference,
        "due_date": _local_date(ticket.due_at),
        "department": department.name if department is not None else "",
        "city": current_app.config.get("CITY_NAME", ""),
        "text": ticket.reply_text or "",
    }
    values.update(extra)
    return values


# ----------------------------------------------------------------------------- queueing


def contact_for_phone(phone_e164: str) -> Contact | None:
    return db.session.scalar(
        select(Contact).where(Contact.phone_hash == privacy.lookup_hash(phone_e164))
    )


def sms_recipient(ticket: Ticket, to: str | None = None) -> str | None:
    """The E.164 mobile to text about `ticket`, or None (logged) when the rules forbid it:
    anonymous, no reply wanted (a confidential caller who declined included), opted
    out, or no valid mobile number (landlines and invalid numbers get no SMS)."""
    reason = None
    contact = ticket.contact
    info = None
    if ticket.anonymous:
        reason = "anonymous ticket"
    elif not ticket.wants_reply:
        reason = "the caller wants no reply" + (" (confidential)" if ticket.confidential else "")
    else:
        raw = to if to is not None else (contact.phone if contact is not None else None)
        info = parse_phone(raw, current_app.config["DEFAULT_REGION"]) if raw else None
        if info is None or info.kind != "mobile" or info.e164 is None:
            reason = "no valid mobile number"
        else:
            if to is not None:
                contact = contact_for_phone(info.e164)
            if contact is not None and contact.sms_opt_out:
                reason = "the number opted out of SMS (退订)"
    if reason is not None or info is None:
        log.info("ticket %s: no SMS: %s", ticket.reference, reason)
        return None
    return info.e164


def queue_sms(ticket: Ticket, body: str, kind: str, to: str | None = None) -> Message | None:
    """Write an outbound SMS (status queued) and its `send_sms` job into the caller's
    transaction; None when the citizen must not or cannot be texted. The caller commits."""
    recipient = sms_recipient(ticket, to)
    if recipient is None:
        return None
    message = Message(
        ticket_id=ticket.id,
        direction=MessageDirection.OUTBOUND,
        channel=Channel.SMS,
        body=body[:MAX_BODY],
        status=MessageStatus.QUEUED,
        peer=recipient,
        kind=kind,
    )
    db.session.add(message)
    db.session.flush()
    enqueue_on_commit("send_sms", ticket_id=ticket.id, message_id=message.id)
    return message


def record_twiml_reply(ticket: Ticket | None, body: str, kind: str, to: str | None) -> Message:
    """Record a reply that goes back inside the webhook's TwiML answer (no REST call).

    It answers the citizen's own message, so it is sent even to an opted-out number
    (the 退订 confirmation itself is one); `to` is the sender as Twilio gave it.
    """
    now = utcnow()
    message = Message(
        ticket_id=ticket.id if ticket is not None else None,
        direction=MessageDirection.OUTBOUND,
        channel=Channel.SMS,
        body=body,
        status=MessageStatus.SENT,
        peer=to,
        kind=kind,
        sent_at=now,
        at=now,
    )
    db.session.add(message)
    return message


def notify_acceptance(ticket: Ticket) -> Message | None:
    """Tell the citizen the reference (call inside `open_ticket`'s transaction).

    A ticket opened from an inbound SMS is answered in the webhook's TwiML (recorded
    here as sent); hall, window and phone callers get a queued SMS; API, Open311 and
    chat get none.
    """
    channels = current_app.config.get("SMS_ACCEPTANCE_CHANNELS", DEFAULT_ACCEPTANCE_CHANNELS)
    if ticket.channel not in channels:
        return None
    if ticket.channel == Channel.SMS and (ticket.external_id or "").startswith(SMS_EXTERNAL_PREFIX):
        sender = ticket.contact.phone if ticket.contact is not None else ticket.caller_phone_raw
        body = render("sms_acceptance", ticket_values(ticket))
        return record_twiml_reply(ticket, body, "acceptance", sender)
    due_text = render(
        "acceptance_due" if ticket.due_at is not None else "acceptance_no_due",
        ticket_values(ticket),
    )
    return queue_sms(
        ticket, render("acceptance", ticket_values(ticket, due_text=due_text)), "acceptance"
    )


def notify_ticket(ticket: Ticket, template: str, **values: Any) -> Message | None:
    """Queue the progress notice `template` (dispatch, extension, reply …) about `ticket`,
    in the caller's transaction; None when the citizen must not or cannot be texted."""
    body = render(template, ticket_values(ticket, **values))
    return queue_sms(ticket, body, template)


def reference_of(message: Message) -> str:
    if message.ticket_id is None:
        return "-"
    return db.session.scalar(select(Ticket.reference).where(Ticket.id == message.ticket_id)) or "-"


# ----------------------------------------------------------------------------- delivery


def apply_status(
    sid: str, twilio_status: str, error_code: str | None = None, error_message: str | None = None
) -> Message | None:
    """Record Twilio's delivery report on the outbound message it concerns (in the
    caller's transaction); never moves a message backwards. None for an unknown sid.

    A report can only beat `send_message`'s commit for "sent", which that commit sets
    anyway; "delivered" needs a carrier round trip.
    """
    status = _TWILIO_STATUS.get(twilio_status.strip().lower())
    message = db.session.scalar(
        select(Message)
        .where(Message.external_sid == sid, Message.direction == MessageDirection.OUTBOUND)
        .with_for_update()
    )
    if message is None:
        log.info("SMS status %s for unknown message %s ignored", twilio_status, sid)
        return None
    if status is None or _RANK[status] <= _RANK.get(message.status, 0):
        return message  # queued/sending reports, repeats and late arrivals change nothing
    now = utcnow()
    message.status = status
    message.sent_at = message.sent_at or now
    if status == MessageStatus.DELIVERED:
        message.delivered_at = now
        message.error = None
    elif status == MessageStatus.FAILED:
        detail = f"Twilio {twilio_status}" + (f" error {error_code}" if error_code else "")
        message.error = detail + (f": {error_message}" if error_message else "")
        log.warning("ticket %s: SMS %s %s", reference_of(message), message.id, message.error)
    return message
