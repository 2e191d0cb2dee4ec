"""Sending citizens' SMS through Twilio, exactly once: the `send_sms` job's work
(`send_message`), quiet hours, and the worker's catch-up of messages a stopped worker
left behind (`resend_stuck`) or that waited for credentials (`resend_held`). What is
sent, to whom and when it is queued is hotline.messaging's.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from hotline import privacy, twilio_client
from hotline.extensions import db
from hotline.messaging import STATUS_CALLBACK_PATH, contact_for_phone, reference_of
from hotline.models import Message, Ticket, utcnow
from hotline.models.enums import MessageDirection, MessageStatus, Urgency
from hotline.outbox import enqueue_on_commit

log = logging.getLogger(__name__)

# A message "sending" this long was left by a run that stopped (the REST call itself
# gives up after TWILIO_HTTP_TIMEOUT): the next run asks Twilio whether it took it.
SENDING_GRACE = timedelta(minutes=2)
# A message still "queued" this long lost its job (RQ retries take at most ~45 min in
# all, see hotline.queue.RETRY_INTERVALS, and each leaves it queued): queue it again.
STUCK_AFTER = timedelta(hours=1)


def _status_callback() -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return base.rstrip("/") + STATUS_CALLBACK_PATH if base else None


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
    reference = reference_of(message)
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
