"""When each deadline's yellow warning starts, kept on the ticket beside the deadline
(`sign_warn_at`, `due_warn_at`), so the deadline sweep reads a range of an index
instead of working the warning out for every open ticket on every round.

Whichever service moves a deadline (dispatch, sign, extension, redo, a recalculation),
the times follow at flush: a `before_flush` listener recomputes them for every ticket
whose deadlines or clock starts changed. The sweep fills in any still missing (rows
from before this existed, or written without an app context).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from hotline.models import Ticket

# The deadlines and the moments their clocks start from (as the inbox counts them).
WATCHED = ("sign_due_at", "due_at", "dispatched_at", "signed_at", "received_at")


def warning_at(start: datetime | None, due: datetime | None) -> datetime | None:
    from hotline.clock.service import yellow_warning_for

    if due is None:
        return None
    return yellow_warning_for(start or due, due).at


def fill(ticket: Ticket) -> None:
    """Set both warning times from the ticket's deadlines (WARNING_YELLOW)."""
    sign_start = ticket.dispatched_at or ticket.received_at
    due_start = ticket.signed_at or ticket.dispatched_at or ticket.received_at
    ticket.sign_warn_at = warning_at(sign_start, ticket.sign_due_at)
    ticket.due_warn_at = warning_at(due_start, ticket.due_at)


def _moved(ticket: Ticket) -> bool:
    state: Any = inspect(ticket)
    if state.pending:
        return ticket.sign_due_at is not None or ticket.due_at is not None
    return any(state.attrs[name].history.has_changes() for name in WATCHED)


@event.listens_for(Session, "before_flush")
def _follow_deadlines(session: Session, _context: Any, _instances: Any) -> None:
    if not has_app_context():
        return  # no configuration to count with: the sweep fills them in later
    for item in [*session.new, *session.dirty]:
        if isinstance(item, Ticket) and _moved(item):
            fill(item)
