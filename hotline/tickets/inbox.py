"""A handling unit's inbox (待办): the open tickets it holds, the nearest deadline first,
each marked yellow when its warning time has come and red when overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from hotline import privacy
from hotline.clock.service import yellow_warning_for
from hotline.extensions import db
from hotline.models import Ticket, utcnow
from hotline.models.enums import OPEN_STATUSES, TicketStatus
from hotline.tickets.access import unit_holds

INBOX_LIMIT = 200
# Waiting on the hotline centre (a review), not on the unit.
WITH_THE_CENTRE = frozenset(
    {TicketStatus.RETURN_REVIEW, TicketStatus.EXTENSION_REVIEW, TicketStatus.REPLY_REVIEW}
)


@dataclass
class InboxRow:
    ticket: Ticket
    deadline: datetime | None  # signing while pending_sign, else handling
    mark: str  # "red" overdue, "yellow" warning time reached, "" otherwise
    waiting_on_centre: bool

    @property
    def title(self) -> str:
        """The title as the unit may read it: a confidential caller's ID and phone
        numbers scrubbed, as on the ticket page."""
        if self.ticket.confidential:
            return privacy.scrub_text(self.ticket.title) or ""
        return self.ticket.title


@dataclass
class Inbox:
    rows: list[InboxRow]
    total: int
    overdue: int
    warned: int


def _deadline_column():  # type: ignore[no-untyped-def]
    return case(
        (Ticket.status == TicketStatus.PENDING_SIGN, Ticket.sign_due_at), else_=Ticket.due_at
    )


def unit_inbox(department_id: int, *, now: datetime | None = None) -> Inbox:
    """The unit's open tickets, nearest deadline first (none last), at most INBOX_LIMIT."""
    now = now or utcnow()
    held = (
        Ticket.status.in_(sorted(OPEN_STATUSES - {TicketStatus.ACCEPTED})),
        unit_holds(Ticket.id, department_id),
    )
    total = db.session.scalar(select(func.count(Ticket.id)).where(*held)) or 0
    tickets = db.session.scalars(
        select(Ticket)
        .where(*held)
        .order_by(_deadline_column().asc().nulls_last(), Ticket.received_at, Ticket.id)
        .limit(INBOX_LIMIT)
    ).all()
    rows = [_row(ticket, now) for ticket in tickets]
    return Inbox(
        rows=rows,
        total=total,
        overdue=sum(r.mark == "red" for r in rows),
        warned=sum(r.mark == "yellow" for r in rows),
    )


def _row(ticket: Ticket, now: datetime) -> InboxRow:
    signing = ticket.status == TicketStatus.PENDING_SIGN
    deadline = ticket.sign_due_at if signing else ticket.due_at
    start = ticket.dispatched_at if signing else (ticket.signed_at or ticket.dispatched_at)
    # The warning time kept beside the deadline (hotline.tickets.warnings), else worked out.
    warn = ticket.sign_warn_at if signing else ticket.due_warn_at
    mark = ""
    if deadline is not None:
        if warn is None:
            warn = yellow_warning_for(start or ticket.received_at, deadline).at
        if now > deadline:
            mark = "red"
        elif now >= warn:
            mark = "yellow"
    return InboxRow(ticket, deadline, mark, ticket.status in WITH_THE_CENTRE)
