"""The dispatcher's desk (派单协调台): what waits on the hotline centre, oldest first.

- to dispatch: accepted tickets not yet with a unit, each with routing's first
  suggestion and the open tickets it likely repeats (merged instead of dispatched);
  those routing finds no rule for are the coordination queue (协调), and those that
  have been through the rounds the catalogue allows need a designated unit (指定承办);
- send-backs (退单审核), extension requests (延期审核) and replies (回复审核) to review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import ExtensionRequest, ReturnRequest, Ticket
from hotline.models.enums import TicketStatus

DESK_LIMIT = 50
DUPLICATES_SHOWN = 3  # the likeliest tickets each one may repeat (并单)


@dataclass
class ToDispatch:
    ticket: Ticket
    suggestion: Any  # routing.suggest.Suggestion, or None before any catalogue
    designation: bool  # the rounds are used up: a dispatcher designates the unit
    returned: ReturnRequest | None  # the approved send-back that brought it back
    duplicates: list[Any] = field(default_factory=list)  # routing.duplicates.Candidate


@dataclass
class Desk:
    to_dispatch: list[ToDispatch] = field(default_factory=list)
    coordination: int = 0
    returns: list[tuple[Ticket, ReturnRequest]] = field(default_factory=list)
    extensions: list[tuple[Ticket, ExtensionRequest]] = field(default_factory=list)
    replies: list[Ticket] = field(default_factory=list)


def _oldest(status: str) -> list[Ticket]:
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.status == status)
            .order_by(Ticket.received_at, Ticket.id)
            .limit(DESK_LIMIT)
        )
    )


def _pending(model: Any, tickets: list[Ticket]) -> dict[int, Any]:
    if not tickets:
        return {}
    rows = db.session.scalars(
        select(model)
        .where(model.ticket_id.in_([t.id for t in tickets]), model.decision == "pending")
        .order_by(model.id)
    )
    return {row.ticket_id: row for row in rows}


def _last_approved_return(tickets: list[Ticket]) -> dict[int, ReturnRequest]:
    if not tickets:
        return {}
    rows = db.session.scalars(
        select(ReturnRequest)
        .where(
            ReturnRequest.ticket_id.in_([t.id for t in tickets]),
            ReturnRequest.decision == "approved",
        )
        .order_by(ReturnRequest.id)
    )
    return {row.ticket_id: row for row in rows}  # the newest wins


def dispatcher_desk() -> Desk:
    from routing.duplicates import find_duplicates
    from routing.suggest import suggest

    desk = Desk()
    rounds = int(current_app.config["MAX_DISPATCH_ROUNDS"])
    accepted = _oldest(TicketStatus.ACCEPTED)
    returned = _last_approved_return(accepted)
    for ticket in accepted:
        found = suggest(ticket.content, ticket.address, limit=1)
        best = found[0] if found else None
        desk.to_dispatch.append(
            ToDispatch(
                ticket,
                best,
                ticket.dispatch_round >= rounds,
                returned.get(ticket.id),
                find_duplicates(ticket, limit=DUPLICATES_SHOWN),
            )
        )
    desk.coordination = sum(
        1 for row in desk.to_dispatch if row.suggestion is None or not row.suggestion.department
    )
    reviewing = _oldest(TicketStatus.RETURN_REVIEW)
    pending = _pending(ReturnRequest, reviewing)
    desk.returns = [(t, pending[t.id]) for t in reviewing if t.id in pending]
    extending = _oldest(TicketStatus.EXTENSION_REVIEW)
    asked = _pending(ExtensionRequest, extending)
    desk.extensions = [(t, asked[t.id]) for t in extending if t.id in asked]
    desk.replies = _oldest(TicketStatus.REPLY_REVIEW)
    return desk
