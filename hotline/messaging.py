"""Outbound SMS to citizens: templates from configuration, a `Message` queued in the
caller's transaction, and the `send_sms` job that hands it to Twilio.

An SMS is a `Message` row before it is anything else: `queue_sms` writes it (status
queued) and an outbox job in the same transaction, so a rollback drops both and a
commit can never send a text about a ticket that does not exist. Without Twilio
credentials the job parks it as "held" (logged, kept); `resend_held` queues those
again once credentials exist. Nothing is ever silently dropped.

Replies that travel inside the webhook's TwiML answer (the reference sent back to a
texting citizen) are recorded with `record_twiml_reply`: already sent, no job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from hotline import privacy, twilio_client
from hotline.extensions import db
from hotline.models import Contact, Message, Ticket, utcnow
from hotline.models.enums import Channel, MessageDirection, MessageStatus, Urgency
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
# A message "sending" this long was left by a run that stopped (the REST call itself
# gives up after TWILIO_HTTP_TIMEOUT): the next run asks Twilio whether it took it.
SENDING_GRACE = timedelta(minutes=2)
# A message still "queued" this long lost its job (RQ retries take at most ~45 min in
# all, see hotline.queue.RETRY_INTERVALS, and each leaves it queued): queue it again.
STUCK_AFTER = timedelta(hours=1)
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


# ----------------------------------------------------------------------------- sending


def _status_callback() -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return base.rstrip("/") + STATUS_CALLBACK_PATH if base else None


def _reference_of(message: Message) -> str:
    if message.ticket_id is None:
        return "-"
    return db.session.scalar(select(Ticket.reference).where(Ticket.id == message.ticket_id)) or "-"


def _describe(exc: TwilioRestException | TwilioServiceException) -> str:
    # TwilioRestException carries `msg`; the RFC 9457 TwilioServiceException `detail`/`title`.
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    return f"Twilio {exc.status} error {exc.code}: {detail}"[:2000]


def _is_permanent(exc: TwilioRestException | TwilioServiceException) -> bool:
    """4xx but 429 (throttled) is the request's fault: retrying cannot help."""
    return 400 <= exc.status < 500 and exc.status != 429


def send_message(message_id: int) -> str:
    """Send one queued SMS through Twilio; returns the message's status afterwards.

    Exactly once, even when a worker dies mid-job: the row is locked (SELECT … FOR
    UPDATE; SQLite's BEGIN IMMEDIATE serialises the same way) and marked "sending"
    (committed) before the REST call, then "sent" with Twilio's sid. A run that finds
    it "sending" leaves it alone for SENDING_GRACE (another run is on it); after that
    the earlier run died, and Twilio is asked whether it took the message (a text to
    that number with that body since the attempt): if so it is recorded as sent,
    otherwise it is sent now. `resend_stuck` re-runs such jobs.

    Twilio's transient answers (5xx, 429) put it back to queued and re-raise, so RQ's
    Retry sends it later; no answer at all (timeout, dropped connection) leaves it
    "sending", to be checked with Twilio as above; a permanent 4xx marks it failed;
    rejected credentials (401) or none at all hold it for `resend_held`.
    """
    message = db.session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if message is None:
        db.session.rollback()
        log.error("SMS message %s does not exist; nothing to send", message_id)
        return "missing"
    now = utcnow()
    interrupted = message.status == MessageStatus.SENDING
    if interrupted and message.attempted_at and now - message.attempted_at < SENDING_GRACE:
        db.session.rollback()
        return MessageStatus.SENDING
    if not interrupted and message.status != MessageStatus.QUEUED:
        status = message.status
        db.session.rollback()
        return status
    if message.direction != MessageDirection.OUTBOUND:
        db.session.rollback()
        return message.status
    reference = _reference_of(message)
    peer = message.peer or ""
    contact = contact_for_phone(peer) if peer else None
    opted_out = contact is not None and contact.sms_opt_out
    if opted_out and not interrupted:
        return _opted_out(message, reference)
    client = twilio_client.rest_client()
    sender = current_app.config.get("TWILIO_NUMBER")
    if client is None or not sender:
        return _hold(message, reference, "no Twilio credentials or TWILIO_NUMBER configured")
    if not interrupted:
        resume = quiet_until(now, message)
        if resume is not None:
            db.session.rollback()
            _send_later(message_id, resume, reference)
            return MessageStatus.QUEUED
    # "sending" from here on, with this run's time: another run leaves it alone now,
    # and the lock is given back before Twilio is called (SQLite: no writer waits).
    since = (message.attempted_at or message.at) - timedelta(minutes=5)
    message.status = MessageStatus.SENDING
    message.attempted_at = now
    body = message.body
    db.session.commit()
    if interrupted:
        try:
            taken = _taken_by_twilio(client, peer, sender, body, since)
        except Exception as exc:  # an error page, a timeout: still unknown, checked again
            _note_unsure(message_id, reference, f"checking an interrupted send: {exc}")
            raise
        if taken is not None:
            log.info(
                "ticket %s: SMS %s had reached Twilio before a worker stopped",
                reference,
                message_id,
            )
            return _sent(_locked(message_id), taken, reference)
        if opted_out:
            return _opted_out(_locked(message_id), reference)
    arguments: dict[str, Any] = {"to": peer, "from_": sender, "body": message.body}
    callback = _status_callback()
    if callback:
        arguments["status_callback"] = callback
    try:
        sent = client.messages.create(**arguments)
    except (TwilioRestException, TwilioServiceException) as exc:
        problem = _describe(exc)
        if exc.status == 401:
            return _hold(_locked(message_id), reference, problem)
        if _is_permanent(exc):
            failed = _locked(message_id)
            failed.status = MessageStatus.FAILED
            failed.error = problem
            db.session.commit()
            log.warning("ticket %s: SMS %s failed: %s", reference, message_id, problem)
            return MessageStatus.FAILED
        _note_transient(message_id, reference, problem)
        raise
    except Exception as exc:
        # No answer from Twilio (a timeout, a dropped connection): it may have taken the
        # message. It stays "sending": after SENDING_GRACE the next run asks Twilio.
        _note_unsure(message_id, reference, f"{exc.__class__.__name__}: {exc}")
        raise
    return _sent(_locked(message_id), str(sent.sid), reference)


def _opted_out(message: Message, reference: str) -> str:
    message.status = MessageStatus.FAILED
    message.error = "opted out (退订) before it was sent"
    db.session.commit()
    log.info("ticket %s: SMS %s not sent: the number opted out", reference, message.id)
    return MessageStatus.FAILED


def quiet_until(now: datetime, message: Message) -> datetime | None:
    """The end of SMS_QUIET_HOURS if `now` falls in them and the message may wait (its
    ticket is no emergency); None when it goes now."""
    spec = current_app.config.get("SMS_QUIET_HOURS")
    if not spec:
        return None
    ticket = db.session.get(Ticket, message.ticket_id) if message.ticket_id else None
    if ticket is not None and ticket.urgency == Urgency.EMERGENCY:
        return None
    start_text, _sep, end_text = str(spec).partition("-")
    start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    local = now.astimezone(zone)
    clock = local.time()
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def _send_later(message_id: int, at: datetime, reference: str) -> None:
    from hotline.queue import get_queue

    get_queue().enqueue_at(
        at,
        "hotline.jobs.send_sms",
        message_id=message_id,
        job_id=f"sms-{message_id}-after-quiet-{at:%Y%m%d%H%M}",
    )
    log.info("ticket %s: SMS %s waits out the quiet hours until %s", reference, message_id, at)


def _locked(message_id: int) -> Message:
    db.session.rollback()
    message = db.session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    assert message is not None  # rows are never deleted
    return message


def _sent(message: Message, sid: str, reference: str) -> str:
    message.external_sid = sid
    message.status = MessageStatus.SENT
    message.sent_at = utcnow()
    message.error = None
    db.session.commit()
    log.info(
        "ticket %s: SMS %s sent to %s as %s",
        reference,
        message.id,
        privacy.mask_phone(message.peer),
        sid,
    )
    return MessageStatus.SENT


def _taken_by_twilio(client: Any, peer: str, sender: str, body: str, since: datetime) -> str | None:
    """The sid of the text Twilio took for this message in an interrupted run, if any:
    to the same number, from ours, with the same body, created since the attempt (the
    newest first; one Twilio has not sent yet has no date_sent, so creation counts)."""
    for found in client.messages.list(to=peer, from_=sender, limit=50):
        created = found.date_created
        if found.body == body and (created is None or created >= since):
            return str(found.sid)
    return None


def _note_unsure(message_id: int, reference: str, problem: str) -> None:
    unsure = _locked(message_id)
    unsure.error = f"no answer from Twilio, will check: {problem}"[:2000]
    db.session.commit()
    log.warning("ticket %s: SMS %s: no answer from Twilio: %s", reference, message_id, problem)


def _hold(message: Message, reference: str, why: str) -> str:
    message.status = MessageStatus.HELD
    message.error = why
    db.session.commit()
    log.warning(
        "ticket %s: SMS %s to %s held, not sent (%s); kept for resend_held: %s",
        reference,
        message.id,
        privacy.mask_phone(message.peer),
        why,
        message.body,
    )
    return MessageStatus.HELD


def _note_transient(message_id: int, reference: str, problem: str) -> None:
    """Note the problem on the row and put it back to queued for RQ's retry (Twilio
    answered, so it did not take the message)."""
    message = _locked(message_id)
    message.status = MessageStatus.QUEUED
    message.error = f"will retry: {problem}"[:2000]
    db.session.commit()
    log.warning("ticket %s: SMS %s not sent yet, RQ retries: %s", reference, message_id, problem)


def resend_stuck(limit: int = 500) -> int:
    """Run again the sending of messages a stopped worker left behind: "sending" for
    longer than SENDING_GRACE, or "queued" for longer than STUCK_AFTER (their job was
    lost with its worker); messages waiting out the quiet hours are left to their
    scheduled job. Sending is idempotent, so a job that is merely slow is harmless to
    repeat; one already queued for this hour is not queued again. Returns how many
    were queued again."""
    from rq.job import Job

    from hotline.queue import enqueue_outbox_job, redis_connection

    now = utcnow()
    rows = db.session.scalars(
        select(Message)
        .where(
            Message.direction == MessageDirection.OUTBOUND,
            (
                (Message.status == MessageStatus.SENDING)
                & (Message.attempted_at <= now - SENDING_GRACE)
            )
            | ((Message.status == MessageStatus.QUEUED) & (Message.at <= now - STUCK_AFTER)),
        )
        .order_by(Message.status.desc(), Message.id)  # "sending" before "queued"
        .limit(limit)
    ).all()
    due = [m.id for m in rows if m.status == MessageStatus.SENDING or quiet_until(now, m) is None]
    db.session.rollback()
    slot = int(now.timestamp() // STUCK_AFTER.total_seconds())
    connection = redis_connection()
    queued = 0
    for message_id in due:
        job_key = f"sms{message_id}-{slot}"
        if Job.exists(f"outbox-{job_key}", connection=connection):
            continue
        enqueue_outbox_job(job_key, "send_sms", {"message_id": message_id})
        queued += 1
    if queued:
        log.info("resend_stuck: %d SMS queued again", queued)
    return queued


def resend_held(limit: int = 500) -> int:
    """Queue held messages again (once credentials exist); returns how many."""
    if twilio_client.rest_client() is None or not current_app.config.get("TWILIO_NUMBER"):
        log.warning("resend_held: Twilio is still not configured; held messages stay held")
        return 0
    held = db.session.scalars(
        select(Message)
        .where(Message.status == MessageStatus.HELD, Message.direction == MessageDirection.OUTBOUND)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update()
    ).all()
    for message in held:
        message.status = MessageStatus.QUEUED
        message.error = None
        enqueue_on_commit("send_sms", ticket_id=message.ticket_id, message_id=message.id)
    db.session.commit()
    if held:
        log.info("resend_held: %d held SMS queued again", len(held))
    return len(held)


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
        log.warning("ticket %s: SMS %s %s", _reference_of(message), message.id, message.error)
    return message
