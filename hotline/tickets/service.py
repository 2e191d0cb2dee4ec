"""The public surface of ticket handling: other packages and the web layer call these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotline.models import Ticket, User
from hotline.tickets.closing import (
    answer_directly,
    hand_to_emergency,
    merge_into,
    merge_ticket,
    reject_ticket,
    visit_ticket,
)
from hotline.tickets.dispatching import (
    dispatch_ticket,
    review_return,
    send_back_ticket,
    sign_ticket,
)
from hotline.tickets.handling import (
    contact_caller,
    note_progress,
    reply_ticket,
    request_extension,
    review_extension,
    review_reply,
)
from hotline.tickets.intake import NewTicket, normalise_phone, open_ticket
from hotline.tickets.supervision import supervise_ticket


def _urge(reference: str, actor: User, *, note: str) -> Ticket:
    return supervise_ticket(reference, actor, kind="urge", note=note)


def _supervise(reference: str, actor: User, *, note: str) -> Ticket:
    return supervise_ticket(reference, actor, kind="supervise", note=note)


ACTION_SERVICES: dict[str, Callable[..., Ticket]] = {
    "dispatch": dispatch_ticket,
    "sign": sign_ticket,
    "send_back": send_back_ticket,
    "review_return": review_return,
    "request_extension": request_extension,
    "review_extension": review_extension,
    "contact": contact_caller,
    "note": note_progress,
    "reply": reply_ticket,
    "review_reply": review_reply,
    "visit": visit_ticket,
    "urge": _urge,
    "supervise": _supervise,
    "merge": merge_ticket,
    "answer_directly": answer_directly,
    "reject": reject_ticket,
    "hand_to_emergency": hand_to_emergency,
}


def perform(reference: str, action: str, actor: User, arguments: dict[str, Any]) -> Ticket:
    """Run one lifecycle action with already-validated arguments."""
    return ACTION_SERVICES[action](reference, actor, **arguments)


__all__ = [
    "ACTION_SERVICES",
    "NewTicket",
    "merge_into",
    "normalise_phone",
    "open_ticket",
    "perform",
    "supervise_ticket",
]
