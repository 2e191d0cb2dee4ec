"""A caller asks the progress of a ticket on the voice line (按3): read back its status
and due date, only to the phone the ticket was filed from."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline import privacy
from hotline.extensions import db
from hotline.intake import voice_text as say
from hotline.intake.voice import lock_call, queue_call
from hotline.models import Contact, Ticket, utcnow
from hotline.phones import parse_phone
from hotline.tickets.lifecycle import STATUS_ZH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressReply:
    found: bool
    text: str  # what the caller hears
    give_up: bool = False  # not found twice: the caller goes to an agent


def look_up_progress(form: Mapping[str, str], attempt: int) -> ProgressReply:
    """`POST /twilio/voice/progress`: read back a ticket's status and due date, only to
    the phone the ticket was filed from; anyone else hears "not found"."""
    reference = re.sub(r"\D", "", form.get("Digits") or "")
    caller = parse_phone(form.get("From") or "", current_app.config.get("DEFAULT_REGION", "CN"))
    ticket = None
    if reference and caller.e164:
        ticket = db.session.scalar(
            select(Ticket)
            .join(Contact, Ticket.contact_id == Contact.id)
            .where(
                Ticket.reference == reference,
                Contact.phone_hash == privacy.lookup_hash(caller.e164),
            )
        )
    if ticket is None:
        if attempt >= 2:
            _queue_after_progress(form)
            return ProgressReply(False, say.REFERENCE_GIVE_UP, give_up=True)
        return ProgressReply(False, say.REFERENCE_NOT_FOUND)
    month = day = None
    if ticket.is_open and ticket.due_at is not None:
        local = ticket.due_at.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
        month, day = local.month, local.day
    status = STATUS_ZH.get(ticket.status, ticket.status)
    return ProgressReply(True, say.progress(ticket.reference, status, month, day))


def _queue_after_progress(form: Mapping[str, str]) -> None:
    try:
        call = lock_call(form, utcnow())
        queue_call(call, utcnow())
        db.session.commit()
    except Exception:  # the caller is queued by the TwiML either way
        db.session.rollback()
        log.exception("could not record the queueing of call %s", form.get("CallSid"))
